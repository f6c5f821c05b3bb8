"""The API's documentation pages, ``/docs`` (Swagger UI) and ``/redoc``, working offline.

FastAPI's own pages load Swagger UI and Redoc from a CDN, so without network they are blank. Here
the scripts and styles come from the installed ``fastapi-offline`` package (Swagger UI's dist and
Redoc's standalone bundle), served by this server under :data:`DOCS_ASSETS_URL`: nothing is
downloaded at build or run time.
"""

from __future__ import annotations

from pathlib import Path

import fastapi_offline
from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse

DOCS_ASSETS = Path(fastapi_offline.__file__).parent / "static"
DOCS_ASSETS_URL = "/docs-assets"
FAVICON_URL = f"{DOCS_ASSETS_URL}/favicon.png"

docs_pages = APIRouter(include_in_schema=False)


@docs_pages.get("/docs")
def swagger_ui(request: Request) -> HTMLResponse:
    return get_swagger_ui_html(
        openapi_url=request.app.openapi_url,
        title=f"{request.app.title} - Swagger UI",
        swagger_js_url=f"{DOCS_ASSETS_URL}/swagger-ui-bundle.js",
        swagger_css_url=f"{DOCS_ASSETS_URL}/swagger-ui.css",
        swagger_favicon_url=FAVICON_URL,
        # Swagger UI otherwise sends the schema's address to validator.swagger.io for its badge.
        swagger_ui_parameters={"validatorUrl": None},
    )


@docs_pages.get("/redoc")
def redoc(request: Request) -> HTMLResponse:
    return get_redoc_html(
        openapi_url=request.app.openapi_url,
        title=f"{request.app.title} - ReDoc",
        redoc_js_url=f"{DOCS_ASSETS_URL}/redoc.standalone.js",
        redoc_favicon_url=FAVICON_URL,
        # The page's fonts would come from Google's servers; Redoc falls back to the system's.
        with_google_fonts=False,
    )
