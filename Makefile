# MaaS Workbench — `make demo` runs the main job, `make test` the whole test suite.
# Both set up .venv first (only Python >= 3.10 and make are needed on the machine);
# `make test` also installs Debian's chromium for the real-browser test of the dashboard and
# Debian's postgresql for the tests of the PostgreSQL store, which start a throwaway server of
# their own (with apt-get, as root or through sudo). No browser is ever downloaded by Playwright.
# Python packages are installed with constraints.txt (the versions the suite passed with);
# `make constraints` regenerates it from a working .venv.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

CHROMIUM := /usr/bin/chromium
WRK      := /usr/bin/wrk
# initdb of any PostgreSQL major version Debian ships (the tests find the newest one)
POSTGRES := $(firstword $(wildcard /usr/lib/postgresql/*/bin/initdb) /usr/lib/postgresql/bin/initdb)
SUDO     := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

CONSTRAINTS := constraints.txt

.PHONY: setup browser wrk postgres demo test unit notebooks docs lab bench clean constraints

setup: $(STAMP)

browser: $(CHROMIUM)

wrk: $(WRK)

$(WRK):
	$(SUDO) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq wrk

$(CHROMIUM):
	$(SUDO) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium

postgres: $(POSTGRES)

$(POSTGRES):
	$(SUDO) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq postgresql

$(STAMP): pyproject.toml $(CONSTRAINTS)
	@$(PYTHON) -c "import ensurepip, venv" 2>/dev/null || { echo "$(PYTHON) cannot create a virtualenv: install python3-venv (Debian/Ubuntu: apt-get install python3-venv)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c $(CONSTRAINTS) -e '.[test]'
	touch $(STAMP)

demo: setup
	$(BIN)/workbench demo

test: setup browser postgres
	$(BIN)/python -m pytest tests notebooks --nbval-lax --nbval-current-env --nbval-cell-timeout=120

unit: setup postgres
	$(BIN)/python -m pytest tests

notebooks: setup
	$(BIN)/python -m pytest notebooks --nbval-lax --nbval-current-env --nbval-cell-timeout=120

# JupyterLab on the walkthroughs (as root, Jupyter insists on --allow-root).
lab: setup
	$(BIN)/jupyter lab notebooks $(if $(SUDO),,--allow-root)

# The documentation site: README pages, every walkthrough executed with its plots, the API
# reference from the docstrings; links checked. Opens from build/site/index.html.
docs: setup
	$(BIN)/python docs/site.py --out build/site

bench: setup browser wrk postgres
	$(BIN)/python benchmarks/training.py
	$(BIN)/python benchmarks/registry.py
	$(BIN)/python benchmarks/serving.py --suite all
	$(BIN)/python benchmarks/monitoring.py
	$(BIN)/python benchmarks/models.py

constraints: setup
	{ sed -n '/^#/p' $(CONSTRAINTS); $(BIN)/python -m pip freeze --exclude-editable; } > $(CONSTRAINTS).new
	mv $(CONSTRAINTS).new $(CONSTRAINTS)

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
