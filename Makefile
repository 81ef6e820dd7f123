# The two commands of the README: `make test` and `make run`. Both install what is missing first.
VENV_PY := .venv/bin/python
SCENARIO ?= scenarios/partition.yaml

.PHONY: setup test test-fast run compare notebook bench clean

setup:
	@bash scripts/setup.sh

test: setup
	$(VENV_PY) -m pytest

test-fast: setup
	$(VENV_PY) -m pytest -m "not integration and not browser"

run: setup
	$(VENV_PY) -m harness run $(SCENARIO)

compare: setup  # every lock library x scenarios/compare; rewrites the README table and picture
	$(VENV_PY) -m harness compare scenarios/compare/*.yaml --clients all --duration 15 \
	    --readme README.md --screenshot docs/comparison.png

notebook: setup
	.venv/bin/jupyter notebook notebooks/

bench: setup
	$(VENV_PY) -m benchmarks.checker
	$(VENV_PY) -m benchmarks.lock
	$(VENV_PY) -m benchmarks.harness

clean:
	rm -rf .venv bin .pytest_cache .hypothesis
