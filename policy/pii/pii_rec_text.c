/* SPDX-License-Identifier: Apache-2.0
 *
 * pii_rec_text: the recognizers anchored on words and punctuation: URL and
 * SECRET.  Called by the one-pass scanner of pii_scan.c (see pii_rec.h).
 *
 * URL: "scheme://" (scheme of 2-32 characters starting with a letter) or
 * "www." + a host with a dot and an alphabetic top label, then RFC 3986
 * characters up to URL_MAX bytes; trailing punctuation (. , ; : ! ? ' *)
 * and unbalanced closing ')' or ']' are not part of it, and a URL opened
 * after a quote ends at the matching quote.  Base score 0.60 (www. 0.55):
 * an IP address or e-mail address inside it scores higher and wins, so the
 * label says the more specific thing; a URL with a password in its userinfo
 * ("user:pw@host") scores 0.95 and wins instead.
 *
 * SECRET: fixed-format credentials (AWS access key ids AKIA/ASIA + 16,
 * GitHub ghp_/gho_/ghu_/ghs_/ghr_ + 36 and github_pat_, GitLab glpat-,
 * Slack xox[abprs]-, Stripe sk_live_/rk_live_, Google AIza + 35, OpenAI-style
 * sk-, JWTs whose header decodes to a JSON object with "alg", PEM private
 * key blocks from BEGIN through END); an AWS secret access key (40
 * characters of base64) after "aws" or "secret"; and the value assigned to a
 * credential-like name (password, passwd, pwd, passphrase, secret, token,
 * api_key, apikey, access_key, private_key, auth_key, credential) in
 * `name=value`, `name: value` and `"name": "value"` forms: the span is the
 * value only.  Password-like names take values of 8+ bytes with Shannon
 * entropy >= 2.5 bits per byte; the others 16+ bytes with >= 3.0 bits and
 * letters mixed with digits or symbols.  Placeholders ("***", "${VAR}",
 * "<password>", "null", "changeme") and code (`password = get_password()`,
 * `token = self.token`) are not secrets.
 *
 * Pure; any thread.
 */
#include "policy/pii/pii_rec.h"

#include <math.h>
#include <string.h>

#include "common/cm_status.h"

#define URL_MAX 8192
#define PEM_MAX 16384
#define ASSIGN_VALUE_MAX 256

static bool
starts_n(const struct scan *sc, size_t p, const char *lit, size_t n)
{
    return p <= sc->len && sc->len - p >= n && memcmp(sc->t + p, lit, n) == 0;
}

/* True when the literal lit is at p. */
#define starts(sc, p, lit) starts_n((sc), (p), (lit), sizeof(lit) - 1)

/* ------------------------------------------------------------ URL */

static bool
is_url(int c)
{
    return c >= 0 && (pii_cls[c] & CL_URL);
}

/* Extends a URL whose host starts at p; returns its end (after trimming)
 * or 0.  quote: the byte before the URL when it is a quote, else 0. */
static size_t
url_rest(const struct scan *sc, size_t s, size_t p, int quote, bool *userinfo_pw)
{
    size_t e = p, host_end;
    int paren = 0, bracket = 0;
    bool colon = false;

    *userinfo_pw = false;
    if (!is_alnum(at(sc, p)) && at(sc, p) != '[')
        return 0;
    while (e < sc->len && is_url(sc->t[e]) && e - s < URL_MAX && sc->t[e] != quote)
        e++;
    /* userinfo with a password: "user:pw@" before the first '/' */
    host_end = p;
    while (host_end < e && sc->t[host_end] != '/' && sc->t[host_end] != '?' &&
           sc->t[host_end] != '#') {
        if (sc->t[host_end] == ':')
            colon = true;
        if (sc->t[host_end] == '@' && colon) {
            *userinfo_pw = true;
            break;
        }
        host_end++;
    }
    for (size_t k = p; k < e; k++) {
        paren += sc->t[k] == '(' ? 1 : sc->t[k] == ')' ? -1 : 0;
        bracket += sc->t[k] == '[' ? 1 : sc->t[k] == ']' ? -1 : 0;
    }
    while (e > p) {
        int c = sc->t[e - 1];

        if (c == '.' || c == ',' || c == ';' || c == ':' || c == '!' || c == '?' || c == '\'' ||
            c == '*') {
            e--;
            continue;
        }
        if (c == ')' && paren < 0) {
            paren++;
            e--;
            continue;
        }
        if (c == ']' && bracket < 0) {
            bracket++;
            e--;
            continue;
        }
        break;
    }
    return e > p ? e : 0;
}

