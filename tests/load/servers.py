"""Real server processes for the browser, load and fault tests: environment, keys, and a tiny static site.

The intent model is trained once into var/cache/test-intent-model and reused by every server
these tests start, so each fresh data dir costs an index build, not a training run.
"""

from __future__ import annotations

import functools
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

from tests.support import ROOT, free_port

ADMIN = "load-test-admin-key"
KB = Path(__file__).resolve().parent / "kb"  # two small pages with URLs: a quick index build, links to show


def cache_dir() -> Path:
    return Path(os.environ.get("ASSISTANT_MODEL_CACHE_DIR", ROOT / "var" / "cache"))


def server_env(data_dir: Path, *, backend: str = "fake", **extra: str) -> dict[str, str]:
    return {
        "ASSISTANT_DATA_DIR": str(data_dir),
        "ASSISTANT_MODEL_CACHE_DIR": str(cache_dir()),
        "ASSISTANT_UNDERSTANDING__INTENT_MODEL_DIR": str(cache_dir() / "test-intent-model"),
        "ASSISTANT_ENGINE__BACKEND": backend,
        "ASSISTANT_SECURITY__ADMIN_KEY": ADMIN,
        "ASSISTANT_KB_PATH": str(KB),
        "ASSISTANT_UNDERSTANDING__TEMPLATES_PATH": str(KB.parent / "no-templates.yaml"),
        **extra,
    }


@contextmanager
def serve_process(env: dict[str, str], module: str = "assistant", ready_timeout: float = 900.0
                  ) -> Iterator[tuple[str, subprocess.Popen]]:
    """Like tests.support.running_server, but runs `python -m MODULE serve` (a wrapper that adds a backend)."""
    port = free_port()
    log = open(Path(env["ASSISTANT_DATA_DIR"]) / f"server-{port}.log", "ab")  # noqa: SIM115
    proc = subprocess.Popen([sys.executable, "-m", module, "serve", "--host", "127.0.0.1", "--port", str(port)],
                            env={**os.environ, **env, "PYTHONUNBUFFERED": "1"}, stdout=log, stderr=subprocess.STDOUT,
                            cwd=ROOT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + ready_timeout
        while not _ready(base):
            if proc.poll() is not None or time.time() > deadline:
                raise RuntimeError(f"server did not become ready (exit {proc.poll()}); see {log.name}")
            time.sleep(0.5)
        yield base, proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
        log.close()


def _ready(base: str) -> bool:
    try:
        return httpx.get(f"{base}/readyz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def admin(base: str, method: str, path: str, **kwargs) -> httpx.Response:
    r = httpx.request(method, f"{base}/v1/admin{path}", headers={"X-Admin-Key": ADMIN}, timeout=30, **kwargs)
    r.raise_for_status()
    return r


def site_with_key(base: str, site_id: str, origins: list[str] | None = None, **fields) -> tuple[dict, str]:
    """Create (or, for 'default', update) a site and issue it a secret key: (site json, key)."""
    if site_id == "default":
        site = admin(base, "PATCH", "/sites/default", json={"allowed_origins": origins or [], **fields}).json()
    else:
        site = admin(base, "POST", "/sites", json={"id": site_id, "name": site_id.title(),
                                                   "allowed_origins": origins or [], **fields}).json()
    key = admin(base, "POST", f"/sites/{site_id}/keys", json={"name": "tests"}).json()["key"]
    return site, key


@contextmanager
def static_site(folder: Path) -> Iterator[str]:
    """Serve `folder` over HTTP on another free port (a second origin); yields its origin."""
    port = free_port()

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), functools.partial(Quiet, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.shutdown()
        server.server_close()
