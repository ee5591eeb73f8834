/* SPDX-License-Identifier: Apache-2.0
 *
 * sc_options: the steward options table.  See sc_options.h.
 */
#include "sidecar/sc_options.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/cm_log.h"
#include "common/cm_mem.h"

#define OFF(f) offsetof(struct sc_options, f)

static const char *const unknown_path_choices[] = {"deny", "pass", "inspect", NULL};
static const char *const client_auth_choices[] = {"none", "optional", "required", NULL};
static const char *const log_level_choices[] = {"err", "warn", "info", "debug", NULL};
/* Same order as enum aud_durability, enum aud_spool_fsync, enum sc_spool_full. */
static const char *const durability_choices[] = {"sync", "async", NULL};
static const char *const spool_fsync_choices[] = {"always", "batch", "never", NULL};
static const char *const spool_full_choices[] = {"fail_closed", "drop", NULL};

static const struct cm_opt sc_opts[] = {
    {"listen", CM_OPT_STRING, "127.0.0.1:8080", CM_OPT_RESTART, OFF(listen),
     "Address of the data listener, HOST:PORT (port 0 picks a free port)."},
    {"admin_listen", CM_OPT_STRING, "127.0.0.1:9180", CM_OPT_RESTART, OFF(admin_listen),
     "Address of the admin listener (/healthz, /readyz, /metrics, POST /reload): HOST:PORT or "
     "unix:/path; empty disables it. Keep it off the data network."},
    {"workers", CM_OPT_INT, "0", CM_OPT_RESTART, OFF(workers),
     "Worker threads, each with its own event loop and SO_REUSEPORT listener; 0 = one per "
     "core.",
     NULL, 0, 256},
    {"upstream", CM_OPT_STRING, "http://127.0.0.1:8000", CM_OPT_RESTART, OFF(upstream),
     "Base URL of the model server (http://HOST:PORT)."},
    {"policy", CM_OPT_PATH, NULL, CM_OPT_RELOAD, OFF(policy),
     "Policy file (JSON or YAML, docs/policy.md) enforced on every exchange; SIGHUP re-reads "
     "it, and a file that fails to load leaves the old policy in force. Required."},
    {"api_keys", CM_OPT_PATH, NULL, CM_OPT_RELOAD, OFF(api_keys),
     "API-key file (one JSON line per key: its SHA-256, principal, tenant, groups, purposes; "
     "written by `steward-policy keys add`). When set, every request needs a known key "
     "(Authorization: Bearer or x-api-key; 401 otherwise) and the key is not forwarded. The "
     "file must not be readable by group or others. SIGHUP re-reads it."},
    {"pii_model", CM_OPT_STRING, "auto", CM_OPT_RELOAD, OFF(pii_model),
     "The classifier's learned model for PERSON, LOCATION and ORGANIZATION: a model file, "
     "auto ($STEWARD_PII_MODEL, the source tree's, or /usr/share/steward/steward-pii.model) "
     "or none (recognizers only). SIGHUP re-reads it; exchanges in flight finish with the "
     "model they started with."},
    {"pii_key_file", CM_OPT_PATH, NULL, CM_OPT_RESTART, OFF(pii_key_file),
     "Secret of the keyed operators (hash, pseudonymise, encrypt): 64-128 hex digits, e.g. "
     "`openssl rand -hex 32`; each tenant gets keys derived from it. Refused when readable by "
     "group or others. Without it hash and pseudonymise run keyless (guessable) and encrypt "
     "writes the redaction placeholder."},
    {"instance", CM_OPT_STRING, NULL, CM_OPT_RESTART, OFF(instance),
     "Name of this sidecar instance in lineage records (default: the host name)."},
    {"user", CM_OPT_STRING, NULL, CM_OPT_RESTART, OFF(user),
     "Service user steward becomes once started as root: after binding its listeners, reading "
     "its secret files and opening the spool (handed to this user), it drops root for good "
     "(supplementary groups, gid, uid). Config, policy and api_keys files must then be readable "
     "by this user for SIGHUP to re-read them. Unset while started as root: steward warns and "
     "keeps root."},
    {"group", CM_OPT_STRING, NULL, CM_OPT_RESTART, OFF(group),
     "Group steward runs as with user set (default: the user's primary group); no supplementary "
     "groups are kept."},
    {"forward_headers", CM_OPT_STRING,
     "accept,authorization,user-agent,traceparent,tracestate,openai-organization,openai-project,"
     "x-request-id",
     CM_OPT_RELOAD, OFF(forward_headers),
     "Comma-separated allowlist of request headers passed to the model server; every other "
     "header is dropped."},
    {"max_body", CM_OPT_SIZE, "1M", CM_OPT_RELOAD, OFF(max_body),
     "Largest request body accepted; larger bodies get 413.", NULL, 1, 1LL << 30},
    {"max_header", CM_OPT_SIZE, "16K", CM_OPT_RELOAD, OFF(max_header),
     "Largest request header block accepted; larger gets 431.", NULL, 1024, 1 << 20},
    {"max_uri", CM_OPT_SIZE, "8K", CM_OPT_RELOAD, OFF(max_uri),
     "Longest request target accepted; longer gets 414.", NULL, 16, 1 << 20},
    {"max_header_line", CM_OPT_SIZE, "8K", CM_OPT_RELOAD, OFF(max_header_line),
     "Longest single header line accepted; longer gets 431.", NULL, 64, 1 << 20},
    {"max_headers", CM_OPT_INT, "100", CM_OPT_RELOAD, OFF(max_headers),
     "Most header fields accepted in a request; more gets 431.", NULL, 1, 10000},
    {"max_response_body", CM_OPT_SIZE, "8M", CM_OPT_RELOAD, OFF(max_response_body),
     "Largest non-streamed model response inspected; larger answers fail with 502.", NULL, 1024,
     1LL << 30},
    {"max_json_depth", CM_OPT_INT, "64", CM_OPT_RELOAD, OFF(max_json_depth),
     "Deepest nesting of JSON arrays and objects accepted in a body (400 beyond).", NULL, 2, 1024},
    {"upstream_pool", CM_OPT_INT, "32", CM_OPT_RESTART, OFF(upstream_pool),
     "Keep-alive connections to the model server.", NULL, 1, 4096},
    {"client_timeout", CM_OPT_DURATION, "30s", CM_OPT_RELOAD, OFF(client_timeout_us),
     "Idle time allowed while reading a request from a client.", NULL, 1, 3600000},
    {"request_timeout", CM_OPT_DURATION, "60s", CM_OPT_RELOAD, OFF(request_timeout_us),
     "Deadline for receiving a whole request (headers and body) once it started; a client "
     "that trickles bytes to stay under client_timeout is cut off here (408).",
     NULL, 1, 3600000},
    {"drain_timeout", CM_OPT_DURATION, "10s", CM_OPT_RELOAD, OFF(drain_timeout_us),
     "SIGTERM: how long the exchanges in flight may take to finish once steward stops "
     "accepting. Those still waiting for the model server then are cut off: 503 "
     "shutting_down with Connection: close (a stream ends with an error event, never a clean "
     "end), recorded with outcome shutdown; then lineage is flushed and steward exits. Keep it "
     "under the orchestrator's grace period (Kubernetes: terminationGracePeriodSeconds).",
     NULL, 1, 3600000},
    {"upstream_timeout", CM_OPT_DURATION, "120s", CM_OPT_RELOAD, OFF(upstream_timeout_us),
     "Idle time allowed while waiting for the model server (504 beyond). A reload applies "
     "it to the requests sent from then on.",
     NULL, 1, 3600000},
    {"unknown_path", CM_OPT_ENUM, "deny", CM_OPT_RELOAD, OFF(unknown_path),
     "What happens to paths steward does not know (model servers other than the OpenAI and "
     "Anthropic shapes): deny (404); pass (forwarded uninspected, recorded); inspect (generic "
     "JSON mode: a POST's JSON body and its JSON answer are inspected and redacted in every "
     "string value, or only at the JSON pointers the policy's generic section names, as route "
     "other; other methods pass only without a body).",
     unknown_path_choices},
    {"log_level", CM_OPT_ENUM, "info", CM_OPT_RELOAD, OFF(log_level), "err, warn, info or debug.",
     log_level_choices},
    {"tls_cert", CM_OPT_PATH, NULL, CM_OPT_RELOAD, OFF(tls_cert),
     "PEM certificate chain of the data listener; set with tls_key to serve HTTPS (TLS 1.2+). "
     "Re-read on reload (a certificate renewed in place is picked up by new connections); "
     "turning HTTPS on or off needs a restart."},
    {"tls_key", CM_OPT_PATH, NULL, CM_OPT_RELOAD, OFF(tls_key),
     "PEM private key of the data listener; refused when readable by group or others. With "
     "user set, a reload reads it as that user."},
    {"tls_client_ca", CM_OPT_PATH, NULL, CM_OPT_RELOAD, OFF(tls_client_ca),
     "PEM CA bundle that client certificates must chain to (mTLS)."},
    {"tls_client_auth", CM_OPT_ENUM, "none", CM_OPT_RELOAD, OFF(tls_client_auth),
     "Client certificates: none, optional (verified when sent) or required; the verified "
     "certificate's SAN (URI, DNS, e-mail) or CN becomes the caller.",
     client_auth_choices},
    {"upstream_ca", CM_OPT_PATH, NULL, CM_OPT_RELOAD, OFF(upstream_ca),
     "PEM CA bundle for an https:// upstream (default: the system store)."},
    {"upstream_tls_verify", CM_OPT_BOOL, "true", CM_OPT_RELOAD, OFF(upstream_tls_verify),
     "Verify an https:// upstream's certificate and host name."},
    {"lineage_topic", CM_OPT_STRING, "steward.lineage", CM_OPT_RESTART, OFF(lineage_topic),
     "Kafka topic of lineage records."},
    {"bootstrap_file", CM_OPT_PATH, NULL, CM_OPT_RESTART, OFF(bootstrap_file),
     "File holding the Kafka bootstrap address (written by the embedded Kafka); "
     "kafka.bootstrap.servers is the alternative."},
    {"kafka.", CM_OPT_PREFIX, NULL, CM_OPT_RESTART, OFF(kafka),
     "Any librdkafka producer property, passed through unchanged "
     "(kafka.bootstrap.servers, kafka.security.protocol, kafka.sasl.*, ...)."},
    {"durability", CM_OPT_ENUM, "sync", CM_OPT_RESTART, OFF(durability),
     "sync: an answer is released only once its lineage record is in Kafka (delivery report) "
     "or written to the spool and synced as spool_fsync says, else 503; async: answers go out "
     "at once and records are spooled on trouble (a crash can lose the records in flight).",
     durability_choices},
    {"spool_dir", CM_OPT_PATH, "/var/lib/steward/spool", CM_OPT_RESTART, OFF(spool_dir),
     "Directory of the lineage spool (records Kafka has not confirmed) and of the record "
     "chains' state; created if missing (its parent must exist); one steward per directory."},
    {"spool_max_bytes", CM_OPT_SIZE, "1G", CM_OPT_RESTART, OFF(spool_max_bytes),
     "Disk budget of the spool; beyond it on_spool_full applies.", NULL, 64 * 1024, 1LL << 50},
    {"spool_fsync", CM_OPT_ENUM, "batch", CM_OPT_RESTART, OFF(spool_fsync),
     "always: fdatasync after every spooled record; batch: one fdatasync for the records "
     "spooled together (group commit) before any of them counts as spooled; never: leave "
     "write-back to the kernel (survives a crash of steward, not a power cut).",
     spool_fsync_choices},
    {"on_spool_full", CM_OPT_ENUM, "fail_closed", CM_OPT_RESTART, OFF(on_spool_full),
     "When a record can be kept neither in Kafka nor in the spool: fail_closed answers 503 "
     "(sync) and refuses new requests while the spool is full; drop lets the answer go and "
     "counts and logs the dropped record (lineage_dropped).",
     spool_full_choices},
    {"spool_after", CM_OPT_DURATION, "2s", CM_OPT_RESTART, OFF(spool_after_us),
     "A record without a delivery report after this long is written to the spool as well "
     "(its Kafka copy stays queued); 0 turns this off.",
     NULL, 0, 3600000},
    {"spool_sync_wait", CM_OPT_DURATION, "0", CM_OPT_RESTART, OFF(spool_sync_wait_us),
     "durability = sync, spool_fsync = batch: how long the spool's group fdatasync may wait for "
     "Kafka's delivery reports. 0 (default): it starts at once, on its own thread, and an answer "
     "waits for it or for the record's delivery report, whichever comes first (with linger.ms 5 "
     "the disk, unless it stalls). A few ms: a record Kafka acknowledges meanwhile releases its "
     "answer without a disk sync (none at all while Kafka is quick; linger.ms becomes 0), the "
     "others are synced then; nothing answered is lost.",
     NULL, 0, 10000},
    {"checkpoint_records", CM_OPT_INT, "1000", CM_OPT_RESTART, OFF(checkpoint_records),
     "A signed chain checkpoint after this many records (0: only by time).", NULL, 0, 100000000},
    {"checkpoint_interval", CM_OPT_DURATION, "60s", CM_OPT_RESTART, OFF(checkpoint_interval_us),
     "A checkpoint at least this often while records flow (0: only by count).", NULL, 0, 86400000},
    {"signing_key", CM_OPT_PATH, NULL, CM_OPT_RESTART | CM_OPT_SECRET, OFF(signing_key),
     "Ed25519 private key (PEM) that signs checkpoints; must not be readable by group or "
     "others (steward-audit keygen). Unset: checkpoints are unsigned."},
    {"fingerprint_key_file", CM_OPT_PATH, NULL, CM_OPT_RESTART, OFF(fingerprint_key_file),
     "Secret key (a file of 16 to 1024 bytes, mode 0600) for the keyed fingerprints "
     "(HMAC-SHA256) of detected values in lineage records, which make subject search "
     "(steward-audit subject) possible without storing values. Unset: no fingerprints."},
};

