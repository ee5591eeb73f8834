# unit tests of policy/ (see tests/unit/module.mk): linked only against
# libpolicy and libcommon, which proves policy -> common only.
$(eval $(call unit_test,test_pii,$(LIBPOLICY) $(LIBCOMMON),$(LDLIBS_POLICY) $(LDLIBS_COMMON)))
$(eval $(call unit_test,test_policy,$(LIBPOLICY) $(LIBCOMMON),$(LDLIBS_POLICY) $(LDLIBS_COMMON)))
$(eval $(call unit_test,test_body,$(LIBPOLICY) $(LIBCOMMON),$(LDLIBS_POLICY) $(LDLIBS_COMMON)))
$(eval $(call unit_test,test_pii_redact,$(LIBPOLICY) $(LIBCOMMON),$(LDLIBS_POLICY) $(LDLIBS_COMMON)))
$(eval $(call unit_test,test_pii_stream,$(LIBPOLICY) $(LIBCOMMON),$(LDLIBS_POLICY) $(LDLIBS_COMMON)))
