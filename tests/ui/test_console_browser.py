"""The operator console in real Chromium (Playwright + Debian's chromium) against the real server.

Seeded SQLite data (tests/console_seed.py) on site "default", a negative surge on site "outlet",
fake LLM backend, real intent model, retriever and store. It logs in, checks every tab against
the seeded numbers (plots through their Vega aria labels), runs the review loop end to end
(correction -> fine-tuning export; out-of-scope messages -> new intent -> retrain -> new
prediction) and the bad inputs (wrong login, unsupported upload, retrain with too few examples).
Screenshots go to test-output/console/.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from assistant.engine import analytics as an
from assistant.engine.sites import SiteDirectory
from assistant.engine.store import Store
from tests.console_seed import (
    DEMO_ABSTENTION,
    DEMO_CONVERSATIONS,
    DEMO_HANDOFF,
    DEMO_NEGATIVE_TEXT,
    DEMO_OOS_TEXTS,
    DEMO_RESOLUTION,
    DEMO_UNANSWERED_TEXT,
    Turn,
    seed_conversation,
    seed_demo,
)
from tests.load.servers import cache_dir
from tests.support import ROOT, running_server
from tests.with_constants import MODULE, constants_env

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
SHOTS = ROOT / "test-output" / "console"
PASSWORD = "console-test-password"
ZONE = "Europe/Amsterdam"
SLOW = 120_000  # ms: two busy cores; the first refresh after login runs several queries
CORRECTION = "Your order NW-48213 left our warehouse today; follow it at northwind.example/track."


class Hook(BaseHTTPRequestHandler):
    received: list[dict] = []

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        type(self).received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if CHROMIUM is None:
        if os.environ.get("CI") == "true":
            pytest.fail("chromium is not installed (CI must run `make browsers`)")
        pytest.skip("chromium is not installed (`apt-get install -y chromium`)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


def _seed(data: Path, now: datetime) -> dict[str, str]:
    store = Store(f"sqlite:///{(data / 'assistant.db').resolve()}")
    ids = seed_demo(store, now)
    for i in range(10):  # site "outlet": a calm baseline (1 in 10 negative), then a negative last hour
        seed_conversation(store, now - timedelta(hours=3 + i), [Turn(f"where is order {i}", "negative" if i == 0
                                                                     else "neutral")], site_id="outlet")
        seed_conversation(store, now - timedelta(minutes=5 + i), [Turn(f"still no parcel {i}", "negative" if i < 7
                                                                       else "neutral")], site_id="outlet")
    seed_conversation(store, now - timedelta(hours=2), [  # more gift-wrapping questions nobody could answer
        Turn(text, "neutral", None, 0.2, "I'm sorry, I couldn't find that.", "abstain", abstained=True, minutes=i)
        for i, text in enumerate(DEMO_OOS_TEXTS)
    ], site_id="outlet")
    # the outlet's own intents, which its operators extend in the Intents tab (intent_versions.py)
    intents = data / "outlet-intents.csv"
    intents.write_text("text,intent\n" + "".join(f"{t},track_order\n" for t in (
        "where is my order", "where is my parcel", "has my order shipped", "track my package",
        "when will my order arrive")) + "".join(f"{t},refund_status\n" for t in (
        "where is my refund", "when do I get my money back", "has my refund been processed",
        "refund not received yet", "how long does a refund take")))
    SiteDirectory(store).create("outlet", "Outlet", intents_path=str(intents))
    store.close()
    return ids


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    data = tmp_path_factory.mktemp("console-server")
    kb = tmp_path_factory.mktemp("console-kb")
    for name in ("order-tracking.md", "refund-timing.md", "return-policy.md"):
        shutil.copy(ROOT / "assistant" / "samples" / "kb" / name, kb / name)
    now = datetime.now(UTC)
    ids = _seed(data, now)
    shared = cache_dir() / "test-intent-model"  # trained once for the server tests; a copy, as we retrain it
    if (shared / "meta.json").exists():
        shutil.copytree(shared, data / "intent-model")
    hook = type("H", (Hook,), {"received": []})
    receiver = ThreadingHTTPServer(("127.0.0.1", 0), hook)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    env = {
        "ASSISTANT_DATA_DIR": str(data), "ASSISTANT_KB_PATH": str(kb), "ASSISTANT_ENGINE__BACKEND": "fake",
        "ASSISTANT_CONSOLE__OPERATOR_PASSWORD": PASSWORD, "ASSISTANT_CONSOLE__TIMEZONE": ZONE,
        "ASSISTANT_CONSOLE__ALERT_WEBHOOK_URL": f"http://127.0.0.1:{receiver.server_address[1]}/hook",
        # retraining with a frozen encoder takes seconds; a surge is seen within 2 s, not a minute
        **constants_env({"assistant.engine.understanding.classifier:FINETUNE_EPOCHS": 0,
                         "assistant.engine.alerts:SURGE_CHECK_SECONDS": 2}),
    }
    try:
        with running_server(env, ready_timeout=900, module=MODULE) as (base, _):
            yield {"base": base, "data": data, "hook": hook, "ids": ids, "now": now}
    finally:
        receiver.shutdown()
        receiver.server_close()


@pytest.fixture
def page(browser, console: dict) -> Iterator[object]:
    # A viewer far from the console's zone: plots must still show Amsterdam wall-clock time.
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, timezone_id="Asia/Tokyo")
    context.set_default_timeout(SLOW)
    page = context.new_page()
    page.goto(f"{console['base']}/console/")
    page.get_by_label("username").fill("operator")
    page.get_by_label("password").fill(PASSWORD)
    page.get_by_role("button", name="Login").click()
    page.get_by_role("tab", name="Sentiment").wait_for()
    yield page
    context.close()


def _expect():
    from playwright.sync_api import expect

    expect.set_options(timeout=SLOW)
    return expect


def _shot(page, name: str) -> None:
    """Screenshot once Gradio has no update pending (pending blocks are drawn faded)."""
    page.wait_for_function("() => !document.querySelector('.pending')", timeout=SLOW)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def _tab(page, name: str) -> None:
    page.get_by_role("tab", name=name, exact=True).click()


def _choose(page, elem_id: str, option: str) -> None:
    page.locator(f"#{elem_id} input").click()
    page.get_by_role("option", name=option, exact=True).click()


def _type_choice(page, elem_id: str, value: str) -> None:
    box = page.locator(f"#{elem_id} input")
    box.click()
    box.fill(value)
    box.press("Enter")


def _aria(page, elem_id: str, role: str | None = None) -> list[str]:
    """The Vega marks' aria labels (e.g. "sentiment: negative; messages: 4"), optionally of one mark role."""
    labels = page.locator(f"#{elem_id} [aria-label]").evaluate_all(
        "els => els.map(e => [e.getAttribute('aria-roledescription'), e.getAttribute('aria-label')])")
    return [label for kind, label in labels if role is None or kind == role]


