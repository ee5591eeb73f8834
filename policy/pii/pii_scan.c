/* SPDX-License-Identifier: Apache-2.0
 *
 * pii_scan: the rule-based recognizers of the compact classifier (EMAIL,
 * PHONE, CREDIT_CARD, US_SSN, IP_ADDRESS) and their validators.
 *
 * One pass over the bytes: at each anchor ('@' for e-mail; a digit, '+' or
 * '(' at a left boundary for the numeric types; a hex digit or ':' for IPv6)
 * the recognizers extend forward (or, for the e-mail local part, backward) a
 * bounded number of bytes, validate, and push a candidate.  Candidates may
 * overlap; they are then resolved as pii_scan.h says (higher score, longer,
 * lower label) with a coverage bitmap, and appended sorted by start.
 * Every read is bounds-checked against len; the text need not be
 * NUL-terminated; anchors and extensions are ASCII, so a span never starts
 * or ends inside a multi-byte UTF-8 character.
 *
 * Scores: each shape has a base score (validated shapes 0.85-0.95: e-mail
 * 0.90, Luhn+issuer card 0.95, SSN with dashes 0.85, IPv4/IPv6 0.85, phone
 * 0.60-0.85 by how phone-like the grouping is).  A context word of the
 * label (CTX_WINDOW bytes before the value, at a word start, any case:
 * "email", "phone", "call", "card", "ssn", "ip", ...) adds CTX_BOOST.  Weak
 * shapes (bare 9-digit SSN, bare 10-digit or 7-digit phone, IPv6 with fewer
 * than 4 hex digits such as "a::b") are only reported with a context word.
 * Near misses rejected on purpose: a dotted quad near "version", "release",
 * "section", ... (unless an IP context word is there too) or starting with
 * "0." (other than 0.0.0.0); 8 colon-separated byte pairs (fingerprints);
 * leading-0 phone shapes cut out of, or glued to, a longer run of
 * space-separated digit groups (hex dumps).
 *
 * Not here: the learned model for PERSON/LOCATION/ORGANIZATION and the IBAN,
 * URL, DATE and SECRET recognizers (DESIGN.md section 5; later issues).
 * Read next: pii_redact.c, then pol_body.c which calls pol_pii_scan().
 */
#include "policy/pii/pii_scan.h"

#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/cm_mem.h"

#define CTX_WINDOW 32
#define CTX_BOOST 0.10f

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

/* Issuer prefix and length (the IIN ranges named in the file-top comment). */
static bool
card_issuer_ok(const char *d, size_t n)
{
    unsigned p2 = (unsigned)(d[0] - '0') * 10 + (unsigned)(d[1] - '0');
    unsigned p3 = p2 * 10 + (unsigned)(d[2] - '0');
    unsigned p4 = p3 * 10 + (unsigned)(d[3] - '0');

    if (d[0] == '4') /* Visa */
        return n == 13 || n == 16 || n == 19;
    if ((p2 >= 51 && p2 <= 55) || (p4 >= 2221 && p4 <= 2720)) /* Mastercard */
        return n == 16;
    if (p2 == 34 || p2 == 37) /* Amex */
        return n == 15;
    if (p4 == 6011 || p2 == 65 || (p3 >= 644 && p3 <= 649)) /* Discover */
        return n >= 16;
    if (p4 >= 3528 && p4 <= 3589) /* JCB */
        return n >= 16;
    if (p2 == 36 || p2 == 38 || (p3 >= 300 && p3 <= 305)) /* Diners */
        return n >= 14;
    if (p2 == 62) /* UnionPay */
        return n >= 16;
    return false;
}

/* ------------------------------------------------------------ helpers */

static bool
is_digit(int c)
{
    return c >= '0' && c <= '9';
}