static int
quote_before(const struct scan *sc, size_t s)
{
    int q = before(sc, s, 1);

    return (q == '"' || q == '\'' || q == '`') ? q : 0;
}

void
scan_url_scheme(struct scan *sc, size_t colon)
{
    size_t s = colon, e;
    bool pw;

    while (s > 0 && colon - s < 32 &&
           (is_alnum(sc->t[s - 1]) || sc->t[s - 1] == '+' || sc->t[s - 1] == '-' ||
            sc->t[s - 1] == '.'))
        s--;
    while (s < colon && !is_alpha(sc->t[s]))
        s++; /* "--http://": the scheme starts with a letter */
    if (colon - s < 2 || is_alnum(before(sc, s, 1)))
        return;
    e = url_rest(sc, s, colon + 3, quote_before(sc, s), &pw);
    if (e == 0)
        return;
    add_cand(sc, s, e, POL_PII_URL, pw ? 0.95f : 0.60f, false);
}

void
scan_url_www(struct scan *sc, size_t i)
{
    size_t p = i + 4, dot = 0, e;
    bool pw, alpha = true;

    /* host: labels of alnum and '-', at least one more dot, alphabetic TLD */
    while (p < sc->len && (is_alnum(sc->t[p]) || sc->t[p] == '-' || sc->t[p] == '.') &&
           p - i < 253) {
        if (sc->t[p] == '.') {
            if (!is_alnum(at(sc, p + 1)))
                break;
            dot = p;
            alpha = true;
        } else if (!is_alpha(sc->t[p])) {
            alpha = false;
        }
        p++;
    }
    if (dot == 0 || !alpha || p - dot < 3)
        return;
    e = url_rest(sc, i, i, quote_before(sc, i), &pw);
    if (e < p)
        return;
    add_cand(sc, i, e, POL_PII_URL, 0.55f, false);
}

/* ------------------------------------------------------------ SECRET tokens */

static bool
is_b64u(int c)
{
    return c >= 0 && (pii_cls[c] & CL_B64U);
}

/* Length of the run at p of bytes accepted by ok(), up to max+1. */
static size_t
run_len(const struct scan *sc, size_t p, bool (*ok)(int), size_t max)
{
    size_t k = 0;

    while (k <= max && ok(at(sc, p + k)))
        k++;
    return k;
}

static bool
is_upper_digit(int c)
{
    return is_upper(c) || is_digit(c);
}

static bool
is_alnum_fn(int c)
{
    return is_alnum(c);
}

static bool
is_word(int c)
{
    return is_alnum(c) || c == '_';
}

static bool
is_b64(int c)
{
    return is_alnum(c) || c == '/' || c == '+';
}

static void
token(struct scan *sc, size_t i, size_t n)
{
    add_cand(sc, i, i + n, POL_PII_SECRET, 0.95f, false);
}

/* base64url-decodes up to outcap bytes of s[0..n); returns the count. */
static size_t
b64u_decode(const unsigned char *s, size_t n, char *out, size_t outcap)
{
    unsigned acc = 0, bits = 0;
    size_t o = 0;

    for (size_t k = 0; k < n && o < outcap; k++) {
        int c = s[k], v;

        if (c >= 'A' && c <= 'Z')
            v = c - 'A';
        else if (c >= 'a' && c <= 'z')
            v = c - 'a' + 26;
        else if (c >= '0' && c <= '9')
            v = c - '0' + 52;
        else if (c == '-' || c == '+')
            v = 62;
        else if (c == '_' || c == '/')
            v = 63;
        else
            break;
        acc = (acc << 6) | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (char)((acc >> bits) & 0xFF);
        }
    }
    return o;
}

