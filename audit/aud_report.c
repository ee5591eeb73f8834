/* SPDX-License-Identifier: Apache-2.0
 *
 * aud_report: HTML and Markdown renderings of the report models.  See
 * aud_report.h; the models are built by audit/cli/sa_report.c and
 * audit/cli/sa_subject.c.
 *
 * The HTML report reads top-down as an auditor works: what happened
 * (summary), the Art. 30 record (purposes, categories, recipients,
 * retention, measures), where personal data went (exposure), what the
 * policy did (decisions, denials, policy versions), whether the record can
 * be trusted (chain integrity, retention, rejects), and a sign-off block.
 * "In clear" means a finding whose action was allow: the value reached its
 * destination unchanged.  Protected means masked, redacted, hashed,
 * pseudonymised or encrypted; denied means the exchange was stopped.
 */
#include "audit/aud_report.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/aud_graph.h"
#include "audit/aud_svg.h"
#include "common/cm_mem.h"

#define MAX_TYPE_SERIES 7 /* types drawn as their own series; the rest is "other" */

/* ---------------------------------------------------------------- model */

static const char *
jstr(const json_t *o, const char *k)
{
    const json_t *v = json_object_get(o, k);

    return json_is_string(v) ? json_string_value(v) : NULL;
}

static double
jnum(const json_t *o, const char *k)
{
    const json_t *v = json_object_get(o, k);

    return json_is_number(v) ? json_number_value(v) : 0;
}

/* The array at k, or NULL (jansson's array functions take NULL as empty). */
static const json_t *
jarr(const json_t *o, const char *k)
{
    const json_t *v = json_object_get(o, k);

    return json_is_array(v) ? v : NULL;
}

static const json_t *
jobj(const json_t *o, const char *k)
{
    const json_t *v = json_object_get(o, k);

    return json_is_object(v) ? v : NULL;
}

/* -------------------------------------------------------------- writing */

static void
h(struct cm_buf *out, const char *s, const char *dflt)
{
    aud_xml_escape(out, s != NULL ? s : dflt);
}

static void
cnt(struct cm_buf *out, double v)
{
    char buf[32];

    aud_fmt_count(v, buf, sizeof(buf));
    cm_buf_puts(out, buf);
}

static void
pct(struct cm_buf *out, double part, double whole)
{
    if (whole <= 0)
        cm_buf_puts(out, "&#8211;");
    else if (part > 0 && part * 1000 < whole)
        cm_buf_puts(out, "&lt;0.1%");
    else
        cm_buf_printf(out, "%.1f%%", 100.0 * part / whole);
}

/* Joins the strings of array a with ", " (escaped), or dflt when empty. */
static void
hlist(struct cm_buf *out, const json_t *a, const char *dflt)
{
    size_t i, n = 0;
    json_t *e;

    json_array_foreach (a, i, e) {
        if (!json_is_string(e))
            continue;
        if (n++ > 0)
            cm_buf_puts(out, ", ");
        aud_xml_escape(out, json_string_value(e));
    }
    if (n == 0)
        aud_xml_escape(out, dflt);
}

/* Markdown cell text: | and newlines would break the table. */
static void
m(struct cm_buf *out, const char *s, const char *dflt)
{
    if (s == NULL)
        s = dflt;
    for (; *s; s++) {
        if (*s == '|')
            cm_buf_puts(out, "\\|");
        else if (*s == '\n' || *s == '\r')
            cm_buf_putc(out, ' ');
        else if ((unsigned char)*s < 0x20)
            cm_buf_putc(out, '?');
        else
            cm_buf_putc(out, *s);
    }
}

static const char css[] =
    ":root{--ink:#202124;--muted:#5f6368;--line:#dadce0;--accent:#1a4d8f;--bg:#f6f8fa}"
    "*{box-sizing:border-box;-webkit-print-color-adjust:exact;print-color-adjust:exact}"
    "body{font:13px/1.45 'DejaVu Sans',Arial,Helvetica,sans-serif;color:var(--ink);margin:0;"
    "background:#fff}"
    "main{max-width:1060px;margin:0 auto;padding:28px 36px 48px}"
    "header.cover{border-bottom:3px solid var(--accent);padding-bottom:12px;margin-bottom:16px}"
    ".brand{font-size:11px;letter-spacing:.12em;text-transform:uppercase;color:var(--accent);"
    "font-weight:bold}"
    "h1{font-size:26px;margin:6px 0 12px}"
    "h2{font-size:18px;color:var(--accent);border-bottom:1px solid var(--line);"
    "padding-bottom:4px;margin:30px 0 10px;break-after:avoid}"
    "h3{font-size:14px;margin:18px 0 6px;break-after:avoid}"
    "table{border-collapse:collapse;width:100%;margin:6px 0 12px}"
    "tr{break-inside:avoid}"
    "th,td{border-bottom:1px solid var(--line);padding:4px 8px;text-align:left;"
    "vertical-align:top}"
    "th{background:var(--bg);font-weight:bold;font-size:12px}"
    "td.n,th.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}"
    "table.meta td{border:none;padding:2px 8px 2px 0}"
    "table.meta td:first-child{width:200px;color:var(--muted)}"
    "table.art30 th{width:230px;background:#fff;color:var(--muted);font-weight:normal}"
    ".kpis{display:grid;grid-template-columns:repeat(4,1fr);gap:10px;margin:10px 0 14px}"
    ".kpi{border:1px solid var(--line);border-radius:6px;padding:9px 12px;background:var(--bg)}"
    ".kpi .v{font-size:22px;font-weight:bold}"
    ".kpi .l{color:var(--muted);font-size:11px}"
    ".kpi.bad .v{color:#b3261e}.kpi.good .v{color:#1e7b34}"
    ".lead{font-size:14px;max-width:62em}"
    ".note{color:var(--muted);font-size:12px}"
    "pre.problems{font-size:11px;white-space:pre-wrap;word-break:break-all}"
    ".badge{display:inline-block;padding:2px 9px;border-radius:10px;font-size:11px;"
    "font-weight:bold}"
    ".ok{background:#e6f4ea;color:#1e7b34}.warn{background:#fef7e0;color:#8a4b00}"
    ".bad{background:#fde8e8;color:#b3261e}.na{background:#f1f3f4;color:#5f6368}"
    "figure{margin:8px 0 14px;break-inside:avoid}"
    "code{font-family:'DejaVu Sans Mono',monospace;font-size:11.5px}"
    "ul.measures{margin:4px 0;padding-left:18px}"
    "nav.toc ol{columns:2;margin:4px 0 0;padding-left:20px}"
    "nav.toc a{color:var(--accent);text-decoration:none}"
    "table.sign td{height:40px;border-bottom:1px solid #9aa0a6}"
    "footer{margin-top:30px;color:var(--muted);font-size:11px;border-top:1px solid var(--line);"
    "padding-top:8px}"
    "@page{size:A4;margin:14mm 12mm}"
    "@media print{main{padding:0;max-width:none}a{color:inherit;text-decoration:none}"
    "section{break-inside:auto}figure,table.art30,.kpis{break-inside:avoid}}";

static void
html_head(struct cm_buf *out, const char *title)
{
    cm_buf_puts(out, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                     "<meta name=\"generator\" content=\"steward-audit\">\n<title>");
    h(out, title, "report");
    cm_buf_puts(out, "</title>\n<style>");
    cm_buf_puts(out, css);
    cm_buf_puts(out, "</style>\n</head>\n<body>\n<main>\n");
}

static void
kpi(struct cm_buf *out, const char *id, double v, const char *label, const char *cls)
{
    cm_buf_printf(out, "<div class=\"kpi%s%s\"><div class=\"v\" id=\"%s\">", cls ? " " : "",
                  cls ? cls : "", id);
    cnt(out, v);
    cm_buf_puts(out, "</div><div class=\"l\">");
    h(out, label, "");
    cm_buf_puts(out, "</div></div>\n");
}

