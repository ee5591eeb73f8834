/* SPDX-License-Identifier: Apache-2.0
 *
 * pii_scan: the one-pass scanner of the rule-based recognizers, the
 * EMAIL and IP_ADDRESS recognizers, context words and the overlap
 * resolution.  The other recognizers live in pii_rec_num.c (US_SSN,
 * CREDIT_CARD, PHONE, IBAN, DATE) and pii_rec_text.c (URL, SECRET), behind
 * the private interface pii_rec.h.
 *
 * One pass over the bytes with a 256-entry byte-class table (the
 * prefilter): a run of letters and digits is looked at once, at its start,
 * where a few table and byte tests decide which recognizers could match
 * there (a digit: the numeric ones; an upper-case pair and two digits: IBAN;
 * a month name: DATE; the first letters of the token formats: SECRET;
 * "www.": URL; a short hex run before ':': IPv6); the other bytes cost one
 * table lookup unless they are one of the anchors '@' (EMAIL), ':' (URL
 * "://", IPv6 "::", `name: value` secrets), '=' (`name=value` secrets), '-'
 * (PEM blocks), '+' and '(' (PHONE).  From an anchor the recognizers extend
 * a bounded number of bytes, validate and push candidates.  Candidates may
 * overlap; they are resolved as pii_scan.h says with a coverage bitmap and
 * appended sorted by start.  Every read is bounds-checked against len; the
 * text need not be NUL-terminated; anchors and extensions are ASCII, so a
 * span never starts or ends inside a multi-byte UTF-8 character.
 *
 * Scores: each shape has a base score (validated shapes 0.85-0.95: e-mail
 * 0.90, Luhn+issuer card 0.95, IBAN 0.90, token-format secrets 0.95, SSN
 * with dashes 0.85, IPv4/IPv6 0.85, phone 0.60-0.85 by how phone-like the
 * grouping is, dates 0.50-0.75, URLs 0.55-0.60).  A context word of the
 * label (CTX_WINDOW bytes before the value, at a word start, any case:
 * "email", "phone", "call", "card", "ssn", "ip", "iban", "dob", "born",
 * "password", ...) adds CTX_BOOST (0.30 for DATE); a negative word ("order",
 * "invoice", "tracking", "ticket", ...) before a PHONE or US_SSN without a
 * context word subtracts CTX_PENALTY.  Weak shapes (bare 9-digit SSN, bare
 * 10-digit or 7-digit phone, IPv6 with fewer than 4 hex digits such as
 * "a::b", "March 2024") are only reported with a context word.
 * Near misses rejected on purpose: a dotted quad near "version", "release",
 * "section", ... (unless an IP context word is there too) or starting with
 * "0." (other than 0.0.0.0); 8 colon-separated byte pairs (fingerprints);
 * leading-0 phone shapes cut out of, or glued to, a longer run of
 * space-separated digit groups (hex dumps).
 *
 * Not here: the learned model for PERSON/LOCATION/ORGANIZATION
 * (pii_model.c, merged by pii_detect.c).  Read next: pii_rec.h, then
 * pii_redact.c, then pol_body.c which calls pol_pii_detect().
 */
#include "policy/pii/pii_scan.h"

#include <arpa/inet.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/cm_mem.h"
#include "policy/pii/pii_rec.h"

static const char *const label_names[POL_PII__COUNT] = {
    [POL_PII_PERSON] = "PERSON",
    [POL_PII_LOCATION] = "LOCATION",
    [POL_PII_ORGANIZATION] = "ORGANIZATION",
    [POL_PII_EMAIL] = "EMAIL",
    [POL_PII_PHONE] = "PHONE",
    [POL_PII_CREDIT_CARD] = "CREDIT_CARD",
    [POL_PII_US_SSN] = "US_SSN",
    [POL_PII_IBAN] = "IBAN",
    [POL_PII_IP_ADDRESS] = "IP_ADDRESS",
    [POL_PII_URL] = "URL",
    [POL_PII_DATE] = "DATE",
    [POL_PII_SECRET] = "SECRET",
};

const char *
pol_pii_label_name(enum pol_pii_label label)
{
    if ((unsigned)label >= POL_PII__COUNT)
        return "UNKNOWN";
    return label_names[label];
}

int
pol_pii_label_parse(const char *s, size_t n, enum pol_pii_label *out)
{
    for (unsigned l = 0; l < POL_PII__COUNT; l++) {
        if (strlen(label_names[l]) == n && memcmp(label_names[l], s, n) == 0) {
            *out = (enum pol_pii_label)l;
            return CM_OK;
        }
    }
    return CM_EINPUT;
}

