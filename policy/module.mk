# policy/: the pure core of the request path (prefix pol_, pol_pii_):
# classifier recognizers and redaction (policy/pii/), policy load and
# evaluation, JSON body inspection and rewriting; tool steward-policy.
POLICY_SRCS := policy/pii/pii_scan.c policy/pii/pii_redact.c policy/pii/pii_detect.c policy/pol_policy.c \
               policy/pol_body.c policy/pol_doc.c policy/pol_compile.c policy/pol_explain.c \
               policy/pol_scan.c policy/pol_keys.c policy/pol_cases.c
# the recognizers, redaction operators and streaming redactor (issue 3)
POLICY_SRCS += policy/pii/pii_rec_num.c policy/pii/pii_rec_text.c policy/pii/pii_stream.c
LIBPOLICY := $(BUILD)/lib/libpolicy.a
$(LIBPOLICY): $(call objs,$(POLICY_SRCS))
LIBS_ALL += $(LIBPOLICY)
LDLIBS_POLICY := $(LDLIBS_JANSSON) $(LDLIBS_YAML) $(LDLIBS_PCRE2) -lm

PROGRAMS += $(BIN)/steward-policy
$(eval $(call program,$(BIN)/steward-policy,$(call objs,policy/steward_policy.c) $(LIBPOLICY) $(LIBCOMMON),$(LDLIBS_POLICY) $(LDLIBS_COMMON)))
