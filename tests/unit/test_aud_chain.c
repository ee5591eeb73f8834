/* SPDX-License-Identifier: Apache-2.0
 *
 * test_aud_chain: record chains and checkpoints (audit/aud_chain.c) and
 * Ed25519 keys (audit/aud_sign.c): stamping links each record to the hash
 * of its predecessor's exact bytes, a stamped record passes the loader's
 * validator, the state survives a restart (and a torn slot, and a lost
 * file starts a new chain), a state left unclean under another boot (or an
 * unknown one, or in the old slot format) starts a new chain while a clean
 * one continues, recovery adopts a newer spooled record,
 * checkpoints are signed and verify, and any change to a signed field or
 * to the signature fails; private keys readable by others are refused.
 */
#include <check.h>
#include <fcntl.h>
#include <zlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit/aud_chain.h"
#include "audit/aud_record.h"
#include "audit/aud_sign.h"
#include "audit/aud_validate.h"
#include "common/cm_hash.h"
#include "common/cm_log.h"
#include "tests/unit/unit_tmpdir.h"
#include "tests/unit/unit_main.h"

/* A minimal valid record without a chain member, into b. */
static void
record(struct cm_buf *b, int i)
{
    struct aud_record rec;
    struct cm_err err;

    aud_record_init(&rec);
    cm_uuid7(rec.id);
    rec.id[15] = (uint8_t)i;
    rec.ts_start_us = rec.ts_end_us = 1764431435123456LL;
    rec.instance = "sc-1";
    rec.method = "POST";
    rec.path = "/v1/chat/completions";
    rec.route = "chat";
    rec.outcome = "ok";
    rec.http_status = 200;
    cm_buf_reset(b);
    ck_assert_int_eq(aud_record_json(&rec, b, &err), CM_OK);
}

static struct aud_chain *
open_chain(unsigned idx)
{
    struct aud_chain *c = NULL;
    struct cm_err err = {{0}};

    ck_assert_msg(aud_chain_open(unit_dir, idx, AUD_SPOOL_FSYNC_BATCH, &c, &err) == CM_OK, "%s",
                  err.msg);
    return c;
}

START_TEST(test_stamp_links)
{
    struct aud_chain *c = open_chain(0);
    struct aud_chain_state st;
    struct cm_buf b;
    struct cm_err err = {{0}};
    uint8_t prev[CM_SHA256_LEN] = {0};
    char prevhex[CM_SHA256_HEX_LEN];

    aud_chain_get(c, &st);
    ck_assert(st.created);
    ck_assert_uint_eq(st.seq, 0);
    cm_buf_init(&b);
    for (int i = 1; i <= 5; i++) {
        struct aud_chain_link link;

        record(&b, i);
        ck_assert_uint_eq(aud_chain_stamp(c, &b), (uint64_t)i);
        ck_assert_msg(aud_validate(b.p, b.len, &err) == CM_OK, "%s: %s", err.msg, b.p);
        ck_assert_int_eq(aud_chain_link_parse(b.p, b.len, &link, &err), CM_OK);
        ck_assert_int_eq(link.seq, i);
        ck_assert_str_eq(link.chain_id, aud_chain_id(c));
        cm_hex(prev, CM_SHA256_LEN, prevhex);
        ck_assert_str_eq(link.prev, prevhex);
        /* What is hashed: the exact bytes, chain member included. */
        cm_sha256(b.p, b.len, prev);
        aud_chain_get(c, &st);
        ck_assert(memcmp(st.last, prev, CM_SHA256_LEN) == 0);
        ck_assert(b.p[b.len - 1] == '}');
    }
    cm_buf_fini(&b);
    aud_chain_close(c, true);
}
END_TEST

