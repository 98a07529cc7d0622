"""A site's intent examples edited in the console: every change a new, immutable version, and retraining on them.

    intents = assistant.intents                                    # SiteIntents
    intents.add("acme", "gift_wrapping", "can you wrap it", actor="maria")   # version n+1
    intents.remove("acme", "gift_wrapping", "can you wrap it", actor="maria")
    intents.retire("acme", "gift_wrapping", actor="maria")       # every example of the intent goes
    intents.revert("acme", 2, actor="maria")                     # the examples as they were at version 2
    intents.retrain("acme", actor="maria", progress=True)        # the site's model, trained on them
    intents.overview("acme")                                     # intents, counts, history, last retrain

A site's effective examples are its base data (Site.intents_path; the default site: understanding.intent_data or
the sample intents with the operators' queue assignments, none on an operator knowledge base) with its versions
replayed on top, oldest first. Versions are numbered per site and never changed or deleted (the ORM refuses
it); version 0 is the base data, and a revert is a new version whose examples are an earlier version's.

Edits apply to classification when the site is retrained (training takes seconds to minutes, never on a
customer's turn): a retrain is a version too ("retrain", no change to the examples) and SiteProfiles uses the
model of the site's newest retrain, trained on the examples of that version (Understanding.own_intents: once
per content, in the shared model cache, so every replica gets the same model). The default site with the shared
intent model retrains it in place (intent_examples.retrain_intents) as before. Every change and retrain and its
audit entry are one transaction; a bad change (empty text, an unknown intent, a site that does not exist) raises
IntentEditError and stores nothing.
"""

from __future__ import annotations

import csv
import os
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import DateTime, Integer, String, Text, UniqueConstraint, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from assistant.engine.audit import record as audit_record
from assistant.engine.errors import RetrainRefused, ReviewError, SiteNotFound
from assistant.engine.intent_examples import (
    INTENT_NAME,
    MIN_EXAMPLES_PER_INTENT,
    RetrainReport,
    base_intents_path,
    check_examples,
    merged_examples,
    operator_examples_path,
    retrain_intents,
    retrain_lock,
)
from assistant.engine.site_profile import DEFAULT_SITE
from assistant.engine.store import Base, Store, append_only, utcnow
from assistant.engine.understanding.dataset import LabelledData, load_labelled_csv

ADD, REMOVE, RETIRE, REVERT, RETRAIN = "add", "remove", "retire", "revert", "retrain"
Example = tuple[str, str]  # (text, intent)


class IntentEditError(ValueError):
    """A change that cannot be made as asked (the message says why); nothing was stored."""


