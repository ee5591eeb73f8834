/* SPDX-License-Identifier: Apache-2.0
 *
 * libFuzzer harness: what steward-audit builds from stored JSON.  The input
 * is parsed as JSON (jansson); if it parses, it is rendered as a compliance
 * report and a subject-access report (HTML and Markdown,
 * audit/aud_report.c) and, when it is an object, turned into an OpenLineage
 * RunEvent (audit/aud_openlineage.c).  Records in PostgreSQL come from any
 * producer that passed the loader's validator, and report models from
 * PostgreSQL; none of them may crash a renderer.  Invariants: the HTML never
 * contains a raw "<script" (every model string is escaped), and an event,
 * when built, carries run.runId and eventTime.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "audit/aud_openlineage.h"
#include "audit/aud_report.h"
#include "common/cm_buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct aud_ol_opts opts = {AUD_OL_DEFAULT_PRODUCER, AUD_OL_DEFAULT_FACET_BASE,
                                            AUD_OL_DEFAULT_NAMESPACE};
    json_t *root = json_loadb((const char *)data, size, JSON_DECODE_ANY, NULL);
    struct cm_buf out;
    struct cm_err err;
    json_t *ev;

    if (root == NULL)
        return 0;
    cm_buf_init(&out);
    aud_report_html(root, &out);
    if (out.p != NULL && strstr(out.p, "<script") != NULL)
        abort();
    cm_buf_reset(&out);
    aud_report_md(root, &out);
    cm_buf_reset(&out);
    aud_subject_html(root, &out);
    if (out.p != NULL && strstr(out.p, "<script") != NULL)
        abort();
    cm_buf_reset(&out);
    aud_subject_md(root, &out);
    cm_buf_fini(&out);
    ev = aud_ol_event(root, json_object_get(root, "model"), &opts, &err);
    if (ev != NULL && (json_object_get(json_object_get(ev, "run"), "runId") == NULL ||
                       json_object_get(ev, "eventTime") == NULL))
        abort();
    json_decref(ev);
    json_decref(root);
    return 0;
}
