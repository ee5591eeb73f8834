/* SPDX-License-Identifier: Apache-2.0
 *
 * aud_chain: chain stamping, the chain state file, and checkpoints.  See
 * aud_chain.h for what is hashed and signed.
 *
 * State slot (128 bytes, little-endian; the file holds two):
 *   0 "STWCHN02" | 8 u64 generation | 16 chain id (16 bytes) | 32 u64 seq |
 *   40 last hash (32 bytes) | 72 u64 checkpointed seq | 80 u32 flags (bit 0:
 *   clean) | 84 boot id (16 bytes) | 100 u32 CRC-32 of bytes 0..99 | 104 zeros
 * ("STWCHN01" slots, from before the boot id, end at 84 with the CRC of
 * bytes 0..83; they are read as written under an unknown boot.)
 * A save writes slot (generation % 2) with pwrite(); open takes the valid
 * slot with the higher generation.  Both slots invalid in a non-empty file
 * means the state is lost: a new chain starts (logged as an error), so the
 * old chain is never continued from a guessed position.
 *
 * Saves are not synced: the page cache keeps them through a crash of the
 * process, and only a crash of the machine can lose them.  The boot id
 * (/proc/sys/kernel/random/boot_id) tells the two apart: a state left
 * unclean under another boot may be older than records that already left
 * (into Kafka, or the spool), so the chain is not continued; a new one
 * starts.  Only opening (the unclean mark) and a clean close sync the file.
 */
#include "audit/aud_chain.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <zlib.h>

#include "audit/aud_record.h"
#include "common/cm_log.h"
#include "common/cm_mem.h"
#include "common/cm_time.h"

#define CH_MAGIC "STWCHN02"
#define CH_MAGIC_V1 "STWCHN01"
#define CH_SLOT 128
#define CH_BOOT 84
#define CH_BODY 100
#define CH_BODY_V1 84
#define CH_FLAG_CLEAN 1u
#define CH_BOOT_ID_FILE "/proc/sys/kernel/random/boot_id"

struct aud_chain {
    int fd;
    char *path;
    enum aud_spool_fsync fsync;
    uint8_t boot[16]; /* this boot's id; zeros when unknown */
    uint64_t gen;
    struct aud_chain_state st;
    char idstr[CM_UUID_STR_LEN];
};

