/* SPDX-License-Identifier: Apache-2.0
 *
 * steward-audit verify and keygen: the tamper evidence of the lineage store.
 *
 *   steward-audit verify  [--db CONNINFO] [--pubkey FILE]... [--chain ID]...
 *   steward-audit keygen  --out FILE
 *
 * verify recomputes the hash chains from the stored bytes (raw_bytes), checks
 * the stored columns against those bytes and the checkpoints' signatures,
 * and prints one line per problem naming the records; exit 0 when clean, 1
 * when it found problems, 2 when it could not check (database unreachable,
 * bad key file).  It reads every tenant's rows, so it is run by a role that
 * sees them all (the admin role, or the owner); an auditor role under
 * row-level security would see gaps where other tenants' records are.
 * keygen writes an Ed25519 key pair for checkpoint signing (private key
 * 0600, public key FILE.pub).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "audit/aud_chain.h"
#include "audit/aud_pg.h"
#include "audit/aud_sign.h"
#include "audit/aud_validate.h"
#include "audit/cli/sa_common.h"
#include "common/cm_buf.h"
#include "common/cm_hash.h"
#include "common/cm_mem.h"
#include "common/cm_time.h"

static void
usage(FILE *out)
{
    fprintf(out, "usage: steward-audit verify  [--db CONNINFO] [--pubkey FILE]... [--chain ID]...\n"
                 "       steward-audit keygen  --out FILE\n"
                 "verify:\n"
                 "  --pubkey FILE    Ed25519 public key (PEM) of the checkpoints; repeatable\n"
                 "                   (without it signatures are not checked)\n"
                 "  --chain ID       only this chain (repeatable)\n"
                 "  exit status      0 clean, 1 problems found (one line each), 2 error\n"
                 "keygen:\n"
                 "  --out FILE       private key FILE (mode 0600) and public key FILE.pub\n");
}

/* ------------------------------------------------------------ keygen */

int
sa_cmd_keygen(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"out", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *path = NULL;
    char id[AUD_KEY_ID_LEN];
    struct cm_err err = {{0}};
    int c;

    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'o': path = optarg; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 1;
        }
    }
    if (optind != argc)
        return sa_fail("keygen: unexpected argument '%s'", argv[optind]);
    if (path == NULL)
        return sa_fail("keygen: --out FILE is required");
    if (aud_key_generate(path, id, &err) != CM_OK)
        return sa_fail("keygen: %s", err.msg);
    printf("key_id=%s private=%s public=%s.pub\n", id, path, path);
    return 0;
}

/* ------------------------------------------------------------ verify */

#define VERIFY_FETCH 2000 /* rows per FETCH: keep in step with verify_walk's SQL */

struct vcp { /* one checkpoint */
    int64_t seq;
    char hash[CM_SHA256_HEX_LEN];
    bool seen; /* its record was reached */
};

struct vchain {
    char id[CM_UUID_STR_LEN];
    struct vcp *cps;
    size_t ncps;
    struct vexp { /* a seq range retention deleted (steward_chain_expired) */
        int64_t from, to;
    } * exp;
    size_t nexp; /* sorted by from, not overlapping */
    bool walked; /* some record of it was read */
};

struct verify {
    struct aud_key **keys;
    size_t nkeys;
    struct vchain *chains;
    size_t nchains;
    uint64_t records, checkpoints, signed_ok;
    uint64_t gaps, missing, edits, reorders, duplicates, cp_problems, unverifiable;
    uint64_t expired; /* positions retention deleted: not problems */

    /* walk state */
    char chain[CM_UUID_STR_LEN];
    bool in_chain;
    int64_t last_seq;
    char last_record[CM_UUID_STR_LEN];
    char last_hash[CM_SHA256_HEX_LEN];
    bool last_reordered;
    struct vchain *vc;

    FILE *out;                /* one line per problem */
    struct sa_progress *prog; /* or NULL */
};

/* One line about a problem, on v->out; clears a progress line first. */
static void vproblem(struct verify *v, const char *fmt, ...) CM_PRINTF(2, 3);

static void
vproblem(struct verify *v, const char *fmt, ...)
{
    va_list ap;

    if (v->prog != NULL)
        sa_progress_done(v->prog);
    va_start(ap, fmt);
    vfprintf(v->out, fmt, ap);
    va_end(ap);
}

