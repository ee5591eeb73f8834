/* SPDX-License-Identifier: Apache-2.0
 *
 * libFuzzer harness: the strict HTTP/1.1 framing guard (sidecar/sc_guard.c)
 * on arbitrary bytes.  Invariants: no crash or out-of-bounds read; the
 * verdict (status, offending request, completed requests) does not depend on
 * how the bytes are split into reads (whole, at a fuzzer-chosen cut, and one
 * byte at a time agree).
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "sidecar/sc_guard.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct sc_guard_limits lim = {
        .max_target = 256, .max_header_line = 512, .max_header_bytes = 2048, .max_headers = 16};
    struct sc_guard a, b, c;
    size_t cut;

    if (size < 1)
        return 0;
    cut = data[0] % size;
    data++;
    size--;
    sc_guard_init(&a, &lim);
    sc_guard_init(&b, &lim);
    sc_guard_init(&c, &lim);
    sc_guard_feed(&a, (const char *)data, size);
    sc_guard_feed(&b, (const char *)data, cut < size ? cut : size);
    if (cut < size)
        sc_guard_feed(&b, (const char *)data + cut, size - cut);
    for (size_t i = 0; i < size; i++)
        sc_guard_feed(&c, (const char *)data + i, 1);
    if (a.status != b.status || a.status != c.status)
        __builtin_trap();
    if (a.status != 0 &&
        (a.bad_request != b.bad_request || a.bad_request != c.bad_request || a.why == NULL))
        __builtin_trap();
    if (a.status == 0 && (a.request != b.request || a.request != c.request))
        __builtin_trap();
    return 0;
}
