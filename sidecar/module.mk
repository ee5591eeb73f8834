# sidecar/: the daemon `steward` (prefix sc_).
SIDECAR_SRCS := sidecar/sc_options.c sidecar/sc_conf.c sidecar/sc_outcome.c sidecar/sc_upstream.c \
                sidecar/sc_listen.c sidecar/sc_metrics.c sidecar/sc_admin.c sidecar/sc_tls.c \
                sidecar/sc_guard.c sidecar/sc_inflate.c sidecar/sc_privs.c sidecar/sc_sse.c \
                sidecar/sc_proxy.c
LIBSIDECAR := $(BUILD)/lib/libsidecar.a
$(LIBSIDECAR): $(call objs,$(SIDECAR_SRCS))
LIBS_ALL += $(LIBSIDECAR)

STEWARD := $(BIN)/steward
$(eval $(call program,$(STEWARD),$(call objs,sidecar/sc_main.c) $(LIBSIDECAR) $$(LIBAUDIT) $$(LIBPOLICY) $(LIBCOMMON),$$(LDLIBS_EVENT) $$(LDLIBS_EVENT_SSL) $$(LDLIBS_Z) $$(LDLIBS_AUDIT) $$(LDLIBS_POLICY) $$(LDLIBS_COMMON)))
PROGRAMS += $(STEWARD)
