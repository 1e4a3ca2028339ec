"""Revocations (issue 11): the memory store's semantics, and the Redis store against a real
``redis-server`` (tests/redis_server.py) started, stopped and restarted by the tests.

coredis runs under asyncio and trio, so every test runs under both (the conftest parametrizes
the backend).
"""

from __future__ import annotations

import logging
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import anyio
import pytest

from cognito_signout import Revocations
from cognito_signout.errors import ConstructionFailure, RevocationsUnavailable, SdkError

from .redis_server import RedisServer, redis_server, redis_server_binary

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Token:
    """What the store reads of a VerifiedToken: ``issued_at`` is an aware datetime."""

    sub: str
    iat: int
    origin_jti: str | None = None

    @property
    def issued_at(self) -> datetime:
        return datetime.fromtimestamp(self.iat, UTC)


class Clock:
    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


# The tests watch the stores from outside, as a caller would: they poll (no event to wait on).


async def wait_until(predicate: Callable[[], bool], within: float, step: float = 0.005) -> float:
    """Poll until ``predicate()``; returns the seconds it took. Fails after ``within``."""
    start = time.perf_counter()
    with anyio.fail_after(within):
        while not predicate():  # noqa: ASYNC110
            await anyio.sleep(step)
    return time.perf_counter() - start


async def until_revoked(store: Revocations, token: Token, within: float, step: float) -> None:
    """Poll ``is_revoked`` (the public check, exceptions and all) until it says True."""
    with anyio.fail_after(within):
        while not await store.is_revoked(token):  # noqa: ASYNC110
            await anyio.sleep(step)


# --- memory ----------------------------------------------------------------------------------


async def test_cutoff_refuses_iat_up_to_and_including_the_cutoff() -> None:
    store = Revocations.memory()
    recording = await store.record_sign_out("alice", 1_700_000_100)
    assert recording.recorded
    assert await recording.wait()
    assert await store.is_revoked(Token("alice", 1_700_000_099))
    # one-second resolution: a token issued in the very second of the sign-out is refused
    assert await store.is_revoked(Token("alice", 1_700_000_100))
    assert not await store.is_revoked(Token("alice", 1_700_000_101))
    assert not await store.is_revoked(Token("bob", 1_700_000_000))


async def test_a_cutoff_is_never_lowered() -> None:
    store = Revocations.memory()
    await store.record_sign_out("alice", 1_700_000_100)
    await store.record_sign_out("alice", 1_700_000_050)
    assert await store.is_revoked(Token("alice", 1_700_000_100))
    await store.record_sign_out("alice", 1_700_000_200)
    assert await store.is_revoked(Token("alice", 1_700_000_200))


async def test_a_fractional_cutoff_refuses_its_whole_second() -> None:
    store = Revocations.memory()
    await store.record_sign_out("alice", 1_700_000_100.9)
    assert await store.is_revoked(Token("alice", 1_700_000_100))
    assert not await store.is_revoked(Token("alice", 1_700_000_101))


async def test_session_revocation_refuses_that_session_only() -> None:
    store = Revocations.memory()
    await store.revoke_session(Token("alice", 1_700_000_000, origin_jti="session-1"))
    assert await store.is_revoked(Token("alice", 1_700_000_500, origin_jti="session-1"))
    assert not await store.is_revoked(Token("alice", 1_700_000_500, origin_jti="session-2"))
    assert not await store.is_revoked(Token("alice", 1_700_000_500))
    await store.revoke_session("session-2")
    assert await store.is_revoked(Token("alice", 1_700_000_500, origin_jti="session-2"))
    with pytest.raises(ConstructionFailure, match="origin_jti"):
        await store.revoke_session(Token("alice", 1, origin_jti=None))


async def test_bad_input_is_a_construction_failure() -> None:
    store = Revocations.memory()
    with pytest.raises(ConstructionFailure):
        await store.record_sign_out("", 1)
    with pytest.raises(ConstructionFailure):
        await store.record_sign_out("alice", float("nan"))
    with pytest.raises(ConstructionFailure):
        Revocations.memory(max_token_lifetime=0)
    with pytest.raises(ConstructionFailure):
        Revocations.redis("redis://127.0.0.1:1/0", on_unavailable="maybe")  # type: ignore[arg-type]
    with pytest.raises(ConstructionFailure):
        Revocations.redis("http://127.0.0.1:1/")
    assert issubclass(RevocationsUnavailable, SdkError)


