"""Structured server logs: one JSON object per line, each with the request id, and no raw PII.

    configure_logging(settings)                                   (assistant serve does both)
    uvicorn.run(app, log_config=log_config(settings), access_log=False)

- Request ids: `X-Request-ID` from the caller (or the ingress) when it is a sane token, else a new
  one; echoed on the response and attached to every log line written while serving the request,
  engine threads included (asgi-correlation-id keeps it in a context variable).
- Access lines come from `AccessLog`: method, route template, status and duration. Never the raw
  path or query string (ids, keys), the client address, or a body.
- Every message and traceback passes the PII redactor (e-mail, card, IBAN, phone, IP) before it is
  written, as a second line of defence: code should not log customer text in the first place.
"""

from __future__ import annotations

import logging
import logging.config
import re
from typing import Any

from asgi_correlation_id import CorrelationIdMiddleware
from starlette.types import Scope

from assistant.engine.privacy import Redactor
from assistant.engine.settings import Settings
from assistant.server.metrics import route_label
from assistant.server.request_timing import TimedRequest

log = logging.getLogger("assistant.access")

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
QUIET_ROUTES = frozenset({"/healthz", "/readyz", "/metrics"})  # probes and scrapes: debug level only
JSON_FIELDS = "%(asctime)s %(levelname)s %(name)s %(message)s %(correlation_id)s"
LOG_FORMAT = "json"  # one JSON object per line, for log collectors ("text": one readable line per record)


def valid_request_id(value: str) -> bool:
    """Accept ids from load balancers (uuids, hex, nginx $request_id); refuse anything that could smuggle text."""
    return bool(_REQUEST_ID.match(value))


class RedactPII(logging.Filter):
    """Rewrites each record's message (args merged) and traceback through the PII redactor."""

    def __init__(self, name: str = "") -> None:
        super().__init__(name)
        self.redactor = Redactor()

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = self.redactor.redact(record.getMessage()), None
        record.__dict__.pop("color_message", None)  # uvicorn's ANSI-coloured copy of the message
        if record.exc_info:
            record.exc_text = self.redactor.redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True


def log_config(settings: Settings) -> dict[str, Any]:
    """A logging.config.dictConfig for the whole process (uvicorn applies it before serving).

    Python warnings are routed into logging too, so nothing but JSON reaches stderr.
    """
    logging.captureWarnings(True)
    level = settings.server.log_level.upper()
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {
            "request_id": {"()": "asgi_correlation_id.CorrelationIdFilter", "default_value": "-"},
            "pii": {"()": RedactPII},
        },
        "formatters": {
            "json": {
                "()": "pythonjsonlogger.json.JsonFormatter",
                "fmt": JSON_FIELDS,
                "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger",
                                  "correlation_id": "request_id"},
                "datefmt": "%Y-%m-%dT%H:%M:%S%z",
            },
            "text": {"format": "%(asctime)s %(levelname)-7s %(name)s [%(correlation_id)s] %(message)s"},
        },
        "handlers": {
            "stderr": {"class": "logging.StreamHandler", "stream": "ext://sys.stderr",
                       "formatter": LOG_FORMAT, "filters": ["request_id", "pii"]},
        },
        "root": {"handlers": ["stderr"], "level": level},
        "loggers": {
            # uvicorn's own handlers would bypass the JSON formatter; its access log would write raw paths.
            "uvicorn": {"handlers": [], "propagate": True, "level": level},
            "uvicorn.error": {"handlers": [], "propagate": True, "level": level},
            "uvicorn.access": {"handlers": [], "propagate": False, "level": "WARNING"},
            "alembic": {"level": "WARNING"},  # its per-connection chatter; ensure_schema logs what changed
        },
    }


def configure_logging(settings: Settings) -> None:
    """Apply log_config now, so lines written while the app is built (before uvicorn starts) are JSON too."""
    logging.config.dictConfig(log_config(settings))


class AccessLog(TimedRequest):
    """ASGI middleware: one structured line per finished request (streams: when the stream ends)."""

    def finished(self, scope: Scope, status: int, seconds: float) -> None:
        route, method = route_label(scope), scope.get("method", "")
        level = logging.DEBUG if route in QUIET_ROUTES else logging.INFO
        log.log(level, "%s %s %s", method, route, status, extra={
            "method": method, "route": route, "status": status, "duration_ms": round(seconds * 1000, 1),
        })


def install_request_logging(app: Any) -> None:
    """Add the access log inside the request-id middleware, so the access line carries the id."""
    app.add_middleware(AccessLog)
    app.add_middleware(CorrelationIdMiddleware, header_name="X-Request-ID", validator=valid_request_id)
