"""Pure analytics math for the storefront metrics warehouse.

Plain functions over numpy arrays and pandas objects: OLS with prediction
intervals (``regression``), a daily revenue forecaster (``forecast``), its
rolling-origin backtest and model selection (``backtest``), and BG/NBD +
Gamma-Gamma customer-lifetime-value models (``clv``). Nothing here touches
Dagster, DuckDB, files or global state.
"""
