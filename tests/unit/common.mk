# unit tests of common/ (see tests/unit/module.mk)
$(eval $(call unit_test,test_cm,$(LIBCOMMON),$(LDLIBS_COMMON)))
$(eval $(call unit_test,test_cm_fingerprint,$(LIBCOMMON),$(LDLIBS_COMMON)))
