"""The ``cognito-signout`` command.

Integration tests run it as a real subprocess (``python -m cognito_signout``) against moto's
server; exit-code and batch details that need failures on demand run ``main()`` in process with
the ``cognito_fake`` fixture, which reaches the Client the command builds. Every test checks
that no token shows up in what the command prints.
"""

from __future__ import annotations

import io
import json
import os
import pty
import select
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from cognito_signout._cli import EXIT_CODES, main
from cognito_signout.emulator import MotoCognito
from cognito_signout.testing import FakeCognito

from .tokens import make_token

# --- running the command ------------------------------------------------------------------------


def clean_env(**extra: str) -> dict[str, str]:
    """No AWS settings or token of the developer's environment leak into a test."""
    env = {
        k: v for k, v in os.environ.items()
        if not k.startswith("AWS_") and k != "COGNITO_ACCESS_TOKEN"
    }
    return {**env, "AWS_CONFIG_FILE": "/nonexistent", **extra}


def run_cli(
    *args: str, stdin: str = "", env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cognito_signout", *args],
        input=stdin, capture_output=True, text=True, env=env or clean_env(), timeout=60,
        check=False,
    )


def assert_no_token(run: subprocess.CompletedProcess[str], *tokens: str) -> None:
    for token in tokens:
        assert token not in run.stdout
        assert token not in run.stderr


def on(moto: MotoCognito) -> list[str]:
    return ["--region", "us-east-1", "--endpoint-url", moto.endpoint_url]


# --- one token, real subprocess, real moto ------------------------------------------------------

integration = pytest.mark.integration


@integration
def test_token_from_stdin_signs_the_user_out(moto: MotoCognito) -> None:
    user = moto.create_user()
    run = run_cli(*on(moto), stdin=user.access_token + "\n")

    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("signed out (request id ")
    assert run.stderr == ""
    assert not moto.access_token_accepted(user.access_token)
    assert not moto.refresh_token_accepted(user)
    assert_no_token(run, user.access_token)


@integration
def test_token_from_the_environment_with_json_output(moto: MotoCognito) -> None:
    user = moto.create_user()
    env = clean_env(
        COGNITO_ACCESS_TOKEN=user.access_token,
        AWS_REGION="us-east-1",
        AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER=moto.endpoint_url,
    )
    run = run_cli("--json", env=env)

    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)
    assert result["ok"] is True and result["status"] == "signed_out"
    assert result["request_id"] and result["attempts"] == 1
    assert not moto.access_token_accepted(user.access_token)
    assert_no_token(run, user.access_token)


@integration
def test_a_refused_token_exits_3_without_echoing_it(moto: MotoCognito) -> None:
    """moto echoes the token in its error message: the command must not pass it on."""
    user = moto.create_user()
    stdin = f"Bearer {user.access_token}\r\n"  # a copied header line is accepted
    assert run_cli(*on(moto), stdin=stdin).returncode == 0

    human = run_cli(*on(moto), stdin=stdin)
    machine = run_cli(*on(moto), "--json", stdin=stdin)
    quiet = run_cli(*on(moto), "--quiet", stdin=stdin)

    assert human.returncode == machine.returncode == quiet.returncode == 3
    assert human.stdout == "" and "not authorized" in human.stderr
    assert human.stderr.count("\n") == 1
    result = json.loads(machine.stdout)
    assert (result["ok"], result["status"], result["error"]) == (
        False, "not_authorized", "NotAuthorizedException",
    )
    assert result["request_id"] and result["exit_code"] == 3
    assert quiet.stdout == quiet.stderr == ""
    for run in (human, machine, quiet):
        assert_no_token(run, user.access_token)


@integration
def test_quiet_success_prints_nothing(moto: MotoCognito) -> None:
    user = moto.create_user()
    run = run_cli(*on(moto), "-q", stdin=user.access_token)
    assert (run.returncode, run.stdout, run.stderr) == (0, "", "")
    assert not moto.access_token_accepted(user.access_token)


def test_transport_failure_exits_6() -> None:
    token = make_token("us-east-1")
    run = run_cli(
        "--endpoint-url", "http://127.0.0.1:9", "--max-attempts", "1", "--json", stdin=token
    )
    assert run.returncode == 6
    result = json.loads(run.stdout)
    assert result["status"] == "transport_error" and result["error"] == "DispatchFailure"
    assert_no_token(run, token)