static struct vchain *
vchain_get(struct verify *v, const char *id, bool create)
{
    for (size_t i = 0; i < v->nchains; i++)
        if (strcmp(v->chains[i].id, id) == 0)
            return &v->chains[i];
    if (!create)
        return NULL;
    v->chains = cm_realloc(v->chains, (v->nchains + 1) * sizeof(*v->chains));
    memset(&v->chains[v->nchains], 0, sizeof(v->chains[0]));
    snprintf(v->chains[v->nchains].id, CM_UUID_STR_LEN, "%s", id);
    return &v->chains[v->nchains++];
}

/* Decodes a bytea value in PostgreSQL's hex output ("\x0a1b..") into out. */
static bool
bytea_decode(const char *text, struct cm_buf *out)
{
    size_t n;

    cm_buf_reset(out);
    if (text == NULL || text[0] != '\\' || text[1] != 'x')
        return false;
    n = strlen(text + 2);
    cm_buf_reserve(out, n / 2 + 1);
    if (cm_unhex(text + 2, n, (uint8_t *)out->p, n / 2 + 1) != (long)(n / 2))
        return false;
    out->len = n / 2;
    out->p[out->len] = '\0';
    return true;
}

/* A WHERE clause limiting chain_id to the --chain values ($1). */
static void
chain_filter(struct cm_buf *sql, const char *col, size_t nchain, bool first)
{
    if (nchain > 0)
        cm_buf_printf(sql, " %s %s = ANY($1::uuid[])", first ? "WHERE" : "AND", col);
}

static int
verify_checkpoints(struct verify *v, struct aud_pg *pg, const struct aud_pg_param *filter,
                   size_t nfilter)
{
    struct cm_buf sql, bytes, msg;
    struct aud_pg_res *res = NULL;
    struct cm_err err = {{0}};
    int rc = 0;

    cm_buf_init(&sql);
    cm_buf_init(&bytes);
    cm_buf_init(&msg);
    cm_buf_puts(&sql,
                "SELECT chain_id::text, seq, record_hash, raw_bytes FROM lineage_checkpoints");
    chain_filter(&sql, "chain_id", nfilter, true);
    cm_buf_puts(&sql, " ORDER BY chain_id, seq");
    if (aud_pg_query(pg, sql.p, filter, nfilter, &res, &err) != CM_OK) {
        rc = sa_fail("verify: %s", err.msg);
        goto out;
    }
    for (size_t r = 0; r < aud_pg_res_rows(res); r++) {
        const char *chain = aud_pg_res_value(res, r, 0);
        int64_t seq = strtoll(aud_pg_res_value(res, r, 1), NULL, 10);
        const char *hash = aud_pg_res_value(res, r, 2);
        struct aud_checkpoint cp;
        struct vchain *vc = vchain_get(v, chain, true);
        struct vcp *e;
        const char *problem = NULL;

        v->checkpoints++;
        if (!bytea_decode(aud_pg_res_value(res, r, 3), &bytes) ||
            aud_checkpoint_parse(bytes.p, bytes.len, &cp, &err) != CM_OK) {
            problem = "its stored bytes are not a checkpoint";
        } else if (strcmp(cp.chain_id, chain) != 0 || cp.seq != seq || strcmp(cp.hash, hash) != 0) {
            problem = "its columns differ from its stored bytes";
        } else if (v->nkeys > 0) {
            struct aud_key *key = NULL;

            for (size_t k = 0; k < v->nkeys && key == NULL; k++)
                if (cp.has_sig && strcmp(aud_key_id(v->keys[k]), cp.key_id) == 0)
                    key = v->keys[k];
            cm_buf_reset(&msg);
            aud_checkpoint_message(&cp, &msg);
            if (!cp.has_sig)
                problem = "unsigned";
            else if (key == NULL)
                problem = "signed by an unknown key";
            else if (!aud_key_verify(key, msg.p, msg.len, cp.sig, AUD_SIG_LEN))
                problem = "bad signature";
            else
                v->signed_ok++;
        }
        if (problem != NULL) {
            v->cp_problems++;
            vproblem(v, "checkpoint chain=%s seq=%" PRId64 " problem=\"%s\"\n", chain, seq,
                     problem);
            continue; /* an untrusted checkpoint pins nothing */
        }
        vc->cps = cm_realloc(vc->cps, (vc->ncps + 1) * sizeof(*vc->cps));
        e = &vc->cps[vc->ncps++];
        e->seq = seq;
        e->seen = false;
        snprintf(e->hash, sizeof(e->hash), "%s", hash);
    }
out:
    aud_pg_res_free(res);
    cm_buf_fini(&sql);
    cm_buf_fini(&bytes);
    cm_buf_fini(&msg);
    return rc;
}

