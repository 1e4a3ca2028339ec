"""Batch mode (``--tokens-file``): every token signed out, failures reported by line number.

Integration tests run the command as a real subprocess against moto's server; the exit-code
order and concurrency are checked in process with the ``fake`` fixture. Every test checks that
no token shows up in what the command prints.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from cognito_signout.emulator import MotoCognito
from cognito_signout.testing import FakeCognito

from . import loopback
from .cli_helpers import (
    CLIENT_ID,
    CLIENT_SECRET,
    REFUSED,
    REVOKE_TARGET,
    TRANSPORTS,
    assert_no_token,
    call,
    clean_env,
    integration,
    loopback_env,
    make_refresh_token,
    on,
    revoke_argv,
    run_cli,
    write_tokens,
)
from .cli_helpers import fake as fake
from .tokens import make_token

# --- real subprocess, real moto -----------------------------------------------------------------


@integration
def test_batch_keeps_going_and_reports_failed_lines(moto: MotoCognito, tmp_path: Path) -> None:
    users = [moto.create_user() for _ in range(5)]
    revoked = moto.create_user()
    assert run_cli(*on(moto), "-q", stdin=revoked.access_token).returncode == 0
    tokens_file = write_tokens(
        tmp_path / "sessions.txt",
        [
            "# exported from the session store",   # 1
            users[0].access_token,                  # 2
            users[1].access_token,                  # 3
            "",                                     # 4
            revoked.access_token,                   # 5: already signed out
            users[2].access_token,                  # 6
            "not~a~token",                          # 7: malformed
            users[3].access_token,                  # 8
            users[0].access_token,                  # 9: duplicate of line 2
            users[4].access_token,                  # 10
        ],
    )
    run = run_cli(*on(moto), "--tokens-file", str(tokens_file), "--concurrency", "3")

    assert run.returncode == 2  # the most serious failure: a line that is not a token
    errors = sorted(run.stderr.splitlines())
    assert errors[0].startswith("line 5: not authorized: NotAuthorizedException")
    assert errors[1].startswith("line 7: invalid token: access_token has a character")
    assert errors[2] == "line 9: duplicate of line 2, skipped"
    assert len(errors) == 3
    assert run.stdout.startswith("signed out 5 of 7 tokens in ")
    assert "2 failed (invalid token 1, not authorized 1)" in run.stdout
    assert "1 duplicate line(s) skipped" in run.stdout
    assert "not tokens, fix lines: 7" in run.stdout
    assert "may still be live" not in run.stdout
    assert "\r" not in run.stderr and "\x1b[" not in run.stderr  # no bar off a terminal
    for user in users:
        assert not moto.access_token_accepted(user.access_token)
    assert_no_token(run, *(u.access_token for u in [*users, revoked]))


@integration
def test_batch_from_stdin_with_json_lines(moto: MotoCognito) -> None:
    users = [moto.create_user() for _ in range(4)]
    stdin = "\n".join(u.access_token for u in users) + "\n"
    run = run_cli(*on(moto), "--tokens-file", "-", "--json", stdin=stdin)

    assert run.returncode == 0, run.stderr
    records = [json.loads(line) for line in run.stdout.splitlines()]
    *results, last = records
    assert sorted(r["line"] for r in results) == [1, 2, 3, 4]
    assert all(r["status"] == "signed_out" and r["request_id"] for r in results)
    summary = last["summary"]
    assert summary["tokens"] == summary["signed_out"] == 4
    assert summary["failed"] == 0 and summary["exit_code"] == 0
    assert summary["interrupted"] is False
    assert_no_token(run, *(u.access_token for u in users))


@integration
def test_interrupted_batch_prints_a_partial_summary(moto: MotoCognito) -> None:
    """Ctrl-C in an incident: say what was done, exit 130, even with stdin still open."""
    users = [moto.create_user() for _ in range(3)]
    proc = subprocess.Popen(
        [sys.executable, "-m", "cognito_signout", *on(moto), "--tokens-file", "-", "--json"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=clean_env(),
        # A terminal's Ctrl-C reaches a process whose SIGINT is at its default; a test run
        # started in the background (`nox ... &`) would hand the child an ignored SIGINT.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write("".join(f"{u.access_token}\n" for u in users))
    proc.stdin.flush()
    done = [json.loads(proc.stdout.readline()) for _ in users]  # all three answered
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=10)  # stdin is still open: the reader must not hold the exit
    rest = proc.stdout.read()
    assert proc.stderr is not None
    errors = proc.stderr.read()
    proc.stdin.close()
    proc.stdout.close()
    proc.stderr.close()

    assert proc.returncode == 130
    assert all(r["status"] == "signed_out" for r in done)
    summary = json.loads(rest.splitlines()[-1])["summary"]
    assert summary["interrupted"] is True and summary["exit_code"] == 130
    assert summary["signed_out"] == 3 and summary["unfinished"] == 0
    assert all(u.access_token not in rest + errors for u in users)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_refused_connection_is_reported_per_line_without_tls_on_http(transport: str) -> None:
    tokens = [make_token("us-east-1") for _ in range(2)]
    url = loopback.refused_url()
    run = run_cli(
        "--endpoint-url", url, "--max-attempts", "1", "--tokens-file", "-",
        stdin="".join(f"{token}\n" for token in tokens),
        env=loopback_env(COGNITO_SIGNOUT_TRANSPORT=transport),
    )

    assert run.returncode == 6
    expected = f"could not connect to {url.rstrip('/')} ({REFUSED[transport]})"
    assert sorted(run.stderr.splitlines()) == [
        f"line 1: transport error: {expected}", f"line 2: transport error: {expected}",
    ]
    assert "may still be live, retry lines: 1, 2" in run.stdout
    assert "ssl" not in (run.stdout + run.stderr).lower()
    assert_no_token(run, *tokens)


def test_a_batch_of_refresh_tokens_is_revoked(tmp_path: Path) -> None:
    tokens = [make_refresh_token() for _ in range(3)]
    path = write_tokens(tmp_path / "refresh.txt", ["# devices", *tokens, tokens[0], "no~token"])
    recorder = loopback.Recorder()
    with loopback.serve(recorder) as server:
        run = run_cli(
            *revoke_argv(server.url), "--tokens-file", str(path), "--json",
            env=loopback_env(COGNITO_CLIENT_SECRET=CLIENT_SECRET),
        )

    assert run.returncode == 2, run.stderr  # the line that is not a token
    *records, last = (json.loads(line) for line in run.stdout.splitlines())
    by_line = {r["line"]: r for r in records}
    assert [by_line[n]["status"] for n in (2, 3, 4)] == ["signed_out"] * 3
    assert by_line[5] == {"line": 5, "status": "duplicate", "duplicate_of": 2}
    assert by_line[6]["status"] == "invalid_token"
    summary = last["summary"]
    assert (summary["signed_out"], summary["fix_lines"], summary["retry_lines"]) == (3, [6], [])
    sent = sorted((json.loads(r.body)["Token"], r.headers["x-amz-target"]) for r in recorder.seen)
    assert sent == sorted((t, REVOKE_TARGET) for t in tokens)
    assert all(json.loads(r.body)["ClientSecret"] == CLIENT_SECRET for r in recorder.seen)
    assert_no_token(run, *tokens, CLIENT_SECRET, CLIENT_ID)


def test_a_refused_app_client_is_the_most_serious_failure_of_a_batch() -> None:
    """Exit 7: no token was revoked, and retrying cannot help until the client is fixed."""
    tokens = [make_refresh_token() for _ in range(2)]
    refused = loopback.service_error(400, "UnauthorizedException", message=CLIENT_SECRET)
    with loopback.serve(refused) as server:
        run = run_cli(
            *revoke_argv(server.url), "--tokens-file", "-",
            stdin="".join(f"{token}\n" for token in [*tokens, "no~token"]),
            env=loopback_env(COGNITO_CLIENT_SECRET=CLIENT_SECRET),
        )

    assert run.returncode == 7
    assert sorted(run.stderr.splitlines())[:2] == [
        "line 1: client refused: UnauthorizedException (HTTP 400, request id "
        "err-UnauthorizedException): *** Sensitive Data Redacted ***",
        "line 2: client refused: UnauthorizedException (HTTP 400, request id "
        "err-UnauthorizedException): *** Sensitive Data Redacted ***",
    ]
    assert "may still be live, retry lines: 1, 2\n" in run.stdout
    assert "not tokens, fix lines: 3\n" in run.stdout
    assert_no_token(run, *tokens, CLIENT_SECRET, CLIENT_ID)


# --- in process, with the fake ------------------------------------------------------------------


def test_batch_concurrency_is_bounded(
    fake: FakeCognito, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    fake.latency = 0.02
    tokens = [fake.issue_token() for _ in range(40)]
    path = write_tokens(tmp_path / "t.txt", tokens)
    assert call(["--tokens-file", str(path), "--concurrency", "4"], "", monkeypatch) == 0
    assert len(fake.sign_outs) == 40
    assert fake.max_in_flight == 4
    assert "signed out 40 of 40 tokens" in capsys.readouterr().out


def test_batch_exit_code_is_the_worst_and_live_lines_are_listed(
    fake: FakeCognito, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    good, refused, throttled, broken = (fake.issue_token() for _ in range(4))
    fake.revoke(refused)
    fake.throttle(None, token=throttled)
    fake.disconnect_next(None, token=broken)
    lines = [good, refused, throttled, "x" * 20_000, f"Bearer {broken}\r"]
    path = write_tokens(tmp_path / "t.txt", lines)

    assert call(["--tokens-file", str(path)], "", monkeypatch) == 6
    out, err = capsys.readouterr()
    assert "may still be live, retry lines: 3, 5" in out
    assert "line 4: invalid token" in err  # an overlong line: never a token
    assert "line 2: not authorized" in err
    assert fake.signed_out(good)
    assert not any(t in out + err for t in (good, refused, throttled, broken))


@pytest.mark.parametrize(
    ("lines", "code"),
    [
        (["good"], 0),
        (["good", "refused"], 3),  # every failure is a dead token
        (["refused", "not~a~token"], 2),  # a damaged line may hide a live token
        (["not~a~token", "throttled"], 4),
        (["throttled", "broken"], 6),
    ],
)
def test_batch_exit_code_order(
    fake: FakeCognito, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, lines: list[str],
    code: int,
) -> None:
    tokens = {name: fake.issue_token() for name in ("good", "refused", "throttled", "broken")}
    fake.revoke(tokens["refused"])
    fake.throttle(None, token=tokens["throttled"])
    fake.disconnect_next(None, token=tokens["broken"])
    path = write_tokens(tmp_path / "t.txt", [tokens.get(line, line) for line in lines])
    assert call(["--tokens-file", str(path), "-q"], "", monkeypatch) == code


def test_quoted_and_bearer_lines_are_cleaned(
    fake: FakeCognito, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    tokens = [fake.issue_token() for _ in range(3)]
    lines = [f'"{tokens[0]}"', f"'Bearer {tokens[1]}'", f"  bearer {tokens[2]}  "]
    path = write_tokens(tmp_path / "t.csv", lines)
    assert call(["--tokens-file", str(path), "-q"], "", monkeypatch) == 0
    assert all(fake.signed_out(t) for t in tokens)


def test_batch_of_an_empty_file(
    fake: FakeCognito, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = write_tokens(tmp_path / "t.txt", [])
    assert call(["--tokens-file", str(path)], "", monkeypatch) == 0
    assert capsys.readouterr().out.startswith("signed out 0 of 0 tokens")
