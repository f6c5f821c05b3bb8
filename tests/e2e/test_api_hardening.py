"""The API under bad input and faults (docs/reliability.md, "The API"): each test builds its fault,
runs the real server on loopback (or ``python -m pipelines.cli.serve`` as a process) and asserts
what a client and the server's log see."""

from __future__ import annotations

import io
import os
import socket
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import duckdb
import pytest
from playwright.sync_api import sync_playwright

from pipelines.readers.app import API_PREFIX, SNAPSHOT_UNAVAILABLE
from pipelines.readers.request_head import MAX_REQUEST_HEAD_BYTES
from pipelines.settings import Settings
from tests.support.api_server import TOKEN, get, running_api
from tests.support.loopback_servers import free_port

pytestmark = pytest.mark.adversarial

CHROMIUM = Path("/usr/bin/chromium")
SERVE_TIMEOUT_SECONDS = 60
ASSET_TYPES = ("text/javascript", "text/css", "image/png")
REDOCLY_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"
"""The one address off this server: Redoc's bundle shows Redocly's logo in its sidebar from there,
unconditionally, and hides the image when it fails to load (offline). A decoration, not the page."""


# --- the snapshot ------------------------------------------------------------------------------


@pytest.mark.parametrize("serving_file", ["missing", "not a snapshot", "not a DuckDB file"])
def test_an_unreadable_snapshot_is_a_generic_503_and_the_server_log_has_the_detail(
    sample_warehouse: Settings, tmp_path: Path, serving_file: str
):
    serving_path = tmp_path / "serving.duckdb"
    if serving_file == "not a snapshot":
        with duckdb.connect(str(serving_path)) as con:
            con.execute("create table something_else as select 1 as x")
    if serving_file == "not a DuckDB file":
        # Say, a file half copied by hand, or another program's file configured by mistake.
        serving_path.write_bytes(bytes(range(256)) * 64)
    log = io.StringIO()

    with running_api(sample_warehouse.updated(serving={"path": serving_path}), log=log) as url:
        answers = [get(f"{url}{API_PREFIX}/{path}") for path in ("health-check", "comprehensive")]

    assert [answer.status for answer in answers] == [503, 503]
    # Nothing but the generic text: no path of the server's, no DuckDB message.
    assert [answer.json() for answer in answers] == [{"detail": SNAPSHOT_UNAVAILABLE}] * 2
    logged = [line for line in log.getvalue().splitlines() if ": 503, " in line]
    assert len(logged) == 2, log.getvalue()
    assert all(str(serving_path) in line for line in logged)


# --- requests ----------------------------------------------------------------------------------


def first_answer_line(url: str, header_bytes: int, *, head_ends: bool = True) -> bytes:
    """The first line of the server's answer to a GET of ``url`` with a header of ``header_bytes``
    bytes; with ``head_ends`` False the head is left unfinished, as a client would that keeps on
    sending headers (no more is sent, so no unread bytes make the server's close a reset)."""
    parts = urlsplit(url)
    head = f"GET {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\nX-Padding: {'a' * header_bytes}\r\n"
    with socket.create_connection((parts.hostname, parts.port), timeout=30) as connection:
        connection.sendall(f"{head}\r\n".encode() if head_ends else head.encode())
        return connection.makefile("rb").readline()


def test_a_request_head_over_the_limit_is_refused(api_url):
    health = f"{api_url}{API_PREFIX}/health-check"

    within = first_answer_line(health, MAX_REQUEST_HEAD_BYTES // 2)
    # Over the limit but read whole at once: the app's check refuses it.
    just_over = first_answer_line(health, MAX_REQUEST_HEAD_BYTES + 1)
    # Still growing past the limit (as a 32 MB header would): the server stops buffering it.
    growing = first_answer_line(health, 2 * MAX_REQUEST_HEAD_BYTES, head_ends=False)

    assert within.startswith(b"HTTP/1.1 200"), within
    assert just_over.startswith(b"HTTP/1.1 431"), just_over
    assert growing.startswith(b"HTTP/1.1 400"), growing


def test_head_on_health_check_is_the_status_without_a_body(api_url):
    answer = get(f"{api_url}{API_PREFIX}/health-check", token=None, method="HEAD")

    assert (answer.status, answer.body) == (200, b"")
    assert answer.content_type == "application/json"


def test_days_beyond_the_stored_forecast_answer_the_stored_days_and_say_so(api_url, sample_warehouse):
    with duckdb.connect(str(sample_warehouse.serving_file), read_only=True) as con:
        ((stored,),) = con.execute("select count(*) from ml.revenue_forecast").fetchall()

    beyond = get(f"{api_url}{API_PREFIX}/revenue-forecast?days={stored + 1}").json()
    within = get(f"{api_url}{API_PREFIX}/revenue-forecast?days={stored - 1}").json()

    assert (beyond["days_requested"], beyond["available_days"]) == (stored + 1, stored)
    assert len(beyond["forecast"]["date"]) == stored
    assert (within["days_requested"], within["available_days"]) == (stored - 1, stored)
    assert len(within["forecast"]["date"]) == stored - 1
    # The total is that of the days answered.
    assert (beyond["total"]["days"], within["total"]["days"]) == (stored, stored - 1)


# --- response headers --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "token", "kept_from_caches"),
    [
        (f"{API_PREFIX}/comprehensive", TOKEN, True),
        (f"{API_PREFIX}/export?table=marts.kpi_summary&format=csv", TOKEN, True),
        (f"{API_PREFIX}/health-check", None, True),
        (f"{API_PREFIX}/alerts", None, True),  # its 401
        ("/", None, False),
        ("/docs", None, False),
        ("/static/plotly.min.js", None, False),
    ],
)
def test_every_answer_carries_the_security_headers_and_api_answers_are_not_stored(
    api_url, path, token, kept_from_caches
):
    headers = get(f"{api_url}{path}", token=token).headers

    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Content-Security-Policy"] == "frame-ancestors 'none'"
    assert headers["X-Frame-Options"] == "DENY"
    assert (headers["Cache-Control"] == "no-store") is kept_from_caches


