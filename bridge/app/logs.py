"""How ``quay-bridge run`` writes its log: text for people, one JSON object per line for machines.

The operator's log is what an admin reads first, so the two formats carry the same facts: the time
(UTC, ISO 8601), the level, the logger's name, the message, and the structured fields a call site
passes with ``extra=`` (``namespace``, ``org``, ``robot``, ``secret``, ...). Log collectors (Loki,
Elasticsearch, OpenShift Logging) index the JSON form's fields without parsing the message. The
formatters are pure: :func:`configure` is the only function with an effect.
"""

from __future__ import annotations

import datetime
import json
import logging
import sys
from typing import Literal

LogFormat = Literal["text", "json"]
FORMATS: tuple[LogFormat, ...] = ("text", "json")
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")

#: Attributes every ``logging.LogRecord`` has; whatever else a record carries came from ``extra=``.
#: kopf's per-object loggers also attach their settings and a skip flag, which are no facts.
_STANDARD = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", None, None)).keys()
    | {"message", "asctime", "taskName", "settings", "k8s_skip"}
)


def fields_of(record: logging.LogRecord) -> dict[str, object]:
    """Return the structured fields a call site attached to ``record`` with ``extra=``."""
    return {key: value for key, value in vars(record).items() if key not in _STANDARD}


def _timestamp(record: logging.LogRecord) -> str:
    moment = datetime.datetime.fromtimestamp(record.created, tz=datetime.UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class JSONFormatter(logging.Formatter):
    """One JSON object per line: ``time``, ``level``, ``logger``, ``message``, then the fields."""

    def format(self, record: logging.LogRecord) -> str:
        """Render ``record``; values JSON cannot hold are written as their ``str``."""
        entry: dict[str, object] = {
            "time": _timestamp(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in fields_of(record).items():
            entry.setdefault(key, value)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """``<time> <LEVEL> <logger>: <message> key=value ...``, one line (plus any traceback)."""

    def format(self, record: logging.LogRecord) -> str:
        """Render ``record`` with its structured fields appended as ``key=value``."""
        line = f"{_timestamp(record)} {record.levelname} {record.name}: {record.getMessage()}"
        extra = fields_of(record)
        if extra:
            line += " " + " ".join(f"{key}={value}" for key, value in extra.items())
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def configure(level: str = "INFO", log_format: LogFormat = "text") -> None:
    """Send every logger's records to stderr in ``log_format`` at ``level`` and above.

    kopf's own loggers stay at WARNING unless ``level`` is DEBUG: at INFO they would repeat, for
    every namespace event, what the operator's own lines already say.
    """
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JSONFormatter() if log_format == "json" else TextFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    numeric = logging.getLevelName(level.upper())
    root.setLevel(numeric if isinstance(numeric, int) else logging.INFO)
    logging.getLogger("kopf").setLevel(
        logging.DEBUG if root.level <= logging.DEBUG else logging.WARNING
    )
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
