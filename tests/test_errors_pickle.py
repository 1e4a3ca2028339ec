"""Errors cross process boundaries: pickle, copy and deepcopy keep every error whole.

A ProcessPoolExecutor job, a multiprocessing queue or a celery result pickles the exception a
worker raised. Keyword-only constructors defeat the default ``type(*args)`` rebuild, so the SDK
rebuilds its errors from args and ``__dict__``; these tests hold every public error to that.
"""

from __future__ import annotations

import concurrent.futures
import copy
import multiprocessing
import pickle
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from cognito_signout import errors

FIELDS = ("code", "message", "request_id", "status_code", "kind", "reason_code", "reason")
NOT_ERRORS = {"TimeoutKind", "TokenReason", "TOKEN_REASONS"}


def _response(status: int = 400) -> httpx.Response:
    request = httpx.Request("POST", "https://cognito-idp.eu-west-1.amazonaws.com/")
    return httpx.Response(
        status, content=b'{"__type":"X","message":"m"}', request=request,
        headers={"x-amzn-requestid": "rid-1"},
    )


def _service(cls: type[errors.ServiceError]) -> Callable[[], errors.SdkError]:
    def build() -> errors.SdkError:
        return cls(
            code=cls.__name__ if cls is not errors.ServiceError else None,
            message="Access Token has been revoked",
            status_code=400,
            request_id="rid-1",
            response=_response(),
        )

    return build


# One representative instance per public error; test_every_public_error_is_covered keeps this
# list complete when a class is added.
FACTORIES: dict[str, Callable[[], errors.SdkError]] = {
    "SdkError": lambda: errors.SdkError("something failed"),
    "ConstructionFailure": lambda: errors.ConstructionFailure("access_token is empty"),
    "DispatchFailure": lambda: errors.DispatchFailure("connection refused"),
    "TimeoutError": lambda: errors.TimeoutError(
        "read timeout: the server stopped sending (HTTP 200 headers had arrived)",
        kind="read", status_code=200, request_id="rid-2",
    ),
    "ResponseError": lambda: errors.ResponseError(
        "HTTP 200 response is not a JSON object", status_code=200, request_id="rid-3",
        response=_response(200),
    ),
    "InvalidParameterException": lambda: errors.InvalidParameterException(
        code="InvalidParameterException", message="bad", status_code=400,
        request_id="rid-4", response=_response(), reason_code="INVALID_TOKEN",
    ),
    "InvalidToken": lambda: errors.InvalidToken("the token has expired", reason="expired"),
    "TokenRevoked": lambda: errors.TokenRevoked(),
    "RevocationsUnavailable": lambda: errors.RevocationsUnavailable(
        "the revocation store (Redis) cannot answer"
    ),
    **{
        name: _service(getattr(errors, name))
        for name in errors.__all__
        if name not in ("InvalidParameterException", "TimeoutKind")
        and isinstance(getattr(errors, name), type)
        and issubclass(getattr(errors, name), errors.ServiceError)
    },
}


def test_every_public_error_is_covered() -> None:
    assert set(FACTORIES) == set(errors.__all__) - NOT_ERRORS


def _same(original: errors.SdkError, clone: errors.SdkError, *, keeps_response: bool) -> None:
    assert clone is not original
    assert type(clone) is type(original)
    assert str(clone) == str(original)
    assert clone.args == original.args
    for name in FIELDS:
        if hasattr(original, name):
            assert getattr(clone, name) == getattr(original, name), name
    assert getattr(clone, "__notes__", None) == getattr(original, "__notes__", None)
    if hasattr(original, "response"):
        if keeps_response:
            assert clone.response is original.response  # type: ignore[attr-defined]
        else:
            assert clone.response is None  # type: ignore[attr-defined]


def _noted(name: str) -> errors.SdkError:
    error = FACTORIES[name]()
    error.add_note("while signing out line 7")
    return error


@pytest.mark.parametrize("name", sorted(FACTORIES))
@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_pickle_round_trip(name: str, protocol: int) -> None:
    original = _noted(name)
    clone = pickle.loads(pickle.dumps(original, protocol=protocol))
    _same(original, clone, keeps_response=False)


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_copy_and_deepcopy(name: str) -> None:
    original = _noted(name)
    _same(original, copy.copy(original), keeps_response=True)
    deep = copy.deepcopy(original)
    _same(original, deep, keeps_response=False)
    assert deep.__notes__ is not original.__notes__


def test_builtin_bases_survive() -> None:
    """What ``except ValueError`` / ``except TimeoutError`` catch is still caught after a trip."""
    timeout = pickle.loads(pickle.dumps(FACTORIES["TimeoutError"]()))
    assert isinstance(timeout, TimeoutError)
    assert isinstance(timeout, errors.TimeoutError) and timeout.kind == "read"
    assert timeout.errno is None
    assert isinstance(pickle.loads(pickle.dumps(FACTORIES["ConstructionFailure"]())), ValueError)


def test_a_clone_can_be_raised_and_pickled_again() -> None:
    clone = pickle.loads(pickle.dumps(_noted("NotAuthorizedException")))
    with pytest.raises(errors.NotAuthorizedException) as info:
        raise clone
    again = pickle.loads(pickle.dumps(info.value))
    _same(clone, again, keeps_response=False)


# --- a real process pool -------------------------------------------------------------------


def _sign_out_job(number: int) -> str:
    """Runs in a worker process; job 3 holds the dead token."""
    if number == 3:
        error = errors.NotAuthorizedException(
            code="NotAuthorizedException",
            message="Access Token has been revoked",
            status_code=400,
            request_id=f"rid-{number}",
            response=_response(),
        )
        error.add_note(f"job {number}")
        raise error
    return f"signed out {number}"


def test_a_worker_process_hands_back_the_typed_error() -> None:
    started = time.monotonic()
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(max_workers=2, mp_context=context) as pool:
        futures = [pool.submit(_sign_out_job, n) for n in range(6)]
        outcomes: list[Any] = []
        for future in futures:
            try:
                outcomes.append(future.result(timeout=30))
            except errors.SdkError as exc:
                outcomes.append(exc)

    assert outcomes[:3] == ["signed out 0", "signed out 1", "signed out 2"]
    assert outcomes[4:] == ["signed out 4", "signed out 5"]
    error = outcomes[3]
    assert type(error) is errors.NotAuthorizedException
    assert (error.code, error.message, error.status_code, error.request_id) == (
        "NotAuthorizedException", "Access Token has been revoked", 400, "rid-3",
    )
    assert error.response is None
    assert error.__notes__ == ["job 3"]
    assert str(error) == (
        "NotAuthorizedException (HTTP 400, request id rid-3): Access Token has been revoked"
    )
    assert time.monotonic() - started < 10
