# The two commands of the README: `make test` and `make run`. Both install what is missing first.
VENV_PY := .venv/bin/python
SCENARIO ?= scenarios/partition.yaml

.PHONY: setup lint test test-fast run notebook bench clean

setup:
	@bash scripts/setup.sh

# ruff (lint + import order) and mypy (strict for majorityredis/), configured in pyproject.toml
lint: setup
	$(VENV_PY) -m ruff check .
	$(VENV_PY) -m mypy

test: setup lint
	$(VENV_PY) -m pytest

test-fast: setup
	$(VENV_PY) -m pytest -m "not integration and not browser"

run: setup
	$(VENV_PY) -m harness run $(SCENARIO)

notebook: setup
	.venv/bin/jupyter notebook notebooks/

bench: setup
	$(VENV_PY) -m benchmarks.checker
	$(VENV_PY) -m benchmarks.resp
	$(VENV_PY) -m benchmarks.lock
	$(VENV_PY) -m benchmarks.harness

clean:
	rm -rf .venv bin .pytest_cache .hypothesis