static void
scan_jwt(struct scan *sc, size_t i)
{
    size_t p = i, part[3];
    char hdr[192];
    size_t nh;

    for (int k = 0; k < 3; k++) {
        size_t s = p;

        while (p < sc->len && is_b64u(sc->t[p]))
            p++;
        part[k] = p - s;
        if (k < 2) {
            if (at(sc, p) != '.' || part[k] < (k == 0 ? 10 : 2))
                return;
            p++;
        }
    }
    if (at(sc, p) == '.' || at(sc, p) == '=')
        return;
    nh = b64u_decode(sc->t + i, part[0], hdr, sizeof(hdr));
    if (nh < 8 || hdr[0] != '{' || memmem(hdr, nh, "\"alg\"", 5) == NULL)
        return;
    token(sc, i, p - i);
}

/* An AWS secret access key: 40 base64 characters with upper, lower and a
 * digit (called within 2 * CTX_WINDOW bytes after "aws" or "secret"). */
static void
scan_aws_secret(struct scan *sc, size_t i)
{
    size_t n = run_len(sc, i, is_b64, 40);
    bool up = false, lo = false, dg = false;

    if (n != 40 || at(sc, i + 40) == '=')
        return;
    for (size_t k = i; k < i + 40; k++) {
        up = up || is_upper(sc->t[k]);
        lo = lo || (sc->t[k] >= 'a' && sc->t[k] <= 'z');
        dg = dg || is_digit(sc->t[k]);
    }
    if (up && lo && dg)
        add_cand(sc, i, i + 40, POL_PII_SECRET, 0.85f, false);
}

static bool
starts_nocase6(const struct scan *sc, size_t p, const char *lit)
{
    for (size_t k = 0; k < 6; k++) {
        if (lower(at(sc, p + k)) != lit[k])
            return false;
    }
    return true;
}

/* Looks for an AWS secret key in the 2 * CTX_WINDOW bytes after a context
 * word ending at p. */
static void
aws_after(struct scan *sc, size_t p)
{
    for (size_t k = p; k < sc->len && k - p < 2 * CTX_WINDOW; k++) {
        if (is_b64(sc->t[k]) && !is_b64(before(sc, k, 1)))
            scan_aws_secret(sc, k);
    }
}

