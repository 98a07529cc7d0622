"""Retries with backoff on 429/503 and refused connections; Retry-After is honoured (mock transport: timing)."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from assistant.sdk import AsyncClient, Client, ConnectionFailed, RetryPolicy, Unavailable
from assistant.sdk.retry import RETRY_STATUSES
from tests.support import free_port

REPLY = {"conversation_id": "c1", "message_id": "m1", "answer": "Five days."}


def _flaky(statuses: list[int], seen: list[httpx.Request]) -> httpx.MockTransport:
    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        status = statuses.pop(0) if statuses else 200
        if status == 200:
            return httpx.Response(200, json=REPLY)
        return httpx.Response(status, json={"error": {"code": "busy", "message": "busy"}},
                              headers={"Retry-After": "0.05"})
    return httpx.MockTransport(handle)


def test_policy_backs_off_exponentially_and_honours_retry_after() -> None:
    policy = RetryPolicy(backoff=0.5, jitter=0)
    assert [policy.delay(a, None) for a in range(4)] == [0.5, 1.0, 2.0, 4.0]
    assert policy.delay(0, 7.0) == 7.0 and RetryPolicy(max_delay=3, jitter=0).delay(0, 60) == 3
    assert policy.should_retry(0, 429) and policy.should_retry(2, 503) and not policy.should_retry(3, 503)
    assert not policy.should_retry(0, 400) and {429, 503} == RETRY_STATUSES


def test_sync_client_retries_429_then_503_then_succeeds() -> None:
    seen: list[httpx.Request] = []
    client = Client("http://test", "sk_x", transport=_flaky([429, 503], seen), retry=RetryPolicy(jitter=0))
    started = time.perf_counter()
    assert client.chat("hi").answer == "Five days."
    assert len(seen) == 3 and time.perf_counter() - started >= 0.1
    assert seen[0].headers["authorization"] == "Bearer sk_x"


def test_gives_up_after_max_retries() -> None:
    seen: list[httpx.Request] = []
    client = Client("http://test", transport=_flaky([503] * 10, seen), retry=RetryPolicy(max_retries=2, jitter=0))
    with pytest.raises(Unavailable) as err:
        client.chat("hi")
    assert len(seen) == 3 and err.value.retry_after == 0.05


def test_no_retry_on_client_errors() -> None:
    seen: list[httpx.Request] = []
    client = Client("http://test", transport=_flaky([400], seen))
    with pytest.raises(Exception) as err:
        client.chat("hi")
    assert len(seen) == 1 and err.value.status == 400


def test_async_client_retries_too() -> None:
    seen: list[httpx.Request] = []
    transport = _flaky([429, 429], seen)

    async def run() -> str:
        async with AsyncClient("http://test", transport=httpx.MockTransport(transport.handler),
                               retry=RetryPolicy(jitter=0)) as client:
            return (await client.chat("hi")).answer

    assert asyncio.run(run()) == "Five days." and len(seen) == 3


def test_refused_connection_is_retried_then_raised() -> None:
    client = Client(f"http://127.0.0.1:{free_port()}", retry=RetryPolicy(max_retries=1, backoff=0.01),
                    timeout=2.0)
    with pytest.raises(ConnectionFailed):
        client.health()
