/* SPDX-License-Identifier: Apache-2.0
 *
 * cm_fingerprint: normalisation + HMAC-SHA256 of personal-data values, and
 * the fingerprint key file.  See cm_fingerprint.h for the definition; this
 * file is the only implementation of it (sidecar and steward-audit share it).
 *
 * The key file check follows relayd's check_file_secrecy (STYLE.md B7):
 * fstat() on the opened descriptor, so the file checked is the file read.
 */
#include "common/cm_fingerprint.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cm_hash.h"
#include "common/cm_mem.h"

/* Changing the normalisation means a new label: old fingerprints then show
 * up as made under another key id instead of silently not matching. */
#define KEY_ID_LABEL "steward fingerprint key id v1"

static const struct {
    const char *type;
    enum cm_fp_norm norm;
} norms[] = {
    {"PHONE", CM_FP_NORM_DIGITS}, {"CREDIT_CARD", CM_FP_NORM_DIGITS}, {"US_SSN", CM_FP_NORM_DIGITS},
    {"IBAN", CM_FP_NORM_ALNUM},   {"DATE", CM_FP_NORM_ASIS},          {"SECRET", CM_FP_NORM_ASIS},
};

enum cm_fp_norm
cm_fp_norm_of(const char *type)
{
    if (type == NULL)
        return CM_FP_NORM_TEXT;
    for (size_t i = 0; i < CM_ARRAY_LEN(norms); i++)
        if (strcmp(norms[i].type, type) == 0)
            return norms[i].norm;
    return CM_FP_NORM_TEXT;
}

static bool
is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

size_t
cm_fp_normalise(enum cm_fp_norm norm, const char *value, size_t len, char *out)
{
    size_t n = 0;
    bool space = false;

    switch (norm) {
    case CM_FP_NORM_ASIS: memcpy(out, value, len); return len;
    case CM_FP_NORM_TEXT:
        for (size_t i = 0; i < len; i++) {
            char c = value[i];

            if (is_space(c)) {
                space = true;
                continue;
            }
            if (space && n > 0)
                out[n++] = ' ';
            space = false;
            out[n++] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
        }
        return n;
    case CM_FP_NORM_DIGITS:
        for (size_t i = 0; i < len; i++)
            if (value[i] >= '0' && value[i] <= '9')
                out[n++] = value[i];
        return n;
    case CM_FP_NORM_ALNUM:
        for (size_t i = 0; i < len; i++) {
            char c = value[i];

            if (c >= 'a' && c <= 'z')
                out[n++] = (char)(c - 'a' + 'A');
            else if ((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
                out[n++] = c;
        }
        return n;
    }
    cm_assert(!"unknown normalisation");
    return 0;
}

void
cm_fp_compute(const struct cm_fp_key *key, const char *type, const char *value, size_t len,
              char out[CM_FP_HEX_LEN])
{
    char stackbuf[256];
    char *norm = len <= sizeof(stackbuf) ? stackbuf : cm_malloc(len);
    uint8_t mac[CM_SHA256_LEN];
    size_t n;

    cm_assert(key->len >= CM_FP_KEY_MIN);
    n = cm_fp_normalise(cm_fp_norm_of(type), value, len, norm);
    cm_hmac_sha256(key->bytes, key->len, norm, n, mac);
    cm_hex(mac, sizeof(mac), out);
    explicit_bzero(norm, n);
    if (norm != stackbuf)
        free(norm);
}

int
cm_fp_key_set(struct cm_fp_key *key, const void *bytes, size_t len, struct cm_err *err)
{
    uint8_t mac[CM_SHA256_LEN];

    if (len < CM_FP_KEY_MIN || len > CM_FP_KEY_MAX)
        return cm_err_set(err, CM_EINPUT, "fingerprint key: %zu bytes, expected %d to %d", len,
                          CM_FP_KEY_MIN, CM_FP_KEY_MAX);
    memcpy(key->bytes, bytes, len);
    key->len = len;
    cm_hmac_sha256(key->bytes, key->len, KEY_ID_LABEL, strlen(KEY_ID_LABEL), mac);
    cm_hex(mac, (CM_FP_KEY_ID_LEN - 1) / 2, key->id);
    return CM_OK;
}

int
cm_fp_key_load(const char *path, struct cm_fp_key *key, struct cm_err *err)
{
    uint8_t buf[CM_FP_KEY_MAX + 3];
    struct stat st;
    size_t n = 0;
    ssize_t r;
    int fd, rc;

    memset(key, 0, sizeof(*key));
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return cm_err_set(err, CM_EIO, "fingerprint key %s: %s", path, strerror(errno));
    if (fstat(fd, &st) != 0) {
        rc = cm_err_set(err, CM_EIO, "fingerprint key %s: %s", path, strerror(errno));
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = cm_err_set(err, CM_EINPUT, "fingerprint key %s: not a regular file", path);
        goto out;
    }
    if ((st.st_mode & 077) != 0) {
        rc = cm_err_set(err, CM_EINPUT,
                        "fingerprint key %s: mode %04o gives group or others access; "
                        "chmod 600 it",
                        path, (unsigned)(st.st_mode & 07777));
        goto out;
    }
    if (st.st_uid != geteuid() && st.st_uid != 0) {
        rc = cm_err_set(err, CM_EINPUT, "fingerprint key %s: owned by uid %u, not by us or root",
                        path, (unsigned)st.st_uid);
        goto out;
    }
    while (n < sizeof(buf)) {
        r = read(fd, buf + n, sizeof(buf) - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rc = cm_err_set(err, CM_EIO, "fingerprint key %s: %s", path, strerror(errno));
            goto out;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    if (n > 0 && buf[n - 1] == '\n') {
        n--;
        if (n > 0 && buf[n - 1] == '\r')
            n--;
    }
    rc = cm_fp_key_set(key, buf, n, err);
    if (rc != CM_OK)
        cm_err_set(err, rc, "fingerprint key %s: %zu%s bytes, expected %d to %d", path, n,
                   n > CM_FP_KEY_MAX ? " or more" : "", CM_FP_KEY_MIN, CM_FP_KEY_MAX);
out:
    explicit_bzero(buf, sizeof(buf));
    close(fd);
    return rc;
}

void
cm_fp_key_clear(struct cm_fp_key *key)
{
    explicit_bzero(key, sizeof(*key));
}
