"""A real Cognito user pool on loopback: moto's server in a subprocess, for demos and tests.

Why a subprocess and not moto's in-process ``ThreadedMotoServer``: moto patches botocore and
keeps global state on import; a child process keeps the caller's interpreter (and its event
loop) untouched, and ``stop()`` really frees the port. The child runs moto's own WSGI app
(``DomainDispatcherApplication``) behind a thin layer of ours, ``_RevocationLayer``, which adds
what moto 5.2.5 lacks: RevokeToken (moto answers it with HTTP 500 "not implemented") and the
SECRET_HASH check on USER_PASSWORD_AUTH for app clients with a secret (moto skips it).

Everything the parent does is plain, unsigned AWS JSON 1.1 through ``httpx``. moto accepts
unsigned requests and then looks in ``us-east-1`` only (the "region trap"), so the pool lives
there. Only httpx and the standard library are imported here; moto is imported by the child.

moto echoes tokens back in some error messages, so no exception raised here ever carries a
response body: only the HTTP status and the error code.

Run ``python -m cognito_signout.emulator`` to keep one in the foreground (see ``main``).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import hashlib
import hmac
import io
import ipaddress
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from types import FrameType, TracebackType
from typing import IO, TYPE_CHECKING, Any

import attrs
import httpx

if TYPE_CHECKING:
    from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

from ._local_redis import LocalRedis, redis_server_binary
from ._token import unverified_claims  # the claims of a JWT moto signed, read unverified

__all__ = [
    "AppClient",
    "CognitoUser",
    "LocalRedis",
    "MotoCognito",
    "main",
    "redis_server_binary",
    "secret_hash",
]

REGION = "us-east-1"
_TARGET_PREFIX = "AWSCognitoIdentityProviderService."
_READY_TIMEOUT_S = 20.0
_STOP_TIMEOUT_S = 5.0
_AUTH_FLOWS = ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]


def cognito_secret(moto_secret: str) -> str:
    """The app client secret as the emulator hands it out: moto's UUID without its dashes.

    Cognito's secrets match the model's ``[\\w+]+`` (24-64 characters), which SDKs check
    before sending; moto's UUIDs, dashes and all, would be refused by them. The emulator checks
    SECRET_HASH and RevokeToken's ClientSecret itself, against this form.
    """
    return moto_secret.replace("-", "")


def secret_hash(username: str, client_id: str, client_secret: str) -> str:
    """Cognito's ``SECRET_HASH``: base64(HMAC-SHA256(key=secret, msg=username + client_id))."""
    digest = hmac.new(
        client_secret.encode("utf-8"), (username + client_id).encode("utf-8"), hashlib.sha256
    ).digest()
    return base64.b64encode(digest).decode("ascii")


@attrs.frozen
class CognitoUser:
    """A confirmed user with a live session. Tokens are kept out of ``repr`` (they are secrets).

    Each ``MotoCognito.login`` is a new session: new refresh token, new ``origin_jti``.
    """

    username: str
    pool_id: str
    client_id: str
    access_token: str = attrs.field(repr=False)
    refresh_token: str = attrs.field(repr=False)
    id_token: str = attrs.field(repr=False)

    @property
    def origin_jti(self) -> str | None:
        """The session id in the access token, shared by every token refreshed from it."""
        claims = unverified_claims(self.access_token)
        value = claims.get("origin_jti") if claims else None
        return value if isinstance(value, str) else None


@attrs.frozen
class AppClient:
    """An app client of the emulator's pool. ``client_secret`` is None for a public client."""

    pool_id: str
    client_id: str
    client_secret: str | None = attrs.field(default=None, repr=False)
    token_revocation: bool = True


class _CallError(RuntimeError):
    """A non-2xx answer; holds status and error code only, never the body (it may echo tokens)."""

    def __init__(self, operation: str, status: int, code: str) -> None:
        super().__init__(f"{operation} failed: HTTP {status} {code}")
        self.status = status
        self.code = code


