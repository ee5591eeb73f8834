/* SPDX-License-Identifier: Apache-2.0
 *
 * pii_model: the learned token model: tokenizer, token analysis, hashed
 * features, the model file (build, check, load, save) and inference
 * (linear-chain scores decoded with Viterbi, span scores from max-marginals).
 *
 * File layout (version 2, all integers little-endian, sections 64-aligned):
 *
 *   0   magic "STWDPII\x1a"         8   u32 file version (2)
 *   12  u32 header length (128)     16  u64 file length
 *   24  u32 entity types (1..3)     28  u32 tags (2 * types + 1)
 *   32  u32 hash bits (feature buckets = 2^bits)
 *   36  u32 feature version         40  u64 hash seed
 *   48  f32 weight scale            52  u32 gazetteer bits (slots = 2^bits)
 *   56  u64 labels offset, 64 length (NUL-terminated label names)
 *   72  u64 weights offset, 80 length ([2^bits][8] int16)
 *   88  u64 transitions offset, 96 length ([8][8] int16, row 7 = start)
 *   104 u64 gazetteer offset, 112 length ([2^gbits] u32 slots, then the
 *       values they index, padded to 64 bytes)
 *   120 u32 gazetteer values (distinct class-bit sets)
 *   124 f32 score gain: a span's score is 1 / (1 + exp(-gain * margin))
 *   ... sections ...
 *   last 32 bytes: SHA-256 of every byte before them
 *
 * Loading reads the whole file into one 64-byte aligned allocation, checks
 * the checksum first and then every field and offset, so that a corrupt,
 * truncated or foreign file is refused before anything in it is used.  The
 * loaded model is never written again: any thread may decode with it.
 *
 * Inference cuts the text into windows of at most PII_WINDOW tokens (at a
 * sentence end when one is in the window's second half), computes each
 * token's emission scores as the sum of the int16 rows of its hashed
 * features, and decodes the window with Viterbi under the BIO constraints
 * (I-x only after B-x or I-x).  All of it runs on eight int16 lanes (one
 * per tag) with saturating adds: weights are quantised to +-4095 so a
 * token's sum stays far inside int16, and scores are renormalised at every
 * token, so a lane that saturates at the floor is one that lost anyway.
 * Plainly ordinary words are not scored at all (mark_skips), and the
 * part of a scored word's sum that depends on the word alone is kept per
 * thread for the words seen last (the lexical cache).  A span's
 * score is a logistic of its margin: the smallest, over its tokens, of the
 * best path's score minus the best score of a path that tags the token
 * otherwise (max-marginals from a forward and a backward pass), with the
 * gain calibrated by training.  Edge punctuation is trimmed from spans.
 *
 * Read next: pii_model_int.h (the feature templates), pii_train.c.
 */
#include "policy/pii/pii_model.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cm_hash.h"
#include "common/cm_mem.h"
#include "policy/pii/pii_model_int.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "pii_model reads its arrays in place and needs a little-endian host"
#endif

#define HEADER_LEN 128
#define TRAILER_LEN CM_SHA256_LEN
static const char MAGIC[8] = {'S', 'T', 'W', 'D', 'P', 'I', 'I', 0x1a};

/* (The span score: 1 / (1 + exp(-margin * gain)), margin in weight
 * units after dequantisation. */

struct pol_pii_model {
    uint8_t *mem; /* the file image, one allocation */
    size_t size;
    unsigned ntypes;
    enum pol_pii_label types[PII_MAX_TYPES];
    unsigned labels;
    struct pii_fparams fp;
    const int16_t *w;             /* [1 << hash_bits][PII_ROW] */
    const int16_t *trans;         /* [PII_ROW][PII_ROW] */
    int16_t tr[PII_ROW][PII_ROW]; /* trans, NEG where BIO forbids */
    uint32_t gaz_bits;
    float scale;
    float gain; /* score gain per quantised margin unit */
    char id[17];
    uint64_t id64; /* the id as a number: tags the lexical cache */
    bool lexcache; /* use it (not STEWARD_PII_NOCACHE) */
};

/* Decoding runs on int16 lanes with saturating arithmetic (pii_model.c's
 * top comment): an impossible tag or transition scores NEG, the floor, and
 * nothing added to it climbs back. */
#define NEG INT16_MIN
/* Weights are quantised to +-QMAX so that a token's emission sum (some 25
 * features) stays far inside int16. */
#define QMAX 4095.0f

/* ---------------------------------------------------------------- hashes */

static inline uint64_t
mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    x ^= x >> 31;
    return x;
}

#define FNV_BASIS 0xcbf29ce484222325ull
#define FNV_PRIME 0x100000001b3ull

static inline uint64_t
fnv_step(uint64_t h, uint32_t v)
{
    return (h ^ v) * FNV_PRIME;
}

uint64_t
pii_phrase_hash(uint64_t prev, uint64_t hlow)
{
    return mix64(prev * 0x9E3779B97F4A7C15ull + hlow);
}

static inline uint32_t
gaz_fp(uint64_t key)
{
    return (uint32_t)(key >> 48) | 1u;
}

/* Inlined into window preparation, which looks up every token. */
static inline uint32_t
gaz_get(const struct pii_gaz *gaz, uint64_t key)
{
    uint32_t idx = (uint32_t)key & gaz->mask, fp = gaz_fp(key);

    if (gaz->slots == NULL)
        return 0;
    for (;;) {
        uint32_t s = gaz->slots[idx];

        if (s == 0)
            return 0;
        if (s >> 16 == fp)
            return gaz->vals[s & 0xFFFF];
        idx = (idx + 1) & gaz->mask;
    }
}

uint32_t
pii_gaz_get(const struct pii_gaz *gaz, uint64_t key)
{
    return gaz_get(gaz, key);
}

void
pii_gaz_view(const struct pol_pii_gaz *g, struct pii_gaz *view)
{
    view->slots = g->mem;
    view->vals = g->mem + ((size_t)1 << g->bits);
    view->mask = (1u << g->bits) - 1;
    view->nvals = g->nvals;
}

void
pol_pii_gaz_free(struct pol_pii_gaz *g)
{
    if (g == NULL)
        return;
    free(g->mem);
    free(g);
}

/* ----------------------------------------------------------------- UTF-8 */

size_t
pii_utf8_next(const char *text, size_t len, size_t i, uint32_t *cp)
{
    const unsigned char *s = (const unsigned char *)text + i;
    size_t left = len - i;
    uint32_t c = s[0];

    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c >= 0xC2 && c <= 0xDF && left >= 2 && (s[1] & 0xC0) == 0x80) {
        *cp = ((c & 0x1F) << 6) | (s[1] & 0x3F);
        return 2;
    }
    if (c >= 0xE0 && c <= 0xEF && left >= 3 && (s[1] & 0xC0) == 0x80 && (s[2] & 0xC0) == 0x80) {
        uint32_t v = ((c & 0x0F) << 12) | ((uint32_t)(s[1] & 0x3F) << 6) | (s[2] & 0x3F);

        if (v >= 0x800 && (v < 0xD800 || v > 0xDFFF)) {
            *cp = v;
            return 3;
        }
    }
    if (c >= 0xF0 && c <= 0xF4 && left >= 4 && (s[1] & 0xC0) == 0x80 && (s[2] & 0xC0) == 0x80 &&
        (s[3] & 0xC0) == 0x80) {
        uint32_t v = ((c & 0x07) << 18) | ((uint32_t)(s[1] & 0x3F) << 12) |
                     ((uint32_t)(s[2] & 0x3F) << 6) | (s[3] & 0x3F);

        if (v >= 0x10000 && v <= 0x10FFFF) {
            *cp = v;
            return 4;
        }
    }
    *cp = 0xFFFD;
    return 1;
}

enum cclass { C_SPACE, C_WORD, C_APOS, C_HYPH, C_DOT, C_JOIN, C_PUNCT };

