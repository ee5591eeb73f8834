# unit tests of sidecar/ (see tests/unit/module.mk)
