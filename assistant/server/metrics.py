"""Prometheus metrics served at /metrics: HTTP traffic, and per-turn numbers read from each Reply.

The engine only measures (Reply.timings); this module records, so the facade stays free of any
metrics library. The routes call `observe_reply(reply, mode)` once per finished turn; the
`HTTPMetrics` middleware counts every request by its route template (never the raw path, which
holds conversation ids). Metrics are process-wide (prometheus-client's default registry, which
also carries process_* CPU and memory series); run one server process per container.

Series (all prefixed `assistant_`): http_requests_total, http_request_duration_seconds,
http_requests_in_flight, chat_turns_total{route,mode}, time_to_first_token_seconds,
generation_tokens_per_second, completion_tokens_total, retrieval_duration_seconds,
understanding_duration_seconds, turn_duration_seconds, handoffs_total{reason}, abstentions_total,
engine_queue_depth, ready.
"""

from __future__ import annotations

from typing import Any, get_args

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Gauge, Histogram, generate_latest
from starlette.types import Scope

from assistant.engine.events import Handoff, Reply, Route
from assistant.server.request_timing import TimedRequest

# Seconds: SSE streams and CPU generation run long, so the buckets reach two minutes.
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
_TOKENS_PER_S_BUCKETS = (1, 2, 5, 10, 20, 35, 50, 75, 100, 150, 250, 500, 1000)

HTTP_REQUESTS = Counter("assistant_http_requests", "HTTP requests by method, route template and status.",
                        ["method", "route", "status"])
HTTP_LATENCY = Histogram("assistant_http_request_duration_seconds",
                         "Time to the last byte of the response (the whole stream for SSE).",
                         ["method", "route"], buckets=_LATENCY_BUCKETS)
HTTP_IN_FLIGHT = Gauge("assistant_http_requests_in_flight", "Requests being served now (open streams included).")
TURNS = Counter("assistant_chat_turns", "Finished chat turns by answer route and response mode.", ["route", "mode"])
TTFT = Histogram("assistant_time_to_first_token_seconds",
                 "From the customer message to the first answer token (templates: to the whole answer).",
                 buckets=_LATENCY_BUCKETS)
TOKENS_PER_S = Histogram("assistant_generation_tokens_per_second", "Decode speed of generated answers.",
                         buckets=_TOKENS_PER_S_BUCKETS)
COMPLETION_TOKENS = Counter("assistant_completion_tokens", "Tokens generated for answers.")
RETRIEVAL = Histogram("assistant_retrieval_duration_seconds", "Knowledge-base search time per turn.",
                      buckets=_LATENCY_BUCKETS)
UNDERSTANDING = Histogram("assistant_understanding_duration_seconds", "Intent + sentiment time per turn.",
                          buckets=_LATENCY_BUCKETS)
TURN_DURATION = Histogram("assistant_turn_duration_seconds", "Whole turn, message to stored reply.",
                          buckets=_LATENCY_BUCKETS)
HANDOFFS = Counter("assistant_handoffs", "Conversations handed to a person, by reason.", ["reason"])
ABSTENTIONS = Counter("assistant_abstentions", "Turns where the assistant said it does not know.")
QUEUE_DEPTH = Gauge("assistant_engine_queue_depth", "Requests waiting for a generation slot (read at scrape).")
READY = Gauge("assistant_ready", "1 when models and index are loaded and the server takes chats.")

ROUTES = get_args(Route)
MODES = ("json", "stream")
for _route in ROUTES:
    for _mode in MODES:
        TURNS.labels(_route, _mode)  # export zeros, so rates and alerts work before the first turn
for _reason in get_args(Handoff.model_fields["reason"].annotation):
    HANDOFFS.labels(_reason)


def observe_reply(reply: Reply, mode: str) -> None:
    """Record one finished turn from its Reply (mode: "json" or "stream")."""
    t = reply.timings
    TURNS.labels(reply.route, mode).inc()
    UNDERSTANDING.observe(t.understanding_ms / 1000)
    TURN_DURATION.observe(t.total_ms / 1000)
    if t.retrieval_ms > 0:
        RETRIEVAL.observe(t.retrieval_ms / 1000)
    if t.ttft_ms is not None:
        TTFT.observe(t.ttft_ms / 1000)
    if t.tokens_per_second is not None:
        TOKENS_PER_S.observe(t.tokens_per_second)
    if t.completion_tokens:
        COMPLETION_TOKENS.inc(t.completion_tokens)
    if reply.abstained:
        ABSTENTIONS.inc()
    if reply.handoff is not None:
        HANDOFFS.labels(reply.handoff.reason).inc()


def sample_state(state: Any) -> None:
    """Gauges that are read, not counted: refreshed at each scrape from the app's state."""
    READY.set(1 if state.ready else 0)
    QUEUE_DEPTH.set(state.assistant.model.queue_depth() if state.assistant is not None else 0)


def exposition() -> tuple[bytes, str]:
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


def route_label(scope: Scope) -> str:
    """The matched route's template (/v1/conversations/{conversation_id}), or "unmatched"."""
    route = scope.get("route")
    path = getattr(route, "path", None) or getattr(route, "path_format", None)
    return path if path else "unmatched"


class HTTPMetrics(TimedRequest):
    """ASGI middleware: count and time every HTTP request, streaming responses until their last byte."""

    def started(self, scope: Scope) -> None:
        HTTP_IN_FLIGHT.inc()

    def finished(self, scope: Scope, status: int, seconds: float) -> None:
        HTTP_IN_FLIGHT.dec()
        route, method = route_label(scope), scope.get("method", "")
        HTTP_REQUESTS.labels(method, route, str(status)).inc()
        HTTP_LATENCY.labels(method, route).observe(seconds)

