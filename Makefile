# `make run`, `make test` and `make bench` do all the set-up on a fresh machine.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# Pins torch/torchvision to the builds this project is tested with (and, on our machines, to
# the wheels already on disk): a plain `pip install torch` would fetch the newest CUDA build.
export PIP_CONSTRAINT := $(CURDIR)/constraints.txt
PIP := $(PY) -m pip install --quiet --disable-pip-version-check
# onnxruntime build: cpu, or gpu (onnxruntime-gpu; never both in one environment).
ORT ?= cpu
# What train-and-export leaves in models/ (a Triton repository): the benchmarks score with it.
MODEL := models/fashion_mnist/config.pbtxt

.PHONY: run test test-fast lint bench gui venv clean

# One stamp per set of extras, so `make test` after `make run` installs only what is missing.
$(VENV)/.stamp-base:
	$(PYTHON) -m venv $(VENV)
	touch $@

$(VENV)/.stamp-train: pyproject.toml constraints.txt | $(VENV)/.stamp-base
	$(PIP) -e '.[$(ORT),train]'
	touch $@

# The labeler needs the torch-free core and Qt only (it never imports torch or cleanlab), so
# `make gui` on a fresh machine does not fetch torch, Ray or the test tools.
$(VENV)/.stamp-gui: pyproject.toml constraints.txt | $(VENV)/.stamp-base
	$(PIP) -e '.[$(ORT),gui]'
	touch $@

$(VENV)/.stamp-test: pyproject.toml constraints.txt | $(VENV)/.stamp-base
	$(PIP) -e '.[$(ORT),train,label-issues,gui,serve,ray,test]'
	touch $@ $(VENV)/.stamp-train $(VENV)/.stamp-gui

venv: $(VENV)/.stamp-test

# Trains both variants with the seed's recipe and exports into models/. --download only
# takes effect when no local copy of Fashion-MNIST is found (see docs/training.md, Data).
run: $(VENV)/.stamp-train
	$(VENV)/bin/train-and-export --download $(ARGS)

$(MODEL): | $(VENV)/.stamp-test
	$(VENV)/bin/train-and-export --download

# The desktop labeler on the exported model and the test set (make run first).
gui: $(VENV)/.stamp-gui
	$(VENV)/bin/fashion-labeler $(ARGS)

# Lint, format and types first: they take seconds and name the line, where a suite run takes
# minutes to reach the same mistake (the config of all three is in pyproject.toml).
lint: $(VENV)/.stamp-test
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy

# pytest-xdist workers: 2 fits the 2-core machines CI runs on (4 took 253 s there against 175 s
# for 2, both spread test by test). --dist loadfile keeps a module's tests on one worker, so a module fixture (a local Ray,
# a cross-validated repository) is built once, not once per worker; tests/conftest.py hands the modules
# out longest first. JOBS=0 runs serially.
JOBS ?= 2
XDIST := $(if $(filter 0,$(JOBS)),,-n $(JOBS) --dist loadfile)
# The suite starts about a hundred Python processes (workers, servers, command runs, Ray's); with
# PYTHONDONTWRITEBYTECODE set (some CI images set it) each one compiled the project's modules anew.
# Caching them (in __pycache__/, ignored by git) took a collection from 11.5 s to 9 s of CPU.
PYTEST := env -u PYTHONDONTWRITEBYTECODE $(PY) -m pytest

# What CI runs (.ci/run): the lint, then the whole suite.
test: lint
	$(PYTEST) $(XDIST) $(PYTEST_ARGS)

# While working: the suite without the tests that need seconds each (the `slow` marker: training on
# the real data, Ray, real servers under load), with a fifth of the property-test examples
# (testkit/examples.py), and without the lint.
test-fast: $(VENV)/.stamp-test
	HYPOTHESIS_PROFILE=quick $(PYTEST) $(XDIST) -m "not slow" $(PYTEST_ARGS)

# Every script in benchmarks/ with settings that finish on a 2-core machine, one line each at
# the end: ran, skipped (a GPU or a Triton this machine lacks) or failed. BENCH_ARGS, e.g.
# `--only train_speed.py`, is passed to benchmarks/run_all.py.
bench: $(VENV)/.stamp-test $(MODEL)
	$(PY) benchmarks/run_all.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) models/fashion_mnist .pytest_cache
