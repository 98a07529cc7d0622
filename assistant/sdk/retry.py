"""Retry policy: back off and retry on 429 and 503 (the server refused before storing anything) and on
failed connections; honour Retry-After when the server sends one."""

from __future__ import annotations

import random
from dataclasses import dataclass

RETRY_STATUSES = frozenset({429, 503})


@dataclass(frozen=True)
class RetryPolicy:
    """`RetryPolicy(max_retries=0)` turns retries off.

    >>> RetryPolicy(backoff=0.5, jitter=0).delay(attempt=2, retry_after=None)
    2.0
    """

    max_retries: int = 3
    backoff: float = 0.5
    max_delay: float = 30.0
    jitter: float = 0.1

    def delay(self, attempt: int, retry_after: float | None) -> float:
        """Seconds to wait before retry number `attempt` (0-based)."""
        wait = retry_after if retry_after is not None else self.backoff * (2 ** attempt)
        wait = min(wait, self.max_delay)
        return wait + random.uniform(0, self.jitter * wait) if self.jitter else wait

    def should_retry(self, attempt: int, status: int | None) -> bool:
        return attempt < self.max_retries and (status is None or status in RETRY_STATUSES)