void
pol_pii_spans_init(struct pol_pii_spans *s)
{
    s->v = NULL;
    s->n = 0;
    s->cap = 0;
}

void
pol_pii_spans_fini(struct pol_pii_spans *s)
{
    free(s->v);
    pol_pii_spans_init(s);
}

void
pol_pii_spans_reset(struct pol_pii_spans *s)
{
    s->n = 0;
}

static void
spans_push(struct pol_pii_spans *s, const struct pol_pii_span *sp)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 8;
        s->v = cm_realloc(s->v, s->cap * sizeof(*s->v));
    }
    s->v[s->n++] = *sp;
}

/* ------------------------------------------------------------ validators */

bool
pol_pii_luhn_ok(const char *digits, size_t n)
{
    unsigned sum = 0;

    if (n < 2)
        return false;
    for (size_t k = 0; k < n; k++) {
        char c = digits[n - 1 - k];
        unsigned d;

        if (c < '0' || c > '9')
            return false;
        d = (unsigned)(c - '0');
        if (k & 1) {
            d *= 2;
            if (d > 9)
                d -= 9;
        }
        sum += d;
    }
    return sum % 10 == 0;
}

bool
pol_pii_ssn_ok(const char *digits9)
{
    unsigned area = 0, group = 0, serial = 0;

    for (int k = 0; k < 9; k++) {
        if (digits9[k] < '0' || digits9[k] > '9')
            return false;
    }
    for (int k = 0; k < 3; k++)
        area = area * 10 + (unsigned)(digits9[k] - '0');
    for (int k = 3; k < 5; k++)
        group = group * 10 + (unsigned)(digits9[k] - '0');
    for (int k = 5; k < 9; k++)
        serial = serial * 10 + (unsigned)(digits9[k] - '0');
    return area != 0 && area != 666 && area < 900 && group != 0 && serial != 0;
}

/* ------------------------------------------------------------ context */

static const char *const ctx_email[] = {"email", "e-mail", "mail", "contact", NULL};
static const char *const ctx_phone[] = {"phone",   "call", "tel",      "mobile", "cell", "fax",
                                        "contact", "sms",  "whatsapp", "dial",   NULL};
static const char *const ctx_card[] = {"card",  "visa", "mastercard", "amex", "credit",
                                       "debit", "cc",   "payment",    "pan",  NULL};
static const char *const ctx_ssn[] = {"ssn", "social security", "social sec",
                                      "ss#", "taxpayer",        NULL};
static const char *const ctx_ip[] = {"ip", "host", "server", "address", "addr", "client", NULL};
static const char *const ctx_iban[] = {"iban", "account", "acct", "bank", "transfer", "sepa", NULL};
static const char *const ctx_url[] = {"url", "link", "website", "site", "visit", "href", NULL};
static const char *const ctx_date[] = {"dob",           "d.o.b",    "born",      "birth",
                                       "date of birth", "birthday", "birthdate", NULL};
static const char *const ctx_secret[] = {"password", "passwd",     "secret", "token", "key",
                                         "api",      "credential", "auth",   NULL};

/* Words that lower the confidence in a number (an order or ticket number
 * that has a phone or SSN shape). */
static const char *const neg_num[] = {"order",  "invoice", "tracking", "isbn",    "serial",
                                      "ticket", "ref",     "sku",      "part no", NULL};

static const char *const *
ctx_words(enum pol_pii_label label)
{
    switch (label) {
    case POL_PII_EMAIL: return ctx_email;
    case POL_PII_PHONE: return ctx_phone;
    case POL_PII_CREDIT_CARD: return ctx_card;
    case POL_PII_US_SSN: return ctx_ssn;
    case POL_PII_IP_ADDRESS: return ctx_ip;
    case POL_PII_IBAN: return ctx_iban;
    case POL_PII_URL: return ctx_url;
    case POL_PII_DATE: return ctx_date;
    case POL_PII_SECRET: return ctx_secret;
    default: return NULL;
    }
}