static void
th(struct cm_buf *out, const char *const *heads, const bool *numeric, size_t n)
{
    cm_buf_puts(out, "<thead><tr>");
    for (size_t i = 0; i < n; i++) {
        cm_buf_puts(out, numeric != NULL && numeric[i] ? "<th class=\"n\">" : "<th>");
        h(out, heads[i], "");
        cm_buf_puts(out, "</th>");
    }
    cm_buf_puts(out, "</tr></thead>\n");
}

static void
td(struct cm_buf *out, const char *s, const char *dflt)
{
    cm_buf_puts(out, "<td>");
    h(out, s, dflt);
    cm_buf_puts(out, "</td>");
}

static void
tdn(struct cm_buf *out, double v, const char *key)
{
    if (key != NULL)
        cm_buf_printf(out, "<td class=\"n\" data-k=\"%s\">", key);
    else
        cm_buf_puts(out, "<td class=\"n\">");
    cnt(out, v);
    cm_buf_puts(out, "</td>");
}

static void
tdcode(struct cm_buf *out, const char *s, size_t max)
{
    char buf[80];

    cm_buf_puts(out, "<td><code title=\"");
    h(out, s, "");
    cm_buf_puts(out, "\">");
    if (s != NULL && strlen(s) > max && max < sizeof(buf) - 4) {
        memcpy(buf, s, max);
        memcpy(buf + max, "\xe2\x80\xa6", 4);
        h(out, buf, "");
    } else {
        h(out, s, "(none)");
    }
    cm_buf_puts(out, "</code></td>");
}

/* ------------------------------------------------------- report: pieces */

/* Distinct strings of key k over array a, in first-seen order (borrowed). */
static size_t
distinct(const json_t *a, const char *k, const char **outv, size_t max)
{
    size_t i, n = 0;
    json_t *e;

    json_array_foreach (a, i, e) {
        const char *v = jstr(e, k);
        bool seen = false;

        if (v == NULL)
            v = "(none)";
        for (size_t j = 0; j < n && !seen; j++)
            seen = strcmp(outv[j], v) == 0;
        if (!seen && n < max)
            outv[n++] = v;
    }
    return n;
}

/* Findings of (row key = rv, type = tv) in a list of {rowkey, type, findings}. */
static double
lookup2(const json_t *a, const char *rk, const char *rv, const char *tv)
{
    size_t i;
    json_t *e;

    json_array_foreach (a, i, e) {
        const char *r = jstr(e, rk), *t = jstr(e, "type");

        if (r == NULL)
            r = "(none)";
        if (t != NULL && strcmp(r, rv) == 0 && strcmp(t, tv) == 0)
            return jnum(e, "findings");
    }
    return 0;
}

/* A pivot table: rows = distinct rk values, columns = entity types. */
static void
pivot(struct cm_buf *out, const json_t *a, const char *rk, const char *rhead, const char *attr,
      const json_t *by_type)
{
    const char *rows[200], *types[40];
    size_t nr = distinct(a, rk, rows, 200), nt = 0, i;
    json_t *e;

    json_array_foreach (by_type, i, e)
        if (jstr(e, "type") != NULL && nt < 40)
            types[nt++] = jstr(e, "type");
    if (nr == 0 || nt == 0) {
        cm_buf_puts(out, "<p class=\"note\">No personal data found in the period.</p>\n");
        return;
    }
    cm_buf_puts(out, "<table>\n<thead><tr><th>");
    h(out, rhead, "");
    cm_buf_puts(out, "</th>");
    for (size_t t = 0; t < nt; t++) {
        cm_buf_puts(out, "<th class=\"n\">");
        h(out, types[t], "");
        cm_buf_puts(out, "</th>");
    }
    cm_buf_puts(out, "<th class=\"n\">total</th></tr></thead>\n<tbody>\n");
    for (size_t r = 0; r < nr; r++) {
        double total = 0;

        cm_buf_printf(out, "<tr %s=\"", attr);
        h(out, rows[r], "");
        cm_buf_puts(out, "\">");
        td(out, rows[r], "(none)");
        for (size_t t = 0; t < nt; t++) {
            double v = lookup2(a, rk, rows[r], types[t]);

            total += v;
            if (v > 0)
                tdn(out, v, types[t]);
            else
                cm_buf_puts(out, "<td class=\"n\">&#183;</td>");
        }
        tdn(out, total, "total");
        cm_buf_puts(out, "</tr>\n");
    }
    cm_buf_puts(out, "</tbody></table>\n");
}

static void
daily_chart(struct cm_buf *out, const json_t *daily)
{
    size_t n = json_array_size(daily), i;
    const char **cats = cm_calloc(n + 1, sizeof(*cats));
    double *v[4];
    static const char *const names[] = {"allow", "redact", "deny", "other"};
    static const char *const colors[] = {"#009E73", "#E69F00", "#D55E00", "#999999"};
    struct aud_svg_series s[4];
    json_t *e;

    for (int k = 0; k < 4; k++)
        v[k] = cm_calloc(n + 1, sizeof(double));
    json_array_foreach (daily, i, e) {
        const char *d = jstr(e, "day");

        cats[i] = d != NULL && strlen(d) == 10 ? d + 5 : (d ? d : "");
        for (int k = 0; k < 4; k++)
            v[k][i] = jnum(e, names[k]);
    }
    for (int k = 0; k < 4; k++) {
        s[k].name = names[k];
        s[k].color = colors[k];
        s[k].values = v[k];
    }
    cm_buf_puts(out, "<figure>");
    aud_svg_stacked_bars(out, "Exchanges per day (UTC) by policy decision", cats, n, s, 4, 980,
                         250);
    cm_buf_puts(out, "</figure>\n");
    for (int k = 0; k < 4; k++)
        free(v[k]);
    free(cats);
}

static void
exposure_chart(struct cm_buf *out, const json_t *daily_types, const json_t *by_type)
{
    const char *days[400], *types[MAX_TYPE_SERIES + 1];
    size_t nd = distinct(daily_types, "day", days, 400), nt = 0, i;
    struct aud_svg_series s[MAX_TYPE_SERIES + 1];
    double *v[MAX_TYPE_SERIES + 1];
    const char *cats[400];
    bool other = json_array_size(by_type) > MAX_TYPE_SERIES;
    json_t *e;

    json_array_foreach (by_type, i, e)
        if (jstr(e, "type") != NULL && nt < MAX_TYPE_SERIES)
            types[nt++] = jstr(e, "type");
    for (size_t k = 0; k < nt + other; k++) {
        v[k] = cm_calloc(nd + 1, sizeof(double));
        s[k].name = k < nt ? types[k] : "other types";
        s[k].color = aud_svg_color(k);
        s[k].values = v[k];
    }
    for (size_t d = 0; d < nd; d++)
        cats[d] = strlen(days[d]) == 10 ? days[d] + 5 : days[d];
    json_array_foreach (daily_types, i, e) {
        const char *d = jstr(e, "day"), *t = jstr(e, "type");
        size_t di = 0, ti = nt;

        if (d == NULL || t == NULL)
            continue;
        while (di < nd && strcmp(days[di], d) != 0)
            di++;
        for (size_t k = 0; k < nt; k++)
            if (strcmp(types[k], t) == 0)
                ti = k;
        if (di < nd && (ti < nt || other))
            v[ti][di] += jnum(e, "findings");
    }
    cm_buf_puts(out, "<figure>");
    aud_svg_stacked_bars(out, "Personal data found per day (UTC), by entity type", cats, nd, s,
                         nt + other, 980, 250);
    cm_buf_puts(out, "</figure>\n");
    for (size_t k = 0; k < nt + other; k++)
        free(v[k]);
}

static void
type_bars(struct cm_buf *out, const json_t *by_type)
{
    size_t n = json_array_size(by_type), i;
    const char **labels = cm_calloc(n + 1, sizeof(*labels));
    double *vals = cm_calloc(n + 1, sizeof(double)), *clear = cm_calloc(n + 1, sizeof(double));
    json_t *e;

    json_array_foreach (by_type, i, e) {
        labels[i] = jstr(e, "type") ? jstr(e, "type") : "?";
        vals[i] = jnum(e, "findings");
        clear[i] = jnum(e, "in_clear");
    }
    cm_buf_puts(out, "<figure>");
    aud_svg_hbars(out, "Findings by entity type", labels, vals, clear, n, "#0072B2", "#D55E00",
                  "of which passed in clear", 980);
    cm_buf_puts(out, "</figure>\n");
    free(labels);
    free(vals);
    free(clear);
}

