# unit tests of audit/ (see tests/unit/module.mk)
#   test_aud_record   builder, validator, fields.def agreement (pure)
#   test_aud_emitter  the producer against librdkafka's in-process mock cluster
$(eval $(call unit_test,test_aud_record,$(LIBAUDIT) $(LIBCOMMON),$(LDLIBS_AUDIT) $(LDLIBS_COMMON)))
$(eval $(call unit_test,test_aud_emitter,$(LIBAUDIT) $(LIBCOMMON),$(LDLIBS_AUDIT) $(LDLIBS_COMMON)))
