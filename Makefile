PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# the suite in one process per core (pytest-xdist), at most 4; PARALLEL= runs it in one
PARALLEL ?= -n auto --maxprocesses 4

.PHONY: install demo test test-fast lint bench clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/qualityfm demo --out demo_report

test: lint
	$(BIN)/python -m pytest -q $(PARALLEL)

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow" $(PARALLEL)

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks scripts

bench: $(STAMP)
	$(BIN)/python benchmarks/preprocess_throughput.py
	$(BIN)/python benchmarks/pretrain_throughput.py
	$(BIN)/python benchmarks/tokeniser_conv.py
	$(BIN)/python benchmarks/attention_scaling.py
	$(BIN)/python benchmarks/embed_throughput.py

clean:
	rm -rf $(VENV) demo_report
