"""A real server process (`assistant serve`, light models): JSON logs with request ids and no PII, and a
SIGTERM that lets the in-flight stream finish (uvicorn timeout_graceful_shutdown) before exiting."""

from __future__ import annotations

import json
import signal
import threading
import time
from pathlib import Path

import httpx
import pytest

from assistant.engine.store import Store
from tests.deploy.lite_app import lite_server
from tests.support import parse_sse

EMAIL, PHONE = "jo.customer@example.com", "+44 20 7946 0958"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    data = tmp_path_factory.mktemp("lifecycle")
    env = {"ASSISTANT_DATA_DIR": str(data), "ASSISTANT_ENGINE__BACKEND": "fake", "LITE_TOKEN_DELAY": "0.3"}
    with lite_server(env, data / "server.log") as (base, proc):
        deadline = time.time() + 180
        while time.time() < deadline:
            assert proc.poll() is None, (data / "server.log").read_text()
            try:
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        yield base, proc, data


def log_entries(data: Path) -> list[dict]:
    lines = (data / "server.log").read_text().splitlines()
    return [json.loads(line) for line in lines if line.startswith("{")]


def test_logs_are_json_lines_with_request_ids_and_no_customer_text(server) -> None:
    base, _, data = server
    message = f"Refund please, write to {EMAIL} or call {PHONE}"
    mine = httpx.post(f"{base}/v1/chat", json={"message": message}, headers={"X-Request-ID": "req-0123456789"},
                      timeout=30)
    assert mine.status_code == 200 and mine.headers["x-request-id"] == "req-0123456789"
    fresh = httpx.post(f"{base}/v1/chat", json={"message": "Refund?"}, timeout=30)
    generated = fresh.headers["x-request-id"]
    assert len(generated) == 32 and generated != "req-0123456789"
    smuggled = httpx.get(f"{base}/healthz", headers={"X-Request-ID": f"id {EMAIL}"}, timeout=5)
    assert EMAIL not in smuggled.headers["x-request-id"]  # not a sane token: replaced, never echoed or logged
    time.sleep(0.5)  # the access line is written as the response completes

    raw = (data / "server.log").read_text()
    entries = log_entries(data)
    structured = [line for line in raw.splitlines() if line.strip()]
    assert structured and all(line.startswith("{") for line in structured)  # every log line is one JSON object
    assert all({"time", "level", "logger", "message", "request_id"} <= set(e) for e in entries)
    access = [e for e in entries if e["logger"] == "assistant.access" and e["request_id"] == "req-0123456789"]
    assert len(access) == 1
    assert access[0]["route"] == "/v1/chat" and access[0]["status"] == 200 and access[0]["duration_ms"] > 0
    assert any(e["request_id"] == generated for e in entries)
    console = (data / "server.out").read_text()
    for secret in (EMAIL, PHONE, "write to", mine.json()["conversation_id"]):
        assert secret not in raw and secret not in console


def test_sigterm_lets_the_open_stream_finish_then_exits(server) -> None:
    base, proc, data = server
    frames: list[str] = []
    first_token = threading.Event()

    def read_stream() -> None:
        with httpx.stream("POST", f"{base}/v1/chat", json={"message": "How long do refunds take?", "stream": True},
                          timeout=60) as r:
            for chunk in r.iter_text():
                frames.append(chunk)
                if "event: token" in chunk:
                    first_token.set()

    reader = threading.Thread(target=read_stream)
    reader.start()
    assert first_token.wait(30), "".join(frames)
    proc.send_signal(signal.SIGTERM)
    refused, deadline = False, time.monotonic() + 10
    while not refused and time.monotonic() < deadline:  # uvicorn closes its socket once it handles the signal
        try:
            httpx.get(f"{base}/healthz", timeout=2)
            time.sleep(0.05)
        except httpx.HTTPError:
            refused = True
    assert refused, "new connections were still accepted 10 s after SIGTERM"
    reader.join(60)
    events = parse_sse("".join(frames))
    assert events[-1][0] == "done", events  # the in-flight answer was completed, not cut
    reply = events[-1][1]["reply"]
    # uvicorn re-raises the captured SIGTERM after its clean shutdown, so the status says why it stopped
    assert proc.wait(40) in (0, -signal.SIGTERM)
    stored = Store(f"sqlite:///{data / 'assistant.db'}", create=False).get_conversation(reply["conversation_id"])
    assert [m.content for m in stored.messages][-1] == reply["answer"]  # and the turn was stored
    assert any("Finished server process" in e["message"] for e in log_entries(data))
