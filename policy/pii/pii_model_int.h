/* SPDX-License-Identifier: Apache-2.0
 *
 * pii_model_int: the inside of pii_model shared with the trainer
 * (pii_train.c) and the unit tests, and nobody else: the tag set, the
 * token analysis and feature templates, the gazetteer hash set and the
 * file-image builder.  Training and inference must compute features
 * identically, so both call pii_cursor_next() and pii_token_features();
 * a change to a template bumps PII_FEATURE_VERSION, which makes older model
 * files refuse to load instead of silently scoring garbage.
 *
 * Checklist when adding a feature template: add its T_ id, compute it in
 * one of the feats_ groups of pii_model.c (a feature of the token alone in
 * feats_self_*, which the lexical cache keeps per word; one that reads a
 * neighbour in feats_ctx_*), bump PII_FEATURE_VERSION, run `make model`.
 */
#ifndef POL_PII_MODEL_INT_H
#define POL_PII_MODEL_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/cm_buf.h"
#include "common/cm_status.h"
#include "policy/pii/pii_model.h"
#include "policy/pii/pii_scan.h"

#define PII_FILE_VERSION 2
#define PII_FEATURE_VERSION 8

/* The entity types of the model and its BIO tags: O, then B-x, I-x per
 * type.  Weight rows are padded to PII_ROW int16 lanes. */
#define PII_MAX_TYPES 3
#define PII_MAX_TAGS (1 + 2 * PII_MAX_TYPES)
#define PII_ROW 8
#define PII_TAG_O 0
#define PII_TAG_B(type) (1 + 2 * (type))
#define PII_TAG_I(type) (2 + 2 * (type))
#define PII_TAG_TYPE(tag) (((tag)-1) / 2)
#define PII_TAG_IS_B(tag) ((tag) != 0 && ((tag)-1) % 2 == 0)

/* Tokens decoded together (a window; the Viterbi lattice is bounded by it). */
#define PII_WINDOW 256
/* Features per token, at most. */
#define PII_MAX_FEATS 64
/* Longest gazetteer phrase, in tokens. */
#define PII_MAX_PHRASE 6

/* Gazetteer classes: bits of a gazetteer entry's value. */
enum pii_gaz_bit {
    G_FIRST,       /* given name */
    G_FIRST_TOP,   /* one of the most frequent given names */
    G_SURNAME,     /* family name */
    G_SURNAME_TOP, /* one of the most frequent family names */
    G_CITY,        /* city (one or more tokens) */
    G_COUNTRY,     /* country */
    G_REGION,      /* state, province, region; US state codes */
    G_COMPANY,     /* registered company name (with or without its suffix) */
    G_STREET,      /* street suffix: Street, St, Avenue, Ave, ... */
    G_HONORIFIC,   /* Mr, Ms, Dr, Prof, ... */
    G_ORG_SUFFIX,  /* Inc, Ltd, GmbH, LLC, ... */
    G_ORG_WORD,    /* University, Bank, Hospital, Ministry, ... */
    G_COMMON,      /* a common English word */
    G_MONTH_DAY,   /* month and day names */
    G_LOC_WORD,    /* north, lake, county, river, ... */
    G_NAME_CUE,    /* words before names: name, dear, hi, by, cc, ... */
    G_LOC_CUE,     /* words before places: in, at, from, near, to, ... */
    G_NONENT,      /* capitalised non-entity words: product and job titles */
    G_DICT,        /* an English dictionary word (lower case in the dictionary) */
    G_PROPER,      /* a capitalised dictionary entry: a proper noun */
    G__COUNT,
    G_PREFIX = 31 /* internal: a proper prefix of a longer phrase */
};

/* One token of the window being decoded, with what its features need.
 * The cursor (pii_cursor_next) fills start..send in the pass that finds the
 * token; hshape and haff are filled only when detail is set, because most
 * tokens of ordinary prose are never scored (mark_skips) and need neither. */
