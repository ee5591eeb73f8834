/* SPDX-License-Identifier: Apache-2.0
 *
 * test_aud_spool: the lineage spool (audit/aud_spool.c) on real files in a
 * temporary directory: append and replay order across segment rotation,
 * confirm deletes segments, release puts a record back in its place,
 * reopening recovers every unconfirmed record in order, a torn tail and a
 * flipped byte are reported and skipped without losing the records around
 * them, segments in prepared space and their padding, the group sync on
 * the spool's sync thread, the disk budget, the
 * directory lock, and the pure frame scanner.
 */
#include <check.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit/aud_spool.h"
#include "common/cm_log.h"
#include "tests/unit/unit_tmpdir.h"
#include "tests/unit/unit_main.h"

static struct aud_spool *
open_spool(uint64_t max, uint64_t seg, enum aud_spool_fsync fs)
{
    struct aud_spool_conf c = {
        .dir = unit_dir, .max_bytes = max, .segment_bytes = seg, .fsync = fs};
    struct aud_spool *sp = NULL;
    struct cm_err err = {{0}};

    ck_assert_msg(aud_spool_open(&c, &sp, &err) == CM_OK, "%s", err.msg);
    return sp;
}

static uint64_t
put(struct aud_spool *sp, int i, bool pending)
{
    char val[64];
    uint64_t id = 0;
    struct cm_err err = {{0}};
    int n = snprintf(val, sizeof(val), "{\"n\":%d,\"pad\":\"xxxxxxxxxxxxxxxx\"}", i);

    ck_assert_msg(aud_spool_append(sp, "chain-a", 7, val, (size_t)n, pending, &id, &err) == CM_OK,
                  "%s", err.msg);
    return id;
}

/* The n of the record aud_spool_next hands out, or -1 when none. */
static int
next_n(struct aud_spool *sp, uint64_t *id)
{
    struct aud_spool_rec r;
    int n;

    if (aud_spool_next(sp, &r) != CM_OK)
        return -1;
    ck_assert_uint_eq(r.klen, 7);
    ck_assert(memcmp(r.key, "chain-a", 7) == 0);
    ck_assert_int_eq(sscanf(r.val, "{\"n\":%d", &n), 1);
    if (id != NULL)
        *id = r.id;
    return n;
}

/* The frame size of put()'s record i. */
static size_t
frame_of(int i)
{
    char val[64];
    int n = snprintf(val, sizeof(val), "{\"n\":%d,\"pad\":\"xxxxxxxxxxxxxxxx\"}", i);

    return aud_spool_frame_size(7, (size_t)n);
}

static int
count_segments(void)
{
    DIR *d = opendir(unit_dir);
    struct dirent *de;
    int n = 0;

    ck_assert_ptr_nonnull(d);
    while ((de = readdir(d)) != NULL)
        if (strstr(de->d_name, ".seg") != NULL)
            n++;
    closedir(d);
    return n;
}

/* The path of the newest segment file. */
static void
last_segment(char *out, size_t len)
{
    DIR *d = opendir(unit_dir);
    struct dirent *de;
    char best[256] = "";

    while ((de = readdir(d)) != NULL)
        if (strstr(de->d_name, ".seg") != NULL && strcmp(de->d_name, best) > 0)
            snprintf(best, sizeof(best), "%s", de->d_name);
    closedir(d);
    ck_assert(best[0] != '\0');
    snprintf(out, len, "%s/%s", unit_dir, best);
}

START_TEST(test_order_across_rotation)
{
    struct aud_spool *sp = open_spool(1 << 20, 256, AUD_SPOOL_FSYNC_BATCH);
    struct aud_spool_stats st;
    struct cm_err err;
    uint64_t ids[40];

    for (int i = 0; i < 40; i++)
        ids[i] = put(sp, i, true);
    ck_assert_int_eq(aud_spool_sync(sp, &err), CM_OK);
    ck_assert_int_gt(count_segments(), 5); /* 256-byte segments rotate */
    for (int i = 0; i < 40; i++)
        ck_assert_int_eq(next_n(sp, NULL), i);
    ck_assert_int_eq(next_n(sp, NULL), -1);
    aud_spool_stats(sp, &st);
    ck_assert_uint_eq(st.records, 40);
    ck_assert_uint_eq(st.pending, 0);
    for (int i = 0; i < 40; i++)
        aud_spool_confirm(sp, ids[i]);
    aud_spool_stats(sp, &st);
    ck_assert_uint_eq(st.records, 0);
    ck_assert_int_le(count_segments(), 1); /* only the active one may stay */
    aud_spool_close(sp);
    ck_assert_int_eq(count_segments(), 0);
}
END_TEST