def test_wrong_login_is_refused(browser, console: dict) -> None:
    context = browser.new_context(viewport={"width": 1000, "height": 700})
    page = context.new_page()
    page.goto(f"{console['base']}/console/")
    page.get_by_label("username").fill("operator")
    page.get_by_label("password").fill("not-the-password")
    page.get_by_role("button", name="Login").click()
    _expect()(page.get_by_text(re.compile("incorrect credentials", re.I))).to_be_visible(timeout=30_000)
    assert page.get_by_role("tab", name="Sentiment").count() == 0
    _shot(page, "0-wrong-login")
    context.close()


def test_every_tab_shows_the_seeded_numbers(page, console: dict) -> None:
    expect = _expect()
    _choose(page, "filter-site", "default")
    _tab(page, "KPIs")
    for label, value in (("Conversations", str(DEMO_CONVERSATIONS)), ("Automated resolution", DEMO_RESOLUTION),
                         ("Handoff rate", DEMO_HANDOFF), ("Abstention rate", DEMO_ABSTENTION)):
        expect(page.locator(f'[data-kpi="{label}"] .value')).to_have_text(value)
    expect(page.locator("#kpi-definitions")).to_contain_text(an.RESOLUTION_DEFINITION)
    expect(page.locator("#kpi-table")).to_contain_text(DEMO_RESOLUTION)
    page.locator("#kpi-export").click()
    expect(page.locator("#kpi-export-status")).to_contain_text("Exported")
    exported = sorted((console["data"] / "exports").glob("kpis-default-*.csv"))
    assert exported and exported[-1].read_text().splitlines()[-1].startswith(f"all,{DEMO_CONVERSATIONS},")
    _shot(page, "6-kpis")

    _tab(page, "Sentiment")
    expect(page.locator("#most-negative tbody tr").first).to_contain_text(DEMO_NEGATIVE_TEXT)
    expect(page.locator("#sentiment-dist-plot svg.marks")).to_be_visible()
    bars = _aria(page, "sentiment-dist-plot")
    for label, n in (("negative", 4), ("neutral", 5), ("positive", 1)):
        assert f"sentiment: {label}; messages: {n}" in bars, bars
    # Every share point the plot draws is the one analytics computes for the seeded data, in Amsterdam time.
    store = Store(f"sqlite:///{(console['data'] / 'assistant.db').resolve()}")
    frame = an.load_frame(store, site_id="default")
    store.close()
    for bucket, fmt in (("day", "%Y-%m-%d"), ("hour", "%Y-%m-%d %H:00")):
        # day buckets put the seeded hours in one bucket (two across midnight): its bars must still be drawn
        page.locator("#filter-bucket").get_by_text(bucket, exact=True).click()
        shares = an.sentiment_over_time(frame, bucket, ZONE)
        expected = {f"bucket: {b.strftime(fmt)}; share of customer messages: {s:.0%}; sentiment: {lab}"
                    for b, lab, s in zip(shares["bucket"], shares["sentiment"], shares["share"], strict=True)}
        deadline = time.monotonic() + SLOW / 1000
        while (bars := set(_aria(page, "sentiment-share-plot", role="bar"))) != expected and time.monotonic() < deadline:
            page.wait_for_timeout(200)
        assert expected and bars == expected, (bucket, bars, expected)
    _shot(page, "2-sentiment")

    _tab(page, "Intents")
    expect(page.locator("#top-intents-plot svg.marks")).to_be_visible()
    assert "intent: out of scope; customer messages: 1" in _aria(page, "top-intents-plot")
    expect(page.locator("#review-queue")).to_contain_text(DEMO_UNANSWERED_TEXT)
    _shot(page, "3-intents")

    _tab(page, "Conversations")
    expect(page.locator("#conversation-list")).to_contain_text("track_order, thanks_goodbye")
    expect(page.get_by_text(f"{DEMO_CONVERSATIONS} of {DEMO_CONVERSATIONS} conversations match")).to_be_visible()
    _choose(page, "filter-site", "All sites")
    expect(page.get_by_text(f"{DEMO_CONVERSATIONS + 21} of {DEMO_CONVERSATIONS + 21} conversations match")
           ).to_be_visible()
    _shot(page, "4-conversations")

    _tab(page, "Knowledge base")
    page.locator("#kb-namespace input").wait_for()
    page.get_by_role("button", name="Reload").click()
    expect(page.locator('[data-kpi="Documents"] .value')).to_have_text("3")
    expect(page.locator("#kb-docs")).to_contain_text("refund-timing")
    _shot(page, "5-knowledge")


