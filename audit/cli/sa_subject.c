/* SPDX-License-Identifier: Apache-2.0
 *
 * sa_subject: `steward-audit subject VALUE|- [--type T] [--key-file F]
 * [FILTERS] [--format table|json|csv] [--report FILE [--report-format
 * html|json|md]]`: every record whose traffic contained VALUE.
 *
 * The value is fingerprinted here exactly as the sidecar fingerprinted
 * detected values (common/cm_fingerprint.h: same normalisation, same
 * HMAC-SHA256, the same key file), and only the fingerprint is looked up in
 * lineage_fingerprints.  Without --type the value is tried under each
 * normalisation (as-is, e-mail, digits, IBAN) and a match counts only when
 * the finding's type uses the normalisation that produced it, so "4155550132"
 * finds the phone number and the card number it is, never an e-mail.
 *
 * The value never leaves this process: not in the access log (its
 * fingerprints are logged instead), not in any output, not in SQL text (the
 * fingerprints are bound parameters).  "-" reads it from stdin so it stays
 * out of the process list and the shell history.  Records fingerprinted
 * under another key, or with fingerprinting off, cannot match: the counts
 * of both are reported so a "no records" answer is not taken for more than
 * it is.
 *
 * --erase --reason TEXT (admin role; --dry-run to count only) then erases
 * the records found (GDPR Art. 17) through steward_subject_erase
 * (schema/sql/0009_erasure.sql): records under a legal hold are kept and
 * named, the erased chain positions are accounted for (verify counts them
 * as expired), and the erasure is logged with its reason.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit/aud_report.h"
#include "audit/cli/sa_common.h"
#include "common/cm_fingerprint.h"
#include "common/cm_mem.h"

#define MAX_VALUE 4096

static void
usage(FILE *out)
{
    fprintf(out,
            "usage: steward-audit subject VALUE|- [--db CONNINFO] [--type T] [--key-file FILE]\n"
            "                             [FILTERS] [--format table|json|csv]\n"
            "                             [--report FILE [--report-format html|json|md]]\n"
            "  VALUE            the value to look for; - reads it from stdin (keeps it out of\n"
            "                   the process list and shell history)\n"
            "  --type T         its entity type (EMAIL, PHONE, CREDIT_CARD, US_SSN, IBAN, ...);\n"
            "                   without it every normalisation is tried\n"
            "  --key-file FILE  the sidecar's fingerprint_key_file (default:\n"
            "                   $STEWARD_FINGERPRINT_KEY_FILE)\n"
            "  --report FILE    also write a subject-access report (format from the file's\n"
            "                   extension, or --report-format)\n"
            "  --erase          then erase the records found (admin role; records under a\n"
            "                   legal hold are kept); requires --reason TEXT\n"
            "  --dry-run        with --erase: say what would be erased, change nothing\n"
            "%s",
            sa_filters_usage);
}

struct cand {
    enum cm_fp_norm norm;
    char fp[CM_FP_HEX_LEN];
};

enum {
    S_TIME,
    S_ID,
    S_TENANT,
    S_CALLER,
    S_PURPOSE,
    S_ROUTE,
    S_MODEL,
    S_UPSTREAM,
    S_DEC,
    S_OUTCOME,
    S_DIR,
    S_TYPE,
    S_ACTION,
    S_FP,
    S_POLICY,
    S_NCOLS
};

/* What became of the value: a request's value reached the model as is, in
 * a redacted form, or not at all (the exchange was denied); an answer's
 * value came from the model and reached the client, or did not. */
static const char *
model_saw(const char *dir, const char *action, const char *decision)
{
    bool denied = (action != NULL && strcmp(action, "deny") == 0) ||
                  (decision != NULL && strcmp(decision, "deny") == 0);

    if (dir == NULL || action == NULL)
        return "-";
    if (strcmp(dir, "request") == 0) {
        if (denied)
            return "nothing (denied)";
        return strcmp(action, "allow") == 0 ? "the value" : "a redacted form";
    }
    if (denied)
        return "produced it; answer withheld";
    if (strcmp(action, "allow") == 0)
        return "produced it; client got it";
    return "produced it; client got a redacted form";
}

