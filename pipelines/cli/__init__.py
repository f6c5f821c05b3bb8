"""Command-line tools: ``make run`` (:mod:`.run`), the Dagster instance's set-up (:mod:`.instance`),
``make serve`` (:mod:`.serve`) and the README's settings tables (:mod:`.settings_docs`)."""
