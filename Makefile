# Two commands do all the set-up (see README): `make lab` for learners, `make test` for everything CI runs.
PYTHON ?= python3
VENV ?= .venv
BIN ?= $(VENV)/bin
STAMP := $(VENV)/.installed
# Notebook runs in tests are small (smoke) and single-threaded per worker: xdist gives the parallelism.
TEST_ENV := OMP_NUM_THREADS=1 EXOWAVENET_SMOKE=1

.PHONY: help install lab test check exercises html bench pretrained clean

help:
	@echo "make lab        set up .venv (first time) and open the exercises in JupyterLab"
	@echo "make test       set up .venv (first time) and run lint, the exercise check and the whole test suite"
	@echo "make check      the same tests without the set-up step (e.g. conda: make check BIN=\$$CONDA_PREFIX/bin)"
	@echo "make exercises  regenerate exercises/ (and links, README map) from solutions/"
	@echo "make html       run every solution notebook and render it as HTML -> build/index.html"
	@echo "make bench      time every solution notebook (smoke configuration) -> benchmarks/results/"
	@echo "make pretrained retrain the shipped transit detector (~35 min, 2 CPU cores) -> exowavenet_lib/pretrained/"
	@echo "make clean      remove build outputs (keeps .venv)"

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 10))' || \
	  { echo "Python >= 3.10 is required; try: make $(MAKECMDGOALS) PYTHON=python3.11"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

lab: $(STAMP)
	$(BIN)/jupyter lab exercises/

test: $(STAMP)
	@$(MAKE) --no-print-directory check

check:
	$(BIN)/ruff check exowavenet_lib tests solutions conftest.py
	$(BIN)/exowavenet build-exercises --check
	$(TEST_ENV) $(BIN)/python -m pytest -n auto --dist loadgroup --nbval-lax --nbval-current-env \
	  --durations=10 tests solutions

exercises: $(STAMP)
	$(BIN)/exowavenet build-exercises

html: $(STAMP)
	$(BIN)/exowavenet run --all

bench: $(STAMP)
	OMP_NUM_THREADS=2 $(BIN)/exowavenet bench notebooks --smoke

pretrained: $(STAMP)
	OMP_NUM_THREADS=2 $(BIN)/python scripts/train_pretrained.py

clean:
	rm -rf build .pytest_cache .hypothesis
