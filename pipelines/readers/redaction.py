"""Keeping the API token out of logs: uvicorn's access log writes each request's query string, and
the dashboard's first link carries the token (``/?token=…``)."""

from __future__ import annotations

import logging
from urllib.parse import unquote_plus

ACCESS_LOGGER = "uvicorn.access"
REDACTED = "[redacted]"


def redact_tokens(path: str) -> str:
    """``path`` (with its query) with the value of every query parameter named ``token`` or
    ending in it (``access_token``) replaced by :data:`REDACTED`; other parameters kept."""
    base, question_mark, query = path.partition("?")
    if not question_mark:
        return path
    return f"{base}?{'&'.join(_redacted_parameter(parameter) for parameter in query.split('&'))}"


def _redacted_parameter(parameter: str) -> str:
    """One ``name=value`` of a query, its value redacted if the name is a token's."""
    name, equals, _value = parameter.partition("=")
    # Decoded first: ``%74oken`` is ``token`` to the page and to Starlette alike.
    if equals and unquote_plus(name).lower().endswith("token"):
        return f"{name}={REDACTED}"
    return parameter


class TokenRedaction(logging.Filter):
    """Redacts tokens from the request lines of uvicorn's access log.

    The dashboard's link carries the token (``/?token=…``) and uvicorn logs each request's path
    with its query string, so without this the API token would be written to every log kept of
    ``make serve``. uvicorn passes the request line's parts as the record's arguments, and its
    access formatter reads them from there, so they are redacted in place.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(redact_tokens(arg) if isinstance(arg, str) else arg for arg in record.args)
        return True


TOKEN_REDACTION = TokenRedaction()
"""One instance, so that creating the app again does not add the filter twice."""