static void
put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t
get64(const uint8_t *p)
{
    uint64_t v = 0;

    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static void
put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t
get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint32_t
slot_crc(const uint8_t *slot, size_t body)
{
    return (uint32_t)crc32(crc32(0L, Z_NULL, 0), slot, (uInt)body);
}

/* Decodes one slot into *st and the boot it was written under (zeros:
 * unknown); false when it is not intact. */
static bool
slot_read(const uint8_t *slot, uint64_t *gen, struct aud_chain_state *st, uint8_t boot[16])
{
    if (memcmp(slot, CH_MAGIC, 8) == 0 && get32(slot + CH_BODY) == slot_crc(slot, CH_BODY))
        memcpy(boot, slot + CH_BOOT, 16);
    else if (memcmp(slot, CH_MAGIC_V1, 8) == 0 &&
             get32(slot + CH_BODY_V1) == slot_crc(slot, CH_BODY_V1))
        memset(boot, 0, 16);
    else
        return false;
    *gen = get64(slot + 8);
    memcpy(st->id, slot + 16, 16);
    st->seq = get64(slot + 32);
    memcpy(st->last, slot + 40, CM_SHA256_LEN);
    st->cp_seq = get64(slot + 72);
    st->clean = (get32(slot + 80) & CH_FLAG_CLEAN) != 0;
    return true;
}

static int
state_write(struct aud_chain *c, bool clean, struct cm_err *err)
{
    uint8_t slot[CH_SLOT] = {0};
    uint64_t gen = c->gen + 1;

    memcpy(slot, CH_MAGIC, 8);
    put64(slot + 8, gen);
    memcpy(slot + 16, c->st.id, 16);
    put64(slot + 32, c->st.seq);
    memcpy(slot + 40, c->st.last, CM_SHA256_LEN);
    put64(slot + 72, c->st.cp_seq);
    put32(slot + 80, clean ? CH_FLAG_CLEAN : 0);
    memcpy(slot + CH_BOOT, c->boot, 16);
    put32(slot + CH_BODY, slot_crc(slot, CH_BODY));
    if (pwrite(c->fd, slot, CH_SLOT, (off_t)((gen % 2) * CH_SLOT)) != CH_SLOT)
        return cm_err_set(err, CM_EIO, "chain state %s: %s", c->path, strerror(errno));
    c->gen = gen;
    return CM_OK;
}

/* This boot's id, or zeros when the kernel does not say. */
static void
boot_id(const char *path, uint8_t out[16])
{
    char buf[64] = {0};
    FILE *f = fopen(path, "re");

    memset(out, 0, 16);
    if (f == NULL)
        return;
    if (fgets(buf, sizeof(buf), f) != NULL) {
        buf[strcspn(buf, "\n")] = '\0';
        if (cm_uuid_parse(buf, out) != CM_OK)
            memset(out, 0, 16);
    }
    fclose(f);
}

static bool
zeros16(const uint8_t *p)
{
    static const uint8_t z[16];

    return memcmp(p, z, 16) == 0;
}

int
aud_chain_open(const char *dir, unsigned index, enum aud_spool_fsync fsync, struct aud_chain **out,
               struct cm_err *err)
{
    return aud_chain_open_boot(dir, index, fsync, CH_BOOT_ID_FILE, out, err);
}

int
aud_chain_open_boot(const char *dir, unsigned index, enum aud_spool_fsync fsync,
                    const char *boot_id_file, struct aud_chain **out, struct cm_err *err)
{
    struct aud_chain *c = cm_calloc(1, sizeof(*c));
    uint8_t buf[2 * CH_SLOT], boot[2][16];
    struct aud_chain_state s[2];
    uint64_t gen[2];
    bool ok[2];
    ssize_t n;
    size_t len;
    int rc;

    *out = NULL;
    c->fsync = fsync;
    boot_id(boot_id_file, c->boot);
    len = strlen(dir) + 32;
    c->path = cm_malloc(len);
    snprintf(c->path, len, "%s/chain-%u.state", dir, index);
    c->fd = open(c->path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (c->fd < 0) {
        rc = cm_err_set(err, CM_EIO, "chain state %s: %s", c->path, strerror(errno));
        goto fail;
    }
    n = pread(c->fd, buf, sizeof(buf), 0);
    if (n < 0) {
        rc = cm_err_set(err, CM_EIO, "chain state %s: %s", c->path, strerror(errno));
        goto fail;
    }
    memset(s, 0, sizeof(s));
    ok[0] = n >= CH_SLOT && slot_read(buf, &gen[0], &s[0], boot[0]);
    ok[1] = n >= 2 * CH_SLOT && slot_read(buf + CH_SLOT, &gen[1], &s[1], boot[1]);
    if (ok[0] || ok[1]) {
        int pick = ok[0] && ok[1] ? (gen[1] > gen[0]) : ok[1];

        c->st = s[pick];
        c->gen = gen[pick];
        if (!c->st.clean && (zeros16(boot[pick]) || memcmp(boot[pick], c->boot, 16) != 0)) {
            char old[CM_UUID_STR_LEN];

            /* The machine went down (or the state predates boot ids, or the
             * kernel does not say): the unsynced saves may be gone. */
            cm_uuid_fmt(c->st.id, old);
            cm_log_warn("audit",
                        "chain_restarted_after_reboot file=%s old_chain=%s old_state_seq=%" PRIu64
                        " reason=%s action=new_chain (the old chain ends where its records end)",
                        c->path, old, c->st.seq,
                        zeros16(boot[pick]) || zeros16(c->boot) ? "boot_unknown" : "other_boot");
            memset(&c->st, 0, sizeof(c->st));
            cm_uuid7(c->st.id);
            c->st.created = true;
            c->st.clean = true;
            c->st.restarted = true;
        }
    } else {
        if (n > 0)
            cm_log_err("audit",
                       "chain_state_damaged file=%s action=new_chain (the old chain ends "
                       "where its records end)",
                       c->path);
        cm_uuid7(c->st.id);
        c->st.created = true;
        c->st.clean = true;
    }
    cm_uuid_fmt(c->st.id, c->idstr);
    /* From now on a crash shows as an unclean stop.  Synced whatever
     * spool_fsync says: a clean mark that outlived a power cut would
     * continue the chain from an old seq. */
    rc = state_write(c, false, err);
    if (rc == CM_OK && fdatasync(c->fd) != 0)
        rc = cm_err_set(err, CM_EIO, "chain state %s: %s", c->path, strerror(errno));
    if (rc != CM_OK)
        goto fail;
    *out = c;
    return CM_OK;

fail:
    if (c->fd >= 0)
        close(c->fd);
    free(c->path);
    free(c);
    return rc;
}

void
aud_chain_get(const struct aud_chain *c, struct aud_chain_state *out)
{
    *out = c->st;
}

const char *
aud_chain_id(const struct aud_chain *c)
{
    return c->idstr;
}

void
aud_chain_adopt(struct aud_chain *c, uint64_t seq, const uint8_t hash[CM_SHA256_LEN])
{
    if (seq <= c->st.seq)
        return;
    c->st.seq = seq;
    memcpy(c->st.last, hash, CM_SHA256_LEN);
}

uint64_t
aud_chain_stamp(struct aud_chain *c, struct cm_buf *rec)
{
    char prev[CM_SHA256_HEX_LEN];

    cm_assert(rec->len >= 2 && rec->p[rec->len - 1] == '}');
    rec->len--;
    cm_hex(c->st.last, CM_SHA256_LEN, prev);
    aud_record_put_chain(rec, c->idstr, c->st.seq + 1, prev);
    cm_buf_putc(rec, '}');
    c->st.seq++;
    cm_sha256(rec->p, rec->len, c->st.last);
    return c->st.seq;
}

int
aud_chain_save(struct aud_chain *c, struct cm_err *err)
{
    return state_write(c, false, err);
}

void
aud_chain_close(struct aud_chain *c, bool clean)
{
    struct cm_err err;

    if (c == NULL)
        return;
    if (state_write(c, clean, &err) != CM_OK)
        cm_log_err("audit", "chain_state_write_failed err=\"%s\"", err.msg);
    else if (c->fsync != AUD_SPOOL_FSYNC_NEVER && fdatasync(c->fd) != 0)
        cm_log_errno("audit", "chain_state_sync_failed file=%s", c->path);
    close(c->fd);
    free(c->path);
    free(c);
}

/* ------------------------------------------------------ checkpoints */

void
aud_checkpoint_message(const struct aud_checkpoint *cp, struct cm_buf *out)
{
    cm_buf_printf(out, "%s\n%s\n%" PRId64 "\n%s\n%s\n", AUD_CHECKPOINT_SCHEMA, cp->chain_id,
                  cp->seq, cp->hash, cp->ts);
}

int
aud_chain_checkpoint(struct aud_chain *c, const char *instance, int64_t now_us,
                     const struct aud_key *key, struct cm_buf *out, struct cm_err *err)
{
    struct aud_checkpoint cp;
    struct cm_buf msg;
    char sighex[2 * AUD_SIG_LEN + 1];

    if (c->st.seq == 0 || c->st.seq == c->st.cp_seq)
        return CM_DECLINED;
    memset(&cp, 0, sizeof(cp));
    memcpy(cp.chain_id, c->idstr, sizeof(cp.chain_id));
    cp.seq = (int64_t)c->st.seq;
    cm_hex(c->st.last, CM_SHA256_LEN, cp.hash);
    cm_time_fmt(now_us, cp.ts);
    if (key != NULL) {
        int rc;

        cm_buf_init(&msg);
        aud_checkpoint_message(&cp, &msg);
        rc = aud_key_sign(key, msg.p, msg.len, cp.sig, err);
        cm_buf_fini(&msg);
        if (rc != CM_OK)
            return rc;
        cm_hex(cp.sig, AUD_SIG_LEN, sighex);
    }
    cm_buf_printf(out,
                  "{\"schema\":\"%s\",\"chain_id\":\"%s\",\"seq\":%" PRId64
                  ",\"hash\":\"%s\",\"ts\":\"%s\",\"instance\":",
                  AUD_CHECKPOINT_SCHEMA, cp.chain_id, cp.seq, cp.hash, cp.ts);
    if (instance != NULL)
        cm_buf_append_json_str(out, instance, strlen(instance));
    else
        cm_buf_puts(out, "null");
    if (key != NULL)
        cm_buf_printf(out, ",\"key_id\":\"%s\",\"sig\":\"%s\"}", aud_key_id(key), sighex);
    else
        cm_buf_puts(out, ",\"key_id\":null,\"sig\":null}");
    c->st.cp_seq = c->st.seq;
    return CM_OK;
}

static bool
is_hex(const char *s, size_t n)
{
    size_t i;

    for (i = 0; s[i] != '\0'; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return i == n;
}

/* The string member key of obj when it is a string of 1..cap-1 bytes. */
static const char *
str_member(json_t *obj, const char *key, size_t cap)
{
    json_t *v = json_object_get(obj, key);

    if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) >= cap)
        return NULL;
    return json_string_value(v);
}

static json_t *
load_object(const char *data, size_t len, struct cm_err *err)
{
    json_error_t jerr;
    json_t *root;

    root = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        cm_err_set(err, CM_EINPUT, "invalid JSON at line %d column %d", jerr.line, jerr.column);
        return NULL;
    }
    if (!json_is_object(root)) {
        json_decref(root);
        cm_err_set(err, CM_EINPUT, "not a JSON object");
        return NULL;
    }
    return root;
}

