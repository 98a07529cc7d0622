"""The embeddable widget in real Chromium (Playwright + Debian's chromium) against the real server.

The demo page streams an answer with a source link and keeps the conversation across a reload;
a page on an allowed second origin works through CORS; a page on an origin that may not embed the
site's widget is told so plainly (in its language) with the input disabled; after a handoff an agent's replies reach the open widget within a second (p50).
Screenshots go to test-output/widget/.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.load.servers import server_env, site_with_key, static_site
from tests.support import ROOT, running_server

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
SHOTS = ROOT / "test-output" / "widget"
PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>{title}</title>
<style>button {{ background: #ff00ff !important; }}</style></head>
<body><h1>{title}</h1><script src="{base}/widget.js" data-site-key="{key}" data-title="{title}" async></script>
</body></html>"""


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


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """A keys-required server on the small test KB (pages with URLs), plus a second origin with two pages."""
    data = tmp_path_factory.mktemp("widget-server")
    pages = tmp_path_factory.mktemp("widget-pages")
    # A first run trains the shared intent model (minutes on 2 busy cores); later runs reuse it.
    with running_server(server_env(data, ASSISTANT_SECURITY__REQUIRE_KEYS="true"), ready_timeout=900) as (base, _), \
            static_site(pages) as other:
        _, default_key = site_with_key(base, "default")
        partner, _ = site_with_key(base, "partner", [other])
        (pages / "allowed.html").write_text(PAGE.format(title="Partner shop", base=base, key=partner["public_key"]))
        default = httpx.get(f"{base}/v1/admin/sites/default", headers={"X-Admin-Key": "load-test-admin-key"}).json()
        (pages / "refused.html").write_text(PAGE.format(title="Copycat shop", base=base, key=default["public_key"]))
        (pages / "refused-zh.html").write_text(PAGE.format(title="Copycat shop", base=base, key=default["public_key"])
                                               .replace("async>", 'data-lang="zh" async>'))
        yield {"base": base, "other": other, "key": default_key}


def _shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"))


def _slow_session_start(page) -> None:
    """Delay the widget's session request by 1.5 s, as a busy server would."""
    page.add_init_script("""(() => {
        const fetch0 = window.fetch;
        window.fetch = (url, opts) => String(url).endsWith('/v1/widget/session')
            ? new Promise(r => setTimeout(r, 1500)).then(() => fetch0(url, opts)) : fetch0(url, opts);
    })()""")


def _ask(page, question: str) -> None:
    page.get_by_role("textbox", name="Type your question").fill(question)
    page.keyboard.press("Enter")


def test_demo_page_streams_answer_with_source_link_and_survives_reload(browser, served) -> None:
    context = browser.new_context(viewport={"width": 1100, "height": 800})
    page = context.new_page()
    # A slow session start (a busy server) while the visitor already types: the question must wait
    # for the greeting rather than land above it (CI once read the greeting as the answer).
    _slow_session_start(page)
    page.goto(f"{served['base']}/demo")
    page.get_by_role("button", name="Chat with support").click()
    dialog = page.get_by_role("dialog")
    assert dialog.is_visible()
    # Count text updates of the reply bubble: a streamed answer grows token by token.
    page.evaluate("""() => {
        window.__updates = 0;
        const log = document.querySelector('support-assistant-widget').shadowRoot.querySelector('[role=log]');
        new MutationObserver(rs => { window.__updates += rs.length; })
            .observe(log, {subtree: true, childList: true, characterData: true});
    }""")
    _ask(page, "How long do refunds take?")
    link = page.locator('a[href="https://help.example.com/refunds"]')
    link.wait_for(timeout=60_000)
    answer = page.locator(".msg.bot .text").last.inner_text()
    assert "5 business days" in answer  # the fake backend answers from source [1]
    texts = page.locator(".msg .text").all_inner_texts()
    assert texts[0].startswith("Hi!") and texts[1] == "How long do refunds take?" and len(texts) == 3
    assert page.evaluate("window.__updates") >= 4
    assert link.get_attribute("target") == "_blank" and "noopener" in link.get_attribute("rel")
    _shot(page, "demo-answer")

    page.reload()
    page.get_by_text("How long do refunds take?").wait_for(timeout=30_000)
    assert page.locator(".msg.bot .text").last.inner_text() == answer
    assert page.locator('a[href="https://help.example.com/refunds"]').count() == 1
    _shot(page, "demo-after-reload")

    # The transcript the widget restored is the stored one.
    conv_id = page.evaluate("Object.entries(localStorage).find(([k]) => k.endsWith(':conversation'))[1]")
    conv = httpx.get(f"{served['base']}/v1/conversations/{conv_id}",
                     headers={"Authorization": f"Bearer {served['key']}"}).json()
    assert [m["role"] for m in conv["messages"]] == ["user", "assistant"]
    assert conv["messages"][1]["content"] == answer
    context.close()