# --- the docs pages ----------------------------------------------------------------------------


class AssetLinks(HTMLParser):
    """The ``src`` of every ``<script>`` and the ``href`` of every ``<link>`` of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        wanted = {"script": "src", "link": "href"}.get(tag)
        self.links.extend(value for name, value in attrs if name == wanted and value)


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_the_docs_pages_load_every_asset_from_this_server(api_url, page):
    html = get(f"{api_url}{page}", token=None)
    parser = AssetLinks()
    parser.feed(html.body.decode())

    assert html.status == 200
    assert parser.links, "the page names its scripts"
    for link in parser.links:
        address = urljoin(f"{api_url}{page}", link)
        assert urlsplit(address).netloc == urlsplit(api_url).netloc, f"{link} is not on this server"
        asset = get(address, token=None)
        assert asset.status == 200, link
        assert asset.body, link
        assert asset.content_type.startswith(ASSET_TYPES), (link, asset.content_type)


def test_the_docs_pages_render_in_a_browser_without_any_other_host(api_url):
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (.ci/run does)")
    requested: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"])
        try:
            page = browser.new_page()
            page.on("request", lambda request: requested.append(request.url))
            page.goto(f"{api_url}/docs")
            swagger_title = page.wait_for_selector(".swagger-ui .info .title").inner_text()
            page.goto(f"{api_url}/redoc")
            redoc_title = page.wait_for_selector(".api-info h1").inner_text()
        finally:
            browser.close()

    assert "Storefront metrics API" in swagger_title
    assert "Storefront metrics API" in redoc_title
    # blob: and data: addresses are the page's own data, not fetched from anywhere.
    fetched = [address for address in requested if urlsplit(address).scheme not in ("blob", "data")]
    assert fetched, "the pages' requests were seen"
    assert [address for address in fetched if not address.startswith(f"{api_url}/")] == [REDOCLY_LOGO]


# --- settings ----------------------------------------------------------------------------------


def test_an_empty_token_is_refused_at_start_with_one_line_naming_the_variable(tmp_path):
    environment = {**os.environ, "ANALYTICS_DATA_DIR": str(tmp_path), "ANALYTICS_API_TOKEN": ""}

    served = subprocess.run(
        [sys.executable, "-m", "pipelines.cli.serve"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=SERVE_TIMEOUT_SECONDS,
        check=False,
    )

    assert served.returncode != 0
    assert "Traceback" not in served.stderr
    assert len(served.stderr.strip().splitlines()) == 1, served.stderr
    assert "ANALYTICS_API_TOKEN is empty" in served.stderr


def test_make_serve_listens_on_the_configured_port(sample_warehouse):
    port = free_port()
    environment = {
        **os.environ,
        "ANALYTICS_API_TOKEN": TOKEN,
        "ANALYTICS_API_PORT": str(port),
        "ANALYTICS_SERVING_PATH": str(sample_warehouse.serving_file),
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "pipelines.cli.serve"], env=environment, stderr=subprocess.PIPE, text=True
    )
    try:
        # uvicorn says where it listens once it does (a server that dies first ends the lines: StopIteration).
        started = next(line for line in server.stderr if "Uvicorn running on" in line)
        answer = get(f"http://127.0.0.1:{port}{API_PREFIX}/health-check")
    finally:
        server.terminate()
        server.wait(timeout=SERVE_TIMEOUT_SECONDS)

    assert f"http://127.0.0.1:{port}" in started
    assert answer.status == 200
