/* SPDX-License-Identifier: Apache-2.0
 *
 * pii_redact: the redaction operators of pii_redact.h applied to one text,
 * the per-request pseudonym vault and its restorer, the deterministic
 * encryption, fingerprints and normalisation.
 *
 * Copies the bytes between spans as they are and replaces each span by its
 * operator's output.  The output never contains the value of a replaced
 * span: every failure path of an operator falls back to "<LABEL>".
 *
 * Encryption: AES-256-SIV (RFC 5297) fetched from the OpenSSL 3 default
 * provider, with a 64-byte SIV key derived from enc_key by HMAC-SHA256
 * (K1 = HMAC(enc_key, "steward-pii-siv-1"), K2 = ... "-2").  SIV takes no
 * nonce: its synthetic IV is a MAC of the plaintext, so encryption is
 * deterministic and misuse-resistant; the token is base64url(IV(16) ||
 * ciphertext) without padding.  This is the one place that calls the EVP
 * cipher API (hashing stays in common/cm_hash).
 *
 * The vault is a growable array searched linearly with a 32-bit id first:
 * a request holds tens of distinct values, not thousands.
 *
 * Pure; any thread.  Read next: pii_stream.c (the same operators over a
 * stream), pol_body.c, which splices the result back into a JSON body.
 */
#include "policy/pii/pii_redact.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "common/cm_fingerprint.h"
#include "common/cm_mem.h"

/* ------------------------------------------------------------ UTF-8 */

size_t
pol_pii_utf8_next(const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    unsigned c = u[0];
    size_t need;
    unsigned lo = 0x80, hi = 0xBF;

    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        need = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        need = 3;
        if (c == 0xE0)
            lo = 0xA0; /* no overlong forms */
        else if (c == 0xED)
            hi = 0x9F; /* no surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 4;
        if (c == 0xF0)
            lo = 0x90;
        else if (c == 0xF4)
            hi = 0x8F; /* at most U+10FFFF */
    } else {
        return 1;
    }
    if (n < need || u[1] < lo || u[1] > hi)
        return 1;
    for (size_t k = 2; k < need; k++) {
        if ((u[k] & 0xC0) != 0x80)
            return 1;
    }
    return need;
}

size_t
pol_pii_utf8_count(const char *s, size_t n)
{
    size_t c = 0;

    for (size_t k = 0; k < n; k += pol_pii_utf8_next(s + k, n - k))
        c++;
    return c;
}

/* ------------------------------------------------------------ normalise */

/* One rule for every keyed use of a value: the lineage fingerprints'
 * (common/cm_fingerprint.h), by the label's name. */
void
pol_pii_normalise(enum pol_pii_label label, const char *v, size_t n, struct cm_buf *out)
{
    cm_buf_reserve(out, n + 1);
    out->len += cm_fp_normalise(cm_fp_norm_of(pol_pii_label_name(label)), v, n, out->p + out->len);
    out->p[out->len] = '\0';
}

void
pol_pii_fingerprint(enum pol_pii_label label, const char *value, size_t len, const uint8_t *key,
                    size_t keylen, uint8_t out[CM_SHA256_LEN])
{
    static const uint8_t nokey[1] = {0};
    struct cm_buf b;

    cm_buf_init(&b);
    cm_buf_puts(&b, pol_pii_label_name(label));
    cm_buf_putc(&b, '\0');
    pol_pii_normalise(label, value, len, &b);
    cm_hmac_sha256(key ? key : nokey, key ? keylen : 0, b.p, b.len, out);
    if (b.p != NULL)
        OPENSSL_cleanse(b.p, b.len);
    cm_buf_fini(&b);
}

/* ------------------------------------------------------------ vault */

struct vault_entry {
    uint32_t id;               /* first 4 bytes of the fingerprint */
    uint8_t fp[CM_SHA256_LEN]; /* the whole fingerprint (collision check) */
    char ph[POL_PII_PLACEHOLDER_MAX + 1];
    size_t ph_len;
    char *orig;
    size_t orig_len;
};

