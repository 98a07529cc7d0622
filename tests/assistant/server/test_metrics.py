"""/metrics after real chats through the app (fake backend): every listed series is there and moved."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from assistant.engine.backends.fake import FakeBackend
from assistant.engine.facade import Assistant
from assistant.engine.settings import Settings
from assistant.engine.store import Store
from assistant.engine.understanding.policy import AnswerPolicy
from assistant.engine.understanding.templates import TemplateBook
from assistant.server.app import create_app
from tests.support import FakeClassifier, FakeHit, FakeRetriever

GOOD = [FakeHit("refund-timing", "Refund timing", "Refunds are paid within 5 business days.", 0.9)]


def scrape(client: TestClient) -> dict[tuple[str, tuple], float]:
    r = client.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(r.text) for s in family.samples}


def value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.fixture()
def client(tmp_path: Path):
    settings = Settings(data_dir=tmp_path)
    retriever = FakeRetriever(list(GOOD))
    bot = Assistant(settings, backend=FakeBackend(settings), retriever=retriever, understanding=FakeClassifier(),
                    policy=AnswerPolicy(settings.understanding, TemplateBook.empty()),
                    store=Store(settings.resolved_database_url))
    with TestClient(create_app(settings, assistant=bot)) as c:
        c.retriever = retriever
        yield c


def test_chat_turns_fill_every_listed_series(client: TestClient) -> None:
    before = scrape(client)
    answered = client.post("/v1/chat", json={"message": "How long do refunds take?"})
    assert answered.status_code == 200 and answered.json()["route"] == "generate"
    with client.stream("POST", "/v1/chat", json={"message": "And refunds to a gift card?", "stream": True}) as r:
        assert r.status_code == 200 and "event: done" in "".join(r.iter_text())
    handoff = client.post("/v1/chat", json={"message": "I want to talk to a real person please"})
    assert handoff.json()["route"] == "handoff"
    client.retriever.hits = [FakeHit("x", "X", "unrelated", 0.03)]
    abstained = client.post("/v1/chat", json={"message": "What is the airspeed of a swallow?"})
    assert abstained.json()["abstained"] is True
    conv_id = answered.json()["conversation_id"]
    assert client.get(f"/v1/conversations/{conv_id}").status_code == 200
    after = scrape(client)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("assistant_http_requests_total", method="POST", route="/v1/chat", status="200") == 4
    assert delta("assistant_http_request_duration_seconds_count", method="POST", route="/v1/chat") == 4
    # route templates, never raw paths: conversation ids stay out of the label set
    assert delta("assistant_http_requests_total", method="GET", route="/v1/conversations/{conversation_id}",
                 status="200") == 1
    assert not any(conv_id in str(key) for key in after)
    assert delta("assistant_chat_turns_total", route="generate", mode="json") == 1
    assert delta("assistant_chat_turns_total", route="generate", mode="stream") == 1
    assert delta("assistant_chat_turns_total", route="handoff", mode="json") == 1
    assert delta("assistant_chat_turns_total", route="abstain", mode="json") == 1
    assert delta("assistant_handoffs_total", reason="customer_request") == 1
    assert delta("assistant_abstentions_total") == 1
    assert delta("assistant_time_to_first_token_seconds_count") == 4  # every route reports a first token
    assert delta("assistant_generation_tokens_per_second_count") == 2  # only generated answers decode
    assert delta("assistant_completion_tokens_total") > 0
    assert delta("assistant_retrieval_duration_seconds_count") == 3  # the handoff skips retrieval
    assert delta("assistant_understanding_duration_seconds_count") == 4
    assert delta("assistant_turn_duration_seconds_count") == 4
    assert value(after, "assistant_engine_queue_depth") == 0
    assert value(after, "assistant_ready") == 1
    assert value(after, "assistant_http_requests_in_flight") == 1  # the scrape itself


def test_zero_series_exist_before_any_chat_and_ready_is_zero_while_loading(tmp_path: Path) -> None:
    import threading

    gate = threading.Event()

    def slow_factory(settings: Settings) -> Assistant:
        gate.wait(30)
        raise RuntimeError("never built in this test")

    with TestClient(create_app(Settings(data_dir=tmp_path), factory=slow_factory)) as client:
        samples = scrape(client)
        assert value(samples, "assistant_ready") == 0
        assert ("assistant_handoffs_total", (("reason", "negative_sentiment"),)) in samples
        assert ("assistant_abstentions_total", ()) in samples
        gate.set()
