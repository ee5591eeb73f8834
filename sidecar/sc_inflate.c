/* SPDX-License-Identifier: Apache-2.0
 *
 * sc_inflate: bounded zlib inflation.  See sc_inflate.h.
 */
#include "sidecar/sc_inflate.h"

#include <stdint.h>

#include <zlib.h>

int
sc_inflate(const void *in, size_t n, int gzip, size_t max, struct cm_buf *out)
{
    z_stream z = {0};
    int zrc, rc = CM_OK;

    /* 16+15: gzip wrapper only; 15: zlib wrapper only.  Raw deflate, which
     * some clients send as "deflate", is tried when the zlib header is
     * absent. */
    if (inflateInit2(&z, gzip ? 16 + MAX_WBITS : MAX_WBITS) != Z_OK)
        return CM_EINTERNAL;
    if (!gzip && n >= 1 && ((const unsigned char *)in)[0] != 0x78) {
        inflateEnd(&z);
        if (inflateInit2(&z, -MAX_WBITS) != Z_OK)
            return CM_EINTERNAL;
    }
    z.next_in = (Bytef *)(uintptr_t)in;
    z.avail_in = (uInt)n;
    do {
        size_t room;

        cm_buf_reserve(out, 16384);
        room = out->cap - out->len - 1;
        /* Never inflate more than one byte past the bound. */
        if (room > max + 1 - out->len)
            room = max + 1 - out->len;
        z.next_out = (Bytef *)out->p + out->len;
        z.avail_out = (uInt)room;
        zrc = inflate(&z, Z_NO_FLUSH);
        out->len = (size_t)((char *)z.next_out - out->p);
        out->p[out->len] = '\0';
        if (out->len > max) {
            rc = CM_ELIMIT;
            goto done;
        }
        if (zrc == Z_STREAM_END)
            break;
        if (zrc != Z_OK && zrc != Z_BUF_ERROR) {
            rc = CM_EINPUT;
            goto done;
        }
        if (zrc == Z_BUF_ERROR && z.avail_in == 0) {
            rc = CM_EINPUT; /* truncated */
            goto done;
        }
    } while (1);
    if (z.avail_in != 0)
        rc = CM_EINPUT; /* bytes after the end of the stream */
done:
    inflateEnd(&z);
    return rc;
}
