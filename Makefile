# Two promises: `make demo` sets up and runs the demo run; `make test` sets up and passes the tests.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DEMO_DIR ?= runs/demo
# The job's own files (its output, its status line) go here: the runs directory holds runs only.
DEMO_OUT ?= demo-output

.PHONY: demo test lint typecheck unit bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed-runtime: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $@

$(VENV)/.installed-bench: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[dev,bench]'
	touch $@

demo: $(VENV)/.installed-runtime
	@mkdir -p $(DEMO_OUT)
	$(BIN)/python examples/process_items.py --input examples/data/items.txt \
		--output $(DEMO_OUT)/output.json --log-dir $(DEMO_DIR) | tee $(DEMO_OUT)/last-run.json
	$(BIN)/runlogger runs --dir $(DEMO_DIR) --limit 5
	$(BIN)/runlogger show --dir $(DEMO_DIR) --events \
		"$$($(BIN)/python -c 'import json,sys; print(json.load(open(sys.argv[1]))["run_id"])' $(DEMO_OUT)/last-run.json)"
	$(BIN)/runlogger stats --dir $(DEMO_DIR)

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check src tests examples bench
	$(BIN)/ruff format --check src tests examples bench
	$(BIN)/lint-imports

typecheck: $(VENV)/.installed-dev
	$(BIN)/mypy

unit: $(VENV)/.installed-dev
	$(BIN)/python -m pytest

test: lint typecheck unit

bench: $(VENV)/.installed-bench
	$(BIN)/python bench/bench.py

clean:
	rm -rf $(VENV) runs $(DEMO_OUT) .pytest_cache .mypy_cache .ruff_cache
