"""Delivering alerts: the log always, a webhook (HTTP POST of JSON) and Slack when configured.

Every request has a timeout and a bounded number of retries
(:class:`pipelines.settings.DeliverySettings`); a delivery that still fails is reported as failed,
never raised, so the sensor stores it as failed and tries again on its next tick.

One alert's failure never holds back the others. The rule, within one tick:

- A failure that says the *endpoint* is down (no connection, no answer within the timeout, an answer
  that is not HTTP: :attr:`DeliveryError.channel_down`) stops that channel for the rest of the tick:
  an endpoint that is down costs one bounded attempt per tick, not one per alert.
- A failure of *this alert* (the endpoint answered, but not 2xx: a 400 or a 500 for this payload;
  Slack's ``"ok": false``; anything unexpected a channel raises) is recorded for that alert only, and
  the channel goes on with the next one.
- Alerts that have failed before go after those never tried
  (:func:`pipelines.warehouse.alert_store.pending_deliveries`), so a poisoned alert that fails
  every tick cannot use up the tick's budget ahead of new ones.

Every failure of the transport counts: no connection, an answer that is not HTTP (the receiver
speaks another protocol, or breaks off mid-answer: ``http.client.HTTPException``), no answer within
the timeout. A tick's deliveries must end well inside Dagster's sensor tick limit, or the tick is
cut off before it records them and they are sent again: :data:`DELIVERY_BUDGET_SECONDS` bounds
its ``worst_case_seconds`` summed over the channels (checked in :mod:`pipelines.settings`).

Delivery is at least once: a receiver that answers after the timeout, or a tick that stops between
sending and recording, means the same alert arrives again. Every payload carries an
``idempotency_key`` (also the ``Idempotency-Key`` header of the webhook) to drop such repeats by.
"""

from __future__ import annotations

import datetime as dt
import http.client
import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import quote, urlsplit

from pydantic import SecretStr
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from pipelines.settings import DELIVERY_BUDGET_SECONDS, DeliverySettings
from pipelines.warehouse.alert_store import PendingDelivery

SLACK_API = WebClient.BASE_URL
HEADER_SAFE = "".join(chr(code) for code in range(0x21, 0x7F) if chr(code) != "%")
"""Printable ASCII but ``%``: what a header value keeps as it is (HTTP/1.1 headers are Latin-1 bytes)."""
TRANSPORT_ERRORS = (OSError, http.client.HTTPException)
"""What an HTTP exchange can raise besides an HTTP status: no connection or a timeout (``OSError``,
``urllib.error.URLError`` among them) and an answer that is not HTTP (``http.client.BadStatusLine``
and the other ``http.client.HTTPException`` classes, which are not ``OSError`` ones)."""

PAYLOAD_FIELDS = (
    "alert_key",
    "rule",
    "severity",
    "status",
    "subject",
    "alert_date",
    "metric",
    "observed",
    "expected",
    "threshold",
    "message",
    "fired_at",
    "resolved_at",
)


class DeliveryError(Exception):
    """One attempt to deliver an alert on a channel failed; ``channel_down`` when the endpoint itself is
    unreachable (so other alerts would fail the same way), not when it refused this alert."""

    def __init__(self, message: str, *, channel_down: bool) -> None:
        super().__init__(message)
        self.channel_down = channel_down


class Logger(Protocol):
    """What the log channel needs of a logger (Dagster's context.log or a ``logging.Logger``)."""

    def warning(self, msg: str) -> None: ...


class Channel(Protocol):
    """A way to deliver an alert."""

    name: str

    def send(self, payload: Mapping[str, object]) -> None:
        """Deliver ``payload`` (see :func:`alert_payload`) or raise :class:`DeliveryError`."""
        ...


