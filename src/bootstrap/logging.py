"""structlog for our own logs and the standard library's (the core logs through `logging`).

A record is only queued by the thread that logs it (a request on the event loop, a worker): a
listener thread renders and writes it, so a slow terminal or a long traceback never holds up a
request. Tracebacks never show local variables (they may hold tokens and passwords): plain text on
the console, a list of frames (`exception`) in JSON lines.
"""

from __future__ import annotations

import atexit
import logging
import logging.handlers
import queue
import sys

import structlog
from structlog.tracebacks import ExceptionDictTransformer

from application import log_context

_listener: logging.handlers.QueueListener | None = None


class _Stderr(logging.StreamHandler):
    """Writes to whatever `sys.stderr` is when the record is written (a test runner swaps it)."""

    @property  # type: ignore[override]
    def stream(self):  # noqa: ANN201
        return sys.stderr

    @stream.setter
    def stream(self, _value: object) -> None:
        pass


class _PassThroughQueueHandler(logging.handlers.QueueHandler):
    """Queues the record itself: the structlog formatter runs on the listener's thread."""

    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        record.bound_context = {**structlog.contextvars.get_contextvars(), **log_context.current()}
        return record


def _merge_bound_context(_logger: object, _name: str, event_dict: structlog.typing.EventDict
                         ) -> structlog.typing.EventDict:
    for key, value in getattr(event_dict.get("_record"), "bound_context", {}).items():
        event_dict.setdefault(key, value)
    return event_dict


def _exception_here(_logger: object, _name: str, event_dict: structlog.typing.EventDict
                    ) -> structlog.typing.EventDict:
    """`log.exception()` / `exc_info=True` mean the exception this thread handles, not the listener's."""
    if event_dict.get("exc_info") is True:
        event_dict["exc_info"] = sys.exc_info()[1]
    return event_dict


def _librdkafka_fields(_logger: object, _name: str, event_dict: structlog.typing.EventDict
                       ) -> structlog.typing.EventDict:
    """librdkafka's lines (every Kafka client's `logger`) as fields: facility, client, and the text."""
    args = event_dict.pop("positional_args", ())
    if event_dict["_record"].name == "librdkafka" and len(args) == 3:
        event_dict["facility"], event_dict["client"], event_dict["event"] = args
    return event_dict


def configure_logging(level: str = "INFO", json: bool = False) -> None:
    global _listener
    # no line carries the caller's file and line, thread or process: the standard library then neither walks
    # the stack nor asks for them on each record (its documented optimisation; a worker logs a line per
    # handled event, and this halves what that line costs the thread that logs it)
    logging._srcfile = None
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    if json:
        exceptions = structlog.processors.ExceptionRenderer(ExceptionDictTransformer(show_locals=False))
        final = [exceptions, structlog.processors.JSONRenderer()]
    else:
        final = [structlog.dev.ConsoleRenderer(colors=False, exception_formatter=structlog.dev.plain_traceback)]
    shared = [structlog.processors.add_log_level, structlog.processors.TimeStamper(fmt="iso", utc=True)]
    structlog.configure(
        processors=[_exception_here, *shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        cache_logger_on_first_use=True,
    )
    output = _Stderr()
    output.setFormatter(structlog.stdlib.ProcessorFormatter(
        processors=[_merge_bound_context, structlog.stdlib.ProcessorFormatter.remove_processors_meta, *final],
        foreign_pre_chain=[_librdkafka_fields, *shared, structlog.stdlib.add_logger_name], pass_foreign_args=True,
    ))
    _flush()
    records: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
    _listener = logging.handlers.QueueListener(records, output, respect_handler_level=False)
    _listener.start()
    root = logging.getLogger()
    root.handlers[:] = [_PassThroughQueueHandler(records)]
    root.setLevel(level.upper())


@atexit.register
def _flush() -> None:
    global _listener
    if _listener is not None:
        _listener.stop()  # writes what is queued
        _listener = None
