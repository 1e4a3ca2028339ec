"""A real Cognito user pool on loopback: moto's server in a subprocess, for demos and tests.

Why a subprocess and not moto's in-process ``ThreadedMotoServer``: moto patches botocore and
keeps global state on import; a child process keeps the caller's interpreter (and its event
loop) untouched, and ``stop()`` really frees the port.

Everything here talks plain, unsigned AWS JSON 1.1 through ``httpx``. moto accepts unsigned
requests and then looks in ``us-east-1`` only (the "region trap"), so the pool lives there.
Only httpx and the standard library are imported; moto is needed only when ``start()`` runs.

moto echoes tokens back in some error messages, so no exception raised here ever carries a
response body: only the HTTP status and the error code.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from types import TracebackType
from typing import IO, Any

import attrs
import httpx

__all__ = ["CognitoUser", "MotoCognito"]

_TARGET_PREFIX = "AWSCognitoIdentityProviderService."
_READY_TIMEOUT_S = 20.0
_STOP_TIMEOUT_S = 5.0


@attrs.frozen
class CognitoUser:
    """A confirmed user with a live session. Tokens are kept out of ``repr`` (they are secrets)."""

    username: str
    pool_id: str
    client_id: str
    access_token: str = attrs.field(repr=False)
    refresh_token: str = attrs.field(repr=False)
    id_token: str = attrs.field(repr=False)


class _CallError(RuntimeError):
    """A non-2xx answer; holds status and error code only, never the body (it may echo tokens)."""

    def __init__(self, operation: str, status: int, code: str) -> None:
        super().__init__(f"{operation} failed: HTTP {status} {code}")
        self.status = status
        self.code = code


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class MotoCognito:
    """moto's server on ``127.0.0.1:<free port>`` with one lazily created pool and app client."""

    def __init__(self) -> None:
        self._port = 0
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._http: httpx.Client | None = None
        self._pool: tuple[str, str] | None = None  # (pool_id, client_id)
        # Passwords stay here rather than on CognitoUser, which callers may log or pass around.
        self._passwords: dict[tuple[str, str], str] = {}

    @property
    def endpoint_url(self) -> str:
        if self._proc is None:
            raise RuntimeError("MotoCognito is not started")
        return f"http://127.0.0.1:{self._port}"

    @property
    def port(self) -> int:
        return self._port

    def start(self) -> MotoCognito:
        """Spawn the server and block until it answers ListUserPools (about 0.5 s)."""
        if self._proc is not None:
            return self
        # The child gets no AWS_* variable of ours (profiles, SSO sessions, real keys must never
        # be read or refreshed by a throwaway emulator), only dummy credentials.
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env |= {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
        }
        self._port = _free_port()
        # A temp file, not a pipe: an unread pipe fills up and then blocks the server.
        # It lives until stop(), hence no `with`.
        self._log = tempfile.TemporaryFile()  # noqa: SIM115
        cmd = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self._port)]
        self._proc = subprocess.Popen(
            cmd, env=env, stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT
        )
        self._http = httpx.Client(base_url=self.endpoint_url, trust_env=False)
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self) -> None:
        assert self._proc is not None
        deadline = time.monotonic() + _READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(
                    f"moto server exited with {self._proc.returncode}: {self._log_tail()}"
                )
            try:
                probe = self._post("ListUserPools", {"MaxResults": 1}, timeout=1.0)
                if probe.status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise RuntimeError(
            f"moto server not ready after {_READY_TIMEOUT_S:.0f} s on port "
            f"{self._port}: {self._log_tail()}"
        )

    def _log_tail(self, limit: int = 2000) -> str:
        if self._log is None:
            return ""
        self._log.seek(0)
        return self._log.read().decode("utf-8", "replace")[-limit:].strip()

    def stop(self) -> None:
        """Terminate the server (kill if it lingers), wait for it, free everything. Idempotent."""
        proc, self._proc = self._proc, None
        try:
            if proc is not None and proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(_STOP_TIMEOUT_S)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        finally:
            if self._http is not None:
                self._http.close()
                self._http = None
            if self._log is not None:
                self._log.close()
                self._log = None
            self._pool = None
            self._passwords.clear()

    def __enter__(self) -> MotoCognito:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- wire ---------------------------------------------------------------------------------

    def _post(self, operation: str, body: dict[str, Any], timeout: float = 10.0) -> httpx.Response:
        if self._http is None:
            raise RuntimeError("MotoCognito is not started")
        return self._http.post(
            "/",
            content=json.dumps(body),
            headers={
                "X-Amz-Target": _TARGET_PREFIX + operation,
                "Content-Type": "application/x-amz-json-1.1",
            },
            timeout=timeout,
        )

    def _call(self, operation: str, body: dict[str, Any]) -> dict[str, Any]:
        response = self._post(operation, body)
        if response.status_code != 200:
            code = response.headers.get("x-amzn-errortype", "")
            if not code:
                try:
                    code = str(response.json().get("__type", ""))
                except (ValueError, AttributeError):
                    code = "<no error code>"
            raise _CallError(operation, response.status_code, code.split(":")[0].split("#")[-1])
        result: dict[str, Any] = response.json()
        return result

    # -- seeding and probes -------------------------------------------------------------------

    def _ensure_pool(self) -> tuple[str, str]:
        if self._pool is None:
            pool_id = self._call("CreateUserPool", {"PoolName": "cognito-signout-emulator"})
            pid = str(pool_id["UserPool"]["Id"])
            client = self._call(
                "CreateUserPoolClient",
                {
                    "UserPoolId": pid,
                    "ClientName": "cognito-signout-emulator",
                    "ExplicitAuthFlows": ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
                },
            )
            self._pool = (pid, str(client["UserPoolClient"]["ClientId"]))
        return self._pool

    def create_user(self, username: str | None = None, password: str | None = None) -> CognitoUser:
        """Create a confirmed user (random name by default) and log it in."""
        pool_id, client_id = self._ensure_pool()
        username = username or f"user-{uuid.uuid4().hex}"
        password = password or f"Pw-{uuid.uuid4().hex}-A1!"
        self._call(
            "AdminCreateUser",
            {"UserPoolId": pool_id, "Username": username, "MessageAction": "SUPPRESS"},
        )
        self._call(
            "AdminSetUserPassword",
            {"UserPoolId": pool_id, "Username": username, "Password": password, "Permanent": True},
        )
        self._passwords[pool_id, username] = password
        return self.login(CognitoUser(username, pool_id, client_id, "", "", ""))

    def login(self, user: CognitoUser) -> CognitoUser:
        """Fresh tokens (USER_PASSWORD_AUTH) for a user made here, e.g. after a sign-out."""
        password = self._passwords.get((user.pool_id, user.username))
        if password is None:
            raise KeyError(f"{user.username!r} was not created by this emulator instance")
        auth = self._call(
            "InitiateAuth",
            {
                "ClientId": user.client_id,
                "AuthFlow": "USER_PASSWORD_AUTH",
                "AuthParameters": {"USERNAME": user.username, "PASSWORD": password},
            },
        )["AuthenticationResult"]
        return attrs.evolve(
            user,
            access_token=auth["AccessToken"],
            refresh_token=auth["RefreshToken"],
            id_token=auth["IdToken"],
        )

    def access_token_accepted(self, access_token: str) -> bool:
        """GetUser with the token: True if it still authorizes, False if NotAuthorized."""
        return self._accepted("GetUser", {"AccessToken": access_token})

    def refresh_token_accepted(self, user: CognitoUser) -> bool:
        """REFRESH_TOKEN_AUTH: True if new tokens come back, False if NotAuthorized."""
        return self._accepted(
            "InitiateAuth",
            {
                "ClientId": user.client_id,
                "AuthFlow": "REFRESH_TOKEN_AUTH",
                "AuthParameters": {"REFRESH_TOKEN": user.refresh_token},
            },
        )

    def _accepted(self, operation: str, body: dict[str, Any]) -> bool:
        try:
            result = self._call(operation, body)
        except _CallError as err:
            if err.status == 400 and err.code == "NotAuthorizedException":
                return False
            raise
        if operation == "InitiateAuth":
            return bool(result.get("AuthenticationResult", {}).get("AccessToken"))
        return True
