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
# On a CPU the demo uses a light preset at 320 px so that it ends in minutes.
DEMO_FLAGS ?= $(if $(filter 1,$(GPU)),,--preset subtle --width 320)

.PHONY: install test demo bench lint clean

install: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "dreamstream needs Python 3.11 or newer; set PYTHON=python3.11")'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[$(EXTRAS)]"
	@rm -f $(VENV)/.installed-*
	@touch $@

test: install
	$(PY) -m pytest -q
	KERAS_BACKEND=jax $(PY) -m pytest -q -m backends

demo: install
	$(VENV)/bin/dreamstream dream samples/clip.mp4 -o $(DEMO_OUT) --overwrite $(DEMO_FLAGS)
	@echo "demo written to $(DEMO_OUT)"

bench: install
	$(PY) -m pip install --quiet -e ".[$(EXTRAS),bench]"
	$(VENV)/bin/dreamstream bench --all --out bench-results

lint: install
	$(VENV)/bin/ruff check core stream tests samples docs
	$(VENV)/bin/ruff format --check core stream tests samples docs

clean:
	rm -rf $(VENV) build *.egg-info out .pytest_cache
