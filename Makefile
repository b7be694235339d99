# One entry point for a fresh machine: `make demo` runs the main job, `make test` the test suite.
# Both create .venv and install the project on first use (torch pinned to the CPU wheel).
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false
# llama-cpp-python compiles from source: use both cores.
export CMAKE_BUILD_PARALLEL_LEVEL ?= 2

.PHONY: install browser demo test evidence lint bench clean-cache

$(STAMP): pyproject.toml constraints.txt
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade --quiet pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[embedded,server,dev,distributed,tune]"
	touch $(STAMP)

install: $(STAMP)

# The web page's browser test drives Debian's headless Chromium: installed when missing.
browser:
	@test -x /usr/bin/chromium && test -x /usr/bin/chromedriver || { \
	  SUDO=$$(test "$$(id -u)" -eq 0 || echo sudo); \
	  $$SUDO apt-get update -qq && \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver; }

demo: install
	$(BIN)/rso index build
	$(BIN)/rso recommend build
	$(BIN)/rso demo

test: install browser
	$(BIN)/rso index build
	$(BIN)/rso recommend build
	$(BIN)/python -m pytest -q --durations=15

# The RL-evidence experiment at the size that makes its SR claim reliable (several minutes).
evidence: install
	$(BIN)/rso index build
	$(BIN)/rso recommend build
	$(BIN)/python -m pytest -q --durations=15 -m evidence

lint: install
	$(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/mypy agents graph retrieval prompts rl rso evaluation policy cli rollouts web

bench: install
	$(BIN)/python bench/retrieval.py

clean-cache:
	rm -rf .cache
