# opensips-mcp — developer entry points. Each target creates .venv by itself when missing.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PROFILE ?= ci
MI_URL ?= http://127.0.0.1:8888/mi
SIM_PORT ?= 8888

.PHONY: help venv test lint typecheck pytest sim serve conformance bench catalog coverage clean

help:
	@echo "make sim          start the simulator (lively scenario) on 127.0.0.1:$(SIM_PORT)"
	@echo "make test         lint, type-check and run all tests (tests/ and conformance/)"
	@echo "make serve        run the MCP server (stdio) against MI_URL=$(MI_URL)"
	@echo "make conformance  conformance suite (PROFILE=ci|deep; OPENSIPS_MI_URL=... for a real one)"
	@echo "make bench        benchmarks -> benchmarks/results/latest.{json,md}"
	@echo "make lint         ruff + mypy strict"

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "need $(PYTHON) (Python 3.11)"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

venv: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check server simulator tests conformance benchmarks scripts
	$(BIN)/ruff format --check server simulator tests conformance benchmarks scripts

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	HYPOTHESIS_PROFILE=$(PROFILE) $(BIN)/python -m pytest tests conformance

test: lint typecheck pytest

sim: $(STAMP)
	$(BIN)/opensips-sim --host 127.0.0.1 --port $(SIM_PORT) --scenario lively --seed 1 --banner

serve: $(STAMP)
	$(BIN)/opensips-mcp serve --mi-url $(MI_URL)

conformance: $(STAMP)
	HYPOTHESIS_PROFILE=$(PROFILE) $(BIN)/python -m pytest conformance

bench: $(STAMP)
	$(BIN)/python -m benchmarks.run

catalog: $(STAMP)
	$(BIN)/python scripts/build_catalog.py

coverage: $(STAMP)
	$(BIN)/python -m opensips_sim.coverage

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis .benchmarks
