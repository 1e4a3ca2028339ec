"""What the command writes: the progress bar, the batch summary, and a reader that went away."""

from __future__ import annotations

import io
import json
import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

from cognito_signout._cli.outcomes import connection_failure
from cognito_signout.emulator import MotoCognito
from cognito_signout.testing import FakeCognito

from .cli_helpers import (
    call,
    clean_env,
    integration,
    on,
    read_until,
    write_tokens,
)
from .cli_helpers import fake as fake

# --- real subprocess, real moto -----------------------------------------------------------------


@integration
def test_progress_bar_only_on_a_terminal(moto: MotoCognito, tmp_path: Path) -> None:
    users = [moto.create_user() for _ in range(6)]
    tokens_file = write_tokens(tmp_path / "t.txt", [u.access_token for u in users])
    primary, secondary = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "cognito_signout", *on(moto), "--tokens-file", str(tokens_file)],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=secondary, env=clean_env(),
    )
    os.close(secondary)
    terminal = read_until(primary, None, proc)
    stdout, _ = proc.communicate(timeout=30)
    os.close(primary)

    assert proc.returncode == 0
    assert b"\r\x1b[K[" in terminal and b"6/6 lines" in terminal and b"100%" in terminal
    assert terminal.endswith(b"\r\x1b[K")  # the bar is wiped before the summary
    assert stdout.decode().startswith("signed out 6 of 6 tokens")
    assert all(u.access_token.encode() not in terminal + stdout for u in users)


# --- in process, with the fake ------------------------------------------------------------------


class _ClosedPipe(io.StringIO):
    def write(self, text: str) -> int:
        raise BrokenPipeError(32, "Broken pipe")


@pytest.mark.parametrize("batch", [False, True])
def test_a_closed_stdout_stops_without_a_traceback(
    fake: FakeCognito, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, batch: bool
) -> None:
    token = fake.issue_token()
    argv = ["--json"]
    if batch:
        argv += ["--tokens-file", str(write_tokens(tmp_path / "t.txt", [token]))]
    monkeypatch.setattr(sys, "stdout", _ClosedPipe())
    assert call(argv, token, monkeypatch) == 141


