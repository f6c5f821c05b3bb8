"""The alert sensors on a store with planted events: what fires, exactly once, and what is delivered.

The planted store is the sample store with 2,000 customers (enough orders a day for the forecast's
band and the funnel's daily rates to be meaningful) where one Tuesday's orders are worth half and
one Thursday loses the payment step of every second checkout session. The expected figures are
worked out from the planted source files with SQL of their own, not read from the marts.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import json
import logging
import shutil
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote

import duckdb
import pytest
from dagster import (
    AssetMaterialization,
    DagsterEventType,
    DagsterInstance,
    MultiAssetSensorDefinition,
    SensorResult,
    build_multi_asset_sensor_context,
)
from pydantic import SecretStr

from analytics_ml.alert_rules import CONVERSION_DROP, REVENUE_DROP, RUN_FAILURE, Alert, RuleResult
from pipelines.alerts.checks import ALERT_CHECKS, CHURN_CHECK, CONVERSION_CHECK, REVENUE_CHECK, AlertCheck
from pipelines.alerts.delivery import PAYLOAD_FIELDS, WebhookChannel, deliver, send_with_retries
from pipelines.alerts.tick import Alerting, process_alerts
from pipelines.definitions import build_definitions
from pipelines.defs.resources import build_resources
from pipelines.defs.sensors import table_key
from pipelines.sample_store.generator import generate_sample_store
from pipelines.sample_store.usd_amounts import transactions_in_usd
from pipelines.settings import AlertSettings, DeliverySettings, Settings
from pipelines.warehouse.alert_store import ALERTS_TABLE, FEED_VIEW, PendingDelivery
from tests.support.loopback_servers import NOT_HTTP, free_port, raw_server, slack_api
from tests.support.pipeline_runs import (
    SAMPLE_FIRST_DAY,
    SAMPLE_SPEC,
    isolated_settings,
    query,
    run_pipeline,
    run_sensor_context,
)

PLANTED_SPEC = dataclasses.replace(SAMPLE_SPEC, customers=2000)
REVENUE_DROP_DAY = dt.date(2025, 3, 25)  # a Tuesday, settled (the last two days still have pending orders)
CONVERSION_DROP_DAY = dt.date(2025, 3, 27)  # a Thursday
CHECKOUT_STEP = "checkout→payment_initiated"
DEFINITIONS = build_definitions(Settings())
"""The code location of the default settings: its sensors are the ones under test."""
SENSORS = {sensor.name: sensor for sensor in DEFINITIONS.sensors}
revenue_drop_sensor = SENSORS["revenue_drop_sensor"]
conversion_drop_sensor = SENSORS["conversion_drop_sensor"]
churn_risk_sensor = SENSORS["churn_risk_sensor"]
nightly_run_failure_sensor = SENSORS["nightly_run_failure_sensor"]
nightly_run_success_sensor = SENSORS["nightly_run_success_sensor"]


def plant_events(store: Path) -> None:
    """Halve every order amount of REVENUE_DROP_DAY; drop the payment events of every second session
    that reached checkout on CONVERSION_DROP_DAY."""
    transactions = store / "transactions" / "part-00000.parquet"
    funnel = store / "funnel_events" / "part-00000.parquet"
    with duckdb.connect() as con:
        con.execute(
            f"""copy (
                select * replace (
                    -- To the cent, as an order's amount is.
                    case when cast(created_at as date) = date '{REVENUE_DROP_DAY}' then round(amount / 2, 2)
                    else amount end as amount
                )
                from read_parquet('{transactions}')
            ) to '{transactions}.planted' (format parquet)"""
        )
        con.execute(
            f"""copy (
                with checkout_sessions as (
                    select session_id, row_number() over (order by session_id) as n
                    from read_parquet('{funnel}')
                    where stage = 'checkout' and cast(occurred_at as date) = date '{CONVERSION_DROP_DAY}'
                )
                select *
                from read_parquet('{funnel}')
                where not (
                    stage in ('payment_initiated', 'payment_completed')
                    and session_id in (select session_id from checkout_sessions where n % 2 = 0)
                )
            ) to '{funnel}.planted' (format parquet)"""
        )
    for path in (transactions, funnel):
        Path(f"{path}.planted").replace(path)


@dataclasses.dataclass(frozen=True)
class PlantedBuild:
    """The pipeline built over the planted store, its runs recorded in ``instance``."""

    store: Path
    settings: Settings
    instance: DagsterInstance


@pytest.fixture(scope="module")
def planted_build(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PlantedBuild]:
    store = tmp_path_factory.mktemp("planted_store")
    generate_sample_store(store, PLANTED_SPEC)
    plant_events(store)
    settings = isolated_settings(tmp_path_factory.mktemp("planted_warehouse"), store)
    with DagsterInstance.ephemeral() as instance:
        run_pipeline(settings, SAMPLE_FIRST_DAY, PLANTED_SPEC.end_date, instance=instance)
        yield PlantedBuild(store, settings, instance)


@pytest.fixture
def warehouse(planted_build: PlantedBuild, tmp_path: Path) -> Settings:
    """Settings of a copy of the planted warehouse, so that each test starts with no alerts."""
    copy = tmp_path / "warehouse.duckdb"
    shutil.copy(planted_build.settings.warehouse_file, copy)
    shutil.copy(planted_build.settings.serving_file, tmp_path / "serving.duckdb")
    return planted_build.settings.updated(
        warehouse={"warehouse_path": copy, "data_dir": tmp_path}, serving={"path": tmp_path / "serving.duckdb"}
    )


class Receiver(BaseHTTPRequestHandler):
    """Answers each POST as the server's ``WebhookFaults`` say: 503 while ``failures_left`` lasts, 500
    for a ``refused_keys`` alert, else 204; stores each document it accepted (and its
    Idempotency-Key) in ``received`` and every answer as (alert key, status) in ``answered``."""

    def do_POST(self) -> None:  # noqa: N802 (the name http.server calls)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        faults: WebhookFaults = self.server.faults
        with faults.lock:
            if faults.failures_left:
                faults.failures_left -= 1
                status = 503
            else:
                status = 500 if body["alert_key"] in faults.refused_keys else 204
            if status == 204:
                self.server.received.append((self.headers["Idempotency-Key"], body))
            self.server.answered.append((body["alert_key"], status))
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (http.server's signature)
        """Quiet: the test reads what arrived, not the server's log."""


