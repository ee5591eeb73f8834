# steward: one non-recursive GNU Makefile.
#
# Each folder contributes a module.mk fragment that lists its sources by name
# (no wildcards: an unlisted file fails loudly) and adds its outputs to the
# aggregate variables below.  Flavours build into their own directories:
#   make                 build/debug   (-O2 -g)
#   make FLAVOUR=asan    build/asan    (ASan + UBSan, -fno-sanitize-recover=all)
# Targets: all test test-unit test-integration check-asan fuzz bench model
#          deps format format-check check-deps docs check-docs check-deploy
#          lint lint-baseline install uninstall clean help

FLAVOUR ?= debug
BUILD   := build/$(FLAVOUR)
BIN     := $(BUILD)/bin
Q       := $(if $(V),,@)

PKGS      := jansson rdkafka libpq openssl libevent libevent_pthreads libevent_openssl inih yaml-0.1 zlib libpcre2-8
TEST_PKGS := check
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS))

CC      ?= cc
WARN    := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
           -Wpointer-arith -Wformat=2 -Wvla -Wno-missing-field-initializers
CSTD    := -std=c11 -D_GNU_SOURCE
OPT     := -O2 -g
SAN     :=
ifeq ($(FLAVOUR),asan)
CC      := clang
OPT     := -O1 -g -fno-omit-frame-pointer
SAN     := -fsanitize=address,undefined -fno-sanitize-recover=all
endif
ifeq ($(WERROR),1)
WARN    += -Werror
endif
CFLAGS  := $(CSTD) $(OPT) $(WARN) $(SAN) -pthread -MMD -MP -I. $(PKG_CFLAGS) $(EXTRA_CFLAGS)
LDFLAGS := $(SAN) -pthread $(EXTRA_LDFLAGS)

LDLIBS_SSL     := $(shell pkg-config --libs openssl)
LDLIBS_JANSSON := $(shell pkg-config --libs jansson)
LDLIBS_KAFKA   := $(shell pkg-config --libs rdkafka)
LDLIBS_PQ      := $(shell pkg-config --libs libpq)
LDLIBS_EVENT   := $(shell pkg-config --libs libevent libevent_pthreads)
LDLIBS_EVENT_SSL := $(shell pkg-config --libs libevent_openssl)
LDLIBS_INIH    := $(shell pkg-config --libs inih)
LDLIBS_YAML    := $(shell pkg-config --libs yaml-0.1)
LDLIBS_PCRE2   := $(shell pkg-config --libs libpcre2-8)
LDLIBS_Z       := $(shell pkg-config --libs zlib)
LDLIBS_CHECK   := $(shell pkg-config --libs $(TEST_PKGS))

comma := ,
objs = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))

# $(eval $(call unit_test,NAME,LIBS,LDLIBS)): tests/unit/NAME.c becomes the
# Check binary $(BUILD)/tests/NAME, linked only against LIBS (which proves the
# module's dependency rule) and LDLIBS.
define unit_test
UNIT_TESTS += $(BUILD)/tests/$(1)
$(BUILD)/tests/$(1): $(BUILD)/obj/tests/unit/$(1).o $(2)
	@mkdir -p $$(@D)
	@$$(if $$(Q),echo "  LD      $$@")
	$$(Q)$$(CC) $$(LDFLAGS) -o $$@ $$^ $(3) $$(LDLIBS_CHECK)
endef

# $(eval $(call fuzzer,NAME,SRCS,LDLIBS)): tests/fuzz/NAME.c and the module
# sources it exercises, compiled together by clang with libFuzzer, ASan and
# UBSan into build/fuzz/NAME.  Its seed corpus is tests/fuzz/corpus/NAME/.
FUZZ_DIR := build/fuzz
FUZZ_CFLAGS := $(CSTD) -g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined \
               -fno-sanitize-recover=all -I. $(PKG_CFLAGS) -DSTEWARD_FUZZ