/* The builder writes the same chain member as the stamp. */
START_TEST(test_builder_chain_member)
{
    struct aud_record rec;
    struct cm_buf a, b;
    struct cm_err err;
    struct aud_chain *c = open_chain(0);
    char zeros[CM_SHA256_HEX_LEN];

    memset(zeros, '0', 64);
    zeros[64] = '\0';
    cm_buf_init(&a);
    cm_buf_init(&b);
    record(&a, 1);
    aud_chain_stamp(c, &a);
    aud_record_init(&rec);
    /* Rebuild the same record with the chain fields set. */
    {
        struct aud_chain_link link;

        ck_assert_int_eq(aud_chain_link_parse(a.p, a.len, &link, &err), CM_OK);
        ck_assert_int_eq(cm_uuid_parse(link.record_id, rec.id), CM_OK);
    }
    rec.ts_start_us = rec.ts_end_us = 1764431435123456LL;
    rec.instance = "sc-1";
    rec.method = "POST";
    rec.path = "/v1/chat/completions";
    rec.route = "chat";
    rec.outcome = "ok";
    rec.http_status = 200;
    rec.chain_id = aud_chain_id(c);
    rec.chain_seq = 1;
    rec.chain_prev = zeros;
    ck_assert_int_eq(aud_record_json(&rec, &b, &err), CM_OK);
    ck_assert_str_eq(a.p, b.p);
    rec.chain_prev = NULL;
    cm_buf_reset(&b);
    ck_assert_int_eq(aud_record_json(&rec, &b, &err), CM_EINPUT);
    cm_buf_fini(&a);
    cm_buf_fini(&b);
    aud_chain_close(c, true);
}
END_TEST

START_TEST(test_state_survives_restart)
{
    struct aud_chain *c = open_chain(3);
    struct aud_chain_state st, st2;
    struct cm_buf b;
    struct cm_err err;
    char id[CM_UUID_STR_LEN];

    cm_buf_init(&b);
    for (int i = 0; i < 4; i++) {
        record(&b, i);
        aud_chain_stamp(c, &b);
        ck_assert_int_eq(aud_chain_save(c, &err), CM_OK);
    }
    aud_chain_get(c, &st);
    snprintf(id, sizeof(id), "%s", aud_chain_id(c));
    aud_chain_close(c, false); /* as after a crash: not clean */

    c = open_chain(3);
    aud_chain_get(c, &st2);
    ck_assert_str_eq(aud_chain_id(c), id);
    ck_assert_uint_eq(st2.seq, 4);
    ck_assert(memcmp(st.last, st2.last, CM_SHA256_LEN) == 0);
    ck_assert(!st2.clean);
    ck_assert(!st2.created);
    aud_chain_close(c, true);

    c = open_chain(3);
    aud_chain_get(c, &st2);
    ck_assert(st2.clean);
    aud_chain_close(c, true);
    cm_buf_fini(&b);
}
END_TEST

/* A torn newest slot falls back to the older one; both gone: new chain. */
START_TEST(test_torn_state)
{
    struct aud_chain *c = open_chain(0);
    struct aud_chain_state st;
    struct cm_buf b;
    struct cm_err err;
    char path[128], id[CM_UUID_STR_LEN], junk[256];
    int fd;

    cm_buf_init(&b);
    for (int i = 0; i < 3; i++) {
        record(&b, i);
        aud_chain_stamp(c, &b);
        ck_assert_int_eq(aud_chain_save(c, &err), CM_OK);
    }
    snprintf(id, sizeof(id), "%s", aud_chain_id(c));
    aud_chain_close(c, false);
    /* open wrote gen 1, saves gen 2..4, close gen 5: slot 1 is newest. */
    snprintf(path, sizeof(path), "%s/chain-0.state", unit_dir);
    fd = open(path, O_RDWR);
    ck_assert_int_eq(pwrite(fd, "XX", 2, 128 + 40), 2);
    close(fd);
    c = open_chain(0);
    aud_chain_get(c, &st);
    ck_assert_str_eq(aud_chain_id(c), id);
    ck_assert_uint_eq(st.seq, 3); /* slot 0 (gen 4) held the same seq */
    aud_chain_close(c, false);

    memset(junk, 0x5a, sizeof(junk));
    fd = open(path, O_RDWR);
    ck_assert_int_eq(pwrite(fd, junk, sizeof(junk), 0), (ssize_t)sizeof(junk));
    close(fd);
    c = open_chain(0);
    aud_chain_get(c, &st);
    ck_assert_str_ne(aud_chain_id(c), id);
    ck_assert(st.created);
    ck_assert_uint_eq(st.seq, 0);
    aud_chain_close(c, true);
    cm_buf_fini(&b);
}
END_TEST

