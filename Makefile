# eventsim: two set-up commands, `make demo` and `make test`. Both create .venv (Python 3.10) on first use.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

# Python 3.10 is required (lava-nc 0.10.0 fails on 3.11). Find it on PATH or under pyenv.
PYTHON310 ?= $(shell for c in python3.10 $$(pyenv root 2>/dev/null)/versions/3.10*/bin/python3.10 $$HOME/.pyenv/versions/3.10*/bin/python3.10 /usr/local/bin/python3.10 /usr/bin/python3.10; do \
	if "$$c" -c 'import sys; assert sys.version_info[:2] == (3, 10)' >/dev/null 2>&1; then echo "$$c"; break; fi; done)

.PHONY: demo test bench venv clean

$(STAMP): pyproject.toml
	@if [ -z "$(PYTHON310)" ]; then echo "error: Python 3.10 not found (lava-nc 0.10.0 needs it); set PYTHON310=/path/to/python3.10" >&2; exit 1; fi
	@test -x $(PY) || $(PYTHON310) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e .
	@touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/eventsim demo

test: $(STAMP)
	$(PY) -m pytest -q

bench: $(STAMP)
	@if [ -f benchmarks/peers/setup_envs.sh ]; then bash benchmarks/peers/setup_envs.sh; fi
	$(PY) benchmarks/run_all.py

clean:
	rm -rf $(VENV) build *.egg-info
