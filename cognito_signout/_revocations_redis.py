"""The Redis backend of :class:`~cognito_signout._revocations.Revocations` (issue 11).

**Client library: coredis** (the ``redis`` extra), not redis-py's ``redis.asyncio``:

- coredis 6 is built on anyio, so the same code runs under asyncio *and* trio, as the rest of
  the SDK does (checked here: commands, pub/sub and connection loss behave the same under both).
  ``redis.asyncio`` is asyncio-only.
- redis-py's client-side caching is synchronous only and needs a 7.4+ server; we must work with
  6.2. (coredis's tracking cache works on 6.2, but we do not use it: see below.)
- coredis's pub/sub reports a lost connection as an exception when told not to retry
  (``retry_policy=None``), so our own loop sees every reconnect and resyncs; redis-py's
  reconnects and resubscribes silently by default.

**Design.** No network round trip per check: every check reads the local view
(:class:`~cognito_signout._revocations.View`). The view is fed by

- a pub/sub channel (``<prefix>events``): every record is one Lua script that writes the key
  with its TTL *and* publishes the entry (kind, remaining TTL, value, id), atomically, so a
  subscriber needs no second read;
- a resync (``SCAN`` of ``<prefix>*`` plus one script per batch reading values and PTTLs) after
  *every* subscription is established: on start and on every reconnect. The subscription comes
  first, so an entry written during the scan arrives by pub/sub if the scan missed it;
  applying an entry twice changes nothing (cutoffs merge by max, sessions by later expiry).

Until that first sync, and from the moment the connection is lost (EOF at once; a ping every
``health_interval`` with a timeout of twice that for a silent peer) until the resync after the
reconnect, the store is *not ready*: checks follow ``on_unavailable``. So nothing revoked
during an outage is missed by a replica that was cut off.

Expiry uses relative TTLs only (PTTL read by the subscriber, added to its own clock), never
another host's wall clock. Redis drops its keys itself; views drop theirs at the same time.

**Records** are applied to this process's view at once, then written by one background writer
that retries (backoff up to 1 s) for up to ``record_retry_for`` seconds; ``Recording`` says
whether and when it landed.

**A server that comes back empty** (a restart without persistence, a failover to a replica
that had not caught up): after the resync, each replica writes back the unexpired entries of
its view that the server no longer has (with their remaining TTL). So replicas that were
connected heal the store, and a replica started afterwards sees them again. Entries known only
by replicas that are gone are lost: run Redis with persistence or replication if that matters.

**Lifetime.** No I/O until first use or ``async with``. The background work runs in one task
detached from the caller (``asyncio`` task, or a trio system task), hosting an anyio task group;
:meth:`aclose` cancels it and waits. One event loop at a time.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections import deque
from typing import TYPE_CHECKING, Any, Literal

import anyio
import sniffio

from ._revocations import _CUTOFF, Recording, View
from .errors import ConstructionFailure, RevocationsUnavailable

if TYPE_CHECKING:
    import coredis

logger = logging.getLogger("cognito_signout.revocations")

# KEYS[1]: the entry's key. ARGV: kind ('c' cutoff, 's' session), value (cutoff seconds, or 0),
# TTL in ms, channel, id (sub or origin_jti). The higher cutoff and the longer TTL win.
_RECORD = """
local value = tonumber(ARGV[2])
local ttl = tonumber(ARGV[3])
if ARGV[1] == 'c' then
  local current = redis.call('GET', KEYS[1])
  if current then
    current = tonumber(current)
    if current and current > value then value = current end
  end
end
local left = redis.call('PTTL', KEYS[1])
if left > ttl then ttl = left end
redis.call('SET', KEYS[1], string.format('%d', value), 'PX', ttl)
redis.call('PUBLISH', ARGV[4], ARGV[1] .. ' ' .. string.format('%d', ttl) .. ' '
  .. string.format('%d', value) .. ' ' .. ARGV[5])
