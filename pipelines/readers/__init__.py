"""The readers' side: the JSON API and dashboard over the published snapshot (never the build file,
never Dagster)."""
