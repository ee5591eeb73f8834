# audit/: the lineage record's life after the request (prefix aud_, ld_).
#
#   LIBAUDIT       record builder, lineage context parsers, Kafka emitter and
#                  its spool, chains and checkpoints (Ed25519), record
#                  validator (linked by the sidecar with $(LDLIBS_AUDIT):
#                  librdkafka, jansson, zlib, OpenSSL, libm); the pure
#                  renderers of the CLI: lineage graph, SVG charts, reports,
#                  OpenLineage events
#   steward-loader Kafka -> PostgreSQL loader (audit/loader/)
#   steward-audit  the auditor's CLI (audit/cli/, prefix sa_): migrate, verify, keygen, query,
#                  count, trace, subject, report, export, retention, hold,
#                  partitions
# aud_pg.c (the only PQ* user) is linked into the two binaries, not LIBAUDIT,
# so the sidecar does not pull in libpq.
AUDIT_SRCS := audit/aud_record.c audit/aud_emitter.c audit/aud_kafka.c audit/aud_validate.c \
              audit/aud_spool.c audit/aud_chain.c audit/aud_sign.c \
              audit/aud_context.c audit/aud_graph.c audit/aud_svg.c audit/aud_report.c \
              audit/aud_openlineage.c
LIBAUDIT := $(BUILD)/lib/libaudit.a
$(LIBAUDIT): $(call objs,$(AUDIT_SRCS))
LIBS_ALL += $(LIBAUDIT)
LDLIBS_AUDIT := $(LDLIBS_KAFKA) $(LDLIBS_JANSSON) $(LDLIBS_Z) $(LDLIBS_SSL) -lm

AUDIT_PG_OBJS := $(call objs,audit/aud_pg.c)

LOADER_SRCS := audit/loader/ld_main.c audit/loader/ld_batch.c
$(eval $(call program,$(BIN)/steward-loader,$(call objs,$(LOADER_SRCS)) $(AUDIT_PG_OBJS) \
    $(LIBAUDIT) $(LIBCOMMON),$(LDLIBS_AUDIT) $(LDLIBS_PQ) $(LDLIBS_COMMON)))
PROGRAMS += $(BIN)/steward-loader

AUDIT_CLI_SRCS := audit/cli/steward_audit.c audit/cli/sa_common.c audit/cli/sa_query.c \
                  audit/cli/sa_trace.c audit/cli/sa_subject.c audit/cli/sa_report.c \
                  audit/cli/sa_export.c audit/cli/sa_retention.c audit/cli/sa_verify.c
$(eval $(call program,$(BIN)/steward-audit,$(call objs,$(AUDIT_CLI_SRCS)) $(AUDIT_PG_OBJS) \
    $(LIBAUDIT) $(LIBCOMMON),$(LDLIBS_AUDIT) $(LDLIBS_PQ) $(LDLIBS_COMMON)))
PROGRAMS += $(BIN)/steward-audit

.PHONY: audit
audit: $(LIBAUDIT) $(BIN)/steward-loader $(BIN)/steward-audit
