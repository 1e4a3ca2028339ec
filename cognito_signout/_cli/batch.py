"""Many tokens (``--tokens-file``): sign each out, concurrently, and keep going past failures.

A reader hands the file's tokens, deduplicated, to ``--concurrency`` workers sharing one
Client; each outcome is reported as it comes, and the batch exits with its most serious
failure (see :data:`~cognito_signout._cli.exits.SEVERITY`).
"""

from __future__ import annotations

import sys
from typing import IO, TYPE_CHECKING

from .exits import EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, SEVERITY
from .outcomes import Success, failure_fields, service_text
from .tokens_file import ReadError, count_lines, line_batches, open_tokens

if TYPE_CHECKING:
    from .._config import Config
    from .arguments import AppClient
    from .console import Console


class Stats:
    """What a batch has done so far; read for the summary even after an interruption."""

    def __init__(self) -> None:
        self.lines = 0  # lines read, blank and comment lines included
        self.tokens = 0  # unique tokens handed to the workers
        self.finished = 0
        self.signed_out = 0
        self.duplicates = 0
        self.failed: dict[str, list[int]] = {}  # status -> line numbers
        self.exit_code = EXIT_OK
        self.read_error: str | None = None

    def fail(self, line: int, status: str, code: int) -> None:
        self.finished += 1
        self.failed.setdefault(status, []).append(line)
        if SEVERITY.index(code) > SEVERITY.index(self.exit_code):
            self.exit_code = code

    @property
    def failures(self) -> int:
        return sum(len(lines) for lines in self.failed.values())


def run_batch(
    config: Config, path: str, app: AppClient | None, *, concurrency: int, console: Console
) -> int:
    """Sign out every token in ``path`` (``-``: stdin); print the summary; the exit code.

    With ``app``, each token is a refresh token of that app client, and is revoked.
    """
    import time

    import anyio

    stream = open_tokens(path)
    # Our copy of stdin stays open: after Ctrl-C the reader thread may still be blocked in it,
    # and closing would wait for that read. The process is about to end anyway.
    owned = path != "-"
    stats = Stats()
    started = time.monotonic()
    interrupted = False
    try:
        if console.progress:
            console.total = count_lines(stream)
        anyio.run(_batch, config, app, stream, concurrency, stats, console)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        if owned:
            stream.close()
    console.summary(stats, time.monotonic() - started, interrupted=interrupted)
    if interrupted:
        return EXIT_INTERRUPTED
    if stats.read_error is not None:
        from .._token import scrub

        message = f"{stats.read_error} (after line {stats.lines})"
        print(f"cognito-signout: error: {scrub(message, None)}", file=sys.stderr)
        return max(stats.exit_code, EXIT_USAGE)
    return stats.exit_code


async def _batch(
    config: Config,
    app: AppClient | None,
    stream: IO[bytes],
    concurrency: int,
    stats: Stats,
    console: Console,
) -> None:
    import hashlib

    import anyio

    from .. import errors
    from .._client import Client
    from .arguments import clean_token

    send, receive = anyio.create_memory_object_stream[tuple[int, str]](concurrency * 2)
    console.started = anyio.current_time()

    async def read() -> None:
        seen: dict[bytes, int] = {}
        async with send:
            try:
                async for batch in line_batches(stream):
                    await accept(batch, seen)
            except ReadError as exc:
                stats.read_error = str(exc)

    async def accept(batch: list[tuple[bytes, bool]], seen: dict[bytes, int]) -> None:
        for raw, overlong in batch:
            stats.lines += 1
            line = stats.lines
            text = "" if overlong else raw.decode("utf-8", "replace").strip()
            if not overlong and (not text or text.startswith("#")):
                continue
            # An overlong line is never a token; "\x00" fails validation with nothing sent.
            token = "\x00" if overlong else clean_token(text)
            # Duplicates are found by digest, so the set of seen lines holds no token.
            first = seen.setdefault(hashlib.sha256(token.encode()).digest(), line)
            if first != line and not overlong:
                stats.duplicates += 1
                console.record({"line": line, "status": "duplicate", "duplicate_of": first})
                continue
            stats.tokens += 1
            await send.send((line, token))

    async def work(client: Client, lines: anyio.abc.ObjectReceiveStream[tuple[int, str]]) -> None:
        async with lines:
            async for line, token in lines:
                output: Success
                try:
                    if app is None:
                        output = await client.global_sign_out().access_token(token).send()
                    else:
                        revoke = client.revoke_token().token(token).client_id(app.client_id)
                        output = await revoke.set_client_secret(app.client_secret).send()
                except errors.SdkError as exc:
                    fields = failure_fields(exc, config=config, token=token)
                    stats.fail(line, fields["status"], fields["exit_code"])
                    console.record({"line": line, **fields}, token)
                else:
                    stats.finished += 1
                    stats.signed_out += 1
                    console.record(
                        {
                            "line": line,
                            "status": "signed_out",
                            "request_id": service_text(output.request_id),
                            "attempts": output.attempts,
                        },
                        token,
                    )
                console.tick(stats, anyio.current_time())

    async with Client(config) as client, anyio.create_task_group() as tasks:
        tasks.start_soon(read)
        async with receive:
            for _ in range(concurrency):
                tasks.start_soon(work, client, receive.clone())
    console.tick(stats, anyio.current_time(), force=True)
