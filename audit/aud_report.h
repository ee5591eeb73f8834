/* SPDX-License-Identifier: Apache-2.0
 *
 * aud_report: renders the compliance report and the subject-access report
 * from their models (JSON trees built by steward-audit: "steward.report/1"
 * and "steward.subject-report/1", described in docs/auditing.md).
 *
 * HTML is one self-contained file: inline CSS and SVG charts (aud_svg.h),
 * no scripts, no external fonts, images or links to fetch; A4 print rules
 * (page margins, no table split across pages where avoidable, colours kept
 * when printed).  Markdown carries the same tables without charts.  Every
 * number shown comes from the model; key figures carry stable ids
 * (id="k-records", data-type="EMAIL" rows, ...) so tests and scripts can
 * read them back.  Every string from the model is escaped.
 *
 * Pure: no I/O, no clock (the model says when it was generated).  Borrows
 * the model; appends to out.  Any thread.
 */
#ifndef AUD_REPORT_H
#define AUD_REPORT_H

#include <jansson.h>

#include "common/cm_buf.h"

void aud_report_html(const json_t *model, struct cm_buf *out);
void aud_report_md(const json_t *model, struct cm_buf *out);

void aud_subject_html(const json_t *model, struct cm_buf *out);
void aud_subject_md(const json_t *model, struct cm_buf *out);

#endif /* AUD_REPORT_H */
