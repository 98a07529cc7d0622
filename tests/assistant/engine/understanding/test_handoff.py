"""Handoff summary and webhook posting to a real local HTTP server on a free port."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from assistant.engine.events import Handoff, Sentiment
from assistant.engine.understanding.handoff import handoff_payload, post_handoff, summarize


class Recorder(BaseHTTPRequestHandler):
    received: list[dict] = []
    status = 200

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Recorder.received.append({"path": self.path, "json": json.loads(body),
                                  "type": self.headers["Content-Type"]})
        self.send_response(Recorder.status)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def server():
    Recorder.received = []
    Recorder.status = 200
    httpd = HTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_posts_json_payload(server):
    payload = {"conversation_id": "c1", "reason": "customer_request", "summary": "hi"}
    assert post_handoff(f"{server}/hooks/handoff", payload) is True
    assert Recorder.received == [{"path": "/hooks/handoff", "json": payload, "type": "application/json"}]


def test_failures_are_logged_not_raised(server, caplog):
    Recorder.status = 500
    assert post_handoff(f"{server}/x", {"a": 1}) is False
    assert "handoff webhook" in caplog.text
    # nothing listens on this port once the socket is closed
    import socket

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    assert post_handoff(f"http://127.0.0.1:{port}/", {"a": 1}, timeout=0.5) is False
    assert post_handoff("", {"a": 1}) is False


def test_summary_names_first_and_latest_request_and_mood():
    turns = [
        {"role": "user", "content": "My boots arrived broken", "intent": "damaged_item",
         "sentiment": Sentiment(label="negative", score=-0.6)},
        {"role": "assistant", "content": "Sorry to hear that..."},
        {"role": "user", "content": "I want a person now", "intent": "human_agent", "sentiment": "negative"},
    ]
    text = summarize(turns, reason="customer_request")
    assert "3 messages (2 from the customer)" in text
    assert "First request: My boots arrived broken" in text
    assert "Latest message: I want a person now" in text
    assert "Intents: damaged_item, human_agent." in text
    assert "negative -> negative" in text
    assert "Handoff reason: customer_request." in text


def test_payload_carries_reason_summary_and_trajectory(server):
    turns = [{"role": "user", "content": "where is my parcel", "sentiment": Sentiment(label="neutral", score=0.0)},
             {"role": "assistant", "content": "It is on its way."},
             {"role": "user", "content": "this is taking forever", "sentiment": Sentiment(label="negative", score=-0.5)}]
    payload = handoff_payload("c9", Handoff(reason="negative_sentiment", detail="2 in a row"), turns)
    assert payload["conversation_id"] == "c9" and payload["reason"] == "negative_sentiment"
    assert payload["sentiment_trajectory"] == [0.0, -0.5]
    assert "Latest message: this is taking forever" in payload["summary"]
    assert post_handoff(server, payload) is True
    assert Recorder.received[-1]["json"] == payload
