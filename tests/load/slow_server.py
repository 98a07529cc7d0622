"""The real server with a fake backend that streams slowly (0.15 s per token), for the kill -9 test.

    python -m tests.load.slow_server serve --port 8123     (ASSISTANT_ENGINE__BACKEND=slowfake)
"""

from __future__ import annotations

from typing import Any

from assistant.engine.backends import register_backend
from assistant.engine.backends.fake import FakeBackend


class SlowFakeBackend(FakeBackend):
    def __init__(self, settings: Any = None) -> None:
        super().__init__(settings, delay=0.15)


register_backend("slowfake", "tests.load.slow_server:SlowFakeBackend")

if __name__ == "__main__":
    from assistant.cli import main

    main()
