"""pytest plugin (entry point ``cognito_signout``): fixtures for users' test suites."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .._retry import is_testing, set_testing


@pytest.fixture
def cognito_signout_instant_retries() -> Iterator[None]:
    """Make every retry backoff zero for the duration of a test."""
    before = is_testing()
    set_testing(True)
    try:
        yield
    finally:
        set_testing(before)