struct pii_tok {
    size_t start, end; /* bytes of the text */
    uint64_t hlow;     /* hash of the lower-cased token */
    uint64_t hshape;   /* hash of the collapsed shape ("Xx", "d-d"); detail only */
    uint64_t haff[5];  /* prefixes of 2 and 3, suffixes of 2, 3, 4 code points; detail only */
    uint32_t gaz;      /* gazetteer bits of the token alone */
    uint32_t pin;      /* classes of multi-token phrases covering the token */
    uint32_t pbeg;     /* ... starting at the token */
    uint8_t cap;       /* enum pii_cap */
    uint8_t sstart;    /* first token of a sentence or line */
    uint8_t punct;     /* one non-word character */
    uint8_t ncp;       /* code points, capped at 255 */
    uint8_t skip;      /* plainly not part of a name: tagged O unscored */
    uint8_t nl;        /* a line break between the previous token and this one */
    uint8_t send;      /* ends a sentence: '.', '!', '?' or an ellipsis */
    uint8_t detail;    /* PII_DETAIL_*: which of hshape and haff are filled in */
    uint8_t shape;     /* a one-run shape known at scan time ("x", "Xx", ...), 0 if not */
};

/* How much of a token's details (pii_tok.detail) is filled in: a token
 * next to a scored one needs its shape, a scored one its affixes too. */
#define PII_DETAIL_NONE 0
#define PII_DETAIL_SHAPE 1
#define PII_DETAIL_ALL 2

enum pii_cap {
    CAP_PUNCT,   /* no letter or digit */
    CAP_LOWER,   /* letters, all lower case (or caseless) */
    CAP_TITLE,   /* upper then lower */
    CAP_UPPER,   /* two or more letters, all upper case */
    CAP_MIXED,   /* iPhone, McDonald */
    CAP_DIGIT,   /* digits only */
    CAP_ALNUM,   /* letters and digits */
    CAP_INITIAL, /* one upper-case letter */
    CAP__COUNT
};

/* The gazetteer as stored: 2^bits u32 slots, each (fingerprint << 16 |
 * value index) with a 16-bit fingerprint of the key that is never 0, 0 for
 * an empty slot (linear probing; at least one slot is empty), then nvals
 * u32 values (sets of class bits) that the slots index.  Four bytes a slot
 * keep the table small enough to stay in cache; a false hit costs one
 * wrong feature, about once in 40,000 lookups. */
struct pii_gaz {
    const uint32_t *slots;
    const uint32_t *vals;
    uint32_t mask;
    uint32_t nvals;
};

/* An owned gazetteer: slots then values in one allocation (pii_train.h
 * hands it around as struct pol_pii_gaz). */
struct pol_pii_gaz {
    uint32_t *mem;
    uint32_t bits;
    uint32_t nvals;
};

/* A view of g (borrowed). */
void pii_gaz_view(const struct pol_pii_gaz *g, struct pii_gaz *view);

/* The parameters of feature extraction, fixed by the model file. */
struct pii_fparams {
    uint32_t hash_bits; /* buckets = 1 << hash_bits */
    uint64_t seed;
    struct pii_gaz gaz;
    uint64_t salt[32]; /* per feature template, from the seed */
    bool noskip;       /* score every token (STEWARD_PII_NOSKIP) */
};

/* Fills fp (salts included) for the given parameters; gaz is borrowed. */
void pii_fparams_init(struct pii_fparams *fp, uint32_t hash_bits, uint64_t seed,
                      const struct pii_gaz *gaz);

/* A window of tokens ready for feature extraction. */
struct pii_window {
    const char *text;
    size_t len;
    struct pii_tok *tok;
    size_t n;
    uint8_t docmode; /* 0 mixed case, 1 mostly lower case, 2 mostly upper case */
};

/* Cuts a text into windows, training and inference alike: at most
 * PII_WINDOW tokens, ending after a sentence end or line break in the
 * window's second half when the text goes on.  Tokens are found and
 * analysed in one pass over the bytes (pol_pii_tokenize's rules, the
 * analysis of pii_tok_analyse), and those after a window's cut are kept
 * for the next window rather than scanned again.  About 30 KB: callers
 * keep it on the stack. */
