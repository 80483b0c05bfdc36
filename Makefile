# Two commands set up a fresh machine: `make run` (install, index the bundled articles, serve)
# and `make test` (install, lint, run the test suite). Both build ./.venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Extra pip arguments for torch, e.g. a CPU-only wheel index in a container build.
TORCH_PIP_ARGS ?=

.PHONY: install run test lint eval clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# torch first and pinned: with it in place nothing pulls a CUDA build; torchvision stays out.
	$(BIN)/pip install --quiet torch==2.13.0 $(TORCH_PIP_ARGS)
	$(BIN)/pip install --quiet -c constraints.txt -e '.[test]'
	touch $@

run: install
	HF_HUB_OFFLINE=1 $(BIN)/newsqa serve

lint: install
	$(BIN)/ruff check indexer service eval tests
	$(BIN)/ruff format --check indexer service eval tests
	$(BIN)/mypy indexer service eval

test: lint
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest

eval: install
	HF_HUB_OFFLINE=1 $(BIN)/newsqa index --index-dir build/eval-index
	HF_HUB_OFFLINE=1 $(BIN)/newsqa eval --index-dir build/eval-index

clean:
	rm -rf $(VENV) build index .pytest_cache .mypy_cache .ruff_cache