/* Technical and organisational measures, as observed. */
static void
measures(struct cm_buf *out, const json_t *mo)
{
    const json_t *ret = jobj(mo, "retention"), *chain = jobj(mo, "chain");
    size_t i;
    json_t *e;

    cm_buf_puts(out, "<ul class=\"measures\">\n");
    json_array_foreach (jarr(mo, "policies"), i, e) {
        cm_buf_puts(out, "<li>Policy <b>");
        h(out, jstr(e, "id"), "(unnamed)");
        cm_buf_puts(out, "</b> in <b>");
        h(out, jstr(e, "mode"), "?");
        cm_buf_puts(out, "</b> mode, version <code>");
        {
            char shorth[16] = "";

            if (jstr(e, "hash") != NULL)
                snprintf(shorth, sizeof(shorth), "%.12s", jstr(e, "hash"));
            h(out, shorth, "?");
        }
        cm_buf_puts(out, "</code>, applied to ");
        cnt(out, jnum(e, "records"));
        cm_buf_puts(out, " exchanges.</li>\n");
    }
    {
        const char *types[40];
        size_t nt = distinct(jarr(mo, "by_type_action"), "type", types, 40);

        for (size_t t = 0; t < nt; t++) {
            size_t n = 0;

            cm_buf_puts(out, "<li><b>");
            h(out, types[t], "");
            cm_buf_puts(out, "</b>: ");
            json_array_foreach (jarr(mo, "by_type_action"), i, e) {
                if (jstr(e, "type") == NULL || strcmp(jstr(e, "type"), types[t]) != 0)
                    continue;
                if (n++ > 0)
                    cm_buf_puts(out, "; ");
                h(out, jstr(e, "action"), "?");
                cm_buf_puts(out, " in ");
                h(out, jstr(e, "direction"), "?");
                cm_buf_puts(out, "s");
                cm_buf_puts(out, " (");
                cnt(out, jnum(e, "findings"));
                cm_buf_puts(out, ")");
            }
            cm_buf_puts(out, ".</li>\n");
        }
    }
    json_array_foreach (jarr(mo, "key_ids"), i, e) {
        if (jstr(e, "key_id") != NULL) {
            cm_buf_puts(out, "<li>Values are never stored; keyed HMAC-SHA256 fingerprints (key id "
                             "<code>");
            h(out, jstr(e, "key_id"), "");
            cm_buf_puts(out, "</code>) make subject access requests answerable for ");
            cnt(out, jnum(e, "records"));
            cm_buf_puts(out, " exchanges.</li>\n");
        } else {
            cm_buf_puts(out, "<li>Fingerprinting was off for ");
            cnt(out, jnum(e, "records"));
            cm_buf_puts(out, " exchanges: values are not stored, and these exchanges cannot be "
                             "found by subject.</li>\n");
        }
    }
    if (ret != NULL && json_is_true(json_object_get(ret, "row_level_security")))
        cm_buf_puts(out, "<li>Row-level security per tenant on the lineage tables; auditors read "
                         "only their tenants.</li>\n");
    cm_buf_puts(out, "<li>Every query made through steward-audit is recorded in the access log "
                     "(who, when, what was asked).</li>\n");
    if (ret != NULL) {
        cm_buf_puts(out, "<li>Retention: ");
        json_array_foreach (jarr(ret, "classes"), i, e) {
            if (i > 0)
                cm_buf_puts(out, "; ");
            h(out, jstr(e, "class"), "?");
            cm_buf_puts(out, " ");
            h(out, jstr(e, "keep"), "?");
        }
        cm_buf_printf(out, "; %zu legal hold%s active.</li>\n",
                      json_array_size(jarr(ret, "legal_holds")),
                      json_array_size(jarr(ret, "legal_holds")) == 1 ? "" : "s");
    }
    cm_buf_puts(out, "<li>Tamper evidence (hash chains, signed checkpoints): ");
    h(out, chain ? jstr(chain, "verdict") : NULL, "not available");
    cm_buf_puts(out, ".</li>\n</ul>\n");
}

/* ---------------------------------------------------------- report: HTML */