static atomic_int synced_calls;
static atomic_uint_fast64_t synced_last; /* the ticket of the last call, 0 if it failed */

static void
count_synced(void *arg, uint64_t ticket, bool ok)
{
    (void)arg;
    atomic_store(&synced_last, ok ? ticket : 0);
    atomic_fetch_add(&synced_calls, 1);
}

/* BATCH's group sync on the spool's sync thread: a ticket per sync that
 * has something to do, one at a time, the callback at its end, appends
 * (across rotations) and confirms going on meanwhile, nothing lost. */
START_TEST(test_background_sync)
{
    struct aud_spool_conf c = {.dir = unit_dir,
                               .max_bytes = 1 << 20,
                               .segment_bytes = 256,
                               .fsync = AUD_SPOOL_FSYNC_BATCH,
                               .on_synced = count_synced};
    struct aud_spool *sp = NULL;
    struct cm_err err = {{0}};
    uint64_t t, last = 0, ids[60];
    int rc, began = 0;

    atomic_store(&synced_calls, 0);
    ck_assert_msg(aud_spool_open(&c, &sp, &err) == CM_OK, "%s", err.msg);
    ck_assert_int_eq(aud_spool_sync_begin(sp, &t, &err), CM_OK);
    ck_assert_uint_eq(t, 0); /* nothing appended */

    ids[0] = put(sp, 0, false);
    ck_assert_int_eq(aud_spool_sync_begin(sp, &t, &err), CM_OK);
    ck_assert_uint_gt(t, 0);
    ids[1] = put(sp, 1, false); /* after the call: not covered by it */
    rc = aud_spool_sync_begin(sp, &last, &err);
    /* Still running (RETRY), or it ended and the next one began. */
    ck_assert(rc == CM_RETRY || (rc == CM_OK && last == t + 1));
    ck_assert_int_eq(aud_spool_sync_ended(sp, t, true, &err), CM_OK);
    if (rc == CM_RETRY) {
        ck_assert_int_eq(aud_spool_sync_begin(sp, &last, &err), CM_OK);
        ck_assert_uint_eq(last, t + 1);
    }
    ck_assert_int_eq(aud_spool_sync_ended(sp, last, true, &err), CM_OK);
    for (int i = 0; i < 2000 && atomic_load(&synced_calls) < 2; i++)
        usleep(1000);
    ck_assert_int_eq(atomic_load(&synced_calls), 2);
    ck_assert_uint_eq(atomic_load(&synced_last), last); /* its ticket, and it succeeded */
    ck_assert_int_eq(aud_spool_sync_begin(sp, &t, &err), CM_OK);
    ck_assert_uint_eq(t, 0);

    /* Appends that rotate 256-byte segments, with syncs begun whenever
     * none runs, and the first records confirmed meanwhile. */
    for (int i = 2; i < 60; i++) {
        ids[i] = put(sp, i, false);
        rc = aud_spool_sync_begin(sp, &t, &err);
        ck_assert_msg(rc == CM_OK || rc == CM_RETRY, "%s", err.msg);
        if (rc == CM_OK && t != 0) {
            ck_assert_uint_gt(t, last);
            last = t;
            began++;
        }
        if (i < 10)
            aud_spool_confirm(sp, ids[i - 2]);
    }
    ck_assert_int_gt(began, 0);
    ck_assert_int_gt(count_segments(), 5);
    ck_assert_int_eq(aud_spool_sync_ended(sp, last, true, &err), CM_OK);
    ck_assert_int_eq(aud_spool_sync(sp, &err), CM_OK); /* the rest */
    aud_spool_close(sp);

    /* Every record not confirmed is there, in order. */
    sp = open_spool(1 << 20, 256, AUD_SPOOL_FSYNC_BATCH);
    for (int i = 8; i < 60; i++)
        ck_assert_int_eq(next_n(sp, NULL), i);
    ck_assert_int_eq(next_n(sp, NULL), -1);
    aud_spool_close(sp);
}
END_TEST

