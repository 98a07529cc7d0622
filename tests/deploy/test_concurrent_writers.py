"""Two server processes (two replicas) on one real PostgreSQL database, chats spread across both,
several turns of one conversation in flight on both replicas at once: no turn is lost or interleaved."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest

from assistant.engine.store import Store
from tests.deploy.databases import fresh_postgres_database
from tests.deploy.lite_app import lite_server

pytestmark = pytest.mark.postgres

CONVERSATIONS, TURNS = 4, 6


def wait_ready(bases: list[str], procs: list, logs: list[Path], timeout: float = 240) -> None:
    deadline = time.time() + timeout
    pending = set(bases)
    while pending and time.time() < deadline:
        for base, proc, log in zip(bases, procs, logs, strict=True):
            assert proc.poll() is None, log.read_text()
            try:
                if base in pending and httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    pending.discard(base)
            except httpx.HTTPError:
                pass
        time.sleep(0.3)
    assert not pending, f"not ready: {pending}"


def test_two_replicas_sharing_postgres_lose_no_turn(tmp_path: Path) -> None:
    with fresh_postgres_database() as url, ExitStack() as stack:
        servers, logs = [], []
        for name in ("a", "b"):
            data = tmp_path / name
            data.mkdir()
            env = {"ASSISTANT_DATA_DIR": str(data), "ASSISTANT_DATABASE_URL": url, "ASSISTANT_ENGINE__BACKEND": "fake",
                   "LITE_TOKEN_DELAY": "0.01"}
            logs.append(data / "server.log")
            servers.append(stack.enter_context(lite_server(env, logs[-1])))
        bases, procs = [b for b, _ in servers], [p for _, p in servers]
        wait_ready(bases, procs, logs)  # both started together: the schema lock let each migrate in turn

        with httpx.Client(timeout=60) as client:
            conv_ids = [client.post(f"{bases[i % 2]}/v1/chat", json={"message": f"c{i} opening question"}).json()
                        ["conversation_id"] for i in range(CONVERSATIONS)]

            def send(job: tuple[int, int]) -> int:
                c, t = job
                base = bases[(c + t) % 2]  # consecutive turns of a conversation land on different replicas
                r = client.post(f"{base}/v1/chat", json={"message": f"c{c} turn {t}", "conversation_id": conv_ids[c]})
                return r.status_code

            jobs = [(c, t) for t in range(TURNS) for c in range(CONVERSATIONS)]
            with ThreadPoolExecutor(max_workers=8) as pool:
                statuses = list(pool.map(send, jobs))
        assert statuses == [200] * len(jobs)

        store = Store(url, create=False)
        for c, conv_id in enumerate(conv_ids):
            messages = store.get_conversation(conv_id).messages
            assert [m.seq for m in messages] == list(range(1, 2 * (TURNS + 1) + 1))
            assert [m.role for m in messages] == ["user", "assistant"] * (TURNS + 1)
            questions = sorted(m.content for m in messages[2::2])
            assert questions == sorted(f"c{c} turn {t}" for t in range(TURNS))
        store.close()
