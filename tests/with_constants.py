"""The `assistant` CLI with some module constants replaced, for real server processes and CLI runs that need
other tuning than the shipped one (tuning values are module constants, not settings).

    TEST_CONSTANTS='{"assistant.server.ratelimit:IP_RATE": ""}' python -m tests.with_constants serve --port 8123

`constants_env(...)` builds that variable; `tests.support.running_server(env, module=MODULE)` runs a server with it.
"""

from __future__ import annotations

import importlib
import json
import os
from typing import Any

MODULE = "tests.with_constants"
VARIABLE = "TEST_CONSTANTS"


def constants_env(constants: dict[str, Any]) -> dict[str, str]:
    """The environment entry that makes `python -m tests.with_constants` set each "module:NAME" to its value."""
    return {VARIABLE: json.dumps(constants)}


def apply(spec: str) -> None:
    for target, value in json.loads(spec).items():
        module_name, _, name = target.partition(":")
        module = importlib.import_module(module_name)
        if not hasattr(module, name):
            raise SystemExit(f"{VARIABLE}: {module_name} has no constant {name}")
        setattr(module, name, value)


if __name__ == "__main__":
    apply(os.environ.get(VARIABLE, "{}"))
    from assistant.cli import main

    main()