/* A failed send puts the record back in its place, ahead of later ones. */
START_TEST(test_release_keeps_order)
{
    struct aud_spool *sp = open_spool(1 << 20, 0, AUD_SPOOL_FSYNC_NEVER);
    uint64_t id1, id2;

    for (int i = 0; i < 5; i++)
        put(sp, i, true);
    ck_assert_int_eq(next_n(sp, &id1), 0);
    ck_assert_int_eq(next_n(sp, &id2), 1);
    ck_assert_int_eq(next_n(sp, NULL), 2);
    aud_spool_release(sp, id2);
    aud_spool_release(sp, id1);
    ck_assert_int_eq(next_n(sp, NULL), 0);
    ck_assert_int_eq(next_n(sp, NULL), 1);
    ck_assert_int_eq(next_n(sp, NULL), 3);
    aud_spool_close(sp);
}
END_TEST

/* Reopening replays every unconfirmed record, in append order.  Whether a
 * record was confirmed is not written down: a segment with any unconfirmed
 * record comes back whole (at-least-once; the loader absorbs the repeats),
 * a segment whose records were all confirmed is gone. */
START_TEST(test_reopen_replays_unconfirmed)
{
    struct aud_spool *sp = open_spool(1 << 20, 300, AUD_SPOOL_FSYNC_ALWAYS);
    struct aud_spool_stats st;
    uint64_t ids[20];
    bool back[20] = {false};
    int n, last = -1;

    for (int i = 0; i < 20; i++)
        ids[i] = put(sp, i, i % 2 == 0);
    for (int i = 0; i < 20; i++)
        if (i % 3 == 0 || i < 5) /* the first segment holds 0..4 */
            aud_spool_confirm(sp, ids[i]);
    aud_spool_close(sp);

    sp = open_spool(1 << 20, 300, AUD_SPOOL_FSYNC_ALWAYS);
    aud_spool_stats(sp, &st);
    ck_assert_uint_eq(st.damaged, 0);
    while ((n = next_n(sp, NULL)) >= 0) {
        ck_assert_int_gt(n, last);
        last = n;
        back[n] = true;
    }
    for (int i = 0; i < 20; i++)
        ck_assert_msg(back[i] == (i >= 5), "record %d %s", i, back[i] ? "back" : "lost");
    aud_spool_close(sp);
}
END_TEST

START_TEST(test_torn_tail_keeps_earlier_records)
{
    struct aud_spool *sp = open_spool(1 << 20, 0, AUD_SPOOL_FSYNC_NEVER);
    struct aud_spool_stats st;
    char path[320];
    struct stat sb;

    for (int i = 0; i < 10; i++)
        put(sp, i, true);
    aud_spool_close(sp);
    last_segment(path, sizeof(path));
    ck_assert_int_eq(stat(path, &sb), 0);
    /* Power cut mid-write: the last frame is cut short. */
    ck_assert_int_eq(truncate(path, sb.st_size - 7), 0);

    sp = open_spool(1 << 20, 0, AUD_SPOOL_FSYNC_NEVER);
    aud_spool_stats(sp, &st);
    ck_assert_uint_eq(st.damaged, 1);
    ck_assert_uint_gt(st.damaged_bytes, 0);
    ck_assert_uint_eq(st.recovered, 9);
    for (int i = 0; i < 9; i++)
        ck_assert_int_eq(next_n(sp, NULL), i);
    ck_assert_int_eq(next_n(sp, NULL), -1);
    /* New appends go to a new segment, never after the torn bytes. */
    put(sp, 100, true);
    ck_assert_int_eq(next_n(sp, NULL), 100);
    aud_spool_close(sp);
}
END_TEST

/* A flipped byte in the middle: that record is skipped, the scanner finds
 * the next frame and the records after it are kept. */
