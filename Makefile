# eventsim: two set-up commands, `make demo` and `make test`. Both create .venv (Python 3.10) on first use.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
CORE_VENV = .venv-core-$(CORE_VERSION)
# `make test-core`: the core alone on another Python (3.12 unless CORE_VERSION says otherwise)
CORE_VERSION ?= 3.12
find_python = $(shell for c in python$(1) $$(pyenv root 2>/dev/null)/versions/$(1)*/bin/python$(1) $$HOME/.pyenv/versions/$(1)*/bin/python$(1) /usr/local/bin/python$(1) /usr/bin/python$(1); do \
	if "$$c" -c 'import sys; assert "%d.%d" % sys.version_info[:2] == "$(1)"' >/dev/null 2>&1; then echo "$$c"; break; fi; done)
CORE_PYTHON ?= $(call find_python,$(CORE_VERSION))

# Python 3.10 is required for the lava extra (lava-nc 0.10.0 fails on 3.11). Find it on PATH or under pyenv.
PYTHON310 ?= $(call find_python,3.10)

.PHONY: demo test test-core docs bench venv clean

$(STAMP): pyproject.toml constraints.txt
	@if [ -z "$(PYTHON310)" ]; then echo "error: Python 3.10 not found (lava-nc 0.10.0 needs it); set PYTHON310=/path/to/python3.10" >&2; exit 1; fi
	@test -x $(PY) || $(PYTHON310) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e '.[all,dev]'
	@touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/eventsim demo

# the whole suite with every extra, then the documentation site (warnings are errors)
test: $(STAMP)
	$(PY) -m pytest -q
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --quiet --site-dir build/site

# the core alone (no torch, lava, nir, dask) on another Python: a plain `pip install .`
test-core:
	@if [ -z "$(CORE_PYTHON)" ]; then echo "error: Python $(CORE_VERSION) not found; set CORE_PYTHON=/path/to/python" >&2; exit 1; fi
	@test -x $(CORE_VENV)/bin/python || $(CORE_PYTHON) -m venv $(CORE_VENV)
	$(CORE_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(CORE_VENV)/bin/python -m pip install --quiet . pytest pytest-timeout hypothesis mpmath
	cd tests && ../$(CORE_VENV)/bin/python -m pytest -q -p no:cacheprovider .

docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --site-dir build/site
	@echo "docs: build/site/index.html"

bench: $(STAMP)
	@if [ -f benchmarks/peers/setup_envs.sh ]; then bash benchmarks/peers/setup_envs.sh; fi
	$(PY) benchmarks/run_all.py

clean:
	rm -rf $(VENV) .venv-core-* build *.egg-info
