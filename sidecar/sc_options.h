/* SPDX-License-Identifier: Apache-2.0
 *
 * sc_options: every option of the steward daemon, in one table
 * (sc_options.c), and the struct it fills.  After start-up the struct is
 * read-only and passed as const.  `steward --config-doc` prints the table as
 * markdown (docs/config.md).
 *
 * Adding an option: a field here, a row in sc_options.c (name, type, default,
 * reload flag, doc), a use, and docs/config.md (make check-docs).
 */
#ifndef SC_OPTIONS_H
#define SC_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/cm_conf.h"
#include "common/cm_fingerprint.h"
#include "common/cm_status.h"

enum sc_unknown_path {
    SC_UNKNOWN_PATH_DENY,    /* 404 with a JSON error, recorded */
    SC_UNKNOWN_PATH_PASS,    /* forwarded uninspected, recorded as route "other" */
    SC_UNKNOWN_PATH_INSPECT, /* POST JSON bodies inspected in generic mode (every string) */
};

/* What happens to an exchange whose lineage record cannot be kept. */
enum sc_spool_full {
    SC_SPOOL_FULL_FAIL_CLOSED, /* 503 (sync: instead of the answer); new requests refused */
    SC_SPOOL_FULL_DROP,        /* the answer goes out; the record is dropped and counted */
};

struct sc_options {
    char *listen;
    char *admin_listen;
    long long workers;
    char *upstream;
    char *policy;
    char *api_keys;
    char *pii_key_file;
    char *pii_model;
    char *instance;
    char *forward_headers;
    char *user;  /* service user to become after start-up (sc_privs.h) */
    char *group; /* ... and its group (default: the user's primary group) */

    size_t max_body;
    size_t max_header;
    size_t max_uri;
    size_t max_header_line;
    long long max_headers;
    size_t max_response_body;
    long long max_json_depth;
    long long upstream_pool;

    int64_t client_timeout_us;
    int64_t request_timeout_us;
    int64_t drain_timeout_us;
    int64_t upstream_timeout_us;

    int unknown_path; /* enum sc_unknown_path */
    int log_level;    /* enum cm_log_level */

    char *tls_cert;
    char *tls_key;
    char *tls_client_ca;
    int tls_client_auth; /* enum sc_tls_client_auth */
    char *upstream_ca;
    bool upstream_tls_verify;

    char *lineage_topic;
    char *bootstrap_file;
    struct cm_kv_list kafka;

    /* Lineage delivery (audit/aud_emitter.h, docs/ARCHITECTURE.md). */
    int durability; /* enum aud_durability */
    char *spool_dir;
    size_t spool_max_bytes;
    int spool_fsync;   /* enum aud_spool_fsync */
    int on_spool_full; /* enum sc_spool_full */
    int64_t spool_after_us;
    int64_t spool_sync_wait_us;
    long long checkpoint_records;
    int64_t checkpoint_interval_us;
    char *signing_key;
    char *fingerprint_key_file;
    /* Loaded from fingerprint_key_file by sc_conf_load at start-up, kept
     * across reloads (owned, cleared and freed by sc_options_fini); NULL:
     * fingerprinting off. */
    struct cm_fp_key *fingerprint_key;
};

/* Applies defaults, then the file (if path is not NULL), then each "k=v" of
 * overrides.  Checks the combination (e.g. policy is required).  Returns
 * CM_OK, CM_EIO or CM_EINPUT with "file:line: ..." in err.  On failure the
 * struct still needs sc_options_fini(). */
int sc_options_load(struct sc_options *o, const char *path, char *const *overrides,
                    size_t noverrides, struct cm_err *err) CM_MUSTCHECK;
void sc_options_fini(struct sc_options *o);
/* Reload: every RESTART option of o whose value differs from running
 * (borrowed) is logged as "option_needs_restart option=NAME" (never its
 * value) and set back to running's value.  Returns how many differed. */
size_t sc_options_keep_restart(struct sc_options *o, const struct sc_options *running);
void sc_options_doc(FILE *out);

#endif /* SC_OPTIONS_H */