START_TEST(test_corrupt_middle_resyncs)
{
    struct aud_spool *sp = open_spool(1 << 20, 0, AUD_SPOOL_FSYNC_NEVER);
    struct aud_spool_stats st;
    char path[320];
    size_t frame = aud_spool_frame_size(7, strlen("{\"n\":0,\"pad\":\"xxxxxxxxxxxxxxxx\"}"));
    int fd;
    char c;

    for (int i = 0; i < 10; i++)
        put(sp, i, true);
    aud_spool_close(sp);
    last_segment(path, sizeof(path));
    fd = open(path, O_RDWR);
    ck_assert_int_ge(fd, 0);
    /* Record 4's value: segment header + 4 frames + 20 bytes in. */
    ck_assert_int_eq(pread(fd, &c, 1, (off_t)(AUD_SPOOL_SEG_HDR + 4 * frame + 20)), 1);
    c ^= 0x40;
    ck_assert_int_eq(pwrite(fd, &c, 1, (off_t)(AUD_SPOOL_SEG_HDR + 4 * frame + 20)), 1);
    close(fd);

    sp = open_spool(1 << 20, 0, AUD_SPOOL_FSYNC_NEVER);
    aud_spool_stats(sp, &st);
    ck_assert_uint_eq(st.damaged, 1);
    ck_assert_uint_eq(st.damaged_bytes, frame);
    for (int i = 0; i < 10; i++)
        if (i != 4)
            ck_assert_int_eq(next_n(sp, NULL), i);
    ck_assert_int_eq(next_n(sp, NULL), -1);
    aud_spool_close(sp);
}
END_TEST

/* With a syncing policy every segment begins in prepared space: a file of
 * segment_bytes zeros made ahead by the helper thread.  The padding after
 * the last frame is not damage when the spool is read back, and it does
 * not count against the budget. */
START_TEST(test_prepared_segments)
{
    struct aud_spool *sp = open_spool(4 << 20, 64 << 10, AUD_SPOOL_FSYNC_BATCH);
    struct aud_spool_stats st;
    struct cm_err err = {{0}};
    char path[320], prep[320];
    uint64_t frames = 0;
    struct stat sb;
    int n = 0;

    snprintf(prep, sizeof(prep), "%s/prepared.tmp", unit_dir);
    frames += frame_of(n);
    put(sp, n++, true);
    ck_assert_int_eq(aud_spool_sync(sp, &err), CM_OK);
    last_segment(path, sizeof(path));
    ck_assert_int_eq(stat(path, &sb), 0);
    ck_assert_int_eq(sb.st_size, 64 << 10);
    aud_spool_stats(sp, &st);
    ck_assert_uint_eq(st.prepared, 1);
    ck_assert_uint_eq(st.unprepared, 0);
    ck_assert_uint_eq(st.bytes, AUD_SPOOL_SEG_HDR + frames);

    /* The helper prepares the next one while this one fills. */
    for (int i = 0; i < 1000 && !st.prepared_ready; i++) {
        usleep(10 * 1000);
        aud_spool_stats(sp, &st);
    }
    ck_assert_msg(st.prepared_ready, "no prepared segment after 10 s");
    ck_assert_int_eq(stat(prep, &sb), 0);
    ck_assert_int_eq(sb.st_size, 64 << 10);
    while (count_segments() < 2) {
        frames += frame_of(n);
        put(sp, n++, true);
        ck_assert_int_lt(n, 10000);
    }
    aud_spool_stats(sp, &st);
    ck_assert_uint_eq(st.prepared, 2);
    ck_assert_uint_eq(st.unprepared, 0);
    ck_assert_uint_eq(st.bytes, 2 * AUD_SPOOL_SEG_HDR + frames);
    last_segment(path, sizeof(path));
    ck_assert_int_eq(stat(path, &sb), 0);
    ck_assert_int_eq(sb.st_size, 64 << 10);
    aud_spool_close(sp);
    ck_assert_int_ne(stat(prep, &sb), 0); /* a clean close leaves no prepared file */

    /* Reopened: every record back, in order, and the padding is no damage. */
    sp = open_spool(4 << 20, 64 << 10, AUD_SPOOL_FSYNC_NEVER);
    aud_spool_stats(sp, &st);
    ck_assert_uint_eq(st.recovered, (uint64_t)n);
    ck_assert_uint_eq(st.damaged, 0);
    ck_assert_uint_eq(st.bytes, 2 * AUD_SPOOL_SEG_HDR + frames);
    for (int i = 0; i < n; i++)
        ck_assert_int_eq(next_n(sp, NULL), i);
    ck_assert_int_eq(next_n(sp, NULL), -1);
    aud_spool_close(sp);
}
END_TEST

/* The helper cannot prepare (a directory sits where its file goes): each
 * segment is created as before, nothing is lost, and once the obstacle is
 * gone the helper, asked again at the next rotation, prepares again. */
