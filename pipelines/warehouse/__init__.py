"""The warehouse's stores: SQL helpers, the readers' snapshot publisher, the alert store and the model
store. Plain DuckDB, no Dagster; they import only settings, the source vocabulary and analytics_ml."""