async def test_entries_expire_after_max_token_lifetime() -> None:
    clock = Clock()
    store = Revocations.memory(max_token_lifetime=60, clock=clock)
    await store.record_sign_out("alice", int(clock.now))
    await store.revoke_session("session-1")
    clock.now += 59
    assert await store.is_revoked(Token("alice", int(clock.now) - 59))
    assert await store.is_revoked(Token("bob", 0, origin_jti="session-1"))
    assert len(store) == 2
    clock.now += 1
    assert not await store.is_revoked(Token("alice", int(clock.now) - 60))
    assert not await store.is_revoked(Token("bob", 0, origin_jti="session-1"))
    assert len(store) == 0  # dropped, not just ignored


async def test_a_renewed_sign_out_extends_the_entry() -> None:
    clock = Clock()
    store = Revocations.memory(max_token_lifetime=60, clock=clock)
    await store.record_sign_out("alice", int(clock.now))
    clock.now += 30
    await store.record_sign_out("alice", int(clock.now))
    clock.now += 45  # 75 s after the first, 45 after the second
    assert await store.is_revoked(Token("alice", int(clock.now) - 45))


async def test_check_cost_and_memory_at_100k_entries() -> None:
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    store = Revocations.memory()
    now = int(time.time())
    for i in range(50_000):
        await store.record_sign_out(f"2f0e6c1a-0000-4000-8000-{i:012d}", now)
        await store.revoke_session(f"b7d5a3c9-0000-4000-8000-{i:012d}")
    per_entry = (tracemalloc.get_traced_memory()[0] - before) / 100_000
    tracemalloc.stop()
    assert len(store) == 100_000
    hit = Token("2f0e6c1a-0000-4000-8000-000000012345", now)
    miss = Token("2f0e6c1a-0000-4000-8000-999999999999", now, origin_jti="nope")
    assert await store.is_revoked(hit)
    n = 100_000
    start = time.perf_counter()
    for _ in range(n):
        await store.is_revoked(miss)
    per_check = (time.perf_counter() - start) / n
    print(f"\nmemory store at 100,000 entries: {per_check * 1e6:.2f} us per check (a miss), "
          f"{per_entry:.0f} bytes per entry (with its ids)")
    assert per_check < 10e-6  # the budget; ~1 us expected


# --- redis ---------------------------------------------------------------------------------------

needs_redis = pytest.mark.skipif(redis_server_binary() is None, reason="no redis-server")


@pytest.fixture
def server() -> Iterator[RedisServer]:
    with redis_server() as srv:
        yield srv


def fast(url: str, **kwargs: object) -> Revocations:
    """A Redis store with short health intervals, so outage tests take seconds."""
    options: dict[str, object] = {"health_interval": 0.5, "check_timeout": 2.0}
    options.update(kwargs)
    return Revocations.redis(url, **options)  # type: ignore[arg-type]


def test_redis_store_can_be_created_at_import_time_without_io() -> None:
    # No event loop here, and nothing listens on port 1: creating it must not touch the network.
    store = Revocations.redis("redis://127.0.0.1:1/0")
    assert not store.ready


@needs_redis
async def test_an_unreachable_store_at_start_is_unavailable_within_the_check_timeout() -> None:
    async with Revocations.redis("redis://127.0.0.1:1/0", check_timeout=0.5) as store:
        start = time.perf_counter()
        with pytest.raises(RevocationsUnavailable):
            await store.is_revoked(Token("alice", 1))
        assert time.perf_counter() - start < 3
    async with Revocations.redis("redis://127.0.0.1:1/0", on_unavailable="allow") as store:
        assert not await store.is_revoked(Token("alice", 1))


@needs_redis
async def test_propagation_between_two_replicas_in_one_process(server: RedisServer) -> None:
    async with fast(server.url) as a, fast(server.url) as b:
        await wait_until(lambda: a.ready and b.ready, 5)
        latencies = []
        for i in range(200):
            token = Token(f"user-{i}", 1_700_000_000)
            start = time.perf_counter()
            await a.record_sign_out(token.sub, token.iat)
            await until_revoked(b, token, 2, 0.0002)
            latencies.append(time.perf_counter() - start)
    report("in-process", latencies)


def report(label: str, latencies: list[float]) -> None:
    ordered = sorted(latencies)
    p50 = statistics.median(ordered) * 1000
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000
    print(f"\npropagation {label}: n={len(ordered)} p50={p50:.2f} ms p99={p99:.2f} ms "
          f"max={ordered[-1] * 1000:.2f} ms")
    assert p99 < 100


