/* SPDX-License-Identifier: Apache-2.0
 *
 * aud_openlineage: one OpenLineage RunEvent (spec 2-0-2) per lineage
 * record, for Marquez, DataHub or any OpenLineage consumer
 * (`steward-audit export --openlineage`).
 *
 * Mapping:
 *   job      the model deployment: namespace = the upstream endpoint (or
 *            the configured namespace when unknown), name = the model served
 *            (else requested)
 *   run      the exchange: runId = record id; facets nominalTime (start and
 *            end), parent (the X-Steward-Parent record's run and job, when
 *            known), and three custom facets with schema URLs:
 *            steward_exchange (caller, route, status, outcome, latency,
 *            usage, trace context), steward_policy (policy id, version hash,
 *            mode, decision, rules) and steward_pii (findings by direction,
 *            type, field and action; never values, never fingerprints)
 *   inputs   the source documents (X-Steward-Inputs; a URI "s3://b/k" is
 *            namespace "s3://b", name "k") and, for an agent chain, the
 *            parent exchange's response dataset
 *   outputs  the response dataset "response/<record id>" in the steward
 *            namespace, so a chain links up as datasets in a catalog
 *   eventType COMPLETE for outcome ok, ABORT for denied or client_gone,
 *            FAIL otherwise; eventTime = the record's end
 *
 * The custom facets' JSON Schemas are in schema/openlineage/ and are
 * published under opts->facet_base.  Pure; any thread.
 */
#ifndef AUD_OPENLINEAGE_H
#define AUD_OPENLINEAGE_H

#include <jansson.h>

#include "common/cm_status.h"

#define AUD_OL_SCHEMA_URL "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"
#define AUD_OL_DEFAULT_PRODUCER "https://steward.invalid/steward-audit"
#define AUD_OL_DEFAULT_FACET_BASE "https://steward.invalid/schema/openlineage/1-0-0/"
#define AUD_OL_DEFAULT_NAMESPACE "steward"

struct aud_ol_opts {
    const char *producer;   /* URI of the producer */
    const char *facet_base; /* URI prefix of the custom facets' schemas, ending in '/' */
    const char *ns;         /* namespace of steward's datasets and of jobs without endpoint */
};

/* Builds the RunEvent of the stored record rec (the lineage record JSON).
 * parent_model: the "model" object of the parent record when it is known
 * (for the parent facet), else NULL.  Returns a new reference, or NULL with
 * err set when rec lacks record_id or ts_end.  Borrows its arguments. */
json_t *aud_ol_event(const json_t *rec, const json_t *parent_model, const struct aud_ol_opts *o,
                     struct cm_err *err);

#endif /* AUD_OPENLINEAGE_H */
