# unit tests of audit/ (see tests/unit/module.mk)
#   test_aud_record   builder, validator, fields.def agreement (pure)
#   test_aud_emitter  the emitter (producer, spool, chains) against librdkafka's
#                     in-process mock cluster
#   test_aud_spool    the disk spool on real files (pure of Kafka)
#   test_aud_chain    chains, chain state, checkpoints, Ed25519 keys
#   test_aud_context  traceparent, X-Steward-Parent, X-Steward-Inputs parsers
#   test_aud_graph    lineage graph (text, DOT, SVG) and chart writers
#   test_aud_report   compliance and subject-access report renderers
#   test_aud_openlineage  RunEvents valid against the OpenLineage schema
$(eval $(call unit_test,test_aud_record,$(LIBAUDIT) $(LIBCOMMON),$(LDLIBS_AUDIT) $(LDLIBS_COMMON)))
$(eval $(call unit_test,test_aud_emitter,$(LIBAUDIT) $(LIBCOMMON),$(LDLIBS_AUDIT) $(LDLIBS_COMMON) -Wl$(comma)--wrap=fdatasync$(comma)--wrap=rd_kafka_new))
$(eval $(call unit_test,test_aud_spool,$(LIBAUDIT) $(LIBCOMMON),$(LDLIBS_AUDIT) $(LDLIBS_COMMON)))
$(eval $(call unit_test,test_aud_chain,$(LIBAUDIT) $(LIBCOMMON),$(LDLIBS_AUDIT) $(LDLIBS_COMMON)))
$(eval $(call unit_test,test_aud_context,$(LIBAUDIT) $(LIBCOMMON),$(LDLIBS_AUDIT) $(LDLIBS_COMMON)))
$(eval $(call unit_test,test_aud_graph,$(LIBAUDIT) $(LIBCOMMON),$(LDLIBS_AUDIT) $(LDLIBS_COMMON)))
$(eval $(call unit_test,test_aud_report,$(LIBAUDIT) $(LIBCOMMON),$(LDLIBS_AUDIT) $(LDLIBS_COMMON)))
$(eval $(call unit_test,test_aud_openlineage,$(LIBAUDIT) $(LIBCOMMON),$(LDLIBS_AUDIT) $(LDLIBS_COMMON)))