@dataclasses.dataclass
class WebhookFaults:
    """How the loopback webhook misbehaves: the next ``failures_left`` requests get a 503 (down for
    a while), the alerts of ``refused_keys`` a 500 every time (poisoned)."""

    failures_left: int = 0
    refused_keys: frozenset[str] = frozenset()
    lock: threading.Lock = dataclasses.field(default_factory=threading.Lock)


@contextlib.contextmanager
def webhook_server(port: int = 0, faults: WebhookFaults | None = None) -> Iterator[ThreadingHTTPServer]:
    """A real HTTP server on loopback that records what is POSTed to it (and fails as ``faults`` say)."""
    server = ThreadingHTTPServer(("127.0.0.1", port), Receiver)
    server.faults = faults or WebhookFaults()
    server.received, server.answered = [], []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def with_alert_settings(settings: Settings, **overrides: object) -> Settings:
    """``settings`` with some ``alert_*`` settings (named as their variable, lower case, less ``ANALYTICS_``)
    replaced in the alerts or the delivery section."""
    names = {name.removeprefix("alert_"): value for name, value in overrides.items()}
    sections = {
        section: {name: value for name, value in names.items() if name in fields}
        for section, fields in (("alerts", AlertSettings.model_fields), ("delivery", DeliverySettings.model_fields))
    }
    return settings.updated(**{section: values for section, values in sections.items() if values})


def alerting(settings: Settings, **overrides: object) -> Alerting:
    """The alerting of ``settings`` with some ``alert_*`` settings replaced."""
    return Alerting.from_settings(with_alert_settings(settings, **overrides))


def evaluate_sensor(
    sensor: MultiAssetSensorDefinition,
    check: AlertCheck,
    settings: Settings,
    instance: DagsterInstance,
    **alert_settings,
) -> tuple[SensorResult, str | None]:
    """One tick of a data sensor on the instance's latest materializations; returns its result and cursor."""
    return evaluate_sensor_from(None, sensor, check, settings, instance, **alert_settings)


def evaluate_sensor_from(
    cursor: str | None,
    sensor: MultiAssetSensorDefinition,
    check: AlertCheck,
    settings: Settings,
    instance: DagsterInstance,
    **alert_settings: object,
) -> tuple[SensorResult, str | None]:
    """One tick of a data sensor that starts from ``cursor`` (None: every materialization is new)."""
    resources = {**build_resources(settings), "alerting": alerting(settings, **alert_settings)}
    with build_multi_asset_sensor_context(
        monitored_assets=[table_key(table) for table in check.monitored],
        instance=instance,
        cursor=cursor,
        definitions=DEFINITIONS,
        resources=resources,
    ) as context:
        result = sensor(context)
        return result, context.cursor


def stored_alerts(settings: Settings) -> list[dict[str, object]]:
    with duckdb.connect(str(settings.warehouse_file), read_only=True) as con:
        cursor = con.execute(f"select * from {ALERTS_TABLE} order by alert_key")
        columns = [column[0] for column in cursor.description]
        return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]


def report_rebuilt(instance: DagsterInstance, check: AlertCheck) -> None:
    """Record new materializations of the check's tables, as a later run that rebuilds them does."""
    for table in check.monitored:
        instance.report_runless_asset_event(AssetMaterialization(table_key(table)))