void
scan_secret_word(struct scan *sc, size_t i, size_t j)
{
    int c = sc->t[i];
    size_t n;

    if (before(sc, i, 1) == '_' || before(sc, i, 1) == '-')
        return;
    switch (c) {
    case 'A':
        if (starts(sc, i, "AKIA") || starts(sc, i, "ASIA")) {
            if (j - i == 20 && run_len(sc, i, is_upper_digit, 20) == 20)
                token(sc, i, 20);
        } else if (starts(sc, i, "AIza")) {
            if (run_len(sc, i + 4, is_b64u, 35) == 35)
                token(sc, i, 39);
        }
        break;
    case 'g':
        if (j - i == 3 && at(sc, j) == '_' && sc->t[i + 1] == 'h' &&
            strchr("pousr", sc->t[i + 2]) != NULL) {
            if (run_len(sc, i + 4, is_alnum_fn, 36) == 36)
                token(sc, i, 40);
        } else if (starts(sc, i, "github_pat_")) {
            n = run_len(sc, i + 11, is_word, 255);
            if (n >= 22 && n <= 255)
                token(sc, i, 11 + n);
        } else if (starts(sc, i, "glpat-")) {
            n = run_len(sc, i + 6, is_b64u, 64);
            if (n >= 20 && n <= 64)
                token(sc, i, 6 + n);
        }
        break;
    case 'x':
        if (j - i == 4 && starts(sc, i, "xox") && strchr("abprs", sc->t[i + 3]) != NULL &&
            at(sc, j) == '-') {
            n = run_len(sc, i + 5, is_b64u, 255);
            if (n >= 10 && n <= 255)
                token(sc, i, 5 + n);
        }
        break;
    case 's':
    case 'r':
        if (starts(sc, i + 1, "k_live_")) {
            n = run_len(sc, i + 8, is_alnum_fn, 255);
            if (n >= 10 && n <= 255)
                token(sc, i, 8 + n);
        } else if (c == 's' && j - i == 2 && sc->t[i + 1] == 'k' && at(sc, j) == '-') {
            bool dg = false, al = false;

            n = run_len(sc, i + 3, is_b64u, 255);
            for (size_t k = i + 3; k < i + 3 + n && k < sc->len; k++) {
                dg = dg || is_digit(sc->t[k]);
                al = al || is_alpha(sc->t[k]);
            }
            if (n >= 20 && n <= 255 && dg && al)
                token(sc, i, 3 + n);
        }
        break;
    case 'e':
        if (starts(sc, i, "eyJ"))
            scan_jwt(sc, i);
        break;
    default: break;
    }
    /* "aws ... <40 characters>", "secret: <40 characters>" */
    if ((j - i == 3 && lower(c) == 'a' && lower(sc->t[i + 1]) == 'w' &&
         lower(sc->t[i + 2]) == 's') ||
        (j - i == 6 && starts_nocase6(sc, i, "secret")))
        aws_after(sc, j);
}

/* ------------------------------------------------------------ PEM */

/* Finds "-----END " at or after p (below p + PEM_MAX); returns its offset
 * or SIZE_MAX.  Remembers the last answer so that many BEGIN lines do not
 * search the same text again. */
static size_t
pem_end_after(struct scan *sc, size_t p)
{
    size_t lim = sc->len - p > PEM_MAX ? p + PEM_MAX : sc->len;
    const unsigned char *f;

    if (sc->pem_end != SIZE_MAX && sc->pem_end >= p && sc->pem_end < lim)
        return sc->pem_end;
    if (sc->pem_end == SIZE_MAX && sc->pem_searched >= lim && sc->pem_from <= p)
        return SIZE_MAX;
    f = memmem(sc->t + p, lim - p, "-----END ", 9);
    sc->pem_from = p;
    sc->pem_searched = lim;
    sc->pem_end = f ? (size_t)(f - sc->t) : SIZE_MAX;
    return sc->pem_end;
}

/* "-----BEGIN [A-Z ]*PRIVATE KEY-----" at i; returns the end of the line
 * marker or 0. */
static size_t
pem_begin(const struct scan *sc, size_t i)
{
    size_t p = i + 11;

    if (!starts(sc, i, "-----BEGIN "))
        return 0;
    while (p < sc->len && (is_upper(sc->t[p]) || sc->t[p] == ' ') && p - i < 64) {
        if (starts(sc, p, "PRIVATE KEY-----"))
            return p + 16;
        p++;
    }
    return 0;
}

void
scan_pem(struct scan *sc, size_t i)
{
    size_t b = pem_begin(sc, i), e, p;

    if (b == 0)
        return;
    e = pem_end_after(sc, b);
    if (e != SIZE_MAX) {
        p = e + 9;
        while (p < sc->len && (is_upper(sc->t[p]) || sc->t[p] == ' ') && p - e < 64)
            p++;
        if (starts(sc, p, "-----")) {
            add_cand(sc, i, p + 5, POL_PII_SECRET, 0.95f, false);
            return;
        }
    }
    /* no END: the block as far as its base64 body goes (fail closed on a
     * truncated key) */
    p = b;
    while (p < sc->len && p - i < PEM_MAX &&
           (is_b64(sc->t[p]) || sc->t[p] == '=' || sc->t[p] == '\n' || sc->t[p] == '\r' ||
            sc->t[p] == ':' || sc->t[p] == '-' || sc->t[p] == ',' || sc->t[p] == ' '))
        p++;
    while (p > b && is_space(sc->t[p - 1]))
        p--;
    add_cand(sc, i, p, POL_PII_SECRET, 0.90f, false);
}

