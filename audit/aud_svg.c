/* SPDX-License-Identifier: Apache-2.0
 *
 * aud_svg: inline SVG charts for the report.  See aud_svg.h.
 *
 * Axis ticks are "nice" numbers (1, 2 or 5 times a power of ten) so a
 * reader can compare columns at a glance; a column is never taller than
 * the plot, and an empty chart still draws its axes and says "no data".
 */
#include "audit/aud_svg.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "audit/aud_graph.h"

#define FONT "font-family=\"'DejaVu Sans',Arial,Helvetica,sans-serif\""

static const char *const palette[] = {
    "#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7",
    "#56B4E9", "#F0E442", "#000000", "#999999", "#7F3C8D",
};

const char *
aud_svg_color(size_t i)
{
    return palette[i % (sizeof(palette) / sizeof(palette[0]))];
}

void
aud_fmt_count(double v, char *buf, size_t len)
{
    char digits[32];
    long long n;
    size_t nd, o = 0;
    bool neg;

    if (!isfinite(v) || fabs(v) >= 1e18) {
        /* beyond long long (llround's result is unspecified there) */
        snprintf(buf, len, "%.3g", v);
        return;
    }
    n = llround(v);
    neg = n < 0;
    snprintf(digits, sizeof(digits), "%lld", neg ? -n : n);
    nd = strlen(digits);
    if (neg && o + 1 < len)
        buf[o++] = '-';
    for (size_t i = 0; i < nd && o + 1 < len; i++) {
        if (i > 0 && (nd - i) % 3 == 0 && o + 1 < len)
            buf[o++] = ',';
        if (o + 1 < len)
            buf[o++] = digits[i];
    }
    buf[o] = '\0';
}

/* The smallest 1/2/5 x 10^k step that covers max in at most 5 ticks. */
static double
nice_step(double max)
{
    double raw, mag, norm;

    if (max <= 0)
        return 1;
    raw = max / 5;
    mag = pow(10, floor(log10(raw)));
    norm = raw / mag;
    if (norm <= 1)
        return mag < 1 ? 1 : mag;
    if (norm <= 2)
        return 2 * mag < 1 ? 1 : 2 * mag;
    if (norm <= 5)
        return 5 * mag < 1 ? 1 : 5 * mag;
    return 10 * mag;
}

static void
text(struct cm_buf *out, double x, double y, const char *anchor, const char *style, const char *s)
{
    cm_buf_printf(out, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\" " FONT " %s>", x, y, anchor,
                  style);
    aud_xml_escape(out, s);
    cm_buf_puts(out, "</text>\n");
}

void
aud_svg_stacked_bars(struct cm_buf *out, const char *title, const char *const *cats, size_t ncats,
                     const struct aud_svg_series *series, size_t nseries, int width, int height)
{
    const double left = 56, right = 16, top = 34,
                 legend_h = 22 + 16.0 * (double)((nseries + 3) / 4);
    const double bottom = 40 + legend_h;
    double plot_w = width - left - right, plot_h = height - top - bottom;
    double max = 0, step, ymax, colw, barw;
    size_t label_every;
    char num[32];

    for (size_t c = 0; c < ncats; c++) {
        double sum = 0;

        for (size_t s = 0; s < nseries; s++)
            sum += series[s].values[c];
        if (sum > max)
            max = sum;
    }
    step = nice_step(max);
    ymax = step * ceil(max / step);
    if (ymax <= 0)
        ymax = step * 5;
    colw = ncats > 0 ? plot_w / (double)ncats : plot_w;
    barw = colw * 0.72;
    if (barw > 48)
        barw = 48;
    label_every = ncats > 0 ? (ncats + 13) / 14 : 1;

    cm_buf_printf(out,
                  "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
                  "viewBox=\"0 0 %d %d\" role=\"img\" aria-label=\"",
                  width, height, width, height);
    aud_xml_escape(out, title);
    cm_buf_puts(out, "\">\n");
    text(out, 0, 16, "start", "font-size=\"13\" font-weight=\"bold\" fill=\"#202124\"", title);
    for (double v = 0; v <= ymax + step / 2; v += step) {
        double y = top + plot_h - plot_h * v / ymax;

        cm_buf_printf(out,
                      "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
                      "stroke-width=\"1\"/>\n",
                      left, y, left + plot_w, y, v == 0 ? "#5f6368" : "#e0e0e0");
        aud_fmt_count(v, num, sizeof(num));
        text(out, left - 6, y + 4, "end", "font-size=\"10\" fill=\"#5f6368\"", num);
    }
    if (ncats == 0 || max <= 0)
        text(out, left + plot_w / 2, top + plot_h / 2, "middle",
             "font-size=\"12\" fill=\"#5f6368\"", "no data in the period");
    for (size_t c = 0; c < ncats; c++) {
        double x = left + colw * (double)c + (colw - barw) / 2, ybase = top + plot_h, sum = 0;

        for (size_t s = 0; s < nseries; s++) {
            double v = series[s].values[c], h = plot_h * v / ymax;

            if (v <= 0)
                continue;
            ybase -= h;
            sum += v;
            cm_buf_printf(out,
                          "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
                          "fill=\"%s\"><title>",
                          x, ybase, barw, h, series[s].color ? series[s].color : aud_svg_color(s));
            aud_xml_escape(out, cats[c]);
            cm_buf_puts(out, " \xc2\xb7 ");
            aud_xml_escape(out, series[s].name);
            aud_fmt_count(v, num, sizeof(num));
            cm_buf_printf(out, ": %s</title></rect>\n", num);
        }
        aud_fmt_count(sum, num, sizeof(num));
        /* The total over the column, when it fits between its neighbours. */
        if (sum > 0 && colw >= 6.0 * (double)strlen(num) + 4) {
            text(out, x + barw / 2, ybase - 3, "middle", "font-size=\"9\" fill=\"#3c4043\"", num);
        }
        if (c % label_every == 0)
            text(out, x + barw / 2, top + plot_h + 14, "middle",
                 "font-size=\"10\" fill=\"#3c4043\"", cats[c]);
    }
    for (size_t s = 0; s < nseries; s++) {
        double lx = left + (double)(s % 4) * (plot_w / 4),
               ly = top + plot_h + 36 + 16.0 * (double)(s / 4);

        cm_buf_printf(out,
                      "<rect x=\"%.1f\" y=\"%.1f\" width=\"12\" height=\"10\" rx=\"2\" "
                      "fill=\"%s\"/>\n",
                      lx, ly - 9, series[s].color ? series[s].color : aud_svg_color(s));
        text(out, lx + 17, ly, "start", "font-size=\"11\" fill=\"#3c4043\"", series[s].name);
    }
    cm_buf_puts(out, "</svg>\n");
}

