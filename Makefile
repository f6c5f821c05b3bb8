# The README's commands. Everything a fresh machine with Python 3.11 needs is installed here.
VENV      := .venv
PY        := $(VENV)/bin/python
STAMP     := $(VENV)/.install-stamp
MANIFEST  := dbt_project/target/manifest.json
DBT_FILES := $(shell find dbt_project -path dbt_project/target -prune -o -type f \( -name '*.sql' -o -name '*.yml' \) -print)

# dagster-dbt runs the `dbt` executable: the venv's bin/ comes first on PATH for every target.
export PATH := $(abspath $(VENV))/bin:$(PATH)
# Runs launched by `make run` and the UI of `make ui` share one Dagster instance under the data folder.
# pipelines/cli/run.py always records in Settings.dagster_home (<ANALYTICS_DATA_DIR>/dagster_home), so this
# computes the same path from the same variable, and `:=` overrides a DAGSTER_HOME of the user's own:
# otherwise `make ui` would open another instance than the one `make run` recorded its runs in.
export DAGSTER_HOME := $(abspath $(or $(ANALYTICS_DATA_DIR),data))/dagster_home
# A backfill launched as one run, from the UI too, plans one event per asset, not one per asset and day, and
# hands its materializations to the event log in batches (pipelines/cli/instance.py sets the same for make run).
export DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS ?= true
export DAGSTER_EVENT_BATCH_SIZE ?= 1000

# System packages of the tests: Debian's headless Chromium (tests/test_dashboard.py drives it through
# Playwright, never `playwright install`), PostgreSQL's server binaries (tests/test_sql_source.py
# starts a server of its own with initdb + pg_ctl) and Java 17 for the local Spark of `make spark-parity`.
CHROMIUM := /usr/bin/chromium
INITDB   := $(firstword $(wildcard /usr/lib/postgresql/*/bin/initdb))
JAVA     := $(or $(shell command -v java),$(wildcard $(JAVA_HOME)/bin/java))
MISSING_PACKAGES := $(if $(wildcard $(CHROMIUM)),,chromium chromium-driver) $(if $(INITDB),,postgresql) \
	$(if $(JAVA),,openjdk-17-jre-headless)
SPARK_STAMP := $(VENV)/.spark-install-stamp

.PHONY: help run test test-unit spark-parity ui serve install lint docs clean bench bench-smoke system-packages

help:  ## this list: every target with what it does
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{ printf "  make %-16s %s\n", $$1, $$2 }'

run: install  ## build the whole warehouse from the embedded sample store and print a summary
	$(PY) -m pipelines.cli.run

test: system-packages install  ## run the whole test suite: unit, integration (Dagster, dbt, PostgreSQL), e2e (API, Chromium)
	$(PY) -m pytest

test-unit: install  ## the unit tests alone: no Dagster run, no dbt, no servers
	$(PY) -m pytest tests/unit

# CI runs it after `make test` (.ci/run): the [spark] extra is installed only here.
spark-parity: system-packages install $(SPARK_STAMP)  ## build the dbt project on a local Apache Spark and compare every mart with the DuckDB build
	$(PY) -m pytest tests/spark

docs: install  ## write the README's settings tables from pipelines/settings.py
	$(PY) -m pipelines.cli.settings_docs

# Installs the missing ones with apt-get as root (CI); anyone else is told the command to run.
system-packages:  ## the Debian packages the tests need (Chromium, PostgreSQL's server, Java), as root
ifneq ($(strip $(MISSING_PACKAGES)),)
	@if [ "$$(id -u)" -eq 0 ]; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(strip $(MISSING_PACKAGES)); \
	else \
		echo "make test needs the system packages $(strip $(MISSING_PACKAGES)); install them with:" >&2; \
		echo "    sudo apt-get install -y $(strip $(MISSING_PACKAGES))" >&2; \
		exit 1; \
	fi
endif

ui: install  ## the Dagster UI on http://127.0.0.1:3000 (ANALYTICS_UI_HOST, ANALYTICS_UI_PORT) with the runs of `make run`
	$(PY) -m pipelines.cli.ui

serve: install  ## the dashboard and JSON API on http://127.0.0.1:8000 (ANALYTICS_API_HOST, ANALYTICS_API_PORT; needs ANALYTICS_API_TOKEN)
	$(PY) -m pipelines.cli.serve

bench: install  ## build stores of 0.1, 1 and 10 million transactions; print the timings, write bench/results.json
	$(PY) -m bench.pipeline_bench

bench-smoke: install  ## the benchmark at 100k transactions only; fails if any figure is missing
	$(PY) -m bench.pipeline_bench --smoke --out bench/.cache/smoke-results.json

lint: install  ## ruff, and the README's settings tables against the settings
	$(VENV)/bin/ruff check pipelines analytics_ml tests bench
	$(VENV)/bin/ruff format --check pipelines analytics_ml tests bench
	$(PY) -m pipelines.cli.settings_docs --check

# The Dagster instance's folder and its dagster.yaml, written again when ANALYTICS_BATCHED_EVENT_LOG changes
# (a command, not a make target of its own, which a path with a space in it would break).
install: $(STAMP) $(MANIFEST)  ## the venv, the packages, dbt's manifest and the Dagster instance's dagster.yaml
	$(PY) -m pipelines.cli.instance "$(DAGSTER_HOME)"

$(PY):
	python3 -m venv $(VENV)

# constraints.txt pins every package to the versions the suite was last run with.
$(STAMP): $(PY) pyproject.toml constraints.txt
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --progress-bar on -c constraints.txt -e ".[dev]"
	touch $(STAMP)

# The [spark] extra on top of the venv: pip builds pyspark's wheel from its source release (about a minute).
$(SPARK_STAMP): $(STAMP)
	$(PY) -m pip install --progress-bar on -c constraints.txt -e ".[dev,spark]"
	touch $(SPARK_STAMP)

# dagster-dbt loads the manifest at import: prepare it once, again only when the dbt project changes.
$(MANIFEST): $(STAMP) $(DBT_FILES)
	cd dbt_project && ../$(VENV)/bin/dbt parse --profiles-dir . --quiet
	touch $(MANIFEST)

clean:  ## remove the venv and dbt's target folder (the data folder stays)
	rm -rf $(VENV) dbt_project/target dbt_project/logs
