"""The audit log: who did what to which conversation, key or site, and when; append-only.

    assistant.audit.record("acme", "maria", "claim", "conversation:3f2a…")
    rows = assistant.audit.entries(site_id="acme")            # newest first
    assistant.audit.export_csv(path, site_id="acme")          # what an operator downloads

Agents' actions (claim, reply, note, close, hand back) and admin actions (key issue and revoke, site changes,
exports) are written here by the code that does them. An entry is never changed: there is no update or delete
path, and the ORM refuses one (AuditImmutable) so a later feature cannot quietly add it. Erasing a conversation
keeps its entries: they name the conversation's id and what was done, never the customer's or agent's words.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import JSON, DateTime, Integer, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from assistant.engine.sites import ApiKey, Site, SiteDirectory
from assistant.engine.store import Base, Store, append_only, utcnow

ACTIONS = ("claim", "reply", "note", "close", "hand_back", "key_issue", "key_revoke", "site_create",
           "site_update", "site_delete", "export",
           # a site's templates edited in the console or over the API (template_versions.py)
           "template_add", "template_edit", "template_retire", "template_revert",
           # a site's intent examples edited and its model retrained in the console (intent_versions.py)
           "intent_add", "intent_remove", "intent_retire", "intent_revert", "intent_retrain",
           "faq_answer")  # an operator's answer to unanswered questions, an FAQ entry (unanswered.py)
CSV_COLUMNS = ["id", "at", "site_id", "actor", "action", "target", "detail"]


class AuditImmutable(RuntimeError):
    """Someone tried to change or delete an audit entry."""


class AuditEntry(Base):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    site_id: Mapped[str] = mapped_column(String(64), index=True)  # no foreign key: entries outlive their site
    actor: Mapped[str] = mapped_column(String(100))  # the agent's name, "admin", "operator" or "cli"
    action: Mapped[str] = mapped_column(String(32), index=True)
    target: Mapped[str] = mapped_column(String(200))  # conversation:<id>, key:<id>, site:<id>, export:<what>
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


append_only(AuditEntry, AuditImmutable, "audit entries cannot be changed", "audit entries cannot be deleted")


@dataclass(frozen=True)
class Entry:
    id: int
    at: datetime
    site_id: str
    actor: str
    action: str
    target: str
    detail: dict[str, Any]


def _entry(row: AuditEntry) -> Entry:
    return Entry(id=row.id, at=row.at, site_id=row.site_id, actor=row.actor, action=row.action, target=row.target,
                 detail=dict(row.detail or {}))


def record(session: Session, site_id: str, actor: str, action: str, target: str,
           detail: dict[str, Any] | None = None) -> None:
    """Add an entry inside the caller's transaction, so the action and its entry are written together."""
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    session.add(AuditEntry(at=utcnow(), site_id=site_id, actor=(actor or "unknown")[:100], action=action,
                           target=target[:200], detail=detail or {}))


class AuditLog:
    """The store's audit log, for the server, console and CLI: `Assistant.audit`."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def record(self, site_id: str, actor: str, action: str, target: str, detail: dict[str, Any] | None = None) -> None:
        with self._store.session() as s:
            record(s, site_id, actor, action, target, detail)

    def entries(self, *, site_id: str | None = None, action: str | None = None, since: datetime | None = None,
                limit: int = 200) -> list[Entry]:
        """Entries newest first (of one site, one action, from `since`)."""
        q = select(AuditEntry)
        if site_id:
            q = q.where(AuditEntry.site_id == site_id)
        if action:
            q = q.where(AuditEntry.action == action)
        if since:
            q = q.where(AuditEntry.at >= since)
        with self._store.session() as s:
            return [_entry(r) for r in s.scalars(q.order_by(AuditEntry.id.desc()).limit(limit)).all()]

    def export_csv(self, path: str | Path, *, site_id: str | None = None, actor: str = "operator") -> int:
        """Every entry (of one site) oldest first as CSV at `path`; the export itself is audited. Returns how many."""
        rows: Sequence[Entry] = list(reversed(self.entries(site_id=site_id, limit=1_000_000)))
        out = Path(path)
        out.parent.mkdir(parents=True, exist_ok=True)
        with out.open("w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(CSV_COLUMNS)
            for e in rows:
                writer.writerow([e.id, e.at.isoformat(), e.site_id, e.actor, e.action, e.target,
                                 _detail_text(e.detail)])
        self.record(site_id or "*", actor, "export", "export:audit_log", {"rows": len(rows), "file": out.name})
        return len(rows)


class AuditedSites(SiteDirectory):
    """`Assistant.sites` and the CLI's sites: a SiteDirectory whose changes to sites and keys are audited under
    `actor` ("admin": the admin API; the CLI says "cli", a site's own key "key:<id>")."""

    def __init__(self, store: Store, actor: str = "admin") -> None:
        super().__init__(store)
        self.actor = actor
        self._log = AuditLog(store)

    def as_actor(self, actor: str) -> AuditedSites:
        """The same sites, with changes audited as done by `actor`."""
        return AuditedSites(self._store, actor)

    def create(self, site_id: str, name: str, *, origins: Sequence[str] = (), namespace: str | None = None,
               **settings: Any) -> Site:
        site = super().create(site_id, name, origins=origins, namespace=namespace, **settings)
        self._log.record(site_id, self.actor, "site_create", f"site:{site_id}",
                         {"fields": sorted(settings), "origins": list(origins)})
        return site

    def update(self, site_id: str, **changes: Any) -> Site:
        site = super().update(site_id, **changes)
        # The field names only: values may be secrets (webhook_secret) or long texts.
        self._log.record(site_id, self.actor, "site_update", f"site:{site_id}", {"fields": sorted(changes)})
        return site

    def issue_key(self, site_id: str, name: str = "") -> tuple[ApiKey, str]:
        key, plaintext = super().issue_key(site_id, name)
        self._log.record(site_id, self.actor, "key_issue", f"key:{key.id}", {"name": key.name, "prefix": key.prefix})
        return key, plaintext

    def revoke_key(self, key_id: str, site_id: str | None = None) -> ApiKey:
        key = super().revoke_key(key_id, site_id)
        self._log.record(key.site_id, self.actor, "key_revoke", f"key:{key.id}",
                         {"name": key.name, "prefix": key.prefix})
        return key

    def delete(self, site_id: str, *, force: bool = False, knowledge: Any = None) -> Any:
        deleted = super().delete(site_id, force=force, knowledge=knowledge)
        self._log.record(site_id, self.actor, "site_delete", f"site:{site_id}", {"force": force})
        return deleted


def _detail_text(detail: dict[str, Any]) -> str:
    import json

    return json.dumps(detail, sort_keys=True, ensure_ascii=False, default=str)