struct pii_cursor {
    const char *text;
    size_t len;
    size_t pos;  /* where scanning resumes: the end of the last token scanned */
    size_t ncut; /* tok[0..ncut) was the last window */
    size_t ntok; /* tok[ncut..ntok) were scanned past its cut */
    struct pii_tok tok[PII_WINDOW];
};

/* Starts cutting text[0..len) (borrowed for the cursor's life). */
void pii_cursor_init(struct pii_cursor *cur, const char *text, size_t len);

/* Prepares the next window in *win (its tokens live in cur) and returns its
 * token count, 0 at the end of the text.  With all, every token gets its
 * details (training scores every token); else only the tokens that are
 * scored and their neighbours (inference). */
size_t pii_cursor_next(struct pii_cursor *cur, const struct pii_fparams *fp, bool all,
                       struct pii_window *win);

/* The reference analysis of the token text[t->start..t->end): every field
 * that depends on the token alone (hlow to ncp, and the details).  The
 * cursor's fast path must agree with it (test_pii_model checks). */
void pii_tok_analyse(const char *text, size_t len, struct pii_tok *t);

/* Writes the feature buckets of token i into feats (at most PII_MAX_FEATS)
 * and, when kind is not NULL, each feature's dropout class (0 context and
 * shape, 1 word identity, 2 gazetteer); returns the count. */
size_t pii_token_features(const struct pii_fparams *fp, const struct pii_window *win, size_t i,
                          uint32_t *feats, uint8_t *kind);

/* Gazetteer lookups by hash (as pii_phrase_hash builds them). */
uint32_t pii_gaz_get(const struct pii_gaz *gaz, uint64_t key);
uint64_t pii_phrase_hash(uint64_t prev, uint64_t hlow);
#define PII_PHRASE_INIT 0x243f6a8885a308d3ull

/* UTF-8 decoding as the tokenizer does it: returns the length of the
 * character at text[i] (1 for an invalid byte, with *cp = 0xFFFD). */
size_t pii_utf8_next(const char *text, size_t len, size_t i, uint32_t *cp);
uint32_t pii_cp_lower(uint32_t cp);

/* ------------------------------------------------------ gazetteer build */

/* A gazetteer being built: phrases (lower-cased through the tokenizer) to
 * class bits.  Owns its memory. */
struct pii_gaz_builder {
    uint64_t *keys;
    uint32_t *vals;
    size_t n, cap;
};

void pii_gaz_builder_init(struct pii_gaz_builder *b);
void pii_gaz_builder_fini(struct pii_gaz_builder *b);
/* Adds the phrase s[0..n) with class bit `bit` (and its proper prefixes
 * with G_PREFIX); phrases of more than PII_MAX_PHRASE tokens are ignored. */
void pii_gaz_builder_add(struct pii_gaz_builder *b, const char *s, size_t n, unsigned bit);
/* Builds the table (owned by the caller: pol_pii_gaz_free); deterministic
 * for a given set of entries whatever their order. */
struct pol_pii_gaz *pii_gaz_builder_table(const struct pii_gaz_builder *b);
void pol_pii_gaz_free(struct pol_pii_gaz *g);

/* --------------------------------------------------------- file image */

/* What goes into a model file.  Weights are quantised by the builder. */
struct pii_image_parts {
    unsigned ntypes;
    enum pol_pii_label types[PII_MAX_TYPES];
    uint32_t hash_bits;
    uint64_t seed;
    const float *weights; /* [1 << hash_bits][PII_ROW] */
    const float *trans;   /* [PII_ROW][PII_ROW]; row PII_MAX_TAGS is the start */
    const struct pol_pii_gaz *gaz;
    float score_gain; /* span score = 1 / (1 + exp(-margin * score_gain)); 0: default */
};

/* The span score's gain when training did not calibrate one. */
#define PII_DEFAULT_GAIN 0.05f

/* Appends the file image to out. */
void pii_image_build(const struct pii_image_parts *parts, struct cm_buf *out);

/* The gazetteer of a loaded model: a view (borrowed) and its slot bits. */
void pii_model_gaz(const struct pol_pii_model *model, struct pii_gaz *view, uint32_t *bits);

#endif /* POL_PII_MODEL_INT_H */