def test_keyboard_aria_handoff_and_isolated_styles(browser, served) -> None:
    context = browser.new_context(viewport={"width": 1100, "height": 800})
    page = context.new_page()
    page.goto(f"{served['base']}/demo")
    launcher = page.locator(".launcher")  # by class: once the panel is open the launcher is hidden from roles
    page.get_by_role("button", name="Chat with support").focus()
    page.keyboard.press("Enter")
    assert launcher.get_attribute("aria-expanded") == "true"
    textbox = page.get_by_role("textbox", name="Type your question")
    textbox.wait_for()
    page.wait_for_function("document.querySelector('support-assistant-widget').shadowRoot.activeElement?.tagName"
                           " === 'TEXTAREA'")
    assert page.get_by_role("log").count() == 1
    # The host page paints every button magenta with !important; the shadow DOM keeps the widget's colours.
    send_bg = page.get_by_role("button", name="Send").evaluate("b => getComputedStyle(b).backgroundColor")
    assert send_bg != "rgb(255, 0, 255)"
    page.get_by_role("button", name="Talk to a person").click()
    page.get_by_text("member of our support team").wait_for(timeout=30_000)
    conv_id = page.evaluate("Object.entries(localStorage).find(([k]) => k.endsWith(':conversation'))[1]")
    conv = httpx.get(f"{served['base']}/v1/conversations/{conv_id}",
                     headers={"Authorization": f"Bearer {served['key']}"}).json()
    assert conv["status"] == "handoff" and conv["handoff_reason"] == "customer_request"
    _shot(page, "handoff")
    page.keyboard.press("Escape")
    assert page.get_by_role("dialog").is_hidden()
    assert launcher.get_attribute("aria-expanded") == "false"
    page.wait_for_function("document.querySelector('support-assistant-widget').shadowRoot.activeElement?.className"
                           " === 'launcher'")  # focus returns to the launcher
    context.close()


def test_agent_replies_reach_the_open_widget_within_a_second(browser, served) -> None:
    """Issue #28: a person takes over. Five agent replies posted over the API; each is timed from just before its
    POST to the moment its bubble is in the widget (both clocks are this machine's): p50 <= 1 s."""
    context = browser.new_context(viewport={"width": 1100, "height": 800})
    page = context.new_page()
    page.goto(f"{served['base']}/demo")
    page.get_by_role("button", name="Chat with support").click()
    page.get_by_role("button", name="Talk to a person").click()
    page.get_by_text("member of our support team").wait_for(timeout=30_000)
    conv_id = page.evaluate("Object.entries(localStorage).find(([k]) => k.endsWith(':conversation'))[1]")
    # Record when each agent bubble appears (Date.now(), the wall clock Python's time.time() reads too).
    page.evaluate("""() => {
        window.__agentSeen = {};
        const log = document.querySelector('support-assistant-widget').shadowRoot.querySelector('[role=log]');
        new MutationObserver(() => {
            log.querySelectorAll('.msg.agent .text').forEach(n => {
                if (!(n.textContent in window.__agentSeen)) window.__agentSeen[n.textContent] = Date.now();
            });
        }).observe(log, {subtree: true, childList: true, characterData: true});
    }""")
    secret = {"Authorization": f"Bearer {served['key']}"}
    latencies = []
    for i, pause in enumerate((0.2, 0.7, 0.45, 0.9, 0.35)):  # varied: the posts land at different poll phases
        text = f"Hi, this is Sam from support (reply {i + 1})."
        sent = time.time() * 1000
        r = httpx.post(f"{served['base']}/v1/conversations/{conv_id}/messages",
                       json={"text": text, "author": "Sam from Support"}, headers=secret)
        assert r.status_code == 201, r.text
        page.wait_for_function("t => t in window.__agentSeen", arg=text, timeout=15_000)
        latencies.append((page.evaluate("t => window.__agentSeen[t]", text) - sent) / 1000)
        time.sleep(pause)
    p50, worst = statistics.median(latencies), max(latencies)
    print(f"\nagent reply -> widget: p50 {p50:.3f} s, max {worst:.3f} s, all {[round(x, 3) for x in latencies]}")
    authors = page.locator(".msg.agent .author").all_inner_texts()
    assert authors == ["Sam from Support"] * 5
    assert p50 <= 1.0, latencies

    # The customer keeps writing; the assistant stays silent (no bot bubble), and the agent gets the message.
    bots = page.locator(".msg.bot").count()
    _ask(page, "Thanks Sam, my order number is 1234.")
    page.wait_for_function("""() => document.querySelector('support-assistant-widget').shadowRoot
        .querySelectorAll('.msg.bot[aria-busy]').length === 0""", timeout=30_000)
    time.sleep(0.3)
    assert page.locator(".msg.bot").count() == bots and page.get_by_role("alert").count() == 0
    new = httpx.get(f"{served['base']}/v1/conversations/{conv_id}/messages", headers=secret).json()
    assert new["messages"][-1]["role"] == "user" and "1234" in new["messages"][-1]["content"]
    _shot(page, "agent-replies")

    # Handed back: the widget stops polling.
    assert httpx.post(f"{served['base']}/v1/conversations/{conv_id}/handback", headers=secret).status_code == 200
    page.wait_for_function("!document.querySelector('support-assistant-widget').hasAttribute('data-handoff')",
                           timeout=10_000)
    context.close()


