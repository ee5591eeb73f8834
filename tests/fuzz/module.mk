# tests/fuzz: libFuzzer harnesses, built with clang -fsanitize=fuzzer,address,
# undefined into build/fuzz (their own flags, their own objects: no mixing
# with build/debug or build/asan).  Each harness is a block of its own.

# ---- fuzz_policy_load: the policy loader (JSON and YAML) and the API-key
# file parser.  `make fuzz-policy` builds it; `make fuzz-policy-smoke` runs
# a bounded number of inputs from the seed corpus (the shipped policies);
# long runs: build/fuzz/fuzz_policy_load -max_total_time=600 CORPUS_DIR
FUZZ_POLICY := build/fuzz/fuzz_policy_load
FUZZ_POLICY_CFLAGS := -std=c11 -D_GNU_SOURCE -O1 -g -fno-omit-frame-pointer \
    -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -I. $(PKG_CFLAGS)
FUZZ_POLICY_SRCS := tests/fuzz/fuzz_policy_load.c $(POLICY_SRCS) $(COMMON_SRCS)

$(FUZZ_POLICY): $(FUZZ_POLICY_SRCS) $(wildcard policy/*.h policy/pii/*.h common/*.h)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  FUZZ    $@")
	$(Q)clang $(FUZZ_POLICY_CFLAGS) -o $@ $(FUZZ_POLICY_SRCS) $(LDLIBS_POLICY) $(LDLIBS_COMMON)

fuzz-policy: $(FUZZ_POLICY)

fuzz-policy-smoke: $(FUZZ_POLICY)
	$(Q)rm -rf build/fuzz/corpus-policy && mkdir -p build/fuzz/corpus-policy
	$(Q)for f in deploy/policies/*.json; do { printf '\x00'; cat "$$f"; } > build/fuzz/corpus-policy/$$(basename $$f); done
	$(Q)for f in deploy/policies/*.yaml; do { printf '\x01'; cat "$$f"; } > build/fuzz/corpus-policy/$$(basename $$f); done
	$(Q)$(FUZZ_POLICY) -runs=$${FUZZ_RUNS:-20000} -max_len=8192 build/fuzz/corpus-policy tests/fuzz/corpus/policy

FUZZERS += $(FUZZ_POLICY)
.PHONY: fuzz-policy fuzz-policy-smoke
