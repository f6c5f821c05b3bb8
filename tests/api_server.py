"""The real API, served by uvicorn on a free loopback port in a thread, and a small HTTP client."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass

import uvicorn
from pydantic import SecretStr

from pipelines.api import create_app
from pipelines.settings import Settings

TOKEN = "test-token"
START_TIMEOUT_SECONDS = 30


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    content_type: str

    def json(self) -> dict:
        return json.loads(self.body)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def running_api(settings: Settings) -> Iterator[str]:
    """The API over ``settings.serving`` with token :data:`TOKEN`; yields its base URL."""
    app = create_app(settings.model_copy(update={"api_token": SecretStr(TOKEN)}))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
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


def get(url: str, token: str | None = TOKEN) -> Answer:
    """GET ``url`` with the bearer token (None: without one); any status is returned, not raised."""
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return Answer(response.status, response.read(), response.headers.get("Content-Type", ""))
    except urllib.error.HTTPError as error:
        return Answer(error.code, error.read(), error.headers.get("Content-Type", ""))
