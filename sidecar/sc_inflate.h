/* SPDX-License-Identifier: Apache-2.0
 *
 * sc_inflate: request bodies sent with Content-Encoding gzip or deflate are
 * inflated (zlib) before inspection, within a bound on the inflated size, so
 * compressed bytes never pass uninspected and a decompression bomb costs at
 * most the bound.  The model server then receives the inspected body
 * uncompressed.  Pure; any thread.
 */
#ifndef SC_INFLATE_H
#define SC_INFLATE_H

#include <stddef.h>

#include "common/cm_buf.h"
#include "common/cm_status.h"

/* Inflates in[0..n) (gzip when gzip is true, else zlib "deflate") into out.
 * Returns CM_OK, CM_ELIMIT (more than max bytes once inflated) or CM_EINPUT
 * (corrupt or truncated stream, trailing garbage). */
int sc_inflate(const void *in, size_t n, int gzip, size_t max, struct cm_buf *out) CM_MUSTCHECK;

#endif /* SC_INFLATE_H */
