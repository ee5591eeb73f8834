# common/: the base library linked by every binary (prefix cm_).
COMMON_SRCS := common/cm_status.c common/cm_mem.c common/cm_log.c common/cm_buf.c \
               common/cm_arena.c common/cm_time.c common/cm_uuid.c common/cm_hash.c \
               common/cm_conf.c common/cm_fingerprint.c
LIBCOMMON := $(BUILD)/lib/libcommon.a
$(LIBCOMMON): $(call objs,$(COMMON_SRCS))
LIBS_ALL += $(LIBCOMMON)
LDLIBS_COMMON := $(LDLIBS_INIH) $(LDLIBS_SSL)
