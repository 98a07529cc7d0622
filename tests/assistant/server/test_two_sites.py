"""Two sites in one real server: the sample shop (the default site) and a bike-rental company with its own key,
pages, templates, intents, company name and handoff message. The same questions go to both over the four
surfaces a customer reaches (REST /v1/chat, the OpenAI endpoint through the official client, the widget's session
flow and the Python SDK), and every reply, template, intent, source and conversation (and the /demo page's name)
is checked against the other site's. The leaks are counted; there must be none.

Real understanding, retrieval and store; the fake backend with extractive answers (no chat model is needed to
tell whose words a reply uses).
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from assistant.engine.understanding.templates import TemplateBook
from assistant.engine.understanding.understanding import SAMPLE_INTENTS, SAMPLE_TEMPLATES
from assistant.sdk import Client
from tests.support import parse_sse, running_server, sites_server_env

pytestmark = pytest.mark.slow

ADMIN = "two-sites-admin-key"
SHOP_HANDOFF = "A Northwind Outfitters team member will reply here shortly."
BIKE_HANDOFF = "A Pedal Rentals ride guide will reply here shortly."
SHOP_ORIGIN, BIKE_ORIGIN = "http://shop.example", "http://bikes.example"
QUESTIONS = ["Hello", "What time do you close on Sunday?", "How much does it cost to rent a bike for a day?",
             "How long does a refund take?", "Do I get a helmet with the bike?", "I want to talk to a person"]
BIKE_PAGES = {
    "bike-hours": "# Opening hours\n\nThe Vondelpark depot of Pedal Rentals is open every day from 09:00 to 18:00, "
                  "Sundays included. Bring your bike back before 18:00 to avoid the late fee.",
    "bike-prices": "# Rental prices\n\nRenting a city bike costs €14 a day at the Vondelpark depot. An e-bike costs "
                   "€29 a day, and a week with a city bike costs €60.",
    "bike-helmets": "# Helmets\n\nEvery bike rental includes a free helmet from the Vondelpark depot; children's "
                    "helmets are available too.",
}
BIKE_TEMPLATES = """\
intents:
  greeting:
    templates:
      - id: bike.greeting
        text: "Hey, welcome to {company}! Ready to ride?"
  bike_opening_hours:
    threshold: 0.5
    templates:
      - id: bike.opening_hours
        text: "{company} is open every day from 09:00 to 18:00 at the Vondelpark depot."
        sources: [bike-hours]
