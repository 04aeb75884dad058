# wangge: the two commands of the README are `make demo` and `make test`.
# Both set up everything on a fresh Debian machine first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test lint bench setup system clean-db

demo: setup
	$(BIN)/wangge demo

test: setup lint
	scripts/ensure_system_packages.sh chromium
	$(BIN)/pytest

lint: setup
	$(BIN)/ruff check .
	$(BIN)/mypy

bench: setup
	scripts/ensure_system_packages.sh wrk
	$(BIN)/python bench/run_all.py

setup: system $(VENV)/.installed

system:
	scripts/ensure_system_packages.sh postgis mosquitto

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

# stop and delete the embedded cluster (the demo city is rebuilt next time)
clean-db: setup
	$(BIN)/wangge db delete
