# FarCare: `make run` serves the demo network on SQLite; `make test` runs the whole suite.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 8000
export DJANGO_SETTINGS_MODULE ?= farcare.settings.dev

.PHONY: bench-analytics bench-monitoring install run serve test check lint typecheck pytest messages bench bench-first-visit bench-calls bench-link bench-fhir-peer bench-load bench-data-volume bench-tools clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "FarCare needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@

install: $(VENV)/.installed

# The benches' own tools: locust and psutil (the `bench` extra); wrk (Debian) drives the FHIR
# bench's clients, Node 20 with npm runs the peer FHIR server.
$(VENV)/.installed-bench: pyproject.toml | $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	@touch $@

bench-tools: $(VENV)/.installed-bench
	@command -v wrk >/dev/null || { echo "bench: wrk is missing (apt-get install wrk)"; exit 1; }
	@command -v node >/dev/null || { echo "bench: Node.js 20 with npm is missing"; exit 1; }

# Connections kept open 75 s between requests (uvicorn's default is 5): behind a satellite link
# a new connection costs a round trip of ~600 ms before the first byte of every page.
run: install
	$(BIN)/farcare migrate --noinput
	$(BIN)/farcare load-demo
	$(BIN)/farcare collectstatic --noinput --verbosity 0
	@echo "FarCare is at http://$(HOST):$(PORT)/"
	$(BIN)/uvicorn farcare.asgi:application --host $(HOST) --port $(PORT) --timeout-keep-alive 75

serve: install
	$(BIN)/uvicorn farcare.asgi:application --host $(HOST) --port $(PORT) --timeout-keep-alive 75

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: install
	$(BIN)/mypy farcare

pytest: install
	DJANGO_SETTINGS_MODULE=farcare.settings.test $(BIN)/pytest $(PYTEST_ARGS)

# Parallel test workers (pytest-xdist). More than the two cores of a small machine: many tests
# wait on sockets, hub processes and the simulated satellite link rather than on the CPU.
TEST_WORKERS ?= 4

# The checks that do not depend on the database: lint (with the dependency contracts), types,
# migrations in step with the models.
check: lint typecheck
	DJANGO_SETTINGS_MODULE=farcare.settings.test $(BIN)/farcare makemigrations --check --dry-run

# The whole suite: the checks, then every test in parallel (browser tests included when
# Chromium is installed). `make test CHECKS=no` runs only the tests (CI's second database).
test: install $(if $(filter no,$(CHECKS)),,check)
	DJANGO_SETTINGS_MODULE=farcare.settings.test $(BIN)/pytest -n $(TEST_WORKERS) --dist worksteal $(PYTEST_ARGS)

# Re-extract the catalogues after changing user-visible text (needs GNU gettext), then
# translate the new entries in farcare/locale/*/LC_MESSAGES/django.po and compile.
messages: install
	cd farcare && ../$(BIN)/farcare makemessages -l ru -l ko -l en --no-obsolete --ignore 'demo/*'
	$(BIN)/python -m farcare.core.compilemessages

bench: bench-tools
	DJANGO_SETTINGS_MODULE=farcare.settings.test $(BIN)/python bench/fhir_peer.py
	DJANGO_SETTINGS_MODULE=farcare.settings.test $(BIN)/python bench/load_test.py
	DJANGO_SETTINGS_MODULE=farcare.settings.test $(BIN)/python bench/data_volume.py --postgres
	DJANGO_SETTINGS_MODULE=farcare.settings.test $(BIN)/python bench/page_weight.py
	DJANGO_SETTINGS_MODULE=farcare.settings.test $(BIN)/python bench/consult_worklists.py
	DJANGO_SETTINGS_MODULE=farcare.settings.test $(BIN)/python bench/fhir_throughput.py
	DJANGO_SETTINGS_MODULE=farcare.settings.test $(BIN)/python bench/imaging_viewer.py
	DJANGO_SETTINGS_MODULE=farcare.settings.test $(BIN)/python bench/hl7_ingest.py
	DJANGO_SETTINGS_MODULE=farcare.settings.test $(BIN)/python bench/diagnostics_alerts.py

# The login page, logging in, the patient search and the request form in Chromium over a
# simulated 64 kbit/s, 600 ms link, first and repeat visits (about 2 minutes).
bench-first-visit: install
	DJANGO_SETTINGS_MODULE=farcare.settings.test $(BIN)/python bench/first_visit.py

# Calls of two in Chromium through coturn: bitrates per mode, also through a simulated
# 64 kbit/s, 600 ms link, time to connect and to reconnect (about 4 minutes; needs coturn).
bench-calls: install
	DJANGO_SETTINGS_MODULE=farcare.settings.test $(BIN)/python bench/calls.py

# Remote monitoring at 100,000 enrolled people (about 7 minutes on SQLite; with
# FARCARE_DATABASE_URL=postgres://… on PostgreSQL, about 15).
bench-monitoring: install
	DJANGO_SETTINGS_MODULE=farcare.settings.test $(BIN)/python bench/monitoring.py

# The ministries' indicators at 1,000,000 consultations: the nightly computation, incremental
# runs and the pages (about 20 minutes on SQLite).
bench-analytics: install
	DJANGO_SETTINGS_MODULE=farcare.settings.test $(BIN)/python bench/analytics.py

# The emergency package over a simulated satellite link (about 25 minutes).
bench-link: install
	DJANGO_SETTINGS_MODULE=farcare.settings.test $(BIN)/python bench/weak_link.py

# FarCare in production mode (gunicorn, 2 workers, PostgreSQL) against a peer FHIR server
# (Medplum's router on Node, in memory), 8 clients, 10,000 patients; SQLite beside it.
bench-fhir-peer: bench-tools
	DJANGO_SETTINGS_MODULE=farcare.settings.test $(BIN)/python bench/fhir_peer.py

# The clinical mix (pages, live worklists, FHIR clients, 500 stations) at rising users (locust).
bench-load: bench-tools
	DJANGO_SETTINGS_MODULE=farcare.settings.test $(BIN)/python bench/load_test.py

# Bytes per row and per event on PostgreSQL, the figures behind docs/scale.md.
bench-data-volume: bench-tools
	DJANGO_SETTINGS_MODULE=farcare.settings.test $(BIN)/python bench/data_volume.py --postgres

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache .pytest_cache