class IntentVersion(Base):
    __tablename__ = "intent_versions"
    __table_args__ = (UniqueConstraint("site_id", "version", name="uq_intent_versions_version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    site_id: Mapped[str] = mapped_column(String(64), index=True)  # no foreign key: the history is kept as written
    version: Mapped[int] = mapped_column(Integer)  # 1, 2, ... per site
    action: Mapped[str] = mapped_column(String(16))  # add, remove, retire, revert, retrain
    intent: Mapped[str | None] = mapped_column(String(128), nullable=True)
    text: Mapped[str | None] = mapped_column(Text, nullable=True)
    restores: Mapped[int | None] = mapped_column(Integer, nullable=True)  # the version a revert copied
    actor: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


append_only(IntentVersion, RuntimeError, "intent versions cannot be changed; make a new version",
            "intent versions cannot be deleted; revert to an earlier version instead")


@dataclass(frozen=True)
class Version:
    version: int
    action: str
    intent: str | None
    text: str | None
    restores: int | None
    actor: str
    at: datetime


@dataclass(frozen=True)
class IntentSummary:
    intent: str
    examples: int  # now
    base: int  # in the base data
    status: str  # base (as in the base data), edited, added, retired


@dataclass(frozen=True)
class IntentOverview:
    site_id: str
    intents: list[IntentSummary]
    versions: list[Version]  # oldest first
    version: int  # the newest; 0 = never edited
    trained: int | None  # the version of the newest retrain, None: never retrained here

    @property
    def pending(self) -> bool:
        """Changes made since the last retrain (they classify once the site is retrained)."""
        return self.version != (self.trained or 0)


def _version(row: IntentVersion) -> Version:
    return Version(version=row.version, action=row.action, intent=row.intent, text=row.text, restores=row.restores,
                   actor=row.actor, at=row.created_at)


def _same(example: Example, text: str, intent: str) -> bool:
    return example[1] == intent and example[0].casefold() == text.casefold()


def replay(base: list[Example], versions: list[Version], upto: int | None = None) -> list[Example]:
    """The examples after applying `versions` (oldest first, up to version `upto`) to `base`."""
    wanted = {v.restores for v in versions if v.action == REVERT and v.restores is not None}
    snapshots: dict[int, list[Example]] = {0: list(base)}
    current = list(base)
    for v in versions:
        if upto is not None and v.version > upto:
            break
        if v.action == ADD and v.intent and v.text is not None:
            current = [*current, (v.text, v.intent)]
        elif v.action == REMOVE and v.intent and v.text is not None:
            current = [e for e in current if not _same(e, v.text, v.intent)]
        elif v.action == RETIRE:
            current = [e for e in current if e[1] != v.intent]
        elif v.action == REVERT and v.restores is not None:
            # a version made before this site's creation is not replayed: it restores the base
            current = list(snapshots.get(v.restores, base))
        if v.version in wanted:
            snapshots[v.version] = current
    return current


class SiteIntents:
    """`Assistant.intents`: each site's edited intent examples and its retraining (module docstring)."""

    def __init__(self, assistant: Any) -> None:
        self._assistant = assistant  # the facade: its settings, store, sites, profiles and understanding

    @property
    def _store(self) -> Store:
        return self._assistant.store

    # -- reading --------------------------------------------------------------------------------------
    def examples(self, site_id: str, intent: str | None = None) -> list[Example]:
        """The site's examples now (of one intent), in training order."""
        rows = replay(self._base(site_id), self._history(site_id))
        return [e for e in rows if intent is None or e[1] == intent]

    def overview(self, site_id: str) -> IntentOverview:
        base, history = self._base(site_id), self._history(site_id)
        current = replay(base, history)
        now, before = _counts(current), _counts(base)
        changed = {i for _, i in set(current) ^ set(base)}  # intents with an example added or removed
        summaries = []
        for name in sorted(set(now) | set(before) | {v.intent for v in history if v.intent}):
            status = ("retired" if name not in now else "added" if name not in before
                      else "edited" if name in changed else "base")
            summaries.append(IntentSummary(name, now.get(name, 0), before.get(name, 0), status))
        trained = next((v.version for v in reversed(history) if v.action == RETRAIN), None)
        return IntentOverview(site_id, summaries, history, history[-1].version if history else 0, trained)

    def trained_data(self, site_id: str, since: datetime | None) -> Path | None:
        """The examples file of the site's newest retrain (SiteProfiles trains or loads its model), or None.
        Called on every turn of a site without the shared model: one indexed read; the file is written again
        from the versions when this replica does not have it."""
        with self._store.session() as s:
            version = s.scalar(select(func.max(IntentVersion.version)).where(
                *_of_site(site_id, since), IntentVersion.action == RETRAIN))
        if version is None:
            return None
        path = self._data_path(site_id, version)
        if not path.exists():
            base, history = self._base(site_id), self._history(site_id)
            _write_csv(path, replay(base, history, upto=version))
        return path

    # -- changing -------------------------------------------------------------------------------------
    def add(self, site_id: str, intent: str, text: str, *, actor: str = "operator") -> IntentOverview:
        """A new example of `intent` (an existing intent or a new one)."""
        intent, text = (intent or "").strip(), " ".join((text or "").split())
        if not INTENT_NAME.match(intent):
            raise IntentEditError(f"intent name {intent!r} must be 2-64 characters: lower-case letters, digits "
                                  "and _, starting with a letter (like gift_wrapping)")
        if not text:
            raise IntentEditError("the example text is empty")
        limit = self._assistant.settings.server.max_message_chars
        if len(text) > limit:
            raise IntentEditError(f"the example is {len(text)} characters; the limit is {limit}")
        if any(_same(e, text, intent) for e in self.examples(site_id, intent)):
            raise IntentEditError(f"{text!r} is already an example of {intent!r}")
        return self._append(site_id, ADD, actor, intent=intent, text=text)

    def remove(self, site_id: str, intent: str, text: str, *, actor: str = "operator") -> IntentOverview:
        """Take one example out of `intent`."""
        intent, text = (intent or "").strip(), " ".join((text or "").split())
        examples = self._examples_of(site_id, intent)
        match = next((e for e in examples if _same(e, text, intent)), None)
        if match is None:
            raise IntentEditError(f"{text!r} is not an example of {intent!r}")
        return self._append(site_id, REMOVE, actor, intent=intent, text=match[0])

    def retire(self, site_id: str, intent: str, *, actor: str = "operator") -> IntentOverview:
        """Remove the intent with all its examples (a revert brings them back)."""
        intent = (intent or "").strip()
        self._examples_of(site_id, intent)
        return self._append(site_id, RETIRE, actor, intent=intent)

    def revert(self, site_id: str, version: int, *, actor: str = "operator") -> IntentOverview:
        """A new version whose examples are those of `version` (0: the base data)."""
        history = self._history(site_id)
        known = {0, *(v.version for v in history)}
        if version not in known:
            raise IntentEditError(f"site {site_id!r} has no intents version {version}")
        return self._append(site_id, REVERT, actor, restores=version)

    def retrain(self, site_id: str, *, actor: str = "operator", progress: bool = False) -> RetrainReport:
        """Train the site's intent model on its examples now and use it from the next turn; recorded as a version.
        RetrainRefused (too few examples per intent, fewer than two intents), ReviewError (a retrain runs)."""
        profile = self._assistant.profiles.get(self._check_site(site_id))
        base, history = self._base(site_id), self._history(site_id)
        examples = replay(base, history)
        data = LabelledData([t for t, _ in examples], [i for _, i in examples], f"site {site_id}")
        if len(set(data.labels)) < 2:
            raise RetrainRefused("Not retrained: a model needs at least two intents (or one and 'oos') with "
                                 f"{MIN_EXAMPLES_PER_INTENT} examples each.")
        check_examples(data, MIN_EXAMPLES_PER_INTENT)
        added = len(set(examples) - set(base))
        version = (history[-1].version if history else 0) + 1
        if profile.shared_intents:  # the default site's global model: retrained and swapped in place
            report = retrain_intents(self._assistant.settings, self._assistant.understanding, progress=progress,
                                     data=data)
            report = RetrainReport(report.examples, added, report.intents, report.seconds, report.model_dir)
        else:
            if not retrain_lock.acquire(blocking=False):
                raise ReviewError("a retrain is already running; wait for it to finish")
            try:
                started = time.perf_counter()
                path = self._data_path(site_id, version)
                _write_csv(path, examples)
                self._assistant.understanding.own_intents(path, progress)  # into the shared model cache
                report = RetrainReport(len(examples), added, len(set(data.labels)),
                                       round(time.perf_counter() - started, 1), str(path))
            finally:
                retrain_lock.release()
        self._append(site_id, RETRAIN, actor, detail={"examples": report.examples, "intents": report.intents,
                                                      "seconds": report.seconds})
        return report

    # -- internals ------------------------------------------------------------------------------------
    def _check_site(self, site_id: str) -> str:
        """The site's id; IntentEditError for a site that does not exist (the default site always does)."""
        try:
            self._assistant.sites.get(site_id)
        except SiteNotFound as exc:
            if site_id != DEFAULT_SITE:
                raise IntentEditError(f"no site {site_id!r}") from exc
        return site_id

    def _site(self, site_id: str) -> Any:
        try:
            return self._assistant.sites.get(self._check_site(site_id))
        except SiteNotFound:
            return None  # the default site before the server created it

    def _base(self, site_id: str) -> list[Example]:
        """Version 0: the site's intents file, or (the default site) the configured or sample data with the
        operators' queue assignments; none for another site without a file or on an operator knowledge base."""
        site = self._site(site_id)
        own = getattr(site, "intents_path", None)
        settings = self._assistant.settings
        if own:
            data = load_labelled_csv(Path(own))
        elif site_id == DEFAULT_SITE and (settings.kb_path is None or settings.understanding.intent_data):
            data = merged_examples(base_intents_path(settings), operator_examples_path(settings))
        else:
            return []
        return list(zip(data.texts, data.labels, strict=True))

    def _examples_of(self, site_id: str, intent: str) -> list[Example]:
        examples = self.examples(site_id, intent)
        if not examples:
            raise IntentEditError(f"site {site_id!r} has no intent {intent!r}")
        return examples

    def _history(self, site_id: str) -> list[Version]:
        since = getattr(self._site(site_id), "created_at", None)
        with self._store.session() as s:
            rows = s.scalars(select(IntentVersion).where(*_of_site(site_id, since))
                             .order_by(IntentVersion.version)).all()
            return [_version(r) for r in rows]

    def _data_path(self, site_id: str, version: int) -> Path:
        return Path(self._assistant.settings.data_dir) / "site-intents" / f"{site_id}-v{version}.csv"

    def _append(self, site_id: str, action: str, actor: str, *, intent: str | None = None, text: str | None = None,
                restores: int | None = None, detail: dict[str, Any] | None = None) -> IntentOverview:
        """One new version and its audit entry, in one transaction (never the example's text in the audit log:
        it may be a customer's words)."""
        self._check_site(site_id)
        actor = (actor or "unknown")[:100]
        try:
            with self._store.session() as s:
                # numbered over every row of the id, a deleted site's too: a version number is never reused
                last = s.scalar(select(func.max(IntentVersion.version)).where(IntentVersion.site_id == site_id)) or 0
                s.add(IntentVersion(site_id=site_id, version=last + 1, action=action, intent=intent, text=text,
                                    restores=restores, actor=actor, created_at=utcnow()))
                entry = {"version": last + 1, **({"intent": intent} if intent else {}),
                         **({"restores": restores} if restores is not None else {}), **(detail or {})}
                audit_record(s, site_id, actor, f"intent_{action}", f"intents:{site_id}", entry)
        except IntegrityError as exc:  # another operator changed the site's intents at the same moment
            raise IntentEditError("the site's intents were changed at the same time; reload and try again") from exc
        return self.overview(site_id)


def _of_site(site_id: str, since: datetime | None) -> list[Any]:
    """The where clauses of a site's versions: those made since the site (of that id) was created."""
    return [IntentVersion.site_id == site_id, *([IntentVersion.created_at >= since] if since else [])]


def _counts(examples: list[Example]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for _, intent in examples:
        counts[intent] = counts.get(intent, 0) + 1
    return counts


def _write_csv(path: Path, examples: list[Example]) -> None:
    """Written whole, then renamed: a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.tmp{os.getpid()}")
    with tmp.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "intent"])
        writer.writerows(examples)
    tmp.replace(path)