/* "'key', <value>" for each finding member that has a column: the column
 * of lineage_findings f (stored) or the member of element x.e of the stored
 * record's findings. */
static void
finding_members(struct cm_buf *sql, bool stored)
{
    bool first = true;

    for (size_t i = 0; i < aud_n_finding_fields; i++) {
        const struct aud_field *f = &aud_finding_fields[i];

        if (f->column == NULL)
            continue;
        if (stored)
            cm_buf_printf(sql, "%s'%s', f.\"%s\"", first ? "" : ", ", f->key, f->column);
        else
            cm_buf_printf(sql, "%s'%s', x.e->'%s'", first ? "" : ", ", f->key, f->key);
        first = false;
    }
}

/* Rows whose stored columns (or findings) differ from their stored record:
 * built from fields.def like the loader's INSERT. */
static int
verify_columns(struct verify *v, struct aud_pg *pg, const struct aud_pg_param *filter,
               size_t nfilter)
{
    struct cm_buf sql;
    struct aud_pg_res *res = NULL;
    struct cm_err err = {{0}};
    int rc = 0;

    cm_buf_init(&sql);
    cm_buf_puts(&sql, "SELECT record_id::text, coalesce(chain_id::text, '-'), "
                      "coalesce(chain_seq, 0), bad FROM (SELECT r.record_id, r.chain_id, "
                      "r.chain_seq, concat_ws(','");
    for (size_t i = 0; i < aud_n_fields; i++) {
        const struct aud_field *f = &aud_fields[i];

        /* chain_seq: a moved row is reported as a reorder, from its bytes. */
        if (f->column == NULL || strcmp(f->column, "chain_seq") == 0)
            continue;
        cm_buf_printf(&sql, ", CASE WHEN r.\"%s\" IS DISTINCT FROM ", f->column);
        aud_field_sql_expr(&sql, "r.raw", f);
        cm_buf_printf(&sql, " THEN '%s' END", f->column);
    }
    /* Findings: the members that have a column (fingerprints live in their
     * own table), as stored rows and as the stored record says. */
    cm_buf_puts(&sql, ", CASE WHEN (SELECT coalesce(jsonb_agg(jsonb_build_object(");
    finding_members(&sql, true);
    cm_buf_puts(&sql, ") ORDER BY f.idx), '[]'::jsonb) FROM lineage_findings f "
                      "WHERE f.record_id = r.record_id AND f.ts_start = r.ts_start) "
                      "IS DISTINCT FROM (SELECT coalesce(jsonb_agg(jsonb_build_object(");
    finding_members(&sql, false);
    cm_buf_puts(&sql, ") ORDER BY x.n), '[]'::jsonb) FROM jsonb_array_elements("
                      "CASE WHEN jsonb_typeof(r.raw->'findings') = 'array' "
                      "THEN r.raw->'findings' ELSE '[]' END) WITH ORDINALITY AS x(e, n)) "
                      "THEN 'findings' END) AS bad FROM lineage_records r");
    chain_filter(&sql, "r.chain_id", nfilter, true);
    cm_buf_puts(&sql, ") x WHERE bad <> '' ORDER BY chain_id, chain_seq, record_id");
    if (aud_pg_query(pg, sql.p, filter, nfilter, &res, &err) != CM_OK) {
        rc = sa_fail("verify: %s", err.msg);
        goto out;
    }
    for (size_t r = 0; r < aud_pg_res_rows(res); r++) {
        v->edits++;
        vproblem(v,
                 "edit chain=%s seq=%s record=%s what=\"stored columns differ from the record: "
                 "%s\"\n",
                 aud_pg_res_value(res, r, 1), aud_pg_res_value(res, r, 2),
                 aud_pg_res_value(res, r, 0), aud_pg_res_value(res, r, 3));
    }
out:
    aud_pg_res_free(res);
    cm_buf_fini(&sql);
    return rc;
}

