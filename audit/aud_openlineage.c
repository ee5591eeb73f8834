/* SPDX-License-Identifier: Apache-2.0
 *
 * aud_openlineage: builds RunEvents from lineage records.  See
 * aud_openlineage.h for the mapping.  Facet names follow OpenLineage's
 * convention for custom facets (a producer prefix, here "steward_"); the
 * standard facets used are nominalTime and parent (facets spec 1-0-1).
 */
#include "audit/aud_openlineage.h"

#include <stdio.h>
#include <string.h>

#define NOMINAL_SCHEMA                                                                             \
    "https://openlineage.io/spec/facets/1-0-1/NominalTimeRunFacet.json#/$defs/NominalTimeRunFacet"
#define PARENT_SCHEMA                                                                              \
    "https://openlineage.io/spec/facets/1-0-1/ParentRunFacet.json#/$defs/ParentRunFacet"

static const char *
sget(const json_t *o, const char *k)
{
    const json_t *v = json_object_get(o, k);

    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* A copy of v (or null when absent). */
static json_t *
copy(const json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);

    return v != NULL ? json_deep_copy(v) : json_null();
}

static json_t *
facet(const struct aud_ol_opts *o, const char *schema_file, const char *def)
{
    char url[512];

    snprintf(url, sizeof(url), "%s%s#/$defs/%s", o->facet_base, schema_file, def);
    return json_pack("{s:s, s:s}", "_producer", o->producer, "_schemaURL", url);
}

/* The job of a record's "model" object: (namespace, name). */
static void
job_of(const json_t *model, const struct aud_ol_opts *o, const char **ns, const char **name)
{
    const char *served = sget(model, "served"), *requested = sget(model, "requested");
    const char *up = sget(model, "upstream");

    *ns = up != NULL && *up != '\0' ? up : o->ns;
    *name = served != NULL ? served : requested != NULL ? requested : "(no model)";
}

/* A document id or URI as a dataset: "scheme://authority/path" gives
 * namespace "scheme://authority" and name "path" (without the slash). */
static json_t *
input_dataset(const char *doc, const struct aud_ol_opts *o)
{
    const char *sep = strstr(doc, "://");
    char ns[512];

    if (sep != NULL && sep != doc) {
        const char *slash = strchr(sep + 3, '/');

        if (slash != NULL && slash[1] != '\0' && (size_t)(slash - doc) < sizeof(ns)) {
            memcpy(ns, doc, (size_t)(slash - doc));
            ns[slash - doc] = '\0';
            return json_pack("{s:s, s:s}", "namespace", ns, "name", slash + 1);
        }
        return json_pack("{s:s, s:s}", "namespace", doc, "name", "/");
    }
    snprintf(ns, sizeof(ns), "%s-inputs", o->ns);
    return json_pack("{s:s, s:s}", "namespace", ns, "name", doc);
}

static const char *
event_type(const char *outcome)
{
    if (outcome == NULL)
        return "OTHER";
    if (strcmp(outcome, "ok") == 0)
        return "COMPLETE";
    if (strcmp(outcome, "denied") == 0 || strcmp(outcome, "client_gone") == 0)
        return "ABORT";
    return "FAIL";
}

json_t *
aud_ol_event(const json_t *rec, const json_t *parent_model, const struct aud_ol_opts *o,
             struct cm_err *err)
{
    const char *id = sget(rec, "record_id"), *ts_end = sget(rec, "ts_end");
    const char *ts_start = sget(rec, "ts_start"), *parent = sget(rec, "parent_record");
    const json_t *model = json_object_get(rec, "model"), *policy = json_object_get(rec, "policy");
    const char *job_ns, *job_name;
    json_t *ev, *run_facets, *f, *inputs, *outputs, *findings, *totals, *e;
    char name[128];
    size_t i;

    if (id == NULL || ts_end == NULL) {
        cm_err_set(err, CM_EINPUT, "record without %s", id == NULL ? "record_id" : "ts_end");
        return NULL;
    }
    job_of(model, o, &job_ns, &job_name);
    run_facets = json_object();

    f = json_pack("{s:s, s:s, s:s}", "_producer", o->producer, "_schemaURL", NOMINAL_SCHEMA,
                  "nominalStartTime", ts_start != NULL ? ts_start : ts_end);
    json_object_set_new(f, "nominalEndTime", json_string(ts_end));
    json_object_set_new(run_facets, "nominalTime", f);