START_TEST(test_prepare_failure)
{
    struct aud_spool *sp;
    struct aud_spool_stats st;
    struct cm_err err = {{0}};
    char path[320], prep[320];
    uint64_t frames = 0;
    struct stat sb;
    int n = 0, segs;

    snprintf(prep, sizeof(prep), "%s/prepared.tmp", unit_dir);
    ck_assert_int_eq(mkdir(prep, 0700), 0);
    sp = open_spool(4 << 20, 64 << 10, AUD_SPOOL_FSYNC_BATCH);
    frames += frame_of(n);
    put(sp, n++, true);
    ck_assert_int_eq(aud_spool_sync(sp, &err), CM_OK);
    last_segment(path, sizeof(path));
    ck_assert_int_eq(stat(path, &sb), 0);
    ck_assert_int_eq(sb.st_size, (off_t)(AUD_SPOOL_SEG_HDR + frames)); /* grows as written */
    aud_spool_stats(sp, &st);
    ck_assert_uint_eq(st.prepared, 0);
    ck_assert_uint_eq(st.unprepared, 1);
    while (count_segments() < 3) {
        frames += frame_of(n);
        put(sp, n++, true);
        ck_assert_int_lt(n, 20000);
    }
    aud_spool_stats(sp, &st);
    ck_assert_uint_eq(st.prepared, 0);
    ck_assert_uint_eq(st.unprepared, 3);
    ck_assert(!st.prepared_ready);

    /* The obstacle goes; the next rotation asks the helper again. */
    ck_assert_int_eq(rmdir(prep), 0);
    for (segs = count_segments(); count_segments() == segs;) {
        frames += frame_of(n);
        put(sp, n++, true);
        ck_assert_int_lt(n, 20000);
    }
    for (int i = 0; i < 1000 && !st.prepared_ready; i++) {
        usleep(10 * 1000);
        aud_spool_stats(sp, &st);
    }
    ck_assert_msg(st.prepared_ready, "no prepared segment 10 s after the obstacle went");
    for (segs = count_segments(); count_segments() == segs;) {
        frames += frame_of(n);
        put(sp, n++, true);
        ck_assert_int_lt(n, 20000);
    }
    ck_assert_int_eq(aud_spool_sync(sp, &err), CM_OK);
    aud_spool_stats(sp, &st);
    ck_assert_uint_eq(st.prepared, 1);
    ck_assert_uint_eq(st.unprepared, 4);
    last_segment(path, sizeof(path));
    ck_assert_int_eq(stat(path, &sb), 0);
    ck_assert_int_eq(sb.st_size, 64 << 10);
    aud_spool_close(sp);

    /* Every record back, in order, from prepared and unprepared segments,
     * and the padding counts for nothing. */
    segs = count_segments();
    sp = open_spool(4 << 20, 64 << 10, AUD_SPOOL_FSYNC_NEVER);
    aud_spool_stats(sp, &st);
    ck_assert_uint_eq(st.recovered, (uint64_t)n);
    ck_assert_uint_eq(st.damaged, 0);
    ck_assert_uint_eq(st.bytes, (uint64_t)segs * AUD_SPOOL_SEG_HDR + frames);
    for (int i = 0; i < n; i++)
        ck_assert_int_eq(next_n(sp, NULL), i);
    ck_assert_int_eq(next_n(sp, NULL), -1);
    aud_spool_close(sp);
}
END_TEST

/* NEVER syncs nothing, so nothing is prepared: segments grow as written. */
START_TEST(test_unsynced_not_prepared)
{
    struct aud_spool *sp = open_spool(4 << 20, 64 << 10, AUD_SPOOL_FSYNC_NEVER);
    struct aud_spool_stats st;
    char path[320];
    struct stat sb;

    put(sp, 0, true);
    last_segment(path, sizeof(path));
    ck_assert_int_eq(stat(path, &sb), 0);
    ck_assert_int_eq(sb.st_size, (off_t)(AUD_SPOOL_SEG_HDR + frame_of(0)));
    aud_spool_stats(sp, &st);
    ck_assert_uint_eq(st.prepared + st.unprepared, 0);
    ck_assert(!st.prepared_ready);
    aud_spool_close(sp);
}
END_TEST