/* True when one of words starts at a word start in [from, to), any case. */
bool
words_in(const struct scan *sc, size_t from, size_t to, const char *const *words)
{
    uint32_t first = 0;

    /* the first letters of the words: most word starts fail this test */
    for (size_t w = 0; words[w] != NULL; w++)
        first |= 1u << ((unsigned)(words[w][0] - 'a') & 31);
    for (size_t p = from; p < to; p++) {
        int c0;

        if (!is_alpha(sc->t[p]) || (p > 0 && is_alpha(sc->t[p - 1])))
            continue;
        c0 = lower(sc->t[p]);
        if (!(first & (1u << ((unsigned)(c0 - 'a') & 31))))
            continue;
        for (size_t w = 0; words[w] != NULL; w++) {
            size_t k = 1;

            if (words[w][0] != c0)
                continue;
            while (words[w][k] != '\0' && p + k < to && lower(sc->t[p + k]) == words[w][k])
                k++;
            if (words[w][k] == '\0')
                return true;
        }
    }
    return false;
}

/* True when a context word of label starts at a word start within the
 * CTX_WINDOW bytes before start. */
bool
ctx_has(const struct scan *sc, size_t start, enum pol_pii_label label)
{
    const char *const *words = ctx_words(label);

    return words != NULL && words_in(sc, start > CTX_WINDOW ? start - CTX_WINDOW : 0, start, words);
}

/* Words that make a dotted quad a version number rather than an address,
 * looked for CTX_WINDOW bytes before and CTX_WINDOW / 2 bytes after. */
static const char *const neg_ip[] = {"version", "release", "build",   "patch",  "update",
                                     "upgrade", "section", "chapter", "figure", NULL};

static bool
ctx_neg_ip(const struct scan *sc, size_t start, size_t end)
{
    size_t from = start > CTX_WINDOW ? start - CTX_WINDOW : 0;
    size_t to = sc->len - end > CTX_WINDOW / 2 ? end + CTX_WINDOW / 2 : sc->len;

    return words_in(sc, from, start, neg_ip) || words_in(sc, end, to, neg_ip);
}

void
add_cand(struct scan *sc, size_t start, size_t end, enum pol_pii_label label, float base,
         bool need_ctx)
{
    struct pol_pii_span sp;
    bool ctx = ctx_has(sc, start, label);
    float boost = label == POL_PII_DATE ? 0.30f : CTX_BOOST;

    if (need_ctx && !ctx)
        return;
    sp.start = start;
    sp.end = end;
    sp.label = label;
    sp.score = base + (ctx ? boost : 0.0f);
    if (!ctx && (label == POL_PII_PHONE || label == POL_PII_US_SSN) &&
        words_in(sc, start > CTX_WINDOW ? start - CTX_WINDOW : 0, start, neg_num))
        sp.score -= CTX_PENALTY;
    if (sp.score > 1.0f)
        sp.score = 1.0f;
    spans_push(&sc->cand, &sp);
}

/* Left boundary of a numeric value at i: not glued to a word, and not the
 * continuation of a digit run through a separator ("1,234", "1-123"). */
bool
num_left_ok(const struct scan *sc, size_t i)
{
    int c = before(sc, i, 1);

    if (c < 0)
        return true;
    if (is_alnum(c) || c == '_')
        return false;
    if ((c == '.' || c == '-' || c == '/' || c == ',' || c == '+') && is_digit(before(sc, i, 2)))
        return false;
    return true;
}

/* Right boundary of a numeric value ending at e. */
bool
num_right_ok(const struct scan *sc, size_t e)
{
    int c = at(sc, e);

    if (c < 0)
        return true;
    if (is_alnum(c) || c == '_')
        return false;
    if ((c == '.' || c == '-' || c == '/') && is_digit(at(sc, e + 1)))
        return false;
    return true;
}

/* ------------------------------------------------------------ EMAIL */

static bool
is_local(int c)
{
    return is_alnum(c) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-';
}

static void
scan_email(struct scan *sc, size_t a)
{
    size_t s = a, p, end = 0, nlab = 0;

    while (s > 0 && is_local(sc->t[s - 1]) && a - s < 64)
        s--;
    if (s > 0 && is_local(sc->t[s - 1]))
        return; /* local part longer than 64 */
    while (s < a && sc->t[s] == '.')
        s++;
    if (s == a || sc->t[a - 1] == '.')
        return;
    for (size_t k = s; k + 1 < a; k++) {
        if (sc->t[k] == '.' && sc->t[k + 1] == '.')
            return;
    }

    p = a + 1;
    for (;;) {
        size_t ls = p;
        bool alpha = true;

        while (p < sc->len && (is_alnum(sc->t[p]) || sc->t[p] == '-') && p - ls < 63) {
            alpha = alpha && is_alpha(sc->t[p]);
            p++;
        }
        if (p == ls || sc->t[ls] == '-' || sc->t[p - 1] == '-')
            break;
        nlab++;
        if (nlab >= 2 && alpha && p - ls >= 2)
            end = p;
        if (at(sc, p) == '.' && is_alnum(at(sc, p + 1))) {
            p++;
            continue;
        }
        break;
    }
    if (end == 0)
        return;
    {
        int c = at(sc, end);

        if (is_alnum(c) || c == '-' || c == '_' || c == '@')
            return;
        if (c == '.' && is_alnum(at(sc, end + 1)))
            return;
    }
    add_cand(sc, s, end, POL_PII_EMAIL, 0.90f, false);
}