def test_mobile_width_and_chinese_strings(browser, served) -> None:
    context = browser.new_context(viewport={"width": 375, "height": 700}, is_mobile=True, has_touch=True)
    page = context.new_page()
    page.goto(f"{served['base']}/demo?lang=zh")
    page.get_by_role("button", name="联系客服").click()
    box = page.get_by_role("dialog").bounding_box()
    assert box is not None and box["width"] >= 370 and box["height"] >= 690
    assert page.get_by_role("button", name="转人工客服").is_visible()
    _shot(page, "mobile-zh")
    context.close()


def test_allowed_second_origin_works_through_cors(browser, served) -> None:
    context = browser.new_context()
    page = context.new_page()
    _slow_session_start(page)  # the question is typed before the session opens, as in CI's failed run
    page.goto(f"{served['other']}/allowed.html")
    page.get_by_role("button", name="Chat with support").click()
    _ask(page, "How long do refunds take?")
    # The queued question has no bubble until the session opens: wait for it to be shown before
    # waiting for its reply to finish (else the second wait passes at once, as it did in CI).
    page.locator(".msg.user").wait_for(timeout=60_000)
    page.locator(".msg.bot[aria-busy]").wait_for(state="detached", timeout=60_000)
    assert page.locator(".msg.user").count() == 1 and page.locator(".msg.bot .text").last.inner_text().strip()
    assert page.get_by_role("alert").count() == 0
    _shot(page, "allowed-origin")
    context.close()


def _open_refused(browser, url: str, open_label: str = "Chat with support") -> tuple[object, object, list]:
    """Open the widget on a page whose origin may not embed it: (context, page, session statuses seen)."""
    context = browser.new_context()
    page = context.new_page()
    seen: list = []
    page.on("response", lambda r: seen.append(r.status) if r.url.endswith("/v1/widget/session") else None)
    page.on("requestfailed", lambda r: seen.append("failed") if r.url.endswith("/v1/widget/session") else None)
    page.goto(url)
    page.get_by_role("button", name=open_label).click()
    page.get_by_role("alert").wait_for(timeout=30_000)
    return context, page, seen


def test_page_on_an_origin_of_another_site_is_told_it_may_not_embed(browser, served) -> None:
    """The page's origin is on the partner site's allowlist, not on the default site's whose key it uses."""
    context, page, seen = _open_refused(browser, f"{served['other']}/refused.html")
    assert page.get_by_role("alert").inner_text() == "This site is not allowed to embed the chat."
    assert 403 in seen and "failed" not in seen  # read by the widget, not a failed request
    assert page.get_by_role("textbox", name="Type your question").is_disabled()
    assert page.get_by_role("button", name="Send").is_disabled()
    assert page.get_by_role("button", name="Talk to a person").is_disabled()
    assert page.locator("support-assistant-widget").get_attribute("data-state") == "refused"
    _shot(page, "refused-origin")
    context.close()


def test_page_on_an_origin_on_no_allowlist_says_so_in_its_language(browser, served) -> None:
    """Issue #28: an origin on no site's allowlist used to read "could not connect" (CORS hid the 403)."""
    unlisted = served["other"].replace("127.0.0.1", "localhost")  # the same pages, an origin no site lists
    context, page, seen = _open_refused(browser, f"{unlisted}/refused.html")
    assert page.get_by_role("alert").inner_text() == "This site is not allowed to embed the chat."
    assert 403 in seen and "failed" not in seen
    textbox = page.get_by_role("textbox", name="Type your question")
    assert textbox.is_disabled() and page.locator(".msg").count() == 0
    _shot(page, "unlisted-origin")
    context.close()
    context, page, _ = _open_refused(browser, f"{unlisted}/refused-zh.html", open_label="联系客服")
    assert page.get_by_role("alert").inner_text() == "此网站未获准嵌入本聊天窗口。"
    assert page.get_by_role("textbox", name="请输入您的问题").is_disabled()
    context.close()
    # The server refused the session outright: 403 origin_not_allowed, readable by that page, nothing stored.
    r = httpx.post(f"{served['base']}/v1/widget/session", json={"site_key": "pk_any"}, headers={"Origin": unlisted})
    assert r.status_code == 403 and r.json()["error"]["code"] == "origin_not_allowed"
    assert r.headers["access-control-allow-origin"] == unlisted


