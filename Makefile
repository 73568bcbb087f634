# Two commands on a fresh machine: `make run` and `make test`. Both build .venv from the lock.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test bench lint typecheck lock clean

$(STAMP): requirements.lock pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	@touch $(STAMP)

# The API on 127.0.0.1:8080 with the paper session trading inside it (`neural-trader run` is
# the same session without the API).
run: $(STAMP)
	$(BIN)/neural-trader serve $(ARGS)

test: $(STAMP)
	$(BIN)/python -m pytest -q $(ARGS)

bench: $(STAMP)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-bench.txt
	$(BIN)/python benchmarks/run.py --out benchmarks/results.json $(ARGS)

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy

# Re-pin the lock from pyproject's ranges (run after changing dependencies).
lock:
	rm -rf /tmp/nt-lock-venv && $(PYTHON) -m venv /tmp/nt-lock-venv
	/tmp/nt-lock-venv/bin/pip install --quiet -e '.[dev]'
	/tmp/nt-lock-venv/bin/pip freeze --exclude-editable | grep -v '^neural-trader' > requirements.lock

clean:
	rm -rf $(VENV) results .pytest_cache
