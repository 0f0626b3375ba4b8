# Two entry points for a fresh machine (see README): `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
MODEL ?= qwen2.5-coder-1.5b-instruct

.PHONY: install demo test integration lint bench

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# torch is pinned to 2.13.0 in pyproject.toml: the CPU wheel here, never an unpinned CUDA build.
install: $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[dev]'

# The main job on the embedded default model: the whole pipeline into runs/demo, ending in report.html.
demo: install
	$(BIN)/rass models prepare $(MODEL)
	$(BIN)/rass chat --model $(MODEL) "How do I kill a Python process?" --json
	$(BIN)/rass run --model $(MODEL) --profile default --out runs/demo

# Default tier: tiny config-built models, a few minutes on 2 CPUs.
test: install
	$(BIN)/python -m pytest -q

# Opt-in tier: real embedded models (prepares smollm2-135m-instruct, about 100 MB).
integration: install
	$(BIN)/python -m pytest -q -m integration

lint: install
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy

bench: install
	$(BIN)/python benchmarks/bench_chatmodel.py --model $(MODEL)