static void
report_missing(struct verify *v, const char *chain, int64_t from, int64_t to, const char *after,
               const char *before)
{
    v->gaps++;
    v->missing += (uint64_t)(to - from + 1);
    vproblem(v,
             "gap chain=%s seq=%" PRId64 "..%" PRId64 " missing=%" PRId64 " after=%s before=%s\n",
             chain, from, to, to - from + 1, after, before);
}

/* Seqs from..to of chain are not stored: what retention deleted is counted
 * as expired, the rest is reported as gaps. */
static void
report_gap(struct verify *v, const char *chain, int64_t from, int64_t to, const char *after,
           const char *before)
{
    const struct vchain *vc = vchain_get(v, chain, false);

    for (size_t i = 0; vc != NULL && i < vc->nexp && from <= to; i++) {
        const struct vexp *e = &vc->exp[i];

        if (e->to < from || e->from > to)
            continue;
        if (e->from > from)
            report_missing(v, chain, from, e->from - 1, after, before);
        v->expired += (uint64_t)((e->to < to ? e->to : to) - (e->from > from ? e->from : from) + 1);
        from = e->to + 1;
    }
    if (from <= to)
        report_missing(v, chain, from, to, after, before);
}

/* The seq ranges retention deleted (0008_retention.sql), per chain. */
static int
verify_expired(struct verify *v, struct aud_pg *pg, const struct aud_pg_param *filter,
               size_t nfilter)
{
    struct cm_buf sql;
    struct aud_pg_res *res = NULL;
    struct cm_err err = {{0}};
    int rc = 0;

    cm_buf_init(&sql);
    cm_buf_puts(&sql, "SELECT chain_id::text, seq_from, seq_to FROM steward_chain_expired");
    chain_filter(&sql, "chain_id", nfilter, true);
    cm_buf_puts(&sql, " ORDER BY chain_id, seq_from");
    if (aud_pg_query(pg, sql.p, filter, nfilter, &res, &err) != CM_OK) {
        rc = sa_fail("verify: %s", err.msg);
        goto out;
    }
    for (size_t r = 0; r < aud_pg_res_rows(res); r++) {
        struct vchain *vc = vchain_get(v, aud_pg_res_value(res, r, 0), true);
        int64_t from = strtoll(aud_pg_res_value(res, r, 1), NULL, 10);
        int64_t to = strtoll(aud_pg_res_value(res, r, 2), NULL, 10);

        /* Ranges of separate runs may touch or overlap: merge them. */
        if (vc->nexp > 0 && from <= vc->exp[vc->nexp - 1].to + 1) {
            if (to > vc->exp[vc->nexp - 1].to)
                vc->exp[vc->nexp - 1].to = to;
            continue;
        }
        vc->exp = cm_realloc(vc->exp, (vc->nexp + 1) * sizeof(*vc->exp));
        vc->exp[vc->nexp].from = from;
        vc->exp[vc->nexp].to = to;
        vc->nexp++;
    }
out:
    aud_pg_res_free(res);
    cm_buf_fini(&sql);
    return rc;
}

/* Checkpoints of the chain just walked that no record reached. */
static void
chain_end(struct verify *v)
{
    if (!v->in_chain || v->vc == NULL)
        return;
    for (size_t i = 0; i < v->vc->ncps; i++) {
        struct vcp *cp = &v->vc->cps[i];

        if (cp->seq > v->last_seq) {
            report_gap(v, v->chain, v->last_seq + 1, cp->seq, v->last_record, "checkpoint");
            v->last_seq = cp->seq; /* report a tail once, up to the last checkpoint */
        }
    }
}