def test_a_token_on_the_command_line_is_refused_and_not_echoed() -> None:
    token = make_token()
    run = run_cli("--region", "eu-west-1", token)
    assert run.returncode == 2
    assert "never from the command line" in run.stderr
    assert_no_token(run, token)


def test_the_terminal_prompt_does_not_echo_the_token(tmp_path: Path) -> None:
    """On a terminal the token is read like a password: the terminal never shows it."""
    token = make_token("us-east-1")
    primary, secondary = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "cognito_signout", "--endpoint-url", "http://127.0.0.1:9",
         "--max-attempts", "1"],
        stdin=secondary, stdout=secondary, stderr=secondary, env=clean_env(),
        start_new_session=True,  # no controlling terminal: getpass must use this pty
    )
    os.close(secondary)
    screen = _read_until(primary, b"not echoed", proc)
    os.write(primary, token.encode() + b"\n")
    screen += _read_until(primary, None, proc)
    proc.wait(30)
    os.close(primary)
    assert b"Access token (not echoed): " in screen
    assert proc.returncode == 6  # it was read and sent (to a closed port)
    assert token.encode() not in screen


def _read_until(fd: int, marker: bytes | None, proc: subprocess.Popen[bytes]) -> bytes:
    """Read a pty until ``marker`` shows up (or, for None, until the process is done)."""
    seen = b""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.1)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # EIO: the other side is closed
                break
            if not chunk:
                break
            seen += chunk
            if marker is not None and marker in seen:
                break
        elif marker is None and proc.poll() is not None:
            break
    return seen


# --- batch mode, real subprocess, real moto -----------------------------------------------------


def write_tokens(path: Path, lines: Sequence[str]) -> Path:
    path.write_text("".join(f"{line}\n" for line in lines))
    return path


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
def test_progress_bar_only_on_a_terminal(moto: MotoCognito, tmp_path: Path) -> None:
    users = [moto.create_user() for _ in range(6)]
    tokens_file = write_tokens(tmp_path / "t.txt", [u.access_token for u in users])
    primary, secondary = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "cognito_signout", *on(moto), "--tokens-file", str(tokens_file)],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=secondary, env=clean_env(),
    )
    os.close(secondary)
    terminal = _read_until(primary, None, proc)
    stdout, _ = proc.communicate(timeout=30)
    os.close(primary)

    assert proc.returncode == 0
    assert b"\r\x1b[K[" in terminal and b"6/6 lines" in terminal and b"100%" in terminal
    assert terminal.endswith(b"\r\x1b[K")  # the bar is wiped before the summary
    assert stdout.decode().startswith("signed out 6 of 6 tokens")
    assert all(u.access_token.encode() not in terminal + stdout for u in users)


@integration
def test_interrupted_batch_prints_a_partial_summary(moto: MotoCognito) -> None:
    """Ctrl-C in an incident: say what was done, exit 130, even with stdin still open."""
    users = [moto.create_user() for _ in range(3)]
    proc = subprocess.Popen(
        [sys.executable, "-m", "cognito_signout", *on(moto), "--tokens-file", "-", "--json"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=clean_env(),
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


# --- in process, with the fake: every exit code -------------------------------------------------


def call(argv: Sequence[str], stdin_text: str, monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin_text.encode())))
    try:
        return main(["--region", "us-east-1", *argv])
    except SystemExit as exc:  # argparse's own usage errors
        return int(exc.code or 0)


@pytest.fixture
def fake(cognito_fake: FakeCognito, monkeypatch: pytest.MonkeyPatch) -> FakeCognito:
    for name in list(os.environ):
        if name.startswith("AWS_") or name == "COGNITO_ACCESS_TOKEN":
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    return cognito_fake


