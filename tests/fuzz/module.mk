# tests/fuzz: libFuzzer harnesses, one per parser (see the `fuzzer` macro in
# the root Makefile).  Each compiles the harness with the sources it needs;
# `make fuzz` builds them all, `make fuzz-run` runs each for FUZZ_SECONDS.
FUZZ_COMMON_SRCS := $(COMMON_SRCS)
FUZZ_POLICY_SRCS := $(POLICY_SRCS) $(COMMON_SRCS)
FUZZ_POLICY_LIBS := $(LDLIBS_POLICY) $(LDLIBS_COMMON)

# the options-table engine over inih (every config file)
$(eval $(call fuzzer,fuzz_conf,$(FUZZ_COMMON_SRCS),$(LDLIBS_COMMON)))
# request/response body inspection and byte-exact rewriting
$(eval $(call fuzzer,fuzz_body,$(FUZZ_POLICY_SRCS),$(FUZZ_POLICY_LIBS)))
# the validating JSON scanner, differentially against jansson and jsmn
$(eval $(call fuzzer,fuzz_json,policy/pol_json.c $(FUZZ_COMMON_SRCS),$(LDLIBS_JANSSON) -lm $(LDLIBS_COMMON)))
# the classifier's recognizers, the redaction operators, the streaming redactor
$(eval $(call fuzzer,fuzz_pii_scan,$(FUZZ_POLICY_SRCS),$(FUZZ_POLICY_LIBS)))
$(eval $(call fuzzer,fuzz_pii_redact,$(FUZZ_POLICY_SRCS),$(FUZZ_POLICY_LIBS)))
$(eval $(call fuzzer,fuzz_pii_stream,$(FUZZ_POLICY_SRCS),$(FUZZ_POLICY_LIBS)))
# the strict HTTP/1.1 framing guard in front of evhttp
$(eval $(call fuzzer,fuzz_http_guard,sidecar/sc_guard.c common/cm_hash.c common/cm_status.c common/cm_mem.c,$(LDLIBS_SSL)))
# the Server-Sent Events framer of streamed answers
$(eval $(call fuzzer,fuzz_sse,sidecar/sc_sse.c,))
# bounded inflation of gzip/deflate request bodies
$(eval $(call fuzzer,fuzz_inflate,sidecar/sc_inflate.c common/cm_buf.c common/cm_mem.c common/cm_status.c,$(LDLIBS_Z)))
# the policy loader (JSON and YAML), its compiled form, and the API-key file
$(eval $(call fuzzer,fuzz_policy_load,$(FUZZ_POLICY_SRCS),$(FUZZ_POLICY_LIBS)))
# loading a learned-model file from arbitrary bytes, and inference with it
$(eval $(call fuzzer,fuzz_pii_model,$(FUZZ_POLICY_SRCS),$(FUZZ_POLICY_LIBS)))
# the lineage spool's segment reader (what a power cut leaves at start-up)
$(eval $(call fuzzer,fuzz_spool,audit/aud_spool.c $(FUZZ_COMMON_SRCS),$(LDLIBS_Z) $(LDLIBS_COMMON)))
# the loader's record validator, the checkpoint parser and verify's chain reader
$(eval $(call fuzzer,fuzz_record,audit/aud_validate.c audit/aud_chain.c audit/aud_record.c \
    audit/aud_sign.c $(FUZZ_COMMON_SRCS),$(LDLIBS_JANSSON) $(LDLIBS_Z) $(LDLIBS_COMMON)))
# the lineage-context headers (traceparent, X-Steward-Parent, X-Steward-Inputs)
# and the fingerprint normalisation
FUZZ_AUDIT_SRCS := audit/aud_context.c $(FUZZ_COMMON_SRCS)
$(eval $(call fuzzer,fuzz_context,$(FUZZ_AUDIT_SRCS),$(LDLIBS_COMMON)))
# report and OpenLineage rendering of whatever JSON the store holds
FUZZ_RENDER_SRCS := audit/aud_report.c audit/aud_svg.c audit/aud_graph.c \
                    audit/aud_openlineage.c $(FUZZ_COMMON_SRCS)
$(eval $(call fuzzer,fuzz_audit_render,$(FUZZ_RENDER_SRCS),$(LDLIBS_JANSSON) -lm $(LDLIBS_COMMON)))
