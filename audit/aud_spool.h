/* SPDX-License-Identifier: Apache-2.0
 *
 * aud_spool: the emitter's local, append-only disk spool.  Lineage records
 * that Kafka has not confirmed yet are kept here (DESIGN.md section 7): in
 * `sync` durability every record before its answer is released, in `async`
 * durability the records Kafka could not take (unreachable, queue full,
 * failed delivery report, no report within spool_after).  A record leaves
 * the spool only when aud_spool_confirm() says its delivery report arrived.
 *
 * On disk (docs/lineage.md "The spool"): a directory holding LOCK (flock'ed
 * by the one process that owns the spool) and segment files
 * NNNNNNNNNNNNNNNN.seg (16 hex digits, increasing).  A segment starts with
 * the 8 bytes "STWSPL01", then frames:
 *
 *   u32 magic F5 'S' 'P' 01 | u32 body length L | u32 CRC-32 | body
 *   body = u16 key length K | key (K bytes) | value (L - 2 - K bytes)
 *
 * little-endian; the CRC-32 (zlib's) covers the 4 length bytes and the body,
 * so a torn or flipped length is caught as well.  Appends go to the newest
 * segment, which rotates at segment_bytes; a process never appends to a
 * segment it did not create, so a torn tail is never written over.  A
 * segment is deleted once every record in it is confirmed (the newest one
 * when it rotates or at close).  Records are replayed in append order.
 *
 * With ALWAYS and BATCH each segment is written into prepared space: a file
 * of segment_bytes zeros, written and synced ahead by a helper thread and
 * renamed into place at rotation, so that a sync writes data blocks only,
 * not the file's growing size too (aud_spool.c, "preparing").  Zeros after
 * the last frame are that padding, not damage.  A leftover "prepared.tmp"
 * is never data and is removed at open.
 *
 * fsync policy (spool_fsync): ALWAYS fdatasync()s after every append, before
 * aud_spool_append() returns; BATCH leaves it to aud_spool_sync(), which the
 * emitter calls once per batch of records before it reports any of them as
 * spooled (group commit), or to the spool's sync thread
 * (aud_spool_sync_begin), so that the emitter goes on serving Kafka's
 * delivery reports while the disk flushes; NEVER leaves write-back to the kernel: a record
 * survives the death of the process but not a power cut.  A new segment's
 * directory entry is fsync'ed too (ALWAYS and BATCH).
 *
 * Damage: at open every segment is read and checked frame by frame.  A frame
 * whose magic, length or CRC is wrong starts a damaged region; the scanner
 * looks for the next frame that checks out and carries on from there, so
 * the records before (and after) the damage are kept.  Damaged regions are
 * reported (aud_spool_stats, and a log line naming the segment and offset)
 * and skipped.
 *
 * Single-threaded: one thread (the emitter's) owns a spool; the helpers
 * (the preparer, the sync thread) touch nothing but their own file
 * descriptor and a state under their own lock.
 */
#ifndef AUD_SPOOL_H
#define AUD_SPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/cm_status.h"

#define AUD_SPOOL_SEG_MAGIC "STWSPL01"
#define AUD_SPOOL_SEG_HDR 8
#define AUD_SPOOL_FRAME_HDR 12
#define AUD_SPOOL_MAX_BODY (64u << 20) /* one frame's body, sanity bound */
#define AUD_SPOOL_MAX_KEY 1024

enum aud_spool_fsync {
    AUD_SPOOL_FSYNC_ALWAYS,
    AUD_SPOOL_FSYNC_BATCH,
    AUD_SPOOL_FSYNC_NEVER,
};

/* Called at open for every intact frame, in spool order (the emitter uses it
 * to recover chain state from records newer than the state file).  Borrowed
 * bytes, valid during the call. */
typedef void aud_spool_frame_fn(void *arg, const char *key, size_t klen, const char *val,
                                size_t vlen);

struct aud_spool_conf {
    const char *dir;        /* created (mode 0700) when missing; parent must exist */
    uint64_t max_bytes;     /* budget: total size of the segment files */
    uint64_t segment_bytes; /* rotate after this; 0: min(4 MiB, max_bytes / 4) */
    enum aud_spool_fsync fsync;
    aud_spool_frame_fn *on_frame; /* may be NULL */
    void *on_frame_arg;
    /* BATCH: called on the sync thread when background sync `ticket` ends
     * (ok: its fdatasync succeeded), after aud_spool_sync_ended can answer
     * for it; may be NULL.  The emitter releases the answers waiting for it
     * there, and wakes its thread. */
    void (*on_synced)(void *arg, uint64_t ticket, bool ok);
    void *on_synced_arg;
};

struct aud_spool_stats {
    uint64_t bytes;     /* headers and frames in the segment files (not their padding) */
    uint64_t segments;  /* segment files */
    uint64_t records;   /* not yet confirmed (pending + in flight) */
    uint64_t pending;   /* waiting for aud_spool_next */
    uint64_t appended;  /* since open */
    uint64_t confirmed; /* since open */
    uint64_t recovered; /* records found at open */
    uint64_t damaged;   /* damaged regions skipped (open and reads) */
    uint64_t damaged_bytes;
    uint64_t prepared;   /* segments begun in prepared space (ALWAYS, BATCH) */
    uint64_t unprepared; /* segments begun without (none was ready) */
    bool prepared_ready; /* the next segment's space is ready */
};

