# intern_mm: every target creates .venv with the pinned stack on first use (idempotent).
VENV ?= .venv
PY := $(VENV)/bin/python
DEMO_DIR ?= work_dirs/demo
CLAIM_DIR ?= work_dirs/claim
CLAIM_SEEDS ?= 1 2 3
CLAIM_JOBS ?= 1
CLAIM_THREADS ?= 1
PYTEST_ARGS ?=
# test workers (pytest-xdist): one per core; each test process and the tools it starts
# run torch at one thread, so the workers do not oversubscribe the cores
TEST_JOBS ?= auto
PYTEST := OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 $(PY) -m pytest tests -q -p no:cacheprovider \
	--timeout=900 -n $(TEST_JOBS) --dist worksteal

.PHONY: env demo four-families claim claim-design test test-fast clean-demo

env:
	@bash tools/setup_env.sh

## Main job: INTERN's claim on one world seed, all four task families: the GV world and
## its downstream stream -> Up-A -> Up-E -> Up-G (+ conventional pre-training) -> per
## family Up-G adapted with 10% vs the counterpart trained on 100%, four verdict lines
## and the figure (CPU; time in README). make claim adds seeds, grids and counterparts.
demo: env
	$(PY) tools/train_paradigm.py configs/paradigm/intern-paradigm_metanet-tiny_gv-world_demo.py --work-dir $(DEMO_DIR)

## The first demo's pipeline (distillation, OTA) on all four families with downstream
## tasks on the upstream world's images (docs/paradigm.md; about 30 min on 2 CPU cores).
four-families: env
	$(PY) tools/train_paradigm.py configs/paradigm/intern-paradigm_metanet-tiny_gv-world_4-families.py --work-dir $(DEMO_DIR)_4-families

## INTERN's claim as a skeptic would measure it (docs/claim.md): downstream images no
## upstream stage saw, counterparts over schedule grids, one whole world per seed
## (CLAIM_SEEDS, default 1 2 3), one seed after the other (CLAIM_JOBS at once), each as
## jobs (two one-thread processes); writes docs/claim/seed<N>.json and claim_seeds.json / .md.
claim: env
	$(PY) tools/analysis_tools/claim_seeds.py configs/paradigm/intern-paradigm_metanet-tiny_gv-world_claim.py --seeds $(CLAIM_SEEDS) --jobs $(CLAIM_JOBS) --threads $(CLAIM_THREADS) --work-dir $(CLAIM_DIR) --out docs/claim

## The design: the claim's schedule grids on world seed 0, the seed its choices are made
## on, with its stages and learning rates (in its own work dir; docs/claim/design holds its
## record, docs/claim/design/first-run the first design run's; docs/claim.md).
claim-design: env
	$(PY) tools/analysis_tools/claim_seeds.py configs/paradigm/intern-paradigm_metanet-tiny_gv-world_claim_grids.py --seeds 0 --threads $(CLAIM_THREADS) --work-dir $(CLAIM_DIR)/design --out $(CLAIM_DIR)/design

## The test suite (CI runs exactly this): TEST_JOBS workers (one per core), the files
## with slow tests first (tests/conftest.py); an idle worker takes queued tests of the other.
test: env
	$(PYTEST) $(PYTEST_ARGS)

## The suite without the tests marked `slow` (multi-process, compile and real-data
## trainings of more than about 20 s each): a quick check while editing.
test-fast: env
	$(PYTEST) -m "not slow" $(PYTEST_ARGS)

clean-demo:
	rm -rf $(DEMO_DIR) $(DEMO_DIR)_4-families
