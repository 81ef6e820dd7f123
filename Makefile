# The two commands of the README: `make test` and `make run`. Both install what is missing first.
VENV_PY := .venv/bin/python
SCENARIO ?= scenarios/partition.yaml
# The CI gate of `make test` (short scenarios; see docs/ci.md); its JUnit XML lands in results/.
CI_SCENARIOS := tests/scenarios/ci-partition.yaml tests/scenarios/ci-pause.yaml
# Every shipped scenario that runs locally, gated in simulation over SIM_SEEDS (an expect: invalid
# scenario must find its anomaly in one of them, an expect: valid one must be valid in all).
SIM_SCENARIOS := $(filter-out scenarios/external.yaml,$(wildcard scenarios/*.yaml scenarios/sim/*.yaml))
SIM_SEEDS ?= 0..2

NODES ?= 5

.PHONY: setup lint test test-fast run shell compare notebook bench clean

setup:
	@bash scripts/setup.sh

# ruff (lint + import order) and mypy (strict for majorityredis/), configured in pyproject.toml
lint: setup
	$(VENV_PY) -m ruff check .
	$(VENV_PY) -m mypy

test: setup lint
	$(VENV_PY) -m pytest
	$(VENV_PY) -m harness gate $(CI_SCENARIOS) --junit-xml results/junit-gate.xml
	$(VENV_PY) -m harness gate $(SIM_SCENARIOS) --simulate --seeds $(SIM_SEEDS) --junit-xml results/junit-simulated.xml

test-fast: setup
	$(VENV_PY) -m pytest -m "not integration and not browser"

run: setup
	$(VENV_PY) -m harness run $(SCENARIO)

shell: setup
	$(VENV_PY) -m harness shell --nodes $(NODES)

compare: setup  # every lock library x scenarios/compare; rewrites the README table and picture
	$(VENV_PY) -m harness compare scenarios/compare/*.yaml --clients all --duration 15 \
	    --readme README.md --screenshot docs/comparison.png

notebook: setup
	.venv/bin/jupyter notebook notebooks/

bench: setup
	$(VENV_PY) -m benchmarks.checker
	$(VENV_PY) -m benchmarks.resp
	$(VENV_PY) -m benchmarks.lock
	$(VENV_PY) -m benchmarks.seam
	$(VENV_PY) -m benchmarks.harness
	$(VENV_PY) -m benchmarks.simulate
	$(VENV_PY) -m benchmarks.sim_node
	$(VENV_PY) -m benchmarks.sweep

clean:
	rm -rf .venv bin .pytest_cache .hypothesis
