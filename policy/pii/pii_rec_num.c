/* SPDX-License-Identifier: Apache-2.0
 *
 * pii_rec_num: the recognizers anchored on digits and on IBAN country
 * codes and month names: US_SSN, CREDIT_CARD, PHONE, IBAN and DATE, with
 * their validators.  Called by the one-pass scanner of pii_scan.c (see
 * pii_rec.h for the contract).
 *
 * US_SSN: 3-2-4 digits with '-' or ' ' (or none, then only with a context
 * word), area not 000, 666 or 900-999, group not 00, serial not 0000.
 * CREDIT_CARD: 13-19 digits in groups of 3-7 separated by one kind of
 * separator, issuer prefix and length (Visa, Mastercard incl. 2221-2720,
 * Amex, Discover, JCB, Diners, UnionPay, Maestro) and Luhn.
 * PHONE: E.164 ('+' and 8-15 digits), 00-prefixed international, NANP
 * (optional 1, area and exchange not starting with 0 or 1), national
 * numbers with a trunk 0, optional extension (x, ext., #).
 * IBAN: country code with its registry length (table below, SEPA and the
 * other IBAN countries), check digits by ISO 7064 mod-97, electronic form
 * or printed in groups of four separated by single spaces.
 * DATE: Y-M-D, D/M/Y, M/D/Y, D.M.Y (years 1900-2099, or two digits with
 * '/' or '.'), "March 15, 2024", "15 March 2024", "15th of March",
 * "Mar 15th"; day and month are validated (Feb 29 only in leap years);
 * "DOB", "born", "date of birth", "birthday" before it raise the score.
 * Versions (1.2.3), times alone (10:30), a bare year and plain numbers are
 * not dates.
 *
 * Every recognizer reads at most POL_PII_SCAN_REACH bytes around its
 * anchor.  Pure; any thread.
 */
#include "policy/pii/pii_rec.h"

#include <string.h>

#include "common/cm_status.h"

/* ------------------------------------------------------------ validators */

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
    if (p2 == 50 || (p2 >= 56 && p2 <= 58) || p4 == 6304 || p4 == 6759 ||
        (p4 >= 6761 && p4 <= 6763)) /* Maestro */
        return n >= 13;
    if (p4 == 2131 || p4 == 1800) /* JCB, 15 digits */
        return n == 15;
    return false;
}

/* ------------------------------------------------------------ US_SSN */

void
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

void
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
    /* "001-415-555-0132": 00 and a country code of one digit as a group */
    if (k >= 3 && !cut && !glued && !g[0].paren && g[0].nd == 3 && sc->t[g[0].start] == '0' &&
        sc->t[g[0].start + 1] == '0' && sc->t[g[0].start + 2] != '0' && nd >= 11 && !dots)
        return 0.70f;

    /* North American numbering plan */
    if (k >= 4 && g[0].nd == 1 && sc->t[g[0].start] == '1' && !g[0].paren)
        j = 1;
    if (k - j == 3 && g[j].nd == 3 && g[j + 1].nd == 3 && g[j + 2].nd == 4 && !g[j + 1].paren &&
        !g[j + 2].paren && (g[j + 1].sep != 'p' || g[j].paren) && g[j + 2].sep != 'p') {
        if (sc->t[g[j].start] >= '2' && sc->t[g[j + 1].start] >= '2')
            return !(spaces_only && !paren) ? 0.75f : glued ? 0 : 0.60f;
        /* area or exchange starting with 0 or 1 is not a valid NANP
         * number, but made-up and sample numbers ("(555) 123-4567") have
         * that shape: with separators and a phone context word only */
        if (!spaces_only && !glued) {
            *need_ctx = true;
            return 0.50f;
        }
    }
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

void
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

/* ------------------------------------------------------------ IBAN */

/* IBAN lengths by country, from the SWIFT IBAN registry (all SEPA
 * countries and the other registered ones).  Adding a country: one row,
 * kept in alphabetical order for pii_iban_len(). */
