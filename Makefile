# Two commands set up a fresh machine: `make run` (install, index the bundled articles, serve)
# and `make test` (install, lint, run the test suite). Both build ./.venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Extra pip arguments for torch, e.g. a CPU-only wheel index in a container build.
TORCH_PIP_ARGS ?=

.PHONY: install install-prod run test test-fast lint eval clean browser dictionaries

install: $(VENV)/.installed dictionaries

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# torch first and pinned: with it in place nothing pulls a CUDA build; torchvision stays out.
	$(BIN)/pip install --quiet torch==2.13.0 $(TORCH_PIP_ARGS)
	# openvino and onnx: the faster inference backends (pyproject extras), exported without optimum;
	# eval, test and dev: newsqa eval, the test suite, lint and the pre-commit hooks;
	# distributed: Ray, for `newsqa index --ray` and its tests.
	$(BIN)/pip install --quiet -c constraints.txt -e '.[eval,test,dev,openvino,onnx,distributed]'
	touch $@

# What serving needs and nothing more (the Docker image): no eval, test or lint tools.
install-prod: dictionaries
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet torch==2.13.0 $(TORCH_PIP_ARGS)
	$(BIN)/pip install --quiet -c constraints.txt -e '.[openvino,onnx]'

run: install
	HF_HUB_OFFLINE=1 $(BIN)/newsqa serve

lint: install
	$(BIN)/ruff check indexer service eval tests
	$(BIN)/ruff format --check indexer service eval tests
	$(BIN)/mypy indexer service eval
	$(BIN)/lint-imports

# The page tests drive Debian's Chromium headless (tests/test_page.py); where it cannot be
# installed (no root, no apt) they skip and say why, so this step never fails the build.
browser:
	@command -v chromium >/dev/null || \
		(DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
		 DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium) || \
		echo "warning: could not install chromium; the browser tests will be skipped"

# English-Norwegian FreeDict dictionary for cross-lingual search (indexer/lexicon.py), read from
# /usr/share/dictd; without it (no root, no apt) newsqa matches names, numbers and cognates
# only, and /health says so.
dictionaries:
	@test -f /usr/share/dictd/freedict-eng-nor.index || \
		(DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
		 DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends dict-freedict-eng-nor) || \
		echo "warning: could not install dict-freedict-eng-nor; cross-lingual search will use no dictionary"

test: lint browser
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest

# The quick loop while editing: lint and the tests that need no model, index, browser or process.
test-fast: lint
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -q -m "not slow and not browser and not subprocess"

eval: install
	HF_HUB_OFFLINE=1 $(BIN)/newsqa index data/articles eval/articles --index-dir build/eval-index
	HF_HUB_OFFLINE=1 $(BIN)/newsqa eval --index-dir build/eval-index --out eval-out

clean:
	rm -rf $(VENV) build index .pytest_cache .mypy_cache .ruff_cache .import_linter_cache
