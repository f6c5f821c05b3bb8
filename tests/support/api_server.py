"""The real API, served by uvicorn as ``make serve`` serves it on a free loopback port in a thread, and a
small HTTP client."""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import Message
from typing import TextIO

import uvicorn
from fastapi import FastAPI
from pydantic import SecretStr

from pipelines.cli.serve import server_options
from pipelines.readers.app import create_app
from pipelines.settings import Settings
from tests.support.loopback_servers import free_port

TOKEN = "test-token"
START_TIMEOUT_SECONDS = 30
UVICORN_LOGGERS = ("uvicorn.error", "uvicorn.access")


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    content_type: str
    headers: Message

    def json(self) -> dict:
        return json.loads(self.body)


def api_app(settings: Settings) -> FastAPI:
    """The API over ``settings.serving_file`` with token :data:`TOKEN`."""
    return create_app(settings.updated(api={"token": SecretStr(TOKEN)}))


@contextlib.contextmanager
def running_api(settings: Settings, log: TextIO | None = None) -> Iterator[str]:
    """The API over ``settings.serving_file`` with token :data:`TOKEN`; yields its base URL. With
    ``log``, everything uvicorn logs meanwhile, its access log included, is written there too."""
    with serving(api_app(settings), log) as url:
        yield url


@contextlib.contextmanager
def serving(app: FastAPI, log: TextIO | None = None) -> Iterator[str]:
    """``app`` served by uvicorn on a free loopback port in a thread; yields its base URL."""
    port = free_port()
    # The Config configures uvicorn's logging, so the copy to ``log`` is added after it.
    config = uvicorn.Config(app, **server_options("127.0.0.1", port), log_level="warning")
    with uvicorn_log_copied_to(log) if log else contextlib.nullcontext():
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the API did not start")
            time.sleep(0.05)
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            server.should_exit = True
            thread.join()


@contextlib.contextmanager
def uvicorn_log_copied_to(stream: TextIO) -> Iterator[None]:
    """Every record uvicorn logs from INFO up (server messages, and the access log's request lines
    as uvicorn's own handlers receive them, after the app's filters), also written to ``stream``."""
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    loggers = [logging.getLogger(name) for name in UVICORN_LOGGERS]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.removeHandler(handler)
            logger.setLevel(level)


def get(url: str, token: str | None = TOKEN, method: str = "GET") -> Answer:
    """GET (or ``method``) ``url`` with the bearer token (None: without one); any status is returned, not raised."""
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {}, method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return Answer(response.status, response.read(), response.headers.get("Content-Type", ""), response.headers)
    except urllib.error.HTTPError as error:
        return Answer(error.code, error.read(), error.headers.get("Content-Type", ""), error.headers)
