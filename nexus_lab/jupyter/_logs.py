"""The server extension's log: one JSON object per line on ``nexus_lab.jupyter``.

Every API request writes one line (``time, user, method, route, status, ms``), for a
log shipper to read as is; the extension's other messages are JSON lines too. The
handler is added to ``nexus_lab.jupyter`` only (never to the root logger), once.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import datetime, timezone

__all__ = ["JsonFormatter", "json_handler", "log"]

log = logging.getLogger("nexus_lab.jupyter")

# the fields of a LogRecord itself: whatever else a record holds was given with extra=
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message",
                                                                         "asctime"}


class JsonFormatter(logging.Formatter):
    """A record as one line of JSON: ``time`` (ISO 8601, UTC), ``level``, ``logger``,
    ``message``, and the fields given with ``extra=``."""

    def format(self, record: logging.LogRecord) -> str:
        line = {"time": datetime.fromtimestamp(record.created, timezone.utc)
                .isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                "level": record.levelname.lower(), "logger": record.name,
                "message": record.getMessage()}
        line.update({k: v for k, v in vars(record).items() if k not in _STANDARD})
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def json_handler() -> logging.Handler:
    """The handler that writes ``nexus_lab.jupyter``'s JSON lines (to stderr, as Jupyter
    Server's own log), added to that logger on first use."""
    for handler in log.handlers:
        if isinstance(handler.formatter, JsonFormatter):
            return handler
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False  # its lines are JSON already: the root's handlers would repeat them
    return handler