def _loopback_host(host: str) -> str:
    """The address to bind: a loopback address only (this server has no auth at all)."""
    if host == "localhost":
        return "127.0.0.1"
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        raise ValueError(f"host must be a loopback address, got {host!r}") from None
    if not address.is_loopback:
        raise ValueError(f"host must be a loopback address, got {host!r}")
    return str(address)


class MotoCognito:
    """moto's server on loopback (``127.0.0.1:<free port>`` by default) with one lazily created
    pool and public app client, plus RevokeToken. Use as a context manager or start()/stop().

    ``port=0`` picks a free port (the child binds it, so there is no race); ``verbose=True``
    lets the server log each request to this process's stderr instead of a private temp file.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, verbose: bool = False) -> None:
        if not 0 <= port <= 65535:
            raise ValueError(f"port must be 0..65535, got {port}")
        self._host = _loopback_host(host)
        self._requested_port = port
        self._verbose = verbose
        self._port = 0
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._state_dir: str | None = None
        self._http: httpx.Client | None = None
        self._lock = threading.Lock()
        self._pool: tuple[str, str] | None = None  # (pool_id, client_id)
        self._clients: dict[str, AppClient] = {}
        # Passwords stay here rather than on CognitoUser, which callers may log or pass around.
        self._passwords: dict[tuple[str, str], str] = {}

    @property
    def endpoint_url(self) -> str:
        if self._proc is None:
            raise RuntimeError("MotoCognito is not started")
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{host}:{self._port}"

    @property
    def port(self) -> int:
        return self._port

    @property
    def region(self) -> str:
        return REGION

    @property
    def pool_id(self) -> str:
        """The emulator's user pool (created on first use)."""
        return self._ensure_pool()[0]

    @property
    def client_id(self) -> str:
        """The pool's default app client: no secret, token revocation on."""
        return self._ensure_pool()[1]

    @property
    def issuer(self) -> str:
        """The ``iss`` of the pool's tokens: the real-Cognito form, as moto writes it."""
        return f"https://cognito-idp.{REGION}.amazonaws.com/{self.pool_id}"

    @property
    def jwks_url(self) -> str:
        """Where moto serves the pool's signing keys (the real one is ``issuer`` + this path)."""
        return f"{self.endpoint_url}/{self.pool_id}/.well-known/jwks.json"

    def start(self) -> MotoCognito:
        """Spawn the server and block until it answers ListUserPools (about 0.5-1 s)."""
        if self._proc is not None:
            return self
        # The child gets no AWS_* variable of ours (profiles, SSO sessions, real keys must never
        # be read or refreshed by a throwaway emulator), only dummy credentials.
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env |= {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": REGION,
        }
        # The child imports this very copy of the package, installed or not.
        package_root = str(Path(__file__).resolve().parent.parent)
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (package_root, env.get("PYTHONPATH", "")) if p
        )
        self._state_dir = tempfile.mkdtemp(prefix="cognito-signout-emulator-")
        port_file = os.path.join(self._state_dir, "port")
        cmd = [
            sys.executable, "-c", _CHILD_CODE,
            "--host", self._host, "--port", str(self._requested_port), "--port-file", port_file,
        ]
        if self._verbose:
            cmd.append("--verbose")
            output: IO[bytes] | None = None  # inherit our stderr/stdout
        else:
            # A temp file, not a pipe: an unread pipe fills up and then blocks the server.
            # It lives until stop(), hence no `with`.
            self._log = output = tempfile.TemporaryFile()  # noqa: SIM115
        # stdin is a pipe the child watches: if this process dies without stop(), the child
        # sees EOF and exits instead of lingering. Its own session keeps a Ctrl-C meant for
        # the caller (pytest, a demo) from killing it behind the caller's back.
        self._proc = subprocess.Popen(
            cmd, env=env, stdin=subprocess.PIPE, stdout=output,
            stderr=subprocess.STDOUT if output is not None else None,
            start_new_session=os.name == "posix",
        )
        try:
            self._wait_ready(port_file)
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self, port_file: str) -> None:
        assert self._proc is not None
        deadline = time.monotonic() + _READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(
                    f"emulator exited with {self._proc.returncode}: {self._log_tail()}"
                )
            if self._http is None:
                try:
                    self._port = int(Path(port_file).read_text(encoding="ascii"))
                except (OSError, ValueError):
                    time.sleep(0.05)
                    continue
                self._http = httpx.Client(base_url=self.endpoint_url, trust_env=False)
            try:
                probe = self._post("ListUserPools", {"MaxResults": 1}, timeout=1.0)
                if probe.status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise RuntimeError(
            f"emulator not ready after {_READY_TIMEOUT_S:.0f} s (port {self._port}): "
            f"{self._log_tail()}"
        )

    def _log_tail(self, limit: int = 2000) -> str:
        if self._log is None:
            return "(its output went to stderr)" if self._verbose else ""
        self._log.seek(0)
        return self._log.read().decode("utf-8", "replace")[-limit:].strip()

    @property
    def running(self) -> bool:
        """True while the server process is alive."""
        return self._proc is not None and self._proc.poll() is None

    def stop(self) -> None:
        """Terminate the server (kill if it lingers), wait for it, free everything. Idempotent."""
        proc, self._proc = self._proc, None
        try:
            if proc is not None:
                if proc.poll() is None:
                    proc.terminate()  # SIGTERM: the child shuts its server down and exits 0
                    try:
                        proc.wait(_STOP_TIMEOUT_S)
                    except subprocess.TimeoutExpired:
                        proc.kill()
                        proc.wait()
                if proc.stdin is not None:
                    proc.stdin.close()
        finally:
            if self._http is not None:
                self._http.close()
                self._http = None
            if self._log is not None:
                self._log.close()
                self._log = None
            if self._state_dir is not None:
                shutil.rmtree(self._state_dir, ignore_errors=True)
                self._state_dir = None
            self._pool = None
            self._clients.clear()
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
        with self._lock:
            if self._pool is None:
                created = self._call("CreateUserPool", {"PoolName": "cognito-signout-emulator"})
                pool_id = str(created["UserPool"]["Id"])
                client = self._new_client(pool_id, secret=False, token_revocation=True)
                self._pool = (pool_id, client.client_id)
            return self._pool

    def _new_client(self, pool_id: str, *, secret: bool, token_revocation: bool) -> AppClient:
        created = self._call(
            "CreateUserPoolClient",
            {
                "UserPoolId": pool_id,
                "ClientName": f"cognito-signout-emulator-{len(self._clients)}",
                "GenerateSecret": secret,
                "EnableTokenRevocation": token_revocation,
                "ExplicitAuthFlows": _AUTH_FLOWS,
            },
        )["UserPoolClient"]
        client = AppClient(
            pool_id=pool_id,
            client_id=str(created["ClientId"]),
            client_secret=cognito_secret(str(created["ClientSecret"])) if secret else None,
            token_revocation=token_revocation,
        )
        self._clients[client.client_id] = client
        return client

    def create_client(self, *, secret: bool = False, token_revocation: bool = True) -> AppClient:
        """Another app client of the pool; with ``secret=True`` sign-ins need a SECRET_HASH
        (``login`` adds it) and RevokeToken needs the ``ClientSecret``."""
        pool_id = self.pool_id
        with self._lock:
            return self._new_client(pool_id, secret=secret, token_revocation=token_revocation)

    def create_user(
        self,
        username: str | None = None,
        password: str | None = None,
        *,
        client: AppClient | None = None,
    ) -> CognitoUser:
        """Create a confirmed user (random name by default) and log it in (default client)."""
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
        return self.login(CognitoUser(username, pool_id, client_id, "", "", ""), client=client)

    def password(self, user: CognitoUser) -> str:
        """The password this emulator gave ``user`` (KeyError for a user made elsewhere)."""
        password = self._passwords.get((user.pool_id, user.username))
        if password is None:
            raise KeyError(f"{user.username!r} was not created by this emulator instance")
        return password

    def login(self, user: CognitoUser, *, client: AppClient | None = None) -> CognitoUser:
        """A new session (USER_PASSWORD_AUTH): fresh tokens and a new ``origin_jti``, through
        ``client`` or the user's own client; other sessions of the user are untouched."""
        password = self.password(user)
        client_id = client.client_id if client is not None else user.client_id
        params = {"USERNAME": user.username, "PASSWORD": password}
        params |= self._secret_hash_param(user.username, client_id)
        auth = self._call(
            "InitiateAuth",
            {"ClientId": client_id, "AuthFlow": "USER_PASSWORD_AUTH", "AuthParameters": params},
        )["AuthenticationResult"]
        return attrs.evolve(
            user,
            client_id=client_id,
            access_token=auth["AccessToken"],
            refresh_token=auth["RefreshToken"],
            id_token=auth["IdToken"],
        )

    def refresh(self, user: CognitoUser) -> CognitoUser:
        """REFRESH_TOKEN_AUTH: new access and ID tokens of the same session (same refresh token,
        same ``origin_jti``). Raises RuntimeError (status and code only) if refused."""
        auth = self._call("InitiateAuth", self._refresh_body(user))["AuthenticationResult"]
        return attrs.evolve(user, access_token=auth["AccessToken"], id_token=auth["IdToken"])

    def _refresh_body(self, user: CognitoUser) -> dict[str, Any]:
        params = {"REFRESH_TOKEN": user.refresh_token}
        params |= self._secret_hash_param(user.username, user.client_id)
        return {"ClientId": user.client_id, "AuthFlow": "REFRESH_TOKEN_AUTH",
                "AuthParameters": params}

    def _secret_hash_param(self, username: str, client_id: str) -> dict[str, str]:
        known = self._clients.get(client_id)
        if known is None or known.client_secret is None:
            return {}
        return {"SECRET_HASH": secret_hash(username, client_id, known.client_secret)}

    def access_token_accepted(self, access_token: str) -> bool:
        """GetUser with the token: True if it still authorizes, False if NotAuthorized."""
        return self._accepted("GetUser", {"AccessToken": access_token})

    def refresh_token_accepted(self, user: CognitoUser) -> bool:
        """REFRESH_TOKEN_AUTH: True if new tokens come back, False if NotAuthorized."""
        return self._accepted("InitiateAuth", self._refresh_body(user))

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