/* One record handed out by aud_spool_next: key and val point into the
 * spool's read buffer, valid until the next aud_spool_next or close. */
struct aud_spool_rec {
    uint64_t id;
    const char *key;
    size_t klen;
    const char *val;
    size_t vlen;
};

struct aud_spool;

/* Opens (creating when needed) and locks the spool directory, reads every
 * segment (records found become pending, in order).  Returns CM_OK with an
 * owned spool in *out (free with aud_spool_close), CM_EIO (cannot create,
 * read or lock: "in use by another process") or CM_EINPUT (bad conf). */
int aud_spool_open(const struct aud_spool_conf *conf, struct aud_spool **out,
                   struct cm_err *err) CM_MUSTCHECK;
/* Appends one record.  pending=true leaves it for aud_spool_next (replay);
 * false means the caller is sending it now (it is in flight: confirm or
 * release it).  Returns CM_OK with its id in *id, CM_ELIMIT (it would take
 * the spool over max_bytes: nothing written) or CM_EIO (write or fsync
 * failed: nothing kept; err says why). */
int aud_spool_append(struct aud_spool *sp, const void *key, size_t klen, const void *val,
                     size_t vlen, bool pending, uint64_t *id, struct cm_err *err) CM_MUSTCHECK;
/* BATCH: fdatasync()s what was appended since the last call, after waiting
 * for a background sync still running.  ALWAYS and NEVER: nothing to do.
 * Returns CM_OK or CM_EIO. */
int aud_spool_sync(struct aud_spool *sp, struct cm_err *err) CM_MUSTCHECK;
/* BATCH: starts the fdatasync of everything appended so far on the spool's
 * sync thread and returns at once; *ticket names it (0: nothing to sync,
 * all appended is already synced).  One runs at a time: CM_RETRY while the
 * last one has not ended (start the next at its end).  Appends, confirms
 * and releases go on meanwhile; records appended after the call are not
 * covered by it.  CM_EIO: it could not be started (err). */
int aud_spool_sync_begin(struct aud_spool *sp, uint64_t *ticket, struct cm_err *err) CM_MUSTCHECK;
/* Whether background sync `ticket` has ended: CM_OK (synced), CM_RETRY
 * (still running; wait=true waits for it instead) or CM_EIO (fdatasync
 * failed: err).  A ticket is answered until the next one begins. */
int aud_spool_sync_ended(struct aud_spool *sp, uint64_t ticket, bool wait,
                         struct cm_err *err) CM_MUSTCHECK;
/* The oldest pending record, now in flight.  Returns CM_OK, or CM_AGAIN when
 * none is pending.  A record that no longer reads back intact is counted as
 * damaged, dropped from the spool and skipped. */
int aud_spool_next(struct aud_spool *sp, struct aud_spool_rec *out) CM_MUSTCHECK;
/* Delivered: the record leaves the spool (its segment is deleted once all
 * its records have).  Unknown or already confirmed ids are ignored. */
void aud_spool_confirm(struct aud_spool *sp, uint64_t id);
/* Not delivered after all: the record is pending again, in its place. */
void aud_spool_release(struct aud_spool *sp, uint64_t id);
void aud_spool_stats(const struct aud_spool *sp, struct aud_spool_stats *out);
/* Syncs (BATCH, ALWAYS), deletes fully confirmed segments, unlocks, frees.
 * NULL-safe. */
void aud_spool_close(struct aud_spool *sp);

/* ----------------------------------------------------------- format */

/* Size of the frame holding a key of klen and a value of vlen bytes. */
size_t aud_spool_frame_size(size_t klen, size_t vlen);
/* Writes that frame into out (aud_spool_frame_size bytes). */
void aud_spool_frame_encode(void *out, const void *key, size_t klen, const void *val, size_t vlen);

struct aud_spool_scan_report {
    size_t frames;        /* intact frames */
    size_t damaged;       /* damaged regions (a bad header counts as one) */
    size_t damaged_bytes; /* bytes in them */
    size_t first_damage;  /* offset of the first damaged byte (when damaged > 0) */
    size_t end;           /* where the data ends: len less a zero tail after the last frame */
};

/* Parses the bytes of one segment file (header and frames), calling fn for
 * each intact frame with its offset and frame length, and skipping damaged
 * regions as described above.  Pure; any thread; never reads outside
 * data[0..len).  fn may be NULL. */
typedef void aud_spool_scan_fn(void *arg, size_t off, size_t frame_len, const char *key,
                               size_t klen, const char *val, size_t vlen);
void aud_spool_scan(const void *data, size_t len, aud_spool_scan_fn *fn, void *arg,
                    struct aud_spool_scan_report *out);

#endif /* AUD_SPOOL_H */
