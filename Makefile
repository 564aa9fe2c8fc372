# Two commands a user needs: `make run` (set up, then the whole workflow on the defaults) and
# `make test` (set up, then the test suite). Both create .venv on first use.
VENV ?= .venv
PYTHON ?= python3
BIN = $(VENV)/bin

.PHONY: setup run test lint bench clean

setup: $(VENV)/.installed

$(VENV)/.installed: requirements.txt requirements-test.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-test.txt -e .
	touch $@

run: setup
	$(BIN)/snakemake --cores all

test: lint
	$(BIN)/python -m pytest

# The benchmark suite (about three and a half hours on 2 cores); it refreshes the tables in bench/RESULTS.md.
bench: setup
	$(BIN)/snakemake --cores all prepare_model
	$(BIN)/python bench/run.py

# Snakemake's own lint, snakefmt, ruff's formatter and linter (their settings are in pyproject.toml)
lint: setup
	$(BIN)/snakemake --lint
	$(BIN)/snakefmt --check Snakefile rules/
	$(BIN)/ruff format --check src scripts tests bench
	$(BIN)/ruff check src scripts tests bench

clean:
	rm -rf results .snakemake