/* One stored record, in (chain_id, chain_seq) order. */
static void
verify_row(struct verify *v, const char *record_id, const char *chain, int64_t seq,
           const char *bytes_text, const char *raw_text, struct cm_buf *bytes)
{
    struct aud_chain_link link;
    struct cm_err err;
    uint8_t digest[CM_SHA256_LEN];
    char hash[CM_SHA256_HEX_LEN];
    bool reordered = false, linkable;

    v->records++;
    if (chain == NULL) {
        v->unverifiable++;
        vproblem(v,
                 "unverifiable record=%s what=\"no chain: loaded before migration 0002, or its "
                 "chain columns were removed\"\n",
                 record_id);
        return;
    }
    if (!v->in_chain || strcmp(chain, v->chain) != 0) {
        chain_end(v);
        snprintf(v->chain, sizeof(v->chain), "%s", chain);
        v->in_chain = true;
        v->vc = vchain_get(v, chain, true);
        v->vc->walked = true;
        v->last_seq = 0;
        snprintf(v->last_record, sizeof(v->last_record), "%s", "start");
        memset(v->last_hash, '0', 64);
        v->last_hash[64] = '\0';
        v->last_reordered = false;
    }
    if (!bytea_decode(bytes_text, bytes) ||
        aud_chain_link_parse(bytes->p, bytes->len, &link, &err) != CM_OK) {
        v->edits++;
        vproblem(v,
                 "edit chain=%s seq=%" PRId64 " record=%s what=\"stored bytes are not a chained "
                 "record\"\n",
                 chain, seq, record_id);
        memset(&link, 0, sizeof(link));
        link.seq = seq;
    } else {
        json_t *a = json_loadb(bytes->p, bytes->len, 0, NULL);
        json_t *b = raw_text ? json_loads(raw_text, 0, NULL) : NULL;

        if (a == NULL || b == NULL || !json_equal(a, b)) {
            v->edits++;
            vproblem(v,
                     "edit chain=%s seq=%" PRId64 " record=%s what=\"stored JSON differs from the "
                     "stored bytes\"\n",
                     chain, seq, record_id);
        }
        json_decref(a);
        json_decref(b);
        if (strcmp(link.record_id, record_id) != 0 || strcmp(link.chain_id, chain) != 0) {
            v->edits++;
            vproblem(v,
                     "edit chain=%s seq=%" PRId64 " record=%s what=\"the bytes belong to record "
                     "%s of chain %s\"\n",
                     chain, seq, record_id, link.record_id, link.chain_id);
        }
    }
    cm_sha256(bytes->p, bytes->len, digest);
    cm_hex(digest, CM_SHA256_LEN, hash);
    if (link.seq != 0 && link.seq != seq) {
        reordered = true;
        v->reorders++;
        vproblem(v,
                 "reorder chain=%s seq=%" PRId64 " record=%s what=\"sits at seq %" PRId64
                 " but its signed bytes say seq %" PRId64 "\"\n",
                 chain, seq, record_id, seq, link.seq);
    }
    linkable = !reordered && !v->last_reordered;
    if (seq == v->last_seq) {
        v->duplicates++;
        vproblem(v, "duplicate chain=%s seq=%" PRId64 " records=%s,%s\n", chain, seq,
                 v->last_record, record_id);
        linkable = false;
    } else if (seq > v->last_seq + 1) {
        report_gap(v, chain, v->last_seq + 1, seq - 1, v->last_record, record_id);
        linkable = false;
    }
    if (linkable && link.prev[0] != '\0' && strcmp(link.prev, v->last_hash) != 0) {
        v->edits++;
        if (v->last_seq == 0)
            vproblem(v,
                     "edit chain=%s seq=%" PRId64 " record=%s what=\"the first record's prev is "
                     "not zero\"\n",
                     chain, seq, record_id);
        else
            vproblem(v,
                     "edit chain=%s seq=%" PRId64 " record=%s what=\"its bytes no longer hash to "
                     "the prev of record %s (seq %" PRId64 "): one of the two was altered\"\n",
                     chain, v->last_seq, v->last_record, record_id, seq);
    }
    for (size_t i = 0; v->vc != NULL && i < v->vc->ncps; i++) {
        struct vcp *cp = &v->vc->cps[i];

        if (cp->seq == seq && !reordered) {
            cp->seen = true;
            if (strcmp(cp->hash, hash) != 0) {
                v->edits++;
                vproblem(v,
                         "edit chain=%s seq=%" PRId64 " record=%s what=\"does not match the "
                         "signed checkpoint of seq %" PRId64 "\"\n",
                         chain, seq, record_id, seq);
            }
        }
    }
    if (seq >= v->last_seq) {
        v->last_seq = seq;
        snprintf(v->last_record, sizeof(v->last_record), "%s", record_id);
        memcpy(v->last_hash, hash, sizeof(hash));
        v->last_reordered = reordered;
    }
}

