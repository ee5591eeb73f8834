/* SPDX-License-Identifier: Apache-2.0
 *
 * bench_pii_scan: throughput of the recognizers alone (pol_pii_scan, all
 * labels) on two generated corpora, in MB/s on one core:
 *
 *   prompt  prompt-like text: chat questions, support tickets, code and
 *           config snippets, JSON, log lines; about one value per 600 bytes
 *   dense   PII-dense text: a value every ~30 bytes (forms, CSV rows)
 *
 * The corpora are generated from fixed seeds (synthetic values only: test
 * card numbers, documentation IP ranges, example.com addresses) and scanned
 * as texts of about 2 KB each, the size of a typical prompt.  Time is the
 * thread's CPU time (so MB/s is per core even when the machine is shared
 * and the thread waits for a CPU), and each figure is the best of five
 * passes.
 * Prints one line per corpus; `make bench-pii-scan` builds and runs it.
 * Arguments: the corpus size in MB (default 8), then optionally one corpus
 * name (prompt, dense, prose).
 *
 * When built with HAVE_PCRE2 (the make target does so when pkg-config
 * finds libpcre2-8), it also measures, for comparison, a multi-pattern
 * engine doing less work: one JIT-compiled PCRE2 alternation of simplified
 * patterns for the same labels (no validators, no context, no overlap
 * resolution), scanned over the same pieces.  It is the "regex engine"
 * baseline the hand-written one-pass scanner was chosen over.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifdef HAVE_PCRE2
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#endif

#include "common/cm_buf.h"
#include "policy/pii/pii_scan.h"

static unsigned long long rng = 0x9E3779B97F4A7C15ull;

static unsigned
rnd(unsigned n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (unsigned)(rng % n);
}

#define PICK(a) ((a)[rnd((unsigned)(sizeof(a) / sizeof((a)[0])))])

static const char *const prose[] = {
    "Can you help me rewrite this paragraph so it sounds more professional? ",
    "I am working on a Python script that reads a CSV file and groups the rows by month. ",
    "The deployment failed again last night and nobody knows why the health check timed out. ",
    "Please summarise the following meeting notes in three bullet points for the team. ",
    "What is the difference between a mutex and a semaphore, with an example in C? ",
    "Our customer says the invoice total is wrong; the discount was applied twice. ",
    "Translate this into French, keeping the tone friendly but formal. ",
    "Write a short story about a lighthouse keeper who finds a message in a bottle. ",
    "Explain why the query below is slow and how an index on (tenant, created_at) helps. ",
    "We released version 2.14.3 on Tuesday; the changelog lists 37 fixes and 4 features. ",
    "The function returns -1 when the buffer is full, 0 otherwise, see section 4.2. ",
    "Draft a polite reply declining the meeting, and suggest next week instead. ",
    "In 2023 revenue grew by 12.5% to 4,200,000 EUR while costs stayed flat. ",
    "Ticket #48213: the export button does nothing in Firefox 128 on Windows 11. ",
};

static const char *const code[] = {
    "```python\nfor row in reader:\n    total[row['month']] += float(row['amount'])\n```\n",
    "```c\nstatic int\nparse(const char *s, size_t n)\n{\n    return n > 0 && s[0] == "
    "'{';\n}\n```\n",
    "{\"model\": \"gpt-4o\", \"temperature\": 0.2, \"max_tokens\": 512, \"stream\": true}\n",
    "2024-03-15T10:22:31Z INFO worker=3 queue=jobs latency_ms=42 status=ok\n",
    "SELECT id, name FROM users WHERE created_at > now() - interval '7 days';\n",
    "docker run -p 8080:80 -e LOG_LEVEL=debug nginx:1.25\n",
    "See https://docs.example.org/guide/install.html#step-2 for details. ",
};

static const char *const pii[] = {
    "jane.doe@example.com",
    "(415) 555-0132",
    "+44 20 7946 0958",
    "4111 1111 1111 1111",
    "123-45-6789",
    "203.0.113.7",
    "2001:db8::7",
    "DE89 3704 0044 0532 0130 00",
    "https://www.example.com/account?id=42",
    "March 15, 2024",
    "AKIAIOSFODNN7EXAMPLE",
    "password=Xk9#pQ2!vL7@mR4$zT8w",
    "15.03.1985",
    "GB82WEST12345698765432",
};

/* dense: 0 prompt-like, 1 PII-dense, 2 prose only (no value at all) */
static char *
gen(size_t size, int dense, size_t *outlen)
{
    struct cm_buf b;

    cm_buf_init(&b);
    while (b.len < size) {
        if (dense == 2) {
            cm_buf_puts(&b, PICK(prose));
            continue;
        }
        if (dense) {
            cm_buf_puts(&b, PICK(pii));
            cm_buf_puts(&b, rnd(3) ? ", " : "\nname: ");
            continue;
        }
        switch (rnd(10)) {
        case 0:
        case 1: cm_buf_puts(&b, PICK(code)); break;
        case 2:
            cm_buf_puts(&b, "My contact is ");
            cm_buf_puts(&b, PICK(pii));
            cm_buf_puts(&b, ". ");
            break;
        default: cm_buf_puts(&b, PICK(prose)); break;
        }
    }
    return cm_buf_steal(&b, outlen);
}