static bool
is_alpha(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool
is_alnum(int c)
{
    return is_digit(c) || is_alpha(c);
}

static bool
is_hex(int c)
{
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static int
lower(int c)
{
    return (c >= 'A' && c <= 'Z') ? c + 32 : c;
}

struct scan {
    const unsigned char *t;
    size_t len;
    unsigned labels;
    struct pol_pii_spans cand;
};

/* Byte at i, or -1 outside the text. */
static int
at(const struct scan *sc, size_t i)
{
    return i < sc->len ? sc->t[i] : -1;
}

/* Byte k positions before i, or -1. */
static int
before(const struct scan *sc, size_t i, size_t k)
{
    return i >= k ? sc->t[i - k] : -1;
}

static const char *const ctx_email[] = {"email", "e-mail", "mail", "contact", NULL};
static const char *const ctx_phone[] = {"phone",   "call", "tel",      "mobile", "cell", "fax",
                                        "contact", "sms",  "whatsapp", "dial",   NULL};
static const char *const ctx_card[] = {"card",  "visa", "mastercard", "amex", "credit",
                                       "debit", "cc",   "payment",    "pan",  NULL};
static const char *const ctx_ssn[] = {"ssn", "social security", "social sec",
                                      "ss#", "taxpayer",        NULL};
static const char *const ctx_ip[] = {"ip", "host", "server", "address", "addr", "client", NULL};

static const char *const *
ctx_words(enum pol_pii_label label)
{
    switch (label) {
    case POL_PII_EMAIL: return ctx_email;
    case POL_PII_PHONE: return ctx_phone;
    case POL_PII_CREDIT_CARD: return ctx_card;
    case POL_PII_US_SSN: return ctx_ssn;
    case POL_PII_IP_ADDRESS: return ctx_ip;
    default: return NULL;
    }
}

/* True when one of words starts at a word start in [from, to), any case. */
static bool
words_in(const struct scan *sc, size_t from, size_t to, const char *const *words)
{
    for (size_t p = from; p < to; p++) {
        if (!is_alpha(sc->t[p]) || (p > 0 && is_alpha(sc->t[p - 1])))
            continue;
        for (size_t w = 0; words[w] != NULL; w++) {
            size_t k = 0;

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
static bool
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

static void
add_cand(struct scan *sc, size_t start, size_t end, enum pol_pii_label label, float base,
         bool need_ctx)
{
    struct pol_pii_span sp;
    bool ctx = ctx_has(sc, start, label);

    if (need_ctx && !ctx)
        return;
    sp.start = start;
    sp.end = end;
    sp.label = label;
    sp.score = base + (ctx ? CTX_BOOST : 0.0f);
    if (sp.score > 1.0f)
        sp.score = 1.0f;
    spans_push(&sc->cand, &sp);
}

/* Left boundary of a numeric value at i: not glued to a word, and not the
 * continuation of a digit run through a separator ("1,234", "1-123"). */
static bool
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
static bool
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

/* ------------------------------------------------------------ US_SSN */

static void
scan_ssn(struct scan *sc, size_t i)
{
    char d[9];
    size_t p = i, nd = 0;
    int sep = 0;
    static const size_t groups[3] = {3, 2, 4};

    for (int g = 0; g < 3; g++) {
        for (size_t k = 0; k < groups[g]; k++) {
            if (!is_digit(at(sc, p)))
                return;
            d[nd++] = (char)sc->t[p++];
        }
        if (g < 2) {
            int c = at(sc, p);

            if (g == 0 && (c == '-' || c == ' '))
                sep = c;
            if (sep != 0) {
                if (c != sep)
                    return;
                p++;
            }
        }
    }
    if (is_digit(at(sc, p)) || !num_right_ok(sc, p))
        return;
    if (!pol_pii_ssn_ok(d))
        return;
    if (sep == '-')
        add_cand(sc, i, p, POL_PII_US_SSN, 0.85f, false);
    else if (sep == ' ')
        add_cand(sc, i, p, POL_PII_US_SSN, 0.70f, false);
    else
        add_cand(sc, i, p, POL_PII_US_SSN, 0.75f, true);
}

/* ------------------------------------------------------------ CREDIT_CARD */

static void
scan_card(struct scan *sc, size_t i)
{
    char d[19];
    size_t nd = 0, p = i, ng = 0;
    size_t gend[8], gnd[8];
    bool gok[8]; /* groups 0..k all 3-7 digits long */
    int sep = 0;

    for (;;) {
        size_t s = p;

        while (p < sc->len && is_digit(sc->t[p]) && nd < sizeof(d))
            d[nd++] = (char)sc->t[p++];
        if (is_digit(at(sc, p))) {
            if (ng == 0)
                return; /* a run longer than 19 digits */
            break;      /* keep the complete groups before it */
        }
        gend[ng] = p;
        gnd[ng] = nd;
        gok[ng] = (ng == 0 || gok[ng - 1]) && p - s >= 3 && p - s <= 7;
        ng++;
        if (ng == CM_ARRAY_LEN(gend))
            break;
        if ((at(sc, p) == ' ' || at(sc, p) == '-') && (sep == 0 || sep == at(sc, p)) &&
            is_digit(at(sc, p + 1))) {
            sep = at(sc, p);
            p++;
            continue;
        }
        break;
    }
    for (size_t k = ng; k > 0; k--) {
        size_t n = gnd[k - 1], e = gend[k - 1];

        if (n < 13)
            return;
        if (n > 19 || (k > 1 && !gok[k - 1]) || !num_right_ok(sc, e))
            continue;
        if (k < ng && sep == '-')
            continue; /* a cut inside a dashed run */
        if (card_issuer_ok(d, n) && pol_pii_luhn_ok(d, n)) {
            add_cand(sc, i, e, POL_PII_CREDIT_CARD, 0.95f, false);
            return;
        }
    }
}

/* ------------------------------------------------------------ PHONE */

struct pgroup {
    size_t start; /* first digit */
    size_t end;   /* after the group (after ')' for a parenthesised one) */
    size_t nd;
    bool paren;
    int sep; /* separator before: ' ', '-', '.', 'p' (right after ')'), 0 */
};

/* An extension after the number ending at e ("x123", " ext. 123"); returns
 * the new end, or e. */
static size_t
phone_ext(const struct scan *sc, size_t e)
{
    static const char *const kw[] = {"extension", "ext.", "ext", "x", "#"};
    size_t p = e, s;

    if (at(sc, p) == ' ' || at(sc, p) == ',')
        p++;
    if (at(sc, p) == ' ')
        p++;
    for (size_t w = 0; w < CM_ARRAY_LEN(kw); w++) {
        size_t k = 0;

        while (kw[w][k] != '\0' && lower(at(sc, p + k)) == kw[w][k])
            k++;
        if (kw[w][k] != '\0')
            continue;
        s = p + k;
        if (at(sc, s) == ' ' || (at(sc, s) == '.' && at(sc, s + 1) == ' '))
            s += at(sc, s) == ' ' ? 1 : 2;
        if (at(sc, s) == ' ')
            s++;
        {
            size_t ds = s;

            while (is_digit(at(sc, s)) && s - ds < 6)
                s++;
            if (s == ds || is_alnum(at(sc, s)))
                return e;
        }
        return s;
    }
    return e;
}

/* Score of groups g[0..k) as a phone number, or 0 for no phone shape. */
static float
phone_shape(const struct scan *sc, bool plus, const struct pgroup *g, size_t k, bool cut,
            bool *need_ctx)
{
    /* the value continues a space-separated run of digit groups */
    bool glued = before(sc, g[0].start - g[0].paren, 1) == ' ' &&
                 is_digit(before(sc, g[0].start - g[0].paren, 2));
    size_t nd = 0, j = 0;
    bool dots = false, others = false, spaces_only = true, paren = false;

    *need_ctx = false;
    for (size_t q = 0; q < k; q++) {
        nd += g[q].nd;
        paren = paren || g[q].paren;
        if (q == 0)
            continue;
        dots = dots || g[q].sep == '.';
        others = others || (g[q].sep != '.');
        spaces_only = spaces_only && g[q].sep == ' ';
    }
    if (nd < 7 || nd > 15 || (dots && others))
        return 0;

    /* country codes do not start with 0 */
    if (plus)
        return nd >= 8 && sc->t[g[0].start] != '0' ? 0.85f : 0;

    /* "0044 20 7946 0958": international prefix instead of '+'.  The
     * shapes with a leading 0 are not cut out of a longer run of groups
     * (hex dumps: "00 05 64 69 66 66 09 0a"). */
    if (k >= 2 && !cut && !glued && !g[0].paren && g[0].nd >= 4 && g[0].nd <= 5 &&
        sc->t[g[0].start] == '0' && sc->t[g[0].start + 1] == '0' && sc->t[g[0].start + 2] != '0' &&
        nd >= 10 && !dots)
        return 0.75f;

    /* North American numbering plan */
    if (k >= 4 && g[0].nd == 1 && sc->t[g[0].start] == '1' && !g[0].paren)
        j = 1;
    if (k - j == 3 && g[j].nd == 3 && g[j + 1].nd == 3 && g[j + 2].nd == 4 && !g[j + 1].paren &&
        !g[j + 2].paren && sc->t[g[j].start] >= '2' && sc->t[g[j + 1].start] >= '2' &&
        (g[j + 1].sep != 'p' || g[j].paren) && g[j + 2].sep != 'p')
        return !(spaces_only && !paren) ? 0.75f : glued ? 0 : 0.60f;
    if (k == 1 && !paren && (nd == 10 || (nd == 11 && sc->t[g[0].start] == '1'))) {
        size_t a = g[0].start + (nd == 11);

        if (sc->t[a] >= '2' && sc->t[a + 3] >= '2') {
            *need_ctx = true;
            return 0.60f;
        }
        return 0;
    }
    if (k == 2 && g[0].nd == 3 && g[1].nd == 4 && !paren && g[1].sep != ' ' &&
        sc->t[g[0].start] >= '2') {
        *need_ctx = true;
        return 0.55f;
    }

    /* national format with trunk prefix 0: "020 7946 0958", "030 1234567" */
    if (k >= 2 && k <= 5 && !cut && !glued && sc->t[g[0].start] == '0' &&
        sc->t[g[0].start + 1] != '0' && g[0].nd >= 2 && g[0].nd <= 5 && nd >= 10 && nd <= 12 &&
        !dots) {
        for (size_t q = 0; q < k; q++) {
            if (g[q].nd < 2)
                return 0;
        }
        return 0.60f;
    }
    return 0;
}

static void
scan_phone(struct scan *sc, size_t i)
{
    struct pgroup g[8];
    size_t ng = 0, p = i;
    bool plus = false;
    int sep = 0;

    if (sc->t[p] == '+') {
        plus = true;
        p++;
    }
    while (ng < CM_ARRAY_LEN(g)) {
        struct pgroup *gr = &g[ng];
        size_t ds;

        gr->sep = sep;
        gr->paren = at(sc, p) == '(';
        if (gr->paren)
            p++;
        ds = p;
        while (p < sc->len && is_digit(sc->t[p]) && p - ds < 15)
            p++;
        gr->start = ds;
        gr->nd = p - ds;
        if (gr->nd == 0)
            break;
        if (is_digit(at(sc, p)))
            return; /* a digit run longer than any phone number */
        if (gr->paren) {
            if (at(sc, p) != ')')
                break;
            p++;
        }
        gr->end = p;
        ng++;
        sep = at(sc, p);
        if (sep == ' ' || sep == '-' || sep == '.') {
            if (is_digit(at(sc, p + 1)) || at(sc, p + 1) == '(') {
                p++;
                continue;
            }
            break;
        }
        if (gr->paren && (is_digit(sep) || sep == '(')) {
            sep = 'p';
            continue;
        }
        break;
    }
    for (size_t k = ng; k > 0; k--) {
        bool need_ctx;
        float score = phone_shape(sc, plus, g, k, k < ng, &need_ctx);
        size_t e;

        if (score <= 0)
            continue;
        e = phone_ext(sc, g[k - 1].end);
        if (!num_right_ok(sc, e))
            continue;
        add_cand(sc, i, e, POL_PII_PHONE, score, need_ctx);
        return;
    }
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

/* Keeps the candidates that win under the overlap rule, sorted by start. */
static void
resolve(struct scan *sc, size_t len, struct pol_pii_spans *out)
{
    struct pol_pii_spans *c = &sc->cand;
    uint8_t *covered;
    size_t kept = 0;

    if (c->n == 0)
        return;
    if (c->n == 1) {
        spans_push(out, &c->v[0]);
        return;
    }
    qsort(c->v, c->n, sizeof(c->v[0]), cand_cmp_priority);
    covered = cm_calloc(len / 8 + 1, 1);
    for (size_t k = 0; k < c->n; k++) {
        const struct pol_pii_span *sp = &c->v[k];
        bool free_run = true;

        for (size_t b = sp->start; b < sp->end && free_run; b++)
            free_run = !(covered[b / 8] & (1u << (b % 8)));
        if (!free_run)
            continue;
        for (size_t b = sp->start; b < sp->end; b++)
            covered[b / 8] |= (uint8_t)(1u << (b % 8));
        c->v[kept++] = *sp;
    }
    free(covered);
    qsort(c->v, kept, sizeof(c->v[0]), cand_cmp_start);
    for (size_t k = 0; k < kept; k++)
        spans_push(out, &c->v[k]);
}

int
pol_pii_scan(const char *text, size_t len, unsigned labels, struct pol_pii_spans *out)
{
    struct scan sc = {.t = (const unsigned char *)text, .len = len, .labels = labels};
    bool want_num = labels & (POL_PII_MASK(POL_PII_PHONE) | POL_PII_MASK(POL_PII_CREDIT_CARD) |
                              POL_PII_MASK(POL_PII_US_SSN) | POL_PII_MASK(POL_PII_IP_ADDRESS));

    pol_pii_spans_init(&sc.cand);
    for (size_t i = 0; i < len; i++) {
        int c = sc.t[i];

        if (c == '@') {
            if (labels & POL_PII_MASK(POL_PII_EMAIL))
                scan_email(&sc, i);
            continue;
        }
        if (want_num && (is_digit(c) || c == '+' || c == '(') && num_left_ok(&sc, i)) {
            if (is_digit(c)) {
                if (labels & POL_PII_MASK(POL_PII_IP_ADDRESS))
                    scan_ipv4(&sc, i);
                if (labels & POL_PII_MASK(POL_PII_US_SSN))
                    scan_ssn(&sc, i);
                if (labels & POL_PII_MASK(POL_PII_CREDIT_CARD))
                    scan_card(&sc, i);
            }
            if ((labels & POL_PII_MASK(POL_PII_PHONE)) &&
                (is_digit(c) || is_digit(at(&sc, i + 1)) || (c == '+' && at(&sc, i + 1) == '(')))
                scan_phone(&sc, i);
        }
        if ((labels & POL_PII_MASK(POL_PII_IP_ADDRESS)) && (is_hex(c) || c == ':'))
            scan_ipv6(&sc, i);
    }
    resolve(&sc, len, out);
    pol_pii_spans_fini(&sc.cand);
    return CM_OK;
}