/* ------------------------------------------------------------ IPv4 */

/* Returns the end of a dotted quad starting at i, or 0. */
static size_t
parse_ipv4(const struct scan *sc, size_t i)
{
    size_t p = i;

    for (int k = 0; k < 4; k++) {
        size_t s;
        unsigned v = 0;

        if (k > 0) {
            if (at(sc, p) != '.')
                return 0;
            p++;
        }
        s = p;
        while (p < sc->len && is_digit(sc->t[p]) && p - s < 3) {
            v = v * 10 + (unsigned)(sc->t[p] - '0');
            p++;
        }
        if (p == s || is_digit(at(sc, p)))
            return 0;
        if (p - s > 1 && sc->t[s] == '0')
            return 0;
        if (v > 255)
            return 0;
    }
    return p;
}

static void
scan_ipv4(struct scan *sc, size_t i)
{
    size_t e;

    if (before(sc, i, 1) == '.')
        return; /* ".1.2.3.4": part of a longer dotted run */
    e = parse_ipv4(sc, i);
    if (e == 0)
        return;
    if (sc->t[i] == '0' && e - i != 7)
        return; /* 0.x.y.z other than 0.0.0.0 is a version, not a host */
    /* "10.0.0.0/8": a CIDR suffix ends the address */
    if (!num_right_ok(sc, e) && !(at(sc, e) == '/' && is_digit(at(sc, e + 1))))
        return;
    if (ctx_neg_ip(sc, i, e) && !ctx_has(sc, i, POL_PII_IP_ADDRESS))
        return; /* "fixed in 1.5.4.1", "Git 1.8.1.6 release notes" */
    add_cand(sc, i, e, POL_PII_IP_ADDRESS, 0.85f, false);
}

/* ------------------------------------------------------------ IPv6 */

static bool
v6_left_ok(const struct scan *sc, size_t i)
{
    int c = before(sc, i, 1), c2 = before(sc, i, 2);

    if (c < 0)
        return true;
    if (c == ':') /* "ip:fe80::1": a lone colon after a word is a separator */
        return sc->t[i] != ':' && !is_hex(c2) && c2 != ':' && c2 != '.';
    return !is_alnum(c) && c != '_' && c != '.';
}

static void
scan_ipv6(struct scan *sc, size_t i)
{
    char buf[48];
    unsigned char addr[16];
    size_t p = i, e, ncolon = 0, nhex = 0;
    bool dot = false;

    if (!v6_left_ok(sc, i))
        return;
    while (p < sc->len && (is_hex(sc->t[p]) || sc->t[p] == ':' || sc->t[p] == '.')) {
        if (p - i >= 45)
            return;
        ncolon += sc->t[p] == ':';
        p++;
    }
    if (ncolon < 2 || is_alnum(at(sc, p)) || at(sc, p) == '_')
        return;
    for (e = p; e > i; e--) {
        int last = sc->t[e - 1];

        memcpy(buf, sc->t + i, e - i);
        buf[e - i] = '\0';
        if (inet_pton(AF_INET6, buf, addr) == 1)
            break;
        if (last != '.' && last != ':')
            return;
        if (p - e >= 2)
            return;
    }
    if (e == i)
        return;
    for (size_t k = i; k < e; k++) {
        nhex += is_hex(sc->t[k]);
        dot = dot || sc->t[k] == '.';
    }
    if (nhex == 0)
        return;
    if (e - i == 23 && memchr(sc->t + i, '.', e - i) == NULL) {
        bool bytes = true; /* "AF:A2:8B:B9:33:AD:DA:AC": a fingerprint */

        for (size_t k = i + 2; k < e && bytes; k += 3)
            bytes = sc->t[k] == ':';
        if (bytes)
            return;
    }
    add_cand(sc, i, e, POL_PII_IP_ADDRESS, 0.85f, nhex < 4 && !dot);
}

