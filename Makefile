# opensips-mcp — developer entry points. Each target creates .venv by itself when missing.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PROFILE ?= ci
MI_URL ?= http://127.0.0.1:8888/mi
SIM_PORT ?= 8888
NODES ?= 1

.PHONY: help venv test lint typecheck pytest sim serve conformance conformance-transports conformance-versions differential bench catalog coverage clean
.PHONY: lab lab-deps lab-build lab-stop lab-status lab-tools lab-tools-streams lab-sweep
.PHONY: mcp-conformance

help:
	@echo "make sim          start the simulator (lively scenario) on 127.0.0.1:$(SIM_PORT) (NODES=3: a cluster)"
	@echo "make test         lint, type-check and run all tests (tests/ and conformance/)"
	@echo "make serve        run the MCP server (stdio) against MI_URL=$(MI_URL)"
	@echo "make conformance  conformance suite (PROFILE=ci|deep; OPENSIPS_MI_URL=... for a real one)"
	@echo "make bench        benchmarks -> benchmarks/results/{latest,transports}.{json,md}"
	@echo "make lint         ruff + mypy strict"
	@echo "make mcp-conformance  the official MCP conformance suite vs serve --transport http"
	@echo "                  (npm packages cached in ~/.cache/opensips-mcp; baseline"
	@echo "                  conformance/mcp-expected-failures.yml)"
	@echo "make lab          a real OpenSIPS on loopback (OPENSIPS_SRC=tarball|folder or OPENSIPS_BIN=...,"
	@echo "                  VERSION=3.6.8, LAB_PORT_OFFSET=0): MI on 127.0.0.1:8890+offset; see lab/README.md"
	@echo "make lab-deps     apt-get install the OpenSIPS build packages and SIPp"
	@echo "make lab-stop     stop the lab of LAB_PORT_OFFSET (every PID it started)"
	@echo "make lab-tools    every typed tool against the running lab (tests/lab)"
	@echo "make lab-tools-streams  the typed tools again over the lab's mi_fifo and mi_datagram"
	@echo "make lab-sweep    every recipe through mi_execute over the lab's http, fifo and"
	@echo "                  datagram MI; none may end unknowing (conformance/sweep.py)"

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "need $(PYTHON) (Python 3.11)"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

venv: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check server simulator tests conformance benchmarks scripts lab
	$(BIN)/ruff format --check server simulator tests conformance benchmarks scripts lab

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	HYPOTHESIS_PROFILE=$(PROFILE) $(BIN)/python -m pytest tests conformance
	MI_TEST_LOOP=uvloop $(BIN)/python -m pytest tests/mi

test: lint typecheck pytest

sim: $(STAMP)
	$(BIN)/opensips-sim --host 127.0.0.1 --port $(SIM_PORT) --scenario lively --seed 1 --banner --nodes $(NODES)

serve: $(STAMP)
	$(BIN)/opensips-mcp serve --mi-url $(MI_URL)

conformance: $(STAMP)
	HYPOTHESIS_PROFILE=$(PROFILE) $(BIN)/python -m pytest conformance

# Real OpenSIPS vs a simulator started from its snapshot (OPENSIPS_MI_URL, e.g. make lab).
differential: $(STAMP)
	$(BIN)/python -m conformance.differential

# The simulator over mi_fifo and mi_datagram framing: writes never re-sent, reads sent
# once, permissions (HTTP runs the whole suite in make test). About 2 min per transport.
conformance-transports: $(STAMP)
	for t in fifo udp unix; do \
	  OPENSIPS_SIM_TRANSPORT=$$t HYPOTHESIS_PROFILE=$(PROFILE) $(BIN)/python -m pytest \
	    conformance/test_writes_never_resent.py conformance/test_reads_sent_once.py \
	    conformance/test_permission.py || exit 1; \
	done

# The whole conformance suite (name resolution included) against the simulator
# impersonating each OpenSIPS version (3.6.8 is the default run of `make conformance`);
# about 50 s per version.
conformance-versions: $(STAMP)
	for v in 3.4.18 4.0.1; do \
	  OPENSIPS_CONFORMANCE_VERSION=$$v HYPOTHESIS_PROFILE=$(PROFILE) $(BIN)/python -m pytest \
	    conformance || exit 1; \
	done

bench: $(STAMP)
	$(BIN)/python -m benchmarks.run
	$(BIN)/python -m benchmarks.transports

catalog: $(STAMP)
	$(BIN)/python scripts/build_catalog.py

coverage: $(STAMP)
	$(BIN)/python -m opensips_sim.coverage

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis .benchmarks

# ---- lab: a real OpenSIPS (lab/lab.py, Python stdlib only; see lab/README.md)
LAB_PY := $(shell command -v $(PYTHON) 2>/dev/null || command -v python3)
LAB    := $(LAB_PY) lab/lab.py

lab-deps:
	$(LAB) deps

lab-build:
	$(LAB) build

lab:
	$(LAB) start

lab-stop:
	$(LAB) stop

lab-status:
	$(LAB) status

lab-tools: $(STAMP)
	@$(LAB) env >/dev/null
	env $$($(LAB) env | grep -v '^#') $(BIN)/python -m pytest tests/lab -rA

lab-tools-streams: $(STAMP)
	@$(LAB) env >/dev/null
	env $$($(LAB) env | grep -v '^#') sh -c 'for url in "fifo://$$OPENSIPS_MI_FIFO" \
	  "$$(case "$$OPENSIPS_MI_DATAGRAM" in /*) echo unix://;; *) echo udp://;; esac)$$OPENSIPS_MI_DATAGRAM"; do \
	  echo "typed tools over $$url"; \
	  OPENSIPS_MI_URL="$$url" $(BIN)/python -m pytest tests/lab/test_tools_on_lab.py -q -p no:cacheprovider || exit 1; \
	done'

lab-sweep: $(STAMP)
	@$(LAB) env >/dev/null
	env $$($(LAB) env | grep -v '^#') $(BIN)/python -m conformance.sweep

mcp-conformance: $(STAMP)
	$(BIN)/python scripts/mcp_conformance.py
