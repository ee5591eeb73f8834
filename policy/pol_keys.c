/* SPDX-License-Identifier: Apache-2.0
 *
 * pol_keys: the API-key table.  See pol_keys.h for the file format and why
 * keys are stored as plain SHA-256 of high-entropy generated keys.
 *
 * Each line is parsed by jansson on its own (so an error names its line);
 * a field error is reported at column 1 of that line with its JSON pointer.
 * Entries keep the raw digest (32 bytes) for the constant-time scan and
 * owned copies of the identity strings, laid out so that struct pol_caller
 * can point straight into them.
 */
#include "policy/pol_keys.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "common/cm_hash.h"
#include "common/cm_mem.h"

#define KEYS_FILE_MAX (16u << 20)
#define HASH_PREFIX "sha256:"

struct key_entry {
    uint8_t digest[CM_SHA256_LEN];
    char *principal;
    char *tenant;
    char **groups;
    size_t ngroups;
    char **purposes;
    size_t npurposes;
};

struct pol_keys {
    atomic_uint refs;
    struct key_entry *v;
    size_t n;
};

static void
strv_free(char **v, size_t n)
{
    for (size_t k = 0; k < n; k++)
        free(v[k]);
    free(v);
}

static void
keys_free(struct pol_keys *keys)
{
    for (size_t k = 0; k < keys->n; k++) {
        free(keys->v[k].principal);
        free(keys->v[k].tenant);
        strv_free(keys->v[k].groups, keys->v[k].ngroups);
        strv_free(keys->v[k].purposes, keys->v[k].npurposes);
    }
    free(keys->v);
    free(keys);
}

struct pol_keys *
pol_keys_ref(struct pol_keys *keys)
{
    atomic_fetch_add_explicit(&keys->refs, 1, memory_order_relaxed);
    return keys;
}

void
pol_keys_unref(struct pol_keys *keys)
{
    if (keys == NULL)
        return;
    if (atomic_fetch_sub_explicit(&keys->refs, 1, memory_order_acq_rel) == 1)
        keys_free(keys);
}

size_t
pol_keys_count(const struct pol_keys *keys)
{
    return keys->n;
}

void
pol_keys_hash(const char *key, size_t n, char out[POL_KEY_HASH_LEN])
{
    uint8_t d[CM_SHA256_LEN];

    cm_sha256(key, n, d);
    memcpy(out, HASH_PREFIX, sizeof(HASH_PREFIX) - 1);
    cm_hex(d, sizeof(d), out + sizeof(HASH_PREFIX) - 1);
}

bool
pol_keys_find(const struct pol_keys *keys, const char *key, size_t n, struct pol_caller *caller)
{
    uint8_t d[CM_SHA256_LEN];
    size_t hit = SIZE_MAX;

    cm_sha256(key, n, d);
    /* Every entry is compared, in constant time, whatever matched. */
    for (size_t k = 0; k < keys->n; k++) {
        bool eq = cm_ct_equal(keys->v[k].digest, d, sizeof(d));

        hit = eq ? k : hit;
    }
    if (hit == SIZE_MAX)
        return false;
    caller->principal = keys->v[hit].principal;
    caller->tenant = keys->v[hit].tenant;
    caller->groups = (const char *const *)keys->v[hit].groups;
    caller->ngroups = keys->v[hit].ngroups;
    caller->purposes = (const char *const *)keys->v[hit].purposes;
    caller->npurposes = keys->v[hit].npurposes;
    return true;
}