def planted_net_revenue(store: Path, day: dt.date) -> float:
    """Completed minus refunded amounts of the orders created on ``day``, from the source file, in USD (the
    EUR and GBP orders converted with their day's rate in pandas)."""
    transactions = transactions_in_usd(store, columns=["created_at", "status", "amount"])
    of_day = transactions[transactions["created_at"].dt.date == day]
    return of_day.loc[of_day["status"] == "completed", "amount"].sum()


# ---------------------------------------------------------------------------------------------
# Planted events


def test_half_a_days_revenue_fires_one_revenue_drop_alert_once(planted_build, warehouse):
    with webhook_server() as server:
        url = SecretStr(f"http://127.0.0.1:{server.server_address[1]}/alerts")
        first, cursor = evaluate_sensor(
            revenue_drop_sensor, REVENUE_CHECK, warehouse, planted_build.instance, alert_webhook_url=url
        )
        again, _ = evaluate_sensor_from(
            cursor, revenue_drop_sensor, REVENUE_CHECK, warehouse, planted_build.instance, alert_webhook_url=url
        )
        report_rebuilt(planted_build.instance, REVENUE_CHECK)
        rebuilt, _ = evaluate_sensor_from(
            cursor, revenue_drop_sensor, REVENUE_CHECK, warehouse, planted_build.instance, alert_webhook_url=url
        )

    alerts = stored_alerts(warehouse)
    assert [(alert["rule"], alert["alert_date"]) for alert in alerts] == [(REVENUE_DROP, REVENUE_DROP_DAY)]
    (alert,) = alerts
    assert alert["observed"] == pytest.approx(planted_net_revenue(planted_build.store, REVENUE_DROP_DAY))
    previous_tuesdays = [REVENUE_DROP_DAY - dt.timedelta(weeks=week) for week in range(1, 5)]
    usual = sum(planted_net_revenue(planted_build.store, day) for day in previous_tuesdays) / 4
    assert alert["expected"] == pytest.approx(usual)
    assert alert["observed"] < 0.6 * usual
    assert (alert["status"], alert["log_delivery"], alert["webhook_delivery"]) == ("open", "delivered", "delivered")
    assert [body["alert_key"] for _, body in server.received] == [f"revenue_drop:{REVENUE_DROP_DAY}"]
    assert server.received[0][0] == server.received[0][1]["idempotency_key"]
    assert [event.asset_key.to_user_string() for event in first.asset_events] == ["alerts/alerts"]
    assert (again.asset_events, rebuilt.asset_events) == ([], []), "nothing new fired or delivered"
    assert "fired 0, still open 1" in rebuilt.skip_reason.skip_message
    with duckdb.connect(str(warehouse.serving_file), read_only=True) as snapshot:
        published = snapshot.execute("select alert_key, webhook_delivery from alerts.alert_feed").fetchall()
    assert published == [(f"revenue_drop:{REVENUE_DROP_DAY}", "delivered")], "readers see the alert"


def test_a_checkout_drop_fires_one_conversion_drop_alert(planted_build, warehouse):
    result, _ = evaluate_sensor(conversion_drop_sensor, CONVERSION_CHECK, warehouse, planted_build.instance)

    alerts = stored_alerts(warehouse)
    assert [alert["alert_key"] for alert in alerts] == [f"{CONVERSION_DROP}:{CONVERSION_DROP_DAY}/{CHECKOUT_STEP}"]
    with duckdb.connect() as con:
        reached, paid = con.execute(
            f"""with sessions as (
                select session_id, bool_or(stage = 'checkout') as checkout, bool_or(stage = 'payment_initiated') as paid
                from read_parquet('{planted_build.store}/funnel_events/*.parquet')
                group by session_id
                having cast(min(occurred_at) as date) = ?
            )
            select count(*) filter (checkout), count(*) filter (checkout and paid) from sessions""",
            [CONVERSION_DROP_DAY],
        ).fetchone()
    assert alerts[0]["observed"] == pytest.approx(paid / reached)
    assert alerts[0]["observed"] < 0.6 * alerts[0]["expected"]
    assert "fired 1" in result.skip_reason.skip_message