struct pol_pii_vault {
    struct vault_entry *v;
    size_t n;
    size_t cap;
};

struct pol_pii_vault *
pol_pii_vault_new(void)
{
    return cm_calloc(1, sizeof(struct pol_pii_vault));
}

void
pol_pii_vault_free(struct pol_pii_vault *vault)
{
    if (vault == NULL)
        return;
    for (size_t k = 0; k < vault->n; k++) {
        OPENSSL_cleanse(vault->v[k].orig, vault->v[k].orig_len);
        free(vault->v[k].orig);
    }
    if (vault->v != NULL)
        OPENSSL_cleanse(vault->v, vault->cap * sizeof(vault->v[0]));
    free(vault->v);
    free(vault);
}

size_t
pol_pii_vault_count(const struct pol_pii_vault *vault)
{
    return vault->n;
}

static const struct vault_entry *
vault_find(const struct pol_pii_vault *vault, const char *ph, size_t n)
{
    for (size_t k = 0; k < vault->n; k++) {
        if (vault->v[k].ph_len == n && memcmp(vault->v[k].ph, ph, n) == 0)
            return &vault->v[k];
    }
    return NULL;
}

static void
vault_add(struct pol_pii_vault *vault, const uint8_t fp[CM_SHA256_LEN], const char *ph, size_t n,
          const char *orig, size_t orig_len)
{
    struct vault_entry *e;

    if (vault->n == vault->cap) {
        size_t cap = vault->cap ? vault->cap * 2 : 8;
        struct vault_entry *v = cm_calloc(cap, sizeof(*v));

        if (vault->n > 0)
            memcpy(v, vault->v, vault->n * sizeof(*v));
        if (vault->v != NULL)
            OPENSSL_cleanse(vault->v, vault->cap * sizeof(vault->v[0]));
        free(vault->v);
        vault->v = v;
        vault->cap = cap;
    }
    e = &vault->v[vault->n++];
    memcpy(&e->id, fp, 4);
    memcpy(e->fp, fp, CM_SHA256_LEN);
    memcpy(e->ph, ph, n);
    e->ph[n] = '\0';
    e->ph_len = n;
    e->orig = cm_malloc(orig_len ? orig_len : 1);
    memcpy(e->orig, orig, orig_len);
    e->orig_len = orig_len;
}

/* ------------------------------------------------------------ operators */

/* The name written into placeholders: a custom label's comes from opts. */
static const char *
label_name(enum pol_pii_label label, const struct pol_pii_redact_opts *opts)
{
    if (opts->label_names != NULL)
        return opts->label_names[label];
    return pol_pii_label_name(label);
}

static void
op_mask(const char *v, size_t n, unsigned keep, struct cm_buf *out)
{
    size_t chars = pol_pii_utf8_count(v, n), masked, k = 0;

    masked = chars > keep ? chars - keep : chars;
    for (size_t c = 0; c < masked; c++) {
        cm_buf_putc(out, '*');
        k += pol_pii_utf8_next(v + k, n - k);
    }
    cm_buf_append(out, v + k, n - k);
}

static void
op_hash(enum pol_pii_label label, const char *v, size_t n, const struct pol_pii_redact_opts *opts,
        struct cm_buf *out)
{
    uint8_t fp[CM_SHA256_LEN];
    char hex[CM_SHA256_HEX_LEN];

    pol_pii_fingerprint(label, v, n, opts->hash_key, opts->hash_key_len, fp);
    cm_hex(fp, 8, hex);
    cm_buf_printf(out, "<%s:%s>", label_name(label, opts), hex);
}

static void
op_pseudonymise(enum pol_pii_label label, const char *v, size_t n,
                const struct pol_pii_redact_opts *opts, struct pol_pii_vault *vault,
                struct cm_buf *out)
{
    uint8_t fp[CM_SHA256_LEN];
    char hex[CM_SHA256_HEX_LEN], ph[POL_PII_PLACEHOLDER_MAX + 1];
    const uint8_t *key = opts->pseudonym_key ? opts->pseudonym_key : opts->hash_key;
    size_t keylen = opts->pseudonym_key ? opts->pseudonym_key_len : opts->hash_key_len;
    const struct vault_entry *e;
    int phn;

