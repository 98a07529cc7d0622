"""The questions a site's assistant could not answer, grouped by meaning, and the operator's answer to a group.

    groups = assistant.unanswered.groups("acme")          # biggest group first
    g = groups[0]; g.question, g.count, g.last_seen, g.examples, g.question_ids
    assistant.unanswered.answer("acme", g.question, "We ship to Iceland in 5 days.", g.question_ids, actor="maria")

A customer question is unanswered when the reply to it abstained (route "abstain"), handed off because of repeated
abstentions (handoff reason "repeated_abstention", policy.py), or was rated thumbs down (reviews.Feedback). The
questions are embedded with the knowledge base's own embedding model and grouped with scikit-learn's
AgglomerativeClustering (cosine distance, average linkage), so "do you ship to Iceland?" and "can you deliver to
Iceland?" are one group.

An answer becomes an FAQ entry (title = the question, text = the answer, format "faq") in the site's knowledge-base
namespace: retrieval ranks it first for that question from the next turn on and the turn answers with its own text
(compose.faq_answer, route "faq", cited). The entry's metadata lists the message ids of the replies it answers
(ANSWERS_KEY); those questions are no longer listed, so "answered" needs no table of its own. The action is audited
(action "faq_answer", the entry's id and how many questions: never the text).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import and_, or_, select
from sqlalchemy.orm import aliased

from assistant.engine import audit
from assistant.engine.compose import FAQ_MAX_CHARS
from assistant.engine.errors import InvalidMessage, MessageNotFound
from assistant.engine.reviews import Feedback
from assistant.engine.store import Conversation, Message, Store, utcnow

log = logging.getLogger(__name__)

Encoder = Callable[[list[str]], "np.ndarray | None"]

# Cosine distance under which two questions are one group (average linkage). Measured with all-MiniLM-L6-v2 on
# paraphrases and neighbours: "do you ship to Iceland?" / "can you deliver to Iceland?" 0.15, "... to Reykjavik?"
# 0.22, "can I pay with bitcoin?" / "do you accept crypto payments?" 0.41; different questions on one topic
# ("how long does a refund take?" / "can I return shoes I wore?") 0.68, unrelated ones 0.75 and more.
GROUP_DISTANCE = 0.5
MAX_QUESTIONS = 2000  # the newest ones: clustering is quadratic in memory, and older ones are long stale
EXAMPLES = 5  # distinct wordings shown per group
MAX_QUESTION_CHARS = 500  # the FAQ entry's title: a question, not a page
MAX_ANSWER_CHARS = FAQ_MAX_CHARS  # longer FAQ answers are cut to their opening lines: the customer must read it all
ANSWERS_KEY = "answers_messages"  # FAQ entry metadata: space-separated reply message ids it answers
CURATED_BY = "curated_by"  # FAQ entry metadata: who wrote it
DOC_PREFIX = "operator-faq/"
REASONS = ("abstain", "handoff", "thumbs_down")


@dataclass(frozen=True)
class UnansweredQuestion:
    """One customer question and why it counts as unanswered; `message_id` is the reply's id."""

    message_id: str
    conversation_id: str
    question: str
    reason: str  # abstain | handoff | thumbs_down
    at: datetime


@dataclass(frozen=True)
class UnansweredGroup:
    """Questions that mean the same: the most typical wording, how many, when last asked, wordings, reply ids."""

    id: str  # the group's earliest reply id: stable while that question stays unanswered
    question: str
    count: int
    last_seen: datetime
    examples: list[str]
    question_ids: list[str]
    reasons: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class CuratedAnswer:
    """The FAQ entry an operator's answer became."""

    site_id: str
    namespace: str
    doc_id: str
    question: str
    answer: str
    answers: int  # how many customer questions it answers