def test_ordinary_weeks_raise_no_alarm(warehouse):
    thresholds = dataclasses.replace(alerting(warehouse).thresholds, lookback_days=28)
    with duckdb.connect(str(warehouse.warehouse_file), read_only=True) as con:
        results = [result for check in ALERT_CHECKS for result in check.evaluate(con, thresholds)]

    judged = {result.rule: len(result.judged) for result in results}
    fired = sorted(alert.key for result in results for alert in result.alerts)
    # 26 settled days (the last two have pending orders), two subjects a day for unusual patterns.
    assert judged["revenue_drop"] == 26 and judged["unusual_pattern"] == 52
    assert judged["conversion_drop"] >= 26 * 4, "every step with enough sessions is judged each day"
    assert judged["churn_risk"] == 2
    assert fired == [
        f"{CONVERSION_DROP}:{CONVERSION_DROP_DAY}/{CHECKOUT_STEP}",
        f"{REVENUE_DROP}:{REVENUE_DROP_DAY}",
    ], "four weeks of weekly seasonality raise nothing but the two planted events"


def test_churn_risk_fires_when_the_at_risk_share_passes_its_threshold_and_resolves_below_it(planted_build, warehouse):
    (at_risk_share,) = query(
        warehouse,
        "select sum(revenue) filter (segment in ('At Risk', 'Cannot Lose Them')) / sum(revenue) "
        "from marts.customer_segments",
    )[0]
    above, below = at_risk_share * 0.9, min(at_risk_share * 1.1, 1.0)

    evaluate_sensor(
        churn_risk_sensor, CHURN_CHECK, warehouse, planted_build.instance, alert_churn_segment_revenue_share=above
    )
    fired = stored_alerts(warehouse)
    evaluate_sensor(
        churn_risk_sensor, CHURN_CHECK, warehouse, planted_build.instance, alert_churn_segment_revenue_share=below
    )
    resolved = stored_alerts(warehouse)

    assert [(alert["alert_key"], alert["status"]) for alert in fired] == [("churn_risk:at_risk_segments", "open")]
    assert fired[0]["observed"] == pytest.approx(at_risk_share)
    assert [(alert["alert_key"], alert["status"]) for alert in resolved] == [
        ("churn_risk:at_risk_segments", "resolved")
    ]
    assert resolved[0]["resolved_at"] is not None


# ---------------------------------------------------------------------------------------------
# Nightly runs


def execute_nightly(settings: Settings, instance: DagsterInstance, day: dt.date):
    """The nightly_refresh job for ``day``, as the schedule launches it."""
    job = DEFINITIONS.resolve_job_def("nightly_refresh")
    return job.execute_in_process(
        partition_key=day.isoformat(),
        instance=instance,
        resources=build_resources(settings),
        raise_on_error=False,
    )


def test_a_failed_night_alerts_once_and_resolves_when_the_day_is_rerun(planted_build, warehouse, tmp_path):
    instance = planted_build.instance
    missing_source = warehouse.updated(source={"dir": tmp_path / "no_such_folder"})
    failed = execute_nightly(missing_source, instance, REVENUE_DROP_DAY)
    assert not failed.success
    with run_sensor_context(
        "nightly_run_failure_sensor", warehouse, instance, failed.run_id, DagsterEventType.RUN_FAILURE
    ) as context:
        nightly_run_failure_sensor(context.for_run_failure())
        nightly_run_failure_sensor(context.for_run_failure())  # the same failure seen again (a repeated tick)
    open_alerts = stored_alerts(warehouse)
    rerun = execute_nightly(warehouse, instance, REVENUE_DROP_DAY)
    assert rerun.success
    with run_sensor_context(
        "nightly_run_success_sensor", warehouse, instance, rerun.run_id, DagsterEventType.RUN_SUCCESS
    ) as context:
        nightly_run_success_sensor(context)
    evaluate_sensor(revenue_drop_sensor, REVENUE_CHECK, warehouse, instance)
    evaluate_sensor(revenue_drop_sensor, REVENUE_CHECK, warehouse, instance)

    subject = f"nightly_refresh/{REVENUE_DROP_DAY}"
    assert [(alert["rule"], alert["subject"], alert["status"]) for alert in open_alerts] == [
        (RUN_FAILURE, subject, "open")
    ]
    assert f"{missing_source.source_folder} does not exist" in open_alerts[0]["message"]
    assert {(alert["rule"], alert["subject"], alert["status"]) for alert in stored_alerts(warehouse)} == {
        (RUN_FAILURE, subject, "resolved"),
        (REVENUE_DROP, REVENUE_DROP_DAY.isoformat(), "open"),
    }, "the re-run day's revenue drop is recorded once, however often it is judged"


# ---------------------------------------------------------------------------------------------
# Webhook delivery


def planted_alert(day: dt.date) -> Alert:
    return Alert(
        rule=REVENUE_DROP,
        severity="critical",
        subject=day.isoformat(),
        alert_date=day,
        metric="net_revenue",
        observed=50.0,
        expected=100.0,
        threshold=70.0,
        message=f"Net revenue on {day} was 50, half its usual 100.",
    )


