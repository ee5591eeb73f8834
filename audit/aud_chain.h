/* SPDX-License-Identifier: Apache-2.0
 *
 * aud_chain: tamper evidence for lineage records (DESIGN.md section 6).
 *
 * Every record belongs to a chain (one per sidecar instance; one per worker
 * thread when workers arrive).  The emitter stamps each record, in the order
 * it takes them, with the member
 *
 *   "chain":{"id":"<chain UUID>","seq":<1, 2, ...>,"prev":"<64 hex>"}
 *
 * as its last member, where prev is the hash of the chain's previous record
 * (64 zeros for seq 1).  What is hashed: SHA-256 over the record's exact
 * bytes as emitted (the whole JSON text, chain member included).  The hash
 * itself travels nowhere in the record; the successor carries it.  The
 * loader keeps the exact bytes (lineage_records.raw_bytes) because its jsonb
 * column reorders keys; `steward-audit verify` recomputes every hash from
 * those bytes.  A lost record is a gap in seq; an edited one breaks the
 * link to its successor; a moved one carries a seq that is not its place.
 *
 * Checkpoints pin the chain: every N records or T seconds the emitter sends
 *
 *   {"schema":"steward.checkpoint/1","chain_id":..,"seq":N,"hash":"<hash of
 *    record N>","ts":"<RFC 3339>","instance":..,"key_id":..|null,"sig":..|null}
 *
 * to the lineage topic (key: the chain id), signed with Ed25519 over the
 * bytes of aud_checkpoint_message(): the lines "steward.checkpoint/1",
 * chain_id, seq (decimal), hash, ts, each ending in "\n".  Someone who can
 * rewrite rows can recompute a chain's SHA-256 links, but not a signature.
 *
 * State survives restarts: <spool_dir>/chain-<n>.state holds the chain id,
 * the last seq and hash, the last checkpointed seq and a clean-shutdown flag,
 * in two 128-byte CRC-checked slots written alternately (a torn write leaves
 * the other intact).  The emitter saves the state before a record leaves on
 * the direct path, and right after it is in the spool on the spool path;
 * at start it also adopts any newer record of the chain found in the spool
 * (aud_chain_adopt), so a crash between those two steps neither reuses
 * nor skips a seq.  Saves are not synced (a crash of the process keeps
 * them); a state left unclean under another boot of the machine starts a
 * new chain instead, since its last saves may be lost (aud_chain.c).
 *
 * One chain belongs to one thread (the emitter's).  Parsing functions are
 * pure and any-thread.
 */
#ifndef AUD_CHAIN_H
#define AUD_CHAIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "audit/aud_sign.h"
#include "audit/aud_spool.h"
#include "common/cm_buf.h"
#include "common/cm_hash.h"
#include "common/cm_status.h"
#include "common/cm_uuid.h"

#define AUD_CHECKPOINT_SCHEMA "steward.checkpoint/1"

struct aud_chain;

struct aud_chain_state {
    uint8_t id[16];
    uint64_t seq;                /* last stamped record (0: none yet) */
    uint8_t last[CM_SHA256_LEN]; /* its hash (zeros at seq 0) */
    uint64_t cp_seq;             /* last seq covered by a checkpoint */
    bool clean;                  /* the previous run closed the chain cleanly */
    bool created;                /* a new chain: no (usable) state file */
    bool restarted;              /* ... because the old one was left unclean
                                  * under another boot */
};

/* Opens chain number index in dir (a new chain with a fresh UUIDv7 when it
 * has no usable state file, or its state was left unclean under another
 * boot) and marks it "in use" on disk (synced).  fsync follows the spool's
 * policy (NEVER: not even a clean close syncs).  Returns CM_OK with an owned
 * chain in *out, or CM_EIO. */
int aud_chain_open(const char *dir, unsigned index, enum aud_spool_fsync fsync,
                   struct aud_chain **out, struct cm_err *err) CM_MUSTCHECK;
/* The same, with the boot id read from boot_id_file (tests). */
int aud_chain_open_boot(const char *dir, unsigned index, enum aud_spool_fsync fsync,
                        const char *boot_id_file, struct aud_chain **out,
                        struct cm_err *err) CM_MUSTCHECK;
void aud_chain_get(const struct aud_chain *c, struct aud_chain_state *out);
/* The chain id as UUID text (borrowed). */
const char *aud_chain_id(const struct aud_chain *c);
/* A record of this chain found in the spool at start, with its seq and
 * hash: when it is newer than the state, the chain continues after it. */
void aud_chain_adopt(struct aud_chain *c, uint64_t seq, const uint8_t hash[CM_SHA256_LEN]);
/* Stamps the record text in rec (one JSON object without a chain member)
 * with the next seq and the current hash, and advances the chain in memory
 * (not yet on disk: aud_chain_save).  Returns the seq. */
uint64_t aud_chain_stamp(struct aud_chain *c, struct cm_buf *rec);
/* Writes the state (clean flag off), unsynced.  Returns CM_OK or CM_EIO. */
int aud_chain_save(struct aud_chain *c, struct cm_err *err) CM_MUSTCHECK;
/* Saves with the clean flag when clean, syncs, frees.  NULL-safe. */
void aud_chain_close(struct aud_chain *c, bool clean);

/* Builds the checkpoint of the chain's current seq (signed when key is not
 * NULL) into out and notes it as checkpointed (saved with the next save).
 * Returns CM_OK, CM_DECLINED (nothing new since the last checkpoint) or
 * CM_EINTERNAL (signing failed). */
int aud_chain_checkpoint(struct aud_chain *c, const char *instance, int64_t now_us,
                         const struct aud_key *key, struct cm_buf *out,
                         struct cm_err *err) CM_MUSTCHECK;

/* ------------------------------------------------------ reading back */

struct aud_checkpoint {
    char chain_id[CM_UUID_STR_LEN];
    int64_t seq;
    char hash[CM_SHA256_HEX_LEN];
    char ts[40];
    bool has_sig;
    char key_id[AUD_KEY_ID_LEN];
    uint8_t sig[AUD_SIG_LEN];
};

/* Parses and checks one checkpoint message: schema, chain_id (UUID), seq
 * (>= 1), hash (64 hex), ts (RFC 3339), key_id and sig (16 and 128 hex, or
 * both null).  Unknown members are allowed.  Returns CM_OK or CM_EINPUT
 * (err names the field, never quotes a value). */
int aud_checkpoint_parse(const char *data, size_t len, struct aud_checkpoint *out,
                         struct cm_err *err) CM_MUSTCHECK;
/* The bytes a checkpoint signature covers (appended to out). */
void aud_checkpoint_message(const struct aud_checkpoint *cp, struct cm_buf *out);
/* True when data looks like a checkpoint (its "schema" member says so);
 * cheap, for routing before validation. */
bool aud_is_checkpoint(const char *data, size_t len);

/* The chain member of a record, as read back from its bytes. */
struct aud_chain_link {
    char record_id[CM_UUID_STR_LEN];
    char chain_id[CM_UUID_STR_LEN];
    int64_t seq;
    char prev[CM_SHA256_HEX_LEN];
};

/* Reads record_id and the chain member from a record's bytes.  Returns
 * CM_OK or CM_EINPUT (not JSON, or the members are missing or malformed). */
int aud_chain_link_parse(const char *data, size_t len, struct aud_chain_link *out,
                         struct cm_err *err) CM_MUSTCHECK;

#endif /* AUD_CHAIN_H */
