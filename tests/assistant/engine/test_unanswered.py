"""The Unanswered view (Assistant.unanswered) and its console tab on real components: SQLite, the real index with
the real embedding model (all-MiniLM-L6-v2), the real turn; a fake chat backend and intent classifier. Questions a
site could not answer are grouped by meaning; an operator's answer becomes that site's FAQ entry, answering the same
question from the next turn on (route faq, cited) on that site only."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import gradio as gr
import pytest

from assistant.engine.errors import InvalidMessage, MessageNotFound
from assistant.engine.knowledge import open_retriever
from assistant.engine.unanswered import ANSWERS_KEY, MAX_ANSWER_CHARS
from tests.assistant.server.sites_support import app_client, auth, make_settings, new_site
from ui.console.context import ConsoleContext
from ui.console.tabs.unanswered import UnansweredTab

pytestmark = pytest.mark.slow  # the real embedding model

ICELAND = "Yes, we ship to Iceland: parcels arrive in 5 to 8 working days."
REFUND_PAGE = "# Refunds\n\nRefunds are paid back to your card within 5 business days of our receiving the return.\n"


def _chat(client, key: str, text: str, cid: str | None = None) -> dict:
    r = client.post("/v1/chat", json={"message": text, **({"conversation_id": cid} if cid else {})},
                    headers=auth(key))
    assert r.status_code == 200, r.text
    return r.json()


def test_unanswered_questions_are_grouped_and_an_answer_serves_that_site_only(tmp_path: Path) -> None:
    retriever = open_retriever(make_settings(tmp_path), progress=False, seed=False)
    with app_client(tmp_path, retriever=retriever, require_keys=True) as client:
        bot = client.bot
        _, acme = new_site(client, "acme")
        _, other = new_site(client, "other")
        pages = tmp_path / "acme-pages"
        pages.mkdir()
        (pages / "refunds.md").write_text(REFUND_PAGE)
        bot.knowledge.add_documents([pages], namespace="acme")

        first = _chat(client, acme, "Do you ship to Iceland?")
        assert first["route"] == "abstain"
        # the same conversation's second miss hands off for lack of an answer (repeated_abstention)
        second = _chat(client, acme, "Can you deliver to Iceland?", first["conversation_id"])
        assert second["handoff"]["reason"] == "repeated_abstention"
        assert _chat(client, acme, "do you deliver parcels to iceland")["route"] == "abstain"
        assert _chat(client, acme, "Can I pay with bitcoin?")["route"] == "abstain"
        refund = _chat(client, acme, "How long does a refund take?")
        assert refund["route"] not in ("abstain", "handoff")
        assert client.post("/v1/feedback", headers=auth(acme), json={
            "conversation_id": refund["conversation_id"], "message_id": refund["message_id"],
            "rating": "down"}).status_code == 200
        assert _chat(client, other, "Do you ship to Iceland?")["route"] == "abstain"

        groups = bot.unanswered.groups("acme")
        by_size = [(g.count, sorted(g.examples)) for g in groups]
        assert by_size[0] == (3, ["Can you deliver to Iceland?", "Do you ship to Iceland?",
                                  "do you deliver parcels to iceland"])
        iceland = groups[0]
        assert iceland.reasons == {"abstain": 2, "handoff": 1}
        assert iceland.question_ids[-1] == iceland.id == first["message_id"]  # newest first; id: the earliest
        rest = {g.question: g.reasons for g in groups[1:]}
        assert rest == {"Can I pay with bitcoin?": {"abstain": 1},
                        "How long does a refund take?": {"thumbs_down": 1}}
        assert [g.examples for g in bot.unanswered.groups("other")] == [["Do you ship to Iceland?"]]

        # Bad input: said, nothing written (no entry in the index, no audit entry).
        for question, answer, ids, error in [
            ("Do you ship to Iceland?", "   ", iceland.question_ids, InvalidMessage),
            ("Do you ship to Iceland?", "x" * (MAX_ANSWER_CHARS + 1), iceland.question_ids, InvalidMessage),
            ("", ICELAND, iceland.question_ids, InvalidMessage),
            ("Do you ship to Iceland?", ICELAND, [], InvalidMessage),
            # another site's question is not this site's to answer
            ("Do you ship to Iceland?", ICELAND, bot.unanswered.groups("other")[0].question_ids, MessageNotFound),
        ]:
            with pytest.raises(error):
                bot.unanswered.answer("acme", question, answer, ids, actor="maria")
        assert [d["id"] for d in bot.knowledge.documents("acme")] == ["refunds"]
        assert bot.audit.entries(action="faq_answer") == []

        saved = bot.unanswered.answer("acme", "Do you ship to Iceland?", ICELAND, iceland.question_ids,
                                      actor="maria")
        assert saved.answers == 3 and saved.namespace == "acme"
        meta = bot.knowledge.entry_metadata("acme")[saved.doc_id]
        assert meta["format"] == "faq" and set(meta[ANSWERS_KEY].split()) == set(iceland.question_ids)
        # the group is answered: no longer listed; the others stay
        assert [g.question for g in bot.unanswered.groups("acme")] == [q for q in rest]
        [entry] = bot.audit.entries(action="faq_answer")
        assert (entry.site_id, entry.actor, entry.target) == ("acme", "maria", f"kb:acme/{saved.doc_id}")
        assert ICELAND not in str(entry.detail)  # ids and counts, never the text

        # From the next turn on: that site's customers get the answer, in other words too; the other site does not.
        for wording in ("Do you ship to Iceland?", "can you deliver to iceland"):
            reply = _chat(client, acme, wording)
            assert (reply["route"], reply["answer"]) == ("faq", f"{ICELAND} [1]")
            assert reply["sources"][0]["doc_id"] == saved.doc_id
        assert _chat(client, other, "Do you ship to Iceland?")["route"] == "abstain"
        assert [g.count for g in bot.unanswered.groups("other")] == [2]
        with pytest.raises(MessageNotFound):  # answered already
            bot.unanswered.answer("acme", "Do you ship to Iceland?", ICELAND, iceland.question_ids[:1])


def test_console_tab_lists_groups_and_writes_an_answer(tmp_path: Path) -> None:
    retriever = open_retriever(make_settings(tmp_path), progress=False, seed=False)
    with app_client(tmp_path, retriever=retriever, require_keys=True) as client:
        _, acme = new_site(client, "acme")
        for text in ("Do you sell gift cards?", "Can I buy a gift card?", "Is there a store in Tokyo?"):
            assert _chat(client, acme, text)["route"] == "abstain"
        with gr.Blocks():
            tab = UnansweredTab(ConsoleContext(lambda: client.bot, client.bot.settings))

        _, table, groups, status = tab.render("acme")
        assert list(table["count"]) == [2, 1] and "2 groups" in status
        assert "gift card" in table.iloc[0]["question"].lower()
        question, examples, current = tab.on_select(groups, SimpleNamespace(index=[0, 2]))
        assert current == groups[0] and "Do you sell gift cards?" in examples and "gift card" in question.lower()

        # bad input: a notice, nothing written, the text kept for the operator to fix
        *_, status, box = tab.write("acme", current, question, "  ", "Maria")
        assert "must not be empty" in status and client.bot.knowledge.documents("acme") == []
        *_, status, box = tab.write("acme", None, question, "We do.", "Maria")
        assert "Select a group" in status and box == "We do."

        answer = "Yes: gift cards from €10 to €200 are sold on our website."
        _, table, groups, _, status, box = tab.write("acme", current, "Do you sell gift cards?", answer, "Maria")
        assert "Saved" in status and box == "" and list(table["count"]) == [1]
        reply = _chat(client, acme, "do you sell gift cards")
        assert (reply["route"], reply["answer"]) == ("faq", f"{answer} [1]")
        assert client.bot.audit.entries(site_id="acme", action="faq_answer")[0].actor == "Maria"