size_t
pol_pii_scan_open(const char *text, size_t len)
{
    struct scan sc = {.t = (const unsigned char *)text, .len = len};
    size_t open = len, p = 0;

    sc.pem_end = SIZE_MAX;
    for (;;) {
        const unsigned char *f = memmem(sc.t + p, len - p, "-----BEGIN ", 11);
        size_t i, b;

        if (f == NULL)
            break;
        i = (size_t)(f - sc.t);
        b = pem_begin(&sc, i);
        p = i + 11;
        if (b == 0)
            continue;
        if (memmem(sc.t + b, len - b, "-----END ", 9) == NULL)
            return i < open ? i : open;
    }
    return open;
}

/* ------------------------------------------------------------ assignments */

enum { NAME_NONE, NAME_PASSWORD, NAME_SECRET };

/* Classifies a variable name (lower-cased comparison, the keyword as a
 * suffix or a '_'/'-'/'.'-separated part). */
static int
name_kind(const unsigned char *s, size_t n)
{
    static const char *const pw[] = {"password", "passwd", "pwd", "passphrase", "pass", NULL};
    static const char *const sec[] = {"secret",     "token",       "api_key",     "apikey",
                                      "api-key",    "access_key",  "accesskey",   "private_key",
                                      "auth_key",   "credential",  "credentials", "client_secret",
                                      "secret_key", "signing_key", NULL};
    char low[64];

    /* every keyword ends in one of these letters: a cheap first test */
    if (n < 3 || n > sizeof(low) || strchr("dsetnyl", lower(s[n - 1])) == NULL)
        return NAME_NONE;
    for (size_t k = 0; k < n; k++)
        low[k] = (char)lower(s[k]);
    for (int w = 0; pw[w] != NULL; w++) {
        size_t m = strlen(pw[w]);

        if (n >= m && memcmp(low + n - m, pw[w], m) == 0 &&
            (n == m || !is_alpha((unsigned char)low[n - m - 1]) || m >= 6))
            return NAME_PASSWORD;
    }
    for (int w = 0; sec[w] != NULL; w++) {
        size_t m = strlen(sec[w]);

        if (n >= m && memcmp(low + n - m, sec[w], m) == 0)
            return NAME_SECRET;
    }
    return NAME_NONE;
}

static double
entropy(const unsigned char *s, size_t n)
{
    unsigned cnt[256] = {0};
    double h = 0;

    for (size_t k = 0; k < n; k++)
        cnt[s[k]]++;
    for (int c = 0; c < 256; c++) {
        if (cnt[c] != 0) {
            double p = (double)cnt[c] / (double)n;

            h -= p * log2(p);
        }
    }
    return h;
}

static bool
placeholder(const unsigned char *v, size_t n)
{
    static const char *const words[] = {"null",          "none",          "nil",      "true",
                                        "false",         "undefined",     "changeme", "password",
                                        "secret",        "example",       "xxxxxxxx", "redacted",
                                        "your_password", "your-password", NULL};
    bool same = true;

    for (size_t k = 1; k < n; k++)
        same = same && v[k] == v[0];
    if (same || v[0] == '$' || v[0] == '<' || v[0] == '{' || v[0] == '%' || v[0] == '*' ||
        memmem(v, n, "...", 3) != NULL || memmem(v, n, "{{", 2) != NULL)
        return true;
    for (int w = 0; words[w] != NULL; w++) {
        size_t m = strlen(words[w]), k = 0;

        if (m != n)
            continue;
        while (k < n && lower(v[k]) == words[w][k])
            k++;
        if (k == n)
            return true;
    }
    return false;
}

