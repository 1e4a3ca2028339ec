"""What the ``cognito-signout`` tests share: running the command, and checking what it printed.

Subprocess runs get an environment with no AWS settings or token of the developer's; in-process
runs (:func:`call`) use the ``fake`` fixture, which reaches the Client the command builds.
The ``fake`` fixture is imported by the test modules that use it (it would sit in conftest.py).
"""

from __future__ import annotations

import base64
import importlib.util
import io
import json
import os
import secrets
import select
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from cognito_signout._cli import main
from cognito_signout.emulator import MotoCognito
from cognito_signout.testing import FakeCognito

from . import loopback

# --- running the command ------------------------------------------------------------------------


# What the command reads from the environment besides AWS settings: tokens, and the app client
# of a device sign-out.
COGNITO_VARIABLES = (
    "COGNITO_ACCESS_TOKEN", "COGNITO_REFRESH_TOKEN", "COGNITO_CLIENT_ID", "COGNITO_CLIENT_SECRET",
)


def clean_env(**extra: str) -> dict[str, str]:
    """No AWS settings or token of the developer's environment leak into a test."""
    env = {
        k: v for k, v in os.environ.items()
        if not k.startswith("AWS_") and k not in COGNITO_VARIABLES
    }
    return {**env, "AWS_CONFIG_FILE": "/nonexistent", **extra}


def loopback_env(**extra: str) -> dict[str, str]:
    """:func:`clean_env` without proxy settings, which would stand between us and loopback."""
    env = clean_env(**extra)
    return {k: v for k, v in env.items() if k not in loopback.PROXY_VARIABLES}


# COGNITO_SIGNOUT_TRANSPORT: the default, and the other one (the ``fast`` extra)
TRANSPORTS = (
    "httpcore",
    pytest.param("aiohttp", marks=pytest.mark.skipif(
        importlib.util.find_spec("aiohttp") is None, reason="aiohttp is not installed"
    )),
)

# What each transport's refused connection is reported as: the SDK's asyncio backend for
# httpcore names the refusal (ConnectionRefusedError); aiohttp's text only says that the
# connect call failed.
REFUSED = {"httpcore": "connection refused", "aiohttp": "connection refused or host unreachable"}


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


integration = pytest.mark.integration


def read_until(fd: int, marker: bytes | None, proc: subprocess.Popen[bytes]) -> bytes:
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


# --- device sign-out (RevokeToken) --------------------------------------------------------------

CLIENT_ID = "4example5clientid6789abcde"
CLIENT_SECRET = "s3cret+client_secret_value_0123456789abcdef"
REVOKE_TARGET = "AWSCognitoIdentityProviderService.RevokeToken"


def make_refresh_token() -> str:
    """Shaped like Cognito's: an encrypted JWT (JWE, five parts), opaque to its holder."""
    header = base64.urlsafe_b64encode(
        json.dumps({"cty": "JWT", "enc": "A256GCM", "alg": "RSA-OAEP"}).encode()
    ).rstrip(b"=").decode()
    parts = (secrets.token_urlsafe(size) for size in (256, 12, 1200, 16))
    return ".".join((header, *parts))


def revoke_argv(url: str) -> list[str]:
    """A device sign-out to ``url``: no secret is on it (the client id is not secret)."""
    return ["--region", "us-east-1", "--endpoint-url", url, "--max-attempts", "1",
            "--revoke-refresh-token", "--client-id", CLIENT_ID]


def write_tokens(path: Path, lines: Sequence[str]) -> Path:
    path.write_text("".join(f"{line}\n" for line in lines))
    return path


# --- in process, with the fake ------------------------------------------------------------------


def call(argv: Sequence[str], stdin_text: str, monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin_text.encode())))
    try:
        return main(["--region", "us-east-1", *argv])
    except SystemExit as exc:  # argparse's own usage errors
        return int(exc.code or 0)


@pytest.fixture
def fake(cognito_fake: FakeCognito, monkeypatch: pytest.MonkeyPatch) -> FakeCognito:
    for name in list(os.environ):
        if name.startswith("AWS_") or name in COGNITO_VARIABLES:
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    return cognito_fake
