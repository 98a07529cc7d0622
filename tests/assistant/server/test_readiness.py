"""Readiness: false until the models and index are loaded, and false with a clear reason when start-up
cannot succeed (wrong database URL, unreachable model server, missing adapter) - never a crash."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from assistant.engine.settings import Settings
from assistant.server.app import create_app
from tests.deploy.lite_app import lite_factory
from tests.support import ROOT, free_port


def settings_for(tmp_path: Path, **overrides: Any) -> Settings:
    engine = overrides.pop("engine", {})
    return Settings(data_dir=tmp_path, server={"startup_wait_seconds": overrides.pop("wait", 0)},
                    engine={"backend": "fake", **engine}, **overrides)


def wait_for(client: Any, predicate: Callable[[dict], bool], timeout: float = 20) -> dict:
    deadline = time.time() + timeout
    while True:
        body = client.get("/readyz").json()
        if predicate(body) or time.time() > deadline:
            return body
        time.sleep(0.05)


def failed_start(settings: Settings) -> tuple[dict, dict, list]:
    """Start the app with a factory that records calls; return (readyz body, chat error body, factory calls)."""
    calls: list[Settings] = []

    def factory(s: Settings) -> Any:
        calls.append(s)
        return lite_factory(s)

    with TestClient(create_app(settings, factory=factory)) as client:
        ready = wait_for(client, lambda b: b["status"] != "loading")
        assert client.get("/readyz").status_code == 503
        assert client.get("/healthz").status_code == 200  # alive: the orchestrator sees why, it is not killed blind
        chat = client.post("/v1/chat", json={"message": "Where is my parcel?"})
        assert chat.status_code == 503 and chat.headers.get("retry-after")
        return ready, chat.json(), calls


def test_not_ready_while_loading_then_ready(tmp_path: Path) -> None:
    gate = threading.Event()

    def blocking_factory(settings: Settings) -> Any:
        gate.wait(30)
        return lite_factory(settings)

    with TestClient(create_app(settings_for(tmp_path), factory=blocking_factory)) as client:
        loading = client.get("/readyz")
        assert loading.status_code == 503 and loading.json()["status"] == "loading"
        assert loading.json()["ready"] is False
        chat = client.post("/v1/chat", json={"message": "Where is my parcel?"})
        assert chat.status_code == 503 and chat.json()["error"]["code"] == "not_ready"
        gate.set()
        body = wait_for(client, lambda b: b["ready"])
        assert body["ready"] is True and body["status"] == "ok" and client.get("/readyz").status_code == 200
        assert client.post("/v1/chat", json={"message": "How long do refunds take?"}).status_code == 200


@pytest.mark.parametrize(("url", "expected"), [
    ("postgresql+psycopg://assistant:s3cret@127.0.0.1:1/assistant", "cannot connect to the database"),
    ("not a url", "database URL is not usable"),
    ("postgres://assistant:s3cret@127.0.0.1:1/assistant", "postgresql+psycopg://"),
])
def test_wrong_database_url_is_a_clear_error_before_any_model_loads(tmp_path: Path, url: str, expected: str) -> None:
    ready, chat, calls = failed_start(settings_for(tmp_path, database_url=url))
    assert ready["status"] == "error" and expected in ready["detail"]
    assert "s3cret" not in ready["detail"] and "s3cret" not in json.dumps(chat)
    assert chat["error"]["code"] == "not_ready" and expected in chat["error"]["message"]
    assert calls == []  # failed in the preflight, before the (slow) factory


class _Models(BaseHTTPRequestHandler):
    served = ["base-model", "support-v1"]

    def do_GET(self) -> None:  # noqa: N802 - http.server API
        body = json.dumps({"object": "list", "data": [{"id": m, "object": "model"} for m in self.served]}).encode()
        self.send_response(200 if self.path == "/v1/models" else 404)
        self.send_header("content-type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@contextmanager
def model_server(port: int, delay: float = 0.0) -> Iterator[None]:
    """An OpenAI-compatible /v1/models endpoint on loopback, optionally starting late."""
    holder: dict[str, ThreadingHTTPServer] = {}

    def serve() -> None:
        time.sleep(delay)
        holder["server"] = ThreadingHTTPServer(("127.0.0.1", port), _Models)
        holder["server"].serve_forever()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield
    finally:
        while "server" not in holder and thread.is_alive():
            time.sleep(0.05)
        if "server" in holder:
            holder["server"].shutdown()
            holder["server"].server_close()


def test_unreachable_model_server_is_a_clear_error(tmp_path: Path) -> None:
    port = free_port()
    settings = settings_for(tmp_path, engine={"backend": "openai", "openai_base_url": f"http://127.0.0.1:{port}/v1"})
    ready, _, calls = failed_start(settings)
    assert ready["status"] == "error" and f"127.0.0.1:{port}/v1/models is unreachable" in ready["detail"]
    assert calls == []


def test_model_server_without_the_default_adapter_is_a_clear_error(tmp_path: Path) -> None:
    port = free_port()
    settings = settings_for(tmp_path, engine={"backend": "openai", "openai_base_url": f"http://127.0.0.1:{port}/v1",
                                              "adapter": "billing-v2"})
    with model_server(port):
        ready, _, calls = failed_start(settings)
    assert "adapter 'billing-v2' is not served" in ready["detail"] and "support-v1" in ready["detail"]
    assert calls == []


def test_model_server_that_starts_late_is_waited_for(tmp_path: Path) -> None:
    port = free_port()
    settings = settings_for(tmp_path, wait=30, engine={"backend": "openai", "adapter": "support-v1",
                                                       "openai_base_url": f"http://127.0.0.1:{port}/v1"})
    with model_server(port, delay=1.5), TestClient(create_app(settings, factory=lite_factory)) as client:
        assert client.get("/readyz").json()["status"] == "loading"
        body = wait_for(client, lambda b: b["status"] != "loading", timeout=25)
        assert body["ready"] is True, body


def test_missing_local_adapter_folder_is_a_clear_error(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, engine={"backend": "transformers", "adapter": "support-v1",
                                              "adapters_dir": str(tmp_path / "adapters")})
    ready, _, calls = failed_start(settings)
    assert "adapter 'support-v1' not found" in ready["detail"] and str(tmp_path / "adapters") in ready["detail"]
    assert calls == []


def test_real_server_process_with_a_wrong_database_stays_up_and_not_ready(tmp_path: Path) -> None:
    port = free_port()
    env = {"ASSISTANT_DATA_DIR": str(tmp_path), "ASSISTANT_ENGINE__BACKEND": "fake", "PYTHONUNBUFFERED": "1",
           "ASSISTANT_DATABASE_URL": "postgresql+psycopg://assistant:s3cret@127.0.0.1:1/assistant",
           "ASSISTANT_SERVER__STARTUP_WAIT_SECONDS": "0"}
    log_path = tmp_path / "server.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "assistant", "serve", "--port", str(port)], cwd=ROOT,
                                env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline, body = time.time() + 120, {}
        while time.time() < deadline and body.get("status") != "error":
            assert proc.poll() is None, log_path.read_text()
            try:
                body = httpx.get(f"{base}/readyz", timeout=2).json()
            except httpx.HTTPError:
                time.sleep(0.3)
        assert body.get("status") == "error" and "cannot connect to the database" in body["detail"], body
        chat = httpx.post(f"{base}/v1/chat", json={"message": "hello"}, timeout=10)
        assert chat.status_code == 503 and chat.json()["error"]["code"] == "not_ready"
        assert proc.poll() is None  # still serving: probes and operators can read the reason
        lines = [json.loads(line) for line in log_path.read_text().splitlines() if line.startswith("{")]
        failure = [entry for entry in lines if entry["level"] == "ERROR" and "start-up failed" in entry["message"]]
        assert failure and "s3cret" not in log_path.read_text()
    finally:
        proc.terminate()
        proc.wait(30)
