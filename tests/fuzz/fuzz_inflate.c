/* SPDX-License-Identifier: Apache-2.0
 *
 * libFuzzer harness: bounded inflation of compressed request bodies
 * (sidecar/sc_inflate.c) on arbitrary bytes, as gzip and as deflate.
 * Invariants: no crash; the output never exceeds the bound by more than one
 * byte; a failure leaves a NUL-terminated buffer.
 */
#include <stddef.h>
#include <stdint.h>

#include "sidecar/sc_inflate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    for (int gzip = 0; gzip < 2; gzip++) {
        struct cm_buf out;

        cm_buf_init(&out);
        (void)sc_inflate(data, size, gzip, 1 << 16, &out);
        if (out.len > (1 << 16) + 1)
            __builtin_trap();
        cm_buf_fini(&out);
    }
    return 0;
}