def configured_channels(delivery: DeliverySettings, log: Logger, slack_base_url: str = SLACK_API) -> dict[str, Channel]:
    """The channels ``delivery`` turns on, by name, the log channel writing to ``log`` (``slack_base_url``:
    Slack's Web API, another only for a stand-in server such as the tests' loopback one)."""
    channels: dict[str, Channel] = {"log": LogChannel(log)}
    if delivery.webhook_url is not None:
        channels["webhook"] = WebhookChannel(delivery.webhook_url, delivery.delivery_timeout_seconds)
    if delivery.slack_token is not None:
        client = WebClient(token=delivery.slack_token.get_secret_value())
        channels["slack"] = SlackChannel(
            slack_client(client, delivery.delivery_timeout_seconds, slack_base_url), delivery.slack_channel
        )
    return channels


@dataclass(frozen=True)
class DeliveryOutcome:
    """One channel's delivery of one alert in a tick."""

    alert_key: str
    channel: str
    delivered: bool
    attempts: int
    error: str | None
    channel_down: bool = False
    """The last failure said the endpoint is down: the channel is not tried again in this tick."""


def header_value(text: str) -> str:
    """``text`` fit for an HTTP header: printable ASCII kept, everything else (``→`` in a conversion
    alert's key, ``%``, spaces) percent-encoded as UTF-8, so a receiver decodes it back to the
    payload's ``idempotency_key`` with any URL decoder."""
    return quote(text, safe=HEADER_SAFE)


def alert_payload(alert: Mapping[str, object]) -> dict[str, object]:
    """The JSON document of an alert row: its :data:`PAYLOAD_FIELDS` (dates as ISO text) and the
    ``idempotency_key`` ``<alert_key>@<fired_at>``, which changes only when a resolved alert fires again."""
    payload = {name: _json_value(alert[name]) for name in PAYLOAD_FIELDS}
    return {**payload, "idempotency_key": f"{payload['alert_key']}@{payload['fired_at']}"}


@dataclass(frozen=True)
class LogChannel:
    """Alerts as warnings in the sensor's log (the Dagster UI shows them on the tick)."""

    log: Logger
    name: str = "log"

    def send(self, payload: Mapping[str, object]) -> None:
        self.log.warning(f"[{payload['severity']}] {payload['alert_key']}: {payload['message']}")


@dataclass(frozen=True)
class WebhookChannel:
    """HTTP POST of the JSON payload; any answer but 2xx, an answer that is not HTTP, and no answer
    within the timeout, fail."""

    url: SecretStr
    timeout_seconds: float
    name: str = "webhook"

    def send(self, payload: Mapping[str, object]) -> None:
        request = urllib.request.Request(
            self.url.get_secret_value(),
            data=json.dumps(payload).encode(),
            headers={
                "Content-Type": "application/json",
                "Idempotency-Key": header_value(str(payload["idempotency_key"])),
            },
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_seconds):
                return
        # The URL may hold a token: errors name only its host, and are not chained.
        # An HTTP status is the endpoint's answer to this alert; the others say the endpoint is down.
        except urllib.error.HTTPError as error:
            raise DeliveryError(f"{self.host} answered HTTP {error.code}", channel_down=False) from None
        except urllib.error.URLError as error:
            raise DeliveryError(f"{self.host} unreachable: {error.reason}", channel_down=True) from None
        # urllib wraps only the sending in URLError: waiting for and reading the answer raise bare.
        except TimeoutError:
            raise DeliveryError(
                f"{self.host} did not answer within {self.timeout_seconds:g} s", channel_down=True
            ) from None
        except TRANSPORT_ERRORS as error:
            raise DeliveryError(
                f"{self.host} gave no HTTP answer: {type(error).__name__}: {error}", channel_down=True
            ) from None

    @property
    def host(self) -> str:
        """``host:port`` of the URL, safe to show."""
        parts = urlsplit(self.url.get_secret_value())
        return f"{parts.hostname}:{parts.port}" if parts.port else str(parts.hostname)


