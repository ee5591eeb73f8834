# tests/bench: benchmark fragments (the root Makefile runs BENCHES under
# `make bench`).  They measure; they never pass or fail on a number.

# ---- bench-policy: ns per pol_set_eval on a realistic policy, the
# policy's scanning cost, load time (tests/bench/bench_policy.c).
BENCH_POLICY := $(BUILD)/bench/bench_policy
$(eval $(call program,$(BENCH_POLICY),$(call objs,tests/bench/bench_policy.c) $(LIBPOLICY) $(LIBCOMMON),$(LDLIBS_POLICY) $(LDLIBS_COMMON)))

bench-policy: $(BENCH_POLICY)
	$(Q)$(BENCH_POLICY) deploy/policies/acme-full.yaml

BENCHES += bench-policy
.PHONY: bench-policy
