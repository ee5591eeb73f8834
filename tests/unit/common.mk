# unit tests of common/ (see tests/unit/module.mk)
$(eval $(call unit_test,test_cm,$(LIBCOMMON),$(LDLIBS_COMMON)))