void
aud_svg_hbars(struct cm_buf *out, const char *title, const char *const *labels,
              const double *values, const double *overlay, size_t n, const char *color,
              const char *overlay_color, const char *overlay_name, int width)
{
    const double label_w = 170, top = 30, row = 22, right = 80;
    double max = 0, plot_w = width - label_w - right;
    int height = (int)(top + row * (double)(n > 0 ? n : 1) + (overlay ? 26 : 8));
    char num[32];

    for (size_t i = 0; i < n; i++)
        if (values[i] > max)
            max = values[i];
    cm_buf_printf(out,
                  "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
                  "viewBox=\"0 0 %d %d\" role=\"img\" aria-label=\"",
                  width, height, width, height);
    aud_xml_escape(out, title);
    cm_buf_puts(out, "\">\n");
    text(out, 0, 16, "start", "font-size=\"13\" font-weight=\"bold\" fill=\"#202124\"", title);
    if (n == 0 || max <= 0)
        text(out, label_w, top + 14, "start", "font-size=\"12\" fill=\"#5f6368\"",
             "no data in the period");
    for (size_t i = 0; i < n && max > 0; i++) {
        double y = top + row * (double)i, w = plot_w * values[i] / max;

        text(out, label_w - 8, y + 14, "end", "font-size=\"11\" fill=\"#3c4043\"", labels[i]);
        cm_buf_printf(out,
                      "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"15\" rx=\"2\" "
                      "fill=\"%s\"/>\n",
                      label_w, y + 3, w > 0 && w < 1 ? 1 : w, color);
        if (overlay != NULL && overlay[i] > 0) {
            double ow = plot_w * overlay[i] / max;

            cm_buf_printf(out,
                          "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"15\" rx=\"2\" "
                          "fill=\"%s\"/>\n",
                          label_w, y + 3, ow < 1 ? 1 : ow, overlay_color);
        }
        aud_fmt_count(values[i], num, sizeof(num));
        text(out, label_w + w + 6, y + 14, "start", "font-size=\"11\" fill=\"#202124\"", num);
    }
    if (overlay != NULL) {
        double ly = top + row * (double)(n > 0 ? n : 1) + 16;

        cm_buf_printf(out,
                      "<rect x=\"%.1f\" y=\"%.1f\" width=\"12\" height=\"10\" rx=\"2\" "
                      "fill=\"%s\"/>\n",
                      label_w, ly - 9, color);
        text(out, label_w + 17, ly, "start", "font-size=\"11\" fill=\"#3c4043\"", "all");
        cm_buf_printf(out,
                      "<rect x=\"%.1f\" y=\"%.1f\" width=\"12\" height=\"10\" rx=\"2\" "
                      "fill=\"%s\"/>\n",
                      label_w + 60, ly - 9, overlay_color);
        text(out, label_w + 77, ly, "start", "font-size=\"11\" fill=\"#3c4043\"",
             overlay_name ? overlay_name : "");
    }
    cm_buf_puts(out, "</svg>\n");
}
