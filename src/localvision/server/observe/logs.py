"""Log lines: every log record (app errors, uvicorn's own lines) as one JSON object per line, or as
plain text for people at a terminal; and the access log, one line per request on the
"localvision.access" logger (a sink of the request observer, server/observe/observer.py).
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict
from datetime import datetime, timezone
from typing import Any

from .observer import AccessRecord, current_request_id

access_log = logging.getLogger("localvision.access")


class AccessLog:
    """The observer's sink that writes one access line per request."""

    def started(self) -> None:
        pass

    def finished(self, record: AccessRecord) -> None:
        access_log.info(record.message, extra={"fields": asdict(record)})


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the request id when the record was
    logged while handling a request, an access record's fields, and a traceback as text."""

    def format(self, record: logging.LogRecord) -> str:
        when = datetime.fromtimestamp(record.created, timezone.utc)
        out: dict[str, Any] = {
            "time": when.isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = current_request_id()
        if request_id:
            out["request_id"] = request_id
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            out.update(fields)
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        if record.stack_info:
            out["stack"] = self.formatStack(record.stack_info)
        # json.dumps escapes control characters, so a record is always exactly one line.
        return json.dumps(out, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """Plain lines for people at a terminal; the request id is appended when there is one."""

    def __init__(self):
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        fields = getattr(record, "fields", None)
        request_id = fields.get("request_id") if isinstance(fields, dict) else current_request_id()
        if request_id:
            line += f" [{request_id}]"
        if isinstance(fields, dict) and fields.get("error"):
            line += f" error={fields['error']}"
        return line


def logging_config(log_format: str = "json", level: str = "INFO") -> dict:
    """A logging.config.dictConfig for `localvision serve` (uvicorn.run's log_config): uvicorn's
    lines and ours through one formatter on stderr; uvicorn's access log off (ours replaces it)."""
    formatter = JsonFormatter if log_format == "json" else TextFormatter
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"default": {"()": f"{__name__}.{formatter.__name__}"}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "default",
                "stream": "ext://sys.stderr",
            }
        },
        "loggers": {
            "uvicorn": {"handlers": ["stderr"], "level": level, "propagate": False},
            "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
            "localvision": {"handlers": ["stderr"], "level": level, "propagate": False},
        },
    }