/* Opens chain 0 as if the kernel's boot id were boot (NULL: none known). */
static struct aud_chain *
open_boot(const char *boot)
{
    struct aud_chain *c = NULL;
    struct cm_err err = {{0}};
    char path[128];

    snprintf(path, sizeof(path), "%s/boot_id", unit_dir);
    unlink(path);
    if (boot != NULL) {
        FILE *f = fopen(path, "w");

        ck_assert_ptr_nonnull(f);
        fprintf(f, "%s\n", boot);
        fclose(f);
    }
    ck_assert_msg(aud_chain_open_boot(unit_dir, 0, AUD_SPOOL_FSYNC_BATCH, path, &c, &err) == CM_OK,
                  "%s", err.msg);
    return c;
}

/* Stamps and saves n records. */
static void
advance(struct aud_chain *c, int n)
{
    struct cm_buf b;
    struct cm_err err;

    cm_buf_init(&b);
    for (int i = 0; i < n; i++) {
        record(&b, i);
        aud_chain_stamp(c, &b);
        ck_assert_int_eq(aud_chain_save(c, &err), CM_OK);
    }
    cm_buf_fini(&b);
}

#define BOOT_A "6f1c2b1e-9a43-4b7e-8f00-0a1b2c3d4e5f"
#define BOOT_B "0d9e8f7a-6b5c-4d3e-9f21-102132435465"

/* The saves are not synced: a state left unclean under the same boot (a
 * crash of the process) continues; under another boot (the machine went
 * down and may have lost them) a new chain starts; a clean stop continues
 * across boots. */
START_TEST(test_reboot_new_chain)
{
    struct aud_chain *c = open_boot(BOOT_A);
    struct aud_chain_state st;
    char id[CM_UUID_STR_LEN], id2[CM_UUID_STR_LEN];

    advance(c, 5);
    snprintf(id, sizeof(id), "%s", aud_chain_id(c));
    aud_chain_close(c, false);

    c = open_boot(BOOT_A); /* steward crashed, the machine did not */
    aud_chain_get(c, &st);
    ck_assert_str_eq(aud_chain_id(c), id);
    ck_assert_uint_eq(st.seq, 5);
    ck_assert(!st.clean && !st.created && !st.restarted);
    advance(c, 2);
    aud_chain_close(c, false);

    c = open_boot(BOOT_B); /* the machine went down */
    aud_chain_get(c, &st);
    ck_assert_str_ne(aud_chain_id(c), id);
    ck_assert_uint_eq(st.seq, 0);
    ck_assert_uint_eq(st.cp_seq, 0);
    ck_assert(st.created && st.restarted && st.clean);
    snprintf(id2, sizeof(id2), "%s", aud_chain_id(c));
    advance(c, 3);
    aud_chain_close(c, true);

    c = open_boot(BOOT_A); /* a clean stop, then another boot */
    aud_chain_get(c, &st);
    ck_assert_str_eq(aud_chain_id(c), id2);
    ck_assert_uint_eq(st.seq, 3);
    ck_assert(st.clean && !st.created && !st.restarted);
    aud_chain_close(c, false);

    c = open_boot(NULL); /* no boot id: an unclean state is not trusted */
    aud_chain_get(c, &st);
    ck_assert_str_ne(aud_chain_id(c), id2);
    ck_assert(st.restarted);
    aud_chain_close(c, false);
    c = open_boot(NULL); /* not even under the same unknown boot */
    aud_chain_get(c, &st);
    ck_assert(st.restarted);
    aud_chain_close(c, true);
}
END_TEST