def test_source_titles_are_escaped_and_only_http_links_are_links(browser, served) -> None:
    """#28: sources are links. A reply whose sources carry markup in a title and javascript:/data: addresses
    (as a hostile document's front matter could) is played to the widget in place of the server's answer."""
    sources = [{"index": 1, "doc_id": "returns", "title": "Returning an item", "url": "https://help.example.com/returns"},
               {"index": 2, "doc_id": "evil", "title": '<img src=x onerror="window.__pwned=1">Evil',
                "url": "javascript:window.__pwned=2"},
               {"index": 3, "doc_id": "data", "title": "Data page", "url": "data:text/html,<script>x</script>"},
               {"index": 4, "doc_id": "plain", "title": "No link", "url": None}]
    reply = {"conversation_id": "c_links", "message_id": "m_links", "answer": "See [1].", "route": "generate",
             "sources": sources}
    body = f"event: done\ndata: {json.dumps({'reply': reply})}\n\n"
    context = browser.new_context()
    page = context.new_page()
    page.route("**/v1/chat", lambda route: route.fulfill(status=200, body=body,
                                                         headers={"content-type": "text/event-stream"}))
    page.goto(f"{served['base']}/demo")
    page.get_by_role("button", name="Chat with support").click()
    _ask(page, "How do I return an item?")
    page.locator(".sources li").nth(3).wait_for(timeout=30_000)
    links = page.locator(".sources a")
    assert links.count() == 1
    assert links.get_attribute("href") == "https://help.example.com/returns"
    assert links.get_attribute("target") == "_blank" and "noopener" in links.get_attribute("rel")
    items = page.locator(".sources li").all_inner_texts()
    assert items[1] == '[2] <img src=x onerror="window.__pwned=1">Evil'  # shown as text
    assert page.locator(".sources img").count() == 0 and page.evaluate("window.__pwned") is None
    page.locator(".sources li").nth(1).click()
    assert page.evaluate("window.__pwned") is None and len(context.pages) == 1
    _shot(page, "source-links")
    context.close()


def test_after_hours_handoff_offers_an_email_field(browser, served) -> None:
    """Issue #28: outside the site's opening hours the handoff says when a person answers, and the widget offers a
    field for an e-mail address: a malformed one is refused in the widget, a good one is stored for the agents."""
    from tests.load.servers import site_with_key

    _, key = site_with_key(served["base"], "nightshop", opening_hours={"timezone": "Asia/Tokyo",
                                                                        "weekly": {"mon": ["03:00-03:01"]}})
    night = httpx.get(f"{served['base']}/v1/admin/sites/nightshop", headers={"X-Admin-Key": "load-test-admin-key"})
    context = browser.new_context(viewport={"width": 1100, "height": 800})
    page = context.new_page()
    page.goto(f"{served['base']}/demo?site_key={night.json()['public_key']}")
    page.get_by_role("button", name="Chat with support").click()
    page.get_by_role("button", name="Talk to a person").click()
    page.get_by_text("(Asia/Tokyo)", exact=False).wait_for(timeout=30_000)
    assert "at 03:00 (Asia/Tokyo)" in page.locator(".msg.bot .text").last.inner_text()
    field = page.get_by_role("textbox", name="Your e-mail address")
    field.fill("jo.rider@example")
    page.get_by_role("button", name="Send address").click()
    page.get_by_role("alert").filter(has_text="is not an e-mail address").wait_for(timeout=10_000)
    field.fill("jo.rider@example.com")
    page.get_by_role("button", name="Send address").click()
    page.get_by_text("A person will write to you at jo.rider@example.com").wait_for(timeout=10_000)
    assert page.get_by_role("textbox", name="Your e-mail address").count() == 0
    _shot(page, "after-hours-contact")
    conv_id = page.evaluate("pk => localStorage.getItem('support-assistant:' + pk + ':conversation')",
                            night.json()["public_key"])
    conv = httpx.get(f"{served['base']}/v1/conversations/{conv_id}", headers={"Authorization": f"Bearer {key}"}).json()
    assert conv["status"] == "handoff" and conv["contact_email"] == "jo.rider@example.com"
    context.close()