def test_surge_on_one_site_is_alerted_in_the_console_and_the_webhook(page, console: dict) -> None:
    expect = _expect()
    _tab(page, "Sentiment")
    page.get_by_role("button", name="Refresh").click()
    expect(page.locator("#surge-alerts")).to_contain_text("outlet")
    expect(page.locator("#surge-alerts")).to_contain_text("70% (7/10)")
    expect(page.locator("#surge-status")).to_contain_text("Site outlet: NEGATIVE SURGE")
    posted = [b for b in console["hook"].received if b["site_id"] == "outlet"]
    assert len(posted) == 1 and posted[0]["recent_negative_share"] == 0.7
    _shot(page, "2-sentiment-surge")


def test_chat_reply_shows_how_it_was_made(page, console: dict) -> None:
    expect = _expect()
    _tab(page, "Chat")
    page.locator("#console-chat-input textarea").fill("How long does a refund take?")
    page.locator("#console-chat-send").click()
    details = page.locator("#chat-details")
    for text in ("intent:", "sentiment:", "route:", "latency:"):
        expect(details).to_contain_text(text)
    page.locator("#console-chat-input textarea").fill("This is useless, let me talk to a real person")
    page.locator("#console-chat-send").click()
    expect(details).to_contain_text("handed off")
    expect(page.locator("#console-chat")).to_contain_text("route: handoff")
    _shot(page, "1-chat")


