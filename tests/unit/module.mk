# tests/unit: one Check binary per module, declared by each area's fragment.
include tests/unit/common.mk
include tests/unit/policy.mk
include tests/unit/audit.mk
include tests/unit/sidecar.mk
