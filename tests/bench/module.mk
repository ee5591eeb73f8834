# tests/bench: benchmarks, built in the current flavour and run by
# `make bench` (speed is measured here, never asserted in tests).
#   make bench-pii-scan     recognizers alone, MB/s per core (pol_pii_scan)
#   make bench-policy       ns per pol_set_eval, the policy's own scanning, load time
# The PII scan benchmark adds a PCRE2-JIT comparison when libpcre2-8 is
# installed (the classifier does not use PCRE2; the policy's lists do).
BENCH_PCRE2 := $(shell pkg-config --exists libpcre2-8 && echo yes)
BENCH_PII_SCAN := $(BUILD)/bench/bench_pii_scan

$(BUILD)/bench/obj/bench_pii_scan.o: tests/bench/bench_pii_scan.c
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CFLAGS) $(if $(BENCH_PCRE2),-DHAVE_PCRE2 $(shell pkg-config --cflags libpcre2-8)) -c $< -o $@

$(eval $(call program,$(BENCH_PII_SCAN),$(BUILD)/bench/obj/bench_pii_scan.o $(LIBPOLICY) $(LIBCOMMON),$(LDLIBS_POLICY) $(LDLIBS_COMMON) $(if $(BENCH_PCRE2),$(shell pkg-config --libs libpcre2-8))))

bench-pii-scan: $(BENCH_PII_SCAN)
	$(Q)$(BENCH_PII_SCAN) $(BENCH_MB)

BENCHES += bench-pii-scan

.PHONY: bench-pii-scan

# ---- bench-policy: ns per pol_set_eval on a realistic policy, the
# policy's scanning cost, load time (tests/bench/bench_policy.c).
BENCH_POLICY := $(BUILD)/bench/bench_policy
$(eval $(call program,$(BENCH_POLICY),$(call objs,tests/bench/bench_policy.c) $(LIBPOLICY) $(LIBCOMMON),$(LDLIBS_POLICY) $(LDLIBS_COMMON)))

bench-policy: $(BENCH_POLICY)
	$(Q)$(BENCH_POLICY) deploy/policies/acme-full.yaml

BENCHES += bench-policy
.PHONY: bench-policy

# ---- bench_fsync: the spool disk's fdatasync latency, measured beside the
# proxies by bench-proxy (tests/bench/bench_fsync.c).
BENCH_FSYNC := $(BUILD)/bench/bench_fsync
$(eval $(call program,$(BENCH_FSYNC),$(call objs,tests/bench/bench_fsync.c),))

# ---- bench-loader: steward-loader vs a raw COPY of the same rows into the
# same tables, in one run (tests/bench/bench_loader.py; make bench-loader
# BENCH_RECORDS=N).
bench-loader: programs
	$(Q)STEWARD_BUILD=$(BUILD) python3 tests/bench/bench_loader.py \
	    $(if $(BENCH_RECORDS),--records $(BENCH_RECORDS))

BENCHES += bench-loader
.PHONY: bench-loader

# ---- soak: SOAK_SECONDS (default 600) of mixed traffic through the local
# stack with policy reloads and a Kafka outage in the middle; checks that
# nothing is lost, verify is clean, memory and fds stay flat
# (tests/bench/soak.py; report in .run/soak/).  Not part of `make bench`.
SOAK_SECONDS ?= 600
soak: programs
	$(Q)STEWARD_BUILD=$(BUILD) SOAK_SECONDS=$(SOAK_SECONDS) python3 tests/bench/soak.py

.PHONY: soak
