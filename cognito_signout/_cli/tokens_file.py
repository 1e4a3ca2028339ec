"""Reading a tokens file (or stdin) for a batch: line by line, bounded, never blocking exit."""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator
from typing import IO

from .arguments import UsageError

_MAX_LINE_BYTES = 16 * 1024
_QUEUED_LINES = 1024  # read ahead of the workers, at most


class ReadError(Exception):
    """The tokens file failed mid-way (an I/O error); the batch stops with what it has."""


def open_tokens(path: str) -> IO[bytes]:
    """The tokens file, or for ``-`` a binary stream on stdin; a UsageError if unreadable."""
    if path == "-":
        if sys.stdin is None:
            raise UsageError("--tokens-file -: there is no stdin")
        try:
            # A file object of our own on a copy of fd 0: the reader thread may still be blocked
            # in it at exit (after Ctrl-C), and Python aborts if that happens to sys.stdin's.
            return os.fdopen(os.dup(sys.stdin.fileno()), "rb")
        except (AttributeError, OSError, ValueError):  # a stdin without a descriptor
            return sys.stdin.buffer
    try:
        return open(path, "rb")  # closed by run_batch
    except OSError as exc:
        raise UsageError(f"cannot read the tokens file: {exc.strerror or exc}") from None


def count_lines(stream: IO[bytes]) -> int | None:
    """Lines in a regular file (for the progress bar's total), then rewind; None otherwise."""
    try:
        if not stream.seekable():
            return None
        count, last = 0, b"\n"
        while chunk := stream.read(1 << 20):
            count += chunk.count(b"\n")
            last = chunk[-1:]
        stream.seek(0)
    except OSError:
        return None
    return count + (last != b"\n")


def _read_line(stream: IO[bytes]) -> tuple[bytes, bool] | None:
    """The next line and whether it was longer than any token (then cut off); None at EOF."""
    line = stream.readline(_MAX_LINE_BYTES)
    if not line:
        return None
    overlong = len(line) == _MAX_LINE_BYTES and not line.endswith(b"\n")
    while overlong:  # drop the rest of it, a bounded piece at a time
        rest = stream.readline(_MAX_LINE_BYTES)
        if not rest or rest.endswith(b"\n"):
            break
    return line, overlong


async def line_batches(stream: IO[bytes]) -> AsyncIterator[list[tuple[bytes, bool]]]:
    """The lines read so far, in batches, read on a daemon thread line by line.

    Each line comes with whether it was overlong (and cut off). Line by line so that tokens
    piped in slowly (``tail -f``, a script) are signed out as they come. Not on an anyio worker
    thread: those are joined at exit, and one blocked reading a stdin that never closes would
    keep an interrupted batch from exiting. An I/O error ends the batches with a ReadError.
    """
    import queue
    import threading

    import anyio

    lines: queue.Queue[tuple[bytes, bool] | BaseException | None] = queue.Queue(_QUEUED_LINES)

    def reader() -> None:
        try:
            while (line := _read_line(stream)) is not None:
                lines.put(line)
        except BaseException as exc:  # handed to the event loop, raised there
            lines.put(exc)
        else:
            lines.put(None)

    threading.Thread(target=reader, name="cognito-signout tokens reader", daemon=True).start()
    while True:
        batch: list[tuple[bytes, bool]] = []
        try:
            while len(batch) < _QUEUED_LINES:
                item = lines.get_nowait()
                if item is None or isinstance(item, BaseException):
                    if batch:
                        yield batch
                    if item is None:
                        return
                    raise ReadError(f"cannot read the tokens: {type(item).__name__}: {item}")
                batch.append(item)
        except queue.Empty:
            pass
        if batch:
            yield batch
        else:
            await anyio.sleep(0.005)