/* ------------------------------------------------------------ resolution */

static int
cand_cmp_priority(const void *a, const void *b)
{
    const struct pol_pii_span *x = a, *y = b;
    size_t lx = x->end - x->start, ly = y->end - y->start;

    if (x->score != y->score)
        return x->score > y->score ? -1 : 1;
    if (lx != ly)
        return lx > ly ? -1 : 1;
    if (x->label != y->label)
        return x->label < y->label ? -1 : 1;
    return x->start < y->start ? -1 : x->start > y->start;
}

static int
cand_cmp_start(const void *a, const void *b)
{
    const struct pol_pii_span *x = a, *y = b;

    return x->start < y->start ? -1 : x->start > y->start;
}

/* Sorts by start with insertion sort: candidates arrive nearly in order
 * (a recognizer's span starts at or shortly before its anchor). */
static void
sort_by_start(struct pol_pii_span *v, size_t n)
{
    if (n > 256) {
        qsort(v, n, sizeof(v[0]), cand_cmp_start);
        return;
    }
    for (size_t k = 1; k < n; k++) {
        struct pol_pii_span x = v[k];
        size_t j = k;

        while (j > 0 && v[j - 1].start > x.start) {
            v[j] = v[j - 1];
            j--;
        }
        v[j] = x;
    }
}

static void
sort_by_priority(struct pol_pii_span *v, size_t n)
{
    if (n > 32) {
        qsort(v, n, sizeof(v[0]), cand_cmp_priority);
        return;
    }
    for (size_t k = 1; k < n; k++) {
        struct pol_pii_span x = v[k];
        size_t j = k;

        while (j > 0 && cand_cmp_priority(&v[j - 1], &x) > 0) {
            v[j] = v[j - 1];
            j--;
        }
        v[j] = x;
    }
}

/* Resolves one cluster v[0..n) of transitively overlapping candidates
 * covering [lo, hi): keeps the winners in v[0..kept), sorted by start. */
static size_t
resolve_cluster(struct pol_pii_span *v, size_t n, size_t lo, size_t hi)
{
    uint8_t small[64], *covered;
    size_t kept = 0, bits = hi - lo;

    sort_by_priority(v, n);
    covered = bits <= sizeof(small) * 8 ? small : cm_malloc(bits / 8 + 1);
    memset(covered, 0, bits / 8 + 1 <= sizeof(small) ? sizeof(small) : bits / 8 + 1);
    for (size_t k = 0; k < n; k++) {
        const struct pol_pii_span sp = v[k];
        bool free_run = true;

        for (size_t b = sp.start - lo; b < sp.end - lo && free_run; b++)
            free_run = !(covered[b / 8] & (1u << (b % 8)));
        if (!free_run)
            continue;
        for (size_t b = sp.start - lo; b < sp.end - lo; b++)
            covered[b / 8] |= (uint8_t)(1u << (b % 8));
        v[kept++] = sp;
    }
    if (covered != small)
        free(covered);
    sort_by_start(v, kept);
    return kept;
}

/* Keeps the candidates that win under the overlap rule, sorted by start:
 * sorted by start, the candidates fall into clusters that overlap
 * transitively; a cluster of one is kept, a larger one is decided by
 * priority (pii_scan.h). */
static void
resolve(struct scan *sc, struct pol_pii_spans *out)
{
    struct pol_pii_spans *c = &sc->cand;
    size_t k = 0;

    sort_by_start(c->v, c->n);
    while (k < c->n) {
        size_t e = k + 1, hi = c->v[k].end, kept;

        while (e < c->n && c->v[e].start < hi) {
            if (c->v[e].end > hi)
                hi = c->v[e].end;
            e++;
        }
        kept = e - k == 1 ? 1 : resolve_cluster(c->v + k, e - k, c->v[k].start, hi);
        for (size_t q = 0; q < kept; q++)
            spans_push(out, &c->v[k + q]);
        k = e;
    }
}

/* ------------------------------------------------------------ the pass */

