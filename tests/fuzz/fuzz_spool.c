/* SPDX-License-Identifier: Apache-2.0
 *
 * fuzz_spool: libFuzzer harness for the spool's segment reader
 * (aud_spool_scan in audit/aud_spool.c), the code that reads whatever a
 * power cut or a bad disk left in a segment file at start-up.
 *
 * Besides "no crash, no sanitizer report", it checks the scanner's promise:
 * every byte after the header is inside an intact frame, inside a reported
 * damaged region, or in the zero padding after the last frame (a segment
 * written into prepared space; rep.end marks where it starts), frames come
 * in increasing order without overlapping, and each frame's key and value
 * lie inside the input.
 *
 *   make fuzz && build/fuzz/fuzz_spool -max_total_time=60 tests/fuzz/corpus/fuzz_spool
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "audit/aud_spool.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct check {
    const uint8_t *data;
    size_t size;
    size_t next; /* no frame may start before this */
    size_t covered;
    unsigned sum;
};

static void
on_frame(void *arg, size_t off, size_t frame_len, const char *key, size_t klen, const char *val,
         size_t vlen)
{
    struct check *c = arg;
    const char *end = (const char *)c->data + c->size;

    if (off < c->next || off + frame_len > c->size || frame_len < AUD_SPOOL_FRAME_HDR + 2)
        abort();
    if (key < (const char *)c->data || key + klen > end || val < key + klen || val + vlen > end)
        abort();
    if (AUD_SPOOL_FRAME_HDR + 2 + klen + vlen != frame_len)
        abort();
    for (size_t i = 0; i < vlen; i++) /* touch every byte */
        c->sum += (unsigned char)val[i];
    c->next = off + frame_len;
    c->covered += frame_len;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct check c = {data, size, 0, 0, 0};
    struct aud_spool_scan_report rep;
    size_t header;

    aud_spool_scan(data, size, on_frame, &c, &rep);
    if (rep.frames == 0 && c.covered != 0)
        abort();
    header = size >= AUD_SPOOL_SEG_HDR && memcmp(data, AUD_SPOOL_SEG_MAGIC, AUD_SPOOL_SEG_HDR) == 0
                 ? AUD_SPOOL_SEG_HDR
                 : 0;
    if (rep.end > size || rep.end < c.next)
        abort();
    for (size_t i = rep.end; i < size; i++)
        if (data[i] != 0)
            abort();
    if (rep.end < size && rep.damaged_bytes > 0 && rep.first_damage >= rep.end)
        abort();
    if (size > 0 && header + c.covered + rep.damaged_bytes + (size - rep.end) != size)
        abort();
    return 0;
}
