# trailcheck — the README's commands. `make demo` and `make test` install first when needed.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
OUT    ?= demo-report

.PHONY: install demo test lint bench clean test-deps

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/trailcheck demo --output-dir $(OUT)

test: $(STAMP) test-deps
	$(BIN)/python -m pytest -q -n 2 --dist loadfile

# Debian packages the history/audit tests use: a real PostgreSQL server, headless chromium
# (browser tests, --pdf) and pdftotext. Quick when already installed; the tests skip with a
# reason where they cannot be installed (never under CI=true: there they fail).
TEST_DEBS := postgresql chromium poppler-utils
test-deps:
	@if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && command -v chromium >/dev/null \
		&& command -v pdftotext >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ]; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
			--no-install-recommends $(TEST_DEBS) >/dev/null \
		|| echo "test-deps: could not install $(TEST_DEBS)"; \
	else echo "test-deps: not root; install $(TEST_DEBS) to run the PostgreSQL/browser tests"; fi

lint: $(STAMP)
	$(BIN)/ruff check trailcheck tests bench
	$(BIN)/ruff format --check trailcheck tests bench

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .ruff_cache