    if (parent != NULL && parent_model != NULL) {
        const char *pns, *pname;

        job_of(parent_model, o, &pns, &pname);
        f = json_pack("{s:s, s:s, s:{s:s}, s:{s:s, s:s}}", "_producer", o->producer, "_schemaURL",
                      PARENT_SCHEMA, "run", "runId", parent, "job", "namespace", pns, "name",
                      pname);
        json_object_set_new(run_facets, "parent", f);
    }

    f = facet(o, "StewardExchangeRunFacet.json", "StewardExchangeRunFacet");
    json_object_set_new(f, "instance", copy(rec, "instance"));
    json_object_set_new(f, "caller", copy(rec, "caller"));
    json_object_set_new(f, "request", copy(rec, "request"));
    json_object_set_new(f, "model", copy(rec, "model"));
    json_object_set_new(f, "httpStatus", copy(rec, "http_status"));
    json_object_set_new(f, "outcome", copy(rec, "outcome"));
    json_object_set_new(f, "latencyMicros", copy(rec, "latency_us"));
    json_object_set_new(f, "usage", copy(rec, "usage"));
    json_object_set_new(f, "trace", copy(rec, "trace"));
    json_object_set_new(f, "parentRecord", copy(rec, "parent_record"));
    json_object_set_new(run_facets, "steward_exchange", f);

    f = facet(o, "StewardPolicyRunFacet.json", "StewardPolicyRunFacet");
    json_object_set_new(f, "id", copy(policy, "id"));
    json_object_set_new(f, "versionHash", copy(policy, "hash"));
    json_object_set_new(f, "mode", copy(policy, "mode"));
    json_object_set_new(f, "decision", copy(policy, "decision"));
    json_object_set_new(f, "ruleId", copy(policy, "rule_id"));
    json_object_set_new(f, "matchedRules",
                        json_is_array(json_object_get(policy, "matched_rules"))
                            ? json_deep_copy(json_object_get(policy, "matched_rules"))
                            : json_array());
    json_object_set_new(run_facets, "steward_policy", f);

    /* Findings without their fingerprints: a catalog is no place for them. */
    findings = json_array();
    totals = json_object();
    json_array_foreach (json_object_get(rec, "findings"), i, e) {
        const char *type = sget(e, "type");
        json_t *c = json_object_get(e, "count");
        json_int_t n = json_is_integer(c) ? json_integer_value(c) : 0;

        json_array_append_new(findings, json_pack("{s:o, s:o, s:o, s:o, s:o}", "direction",
                                                  copy(e, "direction"), "type", copy(e, "type"),
                                                  "field", copy(e, "pointer"), "count",
                                                  copy(e, "count"), "action", copy(e, "action")));
        if (type != NULL) {
            json_t *t = json_object_get(totals, type);

            json_object_set_new(totals, type, json_integer((t ? json_integer_value(t) : 0) + n));
        }
    }
    f = facet(o, "StewardPiiRunFacet.json", "StewardPiiRunFacet");
    json_object_set_new(f, "findings", findings);
    json_object_set_new(f, "totalsByType", totals);
    json_object_set_new(run_facets, "steward_pii", f);

    inputs = json_array();
    json_array_foreach (json_object_get(rec, "inputs"), i, e)
        if (json_is_string(e))
            json_array_append_new(inputs, input_dataset(json_string_value(e), o));
    if (parent != NULL) {
        snprintf(name, sizeof(name), "response/%s", parent);
        json_array_append_new(inputs, json_pack("{s:s, s:s}", "namespace", o->ns, "name", name));
    }
    snprintf(name, sizeof(name), "response/%s", id);
    outputs = json_pack("[{s:s, s:s}]", "namespace", o->ns, "name", name);

    ev = json_pack("{s:s, s:s, s:s, s:s, s:{s:s, s:o}, s:{s:s, s:s}, s:o, s:o}", "eventType",
                   event_type(sget(rec, "outcome")), "eventTime", ts_end, "producer", o->producer,
                   "schemaURL", AUD_OL_SCHEMA_URL, "run", "runId", id, "facets", run_facets, "job",
                   "namespace", job_ns, "name", job_name, "inputs", inputs, "outputs", outputs);
    return ev;
}
