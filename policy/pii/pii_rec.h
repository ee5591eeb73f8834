/* SPDX-License-Identifier: Apache-2.0
 *
 * pii_rec: the private interface between the one-pass scanner (pii_scan.c)
 * and the recognizers it dispatches to (pii_rec_num.c: PHONE, CREDIT_CARD,
 * US_SSN, IBAN, DATE; pii_rec_text.c: URL, SECRET).  Not a public header:
 * only policy/pii/ includes it.
 *
 * A recognizer is called at an anchor with the scan state, reads bytes only
 * through at()/before() or below sc->len, and pushes zero or more
 * candidates with add_cand().  Candidates may overlap; pii_scan.c resolves
 * them.  Each recognizer's reach (how far before and after its anchor it
 * reads) must stay within POL_PII_SCAN_REACH of pii_scan.h, except the PEM
 * block whose end is found by search (see pol_pii_scan_open()); the
 * streaming redactor's equality with the whole-text result depends on it.
 *
 * Pure; any thread (each scan has its own struct scan).
 */
#ifndef POL_PII_REC_H
#define POL_PII_REC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy/pii/pii_scan.h"

/* Context words are looked for this many bytes before a value. */
#define CTX_WINDOW 32
#define CTX_BOOST 0.10f
#define CTX_PENALTY 0.20f

/* Byte classes (one table, pii_scan.c). */
enum {
    CL_DIGIT = 1u << 0,
    CL_UPPER = 1u << 1,
    CL_LOWER = 1u << 2,
    CL_HEX = 1u << 3,
    CL_SPACE = 1u << 4,   /* ASCII white space */
    CL_B64U = 1u << 5,    /* base64url alphabet: alnum, '-', '_' */
    CL_URL = 1u << 6,     /* RFC 3986 characters (unreserved, reserved, '%') */
    CL_SPECIAL = 1u << 7, /* an anchor of the main loop: @ : = - + ( */
};
extern const unsigned char pii_cls[256];

#define CL_ALPHA (CL_UPPER | CL_LOWER)
#define CL_ALNUM (CL_DIGIT | CL_UPPER | CL_LOWER)

static inline bool
is_digit(int c)
{
    return c >= '0' && c <= '9';
}

static inline bool
is_alpha(int c)
{
    return c >= 0 && (pii_cls[c] & CL_ALPHA);
}

static inline bool
is_upper(int c)
{
    return c >= 'A' && c <= 'Z';
}

static inline bool
is_alnum(int c)
{
    return c >= 0 && (pii_cls[c] & CL_ALNUM);
}

static inline bool
is_hex(int c)
{
    return c >= 0 && (pii_cls[c] & CL_HEX);
}

static inline bool
is_space(int c)
{
    return c >= 0 && (pii_cls[c] & CL_SPACE);
}

static inline int
lower(int c)
{
    return (c >= 'A' && c <= 'Z') ? c + 32 : c;
}

struct scan {
    const unsigned char *t;
    size_t len;
    unsigned labels;
    struct pol_pii_spans cand;
    /* pii_rec_text.c: the last search for a PEM END line */
    size_t pem_from, pem_searched, pem_end;
};

/* Byte at i, or -1 outside the text. */
static inline int
at(const struct scan *sc, size_t i)
{
    return i < sc->len ? sc->t[i] : -1;
}

/* Byte k positions before i, or -1. */
static inline int
before(const struct scan *sc, size_t i, size_t k)
{
    return i >= k ? sc->t[i - k] : -1;
}

static inline bool
want(const struct scan *sc, enum pol_pii_label l)
{
    return (sc->labels & POL_PII_MASK(l)) != 0;
}

/* True when one of words (lower case, NULL-terminated list) starts at a
 * word start in [from, to), any case. */
bool words_in(const struct scan *sc, size_t from, size_t to, const char *const *words);
/* True when a context word of label starts within CTX_WINDOW bytes before
 * start. */
bool ctx_has(const struct scan *sc, size_t start, enum pol_pii_label label);
/* Pushes a candidate: base score, + CTX_BOOST with a context word of the
 * label before it, - CTX_PENALTY with a negative word; dropped when
 * need_ctx and there is no context word. */
void add_cand(struct scan *sc, size_t start, size_t end, enum pol_pii_label label, float base,
              bool need_ctx);
/* Numeric left/right boundaries (not glued to a word or a digit run). */
bool num_left_ok(const struct scan *sc, size_t i);
bool num_right_ok(const struct scan *sc, size_t e);

/* pii_rec_num.c */
void scan_ssn(struct scan *sc, size_t i);
void scan_card(struct scan *sc, size_t i);
void scan_phone(struct scan *sc, size_t i);
void scan_iban(struct scan *sc, size_t i);
void scan_date_num(struct scan *sc, size_t i);
/* A month name (any case; full or 3-letter, "Sept") in t[i..j); returns
 * 1..12 or 0. */
int month_at(const struct scan *sc, size_t i, size_t j);
void scan_date_word(struct scan *sc, size_t i, size_t j, int month);

/* pii_rec_text.c */
void scan_url_scheme(struct scan *sc, size_t colon);
void scan_url_www(struct scan *sc, size_t i);
void scan_secret_word(struct scan *sc, size_t i, size_t j);
void scan_secret_assign(struct scan *sc, size_t op);
void scan_pem(struct scan *sc, size_t i);

#endif /* POL_PII_REC_H */
