"""The response headers that keep browsers from misusing the API's answers and pages."""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

EVERY_ANSWER = {
    # A browser must never take a JSON or CSV answer for HTML or a script.
    "X-Content-Type-Options": "nosniff",
    # No other site may show the dashboard or the docs in a frame (clickjacking): the policy for
    # today's browsers, X-Frame-Options for older ones. The policy says nothing else on purpose:
    # a script-src would have to list every script of the dashboard and the docs pages, the
    # docs pages' inline ones included, and would break them the day one is added.
    "Content-Security-Policy": "frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
}
PRIVATE_ANSWER = {
    # The API's answers are read with the token: no browser or proxy may keep a copy.
    "Cache-Control": "no-store",
}


class SecurityHeaders:
    """ASGI middleware: :data:`EVERY_ANSWER`'s headers on every answer, and :data:`PRIVATE_ANSWER`'s
    on those under ``private_prefix`` (the token's endpoints, and health-check with them)."""

    def __init__(self, app: ASGIApp, private_prefix: str) -> None:
        self.app = app
        self.private_prefix = private_prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        added = self.headers_for(scope["path"])

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in added.items():
                    headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def headers_for(self, path: str) -> dict[str, str]:
        private = path == self.private_prefix or path.startswith(f"{self.private_prefix}/")
        return {**EVERY_ANSWER, **PRIVATE_ANSWER} if private else EVERY_ANSWER
