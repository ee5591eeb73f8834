# unit tests of sidecar/ (see tests/unit/module.mk)
$(eval $(call unit_test,test_sc_guard,$(call objs,sidecar/sc_guard.c) $(LIBCOMMON),$(LDLIBS_COMMON)))
$(eval $(call unit_test,test_sc_inflate,$(call objs,sidecar/sc_inflate.c) $(LIBCOMMON),$(LDLIBS_Z) $(LDLIBS_COMMON)))
$(eval $(call unit_test,test_sc_options,$(call objs,sidecar/sc_options.c) $(LIBCOMMON),$(LDLIBS_COMMON)))
