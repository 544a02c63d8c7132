# influxhtm — the two commands of the README:
#   make demo   the main job: the whole TICK stack on the embedded defaults (installs/builds what is missing)
#   make test   every test: Rust engine (golden parity) + Python suites against real InfluxDB and Kapacitor
# Slow builds are cached outside the repo: cargo target in ~/.cache/influxhtm/cargo-target, kapacitord in
# ~/.cache/influxhtm/kapacitor, pip wheels in pip's cache.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export CARGO_TARGET_DIR ?= $(HOME)/.cache/influxhtm/cargo-target

SOURCES := pyproject.toml engine/Cargo.toml $(shell find engine/src -name '*.rs')

.PHONY: all install demo test test-rust test-python bench stack clean

all: install

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# Editable install: Python sources are used in place, the Rust extension is (re)built by maturin.
$(VENV)/.installed: $(BIN)/python $(SOURCES)
	$(BIN)/pip install -q -e '.[test]'
	touch $@

install: $(VENV)/.installed

stack: install
	scripts/install-influxdb
	scripts/build-kapacitor

demo: stack
	$(BIN)/python scripts/demo.py $(DEMO_ARGS)

test-rust:
	cd engine && cargo test --release

test-python: stack
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test: test-rust test-python

bench: stack
	for b in bench/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) influxhtm/_engine*.so
