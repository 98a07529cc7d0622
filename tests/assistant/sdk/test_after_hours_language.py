"""Out of a site's opening hours, a French customer is told in French when a person answers, through a real
server on a free port (real language detection; a fake intent classifier and backend): a typed request, and the
widget's button, which sends no text (the language the customer last wrote in). In hours, a site's own handoff
message is said as written, whatever the customer's language."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from assistant.engine import sites
from assistant.engine.opening_hours import DAYS
from assistant.sdk import Client

CUSTOM = "A colleague from the night shift will reply here shortly."


def _closed() -> dict:
    """Hours that are never now: one hour, three days ahead (UTC)."""
    day = datetime.now(UTC).date() + timedelta(days=3)
    return {"timezone": "UTC", "weekly": {DAYS[day.weekday()]: ["09:00-10:00"]}}


def test_a_french_customer_out_of_hours_is_told_in_french(live) -> None:
    sites.update_site(live.bot.store, "acme", opening_hours=_closed())
    with Client(live.base, live.keys["acme"]) as client:
        typed = client.chat("Je voudrais parler à un conseiller, s'il vous plaît.")
        assert typed.route == "handoff" and typed.handoff.after_hours, typed
        assert typed.answer.startswith("Notre équipe n'est pas disponible pour le moment et sera de retour ")
        assert "à 09:00 (UTC)" in typed.answer and "Laissez votre adresse e-mail" in typed.answer

        # the widget's button: no text of its own; the customer wrote in French before
        cid = client.chat("Combien de temps faut-il pour un remboursement ?").conversation_id
        button = client.request_handoff(cid)
        assert button.after_hours and button.message.startswith("Notre équipe n'est pas disponible"), button
        # in English, or with nothing to tell the language by: the English text
        english = client.request_handoff(message="I would like to talk to a person please")
        assert english.message.startswith("Our team is offline right now and back on ")
        assert client.request_handoff().message.startswith("Our team is offline right now")


def test_in_hours_a_sites_own_handoff_message_stays_as_written(live) -> None:
    always = {"timezone": "UTC", "weekly": {d: ["00:00-24:00"] for d in DAYS}}
    sites.update_site(live.bot.store, "acme", opening_hours=always, handoff_message=CUSTOM)
    with Client(live.base, live.keys["acme"]) as client:
        typed = client.chat("Je voudrais parler à un conseiller, s'il vous plaît.")
        assert (typed.route, typed.answer, typed.handoff.after_hours) == ("handoff", CUSTOM, False)
        button = client.request_handoff(message="Je voudrais parler à un conseiller, s'il vous plaît.")
        assert (button.message, button.after_hours) == (CUSTOM, False)
