# Two entry points, both self-contained on a fresh machine with Python 3.11+ and pip:
#   make run    serve the embedded UC lab and open JupyterLab on notebooks/00-start-here.ipynb
#   make test   the whole test suite (installs Debian's chromium for the browser test when run as root)
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.ucexplore-installed

.PHONY: run test report bench clean

run: $(STAMP)
	$(BIN)/ucexplore lab --jupyter

report: $(STAMP)
	$(BIN)/ucexplore report --lab directory --out report.html

test: $(STAMP)
	scripts/ensure-chromium
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python benchmarks/run_all.py

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

clean:
	rm -rf $(VENV) build dist *.egg-info
