"""A site's templates edited in the console or over the API: every change a new, immutable version.

    templates = assistant.templates                          # SiteTemplates
    templates.save("acme", "hours.default", intent="opening_hours", text="We open at 9.", sources=["hours"],
                   actor="maria")                            # add or edit: version n+1
    templates.retire("acme", "hours.default", actor="maria")  # the id stops answering
    templates.revert("acme", "hours.default", 1, actor="maria")  # a new version with version 1's content
    templates.list("acme")                                   # every template the site has, with its history

A site's effective templates are its file's (Site.templates_path; the default site: the global ones) overlaid
with its latest version of each edited id: a set version replaces the file's template of that id (or adds one),
a retired id is removed, a "file" version (revert to version 0) gives the file's template back. Versions are
never changed or deleted (the ORM refuses it), so every earlier text can be restored and the history read.

A change is validated before anything is stored, with the same checks as a templates file (TemplateBook.parse:
placeholders must be the file's slots, {company} or extractable ones), plus a non-empty text and sources that
are pages of the site's knowledge-base namespace. The version row and its audit entry are one transaction.
SiteProfiles applies the overlay on every turn (one indexed read of the site's newest version id), so a change
answers from the site's next turn, in every replica, without a restart.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import yaml
from sqlalchemy import JSON, DateTime, Float, Integer, String, Text, UniqueConstraint, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from assistant.engine.audit import record as audit_record
from assistant.engine.errors import TemplateError
from assistant.engine.site_profile import DEFAULT_SITE
from assistant.engine.store import Base, Store, append_only, utcnow
from assistant.engine.understanding.templates import Template, TemplateBook

ACTIONS = ("add", "edit", "retire", "revert")
SET, RETIRED, FILE = "set", "retired", "file"  # a version's state: its own content, removed, the file's template
MAX_TEXT = 4000  # a template is one reply bubble
ID_LIMIT = 128  # messages.template_id is String(128)


class TemplateNotFound(LookupError):
    """The site has no template (or no version) of that id."""


class TemplateVersion(Base):
    __tablename__ = "template_versions"
    __table_args__ = (UniqueConstraint("site_id", "template_id", "version", name="uq_template_versions_version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    site_id: Mapped[str] = mapped_column(String(64), index=True)  # no foreign key: the history outlives edits
    template_id: Mapped[str] = mapped_column(String(128))
    version: Mapped[int] = mapped_column(Integer)  # 1, 2, ... per (site, template id)
    action: Mapped[str] = mapped_column(String(16))  # add, edit, retire, revert
    state: Mapped[str] = mapped_column(String(16))  # set, retired, file
    intent: Mapped[str | None] = mapped_column(String(128), nullable=True)
    text: Mapped[str | None] = mapped_column(Text, nullable=True)
    sources: Mapped[list[str]] = mapped_column(JSON, default=list)
    requires: Mapped[list[str]] = mapped_column(JSON, default=list)
    threshold: Mapped[float | None] = mapped_column(Float, nullable=True)
    restores: Mapped[int | None] = mapped_column(Integer, nullable=True)  # the version a revert copied
    actor: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


append_only(TemplateVersion, RuntimeError, "template versions cannot be changed; save a new version",
            "template versions cannot be deleted; retire the template instead")


@dataclass(frozen=True)
class Version:
    version: int
    action: str
    state: str
    intent: str | None
    text: str | None
    sources: list[str]
    requires: list[str]
    threshold: float | None
    restores: int | None
    actor: str
    at: datetime


@dataclass(frozen=True)
class SiteTemplate:
    """One template of a site as it answers now (or as it was when retired), with its history oldest first.
    status: file (as in the file), edited (the file's id, changed), added (not in the file), retired."""

    id: str
    intent: str
    text: str
    sources: list[str]
    requires: list[str]
    threshold: float
    status: str
    version: int  # its newest version; 0 = never edited
    versions: list[Version]


def _version(row: TemplateVersion) -> Version:
    return Version(version=row.version, action=row.action, state=row.state, intent=row.intent, text=row.text,
                   sources=list(row.sources or []), requires=list(row.requires or []), threshold=row.threshold,
                   restores=row.restores, actor=row.actor, at=row.created_at)


def overlay(book: TemplateBook, latest: list[Version], ids: list[str]) -> TemplateBook:
    """`book` with each id's latest version applied (module docstring). An edited template keeps its file
    template's place; an added one goes before its intent's first template without requirements, so the
    intent's catch-all does not shadow it."""
    by_intent = {intent: list(templates) for intent, templates in book.by_intent.items()}
    thresholds = dict(book.thresholds)
    for template_id, v in zip(ids, latest, strict=True):
        if v.state == FILE:
            continue  # the file's template (if any) stays where it is
        place = next(((i, n) for i, ts in by_intent.items() for n, t in enumerate(ts) if t.id == template_id), None)
        if place is not None:
            del by_intent[place[0]][place[1]]
        if v.state == RETIRED or v.intent is None or v.text is None:
            continue
        new = Template(id=template_id, intent=v.intent, text=v.text, requires=tuple(v.requires),
                       sources=tuple(v.sources))
        siblings = by_intent.setdefault(v.intent, [])
        if place is not None and place[0] == v.intent:
            siblings.insert(place[1], new)
        else:
            siblings.insert(next((n for n, t in enumerate(siblings) if not t.requires), len(siblings)), new)
        if v.threshold is not None:
            thresholds[v.intent] = v.threshold
    return replace(book, by_intent={i: ts for i, ts in by_intent.items() if ts}, thresholds=thresholds,
                   defaults=dict(book.defaults))


class SiteTemplates:
    """`Assistant.templates`: each site's edited templates (module docstring). Routes and the console use this;
    the store stays behind it."""

    def __init__(self, assistant: Any) -> None:
        self._assistant = assistant  # the facade: its store, sites, profiles (the file's book) and knowledge base
        self._cache: dict[str, tuple[int, TemplateBook, str, TemplateBook]] = {}
        self._lock = threading.Lock()

    @property
    def _store(self) -> Store:
        return self._assistant.store

    # -- reading --------------------------------------------------------------------------------------
    def overlay(self, site_id: str, book: TemplateBook, company: str, since: datetime | None = None
                ) -> TemplateBook:
        """The site's effective book: `book` (its file's) with its edits made `since` the site was created (a
        deleted site's edits never reach a new site of the same id); `book` itself when it has none.
        Called on every turn: one read of the newest version id, the overlay rebuilt only when it changed."""
        with self._store.session() as s:
            newest = s.scalar(select(func.max(TemplateVersion.id)).where(*_of_site(site_id, since)))
        if newest is None:
            return book
        with self._lock:
            cached = self._cache.get(site_id)
            if cached is not None and cached[0] == newest and cached[1] is book and cached[2] == company:
                return cached[3]
        ids, latest = self._latest(site_id, since)
        merged = overlay(_with_company(book, company), latest, ids)
        with self._lock:
            self._cache[site_id] = (newest, book, company, merged)
        return merged

    def list(self, site_id: str) -> list[SiteTemplate]:
        """Every template the site has or had (retired ones too), by intent and id."""
        site = self._site(site_id)
        base, _ = self._base(site_id)
        effective = self._assistant.profiles.get(site_id).policy.templates
        histories = self._histories(site_id, getattr(site, "created_at", None))
        ids = {t.id for ts in base.by_intent.values() for t in ts} | set(histories)
        items = [self._describe(i, base, effective, histories.get(i, [])) for i in ids]
        return sorted(items, key=lambda t: (t.intent, t.id))

    def get(self, site_id: str, template_id: str) -> SiteTemplate:
        for item in self.list(site_id):
            if item.id == template_id:
                return item
        raise TemplateNotFound(f"site {site_id!r} has no template {template_id!r}")

    # -- changing -------------------------------------------------------------------------------------
    def save(self, site_id: str, template_id: str, *, intent: str, text: str, sources: list[str] | tuple = (),
             requires: list[str] | tuple = (), threshold: float | None = None, actor: str = "operator"
             ) -> SiteTemplate:
        """Add a template or edit one (the file's or an edited one): TemplateError when it is invalid, and then
        nothing is stored."""
        self._site(site_id)
        template_id, intent = (template_id or "").strip(), (intent or "").strip()
        content = {"intent": intent, "text": (text or "").strip(), "sources": _names(sources),
                   "requires": _names(requires), "threshold": threshold}
        current = {t.id: t for t in self.list(site_id)}.get(template_id)
        said = next((v for v in reversed(current.versions) if v.state == SET), None) if current else None
        if threshold is None and said is not None and said.intent == intent:
            content["threshold"] = said.threshold  # unset: unchanged, so an edit keeps the threshold it had
        self._validate(site_id, template_id, **content)
        action = "edit" if current is not None and current.status != RETIRED else "add"
        self._append(site_id, template_id, action, SET, actor, **content)
        return self.get(site_id, template_id)

    def retire(self, site_id: str, template_id: str, *, actor: str = "operator") -> SiteTemplate:
        """Stop using a template (the file's or an edited one) from the next turn; revert brings it back."""
        current = self.get(site_id, template_id)
        if current.status == RETIRED:
            raise TemplateError(f"template {template_id} is retired already")
        self._append(site_id, template_id, "retire", RETIRED, actor, intent=current.intent)
        return self.get(site_id, template_id)

    def revert(self, site_id: str, template_id: str, version: int, *, actor: str = "operator") -> SiteTemplate:
        """A new version with `version`'s content (0: the file's template), checked again like an edit."""
        current = self.get(site_id, template_id)
        if version == 0:
            if current.status == "added" or (current.status == RETIRED and not self._in_file(site_id, template_id)):
                raise TemplateNotFound(f"template {template_id} is not in the site's templates file (no version 0)")
            self._append(site_id, template_id, "revert", FILE, actor, restores=0)
            return self.get(site_id, template_id)
        old = next((v for v in current.versions if v.version == version), None)
        if old is None:
            raise TemplateNotFound(f"template {template_id} has no version {version}")
        if old.state == FILE:
            return self.revert(site_id, template_id, 0, actor=actor)
        content = {"intent": old.intent, "text": old.text, "sources": old.sources, "requires": old.requires,
                   "threshold": old.threshold}
        if old.state == SET:
            self._validate(site_id, template_id, **content)  # a slot or page may have gone since
        self._append(site_id, template_id, "revert", old.state, actor, restores=version, **content)
        return self.get(site_id, template_id)

    # -- internals ------------------------------------------------------------------------------------
    def _site(self, site_id: str) -> Any:
        """The site's row (SiteNotFound for an unknown site); None for the default site before it is created."""
        from assistant.engine.errors import SiteNotFound

        try:
            return self._assistant.sites.get(site_id)
        except SiteNotFound:
            if site_id == DEFAULT_SITE:
                return None
            raise

    def _base(self, site_id: str) -> tuple[TemplateBook, str]:
        """The site's book before edits (its file's, the global one, or none) with {company}, and its company."""
        profile = self._assistant.profiles.get(site_id, edits=False)
        return _with_company(profile.policy.templates, profile.company), profile.company

    def _in_file(self, site_id: str, template_id: str) -> bool:
        return self._base(site_id)[0].get(template_id) is not None

    def _validate(self, site_id: str, template_id: str, *, intent: str | None, text: str | None,
                  sources: list[str], requires: list[str], threshold: float | None) -> None:
        """TemplateError naming the template when the change could not answer as written."""
        name = f"template {template_id or '?'}"
        if not template_id or len(template_id) > ID_LIMIT or any(c.isspace() for c in template_id):
            raise TemplateError(f"{name}: the id must be 1-{ID_LIMIT} characters without spaces")
        if not intent or len(intent) > 128 or any(c.isspace() for c in intent):
            raise TemplateError(f"{name}: the intent must be 1-128 characters without spaces")
        if not text or not text.strip():
            raise TemplateError(f"{name}: the text is empty")
        if len(text) > MAX_TEXT:
            raise TemplateError(f"{name}: the text is {len(text)} characters; the limit is {MAX_TEXT}")
        if threshold is not None and not 0.0 <= float(threshold) <= 1.0:
            raise TemplateError(f"{name}: the threshold must be a number in [0, 1]")
        base, _ = self._base(site_id)
        entry: dict[str, Any] = {"id": template_id, "text": text, "requires": requires, "sources": sources}
        doc = {"slots": base.defaults, "intents": {intent: {"templates": [entry]}}}
        try:  # the templates file's own checks: placeholders, requires, syntax
            TemplateBook.parse(yaml.safe_dump(doc, allow_unicode=True), name, base.default_threshold)
        except TemplateError as exc:
            message = str(exc)
            raise TemplateError(message.split(": ", 1)[1] if message.startswith(name) else message) from exc
        unknown = sorted(set(sources) - self._pages(site_id))
        if unknown:
            raise TemplateError(f"{name}: unknown source page(s) {', '.join(unknown)} (not in the site's "
                                "knowledge base)")

    def _pages(self, site_id: str) -> set[str]:
        site = self._site(site_id)
        namespace = site.namespace if site is not None else site_id
        return {str(d.get("id")) for d in self._assistant.knowledge.documents(namespace)}

    def _append(self, site_id: str, template_id: str, action: str, state: str, actor: str, **content: Any) -> None:
        """One new version and its audit entry, in one transaction."""
        actor = (actor or "unknown")[:100]
        try:
            with self._store.session() as s:
                last = s.scalar(select(func.max(TemplateVersion.version)).where(
                    TemplateVersion.site_id == site_id, TemplateVersion.template_id == template_id)) or 0
                row = TemplateVersion(site_id=site_id, template_id=template_id, version=last + 1, action=action,
                                      state=state, intent=content.get("intent"), text=content.get("text"),
                                      sources=list(content.get("sources") or []),
                                      requires=list(content.get("requires") or []),
                                      threshold=content.get("threshold"), restores=content.get("restores"),
                                      actor=actor, created_at=utcnow())
                s.add(row)
                detail = {"version": last + 1, "intent": content.get("intent")}
                if content.get("restores") is not None:
                    detail["restores"] = content["restores"]
                audit_record(s, site_id, actor, f"template_{action}", f"template:{template_id}", detail)
        except IntegrityError as exc:  # another operator saved the same template at the same moment
            raise TemplateError(f"template {template_id} was changed at the same time; reload and try again") \
                from exc

    def _histories(self, site_id: str, since: datetime | None) -> dict[str, list[Version]]:
        """Each edited id's versions oldest first; the dict is ordered by each id's newest change."""
        with self._store.session() as s:
            rows = s.scalars(select(TemplateVersion).where(*_of_site(site_id, since))
                             .order_by(TemplateVersion.id)).all()
            histories: dict[str, list[Version]] = {}
            for row in rows:
                history = histories.pop(row.template_id, [])  # re-inserted: the newest change goes last
                histories[row.template_id] = [*history, _version(row)]
        return histories

    def _latest(self, site_id: str, since: datetime | None) -> tuple[list[str], list[Version]]:
        """Each edited id and its newest version, in the order of those versions (later changes apply last)."""
        histories = self._histories(site_id, since)
        return list(histories), [h[-1] for h in histories.values()]

    def _describe(self, template_id: str, base: TemplateBook, effective: TemplateBook,
                  history: list[Version]) -> SiteTemplate:
        live, in_file = effective.get(template_id), base.get(template_id)
        last = history[-1] if history else None
        if live is not None:
            status = "file" if last is None or last.state == FILE else "edited" if in_file else "added"
            shown = live
        else:  # retired: shown with what it said last
            status, shown = RETIRED, None
            for v in reversed(history):
                if v.state == SET:
                    shown = Template(id=template_id, intent=v.intent or "", text=v.text or "",
                                     requires=tuple(v.requires), sources=tuple(v.sources))
                    break
                if v.state == FILE:
                    break
            shown = shown or in_file or Template(id=template_id, intent=last.intent or "" if last else "", text="")
        return SiteTemplate(id=template_id, intent=shown.intent, text=shown.text, sources=list(shown.sources),
                            requires=list(shown.requires), threshold=effective.threshold(shown.intent),
                            status=status, version=last.version if last else 0, versions=history)


def _of_site(site_id: str, since: datetime | None) -> list[Any]:
    """The where clauses of a site's versions: those made since the site (of that id) was created."""
    return [TemplateVersion.site_id == site_id, *([TemplateVersion.created_at >= since] if since else [])]


def _with_company(book: TemplateBook, company: str) -> TemplateBook:
    """{company} is always a slot (SiteProfile fills it in); a site without a file has an empty book."""
    if "company" in book.defaults:
        return book
    return replace(book, defaults={"company": company, **book.defaults})


def _names(values: Any) -> list[str]:
    """A list of names from a list or a comma-separated string, blanks dropped, order kept, no repeats."""
    items = values.split(",") if isinstance(values, str) else list(values or [])
    return list(dict.fromkeys(str(v).strip() for v in items if str(v).strip()))
