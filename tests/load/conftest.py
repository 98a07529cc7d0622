"""One real server (fake backend, small KB, limits off) shared by the load and fuzz tests of this folder."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.load.servers import server_env
from tests.support import running_server
from tests.with_constants import MODULE, constants_env

NO_LIMITS = {f"assistant.server.ratelimit:{name}": "" for name in ("IP_RATE", "KEY_RATE", "SESSION_RATE")}


@pytest.fixture(scope="session")
def fake_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    env = server_env(tmp_path_factory.mktemp("load-server"), **constants_env(NO_LIMITS))
    with running_server(env, ready_timeout=900, module=MODULE) as (base, _):
        yield base