define fuzzer
FUZZERS += $(FUZZ_DIR)/$(1)
$(FUZZ_DIR)/$(1): tests/fuzz/$(1).c $(2)
	@mkdir -p $$(@D)
	@$$(if $$(Q),echo "  FUZZ    $$@")
	$$(Q)clang $$(FUZZ_CFLAGS) -o $$@ $$^ $(3) -pthread
endef

# $(eval $(call program,PATH,OBJS_AND_LIBS,LDLIBS)): link one binary.
define program
$(1): $(2)
	@mkdir -p $$(@D)
	@$$(if $$(Q),echo "  LD      $$@")
	$$(Q)$$(CC) $$(LDFLAGS) -o $$@ $$^ $(3)
endef

# Aggregates filled in by the fragments.
LIBS_ALL   :=
PROGRAMS   :=
TOOLS      :=
UNIT_TESTS :=
FUZZERS    :=
BENCHES    :=

all: programs

include common/module.mk
include policy/module.mk
include audit/module.mk
include sidecar/module.mk
include tests/tools/module.mk
include tests/unit/module.mk
include tests/fuzz/module.mk
include tests/bench/module.mk

programs: $(PROGRAMS) $(TOOLS)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/lib/%.a:
	@mkdir -p $(@D)
	@$(if $(Q),echo "  AR      $@")
	$(Q)rm -f $@ && ar rcs $@ $^

# ---------------------------------------------------------------- tests

tests: $(UNIT_TESTS)

test: programs $(UNIT_TESTS)
	$(Q)STEWARD_BUILD=$(BUILD) tests/run.sh all

test-unit: $(UNIT_TESTS)
	$(Q)STEWARD_BUILD=$(BUILD) tests/run.sh unit

test-integration: programs
	$(Q)STEWARD_BUILD=$(BUILD) tests/run.sh integration

check-asan:
	$(Q)$(MAKE) --no-print-directory FLAVOUR=asan test

# libFuzzer harnesses: `make fuzz` builds them; `make fuzz-run` runs each for
# FUZZ_SECONDS over its committed corpus (CI: a short bounded run; locally:
# make fuzz-run FUZZ_SECONDS=600).  New inputs go to build/fuzz/corpus-NAME,
# never into the committed corpus; a crash leaves crash-* and fails the run.
FUZZ_SECONDS ?= 10
fuzz: $(FUZZERS)

fuzz-run: $(FUZZERS)
	$(Q)tests/fuzz/run.sh $(FUZZ_SECONDS) $(FUZZERS)

# Benchmarks: numbers side by side with a peer in the same run, reported as
# ratios; never pass/fail.  Each area adds its target to BENCHES.
BENCH_SECONDS ?= 10
BENCHES += bench-proxy
bench: $(BENCHES)

bench-proxy: programs $(BENCH_FSYNC)
	$(Q)STEWARD_BIN=$(BIN) STEWARD_BENCH_FSYNC=$(BENCH_FSYNC) tests/bench/bench_proxy.sh $(BENCH_SECONDS)

# The auditor's queries on BENCH_RECORDS synthetic lineage records.
BENCH_RECORDS ?= 1000000
BENCHES += bench-audit
bench-audit: programs
	$(Q)STEWARD_BIN=$(BIN) tests/bench/bench_audit.sh $(BENCH_RECORDS)

deps:
	$(Q)deploy/deps.sh

# README's two commands, for those who prefer make.
demo:
	$(Q)deploy/demo.sh

check:
	$(Q)tests/check.sh

format:
	$(Q)clang-format -i $(shell git ls-files '*.c' '*.h')

format-check:
	$(Q)clang-format --dry-run --Werror $(shell git ls-files '*.c' '*.h')