CHILD = """
import sys, anyio
from cognito_signout._revocations import Revocations

async def main():
    async with Revocations.redis(sys.argv[1]) as store:
        while True:
            line = await anyio.to_thread.run_sync(sys.stdin.readline)
            if not line.strip():
                return
            kind, name = line.split()
            if kind == "sub":
                recording = await store.record_sign_out(name, 1_700_000_000)
            else:
                recording = await store.revoke_session(name)
            print("ok" if recording.recorded else "pending", flush=True)

anyio.run(main)
"""


@needs_redis
async def test_propagation_from_another_process(server: RedisServer) -> None:
    async with fast(server.url) as local:
        process = await anyio.open_process(
            [sys.executable, "-c", CHILD, server.url], cwd=str(ROOT)
        )
        try:
            assert process.stdin is not None and process.stdout is not None
            lines = process.stdout

            async def ask(kind: str, name: str) -> None:
                assert process.stdin is not None
                await process.stdin.send(f"{kind} {name}\n".encode())

            # warm up: the child has started and connected
            await ask("sub", "warmup")
            await wait_until(lambda: local.ready, 20)
            await until_revoked(local, Token("warmup", 1), 20, 0.01)
            latencies = []
            for i in range(100):
                kind = "sub" if i % 2 else "sid"
                token = (Token(f"proc-user-{i}", 1_700_000_000) if kind == "sub"
                         else Token("someone", 1_700_000_000, origin_jti=f"proc-session-{i}"))
                name = token.sub if kind == "sub" else str(token.origin_jti)
                start = time.perf_counter()
                await ask(kind, name)
                await until_revoked(local, token, 2, 0.0002)
                latencies.append(time.perf_counter() - start)
            # drain the child's answers: every record landed
            answers = b""
            with anyio.fail_after(10):
                while answers.count(b"\n") < 101:
                    answers += await lines.receive()
            assert answers.split() == [b"ok"] * 101
        finally:
            if process.stdin is not None:
                await process.stdin.aclose()
            with anyio.move_on_after(10):
                await process.wait()
            if process.returncode is None:
                process.kill()
                await process.wait()
    report("between processes (pipe to the child included)", latencies)


@needs_redis
async def test_a_replica_started_after_the_revocation_refuses(server: RedisServer) -> None:
    async with fast(server.url) as a:
        assert (await a.record_sign_out("alice", 1_700_000_100)).recorded
        assert (await a.revoke_session("session-1")).recorded
    async with fast(server.url) as late:
        # the first check waits for the first sync (bounded by check_timeout)
        assert await late.is_revoked(Token("alice", 1_700_000_100))
        assert not await late.is_revoked(Token("alice", 1_700_000_101))
        assert await late.is_revoked(Token("bob", 1, origin_jti="session-1"))


@needs_redis
async def test_a_cutoff_is_never_lowered_in_redis(server: RedisServer) -> None:
    async with fast(server.url) as a:
        await a.record_sign_out("alice", 1_700_000_100)
    async with fast(server.url) as b:
        await wait_until(lambda: b.ready, 5)
        b._view.cutoffs.clear()  # as if b had never heard of it: the server must keep the max
        assert (await b.record_sign_out("alice", 1_700_000_050)).recorded
        # the script published the higher cutoff it kept, so b's view has it again
        await wait_until(lambda: b._view.is_revoked("alice", 1_700_000_100, None), 2)
    async with fast(server.url) as c:
        assert await c.is_revoked(Token("alice", 1_700_000_100))


@needs_redis
async def test_a_lost_store_rejects_within_5_seconds(server: RedisServer) -> None:
    async with fast(server.url) as store:
        assert not await store.is_revoked(Token("alice", 1))
        server.stop()
        start = time.perf_counter()
        with anyio.fail_after(5):
            while True:
                try:
                    await store.is_revoked(Token("alice", 1))
                except RevocationsUnavailable:
                    break
                await anyio.sleep(0.05)
        print(f"\noutage noticed after {(time.perf_counter() - start) * 1000:.0f} ms")
        # a check during the outage answers at once: it never waits on the network
        start = time.perf_counter()
        with pytest.raises(RevocationsUnavailable):
            await store.is_revoked(Token("alice", 1))
        assert time.perf_counter() - start < 0.05


@needs_redis
async def test_a_silent_store_is_noticed_within_5_seconds(server: RedisServer) -> None:
    # default health_interval (1 s): a frozen server keeps its connections open and answers
    # nothing; only the ping's timeout can notice it.
    async with Revocations.redis(server.url) as store:
        assert not await store.is_revoked(Token("alice", 1))
        server.pause()
        try:
            took = await wait_until(lambda: not store.ready, 5, step=0.05)
            print(f"\nfrozen server noticed after {took * 1000:.0f} ms")
            with anyio.fail_after(0.5), pytest.raises(RevocationsUnavailable):
                await store.is_revoked(Token("alice", 1))
        finally:
            server.resume()
        await wait_until(lambda: store.ready, 10, step=0.05)
        assert not await store.is_revoked(Token("alice", 1))


