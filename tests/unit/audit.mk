# unit tests of audit/ (see tests/unit/module.mk)
#   test_aud_record   builder, validator, fields.def agreement (pure)
#   test_aud_emitter  the emitter (producer, spool, chains) against librdkafka's
#                     in-process mock cluster
#   test_aud_spool    the disk spool on real files (pure of Kafka)
#   test_aud_chain    chains, chain state, checkpoints, Ed25519 keys
$(eval $(call unit_test,test_aud_record,$(LIBAUDIT) $(LIBCOMMON),$(LDLIBS_AUDIT) $(LDLIBS_COMMON)))
$(eval $(call unit_test,test_aud_emitter,$(LIBAUDIT) $(LIBCOMMON),$(LDLIBS_AUDIT) $(LDLIBS_COMMON)))
$(eval $(call unit_test,test_aud_spool,$(LIBAUDIT) $(LIBCOMMON),$(LDLIBS_AUDIT) $(LDLIBS_COMMON)))
$(eval $(call unit_test,test_aud_chain,$(LIBAUDIT) $(LIBCOMMON),$(LDLIBS_AUDIT) $(LDLIBS_COMMON)))