    pol_pii_fingerprint(label, v, n, key, keylen, fp);
    cm_hex(fp, 8, hex);
    phn = snprintf(ph, sizeof(ph), "<%s_%.8s>", label_name(label, opts), hex);
    if (vault != NULL) {
        e = vault_find(vault, ph, (size_t)phn);
        if (e != NULL && memcmp(e->fp, fp, CM_SHA256_LEN) != 0) {
            /* another value of this request has these 8 hex digits */
            phn = snprintf(ph, sizeof(ph), "<%s_%.16s>", label_name(label, opts), hex);
            e = vault_find(vault, ph, (size_t)phn);
        }
        if (e == NULL)
            vault_add(vault, fp, ph, (size_t)phn, v, n);
    }
    cm_buf_append(out, ph, (size_t)phn);
}

/* ---- encryption (AES-256-SIV) */

#define SIV_TAG 16

static const char b64u[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static void
b64u_encode(const uint8_t *in, size_t n, struct cm_buf *out)
{
    size_t k = 0;

    for (; k + 3 <= n; k += 3) {
        unsigned v = (unsigned)in[k] << 16 | (unsigned)in[k + 1] << 8 | in[k + 2];

        cm_buf_putc(out, b64u[v >> 18]);
        cm_buf_putc(out, b64u[(v >> 12) & 63]);
        cm_buf_putc(out, b64u[(v >> 6) & 63]);
        cm_buf_putc(out, b64u[v & 63]);
    }
    if (n - k == 1) {
        unsigned v = (unsigned)in[k] << 16;

        cm_buf_putc(out, b64u[v >> 18]);
        cm_buf_putc(out, b64u[(v >> 12) & 63]);
    } else if (n - k == 2) {
        unsigned v = (unsigned)in[k] << 16 | (unsigned)in[k + 1] << 8;

        cm_buf_putc(out, b64u[v >> 18]);
        cm_buf_putc(out, b64u[(v >> 12) & 63]);
        cm_buf_putc(out, b64u[(v >> 6) & 63]);
    }
}

/* Decodes unpadded base64url; returns the byte count or -1. */
static long
b64u_decode(const char *s, size_t n, uint8_t *out, size_t cap)
{
    unsigned acc = 0, bits = 0;
    size_t o = 0;

    if (n % 4 == 1)
        return -1;
    for (size_t k = 0; k < n; k++) {
        const char *p = memchr(b64u, s[k], 64);

        if (p == NULL || s[k] == '\0')
            return -1;
        acc = (acc << 6) | (unsigned)(p - b64u);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (o == cap)
                return -1;
            out[o++] = (uint8_t)(acc >> bits);
        }
    }
    if ((acc & ((1u << bits) - 1)) != 0)
        return -1; /* non-canonical trailing bits */
    return (long)o;
}

static void
siv_key(const uint8_t *key, size_t keylen, uint8_t out[64])
{
    cm_hmac_sha256(key, keylen, "steward-pii-siv-1", 17, out);
    cm_hmac_sha256(key, keylen, "steward-pii-siv-2", 17, out + 32);
}

/* AES-256-SIV of in[0..n) into out (n + SIV_TAG bytes: tag first).
 * Returns CM_OK or CM_EINTERNAL. */
