# `make run` and `make test` do all the set-up on a fresh machine.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# Pins torch/torchvision to the builds this project is tested with (and, on our machines, to
# the wheels already on disk): a plain `pip install torch` would fetch the newest CUDA build.
export PIP_CONSTRAINT := $(CURDIR)/constraints.txt
PIP := $(PY) -m pip install --quiet --disable-pip-version-check
# onnxruntime build: cpu, or gpu (onnxruntime-gpu; never both in one environment).
ORT ?= cpu

.PHONY: run test bench gui venv clean

# One stamp per set of extras, so `make test` after `make run` installs only what is missing.
$(VENV)/.stamp-base:
	$(PYTHON) -m venv $(VENV)
	touch $@

$(VENV)/.stamp-train: pyproject.toml constraints.txt | $(VENV)/.stamp-base
	$(PIP) -e '.[$(ORT),train]'
	touch $@

$(VENV)/.stamp-test: pyproject.toml constraints.txt | $(VENV)/.stamp-base
	$(PIP) -e '.[$(ORT),train,label-issues,gui,serve,ray,test]'
	touch $@ $(VENV)/.stamp-train

venv: $(VENV)/.stamp-test

# Trains both variants with the seed's recipe and exports into models/. --download only
# takes effect when no local copy of Fashion-MNIST is found (see README: Data).
run: $(VENV)/.stamp-train
	$(VENV)/bin/train-and-export --download $(ARGS)

# The desktop labeler on the exported model and the test set (make run first).
gui: $(VENV)/.stamp-test
	$(VENV)/bin/fashion-labeler $(ARGS)

test: $(VENV)/.stamp-test
	$(PY) -m pytest $(PYTEST_ARGS)

bench: $(VENV)/.stamp-test
	$(PY) benchmarks/train_speed.py

clean:
	rm -rf $(VENV) models/fashion_mnist .pytest_cache