static int
read_value(const char *arg, char *buf, size_t cap, size_t *len)
{
    size_t n;

    if (strcmp(arg, "-") != 0) {
        n = strlen(arg);
        if (n == 0 || n >= cap)
            return sa_fail("subject: the value must be 1 to %zu bytes", cap - 1);
        memcpy(buf, arg, n);
        *len = n;
        return 0;
    }
    n = fread(buf, 1, cap, stdin);
    if (ferror(stdin))
        return sa_fail("subject: reading the value from stdin: %s", strerror(errno));
    if (n == cap)
        return sa_fail("subject: the value must be at most %zu bytes", cap - 1);
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        n--;
    if (n == 0)
        return sa_fail("subject: no value on stdin");
    *len = n;
    return 0;
}

/* --erase: the distinct records of rows (the matches printed above) go to
 * steward_subject_erase; prints what was erased and what a hold kept. */
static int
erase_records(struct aud_pg *pg, const json_t *rows, const char *reason, bool dry_run)
{
    struct cm_buf ids, starts;
    struct aud_pg_res *res = NULL;
    struct cm_err err = {{0}};
    const char *last = NULL;
    size_t i, n = 0;
    json_t *row;
    int rc = 0;

    cm_buf_init(&ids);
    cm_buf_init(&starts);
    cm_buf_putc(&ids, '{');
    cm_buf_putc(&starts, '{');
    json_array_foreach (rows, i, row) {
        const char *id = json_string_value(json_object_get(row, "record_id"));
        const char *ts = json_string_value(json_object_get(row, "ts_start"));

        if (id == NULL || ts == NULL || (last != NULL && strcmp(last, id) == 0))
            continue;
        cm_buf_printf(&ids, "%s%s", n ? "," : "", id);
        cm_buf_printf(&starts, "%s\"%s\"", n ? "," : "", ts);
        last = id;
        n++;
    }
    cm_buf_putc(&ids, '}');
    cm_buf_putc(&starts, '}');
    {
        struct aud_pg_param p[] = {{ids.p, 0, false},
                                   {starts.p, 0, false},
                                   {reason, 0, false},
                                   {dry_run ? "true" : "false", 0, false}};

        if (aud_pg_query(pg,
                         "SELECT erased, held, coalesce(held_records, '') FROM "
                         "steward_subject_erase($1::uuid[], $2::timestamptz[], $3, $4::boolean)",
                         p, CM_ARRAY_LEN(p), &res, &err) != CM_OK) {
            rc = sa_fail("subject: erase: %s", err.msg);
            goto out;
        }
    }
    printf("erasure%s: %s record%s %s", dry_run ? " (dry run)" : "", aud_pg_res_value(res, 0, 0),
           strcmp(aud_pg_res_value(res, 0, 0), "1") == 0 ? "" : "s",
           dry_run ? "would be erased" : "erased");
    if (strcmp(aud_pg_res_value(res, 0, 1), "0") != 0)
        printf("; %s kept under legal hold: %s", aud_pg_res_value(res, 0, 1),
               aud_pg_res_value(res, 0, 2));
    printf("\n");
out:
    aud_pg_res_free(res);
    cm_buf_fini(&ids);
    cm_buf_fini(&starts);
    return rc;
}

static bool
same_norm_ok(const struct cand *cands, size_t ncand, const char *fp, const char *type)
{
    for (size_t i = 0; i < ncand; i++)
        if (strcmp(cands[i].fp, fp) == 0 && cands[i].norm == cm_fp_norm_of(type))
            return true;
    return false;
}