/* A state file from before the boot id ("STWCHN01" slots): clean, it
 * continues; unclean, its boot is unknown and a new chain starts. */
START_TEST(test_state_v1)
{
    static const uint8_t id[16] = {0x01, 0x93, 0x2b, 0x4c, 0x5d, 0x6e, 0x7f, 0x80,
                                   0x91, 0xa2, 0xb3, 0xc4, 0xd5, 0xe6, 0xf7, 0x08};
    char path[128], idstr[CM_UUID_STR_LEN];

    cm_uuid_fmt(id, idstr);
    snprintf(path, sizeof(path), "%s/chain-0.state", unit_dir);
    for (int clean = 1; clean >= 0; clean--) {
        uint8_t slot[128] = {0};
        struct aud_chain *c;
        struct aud_chain_state st;
        uLong crc;
        int fd;

        memcpy(slot, "STWCHN01", 8);
        slot[8] = 7; /* generation */
        memcpy(slot + 16, id, 16);
        slot[32] = 42; /* seq */
        memset(slot + 40, 0xab, 32);
        slot[72] = 40; /* checkpointed seq */
        slot[80] = (uint8_t)clean;
        crc = crc32(crc32(0L, Z_NULL, 0), slot, 84);
        for (int i = 0; i < 4; i++)
            slot[84 + i] = (uint8_t)(crc >> (8 * i));
        fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(pwrite(fd, slot, sizeof(slot), 128), (ssize_t)sizeof(slot));
        close(fd);

        c = open_boot(BOOT_A);
        aud_chain_get(c, &st);
        if (clean) {
            ck_assert_str_eq(aud_chain_id(c), idstr);
            ck_assert_uint_eq(st.seq, 42);
            ck_assert_uint_eq(st.cp_seq, 40);
            ck_assert_uint_eq(st.last[0], 0xab);
            ck_assert(!st.restarted);
        } else {
            ck_assert_str_ne(aud_chain_id(c), idstr);
            ck_assert_uint_eq(st.seq, 0);
            ck_assert(st.restarted);
        }
        aud_chain_close(c, true);
        /* what it wrote back is the new format, and reads back whole */
        c = open_boot(BOOT_B);
        aud_chain_get(c, &st);
        ck_assert(st.clean && !st.restarted);
        ck_assert_uint_eq(st.seq, clean ? 42 : 0);
        aud_chain_close(c, true);
    }
}
END_TEST

START_TEST(test_adopt)
{
    struct aud_chain *c = open_chain(0);
    struct aud_chain_state st;
    uint8_t h[CM_SHA256_LEN];

    memset(h, 7, sizeof(h));
    aud_chain_adopt(c, 9, h);
    aud_chain_get(c, &st);
    ck_assert_uint_eq(st.seq, 9);
    ck_assert(memcmp(st.last, h, sizeof(h)) == 0);
    memset(h, 8, sizeof(h));
    aud_chain_adopt(c, 5, h); /* older: ignored */
    aud_chain_get(c, &st);
    ck_assert_uint_eq(st.seq, 9);
    ck_assert_uint_eq(st.last[0], 7);
    aud_chain_close(c, true);
}
END_TEST

static struct aud_key *
make_key(char *path, size_t len)
{
    struct aud_key *k = NULL;
    struct cm_err err = {{0}};
    char id[AUD_KEY_ID_LEN];

    snprintf(path, len, "%s/sign.key", unit_dir);
    ck_assert_msg(aud_key_generate(path, id, &err) == CM_OK, "%s", err.msg);
    ck_assert_msg(aud_key_load_private(path, &k, &err) == CM_OK, "%s", err.msg);
    ck_assert_str_eq(aud_key_id(k), id);
    return k;
}

