"""Service text never acts on a terminal or a log.

A server can put terminal escape sequences, a forged second log line, C1 controls or a lone
surrogate (JSON ``"\\ud800"``) in its error message or its request id header. Every SDK error
shows them as visible escapes in ``str(exc)``, ``.message``, ``.code`` and ``.request_id``, so
a log line stays one line, a UTF-8 log handler never fails on it, and the command prints no
byte a terminal acts on. The kept ``response`` is left as received.
"""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cognito_signout import Client, Config, RetryConfig, errors
from cognito_signout.errors import _ESCAPES, _PLACEHOLDERS, _printable

from . import loopback
from .tokens import TOKEN, make_token

TITLE = "\x1b]0;pwned\x07"  # OSC: sets the terminal's title
FORGED = "\nfake: all sessions revoked"
HOSTILE_MESSAGES = {
    "osc": f"Access Token has been revoked{TITLE}",
    "csi": "\x1b[2J\x1b[31mcleared and red",
    "newline": f"Access Token has been revoked{FORGED}",
    "crlf": f"revoked\r{FORGED}",
    "tab": "a\tb",
    "nul and del": "a\x00b\x7f",
    "surrogate": "revoked \ud800 and \udfff",
    "c1": "8-bit CSI \x9b31m, NEL \x85fake: line, OSC \x9d",
    "separators": "one\u2028two\u2029three",
    "bidi": "abc\u202edcba",
}
HOSTILE_REQUEST_ID = "rid-\x1b]0;pwned\x07\x9b"  # sent as latin-1 bytes on the wire


def inert(text: str | None) -> None:
    """``text`` holds nothing a terminal or log handler acts on, and encodes as UTF-8."""
    if text is None:
        return
    assert text.isprintable(), ascii(text)
    text.encode("utf-8")  # strict: a lone surrogate would raise
    for char in text:
        assert not (ord(char) < 0x20 or 0x7F <= ord(char) <= 0x9F), ascii(text)


def reference(text: str) -> str:
    """What :func:`_printable` must return, one character at a time."""
    return "".join(char if char.isprintable() else repr(char)[1:-1] for char in text)


# --- the function ---------------------------------------------------------------------------


def test_escapes_are_visible_and_exact() -> None:
    assert _printable(TITLE) == "\\x1b]0;pwned\\x07"
    assert _printable(FORGED) == "\\nfake: all sessions revoked"
    assert _printable("a\r\tb") == "a\\r\\tb"
    assert _printable("\ud800") == "\\ud800"
    assert _printable("\x85\x9b\x9f\x7f\x00") == "\\x85\\x9b\\x9f\\x7f\\x00"
    assert _printable("\u2028") == "\\u2028"


def test_ordinary_text_is_unchanged() -> None:
    for text in ("", "Access Token has been revoked", "pattern [\\p{L}\\p{M}]+ 'it''s' \"q\"",
                 "Zugriff verweigert: Ungültiges Token", "令牌已撤销", "\U0001f600 ok"):
        assert _printable(text) == text
    mixed = "C:\\dir 'q' \"q\" \x1b"
    assert _printable(mixed) == "C:\\dir 'q' \"q\" \\x1b"  # backslashes and quotes kept


def test_the_placeholders_are_printable_and_a_text_holding_them_all_is_still_escaped() -> None:
    assert all(p.isprintable() for p in _PLACEHOLDERS)
    text = "".join(_PLACEHOLDERS) + "\\ \x1b\n\ud800 '\""
    assert _printable(text) == reference(text) == text.translate(_ESCAPES)
    inert(_printable(text))


hostile_text = st.text(
    st.one_of(
        st.characters(codec=None),  # any code point but surrogates
        st.sampled_from([*map(chr, range(0x20)), *map(chr, range(0x7F, 0xA0)), "\\", "'", '"',
                         "\ud800", "\udbff", "\udc00", "\u2028", "\u202e", *_PLACEHOLDERS]),
    ),
    max_size=200,
)


@settings(max_examples=300, deadline=None)
@given(hostile_text)
def test_any_text_comes_out_inert_and_as_the_reference_says(text: str) -> None:
    escaped = _printable(text)
    inert(escaped)
    assert escaped == reference(text) == text.translate(_ESCAPES)
    assert _printable(escaped) == escaped  # idempotent
    if text.isprintable():
        assert escaped == text


