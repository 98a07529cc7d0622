"""Operator login for the console: user OPERATOR_USERNAME, the password from settings (console.operator_password).

With no password configured, one is generated on first start and kept in data_dir/console-password
(readable by the server's user only), so the console is never open to anyone who finds the URL.
"""

from __future__ import annotations

import hmac
import logging
import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)
PASSWORD_FILE = "console-password"
OPERATOR_USERNAME = "operator"  # one shared console login; the password is the secret


def operator_password(settings: Any) -> str:
    configured = settings.console.operator_password.get_secret_value()
    if configured:
        return configured
    path = Path(settings.data_dir) / PASSWORD_FILE
    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    password = secrets.token_urlsafe(12)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(password + "\n")
    log.warning("console: no ASSISTANT_CONSOLE__OPERATOR_PASSWORD set; generated one in %s (user %r)",
                path, OPERATOR_USERNAME)
    return password


def operator_auth(settings: Any) -> Callable[[str, str], bool]:
    """Gradio `auth` callback comparing in constant time (no timing hints about the password)."""
    username = OPERATOR_USERNAME.encode()
    password = operator_password(settings).encode()

    def check(user: str, secret: str) -> bool:
        ok_user = hmac.compare_digest((user or "").encode(), username)
        ok_pass = hmac.compare_digest((secret or "").encode(), password)
        if not (ok_user and ok_pass):
            log.warning("console: refused login for user %r", (user or "")[:64])
        return ok_user and ok_pass

    return check
