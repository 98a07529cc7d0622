"""A site's profile: everything the assistant says to that site's customers, and in whose name.

    profile = assistant.profiles.get("acme")   # built from the site's row, each turn (files cached)
    profile.classify("Hello")                   # the site's intents (or none), the shared sentiment and language
    profile.policy.templates                    # the site's own templates (or none)
    profile.prompt.build(question, passages)    # its system prompt, in its company's name

The fields are Site columns (company, greeting, system_prompt, handoff_message, abstain_message, templates_path,
intents_path, opening_hours: outside them a handoff tells the customer when a person answers). An unset field (NULL) falls back differently by site:

- the `default` site inherits the global settings (`company`, `system_prompt`, `understanding.*`) and the
  global templates and intent model, so keyless local use and `/demo` behave as before; with the operator's own
  knowledge base (`kb_path`) and no intent data of theirs (`understanding.intent_data`), it has no intents, as
  the global templates are then off too: the sample shop's come with the sample knowledge base only;
- any other site never inherits them: its company is its own name, its system prompt, handoff and abstain
  messages are the built-in defaults in that name, and without its own files it has no templates and no
  intent model (a new site never answers with the sample shop's curated replies, nor sees its intent labels).

Sentiment and language are read by the shared models: they are not company-specific.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from assistant.engine.errors import DataError, SiteError, SiteNotFound, TemplateError
from assistant.engine.events import Classification
from assistant.engine.opening_hours import OpeningHours, parse_hours
from assistant.engine.prompt import PromptBuilder
from assistant.engine.settings import DEFAULT_SYSTEM_PROMPT
from assistant.engine.smalltalk import Kind, SmallTalk
from assistant.engine.understanding.config import DEFAULT_ABSTAIN_MESSAGE, DEFAULT_HANDOFF_MESSAGE
from assistant.engine.understanding.policy import AnswerPolicy
from assistant.engine.understanding.templates import TemplateBook

if TYPE_CHECKING:
    from assistant.engine.sites import Site
    from assistant.engine.understanding.intent_model import IntentModel

log = logging.getLogger(__name__)

DEFAULT_SITE = "default"  # assistant.engine.sites.DEFAULT_SITE (that module imports this one)
# Longest text per field: a company name, a greeting bubble, a system prompt, a one-paragraph message.
TEXT_LIMITS = {"company": 200, "greeting": 1000, "system_prompt": 8000, "handoff_message": 2000,
               "abstain_message": 2000}
FILE_FIELDS = ("templates_path", "intents_path")
PROFILE_FIELDS = (*TEXT_LIMITS, *FILE_FIELDS)


# -- validation: when a field is set (admin API, CLI), so a bad value is refused before anything is written ----
def validate_field(field: str, value: Any) -> str | None:
    """The value to store for a profile field; SiteError names what is wrong. Empty or None = unset."""
    if value is None or not str(value).strip():
        return None
    if field in FILE_FIELDS:
        path = Path(str(value).strip()).expanduser().resolve()  # the server may run in another folder than the CLI
        try:
            if field == "templates_path":
                TemplateBook.load(path, defaults={"company": ""})  # {company} is always filled in, by the profile
            else:
                check_intents(path)
        except (TemplateError, DataError) as exc:
            raise SiteError(str(exc)) from exc
        return str(path)
    text = str(value).strip()
    if len(text) > TEXT_LIMITS[field]:
        raise SiteError(f"{field} is {len(text)} characters; the limit is {TEXT_LIMITS[field]}")
    return text


def check_intents(path: Path) -> None:
    """An intents CSV (text,intent) a model can be trained on: DataError with the file and line otherwise."""
    from assistant.engine.understanding.dataset import load_labelled_csv

    load_labelled_csv(path, min_per_label=2)  # also refuses a file with a single label: nothing to tell apart


def without_intents(classification: Classification) -> Classification:
    """How a site without an intent model sees a message: no intent, no scores, and never out of scope (it has
    no scope to be out of); the shared models' sentiment and language stay. No other site's labels appear."""
    return classification.model_copy(update={"intent": None, "confidence": 0.0, "intents": [],
                                             "out_of_scope": False})


class HandoffNotice(NamedTuple):
    text: str
    after_hours: bool  # outside opening hours: the customer may leave an e-mail address
    opens_at: datetime | None  # when a person answers next (the site's zone), after hours


@dataclass(frozen=True)
class SiteProfile:
    """What one site says to its customers (module docstring: where each field comes from)."""

    site_id: str
    company: str
    greeting: str | None  # the reply to a hello when the site has no greeting template; None = the default
    prompt: PromptBuilder
    policy: AnswerPolicy  # the site's templates and its handoff and abstain messages
    understanding: Any  # the shared Understanding: sentiment, language and the default site's intent model
    intents: IntentModel | None = None  # the site's own intent model
    shared_intents: bool = False  # the default site without its own file: the global model (retrains swap it)
    opening_hours: OpeningHours | None = None  # when its people answer a handoff; None: always

    def handoff_notice(self, now: datetime | None = None, language: str = "en") -> HandoffNotice:
        """What the customer is told when a person is asked for: the site's handoff message while it is open (or
        has no opening hours), else when a person answers next, with an invitation to leave an e-mail address, in
        the customer's `language` where the product has that text in it. The handoff message is returned as the
        site wrote it (the turn localises it only while it is the default)."""
        if self.opening_hours is not None:
            now = now or datetime.now(UTC)
            text = self.opening_hours.after_hours_message(now, language)
            if text:
                return HandoffNotice(text, True, self.opening_hours.next_opening(now))
        return HandoffNotice(self.policy.config.handoff_message, False, None)

    def classify(self, text: str) -> Classification:
        if self.shared_intents:
            return self.understanding.classify(text)
        if self.intents is None:
            # one shared pass reads sentiment (and an intent, dropped): cheaper than a sentiment-only pass
            return without_intents(self.understanding.classify(text))
        return self.understanding.classify_with(text, self.intents)

    def intent_model(self) -> Any:
        """The intent model this site classifies with, or None."""
        return self.understanding.intents if self.shared_intents else self.intents

    def intent_examples(self, intent: str | None) -> list[str]:
        model = self.intent_model()
        return list(model.examples.get(intent, [])) if model is not None and intent else []

    def small_talk(self, kind: Kind) -> str:
        if kind == "greeting" and self.greeting:
            return self.greeting
        return SmallTalk(self.company).reply(kind)


class SiteProfiles:
    """Each site's profile, read from its row on every turn (one primary-key read), so an update made by the
    CLI or another replica applies from the next turn; template books and intent models are cached per file
    content, so only a changed file is parsed or trained again."""

    def __init__(self, assistant: Any) -> None:
        self._assistant = assistant  # the facade: settings, the shared understanding, policy and prompt, sites
        self._books: dict[tuple, TemplateBook] = {}
        self._models: dict[tuple, Any] = {}
        self._lock = threading.Lock()  # two first turns of a site train its intents once, not twice

    def get(self, site_id: str, *, edits: bool = True) -> SiteProfile:
        """The site's profile; `edits=False`: with its templates as its file has them (no console edits)."""
        try:
            site = self._assistant.sites.get(site_id)
        except SiteNotFound:
            site = None  # the default site before the server created it (CLI chat, tests)
        return self.build(site_id, site, edits=edits)

    def build(self, site_id: str, site: Site | None, *, edits: bool = True) -> SiteProfile:
        bot = self._assistant
        settings, config = bot.settings, bot.policy.config
        default = site_id == DEFAULT_SITE

        def field(name: str, inherited: Any, builtin: Any) -> Any:
            value = getattr(site, name, None)
            return value if value is not None else (inherited if default else builtin)

        company = field("company", settings.company, site.name if site is not None else site_id)
        system_prompt = field("system_prompt", settings.system_prompt, DEFAULT_SYSTEM_PROMPT)
        handoff = field("handoff_message", config.handoff_message, DEFAULT_HANDOFF_MESSAGE)
        abstain = field("abstain_message", config.abstain_message, DEFAULT_ABSTAIN_MESSAGE)
        shared_book = bot.policy.templates
        own_book = getattr(site, "templates_path", None)
        book = (self._book(own_book, company, shared_book.default_threshold) if own_book
                else shared_book if default else TemplateBook.empty(shared_book.default_threshold))
        if edits:  # the templates edited in the console or over the API, versioned (template_versions.py)
            book = bot.templates.overlay(site_id, book, company, getattr(site, "created_at", None))
        own_intents = getattr(site, "intents_path", None)
        # The sample shop's intents come with the sample knowledge base only: an operator's own knowledge base
        # (kb_path) starts with none, like a new site, unless the operator gave intent data (or the site a file).
        sample_intents = settings.kb_path is None or settings.understanding.intent_data is not None
        shared = default and not own_intents and sample_intents
        # retrained in the console on its edited examples (intent_versions.py): that model, else its file's
        trained = None if shared else bot.intents.trained_data(site_id, getattr(site, "created_at", None))
        intents = self._intents(str(trained)) if trained else self._intents(own_intents) if own_intents else None
        hours = getattr(site, "opening_hours", None)
        if book is shared_book and (handoff, abstain) == (config.handoff_message, config.abstain_message):
            policy = bot.policy  # the default site as configured: the very objects tests and the console swap
        else:
            policy = AnswerPolicy(config.model_copy(update={"handoff_message": handoff, "abstain_message": abstain}),
                                  book)
        same_prompt = default and (system_prompt, company) == (settings.system_prompt, settings.company)
        prompt = bot.prompt if same_prompt else PromptBuilder(system_prompt, company)
        return SiteProfile(site_id=site_id, company=company, greeting=getattr(site, "greeting", None), prompt=prompt,
                           policy=policy, understanding=bot.understanding, intents=intents,
                           shared_intents=shared,
                           opening_hours=_hours(hours))

    def _book(self, path: str, company: str, threshold: float) -> TemplateBook:
        """The site's templates file, parsed once per content; a file broken since it was set is logged and the
        site answers without templates (never with another site's)."""
        key = (*_stamp(path), company, threshold)
        with self._lock:
            if key not in self._books:
                try:
                    self._books[key] = TemplateBook.load(path, default_threshold=threshold,
                                                         defaults={"company": company})
                except TemplateError as exc:
                    log.error("site templates left out: %s", exc)
                    self._books[key] = TemplateBook.empty(threshold)
            return self._books[key]

    def _intents(self, path: str) -> Any:
        """The site's own intent model: trained once per file content into the shared model cache
        (Understanding.own_intents), loaded from there afterwards; None (and an error in the log) when it fails."""
        key = _stamp(path)
        with self._lock:
            if key not in self._models:
                try:
                    self._models[key] = self._assistant.understanding.own_intents(Path(path))
                except Exception as exc:  # a file that cannot be trained on must not fail the site's turns
                    log.error("site intents %s left out: %s", path, exc)
                    self._models[key] = None
            return self._models[key]


def _hours(stored: Any) -> OpeningHours | None:
    """The stored opening hours (checked when set); hours that no longer parse (a zone gone from the tz database)
    are logged and the site is treated as always open rather than failing its turns."""
    if not stored:
        return None
    try:
        return parse_hours(stored)
    except SiteError as exc:
        log.error("opening hours left out: %s", exc)
        return None


def _stamp(path: str) -> tuple[str, int, int]:
    """(path, modification time, size): changes when the file is edited, without reading it on every turn."""
    try:
        stat = Path(path).stat()
    except OSError:
        return (path, 0, -1)  # missing: the loaders report it
    return (path, stat.st_mtime_ns, stat.st_size)
