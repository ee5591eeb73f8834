/* SPDX-License-Identifier: Apache-2.0
 *
 * aud_svg: the two chart shapes of the compliance report, written as
 * self-contained inline SVG (no scripts, fonts or stylesheets fetched, so
 * the HTML report has no external assets and prints as it shows):
 *
 *   stacked bars   one column per category (a day), one stacked segment per
 *                  series (allow / redact / deny, or one per entity type),
 *                  with a y axis on "nice" ticks, a legend, and the total
 *                  above each column when there is room
 *   horizontal     one bar per label with its value, and optionally a
 *   bars           darker overlay (e.g. "of which in clear")
 *
 * Colours come from a colour-blind-safe palette (Okabe and Ito).  Labels are
 * XML-escaped; numbers are printed with thousands separators.  The output
 * of given input is always the same bytes (tests compare them).
 *
 * Pure; any thread.
 */
#ifndef AUD_SVG_H
#define AUD_SVG_H

#include <stddef.h>

#include "common/cm_buf.h"

struct aud_svg_series {
    const char *name;
    const char *color;    /* "#rrggbb", or NULL: the palette's colour for the index */
    const double *values; /* one per category */
};

/* The i-th palette colour ("#rrggbb"; cycles). */
const char *aud_svg_color(size_t i);

/* Appends a stacked bar chart of width x height pixels. */
void aud_svg_stacked_bars(struct cm_buf *out, const char *title, const char *const *cats,
                          size_t ncats, const struct aud_svg_series *series, size_t nseries,
                          int width, int height);

/* Appends horizontal bars: values[i] for labels[i]; overlay (may be NULL)
 * is drawn over the bar from its start, in overlay_color. */
void aud_svg_hbars(struct cm_buf *out, const char *title, const char *const *labels,
                   const double *values, const double *overlay, size_t n, const char *color,
                   const char *overlay_color, const char *overlay_name, int width);

/* Formats v (rounded to an integer) with thousands separators: 12,345. */
void aud_fmt_count(double v, char *buf, size_t len);

#endif /* AUD_SVG_H */