const unsigned char pii_cls[256] = {
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x10, 0x10, 0x10, 0x10, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x10, 0x40, 0x00, 0x40, 0x40, 0x40, 0x40, 0x40, 0xc0, 0x40, 0x40, 0xc0, 0x40, 0xe0, 0x40, 0x40,
    0x69, 0x69, 0x69, 0x69, 0x69, 0x69, 0x69, 0x69, 0x69, 0x69, 0xc0, 0x40, 0x00, 0xc0, 0x00, 0x40,
    0xc0, 0x6a, 0x6a, 0x6a, 0x6a, 0x6a, 0x6a, 0x62, 0x62, 0x62, 0x62, 0x62, 0x62, 0x62, 0x62, 0x62,
    0x62, 0x62, 0x62, 0x62, 0x62, 0x62, 0x62, 0x62, 0x62, 0x62, 0x62, 0x40, 0x00, 0x40, 0x00, 0x60,
    0x00, 0x6c, 0x6c, 0x6c, 0x6c, 0x6c, 0x6c, 0x64, 0x64, 0x64, 0x64, 0x64, 0x64, 0x64, 0x64, 0x64,
    0x64, 0x64, 0x64, 0x64, 0x64, 0x64, 0x64, 0x64, 0x64, 0x64, 0x64, 0x00, 0x00, 0x00, 0x40, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
};

/* The prefilter of the main loop: bit 0 a byte that may start a word
 * worth a look (a digit, an upper-case letter, or the first letter of a
 * lower-case token prefix: "aws", "eyJ", "gh", "github_pat_", "glpat-",
 * "rk_", "sk", "secret", "www", "xox"), bit 1 a letter or digit, bit 2 an
 * anchor ('@', ':', '=', '-', '+', '(').  A byte needs attention when it
 * is an anchor, or a start byte after a byte that is not a letter or
 * digit; the test is branch-free, so prose costs about two table loads
 * per byte, and on x86-64 attention16() applies it to 16 bytes at a time
 * so that the loop only stops where a byte needs attention. */
#define ST_START 1u
#define ST_ALNUM 2u
#define ST_ANCHOR 4u
static unsigned char st_tab[256];

static void
st_init(void)
{
    for (int c = 0; c < 256; c++) {
        unsigned v = 0;

        if (is_digit(c) || is_upper(c) || (c != 0 && strchr("aegrswx", c) != NULL))
            v |= ST_START;
        if (is_alnum(c))
            v |= ST_ALNUM;
        if (c != 0 && strchr("@:=-+(", c) != NULL)
            v |= ST_ANCHOR;
        st_tab[c] = (unsigned char)v;
    }
}

static pthread_once_t st_once = PTHREAD_ONCE_INIT;

#if defined(__SSE2__)
#include <emmintrin.h>

/* The prefilter's test on 16 bytes at once: bit k of the result is set
 * when p[k] needs attention by the rule above (an anchor, or a start byte
 * after a byte that is not a letter or digit), with p[-1] as the byte
 * before p[0].  Prose is mostly bytes that need none, and a 16-byte block
 * costs about as much as two bytes of the table loop.  The sets are
 * st_init()'s, in SSE2 compares (bytes >= 0x80 are negative as signed
 * bytes and fall outside every range). */
static inline __m128i
in_range(__m128i v, char lo, char hi)
{
    return _mm_and_si128(_mm_cmpgt_epi8(v, _mm_set1_epi8((char)(lo - 1))),
                         _mm_cmplt_epi8(v, _mm_set1_epi8((char)(hi + 1))));
}

static inline __m128i
eq(__m128i v, char c)
{
    return _mm_cmpeq_epi8(v, _mm_set1_epi8(c));
}

static inline unsigned
attention16(const unsigned char *p)
{
    __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
    __m128i b = _mm_loadu_si128((const __m128i *)(const void *)(p - 1));
    __m128i bl = _mm_or_si128(b, _mm_set1_epi8(0x20)); /* letters folded to lower case */
    __m128i vdu = _mm_or_si128(in_range(v, '0', '9'), in_range(v, 'A', 'Z'));
    __m128i alnum_before = _mm_or_si128(in_range(b, '0', '9'), in_range(bl, 'a', 'z'));
    __m128i start =
        _mm_or_si128(_mm_or_si128(vdu, _mm_or_si128(eq(v, 'a'), eq(v, 'e'))),
                     _mm_or_si128(_mm_or_si128(eq(v, 'g'), eq(v, 'r')),
                                  _mm_or_si128(eq(v, 's'), _mm_or_si128(eq(v, 'w'), eq(v, 'x')))));
    __m128i anchor = _mm_or_si128(
        _mm_or_si128(eq(v, '@'), eq(v, ':')),
        _mm_or_si128(_mm_or_si128(eq(v, '='), eq(v, '-')), _mm_or_si128(eq(v, '+'), eq(v, '('))));

    return (unsigned)_mm_movemask_epi8(_mm_or_si128(anchor, _mm_andnot_si128(alnum_before, start)));
}
#endif