void
aud_report_html(const json_t *mo, struct cm_buf *out)
{
    const json_t *sum = jobj(mo, "summary"), *fnd = jobj(mo, "findings"), *per = jobj(mo, "period");
    const json_t *ret = jobj(mo, "retention"), *rej = jobj(mo, "rejects"),
                 *chain = jobj(mo, "chain");
    double records = jnum(sum, "records"), findings = jnum(fnd, "findings");
    double in_clear = jnum(fnd, "in_clear"), deny = jnum(sum, "deny");
    const char *tenant = jstr(mo, "tenant");
    size_t i, n;
    json_t *e;

    html_head(out, jstr(mo, "title"));
    cm_buf_puts(out, "<header class=\"cover\">\n<div class=\"brand\">steward &#183; lineage "
                     "audit</div>\n<h1>");
    h(out, jstr(mo, "title"), "Lineage and privacy report");
    cm_buf_puts(out, "</h1>\n<table class=\"meta\">\n<tr><td>Period (UTC)</td><td id=\"period\">");
    h(out, jstr(per, "from"), "?");
    cm_buf_puts(out, " &#8594; ");
    h(out, jstr(per, "to"), "?");
    cm_buf_puts(out, " <span class=\"note\">(end exclusive)</span></td></tr>\n"
                     "<tr><td>Scope</td><td>");
    if (tenant != NULL) {
        cm_buf_puts(out, "tenant <b>");
        h(out, tenant, "");
        cm_buf_puts(out, "</b>");
    } else {
        cm_buf_puts(out, "all tenants visible to ");
        h(out, jstr(mo, "generated_by"), "?");
    }
    cm_buf_puts(out, "</td></tr>\n<tr><td>Controller</td><td>");
    h(out, jstr(mo, "controller"), "(not stated: pass --controller)");
    cm_buf_puts(out, "</td></tr>\n<tr><td>Generated</td><td>");
    h(out, jstr(mo, "generated_at"), "?");
    cm_buf_puts(out, " by ");
    h(out, jstr(mo, "generated_by"), "?");
    cm_buf_puts(out, " from database ");
    h(out, jstr(mo, "database"), "?");
    cm_buf_puts(out, "</td></tr>\n</table>\n</header>\n");

    cm_buf_puts(out,
                "<nav class=\"toc\"><b>Contents</b><ol>"
                "<li><a href=\"#summary\">Summary</a></li>"
                "<li><a href=\"#art30\">Record of processing activities (GDPR Art. 30)</a></li>"
                "<li><a href=\"#recipients\">Recipients: models and endpoints</a></li>"
                "<li><a href=\"#exposure\">Personal data exposure</a></li>"
                "<li><a href=\"#decisions\">Decisions and denials</a></li>"
                "<li><a href=\"#policies\">Policy versions in force</a></li>"
                "<li><a href=\"#chain\">Chain integrity</a></li>"
                "<li><a href=\"#retention\">Retention and legal holds</a></li>"
                "<li><a href=\"#rejects\">Records rejected by the loader</a></li>"
                "<li><a href=\"#signoff\">Method and sign-off</a></li></ol></nav>\n");

    /* 1. summary */
    cm_buf_puts(out, "<section id=\"summary\">\n<h2>1. Summary</h2>\n<div class=\"kpis\">\n");
    kpi(out, "k-records", records, "exchanges recorded", NULL);
    kpi(out, "k-findings", findings, "personal-data values found", NULL);
    kpi(out, "k-protected", findings - in_clear, "of them protected or stopped", "good");
    kpi(out, "k-in-clear", in_clear, "passed in clear under policy", in_clear > 0 ? "bad" : NULL);
    kpi(out, "k-deny", deny, "exchanges denied", deny > 0 ? "bad" : NULL);
    kpi(out, "k-redact", jnum(sum, "redact"), "exchanges redacted", NULL);
    kpi(out, "k-callers", jnum(sum, "callers"), "callers", NULL);
    kpi(out, "k-models", jnum(sum, "models"), "models", NULL);
    cm_buf_puts(out, "</div>\n<p class=\"lead\">");
    if (records == 0) {
        cm_buf_puts(out, "No exchange was recorded in this period and scope.");
    } else {
        cm_buf_puts(out, "Between ");
        h(out, jstr(sum, "first"), "?");
        cm_buf_puts(out, " and ");
        h(out, jstr(sum, "last"), "?");
        cm_buf_puts(out, ", steward recorded <b>");
        cnt(out, records);
        cm_buf_puts(out, "</b> exchanges (identified callers: ");
        cnt(out, jnum(sum, "callers"));
        cm_buf_puts(out, "; tenants: ");
        cnt(out, jnum(sum, "tenants"));
        cm_buf_puts(out, "; models: ");
        cnt(out, jnum(sum, "models"));
        cm_buf_puts(out, "). It found <b>");
        cnt(out, findings);
        cm_buf_puts(out, "</b> personal-data values in ");
        cnt(out, jnum(fnd, "records_with_findings"));
        cm_buf_puts(out, " exchanges (");
        pct(out, jnum(fnd, "records_with_findings"), records);
        cm_buf_puts(out, "); ");
        cnt(out, findings - in_clear);
        cm_buf_puts(out, " (");
        pct(out, findings - in_clear, findings);
        cm_buf_puts(out, ") were masked, redacted, hashed or stopped, and ");
        cnt(out, in_clear);
        cm_buf_puts(out, " passed in clear because the policy allowed them. Exchanges denied: ");
        cnt(out, deny);
        cm_buf_puts(out, "; exchanges that did not end with outcome ok: ");
        cnt(out, jnum(sum, "not_ok"));
        cm_buf_puts(out, ".");
    }
    cm_buf_puts(out, "</p>\n");
    daily_chart(out, jarr(mo, "daily"));
    cm_buf_puts(out, "</section>\n");

    /* 2. Art. 30 */
    cm_buf_puts(out, "<section id=\"art30\">\n<h2>2. Record of processing activities "
                     "(GDPR Art. 30)</h2>\n<p class=\"note\">Derived from the recorded traffic "
                     "and the lineage store's configuration: one processing activity per "
                     "declared purpose. Items marked <i>to state</i> cannot be derived from "
                     "traffic and must be completed by the controller.</p>\n");
    n = 0;
    json_array_foreach (jarr(mo, "activities"), i, e) {
        size_t k;
        json_t *c;

        n++;
        cm_buf_printf(out, "<h3>2.%zu Purpose: ", n);
        h(out, jstr(e, "purpose"), "(not declared by the caller)");
        cm_buf_puts(out, "</h3>\n<table class=\"art30\">\n");
        cm_buf_puts(out, "<tr><th>Controller (Art. 30(1)(a))</th><td>");
        h(out, jstr(mo, "controller"), "to state");
        cm_buf_puts(out, "</td></tr>\n<tr><th>Purpose (b)</th><td>");
        h(out, jstr(e, "purpose"),
          "not declared by the caller (X-Steward-Purpose or key metadata)");
        cm_buf_puts(out, "; ");
        cnt(out, jnum(e, "records"));
        cm_buf_puts(out, " exchanges by ");
        cnt(out, jnum(e, "callers"));
        cm_buf_puts(out, " caller(s) of tenant(s) ");
        hlist(out, jarr(e, "tenants"), "(none identified)");
        cm_buf_puts(out, ", routes ");
        hlist(out, jarr(e, "routes"), "-");
        cm_buf_puts(out, "</td></tr>\n<tr><th>Categories of personal data (c)</th><td>");
        if (json_array_size(jarr(e, "categories")) == 0)
            cm_buf_puts(out, "none detected");
        json_array_foreach (jarr(e, "categories"), k, c) {
            if (k > 0)
                cm_buf_puts(out, ", ");
            h(out, jstr(c, "type"), "?");
            cm_buf_puts(out, " (");
            cnt(out, jnum(c, "findings"));
            cm_buf_puts(out, ")");
        }
        cm_buf_puts(out, "</td></tr>\n<tr><th>Categories of data subjects (c)</th><td>People "
                         "whose data appear in prompts, documents and answers; <i>to state</i> "
                         "(customers, employees, ...)</td></tr>\n"
                         "<tr><th>Recipients (d)</th><td>models ");
        hlist(out, jarr(e, "models"), "(none)");
        cm_buf_puts(out, " (endpoints in section 3)</td></tr>\n"
                         "<tr><th>Transfers to third countries (e)</th><td><i>to state</i>: "
                         "steward records each endpoint (section 3), not its location</td></tr>\n"
                         "<tr><th>Time limits for erasure (f)</th><td>");
        if (ret != NULL) {
            size_t q;
            json_t *cl;

            json_array_foreach (jarr(ret, "classes"), q, cl) {
                if (q > 0)
                    cm_buf_puts(out, "; ");
                h(out, jstr(cl, "class"), "?");
                cm_buf_puts(out, ": ");
                h(out, jstr(cl, "keep"), "?");
            }
        }
        cm_buf_puts(out, "</td></tr>\n<tr><th>Technical and organisational measures (g)</th>"
                         "<td>see below</td></tr>\n</table>\n");
    }
    if (n == 0)
        cm_buf_puts(out, "<p>No processing activity in the period.</p>\n");
    cm_buf_puts(out, "<h3>Technical and organisational measures in force (Art. 30(1)(g), "
                     "Art. 32)</h3>\n");
    measures(out, mo);
    cm_buf_puts(out, "</section>\n");

    /* 3. recipients */
    cm_buf_puts(out, "<section id=\"recipients\">\n<h2>3. Recipients: models and endpoints</h2>\n"
                     "<table>\n");
    {
        static const char *const heads[] = {"model",  "endpoint", "exchanges",
                                            "denied", "findings", "in clear in requests"};
        static const bool num[] = {false, false, true, true, true, true};

        th(out, heads, num, 6);
    }
    cm_buf_puts(out, "<tbody>\n");
    json_array_foreach (jarr(mo, "recipients"), i, e) {
        cm_buf_puts(out, "<tr data-model=\"");
        h(out, jstr(e, "model"), "(none)");
        cm_buf_puts(out, "\">");
        td(out, jstr(e, "model"), "(none)");
        td(out, jstr(e, "endpoint"), "(none)");
        tdn(out, jnum(e, "records"), "records");
        tdn(out, jnum(e, "denied"), "denied");
        tdn(out, jnum(e, "findings"), "findings");
        tdn(out, jnum(e, "in_clear"), "in_clear");
        cm_buf_puts(out, "</tr>\n");
    }
    cm_buf_puts(out, "</tbody></table>\n</section>\n");

    /* 4. exposure */
    cm_buf_puts(out, "<section id=\"exposure\">\n<h2>4. Personal data exposure</h2>\n"
                     "<p class=\"note\">A finding is one detected value in one field. Protected: "
                     "masked, redacted, hashed, pseudonymised or encrypted before it went on. "
                     "In clear: allowed through unchanged by the policy.</p>\n");
    type_bars(out, jarr(mo, "by_type"));
    cm_buf_puts(out, "<table id=\"by-type\">\n");
    {
        static const char *const heads[] = {"entity type", "findings",  "in requests",
                                            "in answers",  "protected", "in clear",
                                            "denied",      "exchanges", "share"};
        static const bool num[] = {false, true, true, true, true, true, true, true, true};

        th(out, heads, num, 9);
    }
    cm_buf_puts(out, "<tbody>\n");
    json_array_foreach (jarr(mo, "by_type"), i, e) {
        cm_buf_puts(out, "<tr data-type=\"");
        h(out, jstr(e, "type"), "?");
        cm_buf_puts(out, "\">");
        td(out, jstr(e, "type"), "?");
        tdn(out, jnum(e, "findings"), "findings");
        tdn(out, jnum(e, "request"), "request");
        tdn(out, jnum(e, "response"), "response");
        tdn(out, jnum(e, "protected"), "protected");
        tdn(out, jnum(e, "in_clear"), "in_clear");
        tdn(out, jnum(e, "denied"), "denied");
        tdn(out, jnum(e, "records"), "records");
        cm_buf_puts(out, "<td class=\"n\">");
        pct(out, jnum(e, "findings"), findings);
        cm_buf_puts(out, "</td></tr>\n");
    }
    cm_buf_puts(out, "</tbody></table>\n");
    exposure_chart(out, jarr(mo, "exposure_daily"), jarr(mo, "by_type"));
    cm_buf_puts(out, "<h3>By model</h3>\n");
    pivot(out, jarr(mo, "by_model"), "model", "model", "data-model", jarr(mo, "by_type"));
    cm_buf_puts(out, "<h3>By tenant</h3>\n");
    pivot(out, jarr(mo, "by_tenant"), "tenant", "tenant", "data-tenant", jarr(mo, "by_type"));
    cm_buf_puts(out, "</section>\n");

    /* 5. decisions */
    cm_buf_puts(out, "<section id=\"decisions\">\n<h2>5. Decisions and denials</h2>\n<table>\n");
    {
        static const char *const heads[] = {"decision", "exchanges", "share"};
        static const bool num[] = {false, true, true};

        th(out, heads, num, 3);
    }
    cm_buf_puts(out, "<tbody>\n");
    json_array_foreach (jarr(mo, "by_decision"), i, e) {
        cm_buf_puts(out, "<tr data-decision=\"");
        h(out, jstr(e, "decision"), "?");
        cm_buf_puts(out, "\">");
        td(out, jstr(e, "decision"), "?");
        tdn(out, jnum(e, "records"), "records");
        cm_buf_puts(out, "<td class=\"n\">");
        pct(out, jnum(e, "records"), records);
        cm_buf_puts(out, "</td></tr>\n");
    }
    cm_buf_puts(out, "</tbody></table>\n<h3>Denials by rule</h3>\n");
    if (json_array_size(jarr(mo, "denials")) == 0) {
        cm_buf_puts(out, "<p>No exchange was denied in the period.</p>\n");
    } else {
        static const char *const heads[] = {"rule", "model", "exchanges", "first", "last"};
        static const bool num[] = {false, false, true, false, false};

        cm_buf_puts(out, "<table id=\"denials\">\n");
        th(out, heads, num, 5);
        cm_buf_puts(out, "<tbody>\n");
        json_array_foreach (jarr(mo, "denials"), i, e) {
            cm_buf_puts(out, "<tr data-rule=\"");
            h(out, jstr(e, "rule"), "?");
            cm_buf_puts(out, "\">");
            td(out, jstr(e, "rule"), "?");
            td(out, jstr(e, "model"), "(none)");
            tdn(out, jnum(e, "records"), "records");
            td(out, jstr(e, "first"), "");
            td(out, jstr(e, "last"), "");
            cm_buf_puts(out, "</tr>\n");
        }
        cm_buf_puts(out, "</tbody></table>\n");
    }
    cm_buf_puts(out, "<h3>Rules that matched</h3>\n");
    if (json_array_size(jarr(mo, "rules")) == 0) {
        cm_buf_puts(out, "<p>No rule matched in the period.</p>\n");
    } else {
        static const char *const heads[] = {"rule", "exchanges"};
        static const bool num[] = {false, true};

        cm_buf_puts(out, "<table>\n");
        th(out, heads, num, 2);
        cm_buf_puts(out, "<tbody>\n");
        json_array_foreach (jarr(mo, "rules"), i, e) {
            cm_buf_puts(out, "<tr>");
            td(out, jstr(e, "rule"), "?");
            tdn(out, jnum(e, "records"), "records");
            cm_buf_puts(out, "</tr>\n");
        }
        cm_buf_puts(out, "</tbody></table>\n");
    }
    cm_buf_puts(out, "<h3>Outcomes</h3>\n<table>\n");
    {
        static const char *const heads[] = {"outcome", "HTTP status", "exchanges"};
        static const bool num[] = {false, true, true};

        th(out, heads, num, 3);
    }
    cm_buf_puts(out, "<tbody>\n");
    json_array_foreach (jarr(mo, "by_outcome"), i, e) {
        cm_buf_puts(out, "<tr data-outcome=\"");
        h(out, jstr(e, "outcome"), "?");
        cm_buf_puts(out, "\">");
        td(out, jstr(e, "outcome"), "?");
        tdn(out, jnum(e, "status"), NULL);
        tdn(out, jnum(e, "records"), "records");
        cm_buf_puts(out, "</tr>\n");
    }
    cm_buf_puts(out, "</tbody></table>\n</section>\n");

    /* 6. policies */
    cm_buf_puts(out, "<section id=\"policies\">\n<h2>6. Policy versions in force</h2>\n");
    if (json_array_size(jarr(mo, "policies")) == 0) {
        cm_buf_puts(out, "<p>No policy was applied in the period.</p>\n");
    } else {
        static const char *const heads[] = {"policy",     "version (SHA-256)", "mode",
                                            "first used", "last used",         "exchanges"};
        static const bool num[] = {false, false, false, false, false, true};

        cm_buf_puts(out, "<table>\n");
        th(out, heads, num, 6);
        cm_buf_puts(out, "<tbody>\n");
        json_array_foreach (jarr(mo, "policies"), i, e) {
            cm_buf_puts(out, "<tr>");
            td(out, jstr(e, "id"), "(unnamed)");
            tdcode(out, jstr(e, "hash"), 16);
            td(out, jstr(e, "mode"), "?");
            td(out, jstr(e, "first"), "");
            td(out, jstr(e, "last"), "");
            tdn(out, jnum(e, "records"), "records");
            cm_buf_puts(out, "</tr>\n");
        }
        cm_buf_puts(out, "</tbody></table>\n");
    }
    cm_buf_puts(out, "</section>\n");

    /* 7. chain */
    cm_buf_puts(out, "<section id=\"chain\">\n<h2>7. Chain integrity</h2>\n<p>Verdict: ");
    {
        bool avail = chain != NULL && json_is_true(json_object_get(chain, "available"));
        const char *verdict = chain ? jstr(chain, "verdict") : NULL;
        const char *cls = !avail                                          ? "na"
                          : verdict != NULL && strcmp(verdict, "ok") == 0 ? "ok"
                                                                          : "bad";

        cm_buf_printf(out, "<span class=\"badge %s\" id=\"chain-verdict\">", cls);
        h(out, verdict, "not available");
        cm_buf_puts(out, "</span></p>\n<p class=\"note\">");
        h(out, chain ? jstr(chain, "detail") : NULL, "");
        cm_buf_puts(out, "</p>\n");
        if (chain != NULL && json_object_get(chain, "checked") != NULL) {
            static const char *const kinds[] = {"gaps",        "missing",    "edits",
                                                "reorders",    "duplicates", "checkpoint_problems",
                                                "unverifiable"};
            static const char *const heads[] = {"check", "found"};
            static const bool numeric[] = {false, true};
            const json_t *counts = jobj(chain, "counts");
            const json_t *problems = jarr(chain, "problems");

            cm_buf_puts(out, "<p>Records checked: <span id=\"chain-checked\">");
            cnt(out, jnum(chain, "checked"));
            cm_buf_puts(out, "</span> in ");
            cnt(out, jnum(chain, "chains"));
            cm_buf_puts(out, " chains; signed checkpoints: ");
            cnt(out, jnum(chain, "checkpoints"));
            cm_buf_puts(out, ", signatures verified: ");
            cnt(out, jnum(chain, "signatures_ok"));
            cm_buf_puts(out, "</p>\n<table>\n");
            th(out, heads, numeric, 2);
            cm_buf_puts(out, "<tbody>\n");
            for (size_t k = 0; k < CM_ARRAY_LEN(kinds); k++) {
                cm_buf_printf(out, "<tr data-chain=\"%s\">", kinds[k]);
                td(out, kinds[k], "");
                tdn(out, jnum(counts, kinds[k]), kinds[k]);
                cm_buf_puts(out, "</tr>\n");
            }
            cm_buf_puts(out, "</tbody></table>\n");
            if (json_array_size(problems) > 0) {
                cm_buf_puts(out, "<p>The first problems, as <code>steward-audit verify</code> "
                                 "prints them:</p>\n<pre class=\"problems\">");
                json_array_foreach (problems, i, e) {
                    h(out, json_string_value(e), "");
                    cm_buf_putc(out, '\n');
                }
                cm_buf_puts(out, "</pre>\n");
            }
        }
    }
    cm_buf_puts(out, "</section>\n");

    /* 8. retention */
    cm_buf_puts(out, "<section id=\"retention\">\n<h2>8. Retention and legal holds</h2>\n");
    if (ret != NULL) {
        const json_t *parts = jobj(ret, "partitions");
        static const char *const heads[] = {"data class", "kept for", "what"};

        cm_buf_puts(out, "<table>\n");
        th(out, heads, NULL, 3);
        cm_buf_puts(out, "<tbody>\n");
        json_array_foreach (jarr(ret, "classes"), i, e) {
            cm_buf_puts(out, "<tr>");
            td(out, jstr(e, "class"), "?");
            td(out, jstr(e, "keep"), "?");
            td(out, jstr(e, "description"), "");
            cm_buf_puts(out, "</tr>\n");
        }
        cm_buf_puts(out, "</tbody></table>\n<p>Oldest record held: ");
        h(out, jstr(ret, "oldest_record"), "none");
        cm_buf_puts(out, ". Day partitions: ");
        cnt(out, jnum(parts, "days"));
        cm_buf_puts(out, " (");
        h(out, jstr(parts, "first_day"), "-");
        cm_buf_puts(out, " to ");
        h(out, jstr(parts, "last_day"), "-");
        cm_buf_puts(out, "). Rows waiting in default partitions: <span id=\"k-default-rows\">");
        cnt(out, jnum(ret, "default_rows"));
        cm_buf_puts(out, "</span>");
        if (jnum(ret, "default_rows") > 0)
            cm_buf_puts(out, " <span class=\"badge warn\">run steward-audit partitions</span>");
        cm_buf_puts(out, ".</p>\n<h3>Legal holds in force</h3>\n");
        if (json_array_size(jarr(ret, "legal_holds")) == 0) {
            cm_buf_puts(out, "<p>None.</p>\n");
        } else {
            static const char *const hh[] = {"hold", "reason", "scope", "since"};

            cm_buf_puts(out, "<table>\n");
            th(out, hh, NULL, 4);
            cm_buf_puts(out, "<tbody>\n");
            json_array_foreach (jarr(ret, "legal_holds"), i, e) {
                cm_buf_printf(out, "<tr><td>#%.0f</td>", jnum(e, "id"));
                td(out, jstr(e, "reason"), "");
                cm_buf_puts(out, "<td>");
                if (jstr(e, "tenant") == NULL && jstr(e, "trace_id") == NULL &&
                    jstr(e, "record_id") == NULL && jstr(e, "from") == NULL &&
                    jstr(e, "to") == NULL)
                    cm_buf_puts(out, "everything");
                if (jstr(e, "tenant") != NULL) {
                    cm_buf_puts(out, "tenant ");
                    h(out, jstr(e, "tenant"), "");
                    cm_buf_puts(out, " ");
                }
                if (jstr(e, "trace_id") != NULL) {
                    cm_buf_puts(out, "trace ");
                    h(out, jstr(e, "trace_id"), "");
                    cm_buf_puts(out, " ");
                }
                if (jstr(e, "record_id") != NULL) {
                    cm_buf_puts(out, "record ");
                    h(out, jstr(e, "record_id"), "");
                    cm_buf_puts(out, " ");
                }
                if (jstr(e, "from") != NULL || jstr(e, "to") != NULL) {
                    h(out, jstr(e, "from"), "...");
                    cm_buf_puts(out, " &#8594; ");
                    h(out, jstr(e, "to"), "...");
                }
                cm_buf_puts(out, "</td>");
                td(out, jstr(e, "created_at"), "");
                cm_buf_puts(out, "</tr>\n");
            }
            cm_buf_puts(out, "</tbody></table>\n");
        }
        if (json_array_size(jarr(ret, "last_actions")) > 0) {
            static const char *const ah[] = {"applied", "class", "action", "objects", "rows"};
            static const bool anum[] = {false, false, false, true, true};

            cm_buf_puts(out, "<h3>Last retention actions</h3>\n<table>\n");
            th(out, ah, anum, 5);
            cm_buf_puts(out, "<tbody>\n");
            json_array_foreach (jarr(ret, "last_actions"), i, e) {
                cm_buf_puts(out, "<tr>");
                td(out, jstr(e, "at"), "");
                td(out, jstr(e, "class"), "");
                td(out, jstr(e, "action"), "");
                tdn(out, jnum(e, "objects"), NULL);
                tdn(out, jnum(e, "rows"), NULL);
                cm_buf_puts(out, "</tr>\n");
            }
            cm_buf_puts(out, "</tbody></table>\n");
        }
    }
    cm_buf_puts(out, "</section>\n");

    /* 9. rejects */
    cm_buf_puts(out, "<section id=\"rejects\">\n<h2>9. Records rejected by the loader</h2>\n"
                     "<p>Messages that were not valid lineage records, kept with their raw bytes "
                     "(not shown): <b id=\"k-rejects\">");
    cnt(out, jnum(rej, "count"));
    cm_buf_puts(out, "</b> in the period.");
    if (json_is_true(json_object_get(rej, "tenant_filter_ignored")))
        cm_buf_puts(out, " <span class=\"note\">(rejects belong to no tenant: all are "
                         "counted)</span>");
    cm_buf_puts(out, "</p>\n");
    if (json_array_size(jarr(rej, "by_error")) > 0) {
        static const char *const heads[] = {"error", "messages", "first", "last"};
        static const bool num[] = {false, true, false, false};

        cm_buf_puts(out, "<table>\n");
        th(out, heads, num, 4);
        cm_buf_puts(out, "<tbody>\n");
        json_array_foreach (jarr(rej, "by_error"), i, e) {
            cm_buf_puts(out, "<tr>");
            td(out, jstr(e, "error"), "?");
            tdn(out, jnum(e, "count"), "count");
            td(out, jstr(e, "first"), "");
            td(out, jstr(e, "last"), "");
            cm_buf_puts(out, "</tr>\n");
        }
        cm_buf_puts(out, "</tbody></table>\n");
    }
    cm_buf_puts(out, "</section>\n");

    /* 10. method and sign-off */
    cm_buf_puts(out,
                "<section id=\"signoff\">\n<h2>10. Method and sign-off</h2>\n"
                "<p>Every figure in this report was computed from the lineage records steward "
                "wrote, one per exchange, loaded into PostgreSQL; the same figures are available "
                "as JSON (<code>steward-audit report --format json</code>). The records hold no "
                "personal-data values and no prompt or answer text: findings are counted by type, "
                "field and action, and values are represented only by keyed fingerprints. The "
                "query that produced this report is itself recorded in the access log.</p>\n"
                "<table class=\"sign\">\n<thead><tr><th>Role</th><th>Name</th><th>Date</th>"
                "<th>Signature</th></tr></thead>\n<tbody>\n"
                "<tr><td>Prepared by</td><td></td><td></td><td></td></tr>\n"
                "<tr><td>Reviewed by (DPO / auditor)</td><td></td><td></td><td></td></tr>\n"
                "<tr><td>Approved by (controller)</td><td></td><td></td><td></td></tr>\n"
                "</tbody></table>\n</section>\n<footer>Generated by steward-audit, report model "
                "steward.report/1, ");
    h(out, jstr(mo, "generated_at"), "");
    cm_buf_puts(out, ".</footer>\n</main>\n</body>\n</html>\n");
}

