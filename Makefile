# Hark: the commands a new user needs. `make run` and `make test` set everything up themselves.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
HOST ?= 127.0.0.1
PORT ?= 8000
DEMO_PROFILES ?= 2000

.PHONY: help install run test test-fast browser lint format check worker beat seed benchmarks clean client

help:
	@echo "make run        dashboard with demo data on http://$(HOST):$(PORT) (embedded PostgreSQL unless DATABASE_URL is set)"
	@echo "make test       the whole test suite against real PostgreSQL"
	@echo "make test-fast  the suite without the slow tests (browser, real processes, property tests)"
	@echo "make lint       ruff check, format check and mypy"
	@echo "make seed       refill the demo environment with 100,000 users and 1,000,000 events"
	@echo "make worker     a Celery worker (needs REDIS_URL)"
	@echo "make beat       the Celery beat scheduler (needs REDIS_URL)"
	@echo "make benchmarks the performance runs in benchmarks/ (long)"
	@echo "make client     rebuild static/hark/client/v1/hark.js from static/hark/client/src/hark.js"

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/python manage.py rundemo --host $(HOST) --port $(PORT) --profiles $(DEMO_PROFILES)

browser: install
	$(BIN)/python scripts/ensure_browser.py

# The tests run without Redis in their settings (tasks inline, page views written in the
# request); the ones that need Redis name their own database on 127.0.0.1:6379. A REDIS_URL
# exported for `make worker` would otherwise change what the others test.
TEST_ENV = env -u REDIS_URL

test: install browser
	$(TEST_ENV) $(BIN)/python -m pytest $(PYTEST_ARGS)

# The inner loop: no browser, no Celery worker or gunicorn process, no hypothesis or
# schemathesis runs (the `slow` marker, set in conftest.py). `make test` still runs everything.
test-fast: install
	$(TEST_ENV) $(BIN)/python -m pytest -m "not slow" $(PYTEST_ARGS)

# mypy's django-stubs plugin loads the settings: a DATABASE_URL (never connected to) keeps them
# from starting the embedded PostgreSQL, and DEBUG from asking for a SECRET_KEY.
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	DATABASE_URL=postgres://localhost/hark DEBUG=true $(BIN)/mypy

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

check: install
	$(BIN)/python manage.py check
	$(BIN)/python manage.py makemigrations --check --dry-run

worker: install
	$(BIN)/celery -A config worker --loglevel=INFO

beat: install
	$(BIN)/celery -A config beat --loglevel=INFO

seed: install
	$(BIN)/python manage.py seed_demo --profiles 100000 --events 1000000 -v 2

benchmarks: install
	$(BIN)/python benchmarks/ingest.py
	$(BIN)/python benchmarks/pages.py
	$(BIN)/python benchmarks/segments.py
	$(BIN)/python benchmarks/alerts.py

client:
	$(PYTHON) scripts/build_client.py

clean:
	rm -rf $(VENV) .data/staticfiles
