"""The bound on a request's line and headers (``MAX_REQUEST_HEAD_BYTES``), enforced twice.

``make serve`` has uvicorn's h11 parser stop buffering a head that grows past the bound (a 400,
the connection closed), so no client can make the server hold megabytes of headers. h11 only
checks a head still incomplete after a read, so one that arrives whole in one read (up to 256 KiB)
passes it; :class:`RequestHeadLimit` refuses those with a 431, so the bound is the same for all.
"""

from __future__ import annotations

from http import HTTPStatus

from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Receive, Scope, Send

MAX_REQUEST_HEAD_BYTES = 64 * 1024
"""The most a request's line and headers may hold together. Four times h11's default: room for long
cookies and tokens, far below what would cost the server memory."""
LINE_OVERHEAD = len(" ? HTTP/1.1\r\n\r\n")
HEADER_OVERHEAD = len(": \r\n")


def head_bytes(scope: Scope) -> int:
    """The size of the request's line and headers as the client sent them (separators included)."""
    line = len(scope["method"]) + len(scope["raw_path"]) + len(scope["query_string"]) + LINE_OVERHEAD
    return line + sum(len(name) + len(value) + HEADER_OVERHEAD for name, value in scope["headers"])


class RequestHeadLimit:
    """ASGI middleware: a 431 for a request whose line and headers exceed ``MAX_REQUEST_HEAD_BYTES``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and head_bytes(scope) > MAX_REQUEST_HEAD_BYTES:
            too_large = PlainTextResponse(
                f"the request's line and headers exceed {MAX_REQUEST_HEAD_BYTES} bytes",
                status_code=HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE,
            )
            await too_large(scope, receive, send)
            return
        await self.app(scope, receive, send)