/* ------------------------------------------------------------ report: MD */

static void
md_row(struct cm_buf *out, const char *const *cells, size_t n)
{
    cm_buf_puts(out, "|");
    for (size_t i = 0; i < n; i++) {
        cm_buf_putc(out, ' ');
        m(out, cells[i], "-");
        cm_buf_puts(out, " |");
    }
    cm_buf_putc(out, '\n');
}

static void
md_head(struct cm_buf *out, const char *const *heads, size_t n)
{
    md_row(out, heads, n);
    cm_buf_puts(out, "|");
    for (size_t i = 0; i < n; i++)
        cm_buf_puts(out, " --- |");
    cm_buf_putc(out, '\n');
}

static const char *
fmtn(double v, char *buf, size_t len)
{
    aud_fmt_count(v, buf, len);
    return buf;
}

void
aud_report_md(const json_t *mo, struct cm_buf *out)
{
    const json_t *sum = jobj(mo, "summary"), *fnd = jobj(mo, "findings"), *per = jobj(mo, "period");
    const json_t *ret = jobj(mo, "retention"), *rej = jobj(mo, "rejects"),
                 *chain = jobj(mo, "chain");
    char a[32], b[32], c[32], d[32], e5[32], f6[32], g7[32];
    size_t i;
    json_t *e;

    cm_buf_puts(out, "# ");
    m(out, jstr(mo, "title"), "Lineage and privacy report");
    cm_buf_puts(out, "\n\n- Period (UTC): ");
    m(out, jstr(per, "from"), "?");
    cm_buf_puts(out, " to ");
    m(out, jstr(per, "to"), "?");
    cm_buf_puts(out, " (end exclusive)\n- Scope: ");
    m(out, jstr(mo, "tenant") ? jstr(mo, "tenant") : "all tenants visible to the reader", "");
    cm_buf_puts(out, "\n- Controller: ");
    m(out, jstr(mo, "controller"), "(not stated)");
    cm_buf_puts(out, "\n- Generated: ");
    m(out, jstr(mo, "generated_at"), "?");
    cm_buf_puts(out, " by ");
    m(out, jstr(mo, "generated_by"), "?");
    cm_buf_puts(out, "\n\n## 1. Summary\n\n");
    {
        static const char *const heads[] = {"exchanges", "findings", "in clear", "denied",
                                            "redacted",  "callers",  "models"};
        const char *row[] = {fmtn(jnum(sum, "records"), a, 32),  fmtn(jnum(fnd, "findings"), b, 32),
                             fmtn(jnum(fnd, "in_clear"), c, 32), fmtn(jnum(sum, "deny"), d, 32),
                             fmtn(jnum(sum, "redact"), e5, 32),  fmtn(jnum(sum, "callers"), f6, 32),
                             fmtn(jnum(sum, "models"), g7, 32)};

        md_head(out, heads, 7);
        md_row(out, row, 7);
    }
    cm_buf_puts(out, "\n## 2. Processing activities (GDPR Art. 30)\n\n");
    {
        static const char *const heads[] = {"purpose", "exchanges", "tenants", "models",
                                            "categories of personal data"};

        md_head(out, heads, 5);
        json_array_foreach (jarr(mo, "activities"), i, e) {
            struct cm_buf t, mm, cat;
            size_t k;
            json_t *x;
            const char *row[5];

            cm_buf_init(&t);
            cm_buf_init(&mm);
            cm_buf_init(&cat);
            json_array_foreach (jarr(e, "tenants"), k, x)
                cm_buf_printf(&t, "%s%s", k ? ", " : "", json_string_value(x));
            json_array_foreach (jarr(e, "models"), k, x)
                cm_buf_printf(&mm, "%s%s", k ? ", " : "", json_string_value(x));
            json_array_foreach (jarr(e, "categories"), k, x)
                cm_buf_printf(&cat, "%s%s (%.0f)", k ? ", " : "",
                              jstr(x, "type") ? jstr(x, "type") : "?", jnum(x, "findings"));
            row[0] = jstr(e, "purpose") ? jstr(e, "purpose") : "(not declared)";
            row[1] = fmtn(jnum(e, "records"), a, 32);
            row[2] = t.p ? t.p : "-";
            row[3] = mm.p ? mm.p : "-";
            row[4] = cat.p ? cat.p : "none";
            md_row(out, row, 5);
            cm_buf_fini(&t);
            cm_buf_fini(&mm);
            cm_buf_fini(&cat);
        }
    }
    cm_buf_puts(out, "\n## 3. Recipients\n\n");
    {
        static const char *const heads[] = {"model", "endpoint", "exchanges", "findings",
                                            "in clear in requests"};

        md_head(out, heads, 5);
        json_array_foreach (jarr(mo, "recipients"), i, e) {
            const char *row[] = {jstr(e, "model") ? jstr(e, "model") : "(none)",
                                 jstr(e, "endpoint") ? jstr(e, "endpoint") : "(none)",
                                 fmtn(jnum(e, "records"), a, 32), fmtn(jnum(e, "findings"), b, 32),
                                 fmtn(jnum(e, "in_clear"), c, 32)};

            md_row(out, row, 5);
        }
    }
    cm_buf_puts(out, "\n## 4. Personal data exposure\n\n");
    {
        static const char *const heads[] = {"entity type", "findings", "protected", "in clear",
                                            "denied"};

        md_head(out, heads, 5);
        json_array_foreach (jarr(mo, "by_type"), i, e) {
            const char *row[] = {jstr(e, "type") ? jstr(e, "type") : "?",
                                 fmtn(jnum(e, "findings"), a, 32),
                                 fmtn(jnum(e, "protected"), b, 32),
                                 fmtn(jnum(e, "in_clear"), c, 32), fmtn(jnum(e, "denied"), d, 32)};

            md_row(out, row, 5);
        }
    }
    cm_buf_puts(out, "\n## 5. Decisions and denials\n\n");
    {
        static const char *const heads[] = {"decision", "exchanges"};
        static const char *const dh[] = {"rule", "model", "exchanges"};

        md_head(out, heads, 2);
        json_array_foreach (jarr(mo, "by_decision"), i, e) {
            const char *row[] = {jstr(e, "decision"), fmtn(jnum(e, "records"), a, 32)};

            md_row(out, row, 2);
        }
        cm_buf_puts(out, "\n");
        md_head(out, dh, 3);
        json_array_foreach (jarr(mo, "denials"), i, e) {
            const char *row[] = {jstr(e, "rule"), jstr(e, "model"),
                                 fmtn(jnum(e, "records"), a, 32)};

            md_row(out, row, 3);
        }
    }
    cm_buf_puts(out, "\n## 6. Policy versions in force\n\n");
    {
        static const char *const heads[] = {"policy", "version", "mode",
                                            "first",  "last",    "exchanges"};

        md_head(out, heads, 6);
        json_array_foreach (jarr(mo, "policies"), i, e) {
            const char *row[] = {jstr(e, "id"),   jstr(e, "hash"),
                                 jstr(e, "mode"), jstr(e, "first"),
                                 jstr(e, "last"), fmtn(jnum(e, "records"), a, 32)};

            md_row(out, row, 6);
        }
    }
    cm_buf_puts(out, "\n## 7. Chain integrity\n\n");
    m(out, chain ? jstr(chain, "verdict") : NULL, "not available");
    if (chain != NULL && json_object_get(chain, "checked") != NULL) {
        const json_t *counts = jobj(chain, "counts");

        cm_buf_printf(out,
                      ": %.0f records in %.0f chains checked; gaps %.0f (missing %.0f), "
                      "edits %.0f, reorders %.0f, duplicates %.0f, checkpoint problems %.0f, "
                      "unverifiable %.0f",
                      jnum(chain, "checked"), jnum(chain, "chains"), jnum(counts, "gaps"),
                      jnum(counts, "missing"), jnum(counts, "edits"), jnum(counts, "reorders"),
                      jnum(counts, "duplicates"), jnum(counts, "checkpoint_problems"),
                      jnum(counts, "unverifiable"));
    }
    cm_buf_puts(out, "\n\n");
    m(out, chain ? jstr(chain, "detail") : NULL, "");
    cm_buf_puts(out, "\n\n## 8. Retention and legal holds\n\n");
    if (ret != NULL) {
        json_array_foreach (jarr(ret, "classes"), i, e) {
            cm_buf_puts(out, "- ");
            m(out, jstr(e, "class"), "?");
            cm_buf_puts(out, ": ");
            m(out, jstr(e, "keep"), "?");
            cm_buf_putc(out, '\n');
        }
        cm_buf_printf(out, "- legal holds in force: %zu\n",
                      json_array_size(jarr(ret, "legal_holds")));
    }
    cm_buf_printf(out, "\n## 9. Rejects\n\n%s messages rejected in the period.\n",
                  fmtn(jnum(rej, "count"), a, 32));
}

