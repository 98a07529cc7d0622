"""Source titles are links on the chat page (/ui) in real Chromium against the real server (#28): the test
knowledge base's pages have URLs, so the reply's sources link to them, in a new tab, rel="noopener"."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.load.servers import server_env
from tests.support import running_server
from tests.ui.test_widget_browser import _shot, browser  # noqa: F401 - the shared Chromium fixture

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with running_server(server_env(tmp_path_factory.mktemp("ui-links")), ready_timeout=900) as (url, _):
        yield url


def test_chat_page_links_source_titles_to_their_pages(browser, base: str) -> None:  # noqa: F811
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    page = context.new_page()
    page.goto(f"{base}/ui/")
    page.locator("#chat-input textarea").fill("How long do refunds take?")
    page.keyboard.press("Enter")
    page.locator("#reply-sources summary").click(timeout=60_000)
    link = page.locator('#reply-sources a[href="https://help.example.com/refunds"]')
    link.wait_for(timeout=30_000)
    assert link.get_attribute("target") == "_blank" and link.get_attribute("rel") == "noopener noreferrer"
    assert "Refund timing" in link.inner_text()
    _shot(page, "ui-source-links")
    context.close()