class Unanswered:
    """`Assistant.unanswered`: the groups of a site's unanswered questions, and answering one as an FAQ entry."""

    def __init__(self, store: Store, knowledge: Any, sites: Any, encode: Encoder) -> None:
        self._store = store
        self._knowledge = knowledge  # KnowledgeBase: add_faq, entry_metadata
        self._sites = sites  # the site's namespace
        self._encode = encode

    # -- reading -------------------------------------------------------------------------------------
    def questions(self, site_id: str, *, limit: int = MAX_QUESTIONS) -> list[UnansweredQuestion]:
        """The site's unanswered customer questions, newest first, without those an operator has answered."""
        answered = self.answered_ids(site_id)
        reply, asked = aliased(Message), aliased(Message)
        down = select(Feedback.message_id).where(Feedback.rating == "down")
        q = (select(reply, asked.content)
             .join(Conversation, Conversation.id == reply.conversation_id)
             # add_turn writes the customer's message and the reply together, numbered n and n + 1
             .join(asked, and_(asked.conversation_id == reply.conversation_id, asked.seq == reply.seq - 1,
                               asked.role == "user"))
             .where(Conversation.site_id == site_id, reply.role == "assistant",
                    or_(reply.abstained.is_(True), reply.route == "abstain",
                        reply.handoff_reason == "repeated_abstention", reply.id.in_(down)))
             .order_by(reply.created_at.desc(), reply.id).limit(limit + len(answered)))
        with self._store.session() as s:
            rows = s.execute(q).all()
            downs = set(s.scalars(down.where(Feedback.message_id.in_([r.id for r, _ in rows]))).all())
        out = []
        for r, text in rows:
            if r.id in answered or not (text or "").strip():
                continue
            reason = ("handoff" if r.handoff_reason == "repeated_abstention"
                      else "abstain" if r.abstained or r.route == "abstain" else "thumbs_down")
            if r.id in downs and reason != "thumbs_down":
                reason = "thumbs_down"  # the customer said so themselves: the strongest signal
            out.append(UnansweredQuestion(r.id, r.conversation_id, text.strip(), reason, r.created_at))
        return out[:limit]

    def groups(self, site_id: str, *, limit: int = MAX_QUESTIONS) -> list[UnansweredGroup]:
        """The site's unanswered questions grouped by meaning, the biggest (then the latest) group first."""
        questions = self.questions(site_id, limit=limit)
        if not questions:
            return []
        labels, vectors = self._cluster([q.question for q in questions])
        members: dict[int, list[int]] = {}
        for i, label in enumerate(labels):
            members.setdefault(int(label), []).append(i)
        out = [self._group(questions, idx, vectors) for idx in members.values()]
        return sorted(out, key=lambda g: (-g.count, -g.last_seen.timestamp()))

    def answered_ids(self, site_id: str) -> set[str]:
        """Reply ids an operator's FAQ entry in the site's namespace answers."""
        entries = self._knowledge.entry_metadata(self._namespace(site_id))
        return {i for meta in entries.values() for i in str(meta.get(ANSWERS_KEY) or "").split()}

    # -- answering -----------------------------------------------------------------------------------
    def answer(self, site_id: str, question: str, answer: str, question_ids: Sequence[str], *,
               actor: str = "operator") -> CuratedAnswer:
        """Add `question` / `answer` as an FAQ entry of the site, answering the replies `question_ids` (a group's).

        InvalidMessage: empty or over-long question or answer, or no question ids; MessageNotFound: an id that is
        not one of this site's unanswered questions (another site's, or already answered). Nothing is written then;
        the entry and its audit entry are written together (a failed ingest leaves no audit entry)."""
        question, answer = (question or "").strip(), (answer or "").strip()
        if not question:
            raise InvalidMessage("the question must not be empty")
        if len(question) > MAX_QUESTION_CHARS:
            raise InvalidMessage(f"the question is {len(question)} characters; the limit is {MAX_QUESTION_CHARS}")
        if not answer:
            raise InvalidMessage("the answer must not be empty")
        if len(answer) > MAX_ANSWER_CHARS:
            raise InvalidMessage(f"the answer is {len(answer)} characters; the limit is {MAX_ANSWER_CHARS}")
        ids = list(dict.fromkeys(i for i in question_ids if i))
        if not ids:
            raise InvalidMessage("name the questions it answers (a group's question_ids)")
        open_ids = {q.message_id for q in self.questions(site_id, limit=MAX_QUESTIONS * 5)}
        unknown = [i for i in ids if i not in open_ids]
        if unknown:
            raise MessageNotFound(f"no unanswered question {unknown[0]!r} on site {site_id!r}")
        namespace = self._namespace(site_id)
        digest = hashlib.sha256(" ".join(sorted(ids)).encode()).hexdigest()[:16]
        doc_id = f"{DOC_PREFIX}{digest}"
        metadata = {ANSWERS_KEY: " ".join(ids), CURATED_BY: (actor or "operator")[:100],
                    "curated_at": utcnow().isoformat(timespec="seconds")}
        with self._store.session() as s:  # the audit entry commits only once the entry is in the index
            audit.record(s, site_id, actor, "faq_answer", f"kb:{namespace}/{doc_id}",
                         {"questions": len(ids), "doc_id": doc_id, "namespace": namespace})
            self._knowledge.add_faq(doc_id, question, answer, namespace, metadata)
        log.info("site %s: operator %s answered %d question(s) as %s", site_id, actor, len(ids), doc_id)
        return CuratedAnswer(site_id, namespace, doc_id, question, answer, len(ids))

    # -- internals -----------------------------------------------------------------------------------
    def _namespace(self, site_id: str) -> str:
        return self._sites.get(site_id).namespace  # SiteNotFound for an unknown site

    def _cluster(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray | None]:
        """(a group label per text, their unit vectors); without an encoder, equal wordings only."""
        vectors = self._encode(texts) if len(texts) > 1 else None
        if vectors is None:
            keys = {t: i for i, t in enumerate(dict.fromkeys(" ".join(t.lower().split()) for t in texts))}
            return np.array([keys[" ".join(t.lower().split())] for t in texts]), None
        from sklearn.cluster import AgglomerativeClustering

        model = AgglomerativeClustering(n_clusters=None, distance_threshold=GROUP_DISTANCE, metric="cosine",
                                        linkage="average")
        return model.fit_predict(vectors), vectors

    @staticmethod
    def _group(questions: list[UnansweredQuestion], idx: list[int], vectors: np.ndarray | None) -> UnansweredGroup:
        items = [questions[i] for i in idx]  # newest first, as questions() gives them
        if vectors is not None and len(idx) > 2:
            rows = vectors[idx]
            lead = items[int(np.argmax(rows @ rows.mean(axis=0)))]  # the wording closest to the group's centre
        else:
            lead = items[0]
        examples = list(dict.fromkeys(q.question for q in items))[:EXAMPLES]
        reasons: dict[str, int] = {}
        for q in items:
            reasons[q.reason] = reasons.get(q.reason, 0) + 1
        earliest = min(items, key=lambda q: (q.at, q.message_id))
        return UnansweredGroup(id=earliest.message_id, question=lead.question, count=len(items),
                               last_seen=max(q.at for q in items), examples=examples,
                               question_ids=[q.message_id for q in items], reasons=reasons)
