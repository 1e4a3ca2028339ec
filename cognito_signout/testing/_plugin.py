"""pytest plugin (entry point ``cognito_signout``): fixtures for users' test suites.

Loaded by every pytest run in an environment where cognito-signout is installed, so it imports
nothing beyond the SDK itself (no FastAPI, no emulator).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from .._retry import is_testing, set_testing

if TYPE_CHECKING:
    from ._fake import FakeCognito


@pytest.fixture
def cognito_signout_instant_retries() -> Iterator[None]:
    """Make every retry backoff zero for the duration of a test."""
    before = is_testing()
    set_testing(True)
    try:
        yield
    finally:
        set_testing(before)


@pytest.fixture
def cognito_fake(cognito_signout_instant_retries: None) -> Iterator[FakeCognito]:
    """A fresh in-memory Cognito for one test, with instant retries.

    Every ``cognito_signout.Client`` created during the test without its own ``http_client``
    talks to it (``FakeCognito.patch``), so code under test needs no change. Set
    ``cognito_fake.latency`` or ``accept_unknown_tokens`` as needed; ``cognito_fake.client()``
    gives a client on it directly.
    """
    from ._fake import FakeCognito

    fake = FakeCognito()
    with fake.patch():
        yield fake