return 1
"""

# For each key: its value and its PTTL (a missing key: false, -2).
_FETCH = """
local out = {}
for i, key in ipairs(KEYS) do
  out[#out + 1] = redis.call('GET', key)
  out[#out + 1] = redis.call('PTTL', key)
end
return out
"""

_SCAN_BATCH = 1000


class _Op:
    __slots__ = ("deadline", "key", "kind", "recording")

    def __init__(self, recording: Recording | None, kind: int, key: str, deadline: float) -> None:
        self.recording = recording
        self.kind = kind
        self.key = key
        self.deadline = deadline


class RedisBackend:
    """Keeps a :class:`View` in step with Redis; see the module text."""

    def __init__(
        self,
        url: str,
        *,
        view: View,
        on_unavailable: Literal["reject", "allow"],
        max_token_lifetime: float,
        key_prefix: str,
        check_timeout: float,
        health_interval: float,
        record_retry_for: float,
    ) -> None:
        if not isinstance(url, str) or not url.startswith(("redis://", "rediss://", "unix://")):
            raise ConstructionFailure("the Redis URL must start with redis://, rediss:// or unix://")
        self.url = url
        self.view = view
        self.on_unavailable = on_unavailable
        self.max_token_lifetime = max_token_lifetime
        self.prefix = key_prefix
        self.channel = key_prefix + "events"
        self.check_timeout = check_timeout
        self.health_interval = health_interval
        self.record_retry_for = record_retry_for
        self.ready = False
        self.syncs = 0  # completed resyncs (start and every reconnect), for tests and metrics
        self._scope: anyio.CancelScope | None = None
        self._stopped: anyio.Event | None = None
        self._settled: anyio.Event | None = None
        self._wake: anyio.Event | None = None
        self._pending: deque[_Op] = deque()
        self._warned = False
        self._task: asyncio.Task[None] | None = None

    # --- lifetime ------------------------------------------------------------------------

    def ensure_started(self) -> None:
        if self._scope is not None:
            return
        try:
            import coredis  # noqa: F401
        except ImportError as exc:
            raise ConstructionFailure(
                "Revocations.redis needs coredis: pip install 'cognito-signout[redis]'"
            ) from exc
        self._scope = anyio.CancelScope()
        self._stopped = anyio.Event()
        self._settled = anyio.Event()
        self._wake = anyio.Event()
        if sniffio.current_async_library() == "trio":
            import trio

            trio.lowlevel.spawn_system_task(self._run)
        else:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def aclose(self) -> None:
        scope, stopped = self._scope, self._stopped
        if scope is None or stopped is None:
            return
        scope.cancel()
        await stopped.wait()
        if self._scope is scope or self._scope is None:
            self._scope = self._stopped = self._settled = self._wake = None
            self._task = None

    async def _run(self) -> None:
        import coredis
        from coredis.retry import NoRetryPolicy

        scope, stopped = self._scope, self._stopped
        assert scope is not None
        assert stopped is not None
        try:
            with scope:
                timeout = self.health_interval * 2
                client = coredis.Redis.from_url(
                    self.url,
                    stream_timeout=timeout,
                    connect_timeout=timeout,
                    retry_policy=NoRetryPolicy(),
                )
                async with client, anyio.create_task_group() as tg:
                    tg.start_soon(self._listen, client)
                    tg.start_soon(self._write_loop, client)
        except BaseException as exc:  # a detached task: nothing may escape it (see below)
            if isinstance(exc, KeyboardInterrupt | SystemExit):
                raise
            # Cancellation from outside (the event loop is ending) ends the task quietly: a trio
            # system task that raises anything else, or a group around a Cancelled, is a
            # TrioInternalError. coredis's pub/sub cleanup can raise while being cancelled
            # (ClosedResourceError): not news either.
            cancelled = anyio.get_cancelled_exc_class()
            rest: BaseException | None
            if isinstance(exc, BaseExceptionGroup):
                rest = exc.split(cancelled)[1]
            else:
                rest = None if isinstance(exc, cancelled) else exc
            if rest is not None and not scope.cancel_called:
                logger.error("revocations: the Redis background task failed", exc_info=rest)
        finally:
            self.ready = False
            while self._pending:
                op = self._pending.popleft()
                if op.recording is not None:
                    op.recording._give_up()
            if self._settled is not None:
                self._settled.set()
            if self._scope is scope:
                # Ended (failed, or its event loop is closing): the next use starts anew.
                self._scope = None
            stopped.set()

    # --- checks and records ---------------------------------------------------------------

    async def not_ready(self) -> None:
        """Called by a check while not ready: wait for the first sync (bounded), then raise
        (reject) or return (allow, one warning per outage)."""
        self.ensure_started()
        settled = self._settled
        if settled is not None and not settled.is_set():
            with anyio.move_on_after(self.check_timeout):
                await settled.wait()
        if self.ready:
            return
        if self.on_unavailable == "reject":
            raise RevocationsUnavailable(
                "the revocation store (Redis) cannot answer; on_unavailable='reject' refuses"
            )
        if not self._warned:
            self._warned = True
            logger.warning(
                "revocations: the Redis store cannot answer; on_unavailable='allow' accepts "
                "tokens this replica does not know to be revoked until it is back"
            )

    async def record(self, recording: Recording, kind: int, key: str, value: int) -> None:
        """Queue the write (the view already has the entry) and, unless the store is known to
        be down, wait up to check_timeout for it to land; it keeps being retried in the
        background after that (``Recording.wait``)."""
        self.ensure_started()
        self._enqueue(_Op(recording, kind, key, self.view.clock() + self.record_retry_for))
        with anyio.move_on_after(self.check_timeout):
            settled = self._settled
            if settled is not None and not settled.is_set():
                await settled.wait()  # starting: learn whether the store answers at all
            if self.ready:  # known down: do not hold the caller; the writer keeps at it
                await recording.wait()

    def _enqueue(self, op: _Op) -> None:
        self._pending.append(op)
        if self._wake is not None:
            self._wake.set()

    # --- the writer ---------------------------------------------------------------------------

    async def _write_loop(self, client: coredis.Redis[bytes]) -> None:
        delay = 0.02
        while True:
            if not self._pending:
                await self._wait_wake(None)
                continue
            op = self._pending[0]
            if self.view.clock() >= op.deadline:
                self._pending.popleft()
                logger.error("revocations: a record could not be written to Redis in time")
                if op.recording is not None:
                    op.recording._give_up()
                continue
            try:
                with anyio.fail_after(self.health_interval * 2):
                    await self._write(client, op)
            except Exception:
                await self._wait_wake(delay)
                delay = min(delay * 2, 1.0)
                continue
            delay = 0.02
            self._pending.popleft()
            if op.recording is not None:
                op.recording._land()

    async def _wait_wake(self, delay: float | None) -> None:
        wake = self._wake
        assert wake is not None
        with anyio.move_on_after(math.inf if delay is None else delay):
            await wake.wait()
        if wake.is_set():
            self._wake = anyio.Event()

    async def _write(self, client: coredis.Redis[bytes], op: _Op) -> None:
        now = self.view.clock()
        if op.kind == _CUTOFF:
            entry = self.view.cutoffs.get(op.key)
            if entry is None:
                return  # expired meanwhile: nothing left to write
            value, expires = entry
            kind, name = "c", "sub:"
        else:
            session = self.view.sessions.get(op.key)
            if session is None:
                return
            value, expires = 0, session
            kind, name = "s", "sid:"
        ttl_ms = math.ceil((expires - now) * 1000)
        if ttl_ms <= 0:
            return
        await client.eval(
            _RECORD,
            keys=[self.prefix + name + op.key],
            args=[kind, str(value), str(ttl_ms), self.channel, op.key],
        )

    # --- the listener ----------------------------------------------------------------------

    async def _listen(self, client: coredis.Redis[bytes]) -> None:
        delay = 0.05
        while True:
            try:
                async with client.pubsub(
                    channels=[self.channel],
                    retry_policy=None,
                    max_idle_seconds=self.health_interval,
                ) as pubsub:
                    with anyio.fail_after(max(30.0, self.check_timeout)):
                        await self._resync(client)
                    self._set_ready()
                    delay = 0.05
                    async with anyio.create_task_group() as tg:
                        tg.start_soon(self._health, client)
                        async for message in pubsub:
                            if message["type"] == "message":
                                self._apply(message["data"])
                        raise ConnectionError("the subscription ended")
            except Exception as exc:
                logger.debug("revocations: Redis connection lost or refused: %r", exc)
            self._set_down()
            await anyio.sleep(delay)
            delay = min(delay * 2, 1.0)

    async def _health(self, client: coredis.Redis[bytes]) -> None:
        while True:
            await anyio.sleep(self.health_interval)
            with anyio.fail_after(self.health_interval * 2):
                await client.ping()

    def _set_ready(self) -> None:
        self.ready = True
        self.syncs += 1
        if self._warned:
            logger.warning("revocations: the Redis store answers again")
        self._warned = False
        if self._settled is not None:
            self._settled.set()
        if self._wake is not None:
            self._wake.set()  # retry pending records now

    def _set_down(self) -> None:
        self.ready = False
        if self._settled is not None:
            self._settled.set()

    def _apply(self, data: Any) -> None:
        try:
            text = data.decode() if isinstance(data, bytes) else str(data)
            kind, ttl_ms, value, key = text.split(" ", 3)
            expires = self.view.clock() + int(ttl_ms) / 1000
            if kind == "c":
                self.view.add_cutoff(key, int(value), expires)
            elif kind == "s":
                self.view.add_session(key, expires)
        except (ValueError, UnicodeDecodeError):
            logger.warning("revocations: ignored a malformed message on the channel")

    def _apply_key(self, key: str, value: bytes | None, pttl: int) -> None:
        if value is None or pttl <= 0:
            return
        expires = self.view.clock() + pttl / 1000
        rest = key[len(self.prefix) :]
        try:
            if rest.startswith("sub:"):
                self.view.add_cutoff(rest[4:], int(value), expires)
            elif rest.startswith("sid:"):
                self.view.add_session(rest[4:], expires)
        except ValueError:
            logger.warning("revocations: ignored a malformed key in Redis")

    async def _resync(self, client: coredis.Redis[bytes]) -> None:
        """Read every entry in Redis into the view, then write back what Redis lost."""
        seen_cutoffs: set[str] = set()
        seen_sessions: set[str] = set()
        cursor: int | None = 0
        while True:
            cursor, keys = await client.scan(cursor, match=self.prefix + "*", count=_SCAN_BATCH)
            names = [k.decode() if isinstance(k, bytes) else str(k) for k in keys]
            names = [n for n in names if n != self.channel]
            if names:
                rows = await client.eval(_FETCH, keys=names)
                assert isinstance(rows, list)
                for index, name in enumerate(names):
                    raw, pttl = rows[2 * index], rows[2 * index + 1]
                    value = raw if isinstance(raw, bytes) else None
                    self._apply_key(name, value, int(pttl) if isinstance(pttl, int) else -2)
                    rest = name[len(self.prefix) :]
                    if rest.startswith("sub:"):
                        seen_cutoffs.add(rest[4:])
                    elif rest.startswith("sid:"):
                        seen_sessions.add(rest[4:])
            if not cursor:
                break
        # Heal a server that came back empty: write back what this view still has.
        now = self.view.clock()
        self.view.sweep(now)
        queued = {(op.kind, op.key) for op in self._pending}
        deadline = now + self.record_retry_for
        for sub in self.view.cutoffs.keys() - seen_cutoffs:
            if (_CUTOFF, sub) not in queued:
                self._pending.append(_Op(None, _CUTOFF, sub, deadline))
        for origin_jti in self.view.sessions.keys() - seen_sessions:
            if (1, origin_jti) not in queued:
                self._pending.append(_Op(None, 1, origin_jti, deadline))
