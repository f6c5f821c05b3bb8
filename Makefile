# The README's commands. Everything a fresh machine with Python 3.11 needs is installed here.
VENV      := .venv
PY        := $(VENV)/bin/python
STAMP     := $(VENV)/.install-stamp
MANIFEST  := dbt_project/target/manifest.json
DBT_FILES := $(shell find dbt_project -path dbt_project/target -prune -o -type f \( -name '*.sql' -o -name '*.yml' \) -print)

# dagster-dbt runs the `dbt` executable: the venv's bin/ comes first on PATH for every target.
export PATH := $(abspath $(VENV))/bin:$(PATH)
# Runs launched by `make run` and the UI of `make ui` share one Dagster instance under the data folder.
export DAGSTER_HOME ?= $(abspath $(or $(ANALYTICS_DATA_DIR),data))/dagster_home
# A backfill launched as one run plans one event per asset, not one per asset and day (see pipelines/run.py).
export DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS ?= true

.PHONY: run test ui serve install lint clean bench bench-smoke

run: install  ## build the whole warehouse from the embedded sample store and print a summary
	$(PY) -m pipelines.run

test: install  ## run the whole test suite
	$(PY) -m pytest

ui: install  ## the Dagster UI on http://127.0.0.1:3000 with the runs of `make run`
	$(VENV)/bin/dagster dev -w workspace.yaml -h 127.0.0.1 -p 3000

serve: install  ## the dashboard and JSON API on http://127.0.0.1:8000 (needs ANALYTICS_API_TOKEN)
	$(PY) -m pipelines.api

bench: install  ## build stores of 0.1, 1 and 10 million transactions; print the timings, write bench/results.json
	$(PY) -m bench.pipeline_bench

bench-smoke: install  ## the benchmark at 100k transactions only; fails if any figure is missing
	$(PY) -m bench.pipeline_bench --smoke --out bench/.cache/smoke-results.json

lint: install
	$(VENV)/bin/ruff check pipelines analytics_ml tests bench
	$(VENV)/bin/ruff format --check pipelines analytics_ml tests bench

install: $(STAMP) $(MANIFEST)
	mkdir -p "$(DAGSTER_HOME)"

$(PY):
	python3 -m venv $(VENV)

# constraints.txt pins every package to the versions the suite was last run with.
$(STAMP): $(PY) pyproject.toml constraints.txt
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e ".[dev]"
	touch $(STAMP)

# dagster-dbt loads the manifest at import: prepare it once, again only when the dbt project changes.
$(MANIFEST): $(STAMP) $(DBT_FILES)
	cd dbt_project && ../$(VENV)/bin/dbt parse --profiles-dir . --quiet
	touch $(MANIFEST)

clean:
	rm -rf $(VENV) dbt_project/target dbt_project/logs
