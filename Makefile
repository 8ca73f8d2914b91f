# Two entry points on a fresh machine: `make run` (install + start the app with its worker)
# and `make test` (install + run the whole suite). Everything else is a helper of those two.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 8501
# This machine only by default; `make run HOST=0.0.0.0` serves others (see the README).
HOST ?= 127.0.0.1

.PHONY: run test lint install install-dev clean gpu-prepare gpu-check

run: $(VENV)/.installed
	$(BIN)/lrlab app --host $(HOST) --port $(PORT)

test: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

$(VENV)/.installed: requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --disable-pip-version-check -q -r requirements.txt
	$(BIN)/python -m pip install --disable-pip-version-check -q --no-deps -e .
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed requirements-dev.txt requirements-ray.txt
	$(BIN)/python -m pip install --disable-pip-version-check -q -r requirements-dev.txt
	touch $@

# The GPU check (benchmarks/gpu_check.py): prepare here, then run it where a GPU is, with
# .gpu-carry carried along; `gpu-check DRY=1` rehearses every step on the CPU.
gpu-prepare: $(VENV)/.installed-dev
	$(BIN)/python benchmarks/gpu_check.py prepare

gpu-check:
	python3 benchmarks/gpu_check.py run $(if $(DRY),--dry-run)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info