@pytest.mark.adversarial
def test_a_webhook_that_is_down_gets_the_alert_once_it_is_up(tmp_path, caplog):
    path = tmp_path / "warehouse.duckdb"
    port = free_port()
    settings = with_alert_settings(
        isolated_settings(tmp_path, tmp_path),
        alert_webhook_url=SecretStr(f"http://127.0.0.1:{port}/hook?token=secret"),
        alert_delivery_retries=1,
        alert_delivery_backoff_seconds=0.0,
    )
    alert = planted_alert(dt.date(2025, 3, 25))
    log = logging.getLogger("test_alerts")

    down = process_alerts(
        path, lambda con: [RuleResult(REVENUE_DROP, (alert.subject,), (alert,))], alerting(settings), log
    )
    while_down = stored_alerts(settings)
    with webhook_server(port) as server:
        up = process_alerts(path, None, alerting(settings), log)
        later = process_alerts(path, None, alerting(settings), log)
    delivered = stored_alerts(settings)

    assert [(outcome.channel, outcome.delivered, outcome.attempts) for outcome in down.deliveries] == [
        ("log", True, 1),
        ("webhook", False, 2),
    ]
    assert (while_down[0]["webhook_delivery"], while_down[0]["log_delivery"]) == ("failed", "delivered")
    assert while_down[0]["delivery_error"].startswith(f"webhook: 127.0.0.1:{port} unreachable")
    assert "secret" not in while_down[0]["delivery_error"]
    assert [(outcome.channel, outcome.delivered) for outcome in up.deliveries] == [("webhook", True)]
    assert later.deliveries == []
    assert [body["alert_key"] for _, body in server.received] == [alert.key]
    assert server.received[0][1]["observed"] == 50.0
    assert (delivered[0]["webhook_delivery"], delivered[0]["delivery_error"]) == ("delivered", None)


def fires(*alerts: Alert):
    """An evaluation that fires ``alerts`` (each judged on its own subject)."""
    return lambda con: [RuleResult(REVENUE_DROP, tuple(alert.subject for alert in alerts), alerts)]


@pytest.mark.adversarial
def test_an_answer_that_is_not_http_is_stored_as_failed_and_tried_again_next_tick(tmp_path):
    alert = planted_alert(dt.date(2025, 3, 25))
    log = logging.getLogger("test_alerts")
    with raw_server(NOT_HTTP) as server:
        settings = with_alert_settings(
            isolated_settings(tmp_path, tmp_path),
            alert_webhook_url=SecretStr(server.url),
            alert_delivery_retries=1,
            alert_delivery_backoff_seconds=0.0,
        )
        first = process_alerts(settings.warehouse_file, fires(alert), alerting(settings), log)
        after_first = stored_alerts(settings)
        next_tick = process_alerts(settings.warehouse_file, None, alerting(settings), log)

    assert [(outcome.channel, outcome.delivered, outcome.attempts) for outcome in first.deliveries] == [
        ("log", True, 1),
        ("webhook", False, 2),
    ]
    (stored,) = after_first
    assert (stored["log_delivery"], stored["webhook_delivery"]) == ("delivered", "failed")
    assert stored["delivery_error"].startswith(f"webhook: {server.address} gave no HTTP answer: BadStatusLine")
    assert [(outcome.channel, outcome.delivered) for outcome in next_tick.deliveries] == [("webhook", False)]
    assert server.requests == 4, "one attempt and one retry on each of the two ticks"


@pytest.mark.adversarial
def test_a_webhook_that_never_answers_fails_within_its_timeout(tmp_path):
    timeout = 1.0
    alert = planted_alert(dt.date(2025, 3, 25))
    with raw_server(None) as server:
        settings = with_alert_settings(
            isolated_settings(tmp_path, tmp_path),
            alert_webhook_url=SecretStr(server.url),
            alert_delivery_timeout_seconds=timeout,
            alert_delivery_retries=1,
            alert_delivery_backoff_seconds=0.0,
        )
        # The server holds every connection open until this block ends: the call can only return
        # inside it because the client gave up on each attempt by itself.
        report = process_alerts(
            settings.warehouse_file, fires(alert), alerting(settings), logging.getLogger("test_alerts")
        )
        connections = server.requests

    assert [(outcome.channel, outcome.delivered, outcome.attempts) for outcome in report.deliveries] == [
        ("log", True, 1),
        ("webhook", False, 2),
    ]
    (stored,) = stored_alerts(settings)
    assert stored["webhook_delivery"] == "failed"
    assert stored["delivery_error"] == f"webhook: {server.address} did not answer within 1 s"
    # Two attempts, each given up by the timeout (the message above), not by the server closing.
    assert connections == 2