"""
BIKE_INTENTS = {
    "bike_opening_hours": ["what time do you open", "when are you open on sunday", "what are your opening hours",
                           "are you open on weekends", "what time do you close today", "when do you close on sunday",
                           "until when can I return the bike", "is the depot open on holidays"],
    "bike_rental_price": ["how much does it cost to rent a bike", "what is the price of a day rental",
                          "how much is an e-bike per day", "rental prices please", "what do you charge for a bike",
                          "is there a weekly rate", "how expensive is a city bike", "price for two bikes"],
    "bike_helmets": ["do I need to wear a helmet", "can I borrow a helmet", "are helmets included",
                     "do you have helmets for kids", "helmet rental", "is a helmet free", "do I get a helmet",
                     "helmet with the bike"],
    "oos": ["what is the capital of france", "play me a song", "tell me a joke", "what's the weather tomorrow",
            "how do I bake bread", "who won the football match", "book me a flight", "what is 2 plus 2"],
}
# Words only one site's replies may contain.
MARKERS = {"default": ["Northwind", "northwind.example", "+31 20 555 0142"],
           "bikes": ["Pedal Rentals", "Vondelpark", "€14", "€29", "Ready to ride"]}


@dataclass
class SiteUnderTest:
    id: str
    key: str
    public_key: str
    origin: str
    templates: set[str]
    intents: set[str]
    documents: set[str]
    conversations: set[str] = field(default_factory=set)


@dataclass
class Turn:
    site: str
    surface: str
    question: str
    answer: str
    route: str
    template_id: str | None
    intents: list[str]
    sources: list[str]
    conversation_id: str


def write_bike_files(folder: Path) -> tuple[Path, Path]:
    templates, intents = folder / "bike-templates.yaml", folder / "bike-intents.csv"
    templates.write_text(BIKE_TEMPLATES)
    with intents.open("w", newline="") as f:
        csv.writer(f).writerows([["text", "intent"], *[[t, label] for label, ts in BIKE_INTENTS.items() for t in ts]])
    return templates, intents


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, model_cache_dir: Path) -> Iterator[tuple[str, dict]]:
    data = tmp_path_factory.mktemp("two-sites")
    templates, intents = write_bike_files(data)
    env = sites_server_env(data, model_cache_dir, ADMIN, ASSISTANT_UNDERSTANDING__HANDOFF_MESSAGE=SHOP_HANDOFF)
    admin = {"X-Admin-Key": ADMIN}
    with running_server(env) as (base, _):
        def post(path: str, **kw: Any) -> dict:
            r = httpx.post(f"{base}{path}", timeout=120, **kw)
            assert r.status_code in (200, 201), r.text
            return r.json()

        bikes = post("/v1/admin/sites", headers=admin, json={
            "id": "bikes", "name": "Bike support", "company": "Pedal Rentals", "allowed_origins": [BIKE_ORIGIN],
            "handoff_message": BIKE_HANDOFF, "templates_path": str(templates), "intents_path": str(intents)})
        shop = httpx.patch(f"{base}/v1/admin/sites/default", headers=admin, json={"allowed_origins": [SHOP_ORIGIN]},
                           timeout=30).json()
        bike_key = post("/v1/admin/sites/bikes/keys", headers=admin, json={"name": "e2e"})["key"]
        shop_key = post("/v1/admin/sites/default/keys", headers=admin, json={"name": "e2e"})["key"]
        files = [("files", (f"{doc_id}.md", text.encode(), "text/markdown")) for doc_id, text in BIKE_PAGES.items()]
        assert post("/v1/kb/documents", files=files, headers={"Authorization": f"Bearer {bike_key}"})["added"] == 3
        sample_labels = {row["intent"] for row in csv.DictReader(SAMPLE_INTENTS.open())}
        sites = {
            "default": SiteUnderTest("default", shop_key, shop["public_key"], SHOP_ORIGIN,
                                     {t.id for ts in TemplateBook.load(SAMPLE_TEMPLATES).by_intent.values() for t in ts},
                                     sample_labels, set()),
            "bikes": SiteUnderTest("bikes", bike_key, bikes["public_key"], BIKE_ORIGIN,
                                   {"bike.greeting", "bike.opening_hours"}, set(BIKE_INTENTS), set(BIKE_PAGES)),
        }
        yield base, sites


def ask_rest(base: str, site: SiteUnderTest, question: str) -> Turn:
    r = httpx.post(f"{base}/v1/chat", json={"message": question}, headers={"Authorization": f"Bearer {site.key}"},
                   timeout=120)
    assert r.status_code == 200, r.text
    return turn(site, "rest", question, r.json())


def ask_openai(base: str, site: SiteUnderTest, question: str) -> Turn:
    with openai.OpenAI(base_url=f"{base}/v1", api_key=site.key, max_retries=0, timeout=120) as api:
        model = api.models.list().data[0].id
        completion = api.chat.completions.create(model=model, messages=[{"role": "user", "content": question}])
    ext = completion.model_extra["assistant"]
    return turn(site, "openai", question, {**ext, "answer": completion.choices[0].message.content,
                                           "intents": [{"intent": ext["intent"]}] if ext.get("intent") else []})


def widget_headers(base: str, site: SiteUnderTest) -> dict[str, str]:
    r = httpx.post(f"{base}/v1/widget/session", json={"site_key": site.public_key}, headers={"Origin": site.origin},
                   timeout=30)
    assert r.status_code == 200, r.text
    assert r.json()["site_id"] == site.id
    return {"Authorization": f"Bearer {r.json()['token']}", "Origin": site.origin}


def ask_widget(base: str, site: SiteUnderTest, question: str, headers: dict[str, str]) -> Turn:
    r = httpx.post(f"{base}/v1/chat", json={"message": question, "stream": True}, headers=headers, timeout=120)
    assert r.status_code == 200, r.text
    done = [data for name, data in parse_sse(r.text) if name == "done"]
    return turn(site, "widget", question, done[0]["reply"])


def ask_sdk(client: Client, site: SiteUnderTest, question: str) -> Turn:
    return turn(site, "sdk", question, client.chat(question).model_dump())


def turn(site: SiteUnderTest, surface: str, question: str, reply: dict) -> Turn:
    site.conversations.add(reply["conversation_id"])
    return Turn(site.id, surface, question, reply["answer"] or "", reply["route"], reply.get("template_id"),
                [s["intent"] for s in reply.get("intents") or []] + ([reply["intent"]] if reply.get("intent") else []),
                [s["doc_id"] for s in reply.get("sources") or []], reply["conversation_id"])


def leaks_of(t: Turn, own: SiteUnderTest, other: SiteUnderTest) -> list[str]:
    """Everything in one reply that belongs to the other site (or to no site of this reply's)."""
    found = [f"{t.surface} {t.question!r}: the other site's {m!r} in {t.answer!r}"
             for m in MARKERS[other.id] if m in t.answer]
    if t.template_id is not None and t.template_id not in own.templates:
        found.append(f"{t.surface} {t.question!r}: template {t.template_id} is not {own.id}'s")
    found += [f"{t.surface} {t.question!r}: intent {i!r} is not {own.id}'s" for i in t.intents
              if i not in own.intents | {"oos"}]
    found += [f"{t.surface} {t.question!r}: source {d!r} is {other.id}'s" for d in t.sources
              if d in other.documents or (own.documents and d not in own.documents)]
    return found


def conversation_leaks(base: str, own: SiteUnderTest, other: SiteUnderTest, widget: dict[str, str],
                       widget_probes: set[str]) -> list[str]:
    """The site's conversation lists hold only its own; the other's are a 404 to its key and (`widget_probes`: a
    widget session may make 30 requests a minute) to its widget session."""
    found = []
    key = {"Authorization": f"Bearer {own.key}"}
    listed = {c["id"] for c in httpx.get(f"{base}/v1/conversations?limit=100", headers=key, timeout=30).json()["items"]}
    found += [f"REST list of {own.id} shows {c}" for c in listed & other.conversations]
    assert own.conversations <= listed  # what it lists is its own, and all of it
    with Client(base, api_key=own.key) as client:
        sdk_listed = {c.id for c in client.list_conversations(limit=100).items}
    found += [f"SDK list of {own.id} shows {c}" for c in sdk_listed & other.conversations]
    probes = [("key", key, conv) for conv in sorted(other.conversations)]
    probes += [("widget", widget, conv) for conv in sorted(widget_probes)]
    for surface, headers, conv in probes:
        r = httpx.get(f"{base}/v1/conversations/{conv}", headers=headers, timeout=30)
        if r.status_code != 404:
            found.append(f"{own.id}'s {surface} read {other.id}'s conversation {conv}: {r.status_code}")
    return found


def test_no_reply_template_intent_source_or_conversation_of_one_site_reaches_the_other(
        server: tuple[str, dict]) -> None:
    base, sites = server
    turns: list[Turn] = []
    widgets = {}
    for site in sites.values():
        widgets[site.id] = widget_headers(base, site)
        with Client(base, api_key=site.key) as client:
            for question in QUESTIONS:
                turns += [ask_rest(base, site, question), ask_openai(base, site, question),
                          ask_widget(base, site, question, widgets[site.id]), ask_sdk(client, site, question)]
    leaks, checks = [], 0
    for t in turns:
        own = sites[t.site]
        other = sites["bikes" if t.site == "default" else "default"]
        leaks += leaks_of(t, own, other)
        checks += len(MARKERS[other.id]) + 1 + len(t.intents) + len(t.sources)
    # the widget's "Talk to a person" button tells each customer their own site's message
    for site_id, message in (("default", SHOP_HANDOFF), ("bikes", BIKE_HANDOFF)):
        r = httpx.post(f"{base}/v1/handoff", json={}, headers=widgets[site_id], timeout=30)
        assert r.status_code == 200, r.text
        checks += 1
        if r.json()["message"] != message:
            leaks.append(f"{site_id}'s widget handoff said {r.json()['message']!r}")
        sites[site_id].conversations.add(r.json()["conversation_id"])
    # the /demo page of each site's widget is titled in that site's name
    for site in sites.values():
        page = httpx.get(f"{base}/demo", params={"site_key": site.public_key}, timeout=30).text
        other = "bikes" if site.id == "default" else "default"
        checks += 1
        if MARKERS[other][0] in page or MARKERS[site.id][0] not in page:
            leaks.append(f"/demo of {site.id} is not in its name")
    for own_id, other_id in (("default", "bikes"), ("bikes", "default")):
        probes = {t.conversation_id for t in turns if t.site == other_id and t.surface == "widget"}
        leaks += conversation_leaks(base, sites[own_id], sites[other_id], widgets[own_id], probes)
        checks += 2 + len(sites[other_id].conversations) + len(probes)
    print(f"two sites, 4 surfaces: {len(turns)} replies, {checks} checks, {len(leaks)} leaks")
    assert leaks == [], "\n".join(leaks)
    assert len(turns) == 2 * len(QUESTIONS) * 4

    # Each site really answered as itself (so that zero leaks is not zero answers).
    def replies(site_id: str, question: str) -> list[Turn]:
        return [t for t in turns if t.site == site_id and t.question == question]

    assert all("Pedal Rentals" in t.answer and t.template_id == "bike.greeting" for t in replies("bikes", "Hello"))
    assert all("Northwind Outfitters" in t.answer for t in replies("default", "Hello"))
    assert all(t.answer == BIKE_HANDOFF for t in replies("bikes", "I want to talk to a person"))
    assert all(t.answer == SHOP_HANDOFF for t in replies("default", "I want to talk to a person"))
    assert all("18:00" in t.answer for t in replies("bikes", "What time do you close on Sunday?"))
    assert all("€14" in t.answer and t.sources == ["bike-prices"]
               for t in replies("bikes", "How much does it cost to rent a bike for a day?"))
    assert all(set(t.intents) <= set(BIKE_INTENTS) for t in turns if t.site == "bikes")
    assert any(t.intents for t in turns if t.site == "bikes")  # its own intent model classified its messages
