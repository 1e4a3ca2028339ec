"""Every example in examples/ runs, as a real subprocess, the way the README tells users to.

With no Cognito configured, each starts the embedded emulator (moto's server) on its own; the
asyncio example and the FastAPI app are also run against the session's moto server with the
settings a user would give them for real Cognito (environment variables only).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from cognito_signout.emulator import MotoCognito

pytestmark = pytest.mark.integration

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def clean_env(**extra: str) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items()
        if not k.startswith("AWS_") and k != "COGNITO_ACCESS_TOKEN"
    }
    return {**env, "AWS_CONFIG_FILE": "/nonexistent", **extra}


def run_example(name: str, *args: str, env: dict[str, str] | None = None) -> str:
    run = subprocess.run(
        [sys.executable, str(EXAMPLES / name), *args],
        capture_output=True, text=True, env=env or clean_env(), timeout=60, check=False,
        cwd=EXAMPLES.parent,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    return run.stdout + run.stderr


def test_asyncio_example_on_the_embedded_emulator() -> None:
    out = run_example("asyncio_signout.py")
    assert "embedded Cognito emulator" in out
    assert "signed out everywhere (request id " in out


def test_asyncio_example_with_real_settings(moto: MotoCognito) -> None:
    user = moto.create_user()
    env = clean_env(
        COGNITO_ACCESS_TOKEN=user.access_token,
        AWS_REGION="us-east-1",
        AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER=moto.endpoint_url,
    )
    out = run_example("asyncio_signout.py", env=env)
    assert "embedded" not in out and "signed out everywhere" in out
    assert user.access_token not in out
    assert not moto.access_token_accepted(user.access_token)


def test_trio_example_on_the_embedded_emulator() -> None:
    out = run_example("trio_signout.py")
    assert out.count(": signed out (request id ") == 3


def test_fastapi_example_self_check() -> None:
    out = run_example("fastapi_app.py", "--self-check")
    assert "POST /sign-out       -> 204" in out
    assert "POST /sign-out again -> 401 invalid_token" in out
    assert "token refused by Cognito afterwards: True" in out


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_fastapi_example_under_the_uvicorn_command(moto: MotoCognito) -> None:
    """``uvicorn fastapi_app:app --app-dir examples``, configured by environment only."""
    port = _free_port()
    env = clean_env(
        AWS_REGION="us-east-1", AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER=moto.endpoint_url
    )
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "fastapi_app:app", "--app-dir", str(EXAMPLES),
         "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
    )
    base = f"http://127.0.0.1:{port}"
    users = [moto.create_user() for _ in range(2)]
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(f"{base}/openapi.json").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert server.poll() is None and time.monotonic() < deadline, "no server"
            time.sleep(0.05)
        with httpx.Client(base_url=base) as http:
            header = {"Authorization": f"Bearer {users[0].access_token}"}
            signed_out = http.post("/sign-out", headers=header)
            refused = http.post("/sign-out", headers=header)
            cookie_logout = http.post(
                "/my-logout", headers={"Cookie": f"access_token={users[1].access_token}"}
            )
    finally:
        server.send_signal(signal.SIGTERM)
        output, _ = server.communicate(timeout=20)

    assert signed_out.status_code == 204
    assert refused.status_code == 401
    assert cookie_logout.status_code == 204
    assert 'access_token=""' in cookie_logout.headers["set-cookie"]  # the cookie is cleared
    # A graceful shutdown (lifespan exited, client closed); uvicorn then re-raises SIGTERM.
    assert "Application shutdown complete" in output
    assert server.returncode in (0, -signal.SIGTERM)
    for user in users:
        assert not moto.access_token_accepted(user.access_token)
        assert user.access_token not in output


def test_batch_cli_example_on_the_embedded_emulator() -> None:
    out = run_example("batch_cli.py")
    assert "$ cognito-signout --region us-east-1" in out
    assert "line 10: invalid_token" in out
    assert "line 11: duplicate" in out
    assert "summary: 8 signed out, 1 failed, 1 duplicate(s); exit code 2" in out


def test_the_quick_start_demo_signs_out_one_device_then_everywhere() -> None:
    out = run_example("demo.py")
    assert "redis                   redis://127.0.0.1:" in out  # a real Redis between replicas
    assert "before                  Cognito accepts, replica A accepts, replica B accepts" in out
    assert "laptop                  Cognito refuses, replica A refuses, replica B refuses" in out
    assert "phone                   still signed in everywhere: True" in out
    assert "cutoff recorded: True" in out
    assert ("phone                   Cognito refuses, replica A refuses, replica B refuses, "
            "replica C (started after) refuses") in out
    assert "a plain JWT check       accepts the signed-out token" in out
    assert "signed out: one device, then everywhere; Cognito and every replica" in out


def test_lambda_example_on_the_embedded_emulator() -> None:
    out = run_example("lambda_handler.py")
    assert "embedded Cognito emulator" in out
    assert "invocation 1: POST /sign-out       -> 204" in out
    assert "invocation 2: POST /sign-out again -> 401 invalid_token" in out
    assert "token refused by Cognito afterwards: True" in out
    assert "one shared client, still open: True" in out


def test_lambda_example_with_real_settings(moto: MotoCognito) -> None:
    user = moto.create_user()
    env = clean_env(COGNITO_ACCESS_TOKEN=user.access_token, AWS_REGION="us-east-1",
                    AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER=moto.endpoint_url)
    out = run_example("lambda_handler.py", env=env)
    assert "embedded" not in out and "POST /sign-out -> 204" in out
    assert user.access_token not in out
    assert not moto.access_token_accepted(user.access_token)
