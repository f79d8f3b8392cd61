# The two Quickstart commands: `make demo` and `make test`. Both set up first.
VENV ?= .venv
export VENV

.PHONY: setup demo test

setup:
	@scripts/setup.sh

demo: setup
	$(VENV)/bin/panelmap demo

test: setup
	$(VENV)/bin/python -m pytest
