"""The real `assistant serve` (uvicorn options, app, store, migrations, logging) with light stand-ins
for the models, so deployment tests can start several server processes in seconds:

    LITE_TOKEN_DELAY=0.2 python -m tests.deploy.lite_app serve --host 127.0.0.1 --port 8123

The fake backend (ASSISTANT_ENGINE__BACKEND=fake semantics) answers from the first source; intent and
retrieval are the fixed fakes of tests/support.py. The database is whatever the settings name.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.support import ROOT, FakeClassifier, FakeHit, FakeRetriever, free_port

HITS = [
    FakeHit("refund-timing", "Refund timing", "Refunds are paid within 5 business days of receiving the return.", 0.9),
    FakeHit("return-policy", "Return policy", "You can return items within 30 days.", 0.6),
]


def lite_factory(settings: Any) -> Any:
    from assistant.engine.backends.fake import FakeBackend
    from assistant.engine.facade import Assistant
    from assistant.engine.store import Store
    from assistant.engine.understanding.policy import AnswerPolicy
    from assistant.engine.understanding.templates import TemplateBook

    delay = float(os.environ.get("LITE_TOKEN_DELAY", "0"))
    return Assistant(settings, backend=FakeBackend(settings, delay=delay), retriever=FakeRetriever(list(HITS)),
                     understanding=FakeClassifier(), policy=AnswerPolicy(settings.understanding, TemplateBook.empty()),
                     store=Store(settings.resolved_database_url))


@contextmanager
def lite_server(env: dict[str, str], log_path: Path, *, port: int | None = None) -> Iterator[tuple[str, Any]]:
    """Start the lite server as a process (not waiting for readiness); yields (base_url, Popen).

    Logs (stderr) go to `log_path`, console output (stdout) next to it with the suffix .out.
    """
    port = port or free_port()
    with open(log_path, "ab") as log, open(log_path.with_suffix(".out"), "ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "tests.deploy.lite_app", "serve", "--host", "127.0.0.1", "--port", str(port)],
            env={**os.environ, "PYTHONUNBUFFERED": "1", **env}, stdout=out, stderr=log, cwd=ROOT,
        )
        try:
            yield f"http://127.0.0.1:{port}", proc
        finally:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(30)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


def main() -> None:
    import assistant.server.app as server_app
    from assistant.cli import main as cli_main

    server_app._default_factory = lite_factory  # the one substitution: no model loading
    cli_main()


if __name__ == "__main__":
    main()