static int
siv_seal(const uint8_t *key, size_t keylen, const uint8_t *in, size_t n, uint8_t *out)
{
    EVP_CIPHER *ciph = EVP_CIPHER_fetch(NULL, "AES-256-SIV", NULL);
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    uint8_t k[64];
    int outl = 0, finl = 0, rc = CM_EINTERNAL;

    siv_key(key, keylen, k);
    if (ciph == NULL || ctx == NULL || n > (size_t)INT32_MAX)
        goto fail;
    if (EVP_EncryptInit_ex2(ctx, ciph, k, NULL, NULL) != 1)
        goto fail;
    /* an empty value still goes through one update so SIV sees it */
    if (EVP_EncryptUpdate(ctx, out + SIV_TAG, &outl, n ? in : (const uint8_t *)"", (int)n) != 1)
        goto fail;
    if (EVP_EncryptFinal_ex(ctx, out + SIV_TAG + outl, &finl) != 1)
        goto fail;
    if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, SIV_TAG, out) != 1)
        goto fail;
    rc = (size_t)(outl + finl) == n ? CM_OK : CM_EINTERNAL;
fail:
    OPENSSL_cleanse(k, sizeof(k));
    EVP_CIPHER_CTX_free(ctx);
    EVP_CIPHER_free(ciph);
    return rc;
}

static int
siv_open(const uint8_t *key, size_t keylen, const uint8_t *in, size_t n, uint8_t *out)
{
    EVP_CIPHER *ciph = EVP_CIPHER_fetch(NULL, "AES-256-SIV", NULL);
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    uint8_t k[64];
    int outl = 0, finl = 0, rc = CM_EINPUT;

    siv_key(key, keylen, k);
    if (ciph == NULL || ctx == NULL || n < SIV_TAG || n - SIV_TAG > (size_t)INT32_MAX)
        goto fail;
    if (EVP_DecryptInit_ex2(ctx, ciph, k, NULL, NULL) != 1)
        goto fail;
    if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, SIV_TAG, (void *)in) != 1)
        goto fail;
    if (EVP_DecryptUpdate(ctx, out, &outl, n > SIV_TAG ? in + SIV_TAG : (const uint8_t *)"",
                          (int)(n - SIV_TAG)) != 1)
        goto fail;
    if (EVP_DecryptFinal_ex(ctx, out + outl, &finl) != 1)
        goto fail;
    rc = (size_t)(outl + finl) == n - SIV_TAG ? CM_OK : CM_EINPUT;
fail:
    OPENSSL_cleanse(k, sizeof(k));
    EVP_CIPHER_CTX_free(ctx);
    EVP_CIPHER_free(ciph);
    return rc;
}

static bool
op_encrypt(const char *v, size_t n, const struct pol_pii_redact_opts *opts, struct cm_buf *out)
{
    uint8_t *ct;
    bool ok;

    if (opts->enc_key == NULL || opts->enc_key_len < 16)
        return false;
    ct = cm_malloc(n + SIV_TAG);
    ok = siv_seal(opts->enc_key, opts->enc_key_len, (const uint8_t *)v, n, ct) == CM_OK;
    if (ok) {
        cm_buf_puts(out, "<ENC:");
        b64u_encode(ct, n + SIV_TAG, out);
        cm_buf_putc(out, '>');
    }
    free(ct);
    return ok;
}

int
pol_pii_decrypt(const uint8_t *key, size_t keylen, const char *token, size_t n, struct cm_buf *out)
{
    uint8_t *raw, *pt;
    long m;
    int rc;

    if (n >= 6 && memcmp(token, "<ENC:", 5) == 0 && token[n - 1] == '>') {
        token += 5;
        n -= 6;
    }
    if (key == NULL || keylen < 16 || n < 22)
        return CM_EINPUT;
    raw = cm_malloc(n);
    m = b64u_decode(token, n, raw, n);
    if (m < SIV_TAG) {
        free(raw);
        return CM_EINPUT;
    }
    pt = cm_malloc((size_t)m);
    rc = siv_open(key, keylen, raw, (size_t)m, pt);
    if (rc == CM_OK)
        cm_buf_append(out, pt, (size_t)m - SIV_TAG);
    OPENSSL_cleanse(pt, (size_t)m);
    free(pt);
    free(raw);
    return rc;
}

/* ------------------------------------------------------------ redact */

