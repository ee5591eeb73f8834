/* SPDX-License-Identifier: Apache-2.0
 *
 * pii_redact: the redaction operators of pii_redact.h applied to one text.
 *
 * Copies the bytes between spans as they are and replaces each span by its
 * operator's output: mask counts UTF-8 code points (a byte that is not a
 * continuation byte starts a character) and keeps the last mask_keep of
 * them; a value no longer than mask_keep is masked completely, so a mask
 * never shows a short value whole.  hash is "<LABEL:" + the first 16 hex
 * digits of HMAC-SHA256(hash_key, value) + ">".  The output never contains
 * the value of a replaced span.
 *
 * Pure; any thread.  Read next: pol_body.c, which splices the result back
 * into a JSON body.
 */
#include "policy/pii/pii_redact.h"

#include <string.h>

#include "common/cm_hash.h"

static size_t
utf8_chars(const char *s, size_t n)
{
    size_t c = 0;

    for (size_t k = 0; k < n; k++)
        c += ((unsigned char)s[k] & 0xC0) != 0x80;
    return c;
}

static void
op_mask(const char *v, size_t n, unsigned keep, struct cm_buf *out)
{
    size_t chars = utf8_chars(v, n), masked, k = 0;

    masked = chars > keep ? chars - keep : chars;
    for (size_t c = 0; c < masked; c++) {
        cm_buf_putc(out, '*');
        k++; /* skip this character's lead byte and continuation bytes */
        while (k < n && ((unsigned char)v[k] & 0xC0) == 0x80)
            k++;
    }
    cm_buf_append(out, v + k, n - k);
}

static const char *
label_name(enum pol_pii_label label, const struct pol_pii_redact_opts *opts)
{
    if (opts->label_names != NULL)
        return opts->label_names[label];
    return pol_pii_label_name(label);
}

static void
op_hash(enum pol_pii_label label, const char *v, size_t n, const struct pol_pii_redact_opts *opts,
        struct cm_buf *out)
{
    static const uint8_t nokey[1] = {0};
    uint8_t mac[CM_SHA256_LEN];
    char hex[CM_SHA256_HEX_LEN];

    cm_hmac_sha256(opts->hash_key ? opts->hash_key : nokey, opts->hash_key ? opts->hash_key_len : 0,
                   v, n, mac);
    cm_hex(mac, 8, hex);
    cm_buf_printf(out, "<%s:%s>", label_name(label, opts), hex);
}

size_t
pol_pii_redact(const char *text, size_t len, const struct pol_pii_span *spans, size_t nspans,
               const enum pol_pii_op ops[POL_PII__COUNT], const struct pol_pii_redact_opts *opts,
               struct cm_buf *out)
{
    size_t pos = 0, nrep = 0;

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
        case POL_PII_OP_REDACT:
        default: cm_buf_printf(out, "<%s>", label_name(sp->label, opts)); break;
        }
        pos = sp->end;
        nrep++;
    }
    cm_buf_append(out, text + pos, len - pos);
    return nrep;
}