static const struct {
    char cc[2];
    unsigned char len;
} iban_lens[] = {
    {{'A', 'D'}, 24}, {{'A', 'E'}, 23}, {{'A', 'L'}, 28}, {{'A', 'T'}, 20}, {{'A', 'Z'}, 28},
    {{'B', 'A'}, 20}, {{'B', 'E'}, 16}, {{'B', 'G'}, 22}, {{'B', 'H'}, 22}, {{'B', 'I'}, 27},
    {{'B', 'R'}, 29}, {{'B', 'Y'}, 28}, {{'C', 'H'}, 21}, {{'C', 'R'}, 22}, {{'C', 'Y'}, 28},
    {{'C', 'Z'}, 24}, {{'D', 'E'}, 22}, {{'D', 'J'}, 27}, {{'D', 'K'}, 18}, {{'D', 'O'}, 28},
    {{'E', 'E'}, 20}, {{'E', 'G'}, 29}, {{'E', 'S'}, 24}, {{'F', 'I'}, 18}, {{'F', 'K'}, 18},
    {{'F', 'O'}, 18}, {{'F', 'R'}, 27}, {{'G', 'B'}, 22}, {{'G', 'E'}, 22}, {{'G', 'I'}, 23},
    {{'G', 'L'}, 18}, {{'G', 'R'}, 27}, {{'G', 'T'}, 28}, {{'H', 'R'}, 21}, {{'H', 'U'}, 28},
    {{'I', 'E'}, 22}, {{'I', 'L'}, 23}, {{'I', 'Q'}, 23}, {{'I', 'S'}, 26}, {{'I', 'T'}, 27},
    {{'J', 'O'}, 30}, {{'K', 'W'}, 30}, {{'K', 'Z'}, 20}, {{'L', 'B'}, 28}, {{'L', 'C'}, 32},
    {{'L', 'I'}, 21}, {{'L', 'T'}, 20}, {{'L', 'U'}, 20}, {{'L', 'V'}, 21}, {{'L', 'Y'}, 25},
    {{'M', 'C'}, 27}, {{'M', 'D'}, 24}, {{'M', 'E'}, 22}, {{'M', 'K'}, 19}, {{'M', 'N'}, 20},
    {{'M', 'R'}, 27}, {{'M', 'T'}, 31}, {{'M', 'U'}, 30}, {{'N', 'I'}, 28}, {{'N', 'L'}, 18},
    {{'N', 'O'}, 15}, {{'O', 'M'}, 23}, {{'P', 'K'}, 24}, {{'P', 'L'}, 28}, {{'P', 'S'}, 29},
    {{'P', 'T'}, 25}, {{'Q', 'A'}, 29}, {{'R', 'O'}, 24}, {{'R', 'S'}, 22}, {{'R', 'U'}, 33},
    {{'S', 'A'}, 24}, {{'S', 'C'}, 31}, {{'S', 'D'}, 18}, {{'S', 'E'}, 24}, {{'S', 'I'}, 19},
    {{'S', 'K'}, 24}, {{'S', 'M'}, 27}, {{'S', 'O'}, 23}, {{'S', 'T'}, 25}, {{'S', 'V'}, 28},
    {{'T', 'L'}, 23}, {{'T', 'N'}, 24}, {{'T', 'R'}, 26}, {{'U', 'A'}, 29}, {{'V', 'A'}, 22},
    {{'V', 'G'}, 24}, {{'X', 'K'}, 20}, {{'Y', 'E'}, 30},
};