/* Month names are recognised capitalised ("March", "Mar"), so the
 * upper-case start bit covers them. */
static bool
month_first(int c)
{
    switch (c) {
    case 'J':
    case 'F':
    case 'M':
    case 'A':
    case 'S':
    case 'O':
    case 'N':
    case 'D': return true;
    default: return false;
    }
}

/* IPv6 at a ':': the hex run of 1-4 digits before it starts the address
 * ("fe80::1", "2001:db8::"), or "::" starts it. */
static void
v6_at_colon(struct scan *sc, size_t i)
{
    size_t s = i;

    if (at(sc, i + 1) == ':' && !is_hex(before(sc, i, 1)))
        scan_ipv6(sc, i);
    while (s > 0 && i - s < 5 && is_hex(sc->t[s - 1]))
        s--;
    if (s < i && i - s <= 4 && !is_alnum(before(sc, s, 1)))
        scan_ipv6(sc, s);
}

/* A run of letters and digits [i, j) that starts with a digit.  Each
 * recognizer is tried only where its shape can start: most numbers in
 * prompts ("42", "2023", "v1.2") fail these byte tests. */
static void
digit_run(struct scan *sc, size_t i, size_t j)
{
    size_t n = j - i;
    int next = at(sc, j), next2 = at(sc, j + 1);
    /* a digit group continues after one separator */
    bool grp = (next == ' ' || next == '-' || next == '.' || next == '/') && is_digit(next2);

    if (!num_left_ok(sc, i))
        return;
    if (next == '.' && want(sc, POL_PII_IP_ADDRESS))
        scan_ipv4(sc, i);
    if ((n == 9 || (n == 3 && grp)) && want(sc, POL_PII_US_SSN))
        scan_ssn(sc, i);
    if (n >= 3 && n <= 19 && (n >= 13 || grp) && want(sc, POL_PII_CREDIT_CARD))
        scan_card(sc, i);
    if (n <= 15 && (n >= 7 || grp || (next == ' ' && next2 == '(') || next == ')') &&
        want(sc, POL_PII_PHONE))
        scan_phone(sc, i);
    if (n <= 4 && (grp || (next == ' ' && (is_upper(next2) || next2 == 'o')) || n > 2) &&
        want(sc, POL_PII_DATE))
        scan_date_num(sc, i);
}

/* Could a secret token start with the letters c, c2 (pii_rec_text.c:
 * AKIA/ASIA/AIza, gh?_/github_pat_/glpat-, xox?-, sk_/rk_/sk-, eyJ, and
 * the context words "aws" and "secret" before an AWS secret key)? */
static bool
secret_first(int c, int c2)
{
    switch (c) {
    case 'A': return c2 == 'K' || c2 == 'S' || c2 == 'I' || c2 == 'W' || c2 == 'w';
    case 'S': return c2 == 'e' || c2 == 'E';
    case 'a': return c2 == 'w';
    case 'g': return c2 == 'h' || c2 == 'i' || c2 == 'l';
    case 'x': return c2 == 'o';
    case 's': return c2 == 'k' || c2 == 'e';
    case 'r': return c2 == 'k';
    case 'e': return c2 == 'y';
    default: return false;
    }
}

/* A lower-case word start worth a look: "aws", "eyJ", "gh", "gi(thub_pat_)",
 * "gl(pat-)", "rk_", "sk", "sec(ret)", "www", "xo(x)". */
static bool
lower_start(const struct scan *sc, size_t i)
{
    int c2 = at(sc, i + 1);

    switch (sc->t[i]) {
    case 'a': return c2 == 'w';
    case 'e': return c2 == 'y';
    case 'g': return c2 == 'h' || c2 == 'i' || c2 == 'l';
    case 'r': return c2 == 'k';
    case 's': return c2 == 'k' || (c2 == 'e' && at(sc, i + 2) == 'c');
    case 'w': return c2 == 'w';
    case 'x': return c2 == 'o';
    default: return false;
    }
}

/* A word start i (a start byte after a byte that is not a letter or
 * digit); returns the end of its run of letters and digits. */
