# tests/fuzz: libFuzzer harnesses, one per parser (see the `fuzzer` macro in
# the root Makefile).  Each compiles the harness with the sources it needs.
FUZZ_COMMON_SRCS := $(COMMON_SRCS)
FUZZ_POLICY_SRCS := $(POLICY_SRCS) $(COMMON_SRCS)

# the options-table engine over inih (every config file)
$(eval $(call fuzzer,fuzz_conf,$(FUZZ_COMMON_SRCS),$(LDLIBS_COMMON)))
# request/response body inspection and byte-exact rewriting
$(eval $(call fuzzer,fuzz_body,$(FUZZ_POLICY_SRCS),$(LDLIBS_POLICY) $(LDLIBS_COMMON)))
# the lineage-context headers (traceparent, X-Steward-Parent, X-Steward-Inputs)
# and the fingerprint normalisation
FUZZ_AUDIT_SRCS := audit/aud_context.c $(COMMON_SRCS)
$(eval $(call fuzzer,fuzz_context,$(FUZZ_AUDIT_SRCS),$(LDLIBS_COMMON)))
# report and OpenLineage rendering of whatever JSON the store holds
FUZZ_RENDER_SRCS := audit/aud_report.c audit/aud_svg.c audit/aud_graph.c \
                    audit/aud_openlineage.c $(COMMON_SRCS)
$(eval $(call fuzzer,fuzz_audit_render,$(FUZZ_RENDER_SRCS),$(LDLIBS_JANSSON) -lm $(LDLIBS_COMMON)))