size_t
pol_pii_iban_len(const char cc[2])
{
    size_t lo = 0, hi = CM_ARRAY_LEN(iban_lens);

    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int d = memcmp(iban_lens[mid].cc, cc, 2);

        if (d == 0)
            return iban_lens[mid].len;
        if (d < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return 0;
}

bool
pol_pii_iban_ok(const char *s, size_t n)
{
    unsigned rem = 0;

    if (n < 15 || n > 34 || !is_upper(s[0]) || !is_upper(s[1]) || !is_digit(s[2]) ||
        !is_digit(s[3]) || pol_pii_iban_len(s) != n)
        return false;
    /* ISO 7064 mod 97-10: the first four characters move to the end,
     * letters count as 10..35, and the number must leave 1 */
    for (size_t k = 0; k < n; k++) {
        int c = s[(k + 4) % n];

        if (is_digit(c))
            rem = (rem * 10 + (unsigned)(c - '0')) % 97;
        else if (is_upper(c))
            rem = (rem * 100 + (unsigned)(c - 'A' + 10)) % 97;
        else
            return false;
    }
    return rem == 1;
}

void
scan_iban(struct scan *sc, size_t i)
{
    char v[34];
    size_t want_n, n = 0, p = i;
    bool printed;

    if (before(sc, i, 1) == '_')
        return;
    want_n = pol_pii_iban_len((const char *)sc->t + i);
    if (want_n == 0)
        return;
    printed = at(sc, i + 4) == ' ';
    while (n < want_n) {
        int c = at(sc, p);

        if (is_digit(c) || is_upper(c)) {
            v[n++] = (char)c;
            p++;
            /* printed form: a single space after every group of four */
            if (printed && n % 4 == 0 && n < want_n) {
                if (at(sc, p) != ' ')
                    return;
                p++;
            }
            continue;
        }
        return;
    }
    if (is_alnum(at(sc, p)) || at(sc, p) == '_')
        return;
    if (!pol_pii_iban_ok(v, n))
        return;
    add_cand(sc, i, p, POL_PII_IBAN, 0.90f, false);
}

/* ------------------------------------------------------------ DATE */

static bool
leap(unsigned y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Day d of month m valid in year y (y == 0: unknown, Feb 29 allowed). */
static bool
day_ok(unsigned d, unsigned m, unsigned y)
{
    static const unsigned char mdays[13] = {0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

    if (m < 1 || m > 12 || d < 1 || d > mdays[m])
        return false;
    return !(m == 2 && d == 29 && y != 0 && !leap(y));
}

/* Reads up to max digits at p; returns the count (0: none) and the value. */
static size_t
digits_at(const struct scan *sc, size_t p, size_t max, unsigned *v)
{
    size_t k = 0;

    *v = 0;
    while (k < max && is_digit(at(sc, p + k))) {
        *v = *v * 10 + (unsigned)(at(sc, p + k) - '0');
        k++;
    }
    return k;
}

/* A year with its digit count: 4 digits in 1900-2099, or 2 digits. */
static bool
year_ok(unsigned y, size_t nd)
{
    return (nd == 4 && y >= 1900 && y <= 2099) || nd == 2;
}

static void
add_date(struct scan *sc, size_t s, size_t e, float base, bool need_ctx)
{
    add_cand(sc, s, e, POL_PII_DATE, base, need_ctx);
}

/* Ordinal suffix after a day number ("st", "nd", "rd", "th"); returns its
 * length or 0. */
static size_t
ordinal_at(const struct scan *sc, size_t p)
{
    int a = lower(at(sc, p)), b = lower(at(sc, p + 1));

    if ((a == 's' && b == 't') || (a == 'n' && b == 'd') || (a == 'r' && b == 'd') ||
        (a == 't' && b == 'h'))
        return is_alnum(at(sc, p + 2)) ? 0 : 2;
    return 0;
}

int
month_at(const struct scan *sc, size_t i, size_t j)
{
    static const char names[12][10] = {"january",   "february", "march",    "april",
                                       "may",       "june",     "july",     "august",
                                       "september", "october",  "november", "december"};
    static const unsigned char lens[12] = {7, 8, 5, 5, 3, 4, 4, 6, 9, 7, 8, 8};
    size_t n = j - i;
    int a, b, c, m;

    if (n < 3 || n > 9)
        return 0;
    a = lower(sc->t[i]);
    b = lower(sc->t[i + 1]);
    c = lower(sc->t[i + 2]);
    /* the first three letters name the month */
    switch (a) {
    case 'j':
        m = b == 'a' && c == 'n' ? 1 : b == 'u' && c == 'n' ? 6 : b == 'u' && c == 'l' ? 7 : 0;
        break;
    case 'f': m = b == 'e' && c == 'b' ? 2 : 0; break;
    case 'm': m = b == 'a' && c == 'r' ? 3 : b == 'a' && c == 'y' ? 5 : 0; break;
    case 'a': m = b == 'p' && c == 'r' ? 4 : b == 'u' && c == 'g' ? 8 : 0; break;
    case 's': m = b == 'e' && c == 'p' ? 9 : 0; break;
    case 'o': m = b == 'c' && c == 't' ? 10 : 0; break;
    case 'n': m = b == 'o' && c == 'v' ? 11 : 0; break;
    case 'd': m = b == 'e' && c == 'c' ? 12 : 0; break;
    default: m = 0; break;
    }
    if (m == 0)
        return 0;
    if (n == 3)
        return m;
    if (n != lens[m - 1] && !(m == 9 && n == 4))
        return 0;
    for (size_t k = 3; k < n; k++) {
        if (lower(sc->t[i + k]) != names[m - 1][k])
            return 0;
    }
    return m;
}

/* After a month name at [i, j): ". 15th, 2024", " 15", " 2024". */
void
scan_date_word(struct scan *sc, size_t i, size_t j, int month)
{
    size_t p = j, nd, ny, e;
    unsigned d, y = 0;
    bool cap = is_upper(sc->t[i]), abbrev = j - i == 3 || j - i == 4;

    if (before(sc, i, 1) == '_' || before(sc, i, 1) == '-')
        return;
    if (abbrev && at(sc, p) == '.')
        p++;
    if (at(sc, p) != ' ')
        return;
    p++;
    nd = digits_at(sc, p, 4, &d);
    if (nd == 4 && !is_alnum(at(sc, p + 4))) {
        /* "March 2024": a month and a year, a date only with a birth context */
        if (cap && year_ok(d, 4) && num_right_ok(sc, p + 4))
            add_date(sc, i, p + 4, 0.45f, true);
        return;
    }
    if (nd == 0 || nd > 2 || !day_ok(d, (unsigned)month, 0))
        return;
    p += nd;
    p += ordinal_at(sc, p);
    if (is_alnum(at(sc, p)))
        return;
    e = p;
    /* optional year: ", 2024" or " 2024" */
    if (at(sc, p) == ',')
        p++;
    if (at(sc, p) == ' ') {
        ny = digits_at(sc, p + 1, 4, &y);
        if (ny == 4 && year_ok(y, 4) && !is_alnum(at(sc, p + 5)) && num_right_ok(sc, p + 5) &&
            day_ok(d, (unsigned)month, y)) {
            add_date(sc, i, p + 5, 0.75f, false);
            return;
        }
    }
    /* no year: "Mar 15th", "March 15"; a capitalised month only ("may 5") */
    if (cap && num_right_ok(sc, e) && at(sc, e) != ':')
        add_date(sc, i, e, 0.55f, false);
}

/* At a digit run: numeric dates and day-first written dates. */
void
scan_date_num(struct scan *sc, size_t i)
{
    unsigned a, b, c;
    size_t na, nb, nc, p;
    int sep;

    na = digits_at(sc, i, 4, &a);
    if (is_digit(at(sc, i + na)))
        return;
    p = i + na;
    sep = at(sc, p);
    if (sep == '-' || sep == '/' || sep == '.') {
        nb = digits_at(sc, p + 1, 2, &b);
        if (nb == 0 || is_digit(at(sc, p + 1 + nb)) || at(sc, p + 1 + nb) != sep)
            return;
        nc = digits_at(sc, p + 2 + nb, 4, &c);
        if (nc == 0 || is_digit(at(sc, p + 2 + nb + nc)))
            return;
        p += 2 + nb + nc;
        if (!num_right_ok(sc, p) || (at(sc, p) == ':' && is_digit(at(sc, p + 1))))
            return; /* "1.2.2024.5", "10.1.24:30" */
        if (na == 4) {
            /* Y-M-D */
            if (year_ok(a, 4) && day_ok(c, b, a) && nc <= 2)
                add_date(sc, i, p, 0.60f, false);
            return;
        }
        if (na > 2 || !(nc == 4 || (nc == 2 && sep != '-')) || !year_ok(c, nc))
            return;
        if (day_ok(a, b, nc == 4 ? c : 0) || day_ok(b, a, nc == 4 ? c : 0))
            add_date(sc, i, p, nc == 4 ? 0.60f : 0.50f, false);
        return;
    }
    /* "15 March 2024", "15th of March, 2024", "1st Jan" */
    if (na > 2 || a < 1 || a > 31)
        return;
    p = i + na;
    p += ordinal_at(sc, p);
    if (at(sc, p) != ' ')
        return;
    p++;
    if (lower(at(sc, p)) == 'o' && lower(at(sc, p + 1)) == 'f' && at(sc, p + 2) == ' ')
        p += 3;
    {
        size_t ms = p, me = p;
        int m;
        unsigned y;

        while (me < sc->len && is_alpha(sc->t[me]) && me - ms < 10)
            me++;
        m = month_at(sc, ms, me);
        if (m == 0 || is_digit(at(sc, me)) || !day_ok(a, (unsigned)m, 0) || !is_upper(sc->t[ms]))
            return;
        p = me;
        if (me - ms <= 4 && at(sc, p) == '.')
            p++;
        if (at(sc, p) == ',')
            p++;
        if (at(sc, p) == ' ' && digits_at(sc, p + 1, 4, &y) == 4 && year_ok(y, 4) &&
            !is_alnum(at(sc, p + 5)) && num_right_ok(sc, p + 5) && day_ok(a, (unsigned)m, y)) {
            add_date(sc, i, p + 5, 0.75f, false);
            return;
        }
        add_date(sc, i, me, 0.55f, false);
    }
}