def test_retries_wait_what_the_worst_case_counts():
    # 3 retries after 0.5 s doubling: waits 0.5, 1, 2; worst case 4 attempts × 2 s + 3.5 s = 11.5 s.
    policy = DeliverySettings(delivery_timeout_seconds=2.0, delivery_retries=3, delivery_backoff_seconds=0.5)
    slept: list[float] = []
    closed_port = SecretStr(f"http://127.0.0.1:{free_port()}/hook")

    outcome = send_with_retries(
        WebhookChannel(closed_port, policy.delivery_timeout_seconds),
        {"alert_key": "k", "idempotency_key": "k"},
        policy,
        sleep=slept.append,
    )

    assert (outcome.delivered, outcome.attempts, outcome.channel_down) == (False, 4, True)
    assert "unreachable" in outcome.error
    assert slept == [0.5, 1.0, 2.0] == policy.retry_waits()
    assert policy.worst_case_seconds == 11.5


@dataclasses.dataclass
class SlowChannel:
    """A channel whose every delivery takes ``seconds`` on the test's clock (``now[0]``)."""

    now: list[float]
    seconds: float
    name: str = "webhook"
    sent: list[str] = dataclasses.field(default_factory=list)

    def send(self, payload) -> None:
        self.now[0] += self.seconds
        self.sent.append(payload["alert_key"])


@pytest.mark.adversarial
def test_no_delivery_starts_that_could_outlast_the_ticks_budget():
    # Worst case 1 s a delivery (timeout 1 s, no retry), each one taking 0.3 s, and a budget of 2 s:
    # deliveries start at 0, 0.3, 0.6 and 0.9 s (each could end by 1.9 s); the fifth would start at
    # 1.2 s and could end at 2.2 s, so it and the sixth wait for the next tick, which sends both.
    policy = DeliverySettings(delivery_timeout_seconds=1.0, delivery_retries=0, delivery_backoff_seconds=0.0)
    now = [0.0]
    channel = SlowChannel(now, seconds=0.3)
    rows = [
        {name: None for name in PAYLOAD_FIELDS} | {"alert_key": f"revenue_drop:2025-03-{day:02}"} for day in range(1, 7)
    ]
    pending = [PendingDelivery(row, ("webhook",)) for row in rows]

    first = deliver(pending, {"webhook": channel}, policy, budget_seconds=2.0, clock=lambda: now[0])
    left = [item for item in pending if item.alert["alert_key"] not in {o.alert_key for o in first}]
    second = deliver(left, {"webhook": channel}, policy, budget_seconds=2.0, clock=lambda: now[0])

    assert [outcome.alert_key for outcome in first] == channel.sent[:4] == [row["alert_key"] for row in rows[:4]]
    assert [outcome.alert_key for outcome in second] == [row["alert_key"] for row in rows[4:]]
    assert channel.sent == [row["alert_key"] for row in rows], "each alert sent once"


# ---------------------------------------------------------------------------------------------
# Slack delivery


SLACK_TOKEN = SecretStr("xoxb-test-token")


def slack_alerting(settings: Settings, base_url: str) -> Alerting:
    """The alerting of ``settings`` posting to the Slack Web API at ``base_url``."""
    return dataclasses.replace(alerting(settings), slack_base_url=base_url)


def slack_text(alert: Alert) -> str:
    """The message the Slack channel posts for ``alert``."""
    return f"*{alert.severity.upper()}* {alert.rule} ({alert.subject}): {alert.message}"


def test_each_alert_is_posted_to_slack_once_and_recorded_delivered(tmp_path):
    alerts = (planted_alert(dt.date(2025, 3, 24)), planted_alert(dt.date(2025, 3, 25)))
    settings = with_alert_settings(
        isolated_settings(tmp_path, tmp_path), alert_slack_token=SLACK_TOKEN, alert_slack_channel="#ops"
    )
    log = logging.getLogger("test_alerts")
    with slack_api({"ok": True}) as (base_url, api):
        first = process_alerts(settings.warehouse_file, fires(*alerts), slack_alerting(settings, base_url), log)
        again = process_alerts(settings.warehouse_file, None, slack_alerting(settings, base_url), log)

    assert [(post["path"], post["authorization"]) for post in api.posted] == [
        ("/api/chat.postMessage", f"Bearer {SLACK_TOKEN.get_secret_value()}")
    ] * 2
    assert [(post["body"]["channel"], post["body"]["text"]) for post in api.posted] == [
        ("#ops", slack_text(alert)) for alert in alerts
    ]
    assert [(outcome.channel, outcome.delivered) for outcome in first.deliveries if outcome.channel == "slack"] == [
        ("slack", True),
        ("slack", True),
    ]
    assert again.deliveries == [], "a delivered alert is not posted again"
    assert [(alert["slack_delivery"], alert["delivery_error"]) for alert in stored_alerts(settings)] == [
        ("delivered", None),
        ("delivered", None),
    ]