@needs_redis
async def test_a_record_during_an_outage_does_not_hold_the_caller(server: RedisServer) -> None:
    async with fast(server.url) as store:
        await wait_until(lambda: store.ready, 5)
        server.stop()
        await wait_until(lambda: not store.ready, 5)
        start = time.perf_counter()
        recording = await store.record_sign_out("alice", 1)
        assert time.perf_counter() - start < 0.5
        assert not recording.recorded
        await store.aclose()  # records still pending are given up
        assert recording.failed and not await recording.wait()


@needs_redis
async def test_allow_mode_accepts_during_an_outage_and_logs_once(
    server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="cognito_signout.revocations")
    async with fast(server.url, on_unavailable="allow") as store:
        await store.record_sign_out("alice", 1_700_000_100)
        assert await store.is_revoked(Token("alice", 1_700_000_100))
        server.stop()
        await wait_until(lambda: not store.ready, 5)
        for _ in range(50):
            assert not await store.is_revoked(Token("bob", 1))
            # what the local view knows is still refused
            assert await store.is_revoked(Token("alice", 1_700_000_100))
        warnings = [r for r in caplog.records if "cannot answer" in r.getMessage()]
        assert len(warnings) == 1


@needs_redis
async def test_a_record_made_during_an_outage_lands_and_reaches_the_other_replica(
    server: RedisServer,
) -> None:
    async with fast(server.url) as a, fast(server.url) as b:
        await wait_until(lambda: a.ready and b.ready, 5)
        server.stop()
        await wait_until(lambda: not a.ready and not b.ready, 5)
        recording = await a.record_sign_out("alice", 1_700_000_100)
        await anyio.sleep(0.5)  # the writer tries, and fails, a few times meanwhile
        assert not recording.recorded and not recording.failed
        # a refuses at once from its own view
        assert a._view.is_revoked("alice", 1_700_000_100, None)
        server.start()
        with anyio.fail_after(10):
            assert await recording.wait()
        await wait_until(lambda: b.ready, 10)
        assert await b.is_revoked(Token("alice", 1_700_000_100))


@needs_redis
async def test_a_server_back_empty_is_healed_from_the_replicas_views(server: RedisServer) -> None:
    async with fast(server.url) as a:
        await a.record_sign_out("alice", 1_700_000_100)
        await a.revoke_session("session-1")
        syncs = a._backend.syncs if a._backend else 0
        server.restart()  # no persistence: the server comes back empty
        await wait_until(lambda: a.ready and a._backend is not None and a._backend.syncs > syncs,
                         10)
        # the local view kept them all along
        assert await a.is_revoked(Token("alice", 1_700_000_100))
        # and a replica started now sees them: a wrote them back after its resync
        async with fast(server.url) as late:
            await wait_until(lambda: late.ready, 5)
            await until_revoked(late, Token("alice", 1_700_000_100), 5, 0.02)
            assert await late.is_revoked(Token("bob", 1, origin_jti="session-1"))


@needs_redis
async def test_redis_entries_expire_by_themselves(server: RedisServer) -> None:
    async with fast(server.url, max_token_lifetime=1) as a, fast(server.url) as b:
        await wait_until(lambda: a.ready and b.ready, 5)
        await a.record_sign_out("alice", 1_700_000_100)
        await wait_until(lambda: b._view.is_revoked("alice", 1_700_000_100, None), 2)
        await anyio.sleep(1.2)
        assert not await a.is_revoked(Token("alice", 1_700_000_100))
        assert not await b.is_revoked(Token("alice", 1_700_000_100))
        assert len(a) == 0 and len(b) == 0
    async with fast(server.url) as late:
        assert not await late.is_revoked(Token("alice", 1_700_000_100))


@needs_redis
def test_one_store_serves_event_loops_in_turn(server: RedisServer, anyio_backend: str) -> None:
    # Created at import time by an app, used by one event loop after another (test runs, a
    # CLI calling anyio.run twice), closed by neither: each run starts it anew.
    store = fast(server.url)

    async def first() -> None:
        assert (await store.record_sign_out("alice", 1_700_000_100)).recorded

    async def second() -> None:
        assert await store.is_revoked(Token("alice", 1_700_000_100))
        await store.aclose()
        assert await store.is_revoked(Token("alice", 1_700_000_100))  # used again: restarts
        await store.aclose()

    anyio.run(first, backend=anyio_backend)
    anyio.run(second, backend=anyio_backend)