int
pol_keys_generate(char out[POL_KEY_LEN])
{
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    uint8_t r[33]; /* 32 random bytes, one zero pad for the last group */
    size_t o = 4;
    ssize_t got = 0;

    while (got < 32) {
        ssize_t n = getrandom(r + got, (size_t)(32 - got), 0);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return CM_EIO;
        got += n;
    }
    r[32] = 0;
    memcpy(out, "stw_", 4);
    for (size_t i = 0; i < 33; i += 3) {
        uint32_t v = (uint32_t)r[i] << 16 | (uint32_t)r[i + 1] << 8 | r[i + 2];

        out[o++] = b64[(v >> 18) & 63];
        out[o++] = b64[(v >> 12) & 63];
        out[o++] = b64[(v >> 6) & 63];
        out[o++] = b64[v & 63];
    }
    /* 32 bytes are 43 characters (256 bits); the 44th encodes padding. */
    out[4 + 43] = '\0';
    return CM_OK;
}

static void
put_strv(struct cm_buf *out, const char *key, const char *const *v, size_t n)
{
    if (n == 0)
        return;
    cm_buf_printf(out, ",\"%s\":[", key);
    for (size_t k = 0; k < n; k++) {
        if (k > 0)
            cm_buf_putc(out, ',');
        cm_buf_append_json_str(out, v[k], strlen(v[k]));
    }
    cm_buf_putc(out, ']');
}

void
pol_keys_line(const char *hash, const struct pol_caller *c, const char *comment, struct cm_buf *out)
{
    cm_buf_puts(out, "{\"hash\":");
    cm_buf_append_json_str(out, hash, strlen(hash));
    cm_buf_puts(out, ",\"principal\":");
    cm_buf_append_json_str(out, c->principal, strlen(c->principal));
    if (c->tenant != NULL) {
        cm_buf_puts(out, ",\"tenant\":");
        cm_buf_append_json_str(out, c->tenant, strlen(c->tenant));
    }
    put_strv(out, "groups", c->groups, c->ngroups);
    put_strv(out, "purposes", c->purposes, c->npurposes);
    if (comment != NULL) {
        cm_buf_puts(out, ",\"comment\":");
        cm_buf_append_json_str(out, comment, strlen(comment));
    }
    cm_buf_puts(out, "}\n");
}

/* ------------------------------------------------------------ parsing */

static int
field_err(const char *name, size_t line, const char *field, const char *what, struct cm_err *err)
{
    return cm_err_set(err, CM_EINPUT, "%s:%zu:1: /%s: %s", name, line, field, what);
}

static int
get_strv(const char *name, size_t line, json_t *obj, const char *field, char ***v, size_t *n,
         struct cm_err *err)
{
    json_t *a = json_object_get(obj, field), *e;
    size_t i;

    if (a == NULL)
        return CM_OK;
    if (!json_is_array(a))
        return field_err(name, line, field, "expected an array of strings", err);
    json_array_foreach (a, i, e) {
        if (!json_is_string(e) || json_string_length(e) == 0)
            return field_err(name, line, field, "expected non-empty strings", err);
        *v = cm_realloc(*v, (*n + 1) * sizeof(**v));
        (*v)[(*n)++] = cm_strdup(json_string_value(e));
    }
    return CM_OK;
}