/* ----------------------------------------------------- subject report */

void
aud_subject_html(const json_t *mo, struct cm_buf *out)
{
    const json_t *rows = jarr(mo, "findings");
    const char *purposes[64], *models[64], *types[64], *callers[64];
    size_t np = distinct(rows, "purpose", purposes, 64), nm = distinct(rows, "model", models, 64);
    size_t nt = distinct(rows, "type", types, 64), nc = distinct(rows, "caller", callers, 64);
    size_t i;
    json_t *e;

    html_head(out, "Subject access report");
    cm_buf_puts(out, "<header class=\"cover\">\n<div class=\"brand\">steward &#183; subject "
                     "access</div>\n<h1>Subject access report</h1>\n<table class=\"meta\">\n"
                     "<tr><td>Generated</td><td>");
    h(out, jstr(mo, "generated_at"), "?");
    cm_buf_puts(out, "</td></tr>\n<tr><td>Value searched for</td><td>not stored and not shown; "
                     "identified by its keyed fingerprint");
    cm_buf_puts(out, json_array_size(jarr(mo, "fingerprints")) == 1 ? " " : "s ");
    json_array_foreach (jarr(mo, "fingerprints"), i, e) {
        char shortfp[20];

        snprintf(shortfp, sizeof(shortfp), "%.16s", json_string_value(e));
        cm_buf_puts(out, i ? ", <code>" : "<code>");
        h(out, shortfp, "");
        cm_buf_puts(out, "&#8230;</code>");
    }
    cm_buf_puts(out, " (key id <code>");
    h(out, jstr(mo, "key_id"), "?");
    cm_buf_puts(out, "</code>)</td></tr>\n<tr><td>Entity type</td><td>");
    h(out, jstr(mo, "type"), "any (every normalisation tried)");
    cm_buf_puts(out, "</td></tr>\n</table>\n</header>\n<section>\n<h2>Summary</h2>\n"
                     "<div class=\"kpis\">\n");
    kpi(out, "k-records", jnum(mo, "records"), "exchanges involving the value", NULL);
    kpi(out, "k-findings", (double)json_array_size(rows), "findings of the value", NULL);
    if (json_is_integer(json_object_get(mo, "records_in_range")))
        kpi(out, "k-in-range", jnum(mo, "records_in_range"), "exchanges searched", NULL);
    kpi(out, "k-unsearchable",
        jnum(mo, "records_without_fingerprints") + jnum(mo, "records_other_key"),
        "exchanges that could not be searched",
        jnum(mo, "records_without_fingerprints") + jnum(mo, "records_other_key") > 0 ? "bad"
                                                                                     : NULL);
    cm_buf_puts(out, "</div>\n");
    if (jnum(mo, "records_without_fingerprints") + jnum(mo, "records_other_key") > 0)
        cm_buf_puts(out, "<p class=\"note\">Exchanges recorded without fingerprints "
                         "(fingerprinting off) or under another fingerprint key cannot be "
                         "matched; the count above says how many there were.</p>\n");
    cm_buf_puts(out, "<h2>What the data subject is entitled to know (GDPR Art. 15(1))</h2>\n"
                     "<table class=\"art30\">\n<tr><th>Purposes (a)</th><td>");
    for (size_t k = 0; k < np; k++) {
        if (k)
            cm_buf_puts(out, ", ");
        h(out, strcmp(purposes[k], "(none)") == 0 ? "(not declared by the caller)" : purposes[k],
          "");
    }
    if (np == 0)
        cm_buf_puts(out, "none: the value was not found");
    cm_buf_puts(out, "</td></tr>\n<tr><th>Categories of personal data (b)</th><td>");
    for (size_t k = 0; k < nt; k++) {
        if (k)
            cm_buf_puts(out, ", ");
        h(out, types[k], "");
    }
    cm_buf_puts(out, "</td></tr>\n<tr><th>Recipients (c)</th><td>");
    for (size_t k = 0; k < nm; k++) {
        if (k)
            cm_buf_puts(out, ", ");
        h(out, models[k], "");
    }
    cm_buf_puts(out, "</td></tr>\n<tr><th>Source (g)</th><td>callers ");
    for (size_t k = 0; k < nc; k++) {
        if (k)
            cm_buf_puts(out, ", ");
        h(out, callers[k], "");
    }
    cm_buf_puts(out, "</td></tr>\n<tr><th>Storage period (d)</th><td>per the controller's "
                     "retention schedule (steward-audit retention status)</td></tr>\n</table>\n"
                     "<h2>Exchanges</h2>\n<table id=\"subject-findings\">\n");
    {
        static const char *const heads[] = {
            "time (UTC)", "record",    "tenant", "caller", "purpose",
            "model",      "direction", "type",   "action", "the model received"};

        th(out, heads, NULL, 10);
    }
    cm_buf_puts(out, "<tbody>\n");
    json_array_foreach (rows, i, e) {
        cm_buf_puts(out, "<tr data-record=\"");
        h(out, jstr(e, "record_id"), "");
        cm_buf_puts(out, "\">");
        td(out, jstr(e, "ts_start"), "");
        cm_buf_puts(out, "<td><code>");
        h(out, jstr(e, "record_id"), "");
        cm_buf_puts(out, "</code></td>");
        td(out, jstr(e, "tenant"), "(none)");
        td(out, jstr(e, "caller"), "(none)");
        td(out, jstr(e, "purpose"), "(none)");
        td(out, jstr(e, "model"), "(none)");
        td(out, jstr(e, "direction"), "");
        td(out, jstr(e, "type"), "");
        td(out, jstr(e, "action"), "");
        td(out, jstr(e, "model_saw"), "");
        cm_buf_puts(out, "</tr>\n");
    }
    if (json_array_size(rows) == 0)
        cm_buf_puts(out, "<tr><td colspan=\"10\">No recorded exchange contained the value.</td>"
                         "</tr>\n");
    cm_buf_puts(out, "</tbody></table>\n</section>\n<section>\n<h2>Sign-off</h2>\n"
                     "<table class=\"sign\">\n<thead><tr><th>Role</th><th>Name</th><th>Date</th>"
                     "<th>Signature</th></tr></thead>\n<tbody>\n"
                     "<tr><td>Prepared by</td><td></td><td></td><td></td></tr>\n"
                     "<tr><td>Reviewed by (DPO)</td><td></td><td></td><td></td></tr>\n"
                     "</tbody></table>\n</section>\n<footer>Generated by steward-audit subject, "
                     "model steward.subject-report/1. The search is recorded in the access "
                     "log under its fingerprint, never the value.</footer>\n</main>\n</body>\n"
                     "</html>\n");
}

void
aud_subject_md(const json_t *mo, struct cm_buf *out)
{
    static const char *const heads[] = {
        "time (UTC)", "record",    "tenant", "caller", "purpose",
        "model",      "direction", "type",   "action", "the model received"};
    char a[32];
    size_t i;
    json_t *e;

    cm_buf_puts(out, "# Subject access report\n\n- Generated: ");
    m(out, jstr(mo, "generated_at"), "?");
    cm_buf_puts(out, "\n- Fingerprint key id: ");
    m(out, jstr(mo, "key_id"), "?");
    cm_buf_printf(out, "\n- Exchanges involving the value: %s\n\n",
                  fmtn(jnum(mo, "records"), a, sizeof(a)));
    md_head(out, heads, 10);
    json_array_foreach (jarr(mo, "findings"), i, e) {
        const char *row[] = {jstr(e, "ts_start"),  jstr(e, "record_id"), jstr(e, "tenant"),
                             jstr(e, "caller"),    jstr(e, "purpose"),   jstr(e, "model"),
                             jstr(e, "direction"), jstr(e, "type"),      jstr(e, "action"),
                             jstr(e, "model_saw")};

        md_row(out, row, 10);
    }
}
