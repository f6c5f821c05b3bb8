"""``make serve``: the JSON API and the dashboard on 127.0.0.1:8000, with the environment's settings."""

from __future__ import annotations

import sys

import uvicorn
from fastapi import FastAPI

from pipelines.readers.app import create_app
from pipelines.settings import SettingsError, load_settings

SERVE_PORT = 8000


def environment_app() -> FastAPI:
    """The app of the environment's settings (``uvicorn --factory pipelines.cli.serve:environment_app``)."""
    return create_app(load_settings())


def main() -> int:
    """Serve the API and dashboard, or print a clear error about the settings."""
    try:
        app = environment_app()
    except SettingsError as error:
        print(f"configuration error: {error}", file=sys.stderr)
        return 2
    uvicorn.run(app, host="127.0.0.1", port=SERVE_PORT)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