static enum cclass
cclass(uint32_t cp)
{
    if (cp < 0x80) {
        if ((cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') || (cp >= '0' && cp <= '9'))
            return C_WORD;
        if (cp <= ' ' || cp == 0x7F)
            return C_SPACE;
        switch (cp) {
        case '\'': return C_APOS;
        case '-': return C_HYPH;
        case '.': return C_DOT;
        case '@':
        case '_':
        case '/':
        case '&': return C_JOIN;
        default: return C_PUNCT;
        }
    }
    if (cp == 0x2019)
        return C_APOS;
    if (cp == 0x2010 || cp == 0x2011)
        return C_HYPH;
    if (cp == 0x85 || cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200B) ||
        cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000 ||
        cp == 0xFEFF)
        return C_SPACE;
    if (cp < 0xC0)
        return (cp == 0xAA || cp == 0xB5 || cp == 0xBA) ? C_WORD : C_PUNCT;
    if (cp == 0xD7 || cp == 0xF7 || cp == 0xFFFD)
        return C_PUNCT;
    if ((cp >= 0x2000 && cp <= 0x2BFF) || (cp >= 0x2E00 && cp <= 0x2E7F) ||
        (cp >= 0x3000 && cp <= 0x303F) || (cp >= 0xE000 && cp <= 0xF8FF) ||
        (cp >= 0xFE30 && cp <= 0xFE4F) || (cp >= 0xFF00 && cp <= 0xFF0F) ||
        (cp >= 0xFF1A && cp <= 0xFF20) || (cp >= 0xFF3B && cp <= 0xFF40) ||
        (cp >= 0xFF5B && cp <= 0xFF65) || cp >= 0xFFF0)
        return (cp >= 0x10000 && cp < 0x1F000) ? C_WORD : C_PUNCT;
    return C_WORD;
}

/* Upper case, lower case or neither, for the scripts names mostly come in
 * here (Latin, Greek, Cyrillic); other letters count as caseless. */
static int
cp_case(uint32_t cp)
{
    if (cp < 0x80)
        return (cp >= 'A' && cp <= 'Z') ? 1 : (cp >= 'a' && cp <= 'z') ? -1 : 0;
    if (cp >= 0xC0 && cp <= 0xDE && cp != 0xD7)
        return 1;
    if (cp >= 0xDF && cp <= 0xFF && cp != 0xF7)
        return -1;
    if (cp >= 0x100 && cp <= 0x17F)
        return pii_cp_lower(cp) != cp ? 1 : -1;
    if (cp >= 0x391 && cp <= 0x3A9)
        return 1;
    if (cp >= 0x3AC && cp <= 0x3CE)
        return -1;
    if (cp >= 0x400 && cp <= 0x42F)
        return 1;
    if (cp >= 0x430 && cp <= 0x45F)
        return -1;
    return 0;
}

uint32_t
pii_cp_lower(uint32_t cp)
{
    if (cp < 0x80)
        return (cp >= 'A' && cp <= 'Z') ? cp + 32 : cp;
    if (cp >= 0xC0 && cp <= 0xDE && cp != 0xD7)
        return cp + 32;
    if (cp >= 0x100 && cp <= 0x137)
        return cp | 1;
    if (cp >= 0x139 && cp <= 0x148)
        return (cp & 1) ? cp + 1 : cp;
    if (cp >= 0x14A && cp <= 0x177)
        return cp | 1;
    if (cp == 0x178)
        return 0xFF;
    if (cp >= 0x179 && cp <= 0x17E)
        return (cp & 1) ? cp + 1 : cp;
    if (cp >= 0x391 && cp <= 0x3A9 && cp != 0x3A2)
        return cp + 32;
    if (cp >= 0x410 && cp <= 0x42F)
        return cp + 32;
    if (cp >= 0x400 && cp <= 0x40F)
        return cp + 80;
    if (cp == 0x2019)
        return '\'';
    return cp;
}

/* ------------------------------------------------------------- tokenizer */

/* cclass() of the ASCII characters, looked up. */
static const uint8_t ascii_class[128] = {
#define S C_SPACE
#define W C_WORD
#define P C_PUNCT
    S,      S,      S, S, S, S, S, S,      S,     S,      S, S, S, S, S, S, S, S, S,
    S,      S,      S, S, S, S, S, S,      S,     S,      S, S, S, S, P, P, P, P, P,
    C_JOIN, C_APOS, P, P, P, P, P, C_HYPH, C_DOT, C_JOIN, W, W, W, W, W, W, W, W, W,
    W,      P,      P, P, P, P, P, C_JOIN, W,     W,      W, W, W, W, W, W, W, W, W,
    W,      W,      W, W, W, W, W, W,      W,     W,      W, W, W, W, W, P, P, P, P,
    C_JOIN, P,      W, W, W, W, W, W,      W,     W,      W, W, W, W, W, W, W, W, W,
    W,      W,      W, W, W, W, W, W,      W,     P,      P, P, P, S,
#undef S
#undef W
#undef P
};

static inline size_t
next_cp(const char *text, size_t len, size_t i, uint32_t *cp)
{
    unsigned char c = (unsigned char)text[i];

    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    return pii_utf8_next(text, len, i, cp);
}

static inline enum cclass
class_of(uint32_t cp)
{
    return cp < 0x80 ? (enum cclass)ascii_class[cp] : cclass(cp);
}

static inline enum cclass
class_at(const char *text, size_t len, size_t i, size_t *n, uint32_t *cpo)
{
    uint32_t cp;

    *n = next_cp(text, len, i, &cp);
    if (cpo)
        *cpo = cp;
    return class_of(cp);
}

size_t
pol_pii_tokenize(const char *text, size_t len, size_t from, struct pol_pii_token *toks, size_t cap,
                 size_t *next)
{
    size_t i = from, count = 0;

    while (i < len && count < cap) {
        size_t l, j;
        enum cclass c = class_at(text, len, i, &l, NULL);

        if (c == C_SPACE) {
            i += l;
            continue;
        }
        if (c != C_WORD) {
            size_t e = i + l, l2;

            /* the possessive "'s" is one token, as in most NER corpora */
            if (c == C_APOS && e < len && (text[e] == 's' || text[e] == 'S') &&
                (e + 1 >= len || class_at(text, len, e + 1, &l2, NULL) != C_WORD))
                e++;
            toks[count].start = i;
            toks[count].end = e;
            count++;
            i = e;
            continue;
        }
        j = i + l;
        while (j < len) {
            size_t l2, l3;
            enum cclass c2 = class_at(text, len, j, &l2, NULL), c3;
            uint32_t cp3;

            if (c2 == C_WORD) {
                j += l2;
                continue;
            }
            if (c2 == C_SPACE || c2 == C_PUNCT || j + l2 >= len)
                break;
            c3 = class_at(text, len, j + l2, &l3, &cp3);
            if (c3 != C_WORD)
                break;
            if (c2 == C_APOS && (cp3 == 's' || cp3 == 'S')) {
                /* possessive 's: split unless a word character follows */
                size_t k = j + l2 + l3, l4;

                if (k >= len || class_at(text, len, k, &l4, NULL) != C_WORD)
                    break;
            }
            j += l2 + l3;
        }
        toks[count].start = i;
        toks[count].end = j;
        count++;
        i = j;
    }
    /* skip trailing spaces so that *next == len when nothing is left */
    while (i < len) {
        size_t l;

        if (class_at(text, len, i, &l, NULL) != C_SPACE)
            break;
        i += l;
    }
    *next = i;
    return count;
}

/* ------------------------------------------------------- token analysis */

/* Lower case, and kind (1 upper, 2 lower, 3 digit, 4 other word
 * character, 0 not a word character), of the ASCII characters.
 * byte_info holds what the cursor's scanner needs of any byte in one load:
 * the lower-cased byte (bits 0-7), its kind as a flag (AI_UP..AI_DIG), a
 * line-break flag, and its tokenizer class (bits 12-15; C_MB for the
 * bytes of multi-byte characters, which must be decoded). */
static uint8_t ascii_lower[128], ascii_kind[128], ascii_shape[128];
static uint16_t byte_info[256];
#define AI_UP 0x100
#define AI_LOW 0x200
#define AI_DIG 0x400
#define AI_NL 0x800
#define AI_WORDISH (AI_UP | AI_LOW | AI_DIG)
#define AI_CLASS(e) ((unsigned)(e) >> 12)
#define C_MB 7

/* Shapes of one run ("x", "X", "Xx", "d"), hashed once (ascii_tables). */
enum { SHAPE_LOWER = 1, SHAPE_UPPER, SHAPE_TITLE, SHAPE_DIGIT, SHAPE__COUNT };
static uint64_t shape_hash[SHAPE__COUNT];

static void __attribute__((constructor)) ascii_tables(void)
{
    for (unsigned c = 0; c < 128; c++) {
        ascii_lower[c] = (uint8_t)((c >= 'A' && c <= 'Z') ? c + 32 : c);
        ascii_kind[c] = (c >= 'A' && c <= 'Z')   ? 1
                        : (c >= 'a' && c <= 'z') ? 2
                        : (c >= '0' && c <= '9') ? 3
                                                 : 0;
        ascii_shape[c] = (uint8_t)(ascii_kind[c] == 1   ? 'X'
                                   : ascii_kind[c] == 2 ? 'x'
                                   : ascii_kind[c] == 3 ? 'd'
                                                        : c);
        byte_info[c] = (uint16_t)(ascii_lower[c] | (unsigned)ascii_class[c] << 12 |
                                  (ascii_kind[c] == 1   ? AI_UP
                                   : ascii_kind[c] == 2 ? AI_LOW
                                   : ascii_kind[c] == 3 ? AI_DIG
                                                        : 0) |
                                  (c == '\n' ? AI_NL : 0));
        byte_info[c + 128] = C_MB << 12;
    }
    /* as pii_tok_analyse() hashes the collapsed shape */
    shape_hash[SHAPE_LOWER] = mix64(fnv_step(FNV_BASIS, 'x'));
    shape_hash[SHAPE_UPPER] = mix64(fnv_step(FNV_BASIS, 'X'));
    shape_hash[SHAPE_TITLE] = mix64(fnv_step(fnv_step(FNV_BASIS, 'X'), 'x'));
    shape_hash[SHAPE_DIGIT] = mix64(fnv_step(FNV_BASIS, 'd'));
}

/* Affixes are packed exactly (21 bits per code point) rather than hashed;
 * the feature hash spreads them. */
static inline uint64_t
pack3(uint32_t a, uint32_t b, uint32_t c)
{
    return (uint64_t)a | (uint64_t)b << 21 | (uint64_t)c << 42;
}

void
pii_tok_analyse(const char *text, size_t len, struct pii_tok *t)
{
    uint32_t first[3] = {0}, last[4] = {0};
    uint64_t hl = FNV_BASIS, hs = FNV_BASIS;
    unsigned cnt[4] = {0}; /* ASCII kinds: other, upper, lower, digit */
    unsigned nup = 0, nlow = 0, nother = 0, ndig = 0, ncp = 0;
    int first_case = 0;
    uint32_t prev_shape = 0, cp;
    bool word = false;

    for (size_t i = t->start; i < t->end && i < len;) {
        unsigned char c = (unsigned char)text[i];
        uint32_t lc, sh;
        int cs = 0;

        if (c < 0x80) {
            /* table-driven: no branch per character */
            unsigned k = ascii_kind[c];

            cp = c;
            lc = ascii_lower[c];
            sh = ascii_shape[c];
            cnt[k]++;
            if (ncp == 0)
                cs = (k == 1) - (k == 2);
            i++;
        } else {
            size_t l = pii_utf8_next(text, len, i, &cp);
            enum cclass cc = class_of(cp);

            lc = pii_cp_lower(cp);
            cs = cp_case(cp);
            if (cc == C_WORD)
                word = true;
            if (cs > 0) {
                sh = 'X';
                nup++;
            } else if (cs < 0) {
                sh = 'x';
                nlow++;
            } else if (cc == C_WORD) {
                sh = 'x';
                nother++;
            } else {
                sh = 'p';
            }
            i += l;
        }
        hl = fnv_step(hl, lc);
        if (ncp == 0)
            first_case = cs;
        if (sh != prev_shape)
            hs = fnv_step(hs, sh);
        prev_shape = sh;
        if (ncp < 3)
            first[ncp] = lc;
        last[ncp % 4] = lc;
        ncp++;
    }
    nup += cnt[1];
    nlow += cnt[2];
    ndig += cnt[3];
    word |= cnt[1] + cnt[2] + cnt[3] > 0;
    t->hlow = mix64(hl);
    t->hshape = mix64(hs);
    t->ncp = ncp > 255 ? 255 : (uint8_t)ncp;
    t->haff[0] = ncp > 2 ? pack3(first[0], first[1], 0) : 0;
    t->haff[1] = ncp > 3 ? pack3(first[0], first[1], first[2]) : 0;
    t->haff[2] = ncp > 2 ? pack3(last[(ncp - 2) % 4], last[(ncp - 1) % 4], 0) : 0;
    t->haff[3] = ncp > 3 ? pack3(last[(ncp - 3) % 4], last[(ncp - 2) % 4], last[(ncp - 1) % 4]) : 0;
    t->haff[4] = ncp > 4 ? (t->haff[3] * 0x9E3779B97F4A7C15ull) ^ last[(ncp - 4) % 4] : 0;
    t->punct = !word;
    t->detail = PII_DETAIL_ALL;
    t->shape = 0;
    if (!word)
        t->cap = CAP_PUNCT;
    else if (nup + nlow + nother == 0)
        t->cap = CAP_DIGIT;
    else if (ndig > 0)
        t->cap = CAP_ALNUM;
    else if (nup == 0)
        t->cap = CAP_LOWER;
    else if (nup == 1 && nlow + nother == 0)
        t->cap = CAP_INITIAL;
    else if (nlow + nother == 0)
        t->cap = CAP_UPPER;
    else if (first_case > 0 && nup == 1)
        t->cap = CAP_TITLE;
    else
        t->cap = CAP_MIXED;
}

static bool
is_sentence_end(const char *text, const struct pii_tok *t)
{
    if (t->end - t->start == 1) {
        char c = text[t->start];

        return c == '.' || c == '!' || c == '?';
    }
    /* U+2026 horizontal ellipsis */
    return t->end - t->start == 3 && memcmp(text + t->start, "\xe2\x80\xa6", 3) == 0;
}

/* Gazetteer classes that make a lower-case dictionary word a possible part
 * of a name or place. */
#define NAMEISH                                                                                    \
    ((1u << G_FIRST_TOP) | (1u << G_COUNTRY) | (1u << G_HONORIFIC) | (1u << G_ORG_SUFFIX))

static bool
plain_token(const char *text, const struct pii_tok *t)
{
    if (t->cap == CAP_PUNCT) {
        char c = text[t->start];

        return t->end - t->start == 1 && (c == '.' || c == ',' || c == ';' || c == '!' ||
                                          c == '?' || c == '(' || c == ')' || c == '"');
    }
    return t->cap == CAP_LOWER && (t->gaz & ((1u << G_DICT) | (1u << G_COMMON))) &&
           !(t->gaz & NAMEISH) && t->pin == 0;
}

/* The speed rule: in mixed-case text, a lower-case dictionary word that is
 * not a frequent given name, a country or a title, and is in no multi-word
 * gazetteer phrase, between two such words or plain punctuation, is tagged
 * O without being scored (its emissions are not computed; Viterbi passes
 * through O there).  Function words inside names ("Bank of America",
 * "Ludwig van Beethoven") stay scored because a neighbour is not plain.
 * Training scores every token (the model learns from all of them); on the
 * dev sets the rule changed recall by at most 0.6 points and most
 * ordinary prose skips 70-85% of its tokens.  STEWARD_PII_NOSKIP=1 in the
 * environment when the model is loaded turns it off (to measure it). */
static void
mark_skips(struct pii_window *win, bool noskip)
{
    struct pii_tok *tok = win->tok;
    size_t n = win->n;

    /* tok[k].skip holds plain_token() (window_prepare computed it) */
    if (noskip || win->docmode != 0) {
        for (size_t k = 0; k < n; k++)
            tok[k].skip = 0;
        return;
    }
    for (size_t k = 0, prev = 0; k < n; k++) {
        /* prev: tok[k - 1] was plain before this pass changed it */
        size_t cur = tok[k].skip;

        if (cur && !((k == 0 || prev) && (k + 1 == n || tok[k + 1].skip)))
            tok[k].skip = 0;
        prev = cur;
    }
}

/* ------------------------------------------------------------ the cursor */

/* The cursor finds and analyses tokens in one pass over the bytes, where
 * tokenizing and then analysing each token took two (each decoding UTF-8)
 * and analysing computed every field of every token.  Per ASCII byte of a
 * word it is one table load (byte_info), the FNV step of the lower-case
 * hash and a few register operations.  A token with any non-ASCII
 * character is delimited here and analysed by the reference
 * pii_tok_analyse(): rare in the text we see, and then there is one
 * implementation of the Unicode rules.  The shape hash and the affixes
 * (details) wait until a token turns out to be scored or next to one
 * (window_prepare); ascii_detail() computes them for ASCII tokens exactly
 * as pii_tok_analyse() does.  test_pii_model and fuzz_pii_model check the
 * whole thing against pol_pii_tokenize() and pii_tok_analyse(). */

/* Skips spaces from text[i]; sets *nl when a line break is among them
 * (the sentence-start feature needs it: no second look at the gap). */
static inline size_t
skip_space(const char *text, size_t len, size_t i, uint8_t *nl)
{
    const unsigned char *s = (const unsigned char *)text;
    unsigned brk = 0;

    while (i < len) {
        unsigned e = byte_info[s[i]];
        size_t l;

        if (AI_CLASS(e) == C_SPACE) {
            brk |= e;
            i++;
        } else if (AI_CLASS(e) != C_MB || class_at(text, len, i, &l, NULL) != C_SPACE) {
            break;
        } else {
            i += l;
        }
    }
    *nl |= (brk & AI_NL) != 0;
    return i;
}

/* The fields of an ASCII token that depend on the whole token, from what
 * the scan gathered: h (FNV of the lower-cased bytes), kinds (AI_ flags
 * seen), nup (upper-case letters).  As pii_tok_analyse() decides them. */
static void
ascii_finish(const char *text, struct pii_tok *t, uint64_t h, unsigned kinds, unsigned nup)
{
    size_t ncp = t->end - t->start;

    t->hlow = mix64(h);
    t->ncp = ncp > 255 ? 255 : (uint8_t)ncp;
    t->punct = !(kinds & AI_WORDISH);
    t->detail = PII_DETAIL_NONE;
    if (t->punct)
        t->cap = CAP_PUNCT;
    else if (!(kinds & (AI_UP | AI_LOW)))
        t->cap = CAP_DIGIT;
    else if (kinds & AI_DIG)
        t->cap = CAP_ALNUM;
    else if (nup == 0)
        t->cap = CAP_LOWER;
    else if (!(kinds & AI_LOW))
        t->cap = nup == 1 ? CAP_INITIAL : CAP_UPPER;
    else if (nup == 1 && (byte_info[(unsigned char)text[t->start]] & AI_UP))
        t->cap = CAP_TITLE;
    else
        t->cap = CAP_MIXED;
}

/* A run of ASCII word characters from s[j]: the scanner's hot loop, kept
 * small so that its state stays in registers (about ten instructions a
 * byte).  Returns where it stops.  The ASCII word characters are exactly
 * the bytes with an AI_WORDISH flag.  Upper-case letters are counted
 * afterwards, and only in tokens that have one (rare against lower case). */
static inline size_t
word_run(const unsigned char *s, size_t j, size_t len, uint64_t *hp, unsigned *kp)
{
    uint64_t h = *hp;
    unsigned kinds = 0;

    for (; j < len; j++) {
        unsigned e = byte_info[s[j]];

        if (!(e & AI_WORDISH))
            break;
        h = fnv_step(h, (uint8_t)e);
        kinds |= e;
    }
    *hp = h;
    *kp |= kinds;
    return j;
}

/* Scans the token that starts at text[i] (not a space) into t, by the
 * rules of pol_pii_tokenize(), and returns its end. */
static size_t
scan_token(const char *text, size_t len, size_t i, struct pii_tok *t)
{
    const unsigned char *s = (const unsigned char *)text;
    uint64_t h = FNV_BASIS;
    unsigned kinds = 0, nup = 0, e = byte_info[s[i]];
    bool ascii = AI_CLASS(e) != C_MB, joined = false;
    size_t j, l = 1;
    enum cclass c = ascii ? (enum cclass)AI_CLASS(e) : class_at(text, len, i, &l, NULL);

    t->start = i;
    if (c != C_WORD) {
        j = i + l;
        /* the possessive "'s" is one token, as in most NER corpora */
        if (c == C_APOS && j < len && (s[j] == 's' || s[j] == 'S') &&
            (j + 1 >= len || class_at(text, len, j + 1, &l, NULL) != C_WORD))
            j++;
        for (size_t k = i; ascii && k < j; k++) {
            e = byte_info[s[k]];
            h = fnv_step(h, (uint8_t)e);
            kinds |= e;
        }
    } else {
        j = i;
        for (;;) {
            size_t l2, l3, l4;
            enum cclass c2;
            uint32_t cp3;

            j = word_run(s, j, len, &h, &kinds);
            if (j >= len)
                break;
            e = byte_info[s[j]];
            if (AI_CLASS(e) != C_MB) {
                c2 = (enum cclass)AI_CLASS(e);
                l2 = 1;
            } else {
                c2 = class_at(text, len, j, &l2, NULL);
            }
            if (c2 == C_WORD) { /* a word character beyond ASCII */
                ascii = false;
                j += l2;
                continue;
            }
            /* a joiner between two word characters stays inside */
            if (c2 == C_SPACE || c2 == C_PUNCT || j + l2 >= len)
                break;
            if (class_at(text, len, j + l2, &l3, &cp3) != C_WORD)
                break;
            if (c2 == C_APOS && (cp3 == 's' || cp3 == 'S')) {
                /* possessive 's: split unless a word character follows */
                size_t k = j + l2 + l3;

                if (k >= len || class_at(text, len, k, &l4, NULL) != C_WORD)
                    break;
            }
            if (AI_CLASS(e) == C_MB)
                ascii = false;
            h = fnv_step(h, (uint8_t)e);
            joined = true;
            j += l2; /* the word character after it starts the next run */
        }
    }
    t->end = j;
    t->pin = t->pbeg = 0;
    t->send = c != C_WORD && is_sentence_end(text, t);
    if (ascii && (kinds & AI_UP)) {
        for (size_t k = i; k < j; k++)
            nup += (byte_info[s[k]] & AI_UP) != 0;
    }
    if (ascii) {
        ascii_finish(text, t, h, kinds, nup);
        /* a word of one kind of letter (or digits) has a one-run shape */
        t->shape = 0;
        if (c == C_WORD && !joined) {
            switch (t->cap) {
            case CAP_LOWER: t->shape = SHAPE_LOWER; break;
            case CAP_UPPER:
            case CAP_INITIAL: t->shape = SHAPE_UPPER; break;
            case CAP_TITLE: t->shape = SHAPE_TITLE; break;
            case CAP_DIGIT: t->shape = SHAPE_DIGIT; break;
            default: break;
            }
        }
    } else {
        pii_tok_analyse(text, len, t);
    }
    return j;
}

/* The details of an ASCII token, as pii_tok_analyse() computes them: the
 * shape hash, and with `all` the affixes.  A word of one kind of letter
 * (most of them) takes its shape hash from shape_hash[], computed once:
 * "x" for "report", "Xx" for "Boston". */
static void
ascii_detail(const char *text, struct pii_tok *t, bool all)
{
    const unsigned char *s = (const unsigned char *)text + t->start;
    size_t n = t->end - t->start;

    if (t->detail == PII_DETAIL_NONE) {
        if (t->shape != 0) {
            t->hshape = shape_hash[t->shape];
        } else {
            uint64_t hs = FNV_BASIS;
            uint32_t prev = 0;

            for (size_t k = 0; k < n; k++) {
                uint32_t sh = ascii_shape[s[k]];

                if (sh != prev)
                    hs = fnv_step(hs, sh);
                prev = sh;
            }
            t->hshape = mix64(hs);
        }
        t->detail = PII_DETAIL_SHAPE;
    }
    if (!all)
        return;
#define LC(k) ((uint32_t)ascii_lower[s[(k)]])
    t->haff[0] = n > 2 ? pack3(LC(0), LC(1), 0) : 0;
    t->haff[1] = n > 3 ? pack3(LC(0), LC(1), LC(2)) : 0;
    t->haff[2] = n > 2 ? pack3(LC(n - 2), LC(n - 1), 0) : 0;
    t->haff[3] = n > 3 ? pack3(LC(n - 3), LC(n - 2), LC(n - 1)) : 0;
    t->haff[4] = n > 4 ? (t->haff[3] * 0x9E3779B97F4A7C15ull) ^ LC(n - 4) : 0;
#undef LC
    t->detail = PII_DETAIL_ALL;
}

/* Fills in what depends on the window: sentence starts, gazetteer bits,
 * the casing of the text, the skips, and the details that will be read. */
static void
window_prepare(const struct pii_fparams *fp, const char *text, size_t len, struct pii_tok *tok,
               size_t n, bool all, struct pii_window *win)
{
    unsigned nword = 0, nlow = 0, nup = 0, nss = 0, nss_low = 0;

    /* one pass: sentence starts, the casing counts, the gazetteer, and
     * whether each token is plain (tok[k].pin is final once the phrases
     * starting at k have been looked up: later ones do not cover it;
     * every token of the window starts with pin == pbeg == 0, from
     * scan_token) */
    for (size_t k = 0; k < n; k++) {
        struct pii_tok *t = &tok[k];
        uint64_t h = PII_PHRASE_INIT;

        t->sstart = k == 0 || tok[k - 1].send || t->nl;
        if (t->cap != CAP_PUNCT && t->cap != CAP_DIGIT) {
            nword++;
            nlow += t->cap == CAP_LOWER;
            nup += t->cap == CAP_UPPER;
            if (t->sstart || (k > 0 && tok[k - 1].sstart && tok[k - 1].cap == CAP_PUNCT)) {
                nss++;
                nss_low += t->cap == CAP_LOWER;
            }
        }
        /* gazetteer: the token alone, then the longest phrases from it */
        for (size_t j = k; j < n && j < k + PII_MAX_PHRASE; j++) {
            uint32_t v;

            h = pii_phrase_hash(h, tok[j].hlow);
            v = gaz_get(&fp->gaz, h);
            if (j == k) {
                t->gaz = v & ~(1u << G_PREFIX);
            } else if (v & ~(1u << G_PREFIX)) {
                uint32_t cls = v & ~(1u << G_PREFIX);

                t->pbeg |= cls;
                for (size_t m = k; m <= j; m++)
                    tok[m].pin |= cls;
            }
            if (!(v & (1u << G_PREFIX)))
                break;
        }
        t->skip = plain_token(text, t);
    }
    win->text = text;
    win->len = len;
    win->tok = tok;
    win->n = n;
    /* casing of the text: lower case (chat style: sentences start in lower
     * case and capitals are rare), upper case, or ordinary */
    win->docmode = 0;
    if (nword >= 3) {
        if (nlow * 10 >= nword * 9 && nss_low * 2 > nss)
            win->docmode = 1;
        else if (nup * 10 >= nword * 8)
            win->docmode = 2;
    }
    mark_skips(win, fp->noskip);
    /* the features of a scored token read its own details and its
     * neighbours' shapes; an unscored token between unscored ones needs
     * none (most of ordinary prose).  A scored token's affixes wait for
     * self_row(): a word found in the lexical cache needs none. */
    for (size_t k = 0; k < n; k++) {
        if (tok[k].detail == PII_DETAIL_ALL)
            continue;
        if (all)
            ascii_detail(text, &tok[k], true);
        else if (!tok[k].skip || (k > 0 && !tok[k - 1].skip) || (k + 1 < n && !tok[k + 1].skip))
            ascii_detail(text, &tok[k], false); /* the affixes: self_row() */
    }
}

void
pii_cursor_init(struct pii_cursor *cur, const char *text, size_t len)
{
    cur->text = text;
    cur->len = len;
    cur->pos = 0;
    cur->ncut = 0;
    cur->ntok = 0;
}

size_t
pii_cursor_next(struct pii_cursor *cur, const struct pii_fparams *fp, bool all,
                struct pii_window *win)
{
    const char *text = cur->text;
    size_t len = cur->len, i = cur->pos, n = cur->ntok - cur->ncut;
    struct pii_tok *tok = cur->tok;
    uint8_t nl = 0;

    /* the tokens scanned past the last cut open this window: moving
     * them costs less than scanning them again */
    if (n > 0 && cur->ncut > 0)
        memmove(tok, tok + cur->ncut, n * sizeof(*tok));
    while (n < PII_WINDOW) {
        nl = 0;
        /* most gaps are one space before a word: no loop for them */
        if (i + 1 < len && text[i] == ' ' &&
            AI_CLASS(byte_info[(unsigned char)text[i + 1]]) != C_SPACE &&
            AI_CLASS(byte_info[(unsigned char)text[i + 1]]) != C_MB)
            i++;
        else
            i = skip_space(text, len, i, &nl);
        if (i >= len)
            break;
        tok[n].nl = nl;
        i = scan_token(text, len, i, &tok[n]);
        n++;
    }
    cur->pos = i;
    cur->ntok = cur->ncut = n;
    if (n == 0)
        return 0;
    if (n == PII_WINDOW && skip_space(text, len, i, &nl) < len) {
        /* the text goes on: end the window after a sentence end in its
         * second half */
        for (size_t k = n - 2; k >= n / 2; k--) {
            if (tok[k].send || tok[k + 1].nl) {
                cur->ncut = k + 1;
                break;
            }
        }
    }
    window_prepare(fp, text, len, tok, cur->ncut, all, win);
    return cur->ncut;
}

/* Eight int16 lanes, one per tag, with saturating adds: SSE2 on x86-64
 * (every x86-64 has it), plain C elsewhere. */
#if defined(__SSE2__)
#include <emmintrin.h>
typedef __m128i vs8;
#define VS_LOAD(p) _mm_loadu_si128((const __m128i *)(const void *)(p))
#define VS_STORE(p, v) _mm_storeu_si128((__m128i *)(void *)(p), (v))
#define VS_ADDS(a, b) _mm_adds_epi16((a), (b))
#define VS_SUBS(a, b) _mm_subs_epi16((a), (b))
#define VS_MAX(a, b) _mm_max_epi16((a), (b))
#define VS_MIN(a, b) _mm_min_epi16((a), (b))
#define VS_SPLAT(x) _mm_set1_epi16((short)(x))
#define VS_ZERO() _mm_setzero_si128()
static inline int16_t
vs_hmax(vs8 v)
{
    v = _mm_max_epi16(v, _mm_shuffle_epi32(v, 0x4E));
    v = _mm_max_epi16(v, _mm_shuffle_epi32(v, 0xB1));
    v = _mm_max_epi16(v, _mm_shufflelo_epi16(v, 0xB1));
    return (int16_t)_mm_cvtsi128_si32(v);
}
#else
typedef struct {
    int16_t l[PII_ROW];
} vs8;
static inline int16_t
sat16(int32_t v)
{
    return (int16_t)(v > INT16_MAX ? INT16_MAX : v < INT16_MIN ? INT16_MIN : v);
}
static inline vs8
vs_load(const int16_t *p)
{
    vs8 v;

    memcpy(v.l, p, sizeof(v.l));
    return v;
}
static inline vs8
vs_op(vs8 a, vs8 b, int op)
{
    for (unsigned k = 0; k < PII_ROW; k++)
        a.l[k] = op == 0   ? sat16(a.l[k] + b.l[k])
                 : op == 1 ? sat16(a.l[k] - b.l[k])
                 : op == 2 ? (a.l[k] > b.l[k] ? a.l[k] : b.l[k])
                           : (a.l[k] < b.l[k] ? a.l[k] : b.l[k]);
    return a;
}
static inline vs8
vs_splat(int16_t x)
{
    vs8 v;

    for (unsigned k = 0; k < PII_ROW; k++)
        v.l[k] = x;
    return v;
}
static inline int16_t
vs_hmax(vs8 v)
{
    int16_t m = v.l[0];

    for (unsigned k = 1; k < PII_ROW; k++)
        m = v.l[k] > m ? v.l[k] : m;
    return m;
}
#define VS_LOAD(p) vs_load((const int16_t *)(p))
#define VS_STORE(p, v) memcpy((p), (v).l, sizeof((v).l))
#define VS_ADDS(a, b) vs_op((a), (b), 0)
#define VS_SUBS(a, b) vs_op((a), (b), 1)
#define VS_MAX(a, b) vs_op((a), (b), 2)
#define VS_MIN(a, b) vs_op((a), (b), 3)
#define VS_SPLAT(x) vs_splat((int16_t)(x))
#define VS_ZERO() vs_splat(0)
#endif

/* --------------------------------------------------------------- features */

enum tmpl {
    T_BIAS = 1,
    T_W,
    T_SHAPE,
    T_AFF, /* + 0..4 */
    T_CAPSS = T_AFF + 5,
    T_WM1,
    T_WP1,
    T_WM2,
    T_WP2,
    T_SH_M1,
    T_SH_P1,
    T_CAP3,
    T_WM1_CAP,
    T_CAP_WP1,
    T_GAZ,
    T_GAZSET,
    T_GAZ_M1,
    T_GAZ_P1,
    T_PIN,
};

#define H_BOS 0x1b0501u
#define H_EOS 0x1e0501u

/* Multiplicative hashing of (template salt ^ value): the values are
 * already mixed hashes or small integers, so one multiply spreads them. */
static inline uint32_t
bucket(const struct pii_fparams *fp, unsigned tmpl, uint64_t v)
{
    return (uint32_t)(((v ^ fp->salt[tmpl]) * 0x9E3779B97F4A7C15ull) >> (64 - fp->hash_bits));
}

void
pii_fparams_init(struct pii_fparams *fp, uint32_t hash_bits, uint64_t seed,
                 const struct pii_gaz *gaz)
{
    fp->hash_bits = hash_bits;
    fp->seed = seed;
    fp->gaz = *gaz;
    for (unsigned k = 0; k < 32; k++)
        fp->salt[k] = mix64(seed * 0xD6E8FEB86659FD93ull + k + 1);
    fp->noskip = getenv("STEWARD_PII_NOSKIP") != NULL;
}

static inline unsigned
capgroup(unsigned cap)
{
    switch (cap) {
    case CAP_TITLE:
    case CAP_INITIAL: return 1;
    case CAP_UPPER:
    case CAP_MIXED: return 2;
    default: return 0;
    }
}

/* Gazetteer bits that combine into the T_GAZSET conjunction. */
#define GAZSET_BITS                                                                                \
    ((1u << G_FIRST) | (1u << G_SURNAME) | (1u << G_CITY) | (1u << G_COUNTRY) | (1u << G_REGION) | \
     (1u << G_COMPANY) | (1u << G_COMMON) | (1u << G_DICT) | (1u << G_PROPER))

#define NOT_NEIGHBOUR                                                                              \
    ((1u << G_DICT) | (1u << G_COMMON) | (1u << G_PROPER) | (1u << G_FIRST_TOP) |                  \
     (1u << G_SURNAME_TOP))

/* Where the feature templates put what they compute: training wants the
 * buckets (and their kinds) in feats; decoding passes the weights w and
 * has each bucket's row added to acc as soon as it is known, with no array
 * in between (decoding runs this for every scored token: a call, a test and
 * a store per feature add up).  A local of the inlined callers: it lives in
 * registers. */
struct fsink {
    const struct pii_fparams *fp;
    uint32_t *feats; /* NULL when decoding */
    uint8_t *kind;
    const int16_t *w;
    vs8 acc;
    size_t k;
};

static inline __attribute__((always_inline)) void
fs_add(struct fsink *s, unsigned tmpl, uint64_t v, uint8_t kd)
{
    uint32_t bk = bucket(s->fp, tmpl, v);

    if (s->feats == NULL) {
        s->acc = VS_ADDS(s->acc, VS_LOAD(s->w + (size_t)bk * PII_ROW));
    } else {
        if (s->kind)
            s->kind[s->k] = kd;
        s->feats[s->k] = bk;
    }
    s->k++;
}

/* The templates come in four groups.  Those of the token itself (its
 * word, shape, affixes, casing, sentence start, the text's casing, its
 * gazetteer classes: self_a and self_b) depend on nothing else, which lets
 * decoding keep their sum per word (the lexical cache); those of its
 * neighbourhood (ctx_a, ctx_b) do not.  Training takes them in the order
 * a, ctx_a, b, ctx_b, the order the shipped model was trained in (feature
 * dropout draws per position, so another order trains another model). */
static inline __attribute__((always_inline)) void
feats_self_a(struct fsink *s, const struct pii_tok *t, unsigned docmode)
{
    fs_add(s, T_BIAS, 0, 0);
    fs_add(s, T_W, t->hlow, 1);
    fs_add(s, T_SHAPE, t->hshape, 0);
    for (unsigned a = 0; a < 5; a++) {
        if (t->haff[a])
            fs_add(s, T_AFF + a, t->haff[a], 1);
    }
    fs_add(s, T_CAPSS, t->cap | (unsigned)t->sstart << 3 | docmode << 4, 0);
}

static inline __attribute__((always_inline)) void
feats_self_b(struct fsink *s, const struct pii_tok *t, unsigned docmode)
{
    unsigned cg = capgroup(t->cap);

    for (uint32_t g = t->gaz; g; g &= g - 1) {
        unsigned b = (unsigned)__builtin_ctz(g);

        fs_add(s, T_GAZ, b | cg << 5 | docmode << 7 | (unsigned)t->sstart << 9, 2);
    }
    if (t->gaz & GAZSET_BITS)
        fs_add(s, T_GAZSET, (t->gaz & GAZSET_BITS) | cg << 16 | (unsigned)t->sstart << 18, 2);
}

static inline __attribute__((always_inline)) void
feats_ctx_a(struct fsink *s, const struct pii_window *win, size_t i)
{
    const struct pii_tok *t = &win->tok[i];
    const struct pii_tok *p1 = i > 0 ? &win->tok[i - 1] : NULL;
    const struct pii_tok *p2 = i > 1 ? &win->tok[i - 2] : NULL;
    const struct pii_tok *n1 = i + 1 < win->n ? &win->tok[i + 1] : NULL;
    const struct pii_tok *n2 = i + 2 < win->n ? &win->tok[i + 2] : NULL;
    uint64_t hp1 = p1 ? p1->hlow : H_BOS, hn1 = n1 ? n1->hlow : H_EOS;
    unsigned cp1 = p1 ? p1->cap : CAP__COUNT, cn1 = n1 ? n1->cap : CAP__COUNT;

    fs_add(s, T_WM1, hp1, 0);
    fs_add(s, T_WP1, hn1, 0);
    fs_add(s, T_WM2, p2 ? p2->hlow : (p1 ? H_BOS : H_BOS + 1), 0);
    fs_add(s, T_WP2, n2 ? n2->hlow : (n1 ? H_EOS : H_EOS + 1), 0);
    fs_add(s, T_SH_M1, (p1 ? p1->hshape : H_BOS) ^ t->cap, 0);
    fs_add(s, T_SH_P1, (n1 ? n1->hshape : H_EOS) ^ t->cap, 0);
    fs_add(s, T_CAP3, cp1 | t->cap << 4 | cn1 << 8 | (unsigned)win->docmode << 12, 0);
    fs_add(s, T_WM1_CAP, hp1 ^ t->cap, 0);
    fs_add(s, T_CAP_WP1, hn1 ^ t->cap, 0);
}

static inline __attribute__((always_inline)) void
feats_ctx_b(struct fsink *s, const struct pii_window *win, size_t i)
{
    const struct pii_tok *t = &win->tok[i];
    unsigned cg = capgroup(t->cap);

    /* a neighbour's classes, but for the word lists (its word is there) */
    if (i > 0) {
        for (uint32_t g = win->tok[i - 1].gaz & ~NOT_NEIGHBOUR; g; g &= g - 1)
            fs_add(s, T_GAZ_M1, (unsigned)__builtin_ctz(g) | t->cap << 5, 2);
    }
    if (i + 1 < win->n) {
        for (uint32_t g = win->tok[i + 1].gaz & ~NOT_NEIGHBOUR; g; g &= g - 1)
            fs_add(s, T_GAZ_P1, (unsigned)__builtin_ctz(g) | t->cap << 5, 2);
    }
    for (uint32_t g = t->pin; g; g &= g - 1) {
        unsigned b = (unsigned)__builtin_ctz(g);

        fs_add(s, T_PIN, b | ((t->pbeg >> b) & 1u) << 5 | cg << 6, 2);
    }
}

size_t
pii_token_features(const struct pii_fparams *fp, const struct pii_window *win, size_t i,
                   uint32_t *feats, uint8_t *kind)
{
    struct fsink s = {.fp = fp, .feats = feats, .kind = kind};

    feats_self_a(&s, &win->tok[i], win->docmode);
    feats_ctx_a(&s, win, i);
    feats_self_b(&s, &win->tok[i], win->docmode);
    feats_ctx_b(&s, win, i);
    return s.k;
}

/* ------------------------------------------------------ gazetteer build */

void
pii_gaz_builder_init(struct pii_gaz_builder *b)
{
    memset(b, 0, sizeof(*b));
}

void
pii_gaz_builder_fini(struct pii_gaz_builder *b)
{
    free(b->keys);
    free(b->vals);
    pii_gaz_builder_init(b);
}

static void
gb_push(struct pii_gaz_builder *b, uint64_t key, uint32_t val)
{
    if (b->n == b->cap) {
        b->cap = b->cap ? b->cap * 2 : 1024;
        b->keys = cm_realloc(b->keys, b->cap * sizeof(*b->keys));
        b->vals = cm_realloc(b->vals, b->cap * sizeof(*b->vals));
    }
    b->keys[b->n] = key;
    b->vals[b->n] = val;
    b->n++;
}

void
pii_gaz_builder_add(struct pii_gaz_builder *b, const char *s, size_t n, unsigned bit)
{
    struct pol_pii_token toks[PII_MAX_PHRASE + 1];
    size_t next, nt = pol_pii_tokenize(s, n, 0, toks, PII_MAX_PHRASE + 1, &next);
    uint64_t h = PII_PHRASE_INIT;

    if (nt == 0 || nt > PII_MAX_PHRASE)
        return;
    for (size_t k = 0; k < nt; k++) {
        struct pii_tok t = {.start = toks[k].start, .end = toks[k].end};

        pii_tok_analyse(s, n, &t);
        h = pii_phrase_hash(h, t.hlow);
        gb_push(b, h, k + 1 < nt ? 1u << G_PREFIX : 1u << bit);
    }
}

static int
key_cmp(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return x < y ? -1 : x > y;
}

static int
u32_cmp(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

    return x < y ? -1 : x > y;
}

struct pol_pii_gaz *
pii_gaz_builder_table(const struct pii_gaz_builder *b)
{
    /* pairs (key, val) sorted by key, equal keys merged */
    uint64_t *pairs = cm_malloc((b->n ? b->n : 1) * 2 * sizeof(uint64_t));
    uint32_t *vals = cm_malloc((b->n ? b->n : 1) * sizeof(uint32_t));
    struct pol_pii_gaz *g = cm_calloc(1, sizeof(*g));
    size_t m = 0, nv = 0, ns;
    uint32_t bits = 4, mask, *slots;

    for (size_t k = 0; k < b->n; k++) {
        pairs[2 * k] = b->keys[k];
        pairs[2 * k + 1] = b->vals[k];
    }
    qsort(pairs, b->n, 2 * sizeof(uint64_t), key_cmp);
    for (size_t k = 0; k < b->n; k++) {
        if (m > 0 && pairs[2 * (m - 1)] == pairs[2 * k]) {
            pairs[2 * (m - 1) + 1] |= pairs[2 * k + 1];
            continue;
        }
        pairs[2 * m] = pairs[2 * k];
        pairs[2 * m + 1] = pairs[2 * k + 1];
        m++;
    }
    /* the distinct values, sorted; slots index them */
    for (size_t k = 0; k < m; k++)
        vals[k] = (uint32_t)pairs[2 * k + 1];
    qsort(vals, m, sizeof(uint32_t), u32_cmp);
    for (size_t k = 0; k < m; k++) {
        if (nv == 0 || vals[nv - 1] != vals[k])
            vals[nv++] = vals[k];
    }
    cm_assert(nv <= 0x10000);
    while (((size_t)1 << bits) < 2 * m + 1)
        bits++;
    ns = (size_t)1 << bits;
    mask = (uint32_t)ns - 1;
    g->mem = cm_calloc(ns + nv, sizeof(uint32_t));
    slots = g->mem;
    memcpy(g->mem + ns, vals, nv * sizeof(uint32_t));
    for (size_t k = 0; k < m; k++) {
        uint64_t key = pairs[2 * k];
        uint32_t idx = (uint32_t)key & mask, fp = gaz_fp(key), v = (uint32_t)pairs[2 * k + 1];
        uint32_t *hit = bsearch(&v, vals, nv, sizeof(uint32_t), u32_cmp);

        /* a fingerprint already in the chain: the entries share a slot */
        while (slots[idx] != 0 && slots[idx] >> 16 != fp)
            idx = (idx + 1) & mask;
        if (slots[idx] != 0) {
            uint32_t both = vals[slots[idx] & 0xFFFF] | v;

            hit = bsearch(&both, vals, nv, sizeof(uint32_t), u32_cmp);
            if (hit == NULL) /* a new combination: keep the first entry */
                continue;
        }
        slots[idx] = fp << 16 | (uint32_t)(hit - vals);
    }
    free(pairs);
    free(vals);
    g->bits = bits;
    g->nvals = (uint32_t)nv;
    return g;
}

/* ------------------------------------------------------------ file image */

static void
put32(uint8_t *p, uint32_t v)
{
    memcpy(p, &v, 4);
}

static void
put64(uint8_t *p, uint64_t v)
{
    memcpy(p, &v, 8);
}

static uint32_t
get32(const uint8_t *p)
{
    uint32_t v;

    memcpy(&v, p, 4);
    return v;
}

static uint64_t
get64(const uint8_t *p)
{
    uint64_t v;

    memcpy(&v, p, 8);
    return v;
}

static int16_t
quant(float w, float scale)
{
    float q = w / scale;

    if (q > QMAX)
        q = QMAX;
    if (q < -QMAX)
        q = -QMAX;
    return (int16_t)lrintf(q);
}

void
pii_image_build(const struct pii_image_parts *parts, struct cm_buf *out)
{
    size_t nb = (size_t)1 << parts->hash_bits, ng = (size_t)1 << parts->gaz->bits;
    size_t off_labels = HEADER_LEN, len_labels = 64;
    size_t off_w = off_labels + len_labels, len_w = nb * PII_ROW * sizeof(int16_t);
    size_t off_t = off_w + len_w, len_t = PII_ROW * PII_ROW * sizeof(int16_t);
    size_t off_g = off_t + len_t;
    size_t len_g = ((ng + parts->gaz->nvals) * sizeof(uint32_t) + 63) & ~(size_t)63;
    size_t total = off_g + len_g + TRAILER_LEN, base = out->len;
    float maxabs = 0.0f, scale;
    uint8_t *p;
    size_t lp = 0;

    for (size_t k = 0; k < nb * PII_ROW; k++)
        maxabs = fmaxf(maxabs, fabsf(parts->weights[k]));
    for (size_t k = 0; k < PII_ROW * PII_ROW; k++)
        maxabs = fmaxf(maxabs, fabsf(parts->trans[k]));
    scale = maxabs > 0.0f ? maxabs / QMAX : 1.0f;

    cm_buf_reserve(out, total);
    p = (uint8_t *)out->p + base;
    memset(p, 0, total);
    memcpy(p, MAGIC, 8);
    put32(p + 8, PII_FILE_VERSION);
    put32(p + 12, HEADER_LEN);
    put64(p + 16, total);
    put32(p + 24, parts->ntypes);
    put32(p + 28, 2 * parts->ntypes + 1);
    put32(p + 32, parts->hash_bits);
    put32(p + 36, PII_FEATURE_VERSION);
    put64(p + 40, parts->seed);
    memcpy(p + 48, &scale, 4);
    put32(p + 52, parts->gaz->bits);
    put64(p + 56, off_labels);
    put64(p + 64, len_labels);
    put64(p + 72, off_w);
    put64(p + 80, len_w);
    put64(p + 88, off_t);
    put64(p + 96, len_t);
    put64(p + 104, off_g);
    put64(p + 112, len_g);
    put32(p + 120, parts->gaz->nvals);
    {
        float gain = parts->score_gain > 0.0f ? parts->score_gain : PII_DEFAULT_GAIN;

        memcpy(p + 124, &gain, 4);
    }
    for (unsigned k = 0; k < parts->ntypes; k++) {
        const char *name = pol_pii_label_name(parts->types[k]);
        size_t nl = strlen(name);

        memcpy(p + off_labels + lp, name, nl);
        lp += nl + 1;
    }
    for (size_t k = 0; k < nb * PII_ROW; k++) {
        int16_t q = quant(parts->weights[k], scale);

        memcpy(p + off_w + 2 * k, &q, 2);
    }
    for (size_t k = 0; k < PII_ROW * PII_ROW; k++) {
        int16_t q = quant(parts->trans[k], scale);

        memcpy(p + off_t + 2 * k, &q, 2);
    }
    memcpy(p + off_g, parts->gaz->mem, (ng + parts->gaz->nvals) * sizeof(uint32_t));
    cm_sha256(p, total - TRAILER_LEN, p + total - TRAILER_LEN);
    out->len += total;
    out->p[out->len] = '\0';
}

/* --------------------------------------------------------------- loading */

static bool trans_allowed(unsigned from, unsigned to, unsigned ntags);

static bool
section_ok(uint64_t off, uint64_t len, size_t size)
{
    return off >= HEADER_LEN && off % 64 == 0 && len <= size - TRAILER_LEN &&
           off <= size - TRAILER_LEN - len;
}

/* Checks the image in m->mem[0..m->size) and fills in m's views of it. */
static int
model_parse(struct pol_pii_model *m, const char *name, struct cm_err *err)
{
    const uint8_t *p = m->mem;
    uint8_t sum[CM_SHA256_LEN];
    uint32_t version, ntypes, ntags, hbits, gbits, fver, nvals;
    uint64_t flen, off[4], len[4];
    size_t lp = 0, empty = 0, ng;
    struct pii_gaz gz;
    float scale, gain;

    if (m->size < 8 || memcmp(p, MAGIC, 8) != 0)
        return cm_err_set(err, CM_EINPUT, "%s: not a steward PII model (bad magic)", name);
    if (m->size < HEADER_LEN + TRAILER_LEN)
        return cm_err_set(err, CM_EINPUT, "%s: truncated model file (%zu bytes)", name, m->size);
    version = get32(p + 8);
    if (version != PII_FILE_VERSION)
        return cm_err_set(err, CM_EINPUT, "%s: model file version %u, this build reads version %u",
                          name, version, PII_FILE_VERSION);
    flen = get64(p + 16);
    if (get32(p + 12) != HEADER_LEN)
        return cm_err_set(err, CM_EINPUT, "%s: bad header length", name);
    if (flen != m->size)
        return cm_err_set(err, CM_EINPUT,
                          "%s: truncated or extended model file: header says %llu bytes, file "
                          "has %zu",
                          name, (unsigned long long)flen, m->size);
    cm_sha256(p, m->size - TRAILER_LEN, sum);
    if (memcmp(sum, p + m->size - TRAILER_LEN, CM_SHA256_LEN) != 0)
        return cm_err_set(err, CM_EINPUT, "%s: model file corrupt (SHA-256 mismatch)", name);

    ntypes = get32(p + 24);
    ntags = get32(p + 28);
    hbits = get32(p + 32);
    fver = get32(p + 36);
    memcpy(&scale, p + 48, 4);
    gbits = get32(p + 52);
    nvals = get32(p + 120);
    memcpy(&gain, p + 124, 4);
    for (int k = 0; k < 4; k++) {
        off[k] = get64(p + 56 + 16 * k);
        len[k] = get64(p + 64 + 16 * k);
    }
    if (fver != PII_FEATURE_VERSION)
        return cm_err_set(err, CM_EINPUT,
                          "%s: model built with feature set %u, this build computes feature "
                          "set %u: retrain it",
                          name, fver, PII_FEATURE_VERSION);
    if (ntypes < 1 || ntypes > PII_MAX_TYPES || ntags != 2 * ntypes + 1)
        return cm_err_set(err, CM_EINPUT, "%s: bad label count", name);
    if (hbits < 8 || hbits > 24 || gbits < 4 || gbits > 26 || nvals > 0x10000)
        return cm_err_set(err, CM_EINPUT, "%s: bad hash sizes", name);
    if (!(scale > 0.0f) || !isfinite(scale) || !(gain > 0.0f) || !isfinite(gain))
        return cm_err_set(err, CM_EINPUT, "%s: bad weight scale", name);
    ng = (size_t)1 << gbits;
    if (len[0] != 64 || len[1] != ((uint64_t)1 << hbits) * PII_ROW * 2 ||
        len[2] != PII_ROW * PII_ROW * 2 ||
        len[3] != ((((uint64_t)ng + nvals) * 4 + 63) & ~(uint64_t)63))
        return cm_err_set(err, CM_EINPUT, "%s: bad section sizes", name);
    for (int k = 0; k < 4; k++) {
        if (!section_ok(off[k], len[k], m->size))
            return cm_err_set(err, CM_EINPUT, "%s: section %d out of bounds", name, k);
    }
    /* labels: ntypes NUL-terminated names within the 64-byte section */
    m->labels = 0;
    for (unsigned k = 0; k < ntypes; k++) {
        const char *s = (const char *)p + off[0] + lp;
        const char *nul = memchr(s, '\0', 64 - lp);
        enum pol_pii_label l;

        if (nul == NULL || pol_pii_label_parse(s, (size_t)(nul - s), &l) != CM_OK ||
            (m->labels & POL_PII_MASK(l)))
            return cm_err_set(err, CM_EINPUT, "%s: bad label list", name);
        m->types[k] = l;
        m->labels |= POL_PII_MASK(l);
        lp += (size_t)(nul - s) + 1;
        if (lp >= 64)
            return cm_err_set(err, CM_EINPUT, "%s: bad label list", name);
    }
    {
        const uint32_t *slots = (const uint32_t *)(p + off[3]);

        for (size_t k = 0; k < ng; k++) {
            empty += slots[k] == 0;
            if (slots[k] != 0 && (slots[k] & 0xFFFF) >= nvals)
                return cm_err_set(err, CM_EINPUT, "%s: bad gazetteer slot", name);
        }
        if (empty == 0)
            return cm_err_set(err, CM_EINPUT, "%s: gazetteer table full", name);
        gz.slots = slots;
        gz.vals = slots + ng;
        gz.mask = (uint32_t)(ng - 1);
        gz.nvals = nvals;
    }
    m->ntypes = ntypes;
    pii_fparams_init(&m->fp, hbits, get64(p + 40), &gz);
    m->gaz_bits = gbits;
    m->w = (const int16_t *)(p + off[1]);
    m->trans = (const int16_t *)(p + off[2]);
    m->scale = scale;
    m->gain = gain * scale;
    for (unsigned x = 0; x < PII_ROW; x++) {
        for (unsigned y = 0; y < PII_ROW; y++)
            m->tr[x][y] = trans_allowed(x, y, ntags) ? m->trans[x * PII_ROW + y] : NEG;
    }
    cm_hex(p + m->size - TRAILER_LEN, 8, m->id);
    m->id64 = get64(p + m->size - TRAILER_LEN);
    m->lexcache = getenv("STEWARD_PII_NOCACHE") == NULL;
    return CM_OK;
}

static int
model_from_buffer(uint8_t *mem, size_t size, const char *name, struct pol_pii_model **out,
                  struct cm_err *err)
{
    struct pol_pii_model *m = cm_calloc(1, sizeof(*m));
    int rc;

    m->mem = mem;
    m->size = size;
    rc = model_parse(m, name, err);
    if (rc != CM_OK) {
        pol_pii_model_free(m);
        *out = NULL;
        return rc;
    }
    *out = m;
    return CM_OK;
}

/* The image is read-only and hot: large images are 2 MB aligned and
 * advised into transparent huge pages (fewer TLB misses on the weights). */
static uint8_t *
alloc_image(size_t size)
{
    size_t align = size >= (1u << 21) ? (1u << 21) : 64;
    void *p = NULL;

    if (posix_memalign(&p, align, size ? size : 1) != 0)
        cm_assert(!"out of memory");
    if (align > 64)
        (void)madvise(p, (size + align - 1) & ~(align - 1), MADV_HUGEPAGE);
    return p;
}

int
pol_pii_model_load_mem(const void *data, size_t len, struct pol_pii_model **out, struct cm_err *err)
{
    uint8_t *mem;

    *out = NULL;
    if (len > POL_PII_MODEL_MAX_BYTES)
        return cm_err_set(err, CM_EINPUT, "model image too large (%zu bytes)", len);
    mem = alloc_image(len);
    if (len)
        memcpy(mem, data, len);
    return model_from_buffer(mem, len, "model", out, err);
}

int
pol_pii_model_load(const char *path, struct pol_pii_model **out, struct cm_err *err)
{
    struct stat st;
    uint8_t *mem = NULL;
    size_t got = 0;
    int fd, rc;

    *out = NULL;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return cm_err_set(err, CM_EIO, "%s: %s", path, strerror(errno));
    if (fstat(fd, &st) != 0) {
        rc = cm_err_set(err, CM_EIO, "%s: %s", path, strerror(errno));
        goto fail;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = cm_err_set(err, CM_EINPUT, "%s: not a regular file", path);
        goto fail;
    }
    if ((uint64_t)st.st_size > POL_PII_MODEL_MAX_BYTES) {
        rc = cm_err_set(err, CM_EINPUT, "%s: too large for a model (%lld bytes)", path,
                        (long long)st.st_size);
        goto fail;
    }
    mem = alloc_image((size_t)st.st_size);
    while (got < (size_t)st.st_size) {
        ssize_t r = read(fd, mem + got, (size_t)st.st_size - got);

        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rc = cm_err_set(err, CM_EIO, "%s: %s", path, strerror(errno));
            goto fail;
        }
        if (r == 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    return model_from_buffer(mem, got, path, out, err);

fail:
    free(mem);
    close(fd);
    return rc;
}

void
pol_pii_model_free(struct pol_pii_model *model)
{
    if (model == NULL)
        return;
    free(model->mem);
    free(model);
}

int
pol_pii_model_save(const struct pol_pii_model *model, const char *path, struct cm_err *err)
{
    size_t n = strlen(path);
    char *tmp = cm_malloc(n + 16);
    size_t done = 0;
    int fd;

    snprintf(tmp, n + 16, "%s.tmpXXXXXX", path);
    fd = mkstemp(tmp);
    if (fd < 0) {
        cm_err_set(err, CM_EIO, "%s: %s", tmp, strerror(errno));
        free(tmp);
        return CM_EIO;
    }
    while (done < model->size) {
        ssize_t w = write(fd, model->mem + done, model->size - done);

        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            cm_err_set(err, CM_EIO, "%s: %s", tmp, strerror(errno));
            goto fail;
        }
        done += (size_t)w;
    }
    if (fchmod(fd, 0644) != 0 || fsync(fd) != 0) {
        cm_err_set(err, CM_EIO, "%s: %s", tmp, strerror(errno));
        goto fail;
    }
    if (close(fd) != 0) {
        fd = -1;
        cm_err_set(err, CM_EIO, "%s: %s", tmp, strerror(errno));
        goto fail;
    }
    fd = -1;
    if (rename(tmp, path) != 0) {
        cm_err_set(err, CM_EIO, "%s: %s", path, strerror(errno));
        goto fail;
    }
    free(tmp);
    return CM_OK;

fail:
    if (fd >= 0)
        close(fd);
    unlink(tmp);
    free(tmp);
    return CM_EIO;
}

const void *
pol_pii_model_image(const struct pol_pii_model *model, size_t *len)
{
    *len = model->size;
    return model->mem;
}

const char *
pol_pii_model_id(const struct pol_pii_model *model)
{
    return model->id;
}

unsigned
pol_pii_model_labels(const struct pol_pii_model *model)
{
    return model->labels;
}

void
pii_model_gaz(const struct pol_pii_model *model, struct pii_gaz *view, uint32_t *bits)
{
    *view = model->fp.gaz;
    *bits = model->gaz_bits;
}

/* -------------------------------------------------------------- decoding */

static bool
trans_allowed(unsigned from, unsigned to, unsigned ntags)
{
    /* from == PII_MAX_TAGS: the start of the window */
    if (to >= ntags || (from >= ntags && from != PII_MAX_TAGS))
        return false;
    if (to == PII_TAG_O || PII_TAG_IS_B(to))
        return true;
    return from != PII_MAX_TAGS && from != PII_TAG_O && PII_TAG_TYPE(from) == PII_TAG_TYPE(to);
}

/* ------------------------------------------------------ lexical cache */

/* Prose repeats its words, and the features of a token itself (feats_self_a
 * and feats_self_b) are decided by few things: its lower-cased word
 * (hlow), its length, casing and shape, whether it starts a sentence, and
 * the text's casing (the gazetteer classes follow from hlow, the affixes
 * from the word).  For a word of one kind of letters (t->shape != 0: most
 * words), the sum of those rows is kept per thread in a direct-mapped
 * cache of LEX_SLOTS entries keyed by exactly these, and the word's affixes
 * are not computed on a hit.  The cache is tagged with the model it was
 * filled from and emptied when a thread decodes with another one.
 *
 * The decoded result is the one without the cache: decoding adds a token's
 * own rows first and its neighbourhood's after (saturating adds in the
 * same order whether or not the sum came from the cache).  The tests
 * compare decoding with and without it (STEWARD_PII_NOCACHE=1 when the
 * model is loaded turns it off). */
#define LEX_BITS 10
#define LEX_SLOTS (1u << LEX_BITS)

struct lex_entry {
    uint64_t hlow;
    uint32_t key; /* lex_key(); 0: empty */
    int16_t row[PII_ROW];
};

static __thread struct lex_entry lex_cache[LEX_SLOTS];
static __thread uint64_t lex_model;

static inline uint32_t
lex_key(const struct pii_tok *t, unsigned docmode)
{
    return 1u << 31 | (uint32_t)t->ncp << 16 | (uint32_t)t->shape << 8 | (uint32_t)t->cap << 4 |
           (uint32_t)t->sstart << 3 | docmode;
}

/* The sum of the rows of token t's own features. */
static inline vs8
self_row(const struct pol_pii_model *m, const struct pii_window *win, struct pii_tok *t)
{
    struct fsink s = {.fp = &m->fp, .w = m->w, .acc = VS_ZERO()};
    struct lex_entry *e = NULL;
    uint32_t key = 0;

    if (t->shape != 0 && m->lexcache) {
        key = lex_key(t, win->docmode);
        e = &lex_cache[(t->hlow ^ (uint64_t)key * 0x9E3779B97F4A7C15ull) >> (64 - LEX_BITS)];
        if (e->key == key && e->hlow == t->hlow)
            return VS_LOAD(e->row);
    }
    if (t->detail != PII_DETAIL_ALL)
        ascii_detail(win->text, t, true);
    feats_self_a(&s, t, win->docmode);
    feats_self_b(&s, t, win->docmode);
    if (e != NULL) {
        e->hlow = t->hlow;
        e->key = key;
        VS_STORE(e->row, s.acc);
    }
    return s.acc;
}

static void
emissions(const struct pol_pii_model *m, const struct pii_window *win, int16_t (*em)[PII_ROW])
{
    int16_t pad[PII_ROW], skip[PII_ROW];
    unsigned ntags = 2 * m->ntypes + 1;
    vs8 vpad, vskip;

    if (lex_model != m->id64) {
        memset(lex_cache, 0, sizeof(lex_cache));
        lex_model = m->id64;
    }
    for (unsigned y = 0; y < PII_ROW; y++) {
        pad[y] = y < ntags ? INT16_MAX : NEG; /* lanes past the last tag */
        skip[y] = y == PII_TAG_O ? 0 : NEG;
    }
    vpad = VS_LOAD(pad);
    vskip = VS_LOAD(skip);
    for (size_t i = 0; i < win->n; i++) {
        struct fsink s = {.fp = &m->fp, .w = m->w};

        if (win->tok[i].skip) {
            VS_STORE(em[i], vskip);
            continue;
        }
        /* (prefetching the rows measured no faster: the loads are
         * independent and the core overlaps them) */
        s.acc = self_row(m, win, &win->tok[i]);
        feats_ctx_a(&s, win, i);
        feats_ctx_b(&s, win, i);
        VS_STORE(em[i], VS_MIN(s.acc, vpad));
    }
}

static void
push_span(struct pol_pii_spans *out, size_t start, size_t end, enum pol_pii_label label,
          float score)
{
    if (out->n == out->cap) {
        out->cap = out->cap ? out->cap * 2 : 8;
        out->v = cm_realloc(out->v, out->cap * sizeof(*out->v));
    }
    out->v[out->n].start = start;
    out->v[out->n].end = end;
    out->v[out->n].label = label;
    out->v[out->n].score = score;
    out->n++;
}

/* Punctuation at the edges of a span is not part of the name: a span
 * never starts with one (but '#' and '@'), nor ends with one, except a
 * period after an abbreviation or initial ("Corp.", "Jr.", "J.") and a
 * closing parenthesis whose opening one is inside ("Acme (Europe)"). */
static void
trim_span(const struct pii_window *win, size_t *a, size_t *b)
{
    const struct pii_tok *t = win->tok;
    const char *text = win->text;

    /* a hashtag or handle keeps its sign ("#houston") */
    while (*b - *a > 1 && t[*a].punct && text[t[*a].start] != '#' && text[t[*a].start] != '@')
        (*a)++;
    while (*b - *a > 1 && t[*b - 1].punct) {
        const struct pii_tok *last = &t[*b - 1], *prev = &t[*b - 2];
        char c = text[last->start];

        if (c == '.' && last->end - last->start == 1 && !prev->punct && prev->ncp <= 4 &&
            (prev->cap == CAP_TITLE || prev->cap == CAP_INITIAL || prev->cap == CAP_UPPER))
            break;
        if (c == ')' && memchr(text + t[*a].start, '(', last->start - t[*a].start) != NULL)
            break;
        (*b)--;
    }
}

/* Viterbi on int16 lanes: fwd[i] = max_x (fwd[i-1][x] + tr[x]) + em[i],
 * renormalised so that its best lane is 0 (a lane that falls to NEG is
 * 32768 below the best: out of the race).  BIO is in tr (NEG where it
 * forbids).  No backpointers: the path is recovered by recomputing the
 * argmax for the one tag chosen at each step. */
static inline __attribute__((always_inline)) void
decode_window_n(const struct pol_pii_model *m, const struct pii_window *win, unsigned labels,
                struct pol_pii_spans *out, unsigned ntags)
{
    int16_t em[PII_WINDOW][PII_ROW], fwd[PII_WINDOW][PII_ROW], bwd[PII_WINDOW][PII_ROW];
    uint8_t path[PII_WINDOW];
    const int16_t(*tr)[PII_ROW] = (const int16_t(*)[PII_ROW])m->tr;
    size_t n = win->n;
    unsigned by = 0;
    bool any = false;
    size_t first = 0; /* the first token of the first span */
    vs8 trrow[PII_ROW], trcol[PII_ROW], f;

    for (unsigned x = 0; x < PII_ROW; x++) {
        int16_t col[PII_ROW];

        for (unsigned y = 0; y < PII_ROW; y++)
            col[y] = tr[y][x];
        trrow[x] = VS_LOAD(tr[x]);
        trcol[x] = VS_LOAD(col);
    }
    emissions(m, win, em);
    f = VS_ADDS(VS_LOAD(em[0]), trrow[PII_MAX_TAGS]);
    f = VS_SUBS(f, VS_SPLAT(vs_hmax(f)));
    VS_STORE(fwd[0], f);
    for (size_t i = 1; i < n; i++) {
        const int16_t *pf = fwd[i - 1];
        vs8 best;

        if (i >= 2 && win->tok[i].skip && win->tok[i - 1].skip && win->tok[i - 2].skip) {
            /* inside a run of unscored words the scores stand still */
            memcpy(fwd[i], pf, sizeof(fwd[i]));
            continue;
        }
        best = VS_ADDS(VS_SPLAT(pf[0]), trrow[0]);
#pragma GCC unroll 8
        for (unsigned x = 1; x < ntags; x++)
            best = VS_MAX(best, VS_ADDS(VS_SPLAT(pf[x]), trrow[x]));
        f = VS_ADDS(best, VS_LOAD(em[i]));
        f = VS_SUBS(f, VS_SPLAT(vs_hmax(f)));
        VS_STORE(fwd[i], f);
    }
    for (unsigned y = 1; y < ntags; y++) {
        if (fwd[n - 1][y] > fwd[n - 1][by])
            by = y;
    }
    path[n - 1] = (uint8_t)by;
    for (size_t i = n - 1; i > 0; i--) {
        unsigned y = path[i], arg = 0;
        int32_t bs = (int32_t)fwd[i - 1][0] + tr[0][y];

        if (win->tok[i - 1].skip) {
            path[i - 1] = PII_TAG_O; /* the only tag it can have */
            continue;
        }

#pragma GCC unroll 8
        for (unsigned x = 1; x < ntags; x++) {
            int32_t v = (int32_t)fwd[i - 1][x] + tr[x][y];

            if (v > bs) {
                bs = v;
                arg = x;
            }
        }
        path[i - 1] = (uint8_t)arg;
    }
    for (size_t i = n; i > 0; i--) {
        if (path[i - 1] != PII_TAG_O) {
            first = i - 1; /* scanning backwards: ends at the first span token */
            any = true;
        }
    }
    if (!any)
        return;

    /* backward max-scores, for the margins of the spans found:
     * bwd[i-1][x] = max_y (tr[x][y] + em[i][y] + bwd[i][y]) */
    memset(bwd[n - 1], 0, sizeof(bwd[n - 1]));
    for (size_t i = n - 1; i > first; i--) {
        int16_t nx[PII_ROW];
        vs8 b, best;

        if (i + 2 < n && win->tok[i].skip && win->tok[i + 1].skip && win->tok[i + 2].skip) {
            memcpy(bwd[i - 1], bwd[i], sizeof(bwd[i]));
            continue;
        }
        b = VS_ADDS(VS_LOAD(em[i]), VS_LOAD(bwd[i]));

        VS_STORE(nx, b);
        best = VS_ADDS(trcol[0], VS_SPLAT(nx[0]));
#pragma GCC unroll 8
        for (unsigned y = 1; y < ntags; y++)
            best = VS_MAX(best, VS_ADDS(trcol[y], VS_SPLAT(nx[y])));
        best = VS_SUBS(best, VS_SPLAT(vs_hmax(best)));
        VS_STORE(bwd[i - 1], best);
    }

    for (size_t i = 0; i < n;) {
        unsigned tag = path[i];
        size_t j;
        int64_t margin = INT64_MAX;
        enum pol_pii_label label;

        if (tag == PII_TAG_O || !PII_TAG_IS_B(tag)) {
            i++;
            continue;
        }
        j = i + 1;
        while (j < n && path[j] == PII_TAG_I(PII_TAG_TYPE(tag)))
            j++;
        for (size_t k = i; k < j; k++) {
            int64_t mine = (int64_t)fwd[k][path[k]] + bwd[k][path[k]], alt = INT64_MIN;

            for (unsigned y = 0; y < ntags; y++) {
                int64_t v = (int64_t)fwd[k][y] + bwd[k][y];

                if (y != path[k] && v > alt)
                    alt = v;
            }
            if (mine - alt < margin)
                margin = mine - alt;
        }
        label = m->types[PII_TAG_TYPE(tag)];
        if (labels & POL_PII_MASK(label)) {
            size_t a = i, b = j;

            trim_span(win, &a, &b);
            push_span(out, win->tok[a].start, win->tok[b - 1].end, label,
                      1.0f / (1.0f + expf(-(float)margin * m->gain)));
        }
        i = j;
    }
}

/* The loops over tags in decode_window_n() run once per token and tag;
 * with the tag count a constant (the shipped model tags all three types)
 * they unroll completely (the pragmas) and keep the rows in registers.  Models with
 * fewer types take the general copy; both compute the same thing. */
static void
decode_window_all(const struct pol_pii_model *m, const struct pii_window *win, unsigned labels,
                  struct pol_pii_spans *out)
{
    decode_window_n(m, win, labels, out, PII_MAX_TAGS);
}

static void
decode_window(const struct pol_pii_model *m, const struct pii_window *win, unsigned labels,
              struct pol_pii_spans *out)
{
    unsigned ntags = 2 * m->ntypes + 1;

    if (ntags == PII_MAX_TAGS)
        decode_window_all(m, win, labels, out);
    else
        decode_window_n(m, win, labels, out, ntags);
}

int
pol_pii_model_find(const struct pol_pii_model *model, const char *text, size_t len, unsigned labels,
                   struct pol_pii_spans *out)
{
    struct pii_cursor cur;
    struct pii_window win;

    if ((labels & model->labels) == 0)
        return CM_OK;
    pii_cursor_init(&cur, text, len);
    while (pii_cursor_next(&cur, &model->fp, false, &win) > 0)
        decode_window(model, &win, labels, out);
    return CM_OK;
}

const char *
pol_pii_model_default_path(char *buf, size_t buflen)
{
    static const char src[] = "policy/pii/model/steward-pii.model";
    const char *env = getenv("STEWARD_PII_MODEL");
    ssize_t n;

    if (env != NULL && *env != '\0')
        return env;
    if (access(src, R_OK) == 0)
        return src;
    n = buflen > 1 ? readlink("/proc/self/exe", buf, buflen - 1) : -1;
    if (n > 0) {
        char *slash;
        int up = 0;

        buf[n] = '\0';
        /* strip "<binary>", "bin", "<flavour>", "build" */
        while (up < 4 && (slash = strrchr(buf, '/')) != NULL) {
            *slash = '\0';
            up++;
        }
        if (up == 4 && strlen(buf) + sizeof(src) + 1 < buflen) {
            strcat(buf, "/");
            strcat(buf, src);
            if (access(buf, R_OK) == 0)
                return buf;
        }
    }
    return "/usr/share/steward/steward-pii.model";
}
