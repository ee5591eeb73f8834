# tests/fuzz: libFuzzer harnesses, built with clang
# -fsanitize=fuzzer,address,undefined into build/fuzz (objects of common/
# and policy/ compiled with fuzzer-no-link coverage).  `make fuzz` builds
# them; run one for a bounded time with
#   build/fuzz/fuzz_pii_scan -max_total_time=60 tests/fuzz/corpus/fuzz_pii_scan
FUZZ_DIR    := build/fuzz
FUZZ_CFLAGS := $(CSTD) -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined \
               -fno-sanitize-recover=all -pthread -I. $(PKG_CFLAGS)
FUZZ_OBJS   := $(patsubst %.c,$(FUZZ_DIR)/obj/%.o,$(COMMON_SRCS) $(POLICY_SRCS))
PII_FUZZERS := $(FUZZ_DIR)/fuzz_pii_scan $(FUZZ_DIR)/fuzz_pii_redact $(FUZZ_DIR)/fuzz_pii_stream
FUZZERS     += $(PII_FUZZERS)

$(FUZZ_DIR)/obj/%.o: %.c
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC      $@")
	$(Q)clang $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

$(PII_FUZZERS): $(FUZZ_DIR)/%: tests/fuzz/%.c $(FUZZ_OBJS)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD      $@")
	$(Q)clang $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $^ $(LDLIBS_POLICY) $(LDLIBS_COMMON)

fuzz: $(FUZZERS)

.PHONY: fuzz
