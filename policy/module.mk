# policy/: the pure core of the request path (prefix pol_, pol_pii_):
# classifier recognizers, learned model and redaction (policy/pii/), policy
# load and evaluation, JSON body inspection and rewriting; tools
# steward-policy and steward-pii.
POLICY_SRCS := policy/pii/pii_scan.c policy/pii/pii_redact.c policy/pii/pii_detect.c policy/pol_policy.c \
               policy/pol_body.c policy/pol_json.c policy/pol_doc.c policy/pol_compile.c policy/pol_explain.c \
               policy/pol_scan.c policy/pol_keys.c policy/pol_cases.c
# the recognizers, redaction operators and streaming redactor (issue 3)
POLICY_SRCS += policy/pii/pii_rec_num.c policy/pii/pii_rec_text.c policy/pii/pii_stream.c
# the learned token model, its training and evaluation (issue 3)
POLICY_SRCS += policy/pii/pii_model.c policy/pii/pii_train.c
LIBPOLICY := $(BUILD)/lib/libpolicy.a
$(LIBPOLICY): $(call objs,$(POLICY_SRCS))
LIBS_ALL += $(LIBPOLICY)
LDLIBS_POLICY := $(LDLIBS_JANSSON) $(LDLIBS_YAML) $(LDLIBS_PCRE2) -lm

PROGRAMS += $(BIN)/steward-policy
$(eval $(call program,$(BIN)/steward-policy,$(call objs,policy/steward_policy.c) $(LIBPOLICY) $(LIBCOMMON),$(LDLIBS_POLICY) $(LDLIBS_COMMON)))

PROGRAMS += $(BIN)/steward-pii
$(eval $(call program,$(BIN)/steward-pii,$(call objs,policy/pii/steward_pii.c) $(LIBPOLICY) $(LIBCOMMON),$(LDLIBS_POLICY) $(LDLIBS_COMMON)))

include policy/pii/model.mk