static int
verify_walk(struct verify *v, struct aud_pg *pg, const struct aud_pg_param *filter, size_t nfilter)
{
    struct cm_buf sql, bytes;
    struct cm_err err = {{0}};
    int rc = 0;

    cm_buf_init(&sql);
    cm_buf_init(&bytes);
    cm_buf_puts(&sql, "DECLARE verify_walk NO SCROLL CURSOR FOR SELECT record_id::text, "
                      "chain_id::text, chain_seq, raw_bytes, raw::text FROM lineage_records");
    chain_filter(&sql, "chain_id", nfilter, true);
    cm_buf_puts(&sql, " ORDER BY chain_id NULLS FIRST, chain_seq, record_id");
    if (aud_pg_query(pg, sql.p, filter, nfilter, NULL, &err) != CM_OK) {
        rc = sa_fail("verify: %s", err.msg);
        goto out;
    }
    for (;;) {
        struct aud_pg_res *res;
        size_t rows;

        if (aud_pg_query(pg, "FETCH 2000 FROM verify_walk", NULL, 0, &res, &err) != CM_OK) {
            rc = sa_fail("verify: %s", err.msg);
            goto out;
        }
        rows = aud_pg_res_rows(res);
        for (size_t r = 0; r < rows; r++) {
            const char *seq = aud_pg_res_value(res, r, 2);

            verify_row(v, aud_pg_res_value(res, r, 0), aud_pg_res_value(res, r, 1),
                       seq != NULL ? strtoll(seq, NULL, 10) : 0, aud_pg_res_value(res, r, 3),
                       aud_pg_res_value(res, r, 4), &bytes);
        }
        aud_pg_res_free(res);
        if (v->prog != NULL)
            sa_progress_step(v->prog, "%" PRIu64 " records walked", v->records);
        if (rows < VERIFY_FETCH)
            break;
    }
    chain_end(v);
    /* Chains known only from their checkpoints: every record is missing. */
    for (size_t i = 0; i < v->nchains; i++) {
        struct vchain *vc = &v->chains[i];
        int64_t top = 0;

        if (vc->walked || vc->ncps == 0)
            continue;
        for (size_t k = 0; k < vc->ncps; k++)
            if (vc->cps[k].seq > top)
                top = vc->cps[k].seq;
        report_gap(v, vc->id, 1, top, "start", "checkpoint");
    }
out:
    cm_buf_fini(&sql);
    cm_buf_fini(&bytes);
    return rc;
}

/* Builds the uuid[] literal "{a,b}" of the --chain values. */
static int
chain_list(char **ids, size_t n, struct cm_buf *out)
{
    cm_buf_putc(out, '{');
    for (size_t i = 0; i < n; i++) {
        uint8_t u[16];

        if (cm_uuid_parse(ids[i], u) != CM_OK)
            return sa_fail("verify: --chain %s: expected a chain UUID", ids[i]);
        cm_buf_printf(out, "%s%s", i > 0 ? "," : "", ids[i]);
    }
    cm_buf_putc(out, '}');
    return 0;
}

