# influxhtm — the two commands of the README:
#   make demo   the main job: the whole TICK stack on the embedded defaults (installs/builds what is missing)
#   make test   every test: Rust engine (golden parity) + Python suites against real InfluxDB and Kapacitor
# Also: make test-fast (no servers, nothing slow), make lint (ruff, mypy, rustfmt, clippy), make bench,
# make wheel (a profile-guided wheel in dist/).
# Slow builds are cached outside the repo: cargo targets in ~/.cache/influxhtm/cargo-target*, the engine's
# PGO profile in ~/.cache/influxhtm/pgo, kapacitord in ~/.cache/influxhtm/kapacitor, pip wheels in pip's cache.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export CARGO_TARGET_DIR ?= $(HOME)/.cache/influxhtm/cargo-target

SOURCES := pyproject.toml engine/Cargo.toml scripts/install-engine scripts/pgo-workload.py $(shell find engine/src -name '*.rs')

.PHONY: all install wheel demo test test-rust test-python test-fast lint bench stack clean

all: install

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# Editable install: Python sources are used in place, the Rust extension is (re)built by maturin, with
# profile-guided optimisation (scripts/install-engine).
$(VENV)/.installed: $(BIN)/python $(SOURCES)
	scripts/install-engine $(VENV) test
	touch $@

install: $(VENV)/.installed

# A wheel for other machines in dist/, its engine built as `make install` builds it (profile-guided).
wheel: install
	scripts/install-engine $(VENV) --wheel dist

stack: install
	scripts/install-influxdb
	scripts/build-kapacitor
	scripts/install-chromium

demo: stack
	$(BIN)/python scripts/demo.py $(DEMO_ARGS)

test-rust:
	cd engine && cargo test --release

test-python: stack
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test: test-rust test-python

# Unit, property and parity tests only: no InfluxDB/Kapacitor servers, no wheel build (a minute or two).
test-fast: install
	cd engine && cargo test --release
	$(BIN)/python -m pytest -m "not stack and not slow" $(PYTEST_ARGS)

$(VENV)/.lint-tools: $(BIN)/python pyproject.toml
	$(BIN)/pip install -q 'ruff>=0.6' 'mypy>=1.10' types-protobuf types-requests
	touch $@

lint: install $(VENV)/.lint-tools
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	cd engine && cargo fmt --check
	cd engine && cargo clippy --release --features python --all-targets -- -D warnings

bench: stack
	for b in bench/bench_*.py; do m=$$(basename $$b .py); echo "== $$m"; $(BIN)/python -m bench.$$m || exit 1; done

clean:
	rm -rf $(VENV) influxhtm/_engine*.so
