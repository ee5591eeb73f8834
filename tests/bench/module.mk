# tests/bench: benchmarks (DESIGN.md section 10): numbers side by side in one
# run, reported as ratios, never asserted.  Each bench adds a target and
# makes `bench` depend on it.
#   make bench-loader [BENCH_RECORDS=N]   steward-loader vs raw COPY of the same rows

bench-loader: programs
	$(Q)STEWARD_BUILD=$(BUILD) python3 tests/bench/bench_loader.py \
	    $(if $(BENCH_RECORDS),--records $(BENCH_RECORDS))

bench: bench-loader

.PHONY: bench bench-loader
