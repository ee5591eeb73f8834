# audit/: the lineage record's life after the request (prefix aud_, ld_).
#
#   LIBAUDIT       record builder, Kafka emitter, record validator; linked by
#                  the sidecar with $(LDLIBS_AUDIT) (librdkafka, jansson)
#   steward-loader Kafka -> PostgreSQL loader (audit/loader/)
#   steward-audit  the auditor's CLI: migrate, query, count (audit/cli/)
# aud_pg.c (the only PQ* user) is linked into the two binaries, not LIBAUDIT,
# so the sidecar does not pull in libpq.
AUDIT_SRCS := audit/aud_record.c audit/aud_emitter.c audit/aud_kafka.c audit/aud_validate.c \
              audit/aud_context.c
LIBAUDIT := $(BUILD)/lib/libaudit.a
$(LIBAUDIT): $(call objs,$(AUDIT_SRCS))
LIBS_ALL += $(LIBAUDIT)
LDLIBS_AUDIT := $(LDLIBS_KAFKA) $(LDLIBS_JANSSON)

AUDIT_PG_OBJS := $(call objs,audit/aud_pg.c)

LOADER_SRCS := audit/loader/ld_main.c audit/loader/ld_batch.c
$(eval $(call program,$(BIN)/steward-loader,$(call objs,$(LOADER_SRCS)) $(AUDIT_PG_OBJS) \
    $(LIBAUDIT) $(LIBCOMMON),$(LDLIBS_AUDIT) $(LDLIBS_PQ) $(LDLIBS_COMMON)))
PROGRAMS += $(BIN)/steward-loader

AUDIT_CLI_SRCS := audit/cli/steward_audit.c
$(eval $(call program,$(BIN)/steward-audit,$(call objs,$(AUDIT_CLI_SRCS)) $(AUDIT_PG_OBJS) \
    $(LIBAUDIT) $(LIBCOMMON),$(LDLIBS_AUDIT) $(LDLIBS_PQ) $(LDLIBS_COMMON)))
PROGRAMS += $(BIN)/steward-audit

.PHONY: audit
audit: $(LIBAUDIT) $(BIN)/steward-loader $(BIN)/steward-audit
