"""Deleting a site with its data: its conversations (and everything stored with them), keys, alerts and the
documents of its knowledge-base namespace.

    data = site_data(store, "acme")                      # what would go: conversations, open handoffs, keys
    deleted = delete_site(store, "acme", knowledge=kb)   # SiteBusy while a person may be answering (force=True)

The default site cannot be deleted (keyless local use and /demo answer as it). A namespace that another site
shares keeps its documents. The checks run before anything is deleted; the documents go first and the rows last,
in one transaction, so a failure part-way leaves the site in place and running the deletion again finishes it.
Audit-log entries stay: they outlive their site on purpose.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from assistant.engine.errors import SiteBusy, SiteNotFound
from assistant.engine.site_profile import DEFAULT_SITE
from assistant.engine.store import Conversation, Store


@dataclass(frozen=True)
class SiteData:
    """What deleting the site would remove from the database."""

    conversations: int
    open_handoffs: int
    keys: int


@dataclass(frozen=True)
class DeletedSite:
    site_id: str
    conversations: int
    keys: int
    documents: int
    namespace: str
    namespace_shared: bool  # another site uses the namespace too: its documents were kept


def _counts(s: Session, site_id: str) -> SiteData:
    from assistant.engine.sites import ApiKey

    def count(query: Any) -> int:
        return s.scalar(query) or 0

    return SiteData(
        conversations=count(select(func.count(Conversation.id)).where(Conversation.site_id == site_id)),
        open_handoffs=count(select(func.count(Conversation.id)).where(Conversation.site_id == site_id,
                                                                      Conversation.status == "handoff")),
        keys=count(select(func.count(ApiKey.id)).where(ApiKey.site_id == site_id)),
    )


def site_data(store: Store, site_id: str) -> SiteData:
    from assistant.engine.sites import Site

    with store.session() as s:
        if s.get(Site, site_id) is None:
            raise SiteNotFound(site_id)
        return _counts(s, site_id)


def _refuse_busy(site_id: str, data: SiteData, force: bool) -> None:
    if data.open_handoffs and not force:
        raise SiteBusy(f"site {site_id!r} has {data.open_handoffs} open handoff(s): a person may be answering "
                       "them; close them first, or force the deletion")


def delete_site(store: Store, site_id: str, *, force: bool = False, knowledge: Any = None) -> DeletedSite:
    """Delete the site, its rows and (with `knowledge`, a KnowledgeBase) its namespace's documents."""
    from assistant.engine.alerts import Alert
    from assistant.engine.sites import ApiKey, Site, WidgetConversation

    if site_id == DEFAULT_SITE:
        raise SiteBusy("the default site cannot be deleted: keyless local use and /demo answer as it")
    with store.session() as s:
        site = s.get(Site, site_id)
        if site is None:
            raise SiteNotFound(site_id)
        namespace = site.namespace
        shared = s.scalar(select(func.count(Site.id)).where(Site.namespace == namespace, Site.id != site_id)) > 0
        _refuse_busy(site_id, _counts(s, site_id), force)
    documents = 0
    if knowledge is not None and not shared:
        for document in knowledge.documents(namespace):
            documents += bool(knowledge.delete_document(document["id"], namespace))
    with store.session() as s:
        data = _counts(s, site_id)
        _refuse_busy(site_id, data, force)  # a handoff that arrived meanwhile: still nothing of the rows deleted
        # Messages, feedback, widget links and the other per-conversation rows cascade with their conversation.
        s.execute(delete(WidgetConversation).where(WidgetConversation.site_id == site_id))
        s.execute(delete(Conversation).where(Conversation.site_id == site_id))
        s.execute(delete(Alert).where(Alert.site_id == site_id))
        s.execute(delete(ApiKey).where(ApiKey.site_id == site_id))
        s.execute(delete(Site).where(Site.id == site_id))
    return DeletedSite(site_id=site_id, conversations=data.conversations, keys=data.keys, documents=documents,
                       namespace=namespace, namespace_shared=shared)
