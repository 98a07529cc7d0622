"""Keys on the OpenAI-compatible routes (#28): locally (keys not required) any key is taken, as vLLM and Ollama
take it, because an OpenAI client cannot send none; with keys required they stay strict. In process first, then
the official `openai` client against real servers on free ports (fake backend, the small test knowledge base)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from tests.assistant.server.sites_support import app_client, auth, count_messages, new_site
from tests.load.servers import server_env, site_with_key
from tests.support import running_server

ASK = {"model": "fake-model", "messages": [{"role": "user", "content": "How long do refunds take?"}]}
ANY_KEYS = ["test", "ollama", "EMPTY", "sk-proj-an-openai-key"]


@pytest.mark.parametrize("key", ANY_KEYS)
def test_locally_any_key_acts_as_the_default_site_on_the_openai_routes(tmp_path: Path, key: str) -> None:
    with app_client(tmp_path) as client:
        assert client.get("/v1/models", headers=auth(key)).status_code == 200
        r = client.post("/v1/chat/completions", json=ASK, headers=auth(key))
        assert r.status_code == 200, r.text
        conversation = r.json()["assistant"]["conversation_id"]
        assert client.get(f"/v1/conversations/{conversation}").json()["site_id"] == "default"
        # Only the OpenAI routes: the product's own API still checks every key that is sent.
        assert client.post("/v1/chat", json={"message": "Refunds?"}, headers=auth(key)).status_code == 401
        assert client.get("/v1/conversations", headers=auth(key)).status_code == 401


def test_locally_a_site_key_still_picks_its_site_and_a_wrong_one_is_refused(tmp_path: Path) -> None:
    with app_client(tmp_path) as client:
        _, key = new_site(client, "acme")
        r = client.post("/v1/chat/completions", json=ASK, headers=auth(key))
        conversation = r.json()["assistant"]["conversation_id"]
        assert client.get(f"/v1/conversations/{conversation}", headers=auth(key)).json()["site_id"] == "acme"
        stored = count_messages(client.store)
        # A key in this server's own format that it does not know (mistyped, revoked) is not silently taken.
        r = client.post("/v1/chat/completions", json=ASK, headers=auth("sk_mistyped"))
        assert r.status_code == 401 and r.json()["error"]["type"] == "authentication_error"
        assert count_messages(client.store) == stored


@pytest.mark.parametrize("key", ANY_KEYS)
def test_with_keys_required_an_unknown_key_is_401(tmp_path: Path, key: str) -> None:
    with app_client(tmp_path, require_keys=True) as client:
        for r in (client.get("/v1/models", headers=auth(key)),
                  client.post("/v1/chat/completions", json=ASK, headers=auth(key))):
            assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_credentials", r.text
        assert count_messages(client.store) == 0


# -- the official client against real servers ---------------------------------------------------------------
@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, tuple[str, str]]]:
    """{"local": (base_url, ""), "strict": (base_url, a site key)}: one server per mode."""
    local_dir, strict_dir = tmp_path_factory.mktemp("openai-local"), tmp_path_factory.mktemp("openai-strict")
    with running_server(server_env(local_dir), ready_timeout=900) as (local, _), \
            running_server(server_env(strict_dir, ASSISTANT_SECURITY__REQUIRE_KEYS="true"),
                           ready_timeout=900) as (strict, _):
        _, key = site_with_key(strict, "shop", namespace="default")  # the ingested test pages
        yield {"local": (f"{local}/v1", ""), "strict": (f"{strict}/v1", key)}


def _ask(client: openai.OpenAI) -> str:
    model = client.models.list().data[0].id
    reply = client.chat.completions.create(model=model, messages=ASK["messages"])
    return reply.choices[0].message.content or ""


@pytest.mark.slow
def test_openai_client_with_any_key_on_a_local_server(servers: dict[str, tuple[str, str]]) -> None:
    base_url, _ = servers["local"]
    for key in ("test", "ollama"):
        assert "business days" in _ask(openai.OpenAI(base_url=base_url, api_key=key, max_retries=0, timeout=60))
    streamed = openai.OpenAI(base_url=base_url, api_key="test", max_retries=0).chat.completions.create(
        model="fake-model", messages=ASK["messages"], stream=True)
    assert "business days" in "".join(c.choices[0].delta.content or "" for c in streamed if c.choices)
    with pytest.raises(openai.AuthenticationError):
        _ask(openai.OpenAI(base_url=base_url, api_key="sk_mistyped", max_retries=0))


@pytest.mark.slow
def test_openai_client_on_a_server_that_requires_keys(servers: dict[str, tuple[str, str]]) -> None:
    base_url, key = servers["strict"]
    for wrong in ("test", "sk_mistyped"):
        with pytest.raises(openai.AuthenticationError):
            openai.OpenAI(base_url=base_url, api_key=wrong, max_retries=0).models.list()
        with pytest.raises(openai.AuthenticationError):
            openai.OpenAI(base_url=base_url, api_key=wrong, max_retries=0).chat.completions.create(
                model="fake-model", messages=ASK["messages"])
    assert "business days" in _ask(openai.OpenAI(base_url=base_url, api_key=key, max_retries=0, timeout=60))