/* An unquoted value that reads like code: an identifier, attribute access
 * or call ("get_password()", "self.token", "os.environ"). */
static bool
code_like(const struct scan *sc, size_t s, size_t e)
{
    bool sep = false, upper = false, digit = false;

    for (size_t k = s; k < e; k++) {
        int c = sc->t[k];

        if (c == '_' || c == '.')
            sep = true;
        else if (is_upper(c))
            upper = true;
        else if (is_digit(c))
            digit = true;
        else if (!is_alpha(c))
            return false;
    }
    return at(sc, e) == '(' || at(sc, e) == '[' || (sep && !digit) || (!upper && !digit && !sep);
}

void
scan_secret_assign(struct scan *sc, size_t op)
{
    size_t ne = op, ns, vs, ve;
    int kind, q = 0;
    bool letters = false, other = false;
    double h;

    /* "==", "!=", "<=", ":=" is fine, "://" is a URL */
    if (at(sc, op + 1) == '=' || (sc->t[op] == ':' && at(sc, op + 1) == '/') ||
        (sc->t[op] == '=' && (before(sc, op, 1) == '=' || before(sc, op, 1) == '!' ||
                              before(sc, op, 1) == '<' || before(sc, op, 1) == '>')))
        return;
    while (ne > 0 && op - ne < 4 && (sc->t[ne - 1] == ' ' || sc->t[ne - 1] == '\t'))
        ne--;
    if (ne > 0 && (sc->t[ne - 1] == '"' || sc->t[ne - 1] == '\''))
        ne--;
    ns = ne;
    while (ns > 0 && ne - ns < 64 &&
           (is_alnum(sc->t[ns - 1]) || sc->t[ns - 1] == '_' || sc->t[ns - 1] == '-' ||
            sc->t[ns - 1] == '.'))
        ns--;
    kind = name_kind(sc->t + ns, ne - ns);
    if (kind == NAME_NONE)
        return;
    vs = op + 1;
    while (vs < sc->len && vs - op <= 4 && (sc->t[vs] == ' ' || sc->t[vs] == '\t'))
        vs++;
    if (at(sc, vs) == '"' || at(sc, vs) == '\'') {
        q = sc->t[vs];
        vs++;
    }
    ve = vs;
    while (ve < sc->len && ve - vs <= ASSIGN_VALUE_MAX) {
        int c = sc->t[ve];

        if (q != 0 ? (c == q || c == '\n' || c == '\r')
                   : (is_space(c) || c == ',' || c == ';' || c == '&' || c == '"' || c == '\'' ||
                      c == ')' || c == '}' || c == ']' || c == '<' || c == '>' || c == '(' ||
                      c == '['))
            break;
        if (c == '\\' && q != 0 && ve + 1 < sc->len)
            ve++;
        ve++;
    }
    if (ve - vs > ASSIGN_VALUE_MAX || ve == vs || (q != 0 && at(sc, ve) != q))
        return;
    /* the value ends at an ASCII delimiter or at the end of the text, so
     * never inside a UTF-8 character */
    if (placeholder(sc->t + vs, ve - vs) || (q == 0 && code_like(sc, vs, ve)))
        return;
    for (size_t k = vs; k < ve; k++) {
        letters = letters || is_alpha(sc->t[k]);
        other = other || !is_alpha(sc->t[k]);
    }
    h = entropy(sc->t + vs, ve - vs);
    if (kind == NAME_PASSWORD && ve - vs >= 8 && h >= 2.5)
        add_cand(sc, vs, ve, POL_PII_SECRET, ve - vs >= 16 && h >= 3.0 ? 0.90f : 0.80f, false);
    else if (ve - vs >= 16 && h >= 3.0 && letters && other)
        add_cand(sc, vs, ve, POL_PII_SECRET, 0.85f, false);
}