START_TEST(test_checkpoint_signed)
{
    struct aud_chain *c = open_chain(0);
    struct aud_key *key, *pub;
    struct cm_buf b, cp, msg;
    struct aud_checkpoint p;
    struct aud_chain_state st;
    struct cm_err err = {{0}};
    char path[128], pubpath[140], hash[CM_SHA256_HEX_LEN];

    key = make_key(path, sizeof(path));
    snprintf(pubpath, sizeof(pubpath), "%s.pub", path);
    ck_assert_msg(aud_key_load_public(pubpath, &pub, &err) == CM_OK, "%s", err.msg);
    ck_assert_str_eq(aud_key_id(pub), aud_key_id(key));
    cm_buf_init(&b);
    cm_buf_init(&cp);
    cm_buf_init(&msg);
    ck_assert_int_eq(aud_chain_checkpoint(c, "sc-1", 1764431435123456LL, key, &cp, &err),
                     CM_DECLINED);
    for (int i = 0; i < 3; i++) {
        record(&b, i);
        aud_chain_stamp(c, &b);
    }
    ck_assert_int_eq(aud_chain_checkpoint(c, "sc-1", 1764431435123456LL, key, &cp, &err), CM_OK);
    ck_assert_int_eq(aud_chain_checkpoint(c, "sc-1", 1764431435123456LL, key, &b, &err),
                     CM_DECLINED);
    ck_assert(aud_is_checkpoint(cp.p, cp.len));
    ck_assert(!aud_is_checkpoint("{\"schema\":\"steward.lineage/1\"}", 30));
    ck_assert_msg(aud_checkpoint_parse(cp.p, cp.len, &p, &err) == CM_OK, "%s", err.msg);
    aud_chain_get(c, &st);
    cm_hex(st.last, CM_SHA256_LEN, hash);
    ck_assert_int_eq(p.seq, 3);
    ck_assert_str_eq(p.hash, hash);
    ck_assert_str_eq(p.chain_id, aud_chain_id(c));
    ck_assert(p.has_sig);
    ck_assert_str_eq(p.key_id, aud_key_id(key));
    aud_checkpoint_message(&p, &msg);
    ck_assert(aud_key_verify(pub, msg.p, msg.len, p.sig, AUD_SIG_LEN));
    /* Any signed field changed: the signature no longer holds. */
    p.seq = 2;
    cm_buf_reset(&msg);
    aud_checkpoint_message(&p, &msg);
    ck_assert(!aud_key_verify(pub, msg.p, msg.len, p.sig, AUD_SIG_LEN));
    p.seq = 3;
    p.sig[10] ^= 1;
    cm_buf_reset(&msg);
    aud_checkpoint_message(&p, &msg);
    ck_assert(!aud_key_verify(pub, msg.p, msg.len, p.sig, AUD_SIG_LEN));

    /* Unsigned checkpoints parse too. */
    record(&b, 9);
    aud_chain_stamp(c, &b);
    cm_buf_reset(&cp);
    ck_assert_int_eq(aud_chain_checkpoint(c, NULL, 1764431435123456LL, NULL, &cp, &err), CM_OK);
    ck_assert_int_eq(aud_checkpoint_parse(cp.p, cp.len, &p, &err), CM_OK);
    ck_assert(!p.has_sig);
    aud_key_free(key);
    aud_key_free(pub);
    cm_buf_fini(&b);
    cm_buf_fini(&cp);
    cm_buf_fini(&msg);
    aud_chain_close(c, true);
}
END_TEST

