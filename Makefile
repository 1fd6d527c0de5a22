# intern_mm: every target creates .venv with the pinned stack on first use (idempotent).
VENV ?= .venv
PY := $(VENV)/bin/python
DEMO_DIR ?= work_dirs/demo
PYTEST_ARGS ?=

.PHONY: env demo claim test test-fast clean-demo

env:
	@bash tools/setup_env.sh

## Main job: generate the GV world and run Up-A -> Up-E -> Up-G -> distillation ->
## Downstream-Adaptation on the counting task (CPU, about 12 min).
demo: env
	$(PY) tools/train_paradigm.py configs/paradigm/intern-paradigm_metanet-tiny_gv-world.py --work-dir $(DEMO_DIR)

## INTERN's claim on all four task families (cls / det / seg / depth); reuses the demo's
## finished stages and runs (about 20 min on 2 CPU cores after the demo).
claim: env
	$(PY) tools/train_paradigm.py configs/paradigm/intern-paradigm_metanet-tiny_gv-world_4-families.py --work-dir $(DEMO_DIR)

## The test suite (CI runs exactly this).
test: env
	$(PY) -m pytest tests -q -p no:cacheprovider --timeout=900 $(PYTEST_ARGS)

## The suite without the tests marked `slow` (multi-process, compile and real-data
## trainings of more than about 20 s each): a quick check while editing.
test-fast: env
	$(PY) -m pytest tests -q -p no:cacheprovider --timeout=900 -m "not slow" $(PYTEST_ARGS)

clean-demo:
	rm -rf $(DEMO_DIR)