START_TEST(test_budget)
{
    struct aud_spool *sp = open_spool(4096, 1024, AUD_SPOOL_FSYNC_NEVER);
    struct aud_spool_stats st;
    struct cm_err err = {{0}};
    uint64_t id;
    int n = 0, rc;
    char val[] = "{\"n\":1,\"pad\":\"xxxxxxxxxxxxxxxx\"}";

    for (;;) {
        rc = aud_spool_append(sp, "chain-a", 7, val, strlen(val), true, &id, &err);
        if (rc != CM_OK)
            break;
        n++;
        ck_assert_int_lt(n, 200);
    }
    ck_assert_int_eq(rc, CM_ELIMIT);
    ck_assert_ptr_nonnull(strstr(err.msg, "spool full"));
    aud_spool_stats(sp, &st);
    ck_assert_uint_le(st.bytes, 4096);
    ck_assert_uint_eq(st.records, (uint64_t)n);
    /* Confirming the oldest segment's records frees room. */
    for (int i = 0; i < n / 2; i++) {
        struct aud_spool_rec r;

        ck_assert_int_eq(aud_spool_next(sp, &r), CM_OK);
        aud_spool_confirm(sp, r.id);
    }
    ck_assert_int_eq(aud_spool_append(sp, "chain-a", 7, val, strlen(val), true, &id, &err), CM_OK);
    aud_spool_close(sp);
}
END_TEST

START_TEST(test_locked)
{
    struct aud_spool *sp = open_spool(1 << 20, 0, AUD_SPOOL_FSYNC_NEVER);
    struct aud_spool_conf c = {.dir = unit_dir, .max_bytes = 1 << 20};
    struct aud_spool *sp2 = NULL;
    struct cm_err err = {{0}};

    ck_assert_int_eq(aud_spool_open(&c, &sp2, &err), CM_EIO);
    ck_assert_ptr_null(sp2);
    ck_assert_ptr_nonnull(strstr(err.msg, "in use"));
    aud_spool_close(sp);
    sp = open_spool(1 << 20, 0, AUD_SPOOL_FSYNC_NEVER);
    aud_spool_close(sp);
}
END_TEST

START_TEST(test_bad_conf)
{
    struct aud_spool_conf c = {.dir = "/nonexistent/parent/spool", .max_bytes = 1 << 20};
    struct aud_spool *sp = NULL;
    struct cm_err err = {{0}};

    ck_assert_int_eq(aud_spool_open(&c, &sp, &err), CM_EIO);
    c.dir = unit_dir;
    c.max_bytes = 10;
    ck_assert_int_eq(aud_spool_open(&c, &sp, &err), CM_EINPUT);
}
END_TEST

/* ------------------------------------------------------ the scanner */

struct seen {
    int n;
    size_t offs[8];
};

static void
on_frame(void *arg, size_t off, size_t frame_len, const char *key, size_t klen, const char *val,
         size_t vlen)
{
    struct seen *s = arg;

    (void)frame_len;
    (void)key;
    (void)klen;
    (void)val;
    (void)vlen;
    if (s->n < 8)
        s->offs[s->n] = off;
    s->n++;
}