static const struct {
    const char *json;
    const char *want;
} bad_cp[] = {
    {"[]", "not a JSON object"},
    {"{\"schema\":\"steward.lineage/1\"}", "schema"},
    {"{\"schema\":\"steward.checkpoint/1\",\"chain_id\":\"nope\"}", "chain_id"},
    {"{\"schema\":\"steward.checkpoint/1\",\"chain_id\":\"01932a4b-5c6d-7e8f-90a1-b2c3d4e5f607\","
     "\"seq\":0}",
     "seq"},
    {"{\"schema\":\"steward.checkpoint/1\",\"chain_id\":\"01932a4b-5c6d-7e8f-90a1-b2c3d4e5f607\","
     "\"seq\":1,\"hash\":\"ABC\"}",
     "hash"},
    {"{\"schema\":\"steward.checkpoint/1\",\"chain_id\":\"01932a4b-5c6d-7e8f-90a1-b2c3d4e5f607\","
     "\"seq\":1,\"hash\":\"" /* 64 hex */
     "0000000000000000000000000000000000000000000000000000000000000000\",\"ts\":\"yesterday\"}",
     "ts"},
    {"{\"schema\":\"steward.checkpoint/1\",\"chain_id\":\"01932a4b-5c6d-7e8f-90a1-b2c3d4e5f607\","
     "\"seq\":1,\"hash\":\"0000000000000000000000000000000000000000000000000000000000000000\","
     "\"ts\":\"2025-11-29T15:50:35.123456Z\",\"key_id\":\"0011223344556677\",\"sig\":null}",
     "sig"},
};

START_TEST(test_checkpoint_parse_bad)
{
    struct aud_checkpoint p;
    struct cm_err err = {{0}};

    ck_assert_int_eq(aud_checkpoint_parse(bad_cp[_i].json, strlen(bad_cp[_i].json), &p, &err),
                     CM_EINPUT);
    ck_assert_msg(strstr(err.msg, bad_cp[_i].want) != NULL, "got '%s'", err.msg);
}
END_TEST

START_TEST(test_key_secrecy)
{
    struct aud_key *k;
    struct cm_err err = {{0}};
    char path[128], pubpath[140], id[AUD_KEY_ID_LEN];

    k = make_key(path, sizeof(path));
    aud_key_free(k);
    ck_assert_int_eq(chmod(path, 0640), 0);
    ck_assert_int_eq(aud_key_load_private(path, &k, &err), CM_EINPUT);
    ck_assert_ptr_nonnull(strstr(err.msg, "group or others"));
    ck_assert_int_eq(chmod(path, 0600), 0);
    /* keygen never overwrites. */
    ck_assert_int_eq(aud_key_generate(path, id, &err), CM_EIO);
    /* A public key is not a private key and the other way round. */
    snprintf(pubpath, sizeof(pubpath), "%s.pub", path);
    ck_assert_int_eq(aud_key_load_private(pubpath, &k, &err), CM_EINPUT);
    ck_assert_int_eq(aud_key_load_public(path, &k, &err), CM_EINPUT);
    ck_assert_int_eq(aud_key_load_public("/nonexistent.pub", &k, &err), CM_EIO);
}
END_TEST

static Suite *
suite(void)
{
    Suite *s = suite_create("aud_chain");
    TCase *tc = tcase_create("chain");

    tcase_add_checked_fixture(tc, unit_tmpdir_setup, unit_tmpdir_teardown);
    tcase_add_test(tc, test_stamp_links);
    tcase_add_test(tc, test_builder_chain_member);
    tcase_add_test(tc, test_state_survives_restart);
    tcase_add_test(tc, test_torn_state);
    tcase_add_test(tc, test_reboot_new_chain);
    tcase_add_test(tc, test_state_v1);
    tcase_add_test(tc, test_adopt);
    tcase_add_test(tc, test_checkpoint_signed);
    tcase_add_loop_test(tc, test_checkpoint_parse_bad, 0, CM_ARRAY_LEN(bad_cp));
    tcase_add_test(tc, test_key_secrecy);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    cm_log_init("test_aud_chain", CM_LOG_ERR);
    return unit_run(suite());
}
