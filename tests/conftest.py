"""Shared fixtures.

Async tests use anyio's pytest plugin: mark them ``@pytest.mark.anyio`` (or set
``pytestmark = pytest.mark.anyio``) and they run under both asyncio and trio.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import respx

from cognito_signout.emulator import MotoCognito

from . import loopback


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
def moto() -> Iterator[MotoCognito]:
    """A real moto server on 127.0.0.1, shared by the session, always stopped."""
    with MotoCognito() as server:
        yield server


@pytest.fixture
def instant_retries(cognito_signout_instant_retries: None) -> None:
    """Zero backoffs for tests that retry."""


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """A developer's or CI's proxy variables must not see (or break) loopback tests; tests of
    proxy handling set their own."""
    loopback.clear_proxy_environment(monkeypatch)


@pytest.fixture
def wire(respx_mock: respx.MockRouter) -> respx.MockRouter:
    """respx's default mocker (it patches httpcore, so it sees the default transport): every
    request must be mocked, and every route called unless the module marks
    ``pytest.mark.respx(assert_all_called=False)``."""
    return respx_mock