MiB = 1 << 20
SHAPES: dict[str, Callable[[int], str]] = {
    "clean ascii": lambda n: "a" * n,
    "clean non-ascii": lambda n: "令" * n,
    "all ESC": lambda n: "\x1b" * n,
    "alternating": lambda n: "a\x1b" * (n // 2),
    "mixed": lambda n: ("ab\x1b]0;\x07\ud800é\n" * n)[:n],
    "all C1": lambda n: ("".join(map(chr, range(0x80, 0xA0))) * n)[:n],
    "every placeholder": lambda n: ("".join(_PLACEHOLDERS) + "\\\x1b") * (n // 10),
}


def _best_of(runs: int, text: str) -> float:
    best = float("inf")
    for _ in range(runs):
        started = time.perf_counter()
        _printable(text)
        best = min(best, time.perf_counter() - started)
    return best


@pytest.mark.parametrize("shape", SHAPES)
def test_a_mebibyte_takes_milliseconds_and_time_grows_linearly(shape: str) -> None:
    big, small = SHAPES[shape](MiB), SHAPES[shape](MiB // 16)
    big_s, small_s = _best_of(3, big), _best_of(3, small)
    print(f"{shape}: 1 MiB in {big_s * 1000:.1f} ms, 64 KiB in {small_s * 1000:.2f} ms")
    # Measured at 2-30 ms per MiB (the table path, for a text holding every placeholder,
    # about 100 ms); the bound leaves room for a loaded CI machine.
    assert big_s < 0.5
    # 16 times the text: linear time is ~16 times slower, quadratic 256 times.
    assert big_s < 64 * max(small_s, 1e-4)


# --- every producer -------------------------------------------------------------------------


@pytest.mark.parametrize("message", HOSTILE_MESSAGES.values(), ids=HOSTILE_MESSAGES.keys())
def test_every_error_is_inert_whatever_it_is_built_from(message: str) -> None:
    built: list[errors.SdkError] = [
        errors.SdkError(message),
        errors.ConstructionFailure(message),
        errors.DispatchFailure(f"the request could not be sent: {message}"),
        errors.TimeoutError(message, kind="read", status_code=200, request_id=message),
        errors.ResponseError(message, status_code=200, request_id=message),
        errors.InvalidParameterException(
            code=message, message=message, status_code=400, request_id=message,
            response=None, reason_code=message,
        ),
    ]
    for name in errors.__all__:
        cls = getattr(errors, name)
        if isinstance(cls, type) and issubclass(cls, errors.ServiceError):
            built.append(cls(code=message, message=message, status_code=400,
                             request_id=message, response=None))
    for error in built:
        inert(str(error))
        for name in ("code", "message", "request_id", "reason_code"):
            inert(getattr(error, name, None))
        for arg in error.args:
            inert(arg)


def test_str_is_inert_even_for_an_argument_that_is_not_a_str() -> None:
    class Sneaky:
        def __str__(self) -> str:
            return TITLE + FORGED

    class SneakyStr(str):
        def isprintable(self) -> bool:
            return True

    inert(str(errors.SdkError(Sneaky())))
    inert(str(errors.DispatchFailure(SneakyStr(TITLE))))


# --- over a real socket ---------------------------------------------------------------------



def hostile_answer(message: str, *, code: str = "NotAuthorizedException") -> loopback.Handler:
    body = json.dumps({"__type": code, "message": message}).encode()  # "\ud800" as an escape
    headers = [("Content-Type", loopback.JSON), ("x-amzn-RequestId", HOSTILE_REQUEST_ID)]
    return loopback.answer(400, body, headers)


async def _refused(url: str) -> errors.ServiceError:
    config = Config(region="us-east-1", endpoint_url=url, retry_config=RetryConfig.disabled())
    async with Client(config) as client:
        with pytest.raises(errors.ServiceError) as info:
            await client.global_sign_out().access_token(TOKEN).send()
    return info.value


def _one_log_line(error: BaseException) -> bytes:
    buffer = io.BytesIO()
    stream = io.TextIOWrapper(buffer, encoding="utf-8", errors="strict", newline="")
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
    log = logging.getLogger("test_control_chars.signout")
    log.propagate = False
    log.addHandler(handler)
    try:
        log.warning("sign-out failed: %s", error)
        log.warning("code=%s request_id=%s message=%s", getattr(error, "code", None),
                    getattr(error, "request_id", None), getattr(error, "message", None))
    finally:
        log.removeHandler(handler)
    stream.flush()
    return buffer.getvalue()


@pytest.mark.anyio
@pytest.mark.parametrize("message", HOSTILE_MESSAGES.values(), ids=HOSTILE_MESSAGES.keys())
async def test_a_hostile_answer_yields_an_inert_error(message: str) -> None:
    with loopback.serve(hostile_answer(message)) as server:
        error = await _refused(server.url)

    assert type(error) is errors.NotAuthorizedException
    for text in (str(error), error.message, error.code, error.request_id):
        inert(text)
    assert error.message == reference(message)
    assert error.request_id == reference(HOSTILE_REQUEST_ID)
    # The kept response is left as received (the runtime already made its headers ASCII,
    # \x9b included; the ESC is still there).
    assert error.response is not None
    assert error.response.json()["message"] == message
    assert error.response.headers["x-amzn-requestid"].startswith("rid-\x1b]0;pwned\x07")

    written = _one_log_line(error)
    lines = written.decode("utf-8").split("\n")
    assert len(lines) == 3 and lines[2] == "", written  # two records, one line each
    assert lines[0].startswith("WARNING test_control_chars.signout sign-out failed: ")
    assert b"\x1b" not in written and b"\xc2\x9b" not in written and b"\r" not in written


@pytest.mark.anyio
async def test_a_hostile_error_code_is_inert_too() -> None:
    with loopback.serve(hostile_answer("m", code="Not\x1b]0;pwned\x07Authorized")) as server:
        error = await _refused(server.url)
    assert type(error) is errors.ServiceError  # not a modeled code
    assert error.code == "Not\\x1b]0;pwned\\x07Authorized"
    inert(str(error))


# --- the command, as a real subprocess ------------------------------------------------------


def _env() -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items()
        if not k.startswith("AWS_") and k != "COGNITO_ACCESS_TOKEN"
        and k not in loopback.PROXY_VARIABLES
    }
    return {**env, "AWS_CONFIG_FILE": "/nonexistent"}


def _cli(url: str, *args: str, stdin: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "cognito_signout", "--region", "us-east-1", "--endpoint-url",
         url, "--max-attempts", "1", *args],
        input=stdin.encode(), capture_output=True, env=_env(), timeout=60, check=False,
    )


def _prints_nothing_raw(run: subprocess.CompletedProcess[bytes]) -> None:
    for output in (run.stdout, run.stderr):
        assert b"\x1b" not in output and b"\x07" not in output and b"\r" not in output
        text = output.decode("utf-8")  # strict
        assert all(char.isprintable() for char in text.replace("\n", "")), ascii(text)
        assert not any(line.startswith("fake") for line in text.split("\n"))


ALL_AT_ONCE = "".join(HOSTILE_MESSAGES.values())


def test_the_command_prints_no_service_control_character() -> None:
    with loopback.serve(hostile_answer(ALL_AT_ONCE)) as server:
        human = _cli(server.url, stdin=TOKEN + "\n")
        machine = _cli(server.url, "--json", stdin=TOKEN + "\n")

    assert human.returncode == machine.returncode == 3, human.stderr
    _prints_nothing_raw(human)
    assert human.stdout == b""
    assert human.stderr.count(b"\n") == 1 and human.stderr.endswith(b"\n")
    assert human.stderr.startswith(b"cognito-signout: not authorized: NotAuthorizedException")
    assert b"\\x1b]0;pwned\\x07" in human.stderr and b"\\nfake: all" in human.stderr

    _prints_nothing_raw(machine)
    assert machine.stdout.isascii() and machine.stdout.count(b"\n") == 1
    result = json.loads(machine.stdout)
    for name in ("error", "request_id", "message"):
        inert(result[name])
    assert result["request_id"] == reference(HOSTILE_REQUEST_ID)


def test_the_command_prints_a_hostile_request_id_of_a_success_inert() -> None:
    ok = loopback.answer(200, b"{}", [("Content-Type", loopback.JSON),
                                      ("x-amzn-RequestId", HOSTILE_REQUEST_ID)])
    with loopback.serve(ok) as server:
        human = _cli(server.url, stdin=TOKEN + "\n")
        batch = _cli(server.url, "--tokens-file", "-", "--json", "--no-progress",
                     stdin=f"{TOKEN}\n{make_token('us-east-1')}\n")

    assert human.returncode == batch.returncode == 0, (human.stderr, batch.stderr)
    _prints_nothing_raw(human)
    assert human.stdout == f"signed out (request id {reference(HOSTILE_REQUEST_ID)})\n".encode()
    _prints_nothing_raw(batch)
    records = [json.loads(line) for line in batch.stdout.splitlines()]
    assert [r["request_id"] for r in records[:2]] == [reference(HOSTILE_REQUEST_ID)] * 2


def test_a_batch_prints_one_inert_line_per_refused_token() -> None:
    with loopback.serve(hostile_answer(ALL_AT_ONCE)) as server:
        run = _cli(server.url, "--tokens-file", "-", "--no-progress",
                   stdin=f"{TOKEN}\n{make_token('us-east-1')}\n")

    assert run.returncode == 3, run.stderr
    _prints_nothing_raw(run)
    lines = run.stderr.decode().splitlines()
    assert len(lines) == 2 and all(": not authorized: " in line for line in lines), lines