int
sa_cmd_verify(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"db", required_argument, NULL, 'd'},
        {"pubkey", required_argument, NULL, 'k'},
        {"chain", required_argument, NULL, 'c'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct verify v;
    struct sa_progress prog;
    const char *db = NULL;
    char **chains = cm_calloc((size_t)argc + 1, sizeof(char *));
    size_t nchains = 0;
    struct aud_pg *pg = NULL;
    struct aud_pg_param filter = {NULL, 0, false};
    struct cm_buf list;
    struct cm_err err = {{0}};
    int c, status = 2;
    uint64_t problems;

    memset(&v, 0, sizeof(v));
    v.out = stdout;
    sa_progress_init(&prog, "verify");
    v.prog = &prog;
    cm_buf_init(&list);
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'd': db = optarg; break;
        case 'c': chains[nchains++] = optarg; break;
        case 'k':
            v.keys = cm_realloc(v.keys, (v.nkeys + 1) * sizeof(*v.keys));
            if (aud_key_load_public(optarg, &v.keys[v.nkeys], &err) != CM_OK) {
                sa_fail("verify: --pubkey %s", err.msg);
                goto out;
            }
            v.nkeys++;
            break;
        case 'h':
            usage(stdout);
            status = 0;
            goto out;
        default: usage(stderr); goto out;
        }
    }
    if (optind != argc) {
        sa_fail("verify: unexpected argument '%s'", argv[optind]);
        goto out;
    }
    if (nchains > 0) {
        if (chain_list(chains, nchains, &list) != 0)
            goto out;
        filter.value = list.p;
    }
    if (sa_connect_logged(db, &pg, "verify",
                          json_pack("{s:s?}", "chains", nchains > 0 ? list.p : NULL)) != 0)
        goto out;
    /* One consistent snapshot for every query. */
    if (aud_pg_exec(pg, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", &err) != CM_OK) {
        sa_fail("verify: %s", err.msg);
        goto out;
    }
    if (verify_expired(&v, pg, &filter, nchains > 0) != 0 ||
        verify_checkpoints(&v, pg, &filter, nchains > 0) != 0 ||
        verify_columns(&v, pg, &filter, nchains > 0) != 0 ||
        verify_walk(&v, pg, &filter, nchains > 0) != 0)
        goto out;
    (void)!aud_pg_exec(pg, "COMMIT", &err);
    sa_progress_done(&prog);
    problems = v.gaps + v.edits + v.reorders + v.duplicates + v.cp_problems + v.unverifiable;
    printf("verify: chains=%zu records=%" PRIu64 " checkpoints=%" PRIu64 " signatures_ok=%" PRIu64
           "%s gaps=%" PRIu64 " missing=%" PRIu64 " edits=%" PRIu64 " reorders=%" PRIu64
           " duplicates=%" PRIu64 " checkpoint_problems=%" PRIu64 " unverifiable=%" PRIu64
           " expired=%" PRIu64 ": %s\n",
           v.nchains, v.records, v.checkpoints, v.signed_ok,
           v.nkeys == 0 ? " (no --pubkey: signatures not checked)" : "", v.gaps, v.missing, v.edits,
           v.reorders, v.duplicates, v.cp_problems, v.unverifiable, v.expired,
           problems == 0 ? "ok" : "PROBLEMS FOUND");
    if (fflush(stdout) != 0) {
        sa_fail("writing the output: %s", strerror(errno));
        goto out;
    }
    status = problems == 0 ? 0 : 1;
out:
    for (size_t i = 0; i < v.nkeys; i++)
        aud_key_free(v.keys[i]);
    free(v.keys);
    for (size_t i = 0; i < v.nchains; i++) {
        free(v.chains[i].cps);
        free(v.chains[i].exp);
    }
    free(v.chains);
    free(chains);
    cm_buf_fini(&list);
    aud_pg_free(pg);
    return status;
}

/* ------------------------------------------------- the report's section */

#define PERIOD_MAX_PROBLEMS 50 /* lines kept for the report; all are counted */

