# SPDX-License-Identifier: Apache-2.0
# tests/tools: the embedded local stack's test and demo tools (see README.md):
# steward-mockkafka (librdkafka mock cluster on loopback, fault injection) and
# steward-stub-model (deterministic OpenAI-compatible server). Included by the
# root Makefile (BUILD, BIN, objs, program, LDLIBS_*, TOOLS). They link no
# project library on purpose, so they build and run even when the rest of
# the tree does not.

MOCKKAFKA  := $(BIN)/steward-mockkafka
STUB_MODEL := $(BIN)/steward-stub-model

$(eval $(call program,$(MOCKKAFKA),$(call objs,tests/tools/mockkafka.c),$(LDLIBS_KAFKA) -lpthread))
$(eval $(call program,$(STUB_MODEL),$(call objs,tests/tools/stub_model.c),$(LDLIBS_EVENT) $(LDLIBS_JANSSON)))

TOOLS += $(MOCKKAFKA) $(STUB_MODEL)