@pytest.mark.adversarial
def test_a_slack_answer_that_is_not_ok_is_stored_as_failed(tmp_path):
    alert = planted_alert(dt.date(2025, 3, 25))
    settings = with_alert_settings(
        isolated_settings(tmp_path, tmp_path),
        alert_slack_token=SLACK_TOKEN,
        alert_delivery_retries=1,
        alert_delivery_backoff_seconds=0.0,
    )
    with slack_api({"ok": False, "error": "channel_not_found"}) as (base_url, api):
        report = process_alerts(
            settings.warehouse_file, fires(alert), slack_alerting(settings, base_url), logging.getLogger("test_alerts")
        )

    assert len(api.posted) == 2, "one attempt and one retry"
    assert [(outcome.channel, outcome.delivered, outcome.attempts) for outcome in report.deliveries] == [
        ("log", True, 1),
        ("slack", False, 2),
    ]
    (stored,) = stored_alerts(settings)
    assert stored["slack_delivery"] == "failed"
    assert stored["delivery_error"].startswith("slack: ")
    assert "channel_not_found" in stored["delivery_error"]
    assert SLACK_TOKEN.get_secret_value() not in stored["delivery_error"]


def test_the_feed_lists_open_alerts_first_then_latest_first(tmp_path):
    path = tmp_path / "warehouse.duckdb"
    settings = isolated_settings(tmp_path, tmp_path)
    log = logging.getLogger("test_alerts")
    days = [dt.date(2025, 3, 20), dt.date(2025, 3, 21), dt.date(2025, 3, 22)]
    for day in days:
        alert = planted_alert(day)
        process_alerts(
            path, lambda con, a=alert: [RuleResult(REVENUE_DROP, (a.subject,), (a,))], alerting(settings), log
        )
    # 2025-03-21 judged again without firing: it resolves.
    process_alerts(path, lambda con: [RuleResult(REVENUE_DROP, ("2025-03-21",), ())], alerting(settings), log)

    feed = query(settings, f"select subject, status from {FEED_VIEW}")
    assert feed == [("2025-03-22", "open"), ("2025-03-20", "open"), ("2025-03-21", "resolved")]


# ---------------------------------------------------------------------------------------------
# Settings


def conversion_alert(day: dt.date) -> Alert:
    """A conversion drop: its key holds `→`, which an HTTP header cannot carry as it is."""
    return Alert(
        rule=CONVERSION_DROP,
        severity="warning",
        subject=f"{day.isoformat()}/{CHECKOUT_STEP}",
        alert_date=day,
        metric="conversion_rate",
        observed=0.2,
        expected=0.6,
        threshold=0.48,
        message=f"Checkout conversion on {day} fell to 20 %.",
    )


@pytest.mark.adversarial
def test_a_conversion_alert_key_reaches_the_webhook_percent_encoded_and_every_alert_once(tmp_path):
    alerts = (conversion_alert(dt.date(2025, 3, 24)), planted_alert(dt.date(2025, 3, 25)))
    log = logging.getLogger("test_alerts")
    with webhook_server() as server:
        settings = with_alert_settings(
            isolated_settings(tmp_path, tmp_path),
            alert_webhook_url=SecretStr(f"http://127.0.0.1:{server.server_port}/hook"),
        )
        ticks = [process_alerts(settings.warehouse_file, fires(*alerts), alerting(settings), log)]
        ticks += [process_alerts(settings.warehouse_file, None, alerting(settings), log) for _ in range(3)]

    keys = sorted(body["idempotency_key"] for _, body in server.received)
    assert len(server.received) == 2, "each alert POSTed once over four ticks"
    assert all(unquote(header) == body["idempotency_key"] for header, body in server.received)
    assert any("→" in key for key in keys)
    assert all(header.isascii() for header, _ in server.received)
    assert [outcome.delivered for outcome in ticks[0].deliveries] == [True] * 4, "log and webhook, each alert"
    assert all(tick.deliveries == [] for tick in ticks[1:])
    assert {row["webhook_delivery"] for row in stored_alerts(settings)} == {"delivered"}


@dataclasses.dataclass
class BrokenChannel:
    """A channel whose sending raises what no channel should: the tick must survive it."""

    name: str = "webhook"

    def send(self, payload: object) -> None:
        raise UnicodeEncodeError("latin-1", "→", 0, 1, "ordinal not in range(256)")


@pytest.mark.adversarial
def test_an_unexpected_error_in_a_channel_is_a_failed_delivery_not_a_crashed_tick():
    policy = DeliverySettings(delivery_timeout_seconds=1.0, delivery_retries=1, delivery_backoff_seconds=0.0)
    pending = [
        PendingDelivery(alert={name: "x" for name in PAYLOAD_FIELDS} | {"alert_key": key}, channels=("webhook",))
        for key in ("a", "b")
    ]

    outcomes = deliver(pending, {"webhook": BrokenChannel()}, policy)

    # Each alert fails after its retry; the error says nothing of the endpoint, so the second is still tried.
    assert [(o.alert_key, o.delivered, o.attempts, o.channel_down) for o in outcomes] == [
        ("a", False, 2, False),
        ("b", False, 2, False),
    ]
    assert outcomes[0].error.startswith("webhook failed: UnicodeEncodeError")