json_t *
sa_verify_period(struct aud_pg *pg, const char *from, const char *to, struct aud_key *const *keys,
                 size_t nkeys)
{
    struct aud_pg_param span[] = {{from, 0, false}, {to, 0, false}};
    struct aud_pg_param filter = {NULL, 0, false};
    struct aud_pg_res *res = NULL;
    struct cm_err err = {{0}};
    struct verify v;
    char *lines = NULL;
    size_t lines_len = 0;
    uint64_t problems;
    json_t *out = NULL, *plist;
    bool ok;

    memset(&v, 0, sizeof(v));
    v.keys = (struct aud_key **)keys;
    v.nkeys = nkeys;
    /* Under row-level security a role sees some tenants' records: every
     * chain would show gaps where the others' are.  Say so instead. */
    if (aud_pg_query(pg,
                     "SELECT NOT row_security_active('lineage_records') OR "
                     "pg_has_role('steward_admin', 'MEMBER') OR "
                     "'*' = ANY (steward_scope(current_user))",
                     NULL, 0, &res, &err) != CM_OK)
        goto unavailable;
    ok = strcmp(aud_pg_res_value(res, 0, 0), "t") == 0;
    aud_pg_res_free(res);
    res = NULL;
    if (!ok)
        return json_pack("{s:b, s:s, s:s}", "available", 0, "verdict", "not checked", "detail",
                         "this role sees only some tenants' records (row-level security), so "
                         "the chains, which run across tenants, cannot be checked from it; run "
                         "`steward-audit verify` (or this report) as the admin role");
    /* The chains with a record in the period, checked whole. */
    if (aud_pg_exec(pg, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", &err) != CM_OK ||
        aud_pg_query(pg,
                     "SELECT coalesce('{' || string_agg(DISTINCT chain_id::text, ',') || '}', "
                     "'{}') FROM lineage_records WHERE ts_start >= $1::timestamptz AND "
                     "ts_start < $2::timestamptz AND chain_id IS NOT NULL",
                     span, 2, &res, &err) != CM_OK)
        goto unavailable;
    filter.value = aud_pg_res_value(res, 0, 0);
    v.out = open_memstream(&lines, &lines_len);
    if (v.out == NULL) {
        cm_err_set(&err, CM_EIO, "open_memstream: %s", strerror(errno));
        goto unavailable;
    }
    if (verify_expired(&v, pg, &filter, 1) != 0 || verify_checkpoints(&v, pg, &filter, 1) != 0 ||
        verify_columns(&v, pg, &filter, 1) != 0 || verify_walk(&v, pg, &filter, 1) != 0) {
        cm_err_set(&err, CM_EINPUT, "see the message above");
        goto unavailable;
    }
    (void)!aud_pg_exec(pg, "COMMIT", &err);
    fclose(v.out);
    v.out = NULL;
    /* Records of the period without a chain (loaded before 0002). */
    aud_pg_res_free(res);
    res = NULL;
    if (aud_pg_query(pg,
                     "SELECT count(*) FROM lineage_records WHERE ts_start >= $1::timestamptz "
                     "AND ts_start < $2::timestamptz AND chain_id IS NULL",
                     span, 2, &res, &err) != CM_OK)
        goto unavailable;
    v.unverifiable += strtoull(aud_pg_res_value(res, 0, 0), NULL, 10);

    problems = v.gaps + v.edits + v.reorders + v.duplicates + v.cp_problems + v.unverifiable;
    plist = json_array();
    for (char *line = lines, *nl; line != NULL && *line != '\0'; line = nl + 1) {
        nl = strchr(line, '\n');
        if (nl == NULL)
            break;
        if (json_array_size(plist) < PERIOD_MAX_PROBLEMS)
            json_array_append_new(plist, json_stringn(line, (size_t)(nl - line)));
    }
    out = json_pack(
        "{s:b, s:s, s:s++, s:I, s:I, s:I, s:I, s:{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}, s:o}",
        "available", 1, "verdict", problems == 0 ? "ok" : "problems found", "detail",
        "every chain with a record in the period was recomputed from the stored bytes "
        "(steward-audit verify): links, sequence gaps, stored columns against the bytes",
        nkeys > 0 ? ", checkpoint signatures against the given public keys"
                  : "; checkpoint signatures not checked (no --pubkey)",
        ".", "checked", (json_int_t)v.records, "chains", (json_int_t)v.nchains, "checkpoints",
        (json_int_t)v.checkpoints, "signatures_ok", (json_int_t)v.signed_ok, "counts", "gaps",
        (json_int_t)v.gaps, "missing", (json_int_t)v.missing, "edits", (json_int_t)v.edits,
        "reorders", (json_int_t)v.reorders, "duplicates", (json_int_t)v.duplicates,
        "checkpoint_problems", (json_int_t)v.cp_problems, "unverifiable",
        (json_int_t)v.unverifiable, "expired", (json_int_t)v.expired, "problems", plist);
    goto done;

unavailable : {
    struct cm_err ignored = {{0}};

    (void)!aud_pg_exec(pg, "ROLLBACK", &ignored);
}
    out = json_pack("{s:b, s:s, s:s+}", "available", 0, "verdict", "not checked", "detail",
                    "the chains could not be read: ", err.msg);
done:
    if (v.out != NULL)
        fclose(v.out);
    free(lines);
    aud_pg_res_free(res);
    for (size_t i = 0; i < v.nchains; i++) {
        free(v.chains[i].cps);
        free(v.chains[i].exp);
    }
    free(v.chains);
    return out;
}
