# Two commands a user needs: `make run` (set up, then the whole workflow on the defaults) and
# `make test` (set up, lint, then every test). Both create .venv on first use. `make test-quick`
# leaves out the tests marked slow (the real default model) and slurm (a Slurm started on this machine).
VENV ?= .venv
PYTHON ?= python3
BIN = $(VENV)/bin

.PHONY: setup run test test-quick lint bench clean

setup: $(VENV)/.installed

$(VENV)/.installed: requirements.txt requirements-test.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-test.txt -e .
	touch $@

run: setup
	$(BIN)/snakemake --cores all

# Tests run in parallel workers (pytest-xdist): most of their time is Snakemake and its jobs starting
# up, which leaves a core idle; the workflow runs they share are built once (tests/conftest.py). With
# worksteal, a worker that runs out of tests takes queued ones from the others.
PYTEST = $(BIN)/python -m pytest -n 4 --dist worksteal

test: lint
	$(PYTEST)

test-quick: setup
	$(PYTEST) -m "not slow and not slurm"

# The benchmark suite (about three and a half hours on 2 cores); it refreshes the tables in bench/RESULTS.md.
bench: setup
	$(BIN)/snakemake --cores all prepare_model
	$(BIN)/python bench/run.py

# Snakemake's own lint, snakefmt, ruff's formatter and linter, mypy (their settings are in pyproject.toml)
lint: setup
	$(BIN)/snakemake --lint
	$(BIN)/snakefmt --check Snakefile rules/
	$(BIN)/ruff format --check src scripts tests bench
	$(BIN)/ruff check src scripts tests bench
	$(BIN)/mypy

clean:
	rm -rf results .snakemake
