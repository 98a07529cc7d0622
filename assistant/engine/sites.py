"""Sites (tenants): who may use the assistant, with which keys, from which origins, how often, and how the widget looks.

    site = create_site(store, "acme", "Acme support", origins=["https://help.acme.com"])
    key, plaintext = issue_key(store, "acme", "backend")   # plaintext is shown once; only its hash is kept
    assert verify_key(store, plaintext).id == "acme"

A site owns its conversations (Conversation.site_id) and its knowledge-base namespace.
Secret keys (sk_...) are for servers and the SDK; the public key (pk_...) only lets the widget
ask for a short-lived session token from an allowed origin. Widget sessions may only open the
conversations they started (WidgetConversation links them).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Integer, String, Text, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from assistant.engine import opening_hours, site_deletion, site_profile, webhooks
from assistant.engine.errors import KeyNotFound, SiteError, SiteExists, SiteNotFound  # noqa: F401 - re-exported
from assistant.engine.store import Base, Conversation, Message, Store, utcnow

DEFAULT_SITE = "default"
WEBHOOK_FIELDS = {"webhook_url": webhooks.validate_url, "webhook_secret": webhooks.validate_secret,
                  "webhook_format": webhooks.validate_format}
SITE_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
WIDGET_FIELDS = {"title", "greeting", "color", "position", "language", "show_sources", "strings"}


class Site(Base):
    __tablename__ = "sites"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    namespace: Mapped[str] = mapped_column(String(64))
    public_key: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    allowed_origins: Mapped[list[str]] = mapped_column(JSON, default=list)
    adapter: Mapped[str | None] = mapped_column(String(128), nullable=True)
    intents_path: Mapped[str | None] = mapped_column(String(500), nullable=True)
    templates_path: Mapped[str | None] = mapped_column(String(500), nullable=True)
    key_rate: Mapped[str | None] = mapped_column(String(100), nullable=True)
    session_rate: Mapped[str | None] = mapped_column(String(100), nullable=True)
    daily_quota: Mapped[int | None] = mapped_column(Integer, nullable=True)
    quota_message: Mapped[str | None] = mapped_column(Text, nullable=True)
    widget: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # Where agent-queue events go (webhooks.py): URL, HMAC secret (kept in clear: it signs), "json" | "slack".
    webhook_url: Mapped[str | None] = mapped_column(String(500), nullable=True)
    webhook_secret: Mapped[str | None] = mapped_column(String(200), nullable=True)
    webhook_format: Mapped[str | None] = mapped_column(String(16), nullable=True)
    # What the assistant says to this site's customers, and in whose name (site_profile.py; NULL: the default
    # site inherits the global settings, another site the built-in defaults in its own name).
    company: Mapped[str | None] = mapped_column(String(200), nullable=True)
    greeting: Mapped[str | None] = mapped_column(Text, nullable=True)
    system_prompt: Mapped[str | None] = mapped_column(Text, nullable=True)
    handoff_message: Mapped[str | None] = mapped_column(Text, nullable=True)
    abstain_message: Mapped[str | None] = mapped_column(Text, nullable=True)
    # When its people answer a handoff (opening_hours.py: {"timezone", "weekly"}); NULL: always.
    opening_hours: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100), default="")
    prefix: Mapped[str] = mapped_column(String(16))
    hash: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class WidgetConversation(Base):
    """Which widget session started a conversation: a session may read and continue only its own."""

    __tablename__ = "widget_conversations"

    conversation_id: Mapped[str] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), primary_key=True
    )
    site_id: Mapped[str] = mapped_column(String(64), index=True)
    session_id: Mapped[str] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


def install(store: Store) -> None:
    """Create the site tables when missing (the Store creates them too if this module was imported first)."""
    Base.metadata.create_all(
        store.engine, tables=[Site.__table__, ApiKey.__table__, WidgetConversation.__table__]
    )


def _hash(key: str) -> str:
    # Keys are 256-bit random, so a fast unsalted hash cannot be brute-forced; it also serves as the lookup.
    return hashlib.sha256(key.encode()).hexdigest()


def normalize_origin(origin: str) -> str:
    """`https://Help.Acme.com/` -> `https://help.acme.com`; `https://*.acme.com` allows subdomains."""
    raw = origin.strip().rstrip("/")
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.path or parts.query or parts.fragment:
        raise SiteError(f"origin {origin!r} must look like https://host[:port] (no path)")
    if "@" in parts.netloc:
        raise SiteError(f"origin {origin!r} must not contain credentials")
    return f"{parts.scheme}://{parts.netloc.lower()}"


def origin_allowed(allowed: Iterable[str], origin: str | None) -> bool:
    """Deny by default: only listed origins (exact, or `*.domain` for subdomains) are allowed."""
    if not origin:
        return False
    try:
        origin = normalize_origin(origin)
    except SiteError:
        return False
    scheme, _, host = origin.partition("://")
    for entry in allowed:
        if entry == origin:
            return True
        e_scheme, _, e_host = entry.partition("://")
        if e_host.startswith("*.") and e_scheme == scheme and host.endswith(e_host[1:]):
            return True
    return False


def validate_rate(rate: str | None) -> str | None:
    if rate is None or rate == "":
        return rate
    from limits import parse_many

    try:
        parse_many(rate)
    except ValueError as exc:
        raise SiteError(f"rate {rate!r} is not valid; write it like '30/minute' or '5/second;100/hour'") from exc
    return rate


def validate_widget(options: dict[str, Any]) -> dict[str, Any]:
    unknown = set(options) - WIDGET_FIELDS
    if unknown:
        raise SiteError(f"unknown widget option(s) {sorted(unknown)}; allowed: {sorted(WIDGET_FIELDS)}")
    if options.get("position") not in (None, "left", "right"):
        raise SiteError("widget position must be 'left' or 'right'")
    if options.get("language") not in (None, "auto", "en", "zh"):
        raise SiteError("widget language must be 'auto', 'en' or 'zh'")
    color = options.get("color")
    if color is not None and not re.fullmatch(r"#[0-9a-fA-F]{3,8}", str(color)):
        raise SiteError("widget color must be a hex colour like #0b57d0")
    strings = options.get("strings")
    if strings is not None and not (
        isinstance(strings, dict)
        and all(isinstance(v, dict) and all(isinstance(s, str) for s in v.values()) for v in strings.values())
    ):
        raise SiteError("widget strings must map a language to {key: text}")
    return options


def create_site(store: Store, site_id: str, name: str, *, origins: Sequence[str] = (),
                namespace: str | None = None, **options: Any) -> Site:
    if not SITE_ID.match(site_id):
        raise SiteError(f"site id {site_id!r} must be 1-64 of a-z, 0-9, '-', '_' (starting with a letter/digit)")
    if not name.strip():
        raise SiteError("site name must not be empty")
    site = Site(id=site_id, name=name.strip(), namespace=namespace or site_id,
                public_key="pk_" + secrets.token_urlsafe(18), allowed_origins=[], widget={})
    _apply(site, {"allowed_origins": list(origins), **options})
    install(store)
    try:
        with store.session() as s:
            if s.get(Site, site_id) is not None:
                raise SiteExists(f"site {site_id!r} exists already")
            s.add(site)
    except IntegrityError as exc:  # created concurrently by another request or replica
        raise SiteExists(f"site {site_id!r} exists already") from exc
    return site


def _apply(site: Site, changes: dict[str, Any]) -> None:
    for field, value in changes.items():
        if field == "allowed_origins":
            value = sorted({normalize_origin(o) for o in value})
        elif field in ("key_rate", "session_rate"):
            value = validate_rate(value)
        elif field == "widget":
            value = validate_widget(dict(value or {}))
        elif field == "daily_quota" and value is not None and value < 0:
            raise SiteError("daily_quota must be >= 0 (0 = unlimited)")
        elif field == "namespace" and value is not None and not SITE_ID.match(value):
            raise SiteError(f"namespace {value!r} must be 1-64 of a-z, 0-9, '-', '_'")
        elif field == "name" and not str(value).strip():
            raise SiteError("site name must not be empty")
        elif field in WEBHOOK_FIELDS:
            value = WEBHOOK_FIELDS[field](value)
        elif field == "opening_hours":
            value = opening_hours.validate_hours(value)
        elif field in site_profile.PROFILE_FIELDS:
            value = site_profile.validate_field(field, value)
        elif field not in ("adapter", "quota_message", "daily_quota", "namespace", "name"):
            raise SiteError(f"unknown site field {field!r}")
        setattr(site, field, value)
    if site.webhook_url and not site.webhook_secret:  # every site webhook is signed; the admin reads it in SiteOut
        site.webhook_secret = webhooks.new_secret()


def update_site(store: Store, site_id: str, **changes: Any) -> Site:
    """Change fields of a site (validated as a whole before anything is written)."""
    with store.session() as s:
        site = s.get(Site, site_id)
        if site is None:
            raise SiteNotFound(site_id)
        _apply(site, changes)
        return site


def get_site(store: Store, site_id: str) -> Site:
    with store.session() as s:
        site = s.get(Site, site_id)
        if site is None:
            raise SiteNotFound(site_id)
        return site


def list_sites(store: Store) -> list[Site]:
    with store.session() as s:
        return list(s.scalars(select(Site).order_by(Site.id)).all())


def site_by_public_key(store: Store, public_key: str) -> Site | None:
    with store.session() as s:
        return s.scalar(select(Site).where(Site.public_key == public_key))


def ensure_default_site(store: Store, origins: Sequence[str] = ()) -> Site:
    """The 'default' site serves keyless local use and the /demo page; created on first start."""
    install(store)
    try:
        site = get_site(store, DEFAULT_SITE)
    except SiteNotFound:
        try:
            return create_site(store, DEFAULT_SITE, "Default site", origins=origins)
        except SiteExists:  # another replica won the race
            site = get_site(store, DEFAULT_SITE)
    wanted = sorted({normalize_origin(o) for o in origins} | set(site.allowed_origins))
    if wanted != site.allowed_origins:
        site = update_site(store, DEFAULT_SITE, allowed_origins=wanted)
    return site


def all_origins(store: Store) -> set[str]:
    with store.session() as s:
        return {o for origins in s.scalars(select(Site.allowed_origins)).all() for o in (origins or [])}


# -- keys ----------------------------------------------------------------------------------------
def issue_key(store: Store, site_id: str, name: str = "") -> tuple[ApiKey, str]:
    """Create a secret key; returns (record, plaintext). The plaintext is not stored and cannot be shown again."""
    get_site(store, site_id)
    plaintext = "sk_" + secrets.token_urlsafe(32)
    key = ApiKey(id="key_" + secrets.token_hex(6), site_id=site_id, name=name[:100], prefix=plaintext[:10],
                 hash=_hash(plaintext), active=True)
    with store.session() as s:
        s.add(key)
    return key, plaintext


def list_keys(store: Store, site_id: str) -> list[ApiKey]:
    get_site(store, site_id)
    with store.session() as s:
        return list(s.scalars(select(ApiKey).where(ApiKey.site_id == site_id).order_by(ApiKey.created_at)).all())


def revoke_key(store: Store, key_id: str, site_id: str | None = None) -> ApiKey:
    with store.session() as s:
        key = s.get(ApiKey, key_id)
        if key is None or (site_id is not None and key.site_id != site_id):
            raise KeyNotFound(key_id)
        if key.active:
            key.active, key.revoked_at = False, utcnow()
        return key


def verify_key(store: Store, plaintext: str) -> tuple[Site, ApiKey] | None:
    """The site and key a secret key belongs to, or None when it is unknown or revoked."""
    if not plaintext.startswith("sk_") or len(plaintext) > 100:
        return None
    with store.session() as s:
        key = s.scalar(select(ApiKey).where(ApiKey.hash == _hash(plaintext)))
        if key is None or not key.active:
            return None
        site = s.get(Site, key.site_id)
        return (site, key) if site is not None else None


# -- widget sessions and quotas -----------------------------------------------------------------
def link_conversation(store: Store, conversation_id: str, site_id: str, session_id: str) -> None:
    with store.session() as s:
        if s.get(WidgetConversation, conversation_id) is None:
            s.add(WidgetConversation(conversation_id=conversation_id, site_id=site_id, session_id=session_id))


def session_owns(store: Store, conversation_id: str, session_id: str) -> bool:
    with store.session() as s:
        link = s.get(WidgetConversation, conversation_id)
        return link is not None and link.session_id == session_id


def messages_today(store: Store, site_id: str, now: datetime | None = None) -> int:
    """Customer messages the site received since 00:00 UTC (what the daily quota counts)."""
    now = now or datetime.now(UTC)
    start = now.replace(hour=0, minute=0, second=0, microsecond=0)
    with store.session() as s:
        return s.scalar(
            select(func.count(Message.id)).join(Conversation, Message.conversation_id == Conversation.id)
            .where(Conversation.site_id == site_id, Message.role == "user", Message.created_at >= start)
        ) or 0


def seconds_until_midnight(now: datetime | None = None) -> int:
    now = now or datetime.now(UTC)
    tomorrow = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return max(1, int((tomorrow - now).total_seconds()))


class SiteDirectory:
    """The sites of one store, for callers that hold no store: the server and the widget reach it as
    `Assistant.sites` (the CLI, which opens its own store, builds one too). Each method is the module
    function of the same name without the leading `store`."""

    def __init__(self, store: Store) -> None:
        self._store = store

    @classmethod
    def open(cls, url: str) -> SiteDirectory:
        """The sites of the database at `url` (schema created or upgraded), without building an Assistant."""
        store = Store(url)
        install(store)
        return cls(store)

    def create(self, site_id: str, name: str, *, origins: Sequence[str] = (), namespace: str | None = None,
               **settings: Any) -> Site:
        return create_site(self._store, site_id, name, origins=origins, namespace=namespace, **settings)

    def update(self, site_id: str, **changes: Any) -> Site:
        return update_site(self._store, site_id, **changes)

    def get(self, site_id: str) -> Site:
        return get_site(self._store, site_id)

    def all_sites(self) -> list[Site]:
        return list_sites(self._store)

    def by_public_key(self, public_key: str) -> Site | None:
        return site_by_public_key(self._store, public_key)

    def ensure_default(self, origins: Sequence[str] = ()) -> Site:
        return ensure_default_site(self._store, origins)

    def all_origins(self) -> set[str]:
        return all_origins(self._store)

    def issue_key(self, site_id: str, name: str = "") -> tuple[ApiKey, str]:
        return issue_key(self._store, site_id, name)

    def list_keys(self, site_id: str) -> list[ApiKey]:
        return list_keys(self._store, site_id)

    def revoke_key(self, key_id: str, site_id: str | None = None) -> ApiKey:
        return revoke_key(self._store, key_id, site_id)

    def verify_key(self, plaintext: str) -> tuple[Site, ApiKey] | None:
        return verify_key(self._store, plaintext)

    def messages_today(self, site_id: str, now: datetime | None = None) -> int:
        return messages_today(self._store, site_id, now)

    def data(self, site_id: str) -> site_deletion.SiteData:
        """What deleting the site would remove: its conversations (open handoffs among them) and keys."""
        return site_deletion.site_data(self._store, site_id)

    def delete(self, site_id: str, *, force: bool = False, knowledge: Any = None) -> site_deletion.DeletedSite:
        """Delete the site with its data (site_deletion.py); `knowledge` (a KnowledgeBase) to delete its documents."""
        return site_deletion.delete_site(self._store, site_id, force=force, knowledge=knowledge)
