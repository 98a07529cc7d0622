"""The SDK's operator calls against a real HTTP server (free port, the real app, SQLite, the fake backend):
templates (edit, retire, revert, another site's NotFound, bad input InvalidRequest), unanswered questions (a
thumbs-down reply is listed, an answer takes its group off the list), the customer's contact address and
conversation exports, each through Client and AsyncClient."""

from __future__ import annotations

import asyncio

import pytest

from assistant.sdk import AsyncClient, Client, InvalidRequest, NotFound
from assistant.sdk.types import ConversationExport, TemplateOut

TEXT = "Refunds reach your card within 3 business days of our check."


def test_templates_round_trip_per_site(live) -> None:
    with Client(live.base, live.keys["acme"]) as acme, Client(live.base, live.keys["other"]) as other:
        added = acme.save_template("refund_status.sdk", "refund_status", TEXT, threshold=0.1)
        assert isinstance(added, TemplateOut)
        assert (added.status, added.version, added.text, added.threshold) == ("added", 1, TEXT, 0.1)
        # that an edit answers the site's next turn is tests/assistant/server/test_templates_api.py's (real
        # understanding); this fixture's fixed classifier and empty template book never pick a template
        assert [t.id for t in acme.templates().templates if t.id == "refund_status.sdk"] == ["refund_status.sdk"]
        edited = acme.save_template("refund_status.sdk", "refund_status", "Refunds take 4 days.", threshold=0.1)
        assert (edited.status, edited.version) == ("added", 2)
        retired = acme.retire_template("refund_status.sdk")
        assert retired.status == "retired"
        back = acme.revert_template("refund_status.sdk", 1)
        assert (back.version, back.text, back.versions[-1].restores) == (4, TEXT, 1)
        assert acme.get_template("refund_status.sdk").text == TEXT
        assert [v.action for v in acme.get_template("refund_status.sdk").versions] == [
            "add", "edit", "retire", "revert"]

        assert "refund_status.sdk" not in {t.id for t in other.templates().templates}
        with pytest.raises(NotFound) as err:
            other.get_template("refund_status.sdk")  # another site's template
        assert err.value.code == "template_not_found"
        with pytest.raises(NotFound):
            other.retire_template("refund_status.sdk")
        with pytest.raises(InvalidRequest) as err:
            acme.save_template("refund_status.bad", "refund_status", "Your {nope} is on its way.")
        assert err.value.status == 422 and err.value.code == "invalid_template"
        with pytest.raises(NotFound):
            acme.get_template("refund_status.bad")  # nothing was stored
        with pytest.raises(InvalidRequest):
            acme.revert_template("refund_status.sdk", -1)


def test_unanswered_contact_and_export(live) -> None:
    with Client(live.base, live.keys["acme"]) as acme, Client(live.base, live.keys["other"]) as other:
        reply = acme.chat("Do you rent tandem bikes?")
        acme.feedback(reply.conversation_id, reply.message_id, "down")
        groups = acme.unanswered().groups
        assert [(g.question, g.question_ids, g.reasons) for g in groups] == [
            ("Do you rent tandem bikes?", [reply.message_id], {"thumbs_down": 1})]
        assert other.unanswered().groups == []
        with pytest.raises(NotFound) as err:
            other.answer_unanswered("Tandems?", "Yes.", groups[0].question_ids)  # another site's question
        assert err.value.code == "question_not_found"
        with pytest.raises(InvalidRequest) as err:
            acme.answer_unanswered("Tandems?", "   ", groups[0].question_ids)
        assert err.value.status == 400
        assert acme.unanswered().groups != []  # nothing stored
        saved = acme.answer_unanswered("Do you rent tandem bikes?", "Yes, €35 a day.", groups[0].question_ids,
                                       author="maria")
        assert (saved.site_id, saved.answers, saved.answer) == ("acme", 1, "Yes, €35 a day.")
        assert acme.unanswered().groups == []

        contact = acme.leave_contact(reply.conversation_id, "jo@example.com")
        assert (contact.conversation_id, contact.email) == (reply.conversation_id, "jo@example.com")
        with pytest.raises(InvalidRequest) as err:
            acme.leave_contact(reply.conversation_id, "not an address")
        assert err.value.code == "invalid_email"
        with pytest.raises(NotFound):
            other.leave_contact(reply.conversation_id, "eve@example.com")

        jsonl = acme.export_conversations()
        assert isinstance(jsonl, ConversationExport) and jsonl.count == 1
        [conversation] = jsonl.records()
        assert conversation["id"] == reply.conversation_id
        assert "jo@example.com" not in jsonl.text  # the contact address never leaves in an export
        rows = acme.export_conversations("csv").records()
        assert [(r["role"], r["content"]) for r in rows][0] == ("user", "Do you rent tandem bikes?")
        assert other.export_conversations().count == 0
        with pytest.raises(InvalidRequest) as err:
            acme.export_conversations(route="nowhere")
        assert err.value.code == "invalid_export"


def test_async_client_operator_calls(live) -> None:
    async def run() -> None:
        async with AsyncClient(live.base, live.keys["acme"]) as acme, \
                AsyncClient(live.base, live.keys["other"]) as other:
            added = await acme.save_template("refund_status.async", "refund_status", TEXT, threshold=0.1)
            assert added.version == 1 and (await acme.get_template("refund_status.async")).text == TEXT
            assert (await acme.retire_template("refund_status.async")).status == "retired"
            assert (await acme.revert_template("refund_status.async", 1)).text == TEXT
            assert "refund_status.async" in {t.id for t in (await acme.templates()).templates}
            with pytest.raises(NotFound):
                await other.get_template("refund_status.async")
            with pytest.raises(InvalidRequest):
                await acme.save_template("refund_status.async", "refund_status", "")

            reply = await acme.chat("Do you rent tandem bikes?")
            await acme.feedback(reply.conversation_id, reply.message_id, "down")
            [group] = (await acme.unanswered()).groups
            assert (await acme.answer_unanswered(group.question, "Yes.", group.question_ids)).answers == 1
            assert (await acme.unanswered()).groups == []
            assert (await acme.leave_contact(reply.conversation_id, "jo@example.com")).email == "jo@example.com"
            with pytest.raises(InvalidRequest):
                await acme.leave_contact(reply.conversation_id, "nope")
            export = await acme.export_conversations("jsonl")
            assert export.count == 1 and export.records()[0]["id"] == reply.conversation_id

    asyncio.run(run())
