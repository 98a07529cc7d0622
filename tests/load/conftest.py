"""One real server (fake backend, small KB, limits off) shared by the load and fuzz tests of this folder."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.load.servers import server_env
from tests.support import running_server


@pytest.fixture(scope="session")
def fake_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    env = server_env(tmp_path_factory.mktemp("load-server"), ASSISTANT_SECURITY__IP_RATE="",
                     ASSISTANT_SECURITY__KEY_RATE="", ASSISTANT_SECURITY__SESSION_RATE="")
    with running_server(env, ready_timeout=900) as (base, _):
        yield base