size_t
pol_pii_redact_v(const char *text, size_t len, const struct pol_pii_span *spans, size_t nspans,
                 const enum pol_pii_op ops[POL_PII__COUNT], const struct pol_pii_redact_opts *opts,
                 struct pol_pii_vault *vault, struct cm_buf *out)
{
    size_t pos = 0, nrep = 0;

    if (len == 0)
        return 0;
    for (size_t k = 0; k < nspans; k++) {
        const struct pol_pii_span *sp = &spans[k];
        const char *v = text + sp->start;
        size_t n = sp->end - sp->start;

        cm_assert(sp->start >= pos && sp->end >= sp->start && sp->end <= len);
        cm_assert((unsigned)sp->label < POL_LABEL_MAX);
        if (ops[sp->label] == POL_PII_KEEP)
            continue;
        cm_buf_append(out, text + pos, sp->start - pos);
        switch (ops[sp->label]) {
        case POL_PII_OP_MASK:
            op_mask(v, n,
                    opts->mask_keep_by_label ? opts->mask_keep_by_label[sp->label]
                                             : opts->mask_keep,
                    out);
            break;
        case POL_PII_OP_HASH: op_hash(sp->label, v, n, opts, out); break;
        case POL_PII_OP_PSEUDONYMISE: op_pseudonymise(sp->label, v, n, opts, vault, out); break;
        case POL_PII_OP_ENCRYPT:
            if (op_encrypt(v, n, opts, out))
                break;
            /* no key, or OpenSSL failed: fail closed */
            cm_buf_printf(out, "<%s>", label_name(sp->label, opts));
            break;
        case POL_PII_OP_REDACT:
        default: cm_buf_printf(out, "<%s>", label_name(sp->label, opts)); break;
        }
        pos = sp->end;
        nrep++;
    }
    cm_buf_append(out, text + pos, len - pos);
    return nrep;
}

size_t
pol_pii_redact(const char *text, size_t len, const struct pol_pii_span *spans, size_t nspans,
               const enum pol_pii_op ops[POL_PII__COUNT], const struct pol_pii_redact_opts *opts,
               struct cm_buf *out)
{
    return pol_pii_redact_v(text, len, spans, nspans, ops, opts, NULL, out);
}

/* ------------------------------------------------------------ restore */

/* Length of a pseudonym placeholder "<LABEL_hex8>" or "<LABEL_hex16>" at
 * s[0..n), 0 if there is none. */
static size_t
placeholder_len(const char *s, size_t n)
{
    size_t k = 1, h;

    if (n < 3 || s[0] != '<')
        return 0;
    while (k < n && k <= 13 && ((s[k] >= 'A' && s[k] <= 'Z') || s[k] == '_'))
        k++;
    /* k is past the label and its trailing '_' (labels hold '_' too:
     * US_SSN, IP_ADDRESS, CREDIT_CARD) */
    if (k < 3 || s[k - 1] != '_')
        return 0;
    h = k;
    while (h < n && h - k < 16 && ((s[h] >= '0' && s[h] <= '9') || (s[h] >= 'a' && s[h] <= 'f')))
        h++;
    if (h - k != 8 && h - k != 16)
        return 0;
    if (h >= n || s[h] != '>')
        return 0;
    return h + 1;
}

size_t
pol_pii_restore(const struct pol_pii_vault *vault, const char *text, size_t len, struct cm_buf *out)
{
    size_t pos = 0, nrest = 0, k = 0;

    if (len == 0)
        return 0;
    while (k < len) {
        const char *lt = memchr(text + k, '<', len - k);
        const struct vault_entry *e;
        size_t n;

        if (lt == NULL)
            break;
        k = (size_t)(lt - text);
        n = placeholder_len(text + k, len - k);
        if (n != 0 && (e = vault_find(vault, text + k, n)) != NULL) {
            cm_buf_append(out, text + pos, k - pos);
            cm_buf_append(out, e->orig, e->orig_len);
            nrest++;
            k += n;
            pos = k;
            continue;
        }
        k++;
    }
    cm_buf_append(out, text + pos, len - pos);
    return nrest;
}