/* Typed member readers: each writes the value (canonical form) into out
 * and returns true, or sets err naming the member (prefix.key) and returns
 * false.  Messages never quote the value. */
static bool
uuid_member(json_t *obj, const char *prefix, const char *key, char out[CM_UUID_STR_LEN],
            struct cm_err *err)
{
    const char *s = str_member(obj, key, CM_UUID_STR_LEN);
    uint8_t u[16];

    if (s == NULL || cm_uuid_parse(s, u) != CM_OK) {
        cm_err_set(err, CM_EINPUT, "%s%s: expected a UUID string", prefix, key);
        return false;
    }
    cm_uuid_fmt(u, out);
    return true;
}

static bool
seq_member(json_t *obj, const char *prefix, const char *key, int64_t *out, struct cm_err *err)
{
    json_t *v = json_object_get(obj, key);

    if (!json_is_integer(v) || json_integer_value(v) < 1) {
        cm_err_set(err, CM_EINPUT, "%s%s: expected a positive integer", prefix, key);
        return false;
    }
    *out = (int64_t)json_integer_value(v);
    return true;
}

/* A string of exactly n lower-case hex digits, copied with its NUL. */
static bool
hex_member(json_t *obj, const char *prefix, const char *key, size_t n, char *out,
           struct cm_err *err)
{
    const char *s = str_member(obj, key, n + 1);

