"""The console logger of the project's jobs: Dagster's own, without the stack traces of failures.

A failure a user's data or settings cause (a source file without a required column, a bad
mapping) is one line naming the file, column or setting; the stack trace under it is for whoever
debugs the code, so it is printed only at ``ANALYTICS_LOG_LEVEL=DEBUG``. Dagster's event log, and
so the UI, keeps every stack trace whatever the level.
"""

from __future__ import annotations

import logging

from dagster import InitLoggerContext, colored_console_logger, logger

STACK_TRACE = "\n\nStack Trace:"
"""Where Dagster's message of a failure event turns from the error to its stack trace."""


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
    if log.level > logging.DEBUG:
        for handler in log.handlers:
            handler.addFilter(WithoutStackTraces())
    return log