def test_batch_json_summary_counts(
    fake: FakeCognito, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    tokens = [fake.issue_token() for _ in range(3)]
    fake.throttle(None, token=tokens[1])
    path = write_tokens(tmp_path / "t.txt", ["#x", *tokens, "", tokens[0]])
    assert call(["--tokens-file", str(path), "--json"], "", monkeypatch) == 4
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    by_line = {r["line"]: r for r in records if "line" in r}
    assert by_line[3]["status"] == "throttled" and by_line[3]["exit_code"] == 4
    assert by_line[6] == {"line": 6, "status": "duplicate", "duplicate_of": 2}
    assert records[-1]["summary"] == {
        **records[-1]["summary"],
        "lines": 6, "tokens": 3, "signed_out": 2, "failed": 1, "duplicates": 1,
        "by_status": {"throttled": 1}, "exit_code": 4, "interrupted": False,
    }



def test_the_json_summary_lists_the_lines_to_retry_and_to_fix(
    fake: FakeCognito, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Issue 12: the text summary listed them, the JSON one only counted them."""
    good, refused, throttled, broken, failing = (fake.issue_token() for _ in range(5))
    fake.revoke(refused)
    fake.throttle(None, token=throttled)
    fake.disconnect_next(None, token=broken)
    fake.fail_next(None, code="InternalErrorException", token=failing)
    lines = [broken, good, "not~a~token", refused, throttled, "x" * 20_000, failing]
    path = write_tokens(tmp_path / "t.txt", lines)
    argv = ["--tokens-file", str(path), "--max-attempts", "1"]

    assert call([*argv, "--json"], "", monkeypatch) == 6
    summary = json.loads(capsys.readouterr().out.splitlines()[-1])["summary"]
    assert summary["retry_lines"] == [1, 5, 7]  # transport, throttled, service error
    assert summary["fix_lines"] == [3, 6]  # not a token, an overlong line
    assert summary["by_status"]["not_authorized"] == 1  # dead already: in neither list

    assert call(argv, "", monkeypatch) == 6  # every failure above is injected for good
    out = capsys.readouterr().out  # the same lists as the human summary
    assert "may still be live, retry lines: 1, 5, 7\n" in out
    assert "not tokens, fix lines: 3, 6\n" in out


def test_the_json_summary_lists_are_empty_when_all_went_well(
    fake: FakeCognito, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = write_tokens(tmp_path / "t.txt", [fake.issue_token() for _ in range(2)])
    assert call(["--tokens-file", str(path), "--json"], "", monkeypatch) == 0
    summary = json.loads(capsys.readouterr().out.splitlines()[-1])["summary"]
    assert summary["retry_lines"] == summary["fix_lines"] == []

# --- a failed connection, in the command's words ---------------------------------------------

_NOT_SENT = "the request could not be sent: "


@pytest.mark.parametrize(
    ("sdk_text", "endpoint", "said"),
    [
        # httpcore on asyncio (anyio), and on a single address
        ("ConnectError: All connection attempts failed", "http://127.0.0.1:9",
         "could not connect to http://127.0.0.1:9 (connection refused or host unreachable)"),
        ("ConnectError: [Errno 111] Connection refused", "http://127.0.0.1:9",
         "could not connect to http://127.0.0.1:9 (connection refused)"),
        ("ConnectError: [Errno -2] Name or service not known", "http://nowhere.invalid",
         "could not connect to http://nowhere.invalid (host name not found)"),
        # aiohttp: its TLS setting is named even for http; what happened is in the brackets
        ("ConnectError: Cannot connect to host 127.0.0.1:9 ssl:default [Connect call failed "
         "('127.0.0.1', 9)]", "http://127.0.0.1:9",
         "could not connect to http://127.0.0.1:9 (connection refused or host unreachable)"),
        ("ConnectError: Cannot connect to host h:80 ssl:default [Connection refused]",
         "http://h", "could not connect to http://h (connection refused)"),
        ("ConnectError: Cannot connect to host h:80 ssl:default [Name or service not known]",
         "http://h", "could not connect to http://h (host name not found)"),
        ("ConnectError: Cannot connect to host h:80 ssl:default [None]", "http://h",
         "could not connect to http://h (None)"),
        ("ConnectError: Cannot connect to host h:443 ssl:<ssl.SSLContext object at 0x7f> "
         "[SSLCertVerificationError: certificate verify failed]", "https://h",
         "could not connect to https://h (TLS failed: SSLCertVerificationError: certificate "
         "verify failed)"),
        # an https failure may be TLS; an http one never is
        ("ConnectError: [SSL: WRONG_VERSION_NUMBER] wrong version number", "https://h",
         "could not connect to https://h (TLS failed: [SSL: WRONG_VERSION_NUMBER] wrong "
         "version number)"),
        ("ConnectError: something odd ssl:default", "http://h",
         "could not connect to http://h (something odd)"),
        ("ProxyError: 407 Proxy Authentication Required", "https://h",
         "could not connect to https://h through the proxy (407 Proxy Authentication "
         "Required)"),
        ("ConnectError: All connection attempts failed", None,
         "could not connect to Cognito (connection refused or host unreachable)"),
    ],
)
def test_a_failed_connection_is_said_the_same_for_every_transport(
    sdk_text: str, endpoint: str | None, said: str
) -> None:
    assert connection_failure(_NOT_SENT + sdk_text, endpoint) == said


@pytest.mark.parametrize(
    "sdk_text",
    [
        "this Client is closed",  # not a connection failure: left as the SDK says it
        _NOT_SENT + "RemoteProtocolError: Server disconnected without sending a response.",
        _NOT_SENT + "LocalProtocolError: a header is not valid UTF-8",
    ],
)
def test_other_dispatch_failures_keep_the_sdks_words(sdk_text: str) -> None:
    assert connection_failure(sdk_text, "http://h") is None