@dataclass(frozen=True)
class SlackChannel:
    """A message to a Slack channel through slack_sdk's Web API client; an answer ``"ok": false``
    (slack_sdk's ``SlackApiError``) and any transport failure fail."""

    client: WebClient
    channel: str
    name: str = "slack"

    def send(self, payload: Mapping[str, object]) -> None:
        text = f"*{str(payload['severity']).upper()}* {payload['rule']} ({payload['subject']}): {payload['message']}"
        try:
            self.client.chat_postMessage(channel=self.channel, text=text)
        # Slack answered "ok": false to this message (a bad channel, a message too long).
        except SlackApiError as error:
            raise DeliveryError(f"Slack: {error}", channel_down=False) from None
        except (SlackClientError, *TRANSPORT_ERRORS) as error:
            raise DeliveryError(f"Slack: {error}", channel_down=True) from None


def slack_client(client: WebClient, timeout_seconds: float, base_url: str) -> WebClient:
    """``client`` with the delivery timeout and without slack_sdk's own retries, so that
    the delivery settings' retries alone bound the attempts, talking to the Web API at ``base_url``."""
    client.timeout = timeout_seconds
    # WebClient appends the method name to its base URL, which must end in a slash as its own does.
    client.base_url = base_url if base_url.endswith("/") else f"{base_url}/"
    client.retry_handlers = []
    return client


def send_with_retries(
    channel: Channel,
    payload: Mapping[str, object],
    policy: DeliverySettings,
    sleep: Callable[[float], None] = time.sleep,
) -> DeliveryOutcome:
    """Send ``payload``, retrying up to ``policy.delivery_retries`` times with doubling waits; the
    outcome holds the attempts made and, if all failed, the last error and whether it said the
    endpoint is down."""
    error, channel_down = None, False
    # The same waits as DeliverySettings.worst_case_seconds counts, so the settings' budget check holds.
    for attempt, wait in enumerate([0.0, *policy.retry_waits()]):
        if attempt:
            sleep(wait)
        try:
            channel.send(payload)
        except DeliveryError as failure:
            error, channel_down = str(failure), failure.channel_down
        # Anything else a channel raises is a failed delivery of this alert too, never a crashed tick
        # (a tick that crashes records nothing and sends every pending alert again on the next one),
        # and says nothing about the endpoint: the other alerts are still tried.
        except Exception as failure:
            error, channel_down = f"{channel.name} failed: {type(failure).__name__}: {failure}", False
        else:
            return DeliveryOutcome(str(payload["alert_key"]), channel.name, True, attempt + 1, None)
    return DeliveryOutcome(
        str(payload["alert_key"]), channel.name, False, policy.delivery_retries + 1, error, channel_down
    )


def deliver(
    pending: Sequence[PendingDelivery],
    channels: Mapping[str, Channel],
    policy: DeliverySettings,
    *,
    budget_seconds: float = DELIVERY_BUDGET_SECONDS,
    clock: Callable[[], float] = time.monotonic,
) -> list[DeliveryOutcome]:
    """Deliver each pending alert on its channels, in the order given; a channel whose endpoint is
    down is not tried again in this call (it waits for the next tick), one that refused an alert is
    tried with the next (the module's docstring gives the rule).

    No delivery starts that could end after ``budget_seconds``: many alerts that each take a
    while could otherwise outlast the tick even when none fails. What is left stays pending and
    goes out on the next tick (it has no outcome here, so its stored state does not change).
    """
    outcomes, down_channels = [], set()
    started = clock()
    for item in pending:
        payload = alert_payload(item.alert)
        for name in item.channels:
            if name in down_channels:
                continue
            if clock() - started + policy.worst_case_seconds > budget_seconds:
                return outcomes
            outcome = send_with_retries(channels[name], payload, policy)
            if outcome.channel_down:
                down_channels.add(name)
            outcomes.append(outcome)
    return outcomes


def _json_value(value: object) -> object:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return value
