# tests/fuzz: libFuzzer harnesses (clang -fsanitize=fuzzer,address,undefined),
# one self-contained rule each: the harness is linked with the sources it
# fuzzes, compiled with the fuzzing flags, into build/fuzz/.  Others add their
# own rules here.
#   make fuzz                               build every harness
#   build/fuzz/NAME -max_total_time=60 tests/fuzz/seeds/DIR
#   make fuzz-lineage FUZZ_SECONDS=30       run the lineage harnesses a while
FUZZ_DIR   := build/fuzz
FUZZ_CC    := clang
FUZZ_FLAGS := $(CSTD) -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
              -I. $(PKG_CFLAGS)
FUZZ_SECONDS ?= 30
FUZZ_COMMON := common/cm_status.c common/cm_mem.c common/cm_log.c common/cm_buf.c \
               common/cm_time.c common/cm_uuid.c common/cm_hash.c

# The spool's segment reader (issue 6).
$(FUZZ_DIR)/fuzz_spool: tests/fuzz/fuzz_spool.c audit/aud_spool.c $(FUZZ_COMMON)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  FUZZ    $@")
	$(Q)$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ $^ $(LDLIBS_Z) $(LDLIBS_SSL)

# The record, checkpoint and chain parsers of the loader and verify (issue 6).
$(FUZZ_DIR)/fuzz_record: tests/fuzz/fuzz_record.c audit/aud_validate.c audit/aud_chain.c \
                         audit/aud_record.c audit/aud_sign.c $(FUZZ_COMMON)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  FUZZ    $@")
	$(Q)$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ $^ $(LDLIBS_JANSSON) $(LDLIBS_Z) $(LDLIBS_SSL)

FUZZERS += $(FUZZ_DIR)/fuzz_spool $(FUZZ_DIR)/fuzz_record

fuzz: $(FUZZ_DIR)/fuzz_spool $(FUZZ_DIR)/fuzz_record

fuzz-lineage: $(FUZZ_DIR)/fuzz_spool $(FUZZ_DIR)/fuzz_record
	$(Q)mkdir -p tests/fuzz/corpus-spool tests/fuzz/corpus-record
	$(Q)$(FUZZ_DIR)/fuzz_spool -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
	    tests/fuzz/corpus-spool tests/fuzz/seeds/spool
	$(Q)$(FUZZ_DIR)/fuzz_record -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
	    tests/fuzz/corpus-record tests/fuzz/seeds/record

.PHONY: fuzz fuzz-lineage