def test_correction_reaches_the_finetune_export(page, console: dict) -> None:
    from finetune.readers import read_jsonl

    expect = _expect()
    _tab(page, "Conversations")
    _choose(page, "conv-intent", "thanks_goodbye")  # the local filter narrows the list to one conversation
    expect(page.get_by_text(re.compile(r"^1 of \d+ conversations match"))).to_be_visible()
    page.locator("#conversation-list").get_by_text("track_order, thanks_goodbye", exact=True).filter(visible=True).first.click()
    expect(page.locator("#transcript")).to_contain_text("Your order is on its way")
    page.locator("#save-correction").click()  # empty correction: refused with a reason
    expect(page.locator("#review-status")).to_contain_text("the corrected answer is empty")
    page.locator("#correction textarea").fill(CORRECTION)
    page.locator("#save-correction").click()
    expect(page.locator("#review-status")).to_contain_text("Correction saved")
    expect(page.locator("#transcript")).to_contain_text("120 ms · corrected")  # the reply's note (collapsed)
    page.get_by_text("Where reviews go").click()
    expect(page.locator("#suggestions")).to_contain_text("track_order.suggested_1")
    page.locator("#export-jsonl").click()
    expect(page.locator("#export-status")).to_contain_text("1 reviewed turns exported")
    _shot(page, "4-conversations-review")
    path = console["data"] / "exports" / "review-finetune.jsonl"
    row = json.loads(path.read_text().splitlines()[0])
    assert row["source"] == "review" and row["messages"][1]["content"] == CORRECTION
    examples = read_jsonl(path)
    assert [(e.question, e.answer, e.source) for e in examples] == [
        ("where is my order NW-48213", CORRECTION, "review")]


def _assign(page, text: str, intent: str) -> None:
    expect = _expect()
    page.locator("#review-queue").get_by_text(text, exact=True).filter(visible=True).first.click()
    expect(page.locator("#queue-selected textarea")).to_have_value(text)
    _type_choice(page, "assign-intent", intent)
    page.locator("#assign-button").click()
    expect(page.locator("#assign-status")).to_contain_text(f"Assigned to '{intent}'")
    expect(page.locator("#review-queue")).not_to_contain_text(text)


def _probe(page, text: str, expected: str = "(") -> str:
    """Classify `text` in the console and wait until the result shows `expected`."""
    result = page.locator("#probe-result")
    page.locator("#probe-input textarea").fill(text)
    page.locator("#probe-button").click()
    _expect()(result).to_contain_text(expected)
    return result.inner_text()


def test_assigned_oos_messages_retrain_the_intent_model(page, console: dict) -> None:
    expect = _expect()
    _choose(page, "filter-site", "outlet")  # where the gift-wrapping questions came in
    _tab(page, "Intents")
    expect(page.locator("#review-queue")).to_contain_text(DEMO_OOS_TEXTS[-1])
    _choose(page, "intents-site", "outlet")  # the assigned messages become the outlet's examples
    expect(page.locator("#site-intents")).to_contain_text("refund_status")
    before = _probe(page, DEMO_OOS_TEXTS[2])
    assert "gift_wrapping" not in before
    for text in DEMO_OOS_TEXTS[:2]:
        _assign(page, text, "gift_wrapping")
    page.locator("#retrain-button").click()
    status = page.locator("#retrain-status")
    expect(status).to_contain_text("Not retrained")
    expect(status).to_contain_text("'gift_wrapping' has 2")
    _shot(page, "3-intents-retrain-refused")
    for text in DEMO_OOS_TEXTS[2:]:
        _assign(page, text, "gift_wrapping")
    page.locator("#intents-refresh").click()
    expect(page.locator("#site-intents")).to_contain_text("gift_wrapping")
    expect(page.locator("#intent-history")).to_contain_text("add")
    page.locator("#retrain-button").click()
    expect(status).to_contain_text("Retrained outlet on", timeout=600_000)
    _probe(page, DEMO_OOS_TEXTS[2], expected="intent: gift_wrapping")
    _shot(page, "3-intents-retrained")


