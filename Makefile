# Everything a fresh machine needs: Python 3.10+, a C compiler (cc), and this file.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test fuzz fuzz-tf sanitize valgrind bench bench-distributed venv bytecode clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -e '.[test]'
	$(VENV)/bin/graphc info
	touch $(STAMP)

venv: $(STAMP)

## Train the TF1 tutorial MLP on the bundled MNIST and print loss and test precision.
demo: $(STAMP)
	$(PY) examples/fully_connected_feed.py

## The whole test suite (slow benchmarks excluded), with the [mpi] extra for the data-parallel tests.
test: $(STAMP)
	$(PY) -m pip install --quiet -e '.[mpi]'
	$(PY) -m pytest -q

## Differential fuzzing for FUZZ_SECONDS (default 600): random graphs compiled vs the reference interpreter.
FUZZ_SECONDS ?= 600
fuzz: $(STAMP)
	$(PY) tools/fuzz.py --seconds $(FUZZ_SECONDS)

## The same with TensorFlow as a second oracle, in a worker process (installs tensorflow-cpu into the venv).
fuzz-tf: $(STAMP)
	$(PY) -m pip install --quiet -e '.[tf-oracle]'
	$(PY) tools/fuzz.py --oracle tf --seconds $(FUZZ_SECONDS)

## The end-to-end tests with runtime_c built under AddressSanitizer + UndefinedBehaviorSanitizer.
CC ?= cc
SANITIZER_RUNTIMES = $(shell $(CC) -print-file-name=libasan.so) $(shell $(CC) -print-file-name=libubsan.so)
sanitize: $(STAMP)
	GRAPHC_SANITIZE=1 GRAPHC_CACHE_DIR=$(CURDIR)/build/sanitize-cache LD_PRELOAD="$(SANITIZER_RUNTIMES)" \
	ASAN_OPTIONS=detect_leaks=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	$(PY) -m pytest -q -p no:cacheprovider tests/e2e tests/backend/test_native_errors.py tests/backend/test_threads.py

## An MLP training loop under valgrind's memcheck, for two step counts (needs valgrind).
valgrind: $(STAMP)
	$(PY) tools/valgrind_check.py

## graphc's modules compiled to bytecode. An editable install has none, and where Python may not write
## it (PYTHONDONTWRITEBYTECODE, a read-only tree) every process compiles ~220 modules as it imports
## them (0.27 s of CPU), which installed frameworks never pay; compileall writes only what changed.
## A tree it cannot write only loses the speed-up ("-": make goes on).
bytecode: $(STAMP)
	-$(PY) -m compileall -q graphc

## graphc against NumPy, PyTorch and JAX in one run (installs torch and jax into the venv).
bench: $(STAMP) bytecode
	$(PY) -m pip install --quiet -e '.[bench,mpi]'
	$(PY) benchmarks/run.py

## Data parallel training at 1 and 2 MPI ranks, sync and async, and PyTorch DDP (installs [mpi] and [bench]).
bench-distributed: $(STAMP)
	$(PY) -m pip install --quiet -e '.[mpi,bench]'
	$(PY) benchmarks/distributed.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
