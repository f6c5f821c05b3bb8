"""``make serve``: the JSON API and the dashboard on ``ANALYTICS_API_HOST:ANALYTICS_API_PORT``
(127.0.0.1:8000), with the environment's settings."""

from __future__ import annotations

import sys

import uvicorn
from fastapi import FastAPI

from pipelines.readers.app import create_app
from pipelines.readers.request_head import MAX_REQUEST_HEAD_BYTES
from pipelines.settings import SettingsError, load_settings


def environment_app() -> FastAPI:
    """The app of the environment's settings."""
    return create_app(load_settings())


def server_options(host: str, port: int) -> dict[str, object]:
    """uvicorn's options of ``make serve`` on ``host:port`` (for ``uvicorn.run`` or ``uvicorn.Config``). HTTP is
    h11's, the one of uvicorn's parsers that bounds the request head it buffers (httptools, its
    default where installed, takes headers of any size): see :mod:`pipelines.readers.request_head`."""
    return {
        "host": host,
        "port": port,
        "http": "h11",
        "h11_max_incomplete_event_size": MAX_REQUEST_HEAD_BYTES,
    }


def main() -> int:
    """Serve the API and dashboard, or print a one-line error about the settings."""
    try:
        settings = load_settings()
        app = create_app(settings)
    except SettingsError as error:
        print(f"configuration error: {error}", file=sys.stderr)
        return 2
    uvicorn.run(app, **server_options(settings.api.host, settings.api.port))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
