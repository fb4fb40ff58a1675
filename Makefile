# Two commands on a fresh machine: `make demo` and `make test`. Everything runs from .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench install clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/ctr demo

lint: $(STAMP)
	$(BIN)/ruff check .

# Two test processes, one per core (much of a test is single-threaded tracing); a file's tests stay
# in one process, so its module fixtures are built once; the files go out in the order tests/conftest.py
# gives them, longest first, not xdist's by number of tests.
test: $(STAMP) lint
	$(BIN)/python -m pytest -q -n 2 --dist loadfile --no-loadscope-reorder

# The benchmarks need the peer (DeepCTR) too: the `bench` extra, never a runtime dependency.
bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[dev,bench]"
	$(BIN)/python bench/movielens.py
	$(BIN)/python bench/ranking.py
	$(BIN)/python bench/vs_deepctr.py
	$(BIN)/python bench/dcn.py
	$(BIN)/python bench/autoint.py
	$(BIN)/python bench/xdeepfm.py
	$(BIN)/python bench/fibinet.py
	$(BIN)/python bench/nfm.py
	$(BIN)/python bench/afm.py
	$(BIN)/python bench/widedeep.py
	$(BIN)/python bench/crosses.py
	$(BIN)/python bench/wide_only.py
	$(BIN)/python bench/mlp_floor.py
	$(BIN)/python bench/epoch_ends.py
	$(BIN)/python bench/embedding_updates.py
	$(BIN)/python bench/recommender_updates.py
	$(BIN)/python bench/training_speed.py
	$(BIN)/python bench/cold_start.py
	$(BIN)/python bench/scale.py
	$(BIN)/python bench/downsampling.py
	$(BIN)/python bench/warm_start.py
	$(BIN)/python bench/calibration.py
	$(BIN)/python bench/aggregated.py
	$(BIN)/python bench/pictures.py

clean:
	rm -rf $(VENV) runs .pytest_cache .ruff_cache
