"""Shared fixtures.

Async tests use anyio's pytest plugin: mark them ``@pytest.mark.anyio`` (or set
``pytestmark = pytest.mark.anyio``) and they run under both asyncio and trio.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from cognito_signout.emulator import MotoCognito


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