# The dependency rule of DESIGN.md section 2: nothing includes sidecar/
# headers from outside sidecar/; policy/ includes only common/ (and itself);
# audit/ includes only common/, schema/ (and itself).
check-deps:
	$(Q)! grep -rn '#include "sidecar/' common policy audit schema || { echo "check-deps: sidecar header included outside sidecar/"; exit 1; }
	$(Q)! grep -rn -E '#include "(audit|sidecar)/' common policy || { echo "check-deps: policy/common depend on audit or sidecar"; exit 1; }
	$(Q)! grep -rn -E '#include "(policy|sidecar)/' common audit || { echo "check-deps: audit/common depend on policy or sidecar"; exit 1; }
	@echo "check-deps: ok"

# Static analysis: cppcheck over every C file (tests/lint/cppcheck.sh), held
# to the committed baseline tests/lint/cppcheck-baseline.txt: a finding not
# in it fails, and so does an entry no longer found.  lint-baseline rewrites
# the baseline from a run (new entries marked TODO until given a reason).
# README.md, "Static analysis", has the policy.
lint:
	$(Q)tests/lint/cppcheck.sh

lint-baseline:
	$(Q)tests/lint/cppcheck.sh --update

# docs/config.md is generated from the options tables; check-docs fails when
# the committed file drifts from the code.
docs/config.md: $(BIN)/steward $(BIN)/steward-loader
	$(Q){ printf '# Configuration reference\n\nGenerated by `make docs` from the options tables (`steward --config-doc`, `steward-loader --config-doc`); do not edit by hand.\n\n'; \
	  $(BIN)/steward --config-doc; $(BIN)/steward-loader --config-doc; } > $@

# docs/man/steward.conf.5 is generated from the same tables.
docs/man/steward.conf.5: $(BIN)/steward $(BIN)/steward-loader docs/man/mkconf5.py
	$(Q){ $(BIN)/steward --config-doc; $(BIN)/steward-loader --config-doc; } | python3 docs/man/mkconf5.py > $@

docs: docs/config.md docs/man/steward.conf.5

check-docs: $(BIN)/steward $(BIN)/steward-loader
	$(Q){ printf '# Configuration reference\n\nGenerated by `make docs` from the options tables (`steward --config-doc`, `steward-loader --config-doc`); do not edit by hand.\n\n'; \
	  $(BIN)/steward --config-doc; $(BIN)/steward-loader --config-doc; } | diff -u docs/config.md - \
	  || { echo "check-docs: docs/config.md is out of date: run make docs"; exit 1; }
	$(Q){ $(BIN)/steward --config-doc; $(BIN)/steward-loader --config-doc; } | python3 docs/man/mkconf5.py \
	  | diff -u docs/man/steward.conf.5 - \
	  || { echo "check-docs: docs/man/steward.conf.5 is out of date: run make docs"; exit 1; }
	@echo "check-docs: ok"

# ---------------------------------------------------------------- install
# make install [PREFIX=/usr/local] [DESTDIR=]: the five programs, the PII
# model (where pii_model = auto finds it when PREFIX=/usr), the SQL
# migrations (steward-audit migrate --dir), example configurations and
# policies, the systemd units and sysusers file (their /usr/local paths
# rewritten for PREFIX), and the man pages.  Nothing goes to /etc or /var:
# docs/deploy.md says what to copy there.
PREFIX  ?= /usr/local
DESTDIR ?=
INSTALL ?= install
I_BIN   := $(DESTDIR)$(PREFIX)/bin
I_SHARE := $(DESTDIR)$(PREFIX)/share/steward
I_MAN   := $(DESTDIR)$(PREFIX)/share/man
I_UNIT  := $(DESTDIR)$(PREFIX)/lib/systemd/system
I_SYSU  := $(DESTDIR)$(PREFIX)/lib/sysusers.d
INSTALL_PROGRAMS := steward steward-loader steward-audit steward-policy steward-pii
MAN1 := $(patsubst %,docs/man/%.1,$(INSTALL_PROGRAMS))
MAN5 := docs/man/steward.conf.5
UNITS := deploy/systemd/steward.service deploy/systemd/steward-loader.service
EXAMPLE_CONFS := deploy/systemd/steward.conf deploy/systemd/steward-loader.conf deploy/example.conf
prefixed = sed -e 's|/usr/local|$(PREFIX)|g'