int
sa_cmd_subject(int argc, char **argv)
{
    static const struct option longopts[] = {
        SA_FILTER_OPTIONS,
        {"db", required_argument, NULL, SA_OPT_DB},
        {"format", required_argument, NULL, SA_OPT_FORMAT},
        {"key-file", required_argument, NULL, SA_OPT__FIRST_LOCAL},
        {"report", required_argument, NULL, SA_OPT__FIRST_LOCAL + 1},
        {"report-format", required_argument, NULL, SA_OPT__FIRST_LOCAL + 2},
        {"erase", no_argument, NULL, SA_OPT__FIRST_LOCAL + 3},
        {"reason", required_argument, NULL, SA_OPT__FIRST_LOCAL + 4},
        {"dry-run", no_argument, NULL, SA_OPT__FIRST_LOCAL + 5},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    static const struct {
        enum cm_fp_norm norm;
        const char *type;
    } tries[] = {{CM_FP_NORM_ASIS, "SECRET"}, /* and DATE */
                 {CM_FP_NORM_TEXT, "EMAIL"},  /* and URL, PERSON, LOCATION, ... */
                 {CM_FP_NORM_DIGITS, "PHONE"},
                 {CM_FP_NORM_ALNUM, "IBAN"}};
    static const char *const heads[] = {"TIME",  "RECORD",    "TENANT", "CALLER", "PURPOSE",
                                        "MODEL", "DIRECTION", "TYPE",   "ACTION", "MODEL SAW"};
    struct sa_filters f = {0};
    struct sa_where w, wk;
    enum sa_format fmt = SA_FMT_TABLE, rfmt = SA_FMT_HTML;
    bool rfmt_set = false;
    const char *db = NULL, *keyfile = getenv("STEWARD_FINGERPRINT_KEY_FILE"), *type = NULL;
    const char *report = NULL, *reason = NULL;
    bool erase = false, dry_run = false;
    struct aud_pg *pg = NULL;
    struct aud_pg_res *res = NULL, *keys = NULL;
    struct cm_err err = {{0}};
    struct cm_fp_key key;
    struct cand cands[4];
    size_t ncand = 0, vlen = 0, nmatch = 0;
    char *value = cm_malloc(MAX_VALUE + 1);
    struct cm_buf sql, doc;
    json_t *args = NULL, *fps = NULL, *rows = NULL, *model = NULL;
    int64_t other_key = 0, no_fp = 0, total = 0;
    int c, status = 1;

    memset(&key, 0, sizeof(key));
    cm_buf_init(&sql);
    cm_buf_init(&doc);
    memset(&w, 0, sizeof(w));
    cm_buf_init(&w.sql);
    memset(&wk, 0, sizeof(wk));
    cm_buf_init(&wk.sql);
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        if (c == SA_OPT_TYPE) {
            type = optarg;
            continue;
        }
        if (sa_filter_opt(&f, c, optarg))
            continue;
        switch (c) {
        case SA_OPT_DB: db = optarg; break;
        case SA_OPT_FORMAT:
            if (sa_format_parse(optarg, 1u << SA_FMT_TABLE | 1u << SA_FMT_JSON | 1u << SA_FMT_CSV,
                                &fmt) != 0)
                goto out;
            break;
        case SA_OPT__FIRST_LOCAL: keyfile = optarg; break;
        case SA_OPT__FIRST_LOCAL + 1: report = optarg; break;
        case SA_OPT__FIRST_LOCAL + 2:
            if (sa_format_parse(optarg, 1u << SA_FMT_HTML | 1u << SA_FMT_JSON | 1u << SA_FMT_MD,
                                &rfmt) != 0)
                goto out;
            rfmt_set = true;
            break;
        case SA_OPT__FIRST_LOCAL + 3: erase = true; break;
        case SA_OPT__FIRST_LOCAL + 4: reason = optarg; break;
        case SA_OPT__FIRST_LOCAL + 5: dry_run = true; break;
        case 'h':
            usage(stdout);
            status = 0;
            goto out;
        default: usage(stderr); goto out;
        }
    }
    if (optind + 1 != argc) {
        sa_fail("subject: expected one VALUE (or - to read it from stdin)");
        goto out;
    }
    if (erase && (reason == NULL || reason[strspn(reason, " \t")] == '\0')) {
        sa_fail("subject: --erase needs --reason TEXT (the request or case it answers)");
        goto out;
    }
    if (!erase && (reason != NULL || dry_run)) {
        sa_fail("subject: --reason and --dry-run go with --erase");
        goto out;
    }
    if (report != NULL && !rfmt_set) {
        size_t n = strlen(report);

        if (n > 5 && strcmp(report + n - 5, ".json") == 0)
            rfmt = SA_FMT_JSON;
        else if (n > 3 && strcmp(report + n - 3, ".md") == 0)
            rfmt = SA_FMT_MD;
    }
    if (keyfile == NULL || *keyfile == '\0') {
        sa_fail("subject: no fingerprint key: pass --key-file (the sidecar's "
                "fingerprint_key_file) or set STEWARD_FINGERPRINT_KEY_FILE");
        goto out;
    }
    if (cm_fp_key_load(keyfile, &key, &err) != CM_OK) {
        sa_fail("subject: %s", err.msg);
        goto out;
    }
    if (read_value(argv[optind], value, MAX_VALUE + 1, &vlen) != 0)
        goto out;

    /* The candidate fingerprints; the value is wiped as soon as they exist. */
    for (size_t i = 0; i < CM_ARRAY_LEN(tries); i++) {
        const char *t = type != NULL ? type : tries[i].type;
        enum cm_fp_norm norm = cm_fp_norm_of(t);
        char *tmp;
        size_t nlen;

        if (type != NULL && i > 0)
            break;
        tmp = cm_malloc(vlen + 1);
        nlen = cm_fp_normalise(norm, value, vlen, tmp);
        explicit_bzero(tmp, vlen + 1);
        free(tmp);
        if (nlen == 0)
            continue;
        cands[ncand].norm = norm;
        cm_fp_compute(&key, t, value, vlen, cands[ncand].fp);
        ncand++;
    }
    explicit_bzero(value, MAX_VALUE + 1);
    if (ncand == 0) {
        sa_fail("subject: the value is empty once normalised for %s", type ? type : "any type");
        goto out;
    }

    sa_where_fini(&w);
    sa_where_fini(&wk);
    if (sa_where_build(&f, ncand, &w) != 0 || sa_where_build(&f, 0, &wk) != 0)
        goto out;
    fps = json_array();
    cm_buf_puts(&sql,
                "SELECT to_char(r.ts_start AT TIME ZONE 'UTC', "
                "'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), r.record_id::text, r.tenant, r.principal, "
                "r.purpose, r.route, coalesce(r.model_served, r.model_requested), r.upstream, "
                "r.decision, r.outcome, fp.direction, fp.type, fi.action, "
                "encode(fp.fingerprint, 'hex'), r.policy_id "
                "FROM lineage_fingerprints fp "
                "JOIN lineage_records r ON r.record_id = fp.record_id AND r.ts_start = fp.ts_start "
                "LEFT JOIN lineage_findings fi ON fi.record_id = fp.record_id "
                "AND fi.ts_start = fp.ts_start AND fi.idx = fp.finding_idx "
                "WHERE fp.fingerprint IN (");
    for (size_t i = 0; i < ncand; i++) {
        bool dup = false;

        w.params[i].value = cands[i].fp;
        w.params[i].len = 0;
        w.params[i].binary = false;
        cm_buf_printf(&sql, "%sdecode($%zu, 'hex')", i ? ", " : "", i + 1);
        for (size_t k = 0; k < i; k++)
            dup |= strcmp(cands[k].fp, cands[i].fp) == 0;
        if (!dup)
            json_array_append_new(fps, json_string(cands[i].fp));
    }
    cm_buf_putc(&sql, ')');
    if (type != NULL)
        cm_buf_printf(&sql, " AND fp.type = $%zu", sa_where_param(&w, type));
    if (w.sql.len > 0)
        cm_buf_printf(&sql, " AND %s", w.sql.p);
    cm_buf_puts(&sql, " ORDER BY r.ts_start, r.record_id, fp.direction, fp.type");

    args = sa_filters_json(&f);
    json_object_set(args, "fingerprints", fps);
    json_object_set_new(args, "key_id", json_string(key.id));
    json_object_set_new(args, "type", type ? json_string(type) : json_null());
    json_object_set_new(args, "report", json_boolean(report != NULL));
    if (erase) {
        json_object_set_new(args, "erase", json_true());
        json_object_set_new(args, "dry_run", json_boolean(dry_run));
        json_object_set_new(args, "reason", json_string(reason));
    }
    if (sa_connect_logged(db, &pg, "subject", json_incref(args)) != 0)
        goto out;
    if (aud_pg_query(pg, sql.p, w.params, w.n, &res, &err) != CM_OK) {
        sa_fail("subject: %s", err.msg);
        goto out;
    }
    /* Which records could not have matched: other key, or no fingerprints.
     * The distinct key ids come from an index walk (one probe per key, a
     * handful in a store's life); the counts are made only when some
     * record of another key or none exists. */
    if (aud_pg_query(pg,
                     "WITH RECURSIVE k(id) AS (SELECT min(fingerprint_key_id) FROM lineage_records "
                     "UNION ALL SELECT (SELECT min(r.fingerprint_key_id) FROM lineage_records r "
                     "WHERE r.fingerprint_key_id > k.id) FROM k WHERE k.id IS NOT NULL) "
                     "SELECT (SELECT count(*) FROM k WHERE k.id IS NOT NULL AND k.id <> $1) + "
                     "(SELECT count(*) FROM (SELECT 1 FROM lineage_records r "
                     "WHERE r.fingerprint_key_id IS NULL LIMIT 1) x)",
                     &(struct aud_pg_param){key.id, 0, false}, 1, &keys, &err) != CM_OK) {
        sa_fail("subject: %s", err.msg);
        goto out;
    }
    if (strcmp(aud_pg_res_value(keys, 0, 0), "0") != 0) {
        aud_pg_res_free(keys);
        keys = NULL;
        cm_buf_reset(&sql);
        cm_buf_puts(&sql, "SELECT r.fingerprint_key_id, count(*) FROM lineage_records r");
        if (wk.sql.len > 0)
            cm_buf_printf(&sql, " WHERE %s", wk.sql.p);
        cm_buf_puts(&sql, " GROUP BY 1");
        if (aud_pg_query(pg, sql.p, wk.params, wk.n, &keys, &err) != CM_OK) {
            sa_fail("subject: %s", err.msg);
            goto out;
        }
        for (size_t r = 0; r < aud_pg_res_rows(keys); r++) {
            const char *kid = aud_pg_res_value(keys, r, 0);
            int64_t n = strtoll(aud_pg_res_value(keys, r, 1), NULL, 10);

            total += n;
            if (kid == NULL)
                no_fp += n;
            else if (strcmp(kid, key.id) != 0)
                other_key += n;
        }
    } else {
        total = -1; /* not counted: every record could have matched */
    }

    rows = json_array();
    {
        size_t nrows = aud_pg_res_rows(res);
        const char **cells = cm_calloc(nrows * CM_ARRAY_LEN(heads) + 1, sizeof(*cells));
        size_t nout = 0;
        const char *last_id = NULL;

        if (fmt == SA_FMT_CSV) {
            static const char *const ch[] = {
                "ts_start", "record_id", "tenant",  "caller",    "purpose", "route",  "model",
                "endpoint", "decision",  "outcome", "direction", "type",    "action", "model_saw"};

            for (size_t i = 0; i < CM_ARRAY_LEN(ch); i++)
                sa_csv_field(stdout, ch[i], i + 1 == CM_ARRAY_LEN(ch));
        }
        for (size_t r = 0; r < nrows; r++) {
            const char *v[S_NCOLS];
            json_t *o;

            for (size_t k = 0; k < S_NCOLS; k++)
                v[k] = aud_pg_res_value(res, r, k);
            if (!same_norm_ok(cands, ncand, v[S_FP], v[S_TYPE]))
                continue;
            if (last_id == NULL || strcmp(last_id, v[S_ID]) != 0)
                nmatch++;
            last_id = v[S_ID];
            o = json_object();
            {
                static const char *const keys_[] = {
                    "ts_start",  "record_id", "tenant",   "caller",   "purpose",
                    "route",     "model",     "endpoint", "decision", "outcome",
                    "direction", "type",      "action",   NULL,       "policy_id"};

                for (size_t k = 0; k < S_NCOLS; k++)
                    if (keys_[k] != NULL)
                        json_object_set_new(o, keys_[k], v[k] ? json_string(v[k]) : json_null());
            }
            json_object_set_new(o, "model_saw",
                                json_string(model_saw(v[S_DIR], v[S_ACTION], v[S_DEC])));
            if (fmt == SA_FMT_JSON) {
                char *line = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);

                printf("%s\n", line);
                free(line);
            } else if (fmt == SA_FMT_CSV) {
                const char *cv[] = {v[S_TIME],    v[S_ID],
                                    v[S_TENANT],  v[S_CALLER],
                                    v[S_PURPOSE], v[S_ROUTE],
                                    v[S_MODEL],   v[S_UPSTREAM],
                                    v[S_DEC],     v[S_OUTCOME],
                                    v[S_DIR],     v[S_TYPE],
                                    v[S_ACTION],  model_saw(v[S_DIR], v[S_ACTION], v[S_DEC])};

                for (size_t i = 0; i < CM_ARRAY_LEN(cv); i++)
                    sa_csv_field(stdout, cv[i], i + 1 == CM_ARRAY_LEN(cv));
            } else {
                const char *tv[] = {v[S_TIME],    v[S_ID],
                                    v[S_TENANT],  v[S_CALLER],
                                    v[S_PURPOSE], v[S_MODEL],
                                    v[S_DIR],     v[S_TYPE],
                                    v[S_ACTION],  model_saw(v[S_DIR], v[S_ACTION], v[S_DEC])};

                memcpy(&cells[nout * CM_ARRAY_LEN(heads)], tv, sizeof(tv));
            }
            nout++;
            json_array_append_new(rows, o);
        }
        if (fmt == SA_FMT_TABLE) {
            sa_print_table(stdout, heads, CM_ARRAY_LEN(heads), cells, nout);
            printf("%zu record%s contain%s the value (%zu finding%s); fingerprint key %s\n", nmatch,
                   nmatch == 1 ? "" : "s", nmatch == 1 ? "s" : "", nout, nout == 1 ? "" : "s",
                   key.id);
        }
        free(cells);
    }
    if (no_fp > 0)
        fprintf(stderr,
                "note: %lld of %lld records in range carry no fingerprints (fingerprinting was "
                "off) and cannot be matched\n",
                (long long)no_fp, (long long)total);
    if (other_key > 0)
        fprintf(stderr,
                "note: %lld of %lld records in range were fingerprinted under another key and "
                "cannot be matched with key %s\n",
                (long long)other_key, (long long)total, key.id);
    if (report != NULL) {
        FILE *rf;

        model = json_pack("{s:s, s:O, s:s, s:o, s:O, s:I, s:I, s:I, s:I}", "schema",
                          "steward.subject-report/1", "fingerprints", fps, "key_id", key.id, "type",
                          type ? json_string(type) : json_null(), "filters", args, "records",
                          (json_int_t)nmatch, "records_in_range", (json_int_t)total,
                          "records_without_fingerprints", (json_int_t)no_fp, "records_other_key",
                          (json_int_t)other_key);
        json_object_set(model, "findings", rows);
        {
            char ts[CM_TIME_RFC3339_LEN];

            cm_time_fmt(cm_now_us(), ts);
            json_object_set_new(model, "generated_at", json_string(ts));
        }
        if (rfmt == SA_FMT_JSON) {
            char *text = json_dumps(model, JSON_INDENT(2) | JSON_PRESERVE_ORDER);

            cm_buf_puts(&doc, text);
            cm_buf_putc(&doc, '\n');
            free(text);
        } else if (rfmt == SA_FMT_MD) {
            aud_subject_md(model, &doc);
        } else {
            aud_subject_html(model, &doc);
        }
        rf = sa_open_out(report);
        if (rf == NULL)
            goto out;
        fwrite(doc.p, 1, doc.len, rf);
        if (sa_close_out(rf, report) != 0)
            goto out;
    }
    if (erase && erase_records(pg, rows, reason, dry_run) != 0)
        goto out;
    status = sa_close_out(stdout, NULL);
out:
    explicit_bzero(value, MAX_VALUE + 1);
    free(value);
    cm_fp_key_clear(&key);
    json_decref(model);
    json_decref(rows);
    json_decref(fps);
    json_decref(args);
    aud_pg_res_free(res);
    aud_pg_res_free(keys);
    aud_pg_free(pg);
    sa_where_fini(&w);
    sa_where_fini(&wk);
    cm_buf_fini(&sql);
    cm_buf_fini(&doc);
    return status;
}