START_TEST(test_scan_shapes)
{
    char buf[512];
    size_t f = aud_spool_frame_size(1, 3), len;
    struct aud_spool_scan_report rep;
    struct seen s = {0};

    /* Empty: nothing, no damage (a segment created a moment before a crash). */
    aud_spool_scan("", 0, on_frame, &s, &rep);
    ck_assert_uint_eq(rep.frames + rep.damaged, 0);

    /* Header only. */
    aud_spool_scan(AUD_SPOOL_SEG_MAGIC, AUD_SPOOL_SEG_HDR, on_frame, &s, &rep);
    ck_assert_uint_eq(rep.frames + rep.damaged, 0);

    /* Garbage: one damaged region, no frame. */
    memset(buf, 'z', 100);
    aud_spool_scan(buf, 100, on_frame, &s, &rep);
    ck_assert_uint_eq(rep.frames, 0);
    ck_assert_uint_eq(rep.damaged, 1);
    ck_assert_uint_eq(rep.damaged_bytes, 100);

    /* Bad header, then two good frames: the frames are found. */
    memcpy(buf, "BADHEADR", 8);
    aud_spool_frame_encode(buf + 8, "k", 1, "abc", 3);
    aud_spool_frame_encode(buf + 8 + f, "k", 1, "def", 3);
    len = 8 + 2 * f;
    memset(&s, 0, sizeof(s));
    aud_spool_scan(buf, len, on_frame, &s, &rep);
    ck_assert_int_eq(s.n, 2);
    ck_assert_uint_eq(rep.damaged, 1);
    ck_assert_uint_eq(rep.first_damage, 0);

    /* A frame whose length field points past the end. */
    memcpy(buf, AUD_SPOOL_SEG_MAGIC, 8);
    buf[8 + 4] = 0x7f;
    memset(&s, 0, sizeof(s));
    aud_spool_scan(buf, len, on_frame, &s, &rep);
    ck_assert_int_eq(s.n, 1);
    ck_assert_uint_eq(s.offs[0], 8 + f);
    ck_assert_uint_eq(rep.damaged, 1);

    /* Prepared space: zeros after the last frame are padding, not damage. */
    memset(buf, 0, sizeof(buf));
    memcpy(buf, AUD_SPOOL_SEG_MAGIC, 8);
    aud_spool_frame_encode(buf + 8, "k", 1, "abc", 3);
    aud_spool_frame_encode(buf + 8 + f, "k", 1, "de\0", 3); /* a value ending in a zero */
    memset(&s, 0, sizeof(s));
    aud_spool_scan(buf, 200, on_frame, &s, &rep);
    ck_assert_int_eq(s.n, 2);
    ck_assert_uint_eq(rep.damaged, 0);
    ck_assert_uint_eq(rep.end, 8 + 2 * f);
    aud_spool_scan(buf, 8 + 2 * f, on_frame, &s, &rep);
    ck_assert_uint_eq(rep.damaged, 0);
    ck_assert_uint_eq(rep.end, 8 + 2 * f);
    /* A header and nothing but padding. */
    aud_spool_scan(buf, 8, NULL, NULL, &rep);
    memset(buf + 8, 0, 2 * f);
    aud_spool_scan(buf, 200, NULL, NULL, &rep);
    ck_assert_uint_eq(rep.frames + rep.damaged, 0);
    ck_assert_uint_eq(rep.end, 8);
    /* A torn frame before the padding is damage, padding and all. */
    aud_spool_frame_encode(buf + 8, "k", 1, "abc", 3);
    memset(buf + 8 + f - 3, 0, 3);
    aud_spool_scan(buf, 200, NULL, NULL, &rep);
    ck_assert_uint_eq(rep.frames, 0);
    ck_assert_uint_eq(rep.damaged, 1);
    ck_assert_uint_eq(rep.first_damage, 8);
    ck_assert_uint_eq(rep.end, 200);
    /* Zeros where a frame was lost, a frame after them: damage. */
    memset(buf + 8, 0, f);
    aud_spool_frame_encode(buf + 8 + f, "k", 1, "def", 3);
    memset(&s, 0, sizeof(s));
    aud_spool_scan(buf, 200, on_frame, &s, &rep);
    ck_assert_int_eq(s.n, 1);
    ck_assert_uint_eq(rep.damaged, 1);
    ck_assert_uint_eq(rep.damaged_bytes, f);
    ck_assert_uint_eq(rep.end, 8 + 2 * f);
    /* No header, only zeros: damage (not a segment at all). */
    memset(buf, 0, sizeof(buf));
    aud_spool_scan(buf, 64, NULL, NULL, &rep);
    ck_assert_uint_eq(rep.damaged, 1);
}
END_TEST

static Suite *
suite(void)
{
    Suite *s = suite_create("aud_spool");
    TCase *tc = tcase_create("spool");

    tcase_add_checked_fixture(tc, unit_tmpdir_setup, unit_tmpdir_teardown);
    tcase_add_test(tc, test_order_across_rotation);
    tcase_add_test(tc, test_release_keeps_order);
    tcase_add_test(tc, test_reopen_replays_unconfirmed);
    tcase_add_test(tc, test_torn_tail_keeps_earlier_records);
    tcase_add_test(tc, test_corrupt_middle_resyncs);
    tcase_add_test(tc, test_prepared_segments);
    tcase_add_test(tc, test_prepare_failure);
    tcase_add_test(tc, test_unsynced_not_prepared);
    tcase_add_test(tc, test_background_sync);
    tcase_add_test(tc, test_budget);
    tcase_add_test(tc, test_locked);
    tcase_add_test(tc, test_bad_conf);
    tcase_add_test(tc, test_scan_shapes);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    cm_log_init("test_aud_spool", CM_LOG_ERR);
    return unit_run(suite());
}
