"""Signed out means signed out on every replica (issue 11): real uvicorn processes behind one
real Redis, with the emulator's tokens and key set.

Each replica is ``python -m uvicorn tests.replica_app:app`` in a subprocess of its own,
configured by environment variables (tests/replica_app.py); nothing is shared between them but
Redis (and the emulator). A sign-out through one replica must be refused by the others at once
(pub/sub), and by a replica started after it (the resync on start).
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

import httpx
import pytest

from cognito_signout.emulator import CognitoUser, MotoCognito

from .redis_server import RedisServer, redis_server, redis_server_binary

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(redis_server_binary() is None, reason="no redis-server"),
]

ROOT = Path(__file__).resolve().parent.parent
STARTUP_S = 20.0  # a cold interpreter importing FastAPI and the SDK; usually about 1 s
# How soon another replica must refuse a signed-out token. Pub/sub delivers in a millisecond
# or two on loopback; the bound leaves room for a loaded CI machine, not for a resync.
PROPAGATION_S = 0.1


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Replica:
    """One ``uvicorn`` process serving tests/replica_app.py on 127.0.0.1."""

    def __init__(self, name: str, env: dict[str, str]) -> None:
        self.name = name
        self._env = {**env, "REPLICA_NAME": name}
        self._log: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115 (closed in stop)
        self._process: subprocess.Popen[bytes] | None = None
        self.url = ""

    def spawn(self) -> None:
        # The port is picked here and bound by the child: another process could take it in
        # between, which wait_ready reports as an early exit (and start retries once).
        port = _free_port()
        self.url = f"http://127.0.0.1:{port}"
        self._process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "tests.replica_app:app", "--host", "127.0.0.1",
             "--port", str(port), "--lifespan", "on", "--log-level", "warning"],
            cwd=ROOT, env=self._env, stdin=subprocess.DEVNULL, stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def wait_ready(self) -> bool:
        """True once the app answers and its store has synced; False if the process died."""
        assert self._process is not None
        deadline = time.monotonic() + STARTUP_S
        with httpx.Client(base_url=self.url, timeout=1.0) as http:
            while time.monotonic() < deadline:
                if self._process.poll() is not None:
                    return False
                with contextlib.suppress(httpx.TransportError):
                    if http.get("/ready").status_code == 200:
                        return True
                time.sleep(0.02)
        raise RuntimeError(f"replica {self.name} not ready in {STARTUP_S} s: {self.log_tail()}")

    def log_tail(self) -> str:
        self._log.seek(0)
        return self._log.read().decode("utf-8", "replace")[-2000:]

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()  # uvicorn's graceful shutdown: the lifespan closes the store
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)

    def close(self) -> None:
        self.stop()
        self._log.close()


@pytest.fixture(scope="module")
def redis() -> Iterator[RedisServer]:
    with redis_server() as server:
        yield server


@pytest.fixture(scope="module")
def start(moto: MotoCognito, redis: RedisServer) -> Iterator[Callable[..., list[Replica]]]:
    """``start("a", "b")``: replicas spawned together, each ready (its store synced); all
    stopped when the module is done."""
    env = {
        **os.environ,
        "REPLICA_ENDPOINT_URL": moto.endpoint_url,
        "REPLICA_USER_POOL_ID": moto.pool_id,
        "REPLICA_CLIENT_ID": moto.client_id,
        "REPLICA_REDIS_URL": redis.url,
    }
    started: list[Replica] = []

    def start_replicas(*names: str) -> list[Replica]:
        replicas = [Replica(name, env) for name in names]
        started.extend(replicas)
        for replica in replicas:
            replica.spawn()  # all at once: their startups overlap
        for replica in replicas:
            if not replica.wait_ready():
                replica.stop()
                replica.spawn()  # once more: the free port was taken meanwhile
                if not replica.wait_ready():
                    raise RuntimeError(f"replica {replica.name} exited: {replica.log_tail()}")
        return replicas

    try:
        yield start_replicas
    finally:
        for replica in started:
            replica.close()


@pytest.fixture(scope="module")
def pair(start: Callable[..., list[Replica]]) -> tuple[Replica, Replica]:
    """Replicas a and b, shared by the module's tests (each test signs out users of its own)."""
    a, b = start("a", "b")
    return a, b


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    # One client, made before any timing starts: building one (its TLS context) takes tens of
    # milliseconds, which would be counted as propagation.
    with httpx.Client(timeout=5.0) as client:
        yield client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def me(http: httpx.Client, replica: Replica, token: str) -> httpx.Response:
    response = http.get(f"{replica.url}/me", headers=bearer(token))
    assert token not in response.text
    assert all(token not in value for value in response.headers.values())
    return response


def until_refused(http: httpx.Client, replica: Replica, token: str, within: float) -> float:
    """Poll ``/me`` until it answers 401; returns the seconds it took. Fails after ``within``."""
    started = time.perf_counter()
    while True:
        response = me(http, replica, token)
        elapsed = time.perf_counter() - started
        if response.status_code == 401:
            assert response.headers["www-authenticate"] == 'Bearer error="invalid_token"'
            return elapsed
        assert response.status_code == 200, response.status_code
        if elapsed > within:
            pytest.fail(f"{replica.name} still accepts the token after {elapsed:.3f} s")
        time.sleep(0.002)


def test_sign_out_through_one_replica_is_refused_by_every_replica(
    moto: MotoCognito, http: httpx.Client, pair: tuple[Replica, Replica],
    start: Callable[..., list[Replica]],
) -> None:
    a, b = pair
    user: CognitoUser = moto.create_user()
    seen = [me(http, replica, user.access_token) for replica in (a, b)]
    assert [r.status_code for r in seen] == [200, 200]
    assert [r.json()["replica"] for r in seen] == ["a", "b"]  # two processes answered

    signed_out = http.post(f"{a.url}/sign-out", headers=bearer(user.access_token))
    assert signed_out.status_code == 204

    took = until_refused(http, b, user.access_token, PROPAGATION_S)
    print(f"replica b refused the signed-out token {took * 1000:.1f} ms after a's 204")
    assert me(http, a, user.access_token).status_code == 401
    assert not moto.access_token_accepted(user.access_token)  # and Cognito, of course

    [c] = start("c")  # after the sign-out: only Redis can tell it
    assert me(http, c, user.access_token).status_code == 401
    other = moto.create_user()  # a replica that refused everything would pass the line above
    assert me(http, c, other.access_token).status_code == 200


def test_device_sign_out_through_one_replica_ends_that_session_on_every_replica(
    moto: MotoCognito, http: httpx.Client, pair: tuple[Replica, Replica]
) -> None:
    a, b = pair
    phone = moto.create_user()
    laptop = moto.login(phone)  # the same user, a second session
    for replica in (a, b):
        assert me(http, replica, phone.access_token).status_code == 200

    response = http.post(
        f"{b.url}/sign-out/device", headers=bearer(phone.access_token),
        json={"refresh_token": phone.refresh_token},
    )
    assert response.status_code == 204
    assert phone.refresh_token not in response.text

    until_refused(http, a, phone.access_token, PROPAGATION_S)
    assert me(http, b, phone.access_token).status_code == 401
    for replica in (a, b):
        assert me(http, replica, laptop.access_token).status_code == 200  # the other session