def test_knowledge_base_upload_search_delete(page, console: dict, tmp_path: Path) -> None:
    expect = _expect()
    _tab(page, "Knowledge base")
    bad = tmp_path / "price-list.exe"
    bad.write_bytes(b"MZ\x00\x01")
    page.locator("#kb-upload input[type=file]").set_input_files(str(bad))
    # the file list shows the name as its cell's accessible name (gradio splits the extension into its own span)
    expect(page.locator("#kb-upload").get_by_role("cell", name="price-list.exe")).to_be_visible()
    page.locator("#kb-add").click()
    status = page.locator("#kb-upload-status")
    expect(status).to_contain_text("price-list.exe — unsupported file type")
    expect(status).to_contain_text(".md")
    _shot(page, "5-knowledge-bad-upload")
    doc = tmp_path / "gift-wrapping.md"
    doc.write_text("# Gift wrapping\n\nWe gift wrap any order for 3 euros; choose it at checkout.\n")
    page.locator("#kb-upload").get_by_role("button", name=re.compile("clear", re.I)).click()
    page.locator("#kb-upload input[type=file]").set_input_files(str(doc))
    # the file list shows the name as its cell's accessible name (gradio splits the extension into its own span)
    expect(page.locator("#kb-upload").get_by_role("cell", name="gift-wrapping.md")).to_be_visible()
    page.locator("#kb-add").click()
    expect(status).to_contain_text("Added 1")
    expect(page.locator("#kb-docs")).to_contain_text("gift-wrapping")
    page.locator("#kb-query textarea").fill("how much does gift wrapping cost")
    page.locator("#kb-search").click()
    expect(page.locator("#kb-hits")).to_contain_text("gift-wrapping")
    _shot(page, "5-knowledge-upload")
    _choose(page, "kb-delete-doc", "gift-wrapping")
    page.locator("#kb-delete").click()
    expect(page.locator("#kb-delete-status")).to_contain_text("Deleted 'gift-wrapping'")
    expect(page.locator("#kb-docs")).not_to_contain_text("gift-wrapping")


def test_inbox_claims_and_answers_a_handed_off_customer(page, console: dict) -> None:
    import httpx

    expect = _expect()
    base = console["base"]
    asked = "My bike order NW-77 never came, I want a person"
    first = httpx.post(f"{base}/v1/chat", json={"message": "Where is my order NW-77? It is very late."}, timeout=60)
    cid = first.json()["conversation_id"]
    httpx.post(f"{base}/v1/handoff", json={"conversation_id": cid, "message": asked}, timeout=60).raise_for_status()
    _tab(page, "Inbox")
    _choose(page, "inbox-site", "default")
    row = page.locator("#inbox-queue").get_by_text(asked, exact=True).filter(visible=True).first
    expect(row).to_be_visible()
    row.click()
    expect(page.locator("#inbox-transcript")).to_contain_text(asked)
    expect(page.locator("#inbox-transcript")).to_contain_text("sentiment:")  # of the message classified in a turn
    expect(page.locator("#inbox-transcript")).to_contain_text("Sources")  # the assistant's answer cited its pages
    expect(page.locator("#inbox-summary")).to_contain_text("waiting")
    page.locator("#inbox-agent textarea").fill("Maria")
    page.locator("#inbox-claim").click()
    expect(page.locator("#inbox-status")).to_contain_text("Claimed by Maria")
    page.locator("#inbox-reply textarea").fill("Hi, I am Maria: a new bike leaves today.")
    page.locator("#inbox-send").click()
    expect(page.locator("#inbox-status")).to_contain_text("Reply sent")
    expect(page.locator("#inbox-transcript")).to_contain_text("Maria (agent):")
    page.locator("#inbox-note textarea").fill("Second lost order: send by express.")
    page.locator("#inbox-add-note").click()
    expect(page.locator("#inbox-notes")).to_contain_text("Second lost order")
    _shot(page, "7-inbox")
    # The customer's widget sees the reply under the name typed in the console, and never the note.
    seen = httpx.get(f"{base}/v1/conversations/{cid}/messages", timeout=60).json()
    assert [(m["role"], m["author"]) for m in seen["messages"]][-1] == ("agent", "Maria")
    assert "express" not in json.dumps(seen)
    page.locator("#inbox-close").click()
    expect(page.locator("#inbox-status")).to_contain_text("Closed")
    assert httpx.get(f"{base}/v1/conversations/{cid}", timeout=60).json()["status"] == "active"
    _tab(page, "Audit log")
    _choose(page, "audit-site", "default")
    table = page.locator("#audit-table")
    for action in ("claim", "reply", "note", "close"):
        expect(table).to_contain_text(action)
    page.locator("#audit-export").click()
    expect(page.locator("#audit-status")).to_contain_text("audit entries exported")
    _shot(page, "8-audit-log")