@pytest.mark.parametrize(
    ("inject", "code", "status", "attempts"),
    [
        (lambda f: None, 0, "signed_out", 1),
        (lambda f: f.fail_next(None, code="NotAuthorizedException"), 3, "not_authorized", 1),
        (lambda f: f.throttle(None), 4, "throttled", 3),
        (lambda f: f.fail_next(None, code="InternalErrorException"), 5, "service_error", 3),
        (lambda f: f.fail_next(None, code="ResourceNotFoundException"), 5, "service_error", 1),
        (lambda f: f.disconnect_next(None), 6, "transport_error", 3),
        (lambda f: f.timeout_next(None), 6, "transport_error", 3),
        (lambda f: f.fail_next(None, code=None, status=200, body=b"<html>"), 6,
         "transport_error", 3),
    ],
)
def test_exit_code_per_outcome(
    fake: FakeCognito,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    inject: Callable[[FakeCognito], object],
    code: int,
    status: str,
    attempts: int,
) -> None:
    token = fake.issue_token()
    inject(fake)
    assert call(["--json"], token, monkeypatch) == code
    out, err = capsys.readouterr()
    result = json.loads(out)
    assert result["status"] == status and result["exit_code"] == code
    assert code in EXIT_CODES
    assert token not in out + err
    assert len(fake.calls) == attempts  # final errors are not retried


def test_max_attempts_and_timeout_options(
    fake: FakeCognito, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.fail_next(None)
    assert call(["--max-attempts", "1"], "tok", monkeypatch) == 5
    assert len(fake.calls) == 1

    fake.clear_failures()
    fake.latency = 5.0
    started = time.monotonic()
    assert call(["--timeout", "0.1", "--json"], "tok", monkeypatch) == 6
    assert time.monotonic() - started < 3
    out, _ = capsys.readouterr()
    assert "operation timeout" in json.loads(out.splitlines()[-1])["message"]


@pytest.mark.parametrize(
    ("argv", "stdin_text", "message"),
    [
        ([], "", "no access token"),
        ([], "  \n\n", "no access token"),
        ([], "one\ntwo\n", "2 non-empty lines"),
        ([], "abc~def", "character not allowed"),
        (["--json", "--quiet"], "tok", "not allowed with argument"),
        (["--max-attempts", "0"], "tok", "between 1 and 20"),
        (["--concurrency", "x"], "tok", "whole number"),
        (["--timeout", "-1"], "tok", "seconds > 0"),
        (["--endpoint-url", "ftp://host"], "tok", "http:// or https://"),
        (["--tokens-file", make_token()], "", "cannot read the tokens file"),
    ],
)
def test_usage_errors_exit_2_and_send_nothing(
    fake: FakeCognito,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    stdin_text: str,
    message: str,
) -> None:
    assert call(argv, stdin_text, monkeypatch) == 2
    out, err = capsys.readouterr()
    assert message in err
    assert out == ""
    assert fake.calls == []
    for value in argv:
        if value.count(".") == 2:  # the token-shaped "file name"
            assert value not in err


def test_fips_with_a_custom_endpoint_is_a_usage_error(
    fake: FakeCognito, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AWS_USE_FIPS_ENDPOINT", "true")
    assert call(["--endpoint-url", "http://127.0.0.1:9"], "tok", monkeypatch) == 2
    assert "FIPS" in capsys.readouterr().err


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


def test_batch_of_an_empty_file(
    fake: FakeCognito, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = write_tokens(tmp_path / "t.txt", [])
    assert call(["--tokens-file", str(path)], "", monkeypatch) == 0
    assert capsys.readouterr().out.startswith("signed out 0 of 0 tokens")


# --- import cost --------------------------------------------------------------------------------


def _modules_after(code: str) -> set[str]:
    probe = (
        "import sys, json\n"
        f"{code}\n"
        "print(json.dumps(sorted(sys.modules)))"
    )
    run = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, env=clean_env()
    )
    return set(json.loads(run.stdout.splitlines()[-1]))


OPTIONAL = ("fastapi", "starlette", "uvicorn", "moto", "pytest", "trio",
            "cognito_signout.fastapi", "cognito_signout.testing", "cognito_signout._cli",
            "cognito_signout.emulator")


def _loaded(modules: set[str], names: Sequence[str]) -> list[str]:
    return sorted(m for m in modules if any(m == n or m.startswith(n + ".") for n in names))


def test_the_package_root_imports_no_optional_face() -> None:
    assert _loaded(_modules_after("import cognito_signout"), OPTIONAL) == []


def test_the_command_imports_no_optional_face() -> None:
    code = (
        "from cognito_signout._cli import build_parser\n"
        "build_parser().parse_args(['--region', 'eu-west-1'])"
    )
    loaded = _loaded(_modules_after(code), OPTIONAL)
    assert loaded == ["cognito_signout._cli"]
