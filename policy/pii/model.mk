# policy/pii/model.mk: `make model` rebuilds the shipped learned model
# (policy/pii/model/steward-pii.model) from the data in the repository:
# synthetic texts generated from our own templates (fixed seed) plus the
# Broad Twitter Corpus training split (@-mentions unlabelled) as published
# and lower-cased (chat prompts often are), with the
# gazetteer lists of policy/pii/data.  Deterministic: the same tree gives
# the same bytes.  `make model-eval` scores the shipped model on the dev
# sets (synthetic dev: held-out templates and values; BTC dev as published
# and, like BTC test, with @-mentions unlabelled; and snippets of this
# repository's source code, where nearly every span is a false positive).
# Training reports the
# dev scores per epoch and calibrates the span score on the dev sets.
PII_DATA    := policy/pii/data
PII_MODEL   := policy/pii/model/steward-pii.model
PII_WORK    := $(BUILD)/model
PII_GEN     := $(PII_DATA)/gen_pii.py
PII_SEED    := 20261129
PII_EPOCHS  := 10
PII_HBITS   := 17
PII_NTRAIN  := 30000
PII_NDEV    := 3000
PII_LISTS   := $(wildcard $(PII_DATA)/*.tsv $(PII_DATA)/*.txt) policy/pii/model.mk
PII_NER     := PERSON,LOCATION,ORGANIZATION

$(PII_WORK)/synth_train.jsonl: $(PII_GEN) $(PII_LISTS)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  GEN     $@")
	$(Q)python3 $(PII_GEN) --data $(PII_DATA) --seed $(PII_SEED) --split train --n $(PII_NTRAIN) > $@

$(PII_WORK)/synth_dev.jsonl: $(PII_GEN) $(PII_LISTS)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  GEN     $@")
	$(Q)python3 $(PII_GEN) --data $(PII_DATA) --seed $(PII_SEED) --split dev --n $(PII_NDEV) > $@

$(PII_WORK)/btc_%.jsonl: $(PII_DATA)/ner_btc_%.jsonl $(PII_GEN)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  GEN     $@")
	$(Q)python3 $(PII_GEN) clean-btc $< > $@

$(PII_WORK)/btc_%_lower.jsonl: $(PII_DATA)/ner_btc_%.jsonl $(PII_GEN)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  GEN     $@")
	$(Q)python3 $(PII_GEN) clean-btc $< lower > $@

# Real source code (this repository's) for the false-positive count of
# model-eval; never used in training.
PII_CODE_FILES := $(wildcard sidecar/*.c audit/*.c audit/*/*.c common/*.c tests/integration/*.py deploy/*.sh)

$(PII_WORK)/code_sample.jsonl: $(PII_GEN) $(PII_CODE_FILES)
	@mkdir -p $(@D)
	@$(if $(Q),echo "  GEN     $@")
	$(Q)python3 $(PII_GEN) code-sample $(PII_CODE_FILES) > $@

PII_INPUTS := $(PII_WORK)/synth_train.jsonl $(PII_WORK)/synth_dev.jsonl \
              $(PII_WORK)/btc_train.jsonl $(PII_WORK)/btc_train_lower.jsonl \
              $(PII_WORK)/btc_dev.jsonl $(PII_WORK)/btc_test.jsonl

model: $(BIN)/steward-pii $(PII_INPUTS)
	$(Q)$(BIN)/steward-pii train --gaz $(PII_DATA) --seed $(PII_SEED) --epochs $(PII_EPOCHS) --hash-bits $(PII_HBITS) \
	    --train $(PII_WORK)/synth_train.jsonl \
	    --train $(PII_WORK)/btc_train.jsonl --train $(PII_WORK)/btc_train_lower.jsonl \
	    --dev $(PII_WORK)/synth_dev.jsonl --dev $(PII_WORK)/btc_dev.jsonl --dev $(PII_WORK)/btc_test.jsonl \
	    --out $(PII_MODEL)

model-eval: $(BIN)/steward-pii $(PII_INPUTS) $(PII_WORK)/btc_test_lower.jsonl $(PII_WORK)/code_sample.jsonl
	$(Q)echo "== synthetic dev, all labels (recognizers + model)"
	$(Q)$(BIN)/steward-pii eval --model $(PII_MODEL) --data $(PII_WORK)/synth_dev.jsonl
	$(Q)echo "== BTC dev as published ($(PII_NER))"
	$(Q)$(BIN)/steward-pii eval --model $(PII_MODEL) --labels $(PII_NER) --data $(PII_DATA)/ner_btc_dev.jsonl
	$(Q)echo "== BTC dev, @-mentions unlabelled ($(PII_NER))"
	$(Q)$(BIN)/steward-pii eval --model $(PII_MODEL) --labels $(PII_NER) --data $(PII_WORK)/btc_dev.jsonl
	$(Q)echo "== BTC test, @-mentions unlabelled ($(PII_NER))"
	$(Q)$(BIN)/steward-pii eval --model $(PII_MODEL) --labels $(PII_NER) --data $(PII_WORK)/btc_test.jsonl
	$(Q)echo "== BTC test lower-cased, @-mentions unlabelled ($(PII_NER))"
	$(Q)$(BIN)/steward-pii eval --model $(PII_MODEL) --labels $(PII_NER) --data $(PII_WORK)/btc_test_lower.jsonl
	$(Q)echo "== source code of this repository: no names but a few test fixtures, so pred counts false positives ($(PII_NER))"
	$(Q)$(BIN)/steward-pii eval --model $(PII_MODEL) --labels $(PII_NER) --data $(PII_WORK)/code_sample.jsonl

.PHONY: model model-eval

# The classifier's benchmark (tests/bench/bench_pii.c): MB/s per core of
# the recognizers alone, the model alone and both; model load time; memory.
BENCH_PII := $(BUILD)/bench/bench_pii
$(eval $(call program,$(BENCH_PII),$(call objs,tests/bench/bench_pii.c) $(LIBPOLICY) $(LIBCOMMON),$(LDLIBS_POLICY) $(LDLIBS_COMMON)))

bench-pii: $(BENCH_PII)
	$(Q)$(BENCH_PII) --model $(PII_MODEL)

BENCHES += bench-pii
.PHONY: bench-pii
