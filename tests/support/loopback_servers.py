"""Real servers on loopback for the delivery tests: one that answers bytes that are not HTTP, one
that accepts and never answers, and a stand-in for Slack's Web API that records what is posted.

Each one runs in a thread of the test process and is stopped when its ``with`` block ends.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def free_port() -> int:
    """A loopback port nothing listens on (yet)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


NOT_HTTP = b"SSH-2.0-OpenSSH_9.6 this is not an HTTP answer\r\n"
"""What the garbage server answers: the greeting of another protocol, as a mistyped port gives."""


@dataclass
class RawServer:
    """A TCP server on loopback at ``address`` (``host:port``); ``requests`` counts the connections
    it accepted."""

    address: str
    requests: int = 0

    @property
    def url(self) -> str:
        return f"http://{self.address}/hook"


def read_request(connection: socket.socket) -> bytes:
    """Read one HTTP request (its head, then the Content-Length bytes of its body), so the client has
    finished sending before the server answers or goes quiet."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = connection.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        (int(line.split(b":", 1)[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")),
        0,
    )
    while len(body) < length:
        chunk = connection.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


@contextlib.contextmanager
def raw_server(answer: bytes | None) -> Iterator[RawServer]:
    """A TCP server that reads each request and answers ``answer`` then closes, or, with None,
    holds the connection open without a word until the block ends."""
    listener = socket.create_server(("127.0.0.1", 0))
    host, port = listener.getsockname()
    server = RawServer(f"{host}:{port}")
    stop = threading.Event()
    held: list[socket.socket] = []

    def serve() -> None:
        listener.settimeout(0.05)  # to notice ``stop`` between connections
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            server.requests += 1
            read_request(connection)
            if answer is None:
                held.append(connection)  # closed when the block ends: the client must give up first
                continue
            connection.sendall(answer)
            connection.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        stop.set()
        thread.join()
        for connection in held:
            connection.close()
        listener.close()


@dataclass
class SlackApi:
    """What the stand-in Slack server received and what it answers to ``chat.postMessage``."""

    answer: dict[str, object]
    posted: list[dict[str, object]] = field(default_factory=list)
    """Each request: its path, Authorization header and JSON body."""


class SlackHandler(BaseHTTPRequestHandler):
    """Records each Web API call and answers the server's ``SlackApi.answer`` as Slack does: HTTP 200
    with a JSON body whose ``ok`` says whether the call worked."""

    def do_POST(self) -> None:  # noqa: N802 (the name http.server calls)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        api: SlackApi = self.server.api
        api.posted.append({"path": self.path, "authorization": self.headers["Authorization"], "body": body})
        answer = json.dumps(api.answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (http.server's signature)
        """Quiet: the test reads what arrived, not the server's log."""


@contextlib.contextmanager
def slack_api(answer: dict[str, object]) -> Iterator[tuple[str, SlackApi]]:
    """A stand-in for ``https://slack.com/api/`` on loopback; yields its base URL and its record."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), SlackHandler)
    server.api = SlackApi(answer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/api/", server.api
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