install: $(addprefix $(BIN)/,$(INSTALL_PROGRAMS))
	$(Q)$(INSTALL) -d $(I_BIN) $(I_SHARE)/schema/sql $(I_SHARE)/examples/policies/tests \
	    $(I_MAN)/man1 $(I_MAN)/man5 $(I_UNIT) $(I_SYSU)
	$(Q)$(INSTALL) -m 0755 $(addprefix $(BIN)/,$(INSTALL_PROGRAMS)) $(I_BIN)/
	$(Q)$(INSTALL) -m 0644 $(PII_MODEL) $(I_SHARE)/steward-pii.model
	$(Q)$(INSTALL) -m 0644 schema/sql/*.sql $(I_SHARE)/schema/sql/
	$(Q)$(INSTALL) -m 0644 schema/lineage.schema.json $(I_SHARE)/schema/
	$(Q)for f in $(EXAMPLE_CONFS); do $(prefixed) $$f > $(I_SHARE)/examples/$$(basename $$f) && chmod 0644 $(I_SHARE)/examples/$$(basename $$f) || exit 1; done
	$(Q)$(INSTALL) -m 0644 deploy/policies/*.json deploy/policies/*.yaml $(I_SHARE)/examples/policies/
	$(Q)$(INSTALL) -m 0644 deploy/policies/tests/*.yaml $(I_SHARE)/examples/policies/tests/
	$(Q)$(INSTALL) -m 0644 deploy/monitoring/alerts.yml $(I_SHARE)/examples/
	$(Q)for f in $(UNITS); do $(prefixed) $$f > $(I_UNIT)/$$(basename $$f) && chmod 0644 $(I_UNIT)/$$(basename $$f) || exit 1; done
	$(Q)$(INSTALL) -m 0644 deploy/systemd/steward.sysusers $(I_SYSU)/steward.conf
	$(Q)$(INSTALL) -m 0644 $(MAN1) $(I_MAN)/man1/
	$(Q)$(INSTALL) -m 0644 $(MAN5) $(I_MAN)/man5/
	@echo "install: $(INSTALL_PROGRAMS) into $(DESTDIR)$(PREFIX)"

uninstall:
	$(Q)rm -f $(addprefix $(I_BIN)/,$(INSTALL_PROGRAMS)) \
	    $(addprefix $(I_MAN)/man1/,$(notdir $(MAN1))) $(I_MAN)/man5/steward.conf.5 \
	    $(addprefix $(I_UNIT)/,$(notdir $(UNITS))) $(I_SYSU)/steward.conf
	$(Q)rm -rf $(I_SHARE)

# The deployment artifacts (deploy/k8s, deploy/systemd, deploy/container,
# deploy/monitoring) and the man pages, checked: yamllint, systemd-analyze
# verify, promtool (rules, and the live /metrics of a sidecar), config keys
# and paths they name, groff warnings, make install.  tests/deploy/check.sh.
check-deploy: $(addprefix $(BIN)/,$(INSTALL_PROGRAMS))
	$(Q)STEWARD_BUILD=$(BUILD) tests/deploy/check.sh

clean:
	rm -rf build

help:
	@sed -n '1,12p' Makefile

.PHONY: all programs tests demo check fuzz fuzz-run bench bench-proxy bench-audit test test-unit test-integration check-asan deps format \
        format-check check-deps lint lint-baseline docs check-docs check-deploy install uninstall clean help
.DELETE_ON_ERROR:

-include $(shell find build/$(FLAVOUR)/obj -name '*.d' 2>/dev/null)