    if (s == NULL || !is_hex(s, n)) {
        cm_err_set(err, CM_EINPUT, "%s%s: expected %zu lower-case hex digits", prefix, key, n);
        return false;
    }
    memcpy(out, s, n + 1);
    return true;
}

int
aud_checkpoint_parse(const char *data, size_t len, struct aud_checkpoint *out, struct cm_err *err)
{
    json_t *root = load_object(data, len, err), *v, *kid, *sig;
    const char *s;
    char sighex[2 * AUD_SIG_LEN + 1];
    int64_t us;
    int rc = CM_EINPUT;

    memset(out, 0, sizeof(*out));
    if (root == NULL)
        return CM_EINPUT;
    s = str_member(root, "schema", 64);
    if (s == NULL || strcmp(s, AUD_CHECKPOINT_SCHEMA) != 0) {
        cm_err_set(err, rc, "schema: expected %s", AUD_CHECKPOINT_SCHEMA);
        goto out;
    }
    if (!uuid_member(root, "", "chain_id", out->chain_id, err) ||
        !seq_member(root, "", "seq", &out->seq, err) ||
        !hex_member(root, "", "hash", 2 * CM_SHA256_LEN, out->hash, err))
        goto out;
    s = str_member(root, "ts", sizeof(out->ts));
    if (s == NULL || strlen(s) < 20 || s[10] != 'T' || cm_time_parse(s, &us) != CM_OK) {
        cm_err_set(err, rc, "ts: expected an RFC 3339 date-time string");
        goto out;
    }
    snprintf(out->ts, sizeof(out->ts), "%s", s);
    v = json_object_get(root, "instance");
    if (v != NULL && !json_is_string(v) && !json_is_null(v)) {
        cm_err_set(err, rc, "instance: expected a string or null");
        goto out;
    }
    kid = json_object_get(root, "key_id");
    sig = json_object_get(root, "sig");
    if ((kid == NULL || json_is_null(kid)) && (sig == NULL || json_is_null(sig))) {
        rc = CM_OK; /* unsigned */
        goto out;
    }
    if (!hex_member(root, "", "key_id", AUD_KEY_ID_LEN - 1, out->key_id, err) ||
        !hex_member(root, "", "sig", 2 * AUD_SIG_LEN, sighex, err))
        goto out;
    cm_assert(cm_unhex(sighex, 2 * AUD_SIG_LEN, out->sig, AUD_SIG_LEN) == AUD_SIG_LEN);
    out->has_sig = true;
    rc = CM_OK;

out:
    json_decref(root);
    return rc;
}