static size_t
word(struct scan *sc, size_t i)
{
    const unsigned char *t = sc->t;
    int c = t[i], c2 = at(sc, i + 1), next;
    size_t j = i + 1, n;

    while (j < sc->len && (st_tab[t[j]] & ST_ALNUM))
        j++;
    if (is_digit(c)) {
        digit_run(sc, i, j);
        return j;
    }
    n = j - i;
    next = at(sc, j);
    if (is_upper(c) && is_upper(c2) && n >= 4 && is_digit(t[i + 2]) && is_digit(t[i + 3]) &&
        want(sc, POL_PII_IBAN))
        scan_iban(sc, i);
    if (n >= 3 && n <= 9 && month_first(c) && want(sc, POL_PII_DATE)) {
        int m = month_at(sc, i, j);

        if (m != 0)
            scan_date_word(sc, i, j, m);
    }
    if (secret_first(c, c2) && want(sc, POL_PII_SECRET))
        scan_secret_word(sc, i, j);
    if (n == 3 && next == '.' && c == 'w' && c2 == 'w' && t[i + 2] == 'w' &&
        want(sc, POL_PII_URL) && before(sc, i, 1) != '/' && before(sc, i, 1) != '.' &&
        before(sc, i, 1) != '@')
        scan_url_www(sc, i);
    return j;
}

/* One of the punctuation anchors at i. */
static void
anchor(struct scan *sc, size_t i)
{
    int c = sc->t[i], n1 = at(sc, i + 1);

    switch (c) {
    case '@':
        if (want(sc, POL_PII_EMAIL))
            scan_email(sc, i);
        break;
    case ':':
        if (want(sc, POL_PII_IP_ADDRESS))
            v6_at_colon(sc, i);
        if (want(sc, POL_PII_URL) && n1 == '/' && at(sc, i + 2) == '/')
            scan_url_scheme(sc, i);
        if (want(sc, POL_PII_SECRET))
            scan_secret_assign(sc, i);
        break;
    case '=':
        if (want(sc, POL_PII_SECRET))
            scan_secret_assign(sc, i);
        break;
    case '-':
        if (want(sc, POL_PII_SECRET) && n1 == '-' && at(sc, i + 5) == 'B')
            scan_pem(sc, i);
        break;
    case '+':
    case '(':
        if (want(sc, POL_PII_PHONE) && num_left_ok(sc, i) &&
            (is_digit(n1) || (c == '+' && n1 == '(')))
            scan_phone(sc, i);
        break;
    default: break;
    }
}

int
pol_pii_scan(const char *text, size_t len, unsigned labels, struct pol_pii_spans *out)
{
    struct scan sc = {.t = (const unsigned char *)text, .len = len, .labels = labels};
    const unsigned char *t = sc.t;
    size_t i = 0;

    pol_pii_spans_init(&sc.cand);
    sc.pem_end = SIZE_MAX;
    if ((labels & POL_PII_ALL) == 0)
        return CM_OK;
    pthread_once(&st_once, st_init);
#if defined(__SSE2__)
    size_t base = 0;   /* the block t[base..base+16) that mask describes */
    unsigned mask = 0; /* attention16(t + base) */
    bool have = false;
#endif
    while (i < len) {
        unsigned x, prev;

#if defined(__SSE2__)
        /* a block's mask stays valid after a byte of it was handled (the
         * rule reads only the bytes), so it is tested once */
        if (!(have && i - base < 16)) {
            have = i > 0 && len - i >= 16;
            if (have) {
                base = i;
                mask = attention16(t + i);
            }
        }
        if (have) {
            unsigned m = mask >> (i - base);

            if (m == 0) {
                i = base + 16;
                continue;
            }
            i += (unsigned)__builtin_ctz(m);
        }
#endif
        x = st_tab[t[i]];
        prev = i > 0 ? st_tab[t[i - 1]] : 0; /* the byte before i */
        /* an anchor, or a start byte not preceded by a letter or digit */
        if (((x & ST_ANCHOR) | (x & ~(prev >> 1) & ST_START)) == 0) {
            i++;
            continue;
        }
        if (x & ST_ANCHOR) {
            anchor(&sc, i);
            i++;
        } else if (t[i] >= 'a' && !lower_start(&sc, i)) {
            /* a common word ("read", "small", "every"): its bytes go by
             * one at a time, each behind a letter */
            i++;
        } else {
            i = word(&sc, i);
        }
    }
    resolve(&sc, out);
    pol_pii_spans_fini(&sc.cand);
    return CM_OK;
}
