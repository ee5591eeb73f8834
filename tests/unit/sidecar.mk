# unit tests of sidecar/ (see tests/unit/module.mk)
$(eval $(call unit_test,test_sc_guard,$(call objs,sidecar/sc_guard.c) $(LIBCOMMON),$(LDLIBS_COMMON)))