int
sc_options_load(struct sc_options *o, const char *path, char *const *overrides, size_t noverrides,
                struct cm_err *err)
{
    int rc;

    memset(o, 0, sizeof(*o));
    rc = cm_conf_defaults(sc_opts, CM_ARRAY_LEN(sc_opts), o, err);
    if (rc != CM_OK)
        return rc;
    if (path != NULL) {
        rc = cm_conf_load(sc_opts, CM_ARRAY_LEN(sc_opts), o, path, err);
        if (rc != CM_OK)
            return rc;
    }
    for (size_t i = 0; i < noverrides; i++) {
        rc = cm_conf_set_kv(sc_opts, CM_ARRAY_LEN(sc_opts), o, overrides[i], err);
        if (rc != CM_OK)
            return rc;
    }
    if (o->policy == NULL)
        return cm_err_set(err, CM_EINPUT, "%s: option 'policy' is required",
                          path ? path : "(command line)");
    if (o->bootstrap_file == NULL && cm_kv_get(&o->kafka, "bootstrap.servers") == NULL)
        return cm_err_set(err, CM_EINPUT,
                          "%s: set kafka.bootstrap.servers or bootstrap_file for lineage delivery",
                          path ? path : "(command line)");
    if (o->instance == NULL) {
        char host[256];

        if (gethostname(host, sizeof(host)) != 0)
            strcpy(host, "steward");
        host[sizeof(host) - 1] = '\0';
        o->instance = cm_strdup(host);
    }
    return CM_OK;
}