# -- the child: moto's WSGI app behind the revocation layer -------------------------------------

_CHILD_CODE = (
    "import sys; from cognito_signout.emulator import _serve; sys.exit(_serve(sys.argv[1:]))"
)

_TOKEN_PATTERN = re.compile(r"[A-Za-z0-9\-_=.]+")
_CLIENT_ID_PATTERN = re.compile(r"[\w+]+")


class _Refused(Exception):
    """An AWS JSON error answer: 400, ``x-amzn-errortype``, ``__type`` and ``message``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class _Revocations:
    """Revoked sessions, by refresh token and by ``origin_jti``. Guarded by one lock: moto's
    server runs every request in its own thread.

    Entries are never dropped: an emulator lives for minutes, and a dropped entry would
    un-revoke a refresh token (moto's never expire).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._refresh_tokens: set[str] = set()
        self._sessions: set[str] = set()

    def add(self, refresh_token: str, origin_jti: str) -> None:
        with self._lock:
            self._refresh_tokens.add(refresh_token)
            self._sessions.add(origin_jti)

    def refresh_token_revoked(self, refresh_token: str) -> bool:
        with self._lock:
            return refresh_token in self._refresh_tokens

    def session_revoked(self, origin_jti: str) -> bool:
        with self._lock:
            return origin_jti in self._sessions


def _moto_pools() -> Iterator[Any]:
    """Every user pool of every moto account and region (what moto's own lookups walk).

    Snapshots (``list``) because other request threads may add pools or regions meanwhile.
    """
    from moto.cognitoidp.models import cognitoidp_backends

    for _account, regions in list(cognitoidp_backends.items()):
        for _region, backend in list(regions.items()):
            yield from list(backend.user_pools.values())


def _moto_client(client_id: str) -> Any | None:
    for pool in _moto_pools():
        client = pool.clients.get(client_id)
        if client is not None:
            return client
    return None


_MISSING = object()


def _moto_refresh_session(refresh_token: str) -> tuple[str, str] | None:
    """``(client_id, origin_jti)`` of a live refresh token; None if unknown or signed out.

    moto keeps ``user_pool.refresh_tokens[token] = (client_id, username, origin_jti)`` and sets
    the value to None when GlobalSignOut revokes it.
    """
    for pool in _moto_pools():
        entry = pool.refresh_tokens.get(refresh_token, _MISSING)
        if entry is _MISSING:
            continue
        if entry is None:
            return None
        client_id, _username, origin_jti = entry
        return str(client_id), str(origin_jti)
    return None


def _moto_refresh_username(refresh_token: str) -> str | None:
    for pool in _moto_pools():
        entry = pool.refresh_tokens.get(refresh_token)
        if entry:
            return str(entry[1])
    return None


def _read_body(environ: WSGIEnvironment) -> bytes:
    stream = environ["wsgi.input"]
    try:
        length = int(environ.get("CONTENT_LENGTH") or "")
    except ValueError:
        length = -1
    if length >= 0:
        return bytes(stream.read(length))
    if environ.get("wsgi.input_terminated"):  # chunked: the server ends the stream for us
        return bytes(stream.read())
    return b""


def _answer(
    start_response: StartResponse, body: dict[str, Any], error: str | None = None
) -> list[bytes]:
    """moto's answer shape: JSON body, ``x-amzn-requestid``; errors 400 with the error type."""
    payload = json.dumps(body).encode("utf-8")
    headers = [
        ("Content-Type", "application/json" if error else "application/x-amz-json-1.1"),
        ("Content-Length", str(len(payload))),
        ("x-amzn-requestid", uuid.uuid4().hex),
    ]
    if error:
        headers.append(("x-amzn-errortype", error))
    start_response("400 Bad Request" if error else "200 OK", headers)
    return [payload]


class _RevocationLayer:
    """WSGI middleware in front of moto's app.

    - ``RevokeToken`` is answered here (never reaches moto): the refresh token's session is
      recorded as revoked.
    - Afterwards it refuses, with NotAuthorizedException as Cognito does: a refresh with a
      revoked refresh token (InitiateAuth / AdminInitiateAuth REFRESH_TOKEN(_AUTH),
      GetTokensFromRefreshToken), and every call whose ``AccessToken`` carries a revoked
      ``origin_jti`` (GetUser, GlobalSignOut, ChangePassword, ...). moto keeps ``origin_jti``
      across refreshes, so this covers the sign-in's access token and every refreshed one,
      including one minted by a refresh that raced the revocation.
    - USER_PASSWORD_AUTH on a client with a secret needs a valid SECRET_HASH (moto skips it).
    Everything else passes through untouched, with the body it was sent.
    """

    def __init__(self, app: WSGIApplication, revocations: _Revocations | None = None) -> None:
        self._app = app
        self.revocations = revocations or _Revocations()

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        target = str(environ.get("HTTP_X_AMZ_TARGET", ""))
        if environ.get("REQUEST_METHOD") != "POST" or not target.startswith(_TARGET_PREFIX):
            return self._app(environ, start_response)
        body = _read_body(environ)
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        try:
            request = json.loads(body) if body else {}
        except ValueError:
            request = None
        operation = target[len(_TARGET_PREFIX):]
        try:
            if operation == "RevokeToken":
                self._revoke_token(request if isinstance(request, dict) else None)
                return _answer(start_response, {})
            if isinstance(request, dict):
                self._check(operation, request)
                if operation in ("InitiateAuth", "AdminInitiateAuth"):
                    body = json.dumps(request).encode()  # its SECRET_HASH may be translated
                    environ["wsgi.input"] = io.BytesIO(body)
                    environ["CONTENT_LENGTH"] = str(len(body))
        except _Refused as refused:
            return _answer(
                start_response, {"__type": refused.code, "message": refused.message}, refused.code
            )
        return self._app(environ, start_response)

    def _check(self, operation: str, request: dict[str, Any]) -> None:
        access_token = request.get("AccessToken")
        if isinstance(access_token, str):
            claims = unverified_claims(access_token)
            origin_jti = claims.get("origin_jti") if claims else None
            if isinstance(origin_jti, str) and self.revocations.session_revoked(origin_jti):
                raise _Refused("NotAuthorizedException", "Access Token has been revoked")
        refresh_token: object = None
        if operation in ("InitiateAuth", "AdminInitiateAuth"):
            params = request.get("AuthParameters")
            if isinstance(params, dict):
                refresh_token = params.get("REFRESH_TOKEN")
                if operation == "InitiateAuth" and request.get("AuthFlow") == "USER_PASSWORD_AUTH":
                    self._check_secret_hash(request.get("ClientId"), params)
                self._translate_secret_hash(request.get("ClientId"), params)
        elif operation == "GetTokensFromRefreshToken":
            refresh_token = request.get("RefreshToken")
        if isinstance(refresh_token, str) and self.revocations.refresh_token_revoked(
            refresh_token
        ):
            raise _Refused("NotAuthorizedException", "Refresh Token has been revoked")

    @staticmethod
    def _translate_secret_hash(client_id: object, params: dict[str, Any]) -> None:
        """A valid SECRET_HASH (made with the secret the emulator hands out, see
        cognito_secret) becomes the one moto computes with its own form of the secret."""
        client = _moto_client(client_id) if isinstance(client_id, str) else None
        given, username = params.get("SECRET_HASH"), str(params.get("USERNAME") or "")
        if client is None or not client.generate_secret or not isinstance(given, str):
            return
        refresh_token = params.get("REFRESH_TOKEN")
        if not username and isinstance(refresh_token, str):
            username = _moto_refresh_username(refresh_token) or ""  # moto hashes with it
        ours = secret_hash(username, str(client.id), cognito_secret(str(client.secret)))
        if hmac.compare_digest(given.encode(), ours.encode()):
            params["SECRET_HASH"] = secret_hash(username, str(client.id), str(client.secret))

    @staticmethod
    def _check_secret_hash(client_id: object, params: dict[str, Any]) -> None:
        client = _moto_client(client_id) if isinstance(client_id, str) else None
        if client is None or not client.generate_secret:
            return  # moto answers unknown clients itself; public clients need no hash
        given, username = params.get("SECRET_HASH"), params.get("USERNAME")
        if not isinstance(given, str) or not given:
            raise _Refused(
                "NotAuthorizedException", "Client is configured with secret but SECRET_HASH "
                "was not received"
            )
        expected = secret_hash(
            str(username or ""), str(client.id), cognito_secret(str(client.secret))
        )
        if not hmac.compare_digest(given.encode(), expected.encode()):
            raise _Refused("NotAuthorizedException", "Unable to verify secret hash for client")

    def _revoke_token(self, request: dict[str, Any] | None) -> None:
        """Cognito's RevokeToken, checked in this order (messages never echo a token):

        - malformed input (not a JSON object; Token / ClientId missing, empty or off the API's
          patterns; ClientSecret not a 1-64 string; RevokeAssociatedSessions not NONE/LINKED):
          InvalidParameterException;
        - unknown ClientId, a wrong or missing ClientSecret for a client with a secret, a
          ClientSecret for a client without one, or a token issued to another client:
          UnauthorizedException (the request is not authorized for that client; RFC 7009 also
          refuses a client revoking another client's token). NotAuthorizedException is not a
          modeled RevokeToken error, so it is never used here;
        - the client has token revocation turned off: UnsupportedOperationException;
        - an access or ID token (any JWT) instead of a refresh token:
          UnsupportedTokenTypeException;
        - otherwise 200 ``{}``, also for a refresh token that is unknown, already revoked, or
          signed out by GlobalSignOut: revocation is idempotent, and like RFC 7009 and
          Cognito's /oauth2/revoke it does not tell a caller whether a token was valid.

        ``RevokeAssociatedSessions``: moto never rotates refresh tokens, so each refresh token
        has exactly one session and NONE and LINKED revoke the same thing.
        ClientSecret is only length-checked here; the secrets the emulator hands out are
        Cognito-shaped (see cognito_secret).
        """
        if request is None:
            raise _Refused("InvalidParameterException", "The request body is not a JSON object")
        token, client_id = request.get("Token"), request.get("ClientId")
        client_secret = request.get("ClientSecret")
        linked = request.get("RevokeAssociatedSessions")
        if not isinstance(token, str) or not _TOKEN_PATTERN.fullmatch(token):
            raise _Refused("InvalidParameterException", "Token is missing or malformed")
        if (
            not isinstance(client_id, str)
            or len(client_id) > 128
            or not _CLIENT_ID_PATTERN.fullmatch(client_id)
        ):
            raise _Refused("InvalidParameterException", "ClientId is missing or malformed")
        if client_secret is not None and (
            not isinstance(client_secret, str) or not 1 <= len(client_secret) <= 64
        ):
            raise _Refused("InvalidParameterException", "ClientSecret is malformed")
        if linked is not None and linked not in ("NONE", "LINKED"):
            raise _Refused(
                "InvalidParameterException", "RevokeAssociatedSessions must be NONE or LINKED"
            )
        client = _moto_client(client_id)
        if client is None:
            raise _Refused("UnauthorizedException", "Client is not authorized")
        if client.generate_secret:
            if not isinstance(client_secret, str) or not hmac.compare_digest(
                client_secret.encode(), cognito_secret(str(client.secret)).encode()
            ):
                raise _Refused("UnauthorizedException", "Client secret is missing or wrong")
        elif client_secret is not None:
            raise _Refused("UnauthorizedException", "Client has no secret")
        if not client.extended_config.get("EnableTokenRevocation", True):
            raise _Refused(
                "UnsupportedOperationException", "Token revocation is not enabled for the client"
            )
        if unverified_claims(token) is not None:
            raise _Refused("UnsupportedTokenTypeException", "Only refresh tokens can be revoked")
        session = _moto_refresh_session(token)
        if session is None:
            return
        token_client, origin_jti = session
        if token_client != client_id:
            raise _Refused("UnauthorizedException", "The token was not issued to this client")
        self.revocations.add(token, origin_jti)


def _serve(argv: Sequence[str]) -> int:
    """The child process: moto's app behind ``_RevocationLayer`` on a threaded werkzeug server.

    Writes the bound port to ``--port-file`` once listening; stops on SIGTERM, SIGINT or EOF
    on stdin (the parent is gone), and exits 0.
    """
    parser = argparse.ArgumentParser(prog="cognito_signout.emulator (server)")
    parser.add_argument("--host", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--port-file", required=True)
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args(argv)
    host = _loopback_host(args.host)

    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import make_server

    class QuietHandler(MotoRequestHandler):
        def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
            pass

    os.environ.setdefault("MOTO_PORT", str(args.port))
    app = _RevocationLayer(DomainDispatcherApplication(create_backend_app))
    server = make_server(
        host, args.port, app, threaded=True,
        request_handler=MotoRequestHandler if args.verbose else QuietHandler,
    )
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    def watch_stdin() -> None:
        try:
            while sys.stdin.buffer.read(4096):
                pass
        except (OSError, ValueError):
            pass
        stop.set()

    threading.Thread(target=watch_stdin, name="stdin-watch", daemon=True).start()
    serving = threading.Thread(target=server.serve_forever, name="serve", daemon=True)
    serving.start()
    temp = f"{args.port_file}.tmp"
    Path(temp).write_text(str(server.server_address[1]), encoding="ascii")
    os.replace(temp, args.port_file)
    while not stop.wait(0.2) and serving.is_alive():
        pass
    server.shutdown()
    server.server_close()
    # A parent killed without stop() leaves these behind; rmdir only ever removes an empty dir.
    with contextlib.suppress(OSError):
        os.unlink(args.port_file)
        os.rmdir(os.path.dirname(args.port_file))
    return 0


# -- python -m cognito_signout.emulator ----------------------------------------------------------


def _connection_info(cognito: MotoCognito, user: CognitoUser, secret_client: AppClient) -> str:
    url = cognito.endpoint_url
    login_body = json.dumps({
        "ClientId": cognito.client_id, "AuthFlow": "USER_PASSWORD_AUTH",
        "AuthParameters": {"USERNAME": user.username, "PASSWORD": cognito.password(user)},
    })
    lines = [
        f"Cognito emulator (moto + RevokeToken) listening on {url}",
        f"  region            {cognito.region}",
        f"  user pool         {cognito.pool_id}",
        f"  app client        {cognito.client_id}   (no secret)",
        f"  secret client     {secret_client.client_id}",
        f"  client secret     {secret_client.client_secret}",
        f"  issuer            {cognito.issuer}",
        f"  jwks              {cognito.jwks_url}",
        f"  demo user         {user.username}",
        f"  demo password     {cognito.password(user)}",
        "",
        "# Point an SDK or the AWS CLI at it (any dummy credentials; moto keeps unsigned",
        "# callers' pools in us-east-1):",
        f"export AWS_ENDPOINT_URL={url}",
        f"export AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER={url}",
        f"export AWS_REGION={cognito.region}",
        "export AWS_ACCESS_KEY_ID=testing",
        "export AWS_SECRET_ACCESS_KEY=testing",
        f"export COGNITO_USER_POOL_ID={cognito.pool_id}",
        f"export COGNITO_CLIENT_ID={cognito.client_id}",
        "# The demo user's session (sign in again for another one, command below):",
        f"export COGNITO_ACCESS_TOKEN={user.access_token}",
        f"export COGNITO_REFRESH_TOKEN={user.refresh_token}",
        f"export COGNITO_ID_TOKEN={user.id_token}",
        "",
        "# A new sign-in:",
        f"curl -s {url}/ -H 'X-Amz-Target: {_TARGET_PREFIX}InitiateAuth' \\",
        "  -H 'Content-Type: application/x-amz-json-1.1' \\",
        f"  -d '{login_body}'",
        "",
        "Ctrl-C (or SIGTERM) stops it.",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m cognito_signout.emulator``: serve in the foreground until SIGINT/SIGTERM.

    Prints the connection details and a demo user's credentials and tokens, then waits.
    Exit status: 0 after a clean stop on Ctrl-C (SIGINT) or SIGTERM (not 130: the stop is the
    normal way to end it), 1 if the server dies on its own, 2 for bad options (argparse).
    """
    parser = argparse.ArgumentParser(
        prog="python -m cognito_signout.emulator",
        description="A local Cognito user pool (moto's server plus RevokeToken) on loopback.",
    )
    parser.add_argument("--host", default="127.0.0.1",
                        help="loopback address to bind (default 127.0.0.1; nothing else allowed)")
    parser.add_argument("--port", type=int, default=0, help="port (default 0: a free one)")
    parser.add_argument("--username", default="demo", help="the demo user's name (demo)")
    parser.add_argument("--password", default=None, help="the demo user's password (random)")
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")
    args = parser.parse_args(argv)
    try:
        _loopback_host(args.host)
    except ValueError as exc:
        parser.error(f"{exc}: the emulator has no authentication, so it serves loopback only")
    if not 0 <= args.port <= 65535:
        parser.error(f"--port must be 0..65535, got {args.port}")

    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        with MotoCognito(args.host, args.port, verbose=args.verbose) as cognito:
            user = cognito.create_user(args.username, args.password)
            secret_client = cognito.create_client(secret=True)
            print(_connection_info(cognito, user, secret_client), flush=True)
            while not stop.wait(0.2):
                if not cognito.running:
                    print("the emulator's server exited unexpectedly", file=sys.stderr)
                    return 1
            print("stopping", file=sys.stderr, flush=True)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0


if __name__ == "__main__":
    sys.exit(main())
