# unit tests of policy/ (see tests/unit/module.mk): linked only against
# libpolicy and libcommon, which proves policy -> common only.
$(eval $(call unit_test,test_pii,$(LIBPOLICY) $(LIBCOMMON),$(LDLIBS_POLICY) $(LDLIBS_COMMON)))
# test_policy counts heap allocations around pol_set_eval: the linker wraps
# malloc, calloc and realloc of this binary (its __wrap_* count and call on).
$(eval $(call unit_test,test_policy,$(LIBPOLICY) $(LIBCOMMON),$(LDLIBS_POLICY) $(LDLIBS_COMMON) -Wl$(comma)--wrap=malloc$(comma)--wrap=calloc$(comma)--wrap=realloc))
$(eval $(call unit_test,test_body,$(LIBPOLICY) $(LIBCOMMON),$(LDLIBS_POLICY) $(LDLIBS_COMMON)))
$(eval $(call unit_test,test_pii_redact,$(LIBPOLICY) $(LIBCOMMON),$(LDLIBS_POLICY) $(LDLIBS_COMMON)))
$(eval $(call unit_test,test_pii_stream,$(LIBPOLICY) $(LIBCOMMON),$(LDLIBS_POLICY) $(LDLIBS_COMMON)))
$(eval $(call unit_test,test_pii_model,$(LIBPOLICY) $(LIBCOMMON),$(LDLIBS_POLICY) $(LDLIBS_COMMON)))