bool
aud_is_checkpoint(const char *data, size_t len)
{
    json_t *root;
    const char *s;
    bool yes;

    if (data == NULL ||
        memmem(data, len, AUD_CHECKPOINT_SCHEMA, strlen(AUD_CHECKPOINT_SCHEMA)) == NULL)
        return false;
    root = load_object(data, len, NULL);
    if (root == NULL)
        return false;
    s = str_member(root, "schema", 64);
    yes = s != NULL && strcmp(s, AUD_CHECKPOINT_SCHEMA) == 0;
    json_decref(root);
    return yes;
}

int
aud_chain_link_parse(const char *data, size_t len, struct aud_chain_link *out, struct cm_err *err)
{
    json_t *root = load_object(data, len, err), *chain;
    int rc = CM_EINPUT;

    memset(out, 0, sizeof(*out));
    if (root == NULL)
        return CM_EINPUT;
    if (!uuid_member(root, "", "record_id", out->record_id, err))
        goto out;
    chain = json_object_get(root, "chain");
    if (!json_is_object(chain)) {
        cm_err_set(err, rc, "chain: missing");
        goto out;
    }
    if (uuid_member(chain, "chain.", "id", out->chain_id, err) &&
        seq_member(chain, "chain.", "seq", &out->seq, err) &&
        hex_member(chain, "chain.", "prev", 2 * CM_SHA256_LEN, out->prev, err))
        rc = CM_OK;

out:
    json_decref(root);
    return rc;
}
