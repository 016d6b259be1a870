# Two commands on a fresh machine: `make demo` runs the platform, `make test` runs every test.
# Both set themselves up: system packages (when root), a venv, the local stack's downloads.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

# Debian packages the tests and the stack use: Maven and a JDK for Kafka and the
# registry, Go and Rust are expected on the machine for the influxd build;
# kcat, docker-compose, chromium and chromium-driver are used by tests; openssl and nginx
# by the secured stack (f1-stack up --secure: its certificates and its registry's TLS proxy).
APT_PACKAGES := maven kcat docker-compose chromium chromium-driver openssl nginx

.PHONY: help setup system-deps venv stack stack-down lint unit integration test demo bench clean

help:
	@echo "make demo   set up, start the local stack and run the platform"
	@echo "make test   set up, lint, then every unit and integration test"
	@echo "make bench  run the benchmarks and print their figures"
	@echo "make stack / stack-down   start or stop the local stack only"

setup: system-deps venv

system-deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing Debian packages:$$missing"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing) >/dev/null \
	      || { echo "apt-get install$$missing failed"; exit 1; }; \
	  else echo "please install these Debian packages:$$missing"; exit 1; fi; \
	fi

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	@rm -f $(VENV)/.installed-*; touch $@

venv: $(STAMP)

stack: setup
	$(BIN)/f1-stack up

stack-down:
	$(BIN)/f1-stack down

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

unit: venv
	$(BIN)/pytest -q tests

integration: setup
	$(BIN)/pytest -q integration_tests

test: setup lint
	$(BIN)/f1-schemas check
	$(BIN)/pytest -q tests integration_tests

# Flags for the demo, e.g. make demo DEMO_ARGS="--cars 5 --rate 2".
DEMO_ARGS ?=

demo: setup
	$(BIN)/f1-stack demo $(DEMO_ARGS)

# Every benchmark, then one table of the headline figures (about 15 minutes).
bench: stack
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) .state .pytest_cache .ruff_cache
