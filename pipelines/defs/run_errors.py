"""What a failed run says in one line: its first failed step and that step's own error."""

from __future__ import annotations

from collections.abc import Iterable

from dagster import DagsterEvent


def first_step_error(step_failures: Iterable[DagsterEvent]) -> str | None:
    """``step <key>: <message>`` of the first failed step, None if no step failed."""
    for event in step_failures:
        error = event.step_failure_data.error
        # Dagster wraps the asset's own exception; its message is the innermost cause's.
        while error is not None and error.cause is not None:
            error = error.cause
        if error is not None:
            return f"step {event.step_key}: {error.message.strip()}"
    return None