static int
parse_line(const char *name, size_t line, const char *text, size_t len, struct pol_keys *keys,
           struct cm_err *err)
{
    static const char *const allowed[] = {"hash",     "principal", "tenant", "groups",
                                          "purposes", "comment",   NULL};
    json_error_t je;
    json_t *obj = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je), *j;
    struct key_entry *e;
    const char *key, *hash;
    int rc = CM_OK;

    if (obj == NULL)
        return cm_err_set(err, CM_EINPUT, "%s:%zu:%d: %s", name, line, je.column, je.text);
    if (!json_is_object(obj)) {
        rc = cm_err_set(err, CM_EINPUT, "%s:%zu:1: expected one JSON object per line", name, line);
        goto out;
    }
    json_object_foreach (obj, key, j) {
        bool ok = false;

        for (size_t k = 0; allowed[k] != NULL; k++)
            ok = ok || strcmp(allowed[k], key) == 0;
        if (!ok) {
            rc = field_err(name, line, key,
                           "unknown key (expected hash, principal, tenant, groups, purposes, "
                           "comment)",
                           err);
            goto out;
        }
    }
    hash = json_string_value(json_object_get(obj, "hash"));
    if (hash == NULL || strncmp(hash, HASH_PREFIX, sizeof(HASH_PREFIX) - 1) != 0 ||
        strlen(hash) != POL_KEY_HASH_LEN - 1) {
        rc = field_err(name, line, "hash",
                       "expected \"sha256:\" and 64 hex digits (steward-policy keys add writes "
                       "it)",
                       err);
        goto out;
    }
    keys->v = cm_realloc(keys->v, (keys->n + 1) * sizeof(*keys->v));
    e = &keys->v[keys->n++];
    memset(e, 0, sizeof(*e));
    if (cm_unhex(hash + 7, 64, e->digest, sizeof(e->digest)) != CM_SHA256_LEN) {
        rc = field_err(name, line, "hash", "not 64 hex digits", err);
        goto out;
    }
    for (size_t k = 0; k + 1 < keys->n; k++) {
        if (memcmp(keys->v[k].digest, e->digest, CM_SHA256_LEN) == 0) {
            rc = field_err(name, line, "hash", "the same key is listed twice", err);
            goto out;
        }
    }
    j = json_object_get(obj, "principal");
    if (!json_is_string(j) || json_string_length(j) == 0) {
        rc = field_err(name, line, "principal", "required: a non-empty string", err);
        goto out;
    }
    e->principal = cm_strdup(json_string_value(j));
    if ((j = json_object_get(obj, "tenant")) != NULL) {
        if (!json_is_string(j) || json_string_length(j) == 0) {
            rc = field_err(name, line, "tenant", "expected a non-empty string", err);
            goto out;
        }
        e->tenant = cm_strdup(json_string_value(j));
    }
    if ((j = json_object_get(obj, "comment")) != NULL && !json_is_string(j)) {
        rc = field_err(name, line, "comment", "expected a string", err);
        goto out;
    }
    if ((rc = get_strv(name, line, obj, "groups", &e->groups, &e->ngroups, err)) != CM_OK ||
        (rc = get_strv(name, line, obj, "purposes", &e->purposes, &e->npurposes, err)) != CM_OK)
        goto out;
out:
    json_decref(obj);
    return rc;
}

int
pol_keys_parse(const char *name, const char *text, size_t len, struct pol_keys **out,
               struct cm_err *err)
{
    struct pol_keys *keys = cm_calloc(1, sizeof(*keys));
    size_t line = 0, p = 0;
    int rc = CM_OK;

    *out = NULL;
    atomic_init(&keys->refs, 1);
    while (p < len && rc == CM_OK) {
        const char *s = text + p, *nl = memchr(s, '\n', len - p);
        size_t n = nl ? (size_t)(nl - s) : len - p, b = 0;

        line++;
        p += n + (nl != NULL);
        while (b < n && (s[b] == ' ' || s[b] == '\t' || s[b] == '\r'))
            b++;
        if (b == n || s[b] == '#')
            continue;
        rc = parse_line(name, line, s, n, keys, err);
    }
    if (rc != CM_OK) {
        keys_free(keys);
        return rc;
    }
    *out = keys;
    return CM_OK;
}