void
sc_options_fini(struct sc_options *o)
{
    if (o->fingerprint_key != NULL) {
        cm_fp_key_clear(o->fingerprint_key);
        free(o->fingerprint_key);
        o->fingerprint_key = NULL;
    }
    cm_conf_fini(sc_opts, CM_ARRAY_LEN(sc_opts), o);
}

static bool
kv_equal(const struct cm_kv_list *a, const struct cm_kv_list *b)
{
    if (a->n != b->n)
        return false;
    for (size_t i = 0; i < a->n; i++)
        if (strcmp(a->items[i].key, b->items[i].key) != 0 ||
            strcmp(a->items[i].value, b->items[i].value) != 0)
            return false;
    return true;
}

static bool
str_equal(const char *a, const char *b)
{
    return a == b || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

size_t
sc_options_keep_restart(struct sc_options *o, const struct sc_options *running)
{
    size_t changed = 0;

    for (size_t i = 0; i < CM_ARRAY_LEN(sc_opts); i++) {
        const struct cm_opt *t = &sc_opts[i];
        char *dst = (char *)o + t->off;
        const char *src = (const char *)running + t->off;
        bool same = true;

        if (!(t->flags & CM_OPT_RESTART))
            continue;
        switch (t->type) {
        case CM_OPT_BOOL: same = *(bool *)dst == *(const bool *)src; break;
        case CM_OPT_INT: same = *(long long *)dst == *(const long long *)src; break;
        case CM_OPT_SIZE: same = *(size_t *)dst == *(const size_t *)src; break;
        case CM_OPT_DURATION: same = *(int64_t *)dst == *(const int64_t *)src; break;
        case CM_OPT_ENUM: same = *(int *)dst == *(const int *)src; break;
        case CM_OPT_STRING:
        case CM_OPT_PATH: same = str_equal(*(char **)dst, *(char *const *)src); break;
        case CM_OPT_PREFIX:
            same = kv_equal((struct cm_kv_list *)dst, (const struct cm_kv_list *)src);
            break;
        }
        if (same)
            continue;
        changed++;
        cm_log_warn("sidecar", "option_needs_restart option=%s%s kept=running", t->name,
                    t->type == CM_OPT_PREFIX ? "*" : "");
        switch (t->type) {
        case CM_OPT_BOOL: *(bool *)dst = *(const bool *)src; break;
        case CM_OPT_INT: *(long long *)dst = *(const long long *)src; break;
        case CM_OPT_SIZE: *(size_t *)dst = *(const size_t *)src; break;
        case CM_OPT_DURATION: *(int64_t *)dst = *(const int64_t *)src; break;
        case CM_OPT_ENUM: *(int *)dst = *(const int *)src; break;
        case CM_OPT_STRING:
        case CM_OPT_PATH: {
            char *const *s = (char *const *)src;

            free(*(char **)dst);
            *(char **)dst = *s != NULL ? cm_strdup(*s) : NULL;
            break;
        }
        case CM_OPT_PREFIX: {
            struct cm_kv_list *d = (struct cm_kv_list *)dst;
            const struct cm_kv_list *s = (const struct cm_kv_list *)src;

            for (size_t k = 0; k < d->n; k++) {
                free(d->items[k].key);
                free(d->items[k].value);
            }
            free(d->items);
            d->items = s->n ? cm_calloc(s->n, sizeof(*d->items)) : NULL;
            d->n = s->n;
            for (size_t k = 0; k < s->n; k++) {
                d->items[k].key = cm_strdup(s->items[k].key);
                d->items[k].value = cm_strdup(s->items[k].value);
            }
            break;
        }
        }
    }
    return changed;
}

void
sc_options_doc(FILE *out)
{
    cm_conf_doc(sc_opts, CM_ARRAY_LEN(sc_opts), "steward.conf (the sidecar, `steward`)", out);
}
