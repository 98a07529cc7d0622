"""A real local HTTP receiver for webhook tests and the webhook benchmark: it fails the first N attempts per event.

    with Receiver(fail_first=2) as rx:
        ...POST to rx.url...
        rx.wait_for(3)            # until 3 requests were delivered (answered 2xx)
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Receiver:
    def __init__(self, fail_first: int = 0, status: int = 500) -> None:
        self.fail_first, self.status = fail_first, status
        self.attempts: Counter[str] = Counter()  # per X-Assistant-Delivery id (or body, unsigned)
        self.delivered: list[dict[str, Any]] = []  # {"headers", "body" (bytes), "json"}
        self.refused = 0
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                key = self.headers.get("X-Assistant-Delivery") or body.decode(errors="replace")
                with receiver._lock:
                    receiver.attempts[key] += 1
                    failing = receiver.attempts[key] <= receiver.fail_first
                    if failing:
                        receiver.refused += 1
                    else:
                        receiver.delivered.append({"headers": dict(self.headers), "body": body,
                                                   "json": json.loads(body or b"null")})
                self.send_response(receiver.status if failing else 204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"

    def __enter__(self) -> Receiver:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def wait_for(self, count: int, timeout: float = 20.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.delivered) >= count:
                    return True
            time.sleep(0.02)
        return False