int
pol_secret_read(const char *path, const char *what, size_t max, struct cm_buf *out,
                struct cm_err *err)
{
    struct stat st;
    char chunk[8192];
    ssize_t n;
    int fd, rc = CM_OK;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return cm_err_set(err, CM_EIO, "%s: %s", path, strerror(errno));
    if (fstat(fd, &st) != 0) {
        rc = cm_err_set(err, CM_EIO, "%s: %s", path, strerror(errno));
        close(fd);
        return rc;
    }
    /* Checked on the open descriptor: what is read is what was checked. */
    if ((st.st_mode & 077) != 0 || (st.st_uid != geteuid() && st.st_uid != 0)) {
        close(fd);
        return cm_err_set(err, CM_EINPUT,
                          "%s:1:1: refused: %s must belong to this user or root and not be "
                          "readable or writable by group or others (chmod 600)",
                          path, what);
    }
    while ((n = read(fd, chunk, sizeof(chunk))) != 0) {
        if (n < 0) {
            if (errno == EINTR)
                continue;
            rc = cm_err_set(err, CM_EIO, "%s: %s", path, strerror(errno));
            break;
        }
        if (out->len + (size_t)n > max) {
            rc = cm_err_set(err, CM_EINPUT, "%s: larger than %zu bytes", path, max);
            break;
        }
        cm_buf_append(out, chunk, (size_t)n);
    }
    OPENSSL_cleanse(chunk, sizeof(chunk));
    close(fd);
    return rc;
}

int
pol_keys_load(const char *path, struct pol_keys **out, struct cm_err *err)
{
    struct cm_buf b;
    int rc;

    *out = NULL;
    cm_buf_init(&b);
    rc = pol_secret_read(path, "the API-key file", KEYS_FILE_MAX, &b, err);
    if (rc == CM_OK)
        rc = pol_keys_parse(path, b.p ? b.p : "", b.len, out, err);
    cm_buf_fini(&b);
    return rc;
}

/* ------------------------------------------------------------ operator keys */

int
pol_pii_keys_load(const char *path, struct pol_pii_keys *out, struct cm_err *err)
{
    struct cm_buf b;
    size_t s = 0, e;
    long n;
    int rc;

    memset(out, 0, sizeof(*out));
    cm_buf_init(&b);
    rc = pol_secret_read(path, "the PII key file", 4096, &b, err);
    if (rc != CM_OK)
        goto out;
    e = b.len;
    while (s < e && strchr(" \t\r\n", b.p[s]) != NULL)
        s++;
    while (e > s && strchr(" \t\r\n", b.p[e - 1]) != NULL)
        e--;
    n = cm_unhex(b.p + s, e - s, out->master, sizeof(out->master));
    if (n < 32) {
        rc = cm_err_set(err, CM_EINPUT,
                        "%s:1:1: expected 64 to 128 hex digits (32-64 random bytes), e.g. the "
                        "output of `openssl rand -hex 32`",
                        path);
        memset(out, 0, sizeof(*out));
        goto out;
    }
    out->len = (size_t)n;
out:
    if (b.p != NULL)
        OPENSSL_cleanse(b.p, b.len);
    cm_buf_fini(&b);
    return rc;
}

static void
derive(const struct pol_pii_keys *k, const char *purpose, const char *tenant,
       uint8_t out[CM_SHA256_LEN])
{
    struct cm_buf b;

    cm_buf_init(&b);
    cm_buf_puts(&b, purpose);
    cm_buf_putc(&b, '\0');
    cm_buf_puts(&b, tenant != NULL ? tenant : "");
    cm_hmac_sha256(k->master, k->len, b.p, b.len, out);
    cm_buf_fini(&b);
}

void
pol_pii_keys_derive(const struct pol_pii_keys *k, const char *tenant, struct pol_tenant_keys *out)
{
    derive(k, "steward-hash-1", tenant, out->hash);
    derive(k, "steward-pseudonym-1", tenant, out->pseudonym);
    derive(k, "steward-encrypt-1", tenant, out->enc);
}

void
pol_tenant_keys_apply(const struct pol_tenant_keys *tk, struct pol_pii_redact_opts *opts)
{
    opts->hash_key = tk->hash;
    opts->hash_key_len = sizeof(tk->hash);
    opts->pseudonym_key = tk->pseudonym;
    opts->pseudonym_key_len = sizeof(tk->pseudonym);
    opts->enc_key = tk->enc;
    opts->enc_key_len = sizeof(tk->enc);
}
