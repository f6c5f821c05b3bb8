"""The console logger of the project's jobs: Dagster's own, with each step's start and end, and
without the stack traces of failures.

Dagster logs a step's start and success at DEBUG, so at the default INFO a long run printed
nothing between dbt's lines: a user could not tell a hang from work. Here they are INFO (the
success line says how long the step took). A failure a user's data or settings cause (a source
file without a required column, a bad mapping) is one line naming the file, column or setting;
the stack trace under it is for whoever debugs the code, so it is printed only at
``ANALYTICS_LOG_LEVEL=DEBUG``. Dagster's event log, and so the UI, keeps everything whatever the level.
"""

from __future__ import annotations

import logging

from dagster import DagsterEventType, InitLoggerContext, colored_console_logger, logger

STACK_TRACE = "\n\nStack Trace:"
"""Where Dagster's message of a failure event turns from the error to its stack trace."""


STEP_EVENTS = frozenset({DagsterEventType.STEP_START, DagsterEventType.STEP_SUCCESS})


class StepsAtInfo(logging.Filter):
    """Let through the records at ``level`` or above, and the steps' start and success as INFO."""

    def __init__(self, level: int) -> None:
        super().__init__()
        self.level = level

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= self.level:
            return True
        event = getattr(record, "dagster_event", None)
        if event is None or event.event_type not in STEP_EVENTS:
            return False
        record.levelno, record.levelname = logging.INFO, logging.getLevelName(logging.INFO)
        return True


class WithoutStackTraces(logging.Filter):
    """Cut a failure's message before its stack trace."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str) and STACK_TRACE in record.msg:
            record.msg = record.msg.split(STACK_TRACE, 1)[0]
        return True


@logger(
    colored_console_logger.config_schema,
    description="Dagster's console logger; failures without their stack trace unless log_level is DEBUG.",
)
def console_logger(init_context: InitLoggerContext) -> logging.Logger:
    log = colored_console_logger.logger_fn(init_context)
    level = log.level
    if level <= logging.DEBUG:
        return log
    if level == logging.INFO:
        # The steps' DEBUG records must reach the handler for StepsAtInfo to pass them on.
        log.setLevel(logging.DEBUG)
    for handler in log.handlers:
        handler.setLevel(log.level)
        handler.addFilter(StepsAtInfo(level))
        handler.addFilter(WithoutStackTraces())
    return log
