/* SPDX-License-Identifier: Apache-2.0
 *
 * aud_sign: Ed25519 with OpenSSL 3 (EVP_PKEY_Q_keygen, EVP_DigestSign /
 * EVP_DigestVerify with a NULL digest, as Ed25519 requires).  See aud_sign.h.
 *
 * Files are opened with O_NOFOLLOW|O_CLOEXEC and checked with fstat() on
 * the open descriptor, so the permission check and the read see the same
 * file.  OpenSSL's error queue is cleared after every failure so a later,
 * unrelated call does not report a stale error.
 */
#include "audit/aud_sign.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "common/cm_hash.h"
#include "common/cm_mem.h"

struct aud_key {
    EVP_PKEY *pk;
    bool priv;
    char id[AUD_KEY_ID_LEN];
};

static int
key_wrap(EVP_PKEY *pk, bool priv, struct aud_key **out, const char *path, struct cm_err *err)
{
    uint8_t raw[32], digest[CM_SHA256_LEN];
    size_t rawlen = sizeof(raw);
    struct aud_key *k;

    if (EVP_PKEY_get_id(pk) != EVP_PKEY_ED25519 ||
        EVP_PKEY_get_raw_public_key(pk, raw, &rawlen) != 1 || rawlen != sizeof(raw)) {
        EVP_PKEY_free(pk);
        ERR_clear_error();
        return cm_err_set(err, CM_EINPUT, "%s: not an Ed25519 key", path);
    }
    k = cm_calloc(1, sizeof(*k));
    k->pk = pk;
    k->priv = priv;
    cm_sha256(raw, sizeof(raw), digest);
    cm_hex(digest, (AUD_KEY_ID_LEN - 1) / 2, k->id);
    *out = k;
    return CM_OK;
}

static FILE *
open_key(const char *path, bool check_secrecy, struct cm_err *err, int *rc)
{
    struct stat st;
    FILE *f;
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);

    if (fd < 0) {
        *rc = cm_err_set(err, CM_EIO, "%s: %s", path, strerror(errno));
        return NULL;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        *rc = cm_err_set(err, CM_EINPUT, "%s: not a regular file", path);
        return NULL;
    }
    if (check_secrecy && (st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
        close(fd);
        *rc = cm_err_set(err, CM_EINPUT,
                         "%s: a private key must not be accessible to group or others "
                         "(mode %03o; chmod 600)",
                         path, (unsigned)(st.st_mode & 0777));
        return NULL;
    }
    if (check_secrecy && st.st_uid != geteuid() && st.st_uid != 0) {
        close(fd);
        *rc = cm_err_set(err, CM_EINPUT, "%s: a private key must be owned by this user or root",
                         path);
        return NULL;
    }
    f = fdopen(fd, "r");
    if (f == NULL) {
        close(fd);
        *rc = cm_err_set(err, CM_EIO, "%s: %s", path, strerror(errno));
    }
    return f;
}

/* Reads a PEM private (priv) or public key from path. */
static int
load_key(const char *path, bool priv, struct aud_key **out, struct cm_err *err)
{
    EVP_PKEY *pk;
    int rc = CM_OK;
    FILE *f = open_key(path, priv, err, &rc);

    *out = NULL;
    if (f == NULL)
        return rc;
    pk = priv ? PEM_read_PrivateKey(f, NULL, NULL, NULL) : PEM_read_PUBKEY(f, NULL, NULL, NULL);
    fclose(f);
    if (pk == NULL) {
        ERR_clear_error();
        return cm_err_set(err, CM_EINPUT, "%s: not a PEM %s key", path,
                          priv ? "private" : "public");
    }
    return key_wrap(pk, priv, out, path, err);
}

int
aud_key_load_private(const char *path, struct aud_key **out, struct cm_err *err)
{
    return load_key(path, true, out, err);
}

int
aud_key_load_public(const char *path, struct aud_key **out, struct cm_err *err)
{
    return load_key(path, false, out, err);
}

/* Writes pk as PEM (private or public part) into a new file of the given
 * mode (O_EXCL: an existing file is never overwritten). */
static int
write_pem(const char *path, mode_t mode, EVP_PKEY *pk, bool priv, struct cm_err *err)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
    FILE *f;
    int ok;

    if (fd < 0)
        return cm_err_set(err, CM_EIO, "%s: %s", path, strerror(errno));
    f = fdopen(fd, "w");
    if (f == NULL) {
        close(fd);
        unlink(path);
        return cm_err_set(err, CM_EIO, "%s: %s", path, strerror(errno));
    }
    ok = priv ? PEM_write_PrivateKey(f, pk, NULL, NULL, 0, NULL, NULL) : PEM_write_PUBKEY(f, pk);
    if (fflush(f) != 0 || fsync(fd) != 0)
        ok = 0;
    if (fclose(f) != 0)
        ok = 0;
    if (!ok) {
        ERR_clear_error();
        unlink(path);
        return cm_err_set(err, CM_EIO, "%s: cannot write the key", path);
    }
    return CM_OK;
}

int
aud_key_generate(const char *path, char id[AUD_KEY_ID_LEN], struct cm_err *err)
{
    EVP_PKEY *pk = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    struct aud_key *k = NULL;
    char *pub;
    size_t n = strlen(path);
    int rc;

    if (pk == NULL) {
        ERR_clear_error();
        return cm_err_set(err, CM_EINTERNAL, "Ed25519 key generation failed");
    }
    pub = cm_malloc(n + 5);
    memcpy(pub, path, n);
    memcpy(pub + n, ".pub", 5);
    rc = write_pem(path, 0600, pk, true, err);
    if (rc == CM_OK) {
        rc = write_pem(pub, 0644, pk, false, err);
        if (rc != CM_OK)
            unlink(path);
    }
    free(pub);
    if (rc != CM_OK) {
        EVP_PKEY_free(pk);
        return rc;
    }
    rc = key_wrap(pk, true, &k, path, err);
    if (rc == CM_OK) {
        memcpy(id, k->id, AUD_KEY_ID_LEN);
        aud_key_free(k);
    }
    return rc;
}

const char *
aud_key_id(const struct aud_key *key)
{
    return key->id;
}

bool
aud_key_has_private(const struct aud_key *key)
{
    return key->priv;
}

int
aud_key_sign(const struct aud_key *key, const void *msg, size_t len, uint8_t sig[AUD_SIG_LEN],
             struct cm_err *err)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    size_t siglen = AUD_SIG_LEN;
    int ok;

    if (ctx == NULL)
        return cm_err_set(err, CM_EINTERNAL, "out of memory");
    ok = key->priv && EVP_DigestSignInit(ctx, NULL, NULL, NULL, key->pk) == 1 &&
         EVP_DigestSign(ctx, sig, &siglen, msg, len) == 1 && siglen == AUD_SIG_LEN;
    EVP_MD_CTX_free(ctx);
    if (!ok) {
        ERR_clear_error();
        return cm_err_set(err, CM_EINTERNAL, "Ed25519 signing failed");
    }
    return CM_OK;
}

bool
aud_key_verify(const struct aud_key *key, const void *msg, size_t len, const uint8_t *sig,
               size_t siglen)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    bool ok;

    if (ctx == NULL)
        return false;
    ok = siglen == AUD_SIG_LEN && EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, key->pk) == 1 &&
         EVP_DigestVerify(ctx, sig, siglen, msg, len) == 1;
    EVP_MD_CTX_free(ctx);
    ERR_clear_error();
    return ok;
}

void
aud_key_free(struct aud_key *key)
{
    if (key == NULL)
        return;
    EVP_PKEY_free(key->pk);
    free(key);
}