static double
now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Best-of-passes MB/s for scanning text in pieces of `piece` bytes. */
static double
measure(const char *text, size_t len, size_t piece, size_t *nspans)
{
    struct pol_pii_spans s;
    double best = 0;

    pol_pii_spans_init(&s);
    for (int pass = 0; pass < 5; pass++) {
        double t0 = now(), dt;

        *nspans = 0;
        for (size_t off = 0; off < len; off += piece) {
            size_t n = len - off < piece ? len - off : piece;

            pol_pii_spans_reset(&s);
            if (pol_pii_scan(text + off, n, POL_PII_ALL, &s) != CM_OK)
                abort();
            *nspans += s.n;
        }
        dt = now() - t0;
        if ((double)len / dt / 1e6 > best)
            best = (double)len / dt / 1e6;
    }
    pol_pii_spans_fini(&s);
    return best;
}

#ifdef HAVE_PCRE2
/* Simplified patterns for the labels of pol_pii_scan, as one alternation. */
static const char pcre_pattern[] =
    "[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\\.[A-Za-z]{2,}"                    /* EMAIL */
    "|\\+?\\(?\\d{1,4}\\)?[ .-]?\\d{2,4}[ .-]\\d{3,4}[ .-]?\\d{0,4}"     /* PHONE */
    "|\\b(?:\\d[ -]?){13,19}\\b"                                         /* CREDIT_CARD */
    "|\\b\\d{3}-\\d{2}-\\d{4}\\b"                                        /* US_SSN */
    "|\\b[A-Z]{2}\\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\\b"    /* IBAN */
    "|\\b(?:\\d{1,3}\\.){3}\\d{1,3}\\b"                                  /* IPv4 */
    "|\\b[0-9a-fA-F]{1,4}(?::[0-9a-fA-F]{0,4}){2,7}"                     /* IPv6 */
    "|\\b[a-z][a-z0-9+.-]{1,31}://[^\\s<>\"]+|\\bwww\\.[^\\s<>\"]+"      /* URL */
    "|\\b\\d{4}-\\d{2}-\\d{2}\\b|\\b\\d{1,2}[/.]\\d{1,2}[/.]\\d{2,4}\\b" /* DATE */
    "|\\b(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]*\\.? \\d{1,2}"
    "|\\b(?:AKIA|ASIA)[A-Z0-9]{16}\\b|\\bgh[pousr]_[A-Za-z0-9]{36}|\\bglpat-[\\w-]{20}" /* SECRET */
    "|\\bxox[abprs]-[\\w-]{10,}|\\b[sr]k_live_\\w{10,}|\\bAIza[\\w-]{35}|\\bsk-[\\w-]{20,}"
    "|\\beyJ[\\w-]+\\.[\\w-]+\\.[\\w-]*|-----BEGIN [A-Z ]*PRIVATE KEY-----"
    "|(?i:password|passwd|secret|token|api_?key)[\"']?\\s*[:=]\\s*[\"']?[^\\s\"',;]{8,}";

static double
measure_pcre(const char *text, size_t len, size_t piece, size_t *nmatch)
{
    int err;
    PCRE2_SIZE erroff;
    pcre2_code *re =
        pcre2_compile((PCRE2_SPTR)pcre_pattern, PCRE2_ZERO_TERMINATED, 0, &err, &erroff, NULL);
    pcre2_match_data *md;
    double best = 0;

    if (re == NULL || pcre2_jit_compile(re, PCRE2_JIT_COMPLETE) != 0) {
        fprintf(stderr, "bench_pii_scan: pcre2 pattern failed at %zu\n", (size_t)erroff);
        exit(1);
    }
    md = pcre2_match_data_create_from_pattern(re, NULL);
    for (int pass = 0; pass < 5; pass++) {
        double t0 = now(), dt;

        *nmatch = 0;
        for (size_t off = 0; off < len; off += piece) {
            size_t n = len - off < piece ? len - off : piece, at = 0;

            while (at < n && pcre2_jit_match(re, (PCRE2_SPTR)text + off, n, at, 0, md, NULL) > 0) {
                PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);

                (*nmatch)++;
                at = ov[1] > ov[0] ? ov[1] : ov[0] + 1;
            }
        }
        dt = now() - t0;
        if ((double)len / dt / 1e6 > best)
            best = (double)len / dt / 1e6;
    }
    pcre2_match_data_free(md);
    pcre2_code_free(re);
    return best;
}
#endif

int
main(int argc, char **argv)
{
    size_t mb = argc > 1 ? (size_t)strtoul(argv[1], NULL, 10) : 8;
    static const char *const names[3] = {"prompt", "dense", "prose"};

    if (mb == 0)
        mb = 8;
    for (int dense = 0; dense < 3; dense++) {
        size_t len, nspans;
        char *text;
        double mbs;

        if (argc > 2 && strcmp(argv[2], names[dense]) != 0)
            continue;
        text = gen(mb << 20, dense, &len);
        mbs = measure(text, len, 2048, &nspans);

        printf("bench_pii_scan engine=steward corpus=%s bytes=%zu piece=2048 spans=%zu "
               "MB/s=%.1f\n",
               names[dense], len, nspans, mbs);
#ifdef HAVE_PCRE2
        mbs = measure_pcre(text, len, 2048, &nspans);
        printf("bench_pii_scan engine=pcre2-jit corpus=%s bytes=%zu piece=2048 matches=%zu "
               "MB/s=%.1f\n",
               names[dense], len, nspans, mbs);
#endif
        free(text);
    }
    return 0;
}