def flaky_settings(tmp_path: Path, port: int) -> Settings:
    """Settings delivering to a loopback webhook on ``port``: one retry, no wait between attempts."""
    return with_alert_settings(
        isolated_settings(tmp_path, tmp_path),
        alert_webhook_url=SecretStr(f"http://127.0.0.1:{port}/hook"),
        alert_delivery_timeout_seconds=2.0,
        alert_delivery_retries=1,
        alert_delivery_backoff_seconds=0.0,
    )


def accepted_keys(server: ThreadingHTTPServer) -> list[str]:
    """The alert key of every POST the webhook answered 2xx, sorted."""
    return sorted(key for key, status in server.answered if status == 204)


@pytest.mark.adversarial
def test_every_alert_is_delivered_exactly_once_over_ten_ticks_of_a_failing_then_recovering_webhook(tmp_path):
    alerts = (conversion_alert(dt.date(2025, 3, 24)), *(planted_alert(dt.date(2025, 3, day)) for day in (20, 21, 22)))
    keys = sorted(alert.key for alert in alerts)
    port = free_port()
    settings = flaky_settings(tmp_path, port)
    log = logging.getLogger("test_alerts")

    def tick(evaluate=None):
        return process_alerts(settings.warehouse_file, evaluate, alerting(settings), log)

    # Ticks 1-2: nothing listens (connection refused). Ticks 3-10: the webhook is up but answers its
    # first 3 requests with 503, then recovers.
    refused = [tick(fires(*alerts)), tick()]
    faults = WebhookFaults(failures_left=3)
    with webhook_server(port, faults) as server:
        later = [tick() for _ in range(8)]

    for report in refused:
        webhook = [outcome for outcome in report.deliveries if outcome.channel == "webhook"]
        # Connection refused says the endpoint is down: one alert is tried (with its retry), the rest wait.
        assert [(o.delivered, o.attempts, o.channel_down) for o in webhook] == [(False, 2, True)]
    statuses = [status for _, status in server.answered]
    assert statuses[:3] == [503, 503, 503], "the webhook failed its first 3 requests"
    assert accepted_keys(server) == keys, "each alert key accepted exactly once"
    assert len(server.received) == len(alerts)
    assert all(unquote(header) == body["idempotency_key"] for header, body in server.received)
    assert all(report.deliveries == [] for report in later[2:]), "nothing is sent once everything is delivered"
    assert [(row["alert_key"], row["webhook_delivery"], row["delivery_error"]) for row in stored_alerts(settings)] == [
        (key, "delivered", None) for key in keys
    ]


@pytest.mark.adversarial
def test_an_alert_the_webhook_always_refuses_does_not_hold_back_the_others(tmp_path):
    poisoned = conversion_alert(dt.date(2025, 3, 19))  # first in the order of delivery: fired first, same tick
    others = tuple(planted_alert(dt.date(2025, 3, day)) for day in (20, 21))
    late = planted_alert(dt.date(2025, 3, 23))
    with webhook_server(faults=WebhookFaults(refused_keys=frozenset({poisoned.key}))) as server:
        settings = flaky_settings(tmp_path, server.server_port)
        log = logging.getLogger("test_alerts")
        first = process_alerts(settings.warehouse_file, fires(poisoned, *others), alerting(settings), log)
        # A later alert fires: it goes out before the poisoned one is tried again.
        second = process_alerts(settings.warehouse_file, fires(late), alerting(settings), log)
        third = process_alerts(settings.warehouse_file, None, alerting(settings), log)

    webhook = [
        [(outcome.alert_key, outcome.delivered) for outcome in report.deliveries if outcome.channel == "webhook"]
        for report in (first, second, third)
    ]
    assert webhook == [
        [(poisoned.key, False), *((alert.key, True) for alert in others)],
        [(late.key, True), (poisoned.key, False)],
        [(poisoned.key, False)],
    ]
    assert accepted_keys(server) == sorted(alert.key for alert in (*others, late)), "each other alert once"
    assert [key for key, status in server.answered if status == 500] == [poisoned.key] * 6, "2 attempts a tick"
    stored = {row["alert_key"]: row for row in stored_alerts(settings)}
    assert (stored[poisoned.key]["webhook_delivery"], stored[poisoned.key]["delivery_error"]) == (
        "failed",
        f"webhook: 127.0.0.1:{server.server_port} answered HTTP 500",
    )
    assert {stored[alert.key]["webhook_delivery"] for alert in (*others, late)} == {"delivered"}
