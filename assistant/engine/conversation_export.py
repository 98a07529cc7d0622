"""Conversation exports for analysis, audits and quality reviews: JSONL or CSV, filtered, redacted.

    export = ConversationExport.open(settings)                       # the CLI: the store only, no models
    n = export.write(sys.stdout, "csv", ExportFilter(site_id="acme", route="abstain", sentiment="negative"))
    n = assistant.exports.write(out, "jsonl", ExportFilter(...))      # routes and console: through the facade

JSONL holds one conversation a line, with its messages; CSV one message a row (a spreadsheet's shape).
A conversation is exported when it belongs to the site, was active in [since, until) (its last activity,
as GET /v1/conversations filters), and, when asked, has an assistant reply on `route` and a customer message
of `sentiment`: whole conversations are exported, never a filtered-out half of one.

Redacted: customer text is already stored redacted (assistant.engine.privacy); every message, the
assistant's and the agents' included, goes through the same redaction again on the way out, so an e-mail
address a customer left for a call-back or an agent quoted never reaches the file. CSV cells that a
spreadsheet would run as a formula (=, +, -, @) are prefixed with a quote.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TextIO, get_args

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from assistant.engine.audit import AuditLog
from assistant.engine.events import Route
from assistant.engine.privacy import redact
from assistant.engine.settings import Settings
from assistant.engine.store import Conversation, Message, Store

FORMATS = ("jsonl", "csv")
ROUTES: tuple[str, ...] = get_args(Route)
SENTIMENTS = ("negative", "neutral", "positive")
CSV_COLUMNS = ["conversation_id", "site_id", "status", "seq", "at", "role", "author", "content", "intent",
               "sentiment", "route", "sources"]
_BATCH = 200  # conversations loaded at a time: a year of a busy site's chats never sits in memory at once
_FORMULA = ("=", "+", "-", "@", "\t", "\r")


class ExportError(ValueError):
    """A bad export request (format, route, sentiment or period); the message says which."""


@dataclass(frozen=True)
class ExportFilter:
    site_id: str | None = None  # None: every site (the CLI's operator); routes always pass the caller's
    since: datetime | None = None
    until: datetime | None = None
    route: str | None = None  # conversations with an assistant reply on this route (abstain, handoff, ...)
    sentiment: str | None = None  # conversations with a customer message of this sentiment

    def check(self) -> ExportFilter:
        if self.route is not None and self.route not in ROUTES:
            raise ExportError(f"unknown route {self.route!r}; one of {', '.join(ROUTES)}")
        if self.sentiment is not None and self.sentiment not in SENTIMENTS:
            raise ExportError(f"unknown sentiment {self.sentiment!r}; one of {', '.join(SENTIMENTS)}")
        if self.since and self.until and self.since >= self.until:
            raise ExportError("the period is empty: since must be before until")
        return self


class ConversationExport:
    def __init__(self, store: Store, security: Any) -> None:
        self._store = store
        self._security = security  # the redaction patterns (security.redact_patterns)

    @classmethod
    def open(cls, settings: Settings) -> ConversationExport:
        """On the configured database, without building an Assistant (no model is loaded)."""
        return cls(Store(settings.resolved_database_url), settings.security)

    def write(self, out: TextIO, fmt: str, where: ExportFilter, *, actor: str | None = None) -> int:
        """Write the matching conversations to `out`; the number written. With `actor`, the export is
        recorded in the audit log of the site (or of each site, for an all-sites export)."""
        if fmt not in FORMATS:
            raise ExportError(f"unknown format {fmt!r}; one of {', '.join(FORMATS)}")
        where.check()
        writer = csv.DictWriter(out, CSV_COLUMNS, lineterminator="\n") if fmt == "csv" else None
        if writer is not None:
            writer.writeheader()
        count, sites = 0, set()
        for conversation in self._conversations(where):
            count += 1
            sites.add(conversation.site_id)
            if writer is None:
                out.write(json.dumps(self._record(conversation), ensure_ascii=False) + "\n")
            else:
                writer.writerows(self._rows(conversation))
        if actor:
            detail = {"format": fmt, "conversations": count, "route": where.route, "sentiment": where.sentiment,
                      "since": where.since.isoformat() if where.since else None,
                      "until": where.until.isoformat() if where.until else None}
            log = AuditLog(self._store)
            for site_id in sorted({where.site_id} if where.site_id else sites):
                log.record(site_id, actor, "export", "export:conversations", detail)
        return count

    # -- selecting ------------------------------------------------------------------------------
    def _conversations(self, where: ExportFilter) -> Iterator[Conversation]:
        query = select(Conversation.id)
        if where.site_id:
            query = query.where(Conversation.site_id == where.site_id)
        if where.since:
            query = query.where(Conversation.updated_at >= where.since)
        if where.until:
            query = query.where(Conversation.updated_at < where.until)
        if where.route:
            query = query.where(Conversation.id.in_(
                select(Message.conversation_id).where(Message.role == "assistant", Message.route == where.route)))
        if where.sentiment:
            query = query.where(Conversation.id.in_(
                select(Message.conversation_id).where(Message.role == "user", Message.sentiment == where.sentiment)))
        with self._store.session() as s:
            ids = list(s.scalars(query.order_by(Conversation.created_at, Conversation.id)).all())
        for start in range(0, len(ids), _BATCH):
            batch = ids[start:start + _BATCH]
            with self._store.session() as s:
                rows = s.scalars(select(Conversation).where(Conversation.id.in_(batch))
                                 .options(selectinload(Conversation.messages))).all()
                by_id = {c.id: c for c in rows}
                for conversation_id in batch:
                    if conversation_id in by_id:  # erased since the ids were read
                        yield by_id[conversation_id]

    # -- shaping --------------------------------------------------------------------------------
    def _text(self, text: str | None) -> str:
        return redact(text or "", self._security)

    def _messages(self, conversation: Conversation) -> list[dict[str, Any]]:
        out = []
        for m in sorted(conversation.messages, key=lambda m: m.seq):
            if m.role == "assistant" and not m.content:
                continue  # the assistant's silence while a person had the conversation
            out.append({"seq": m.seq, "at": m.created_at.isoformat(), "role": m.role, "author": m.author,
                        "content": self._text(m.content), "intent": m.intent, "sentiment": m.sentiment,
                        "route": m.route,
                        "sources": [{"doc_id": s.get("doc_id"), "title": s.get("title"), "url": s.get("url")}
                                    for s in (m.sources or [])]})
        return out

    def _record(self, c: Conversation) -> dict[str, Any]:
        return {"id": c.id, "site_id": c.site_id, "status": c.status, "handoff_reason": c.handoff_reason,
                "created_at": c.created_at.isoformat(), "updated_at": c.updated_at.isoformat(),
                "messages": self._messages(c)}

    def _rows(self, c: Conversation) -> list[dict[str, Any]]:
        rows = []
        for m in self._messages(c):
            row = {**m, "conversation_id": c.id, "site_id": c.site_id, "status": c.status,
                   "sources": " ".join(str(s["doc_id"]) for s in m["sources"])}
            rows.append({k: _cell(row.get(k)) for k in CSV_COLUMNS})
        return rows


def _cell(value: Any) -> Any:
    """A CSV value a spreadsheet shows as text: a leading =, +, -, @ would make it a formula."""
    if isinstance(value, str) and value.startswith(_FORMULA):
        return "'" + value
    return "" if value is None else value
