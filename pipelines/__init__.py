"""Dagster code location of the storefront metrics warehouse."""
