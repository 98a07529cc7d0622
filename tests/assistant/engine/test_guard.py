"""The answer guard: degenerate openings are caught early, good ones released at once; the extractive answer."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from assistant.engine.backends.fake import FakeBackend
from assistant.engine.events import DoneEvent, TokenEvent
from assistant.engine.facade import Assistant
from assistant.engine.guard import OpeningGuard, extractive_answer, needs_citation
from assistant.engine.settings import Settings
from assistant.engine.store import Store
from assistant.engine.understanding.policy import AnswerPolicy
from assistant.engine.understanding.templates import TemplateBook
from tests.support import FakeClassifier, FakeHit, FakeRetriever

HITS = [
    FakeHit("track", "Track your order", "Open Account > Orders to follow your parcel. The tracking link is in the "
            "shipping e-mail too.", 0.8),
    FakeHit("customs", "International shipping and customs",
            "Parcels to Switzerland and Norway pass customs. The recipient pays import VAT and duties on delivery. "
            "Short.", 0.6),
]
QUESTION = "Who pays the customs tax when a parcel goes to Switzerland?"


def words_encoder(texts: list[str]) -> np.ndarray:
    """Bag-of-words vectors: a stand-in encoder whose nearest sentence is the one sharing most words."""
    vocab: dict[str, int] = {}
    rows = [re.findall(r"[a-z]+", t.lower()) for t in texts]
    for row in rows:
        for w in row:
            vocab.setdefault(w, len(vocab))
    out = np.zeros((len(texts), len(vocab)), dtype=np.float32)
    for i, row in enumerate(rows):
        for w in row:
            out[i, vocab[w]] = 1.0
    return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-9)


def test_a_title_list_is_caught_when_its_first_line_ends() -> None:
    guard = OpeningGuard(QUESTION, HITS)
    assert guard.judge("1. Track your") is None  # could still become the title: held back
    assert guard.judge("[") is None and guard.judge("[1") is None and guard.judge(" 1") is None  # marker pieces
    assert guard.judge("1. Track your order\n") == "title echo"
    assert guard.judge("[1] **International shipping and customs**\n[2]") == "title echo"
    assert guard.judge("[1] 1. Track your order", finished=True) == "title echo"


def test_a_cited_opening_that_reads_out_a_title_is_caught_at_its_second_word() -> None:
    guard = OpeningGuard(QUESTION, HITS)
    assert guard.judge("[1] International") is None  # one word: could still be an answer
    assert guard.judge("[1] International shipp") == "title echo"
    assert guard.judge("[2] **Track your") == "title echo"
    assert guard.judge("[1] International parcels pay") == "ok"  # not a title's opening
    assert guard.judge("1. Track your") is None  # a numbered step may start with a title's words: wait


def test_a_question_echo_is_caught() -> None:
    guard = OpeningGuard(QUESTION, HITS)
    assert guard.judge("Who pays the customs tax when a parcel goes to Switzerland?") == "question echo"
    assert guard.judge("who pays the customs TAX when a parcel goes to Switzerland\n") == "question echo"
    assert guard.judge("Who pays the customs tax") is None  # not yet: it may still turn into an answer


def test_a_good_answer_is_released_as_soon_as_it_cannot_be_an_echo() -> None:
    guard = OpeningGuard(QUESTION, HITS)
    assert guard.judge("The") == "ok"  # no title and not the question start with "The": released at once
    assert guard.judge("Who") is None and guard.judge("Track") is None and guard.judge("  ") is None
    assert guard.judge("Track your order in the app under Orders") == "ok"  # a title followed by more words
    assert guard.judge("Who pays depends on the destination") == "ok"
    assert guard.judge("Yes", finished=True) == "ok"
    assert guard.judge("15 euros") == "ok" and guard.judge("[see") == "ok"
    assert guard.judge("", finished=True) == "ok"  # nothing to judge: the caller falls back


def test_extractive_answer_picks_the_sentence_closest_to_the_question_and_cites_its_passage() -> None:
    answer = extractive_answer(QUESTION, HITS, words_encoder, max_passages=2)
    # the chosen sentence is short, so the one after it in the same passage comes along
    assert answer == "Parcels to Switzerland and Norway pass customs. The recipient pays import VAT and duties on delivery. [2]"
    answer = extractive_answer("Who pays import VAT and duties?", HITS, words_encoder, max_passages=2)
    assert answer == "The recipient pays import VAT and duties on delivery. [2]"


def test_extractive_answer_uses_the_top_passage_by_default_and_reads_wrapped_lines_and_tables() -> None:
    text = ("# Merging orders\nWe cannot merge two orders because each has its own invoice and\nshipment.\n\n"
            "| Method | Time |\n|---|---|\n| PayPal | 1–2 business days |\n")
    page = FakeHit("orders", "Orders", text, 0.7)
    assert extractive_answer("How long does a PayPal refund take?", [page, HITS[1]], words_encoder) == (
        "PayPal – 1–2 business days [1]")
    assert extractive_answer("Can you merge two orders?", [page], words_encoder) == (
        "We cannot merge two orders because each has its own invoice and shipment. [1]")
    assert extractive_answer(QUESTION, HITS, words_encoder).endswith("[1]")  # passage 2 is not looked at


def test_extractive_answer_without_an_encoder_is_the_top_passage_opening() -> None:
    assert extractive_answer(QUESTION, HITS, None) == (
        "Open Account > Orders to follow your parcel. The tracking link is in the shipping e-mail too. [1]")
    assert extractive_answer(QUESTION, [], None) == ""
    long = FakeHit("x", "X", "word " * 200, 0.5)
    cut = extractive_answer(QUESTION, [long], None, max_chars=60)
    assert cut.endswith("… [1]") and len(cut) <= 66


@dataclass
class EmbeddingRetriever(FakeRetriever):
    embedder: object = field(default=None)


class WordsEmbedder:
    def encode(self, texts: list[str], progress: bool = False) -> np.ndarray:
        return words_encoder(texts)


def _assistant(tmp_path: Path, backend: FakeBackend, guard: bool = True) -> Assistant:
    settings = Settings(data_dir=tmp_path, engine={"answer_guard": guard})
    hits = [HITS[1], HITS[0]]  # the customs page ranks first for this question
    return Assistant(settings, backend=backend, retriever=EmbeddingRetriever(hits, embedder=WordsEmbedder()),
                     understanding=FakeClassifier(), policy=AnswerPolicy(settings.understanding, TemplateBook.empty()),
                     store=Store(settings.resolved_database_url))


async def _events(bot: Assistant, message: str) -> list:
    return [e async for e in bot.stream(message)]


def test_the_facade_never_streams_a_title_list_and_answers_from_the_passages(tmp_path: Path) -> None:
    backend = FakeBackend()
    backend.enqueue("1. International shipping and customs\n2. Track your order\n3. Customs checks")
    bot = _assistant(tmp_path, backend)
    events = asyncio.run(_events(bot, QUESTION))
    streamed = "".join(e.text for e in events if isinstance(e, TokenEvent))
    reply = events[-1].reply
    assert isinstance(events[-1], DoneEvent) and reply.route == "generate"
    assert streamed == reply.answer
    assert reply.answer == "Parcels to Switzerland and Norway pass customs. The recipient pays import VAT and duties on delivery. [1]"
    assert backend._active == 0  # the stream was closed: the engine's slot is free
    stored = bot.store.get_conversation(reply.conversation_id, "default").messages[-1].content
    assert stored == reply.answer


def test_the_facade_streams_a_good_answer_from_its_first_word(tmp_path: Path) -> None:
    backend = FakeBackend()
    backend.enqueue("You pay nothing: the recipient pays import VAT [2].")
    bot = _assistant(tmp_path, backend)
    events = asyncio.run(_events(bot, QUESTION))
    tokens = [e.text for e in events if isinstance(e, TokenEvent)]
    assert tokens[0] == "You " and len(tokens) > 3
    assert events[-1].reply.answer == "You pay nothing: the recipient pays import VAT [2]."


def test_with_the_guard_off_the_model_text_streams_as_it_comes(tmp_path: Path) -> None:
    backend = FakeBackend()
    backend.enqueue("1. International shipping and customs\n2. Track your order")
    events = asyncio.run(_events(_assistant(tmp_path, backend, guard=False), QUESTION))
    tokens = [e.text for e in events if isinstance(e, TokenEvent)]
    assert tokens[0] == "1. " and events[-1].reply.answer == "1. International shipping and customs\n2. Track your order"


def test_an_answer_that_cites_nothing_gets_the_closest_sentence_added_and_cited(tmp_path: Path) -> None:
    backend = FakeBackend()
    backend.enqueue("The answer to the question is: no.", "Parcels to Switzerland and Norway pass customs.")
    bot = _assistant(tmp_path, backend)
    events = asyncio.run(_events(bot, QUESTION))
    reply = events[-1].reply
    quote = "Parcels to Switzerland and Norway pass customs. The recipient pays import VAT and duties on delivery. [1]"
    assert reply.answer == f"The answer to the question is: no.\n\n{quote}"
    assert "".join(e.text for e in events if isinstance(e, TokenEvent)) == reply.answer
    # an uncited answer that quotes a passage word for word gets that passage's number, not a repeat
    again = asyncio.run(_events(bot, QUESTION))[-1].reply
    assert again.answer == "Parcels to Switzerland and Norway pass customs. [1]"
    assert not needs_citation("See [2].") and needs_citation("No.") and not needs_citation("  ")
    # an answer cut at max_tokens is left as the client asked for it
    backend.enqueue("The answer to the question is: no.")
    bot.settings.engine.max_new_tokens = 4
    assert asyncio.run(_events(bot, QUESTION))[-1].reply.answer == "The answer to the"
