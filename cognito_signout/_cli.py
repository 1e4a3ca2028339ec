"""The ``cognito-signout`` command (also ``python -m cognito_signout``).

Signs one access token out, read from ``COGNITO_ACCESS_TOKEN`` or stdin, or many from a file
(``--tokens-file``), concurrently: the incident-response case of revoking every session a
service knows of. Tokens are never taken from the command line, because argv is visible to
every user of the machine (``ps``, ``/proc/<pid>/cmdline``), and never printed: every line
this module writes goes through the token scrubber.

Exit codes. A batch exits with its most serious failure, in the order 6, 5, 4, 2, 3: so 3
means every failed token was refused (already dead), 2 that some lines are not tokens (fix
them: a damaged line may hide a live token), and 4 to 6 that some sessions may still be live
(retry those lines; the summary lists them).

====  ===================================================================================
0     signed out (batch: every token)
2     usage error: bad option, no token, malformed token, unreadable tokens file
3     not authorized: Cognito refused the token (revoked, expired, from another pool)
4     throttled: Cognito still throttled after the retries
5     other service error: Cognito answered with another error
6     transport failure: no usable answer (connection, timeout, unreadable response)
130   interrupted (Ctrl-C); a batch still prints its partial summary
141   the reader of stdout went away (``| head``): the run stops
====  ===================================================================================
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import AsyncIterator, Sequence
from typing import IO, TYPE_CHECKING, Any, NoReturn

if TYPE_CHECKING:
    from ._config import Config
    from .errors import SdkError

__all__ = ["EXIT_CODES", "main"]

EXIT_OK = 0
EXIT_USAGE = 2
EXIT_NOT_AUTHORIZED = 3
EXIT_THROTTLED = 4
EXIT_SERVICE_ERROR = 5
EXIT_TRANSPORT = 6
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, as a shell reports a process killed by it

EXIT_CODES = {
    EXIT_OK: "signed out (batch: every token)",
    EXIT_USAGE: "usage error: bad option, no token, malformed token, unreadable tokens file",
    EXIT_NOT_AUTHORIZED: "not authorized: Cognito refused the token (revoked, expired, ...)",
    EXIT_THROTTLED: "throttled: still throttled after the retries",
    EXIT_SERVICE_ERROR: "other service error",
    EXIT_TRANSPORT: "transport failure: no usable answer (connection, timeout, bad response)",
    EXIT_INTERRUPTED: "interrupted",
    EXIT_BROKEN_PIPE: "the reader of the output went away (broken pipe)",
}

TOKEN_ENV = "COGNITO_ACCESS_TOKEN"
_MAX_STDIN_BYTES = 64 * 1024  # an access token is 1-2 KiB

_EPILOG = """\
The token is read from $COGNITO_ACCESS_TOKEN, else from stdin (prompted for, without echo, on
a terminal). It is never accepted on the command line. Region, endpoint and retries also come
from the usual AWS settings (AWS_REGION, AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER,
AWS_MAX_ATTEMPTS, AWS_RETRY_MODE, ~/.aws/config); without a region, each token's issuer
names it. No AWS credentials are needed or read.

exit codes:
  0 signed out          3 not authorized      5 other service error
  2 usage error         4 throttled           6 transport failure
130 interrupted (a batch still prints its summary)   141 stdout closed (broken pipe)
A batch exits with its most serious failure, in the order 6, 5, 4, 2, 3.

examples:
  printf '%s' "$TOKEN" | cognito-signout --region eu-west-1
  COGNITO_ACCESS_TOKEN=... cognito-signout --json
  cognito-signout --tokens-file sessions.txt --concurrency 32 --json > results.jsonl
"""


class UsageError(Exception):
    """A problem with how the command was called; exit code 2, nothing sent."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # argparse quotes offending values back, and a value may be a token pasted by mistake.
        from ._token import scrub

        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {scrub(message, None)}\n")


def _positive_int(limit: int) -> Any:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError("must be a whole number") from None
        if not 1 <= value <= limit:
            raise argparse.ArgumentTypeError(f"must be between 1 and {limit}")
        return value

    return parse


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError("must be a number of seconds") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError("must be a number of seconds > 0")
    return value


def build_parser() -> argparse.ArgumentParser:
    from ._version import __version__

    parser = _Parser(
        prog="cognito-signout",
        description="Sign Amazon Cognito users out of every session (GlobalSignOut).",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--region", help="AWS region of the user pool, e.g. eu-west-1")
    parser.add_argument("--endpoint-url", metavar="URL", help="send to this URL instead")
    parser.add_argument(
        "--max-attempts", type=_positive_int(20), metavar="N",
        help="attempts per token, the first included (default 3)",
    )
    parser.add_argument(
        "--retry-mode", choices=("standard", "adaptive"),
        help="'adaptive' also slows down on throttling (default: standard; adaptive in batch)",
    )
    parser.add_argument(
        "--timeout", type=_seconds, metavar="SECONDS",
        help="give up on a token after this long, retries included",
    )
    output = parser.add_mutually_exclusive_group()
    output.add_argument(
        "--json", action="store_true",
        help="machine output on stdout: one JSON object (batch: one per token, then a summary)",
    )
    output.add_argument(
        "-q", "--quiet", action="store_true", help="print nothing but usage errors"
    )
    batch = parser.add_argument_group("batch mode")
    batch.add_argument(
        "--tokens-file", metavar="FILE",
        help="sign out every token in FILE, one per line ('-' for stdin); blank lines and "
        "lines starting with '#' are skipped",
    )
    batch.add_argument(
        "--concurrency", type=_positive_int(1000), default=16, metavar="N",
        help="tokens in flight at once (default 16)",
    )
    batch.add_argument(
        "--no-progress", action="store_true", help="no progress bar, even on a terminal"
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; returns the exit code (the console script exits with it)."""
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:
        # Never echo them: a stray argument is most often a token typed on the command line.
        parser.error(
            f"{len(extra)} unexpected argument(s), not shown. Access tokens are read from "
            f"stdin or ${TOKEN_ENV}, never from the command line (it is visible to other "
            "users)"
        )
    try:
        return _run(args)
    except UsageError as exc:
        from ._token import scrub

        print(f"cognito-signout: error: {scrub(str(exc), None)}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:
        return _output_closed()
    except BaseExceptionGroup as group:  # from a batch's task group
        if group.split(BrokenPipeError)[1] is None:
            return _output_closed()
        raise


def _output_closed() -> int:
    """The reader of our output went away (``| head``): stop, with no traceback."""
    # Python flushes stdout once more at exit; point it at /dev/null so that cannot fail.
    with contextlib.suppress(OSError, ValueError, AttributeError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    return EXIT_BROKEN_PIPE


def _run(args: argparse.Namespace) -> int:
    from . import errors

    batch = args.tokens_file is not None
    try:
        config = _config(args, batch=batch)
    except errors.ConstructionFailure as exc:
        raise UsageError(str(exc)) from None
    if batch:
        return _run_batch(
            config,
            args.tokens_file,
            concurrency=args.concurrency,
            console=_Console(
                json_mode=args.json,
                quiet=args.quiet,
                progress=not args.no_progress and not args.quiet and _isatty(sys.stderr),
            ),
        )
    token = _read_single_token()
    return _sign_out_one(config, token, json_mode=args.json, quiet=args.quiet)


def _config(args: argparse.Namespace, *, batch: bool) -> Config:
    import attrs

    from ._config import Config
    from ._endpoints import resolve_endpoint

    overrides: dict[str, Any] = {"app_name": "cognito-signout-cli"}
    if args.region:
        overrides["region"] = args.region
    if args.endpoint_url:
        overrides["endpoint_url"] = args.endpoint_url
    if batch:
        overrides["max_connections"] = args.concurrency
    config = Config.from_env(**overrides)
    retry = config.retry_config
    if args.retry_mode:
        retry = attrs.evolve(retry, mode=args.retry_mode)
    elif batch and not os.environ.get("AWS_RETRY_MODE"):
        # At volume throttling is expected: slow down instead of burning retries on it.
        retry = attrs.evolve(retry, mode="adaptive")
    if args.max_attempts:
        retry = retry.with_max_attempts(args.max_attempts)
    timeouts = config.timeout_config
    if args.timeout:
        timeouts = attrs.evolve(timeouts, operation_timeout=args.timeout)
    config = attrs.evolve(config, retry_config=retry, timeout_config=timeouts)
    if config.region is not None or config.endpoint_url is not None:
        # A bad endpoint setting is a usage error, before any token is read.
        resolve_endpoint(
            config.region,
            use_fips=config.use_fips,
            use_dualstack=config.use_dualstack,
            endpoint_url=config.endpoint_url,
        )
    return config


def clean_token(raw: str) -> str:
    """Without surrounding whitespace, a copied ``Bearer `` prefix, or quotes (CSV exports)."""
    token = raw.strip()
    if len(token) >= 2 and token[0] == token[-1] and token[0] in "\"'":
        token = token[1:-1].strip()
    if token[:7].lower() == "bearer ":
        token = token[7:].strip()
    return token


def _read_single_token() -> str:
    from_env = os.environ.get(TOKEN_ENV, "")
    if from_env.strip():
        return clean_token(from_env)
    stdin = sys.stdin
    if stdin is None:
        raise UsageError(f"no access token: set ${TOKEN_ENV} or pipe the token on stdin")
    if stdin.isatty():
        import getpass

        raw = getpass.getpass("Access token (not echoed): ", stream=sys.stderr)
    else:
        raw = stdin.read(_MAX_STDIN_BYTES + 1)
        if len(raw) > _MAX_STDIN_BYTES:
            raise UsageError(
                "stdin holds more than any access token; for many tokens use --tokens-file -"
            )
    lines = [line for line in raw.splitlines() if line.strip()]
    if len(lines) > 1:
        raise UsageError(
            f"stdin has {len(lines)} non-empty lines; one token is expected "
            "(for many tokens use --tokens-file -)"
        )
    token = clean_token(lines[0]) if lines else ""
    if not token:
        raise UsageError(f"no access token: set ${TOKEN_ENV} or pipe the token on stdin")
    return token


# --- one token ------------------------------------------------------------------------------


def outcome(exc: SdkError) -> tuple[str, int]:
    """The ``status`` name and exit code of a failed sign-out."""
    from . import _retry, errors

    if isinstance(exc, errors.ConstructionFailure):
        return "invalid_token", EXIT_USAGE
    if isinstance(exc, errors.NotAuthorizedException):
        return "not_authorized", EXIT_NOT_AUTHORIZED
    if isinstance(exc, errors.ServiceError):
        if _retry.classify(exc) is _retry.ErrorKind.THROTTLING:
            return "throttled", EXIT_THROTTLED
        return "service_error", EXIT_SERVICE_ERROR
    if isinstance(exc, errors.DispatchFailure | errors.TimeoutError | errors.ResponseError):
        return "transport_error", EXIT_TRANSPORT
    return "service_error", EXIT_SERVICE_ERROR


def failure_fields(exc: SdkError) -> dict[str, Any]:
    """What may be said about a failure: kind, code, request id, message. Never a token.

    The message is the SDK's, which scrubs the token out of anything Cognito echoes; the
    console scrubs again before printing. Code, request id and message are an SDK error's
    fields and text, which hold no control character (see :mod:`cognito_signout.errors`).
    """
    status, code = outcome(exc)
    return {
        "status": status,
        "error": getattr(exc, "code", None) or type(exc).__name__,
        "request_id": getattr(exc, "request_id", None),
        "exit_code": code,
        "message": str(exc),
    }


def _sign_out_one(config: Config, token: str, *, json_mode: bool, quiet: bool) -> int:
    import json

    import anyio

    from . import errors
    from ._client import Client
    from ._token import scrub

    async def call() -> Any:
        async with Client(config) as client:
            return await client.global_sign_out().access_token(token).send()

    def emit(stream: IO[str], text: str) -> None:
        stream.write(scrub(text, token) + "\n")
        stream.flush()

    try:
        output = anyio.run(call)
    except errors.SdkError as exc:
        fields = failure_fields(exc)
        if json_mode:
            emit(sys.stdout, json.dumps({"ok": False, **fields}))
        elif not quiet:
            # fields["message"] is str(exc): control characters escaped by the error itself
            emit(sys.stderr, f"cognito-signout: {fields['status'].replace('_', ' ')}: "
                 f"{fields['message']}")
        return int(fields["exit_code"])
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    request_id = _service_text(output.request_id)
    if json_mode:
        emit(
            sys.stdout,
            json.dumps(
                {
                    "ok": True,
                    "status": "signed_out",
                    "request_id": request_id,
                    "attempts": output.attempts,
                    "exit_code": EXIT_OK,
                }
            ),
        )
    elif not quiet:
        tries = "" if output.attempts == 1 else f", {output.attempts} attempts"
        emit(sys.stdout, f"signed out (request id {request_id or 'none'}{tries})")
    return EXIT_OK


def _service_text(text: str | None) -> str | None:
    """A value the service sent, as it may be printed: control characters shown as escapes.

    An error's fields are escaped when the error is built; this is for what a success carries
    (its request id header), which would otherwise reach the terminal as received.
    """
    from .errors import _printable_or_none

    return _printable_or_none(text)


# --- many tokens ----------------------------------------------------------------------------

_MAX_LINE_BYTES = 16 * 1024
_QUEUED_LINES = 1024  # read ahead of the workers, at most
_SHOW_LINES = 50  # line numbers listed per category in the human summary


def _isatty(stream: IO[str] | None) -> bool:
    try:
        return stream is not None and stream.isatty()
    except (AttributeError, ValueError):
        return False


# A batch exits with its most serious failure. A refused token (3) is dead already; a damaged
# line (2) may hide a live token and needs fixing; 4-6 may have left a session live.
_SEVERITY = (EXIT_OK, EXIT_NOT_AUTHORIZED, EXIT_USAGE, EXIT_THROTTLED, EXIT_SERVICE_ERROR,
             EXIT_TRANSPORT)


class _Stats:
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
        if _SEVERITY.index(code) > _SEVERITY.index(self.exit_code):
            self.exit_code = code

    @property
    def failures(self) -> int:
        return sum(len(lines) for lines in self.failed.values())


class _Console:
    """All batch output: scrubbed, kept apart from the progress bar, silenced by --quiet."""

    def __init__(self, *, json_mode: bool, quiet: bool, progress: bool) -> None:
        self.json_mode = json_mode
        self.quiet = quiet
        self.progress = progress
        self.total: int | None = None
        self._bar_shown = False
        self._last_draw = 0.0
        self.started = 0.0  # set when the batch starts, on the event loop's clock

    def _write(self, stream: IO[str], text: str) -> None:
        from ._token import scrub

        self._clear_bar()
        stream.write(scrub(text, None) + "\n")

    def record(self, fields: dict[str, Any]) -> None:
        """One token's outcome: a JSON line, or a line on stderr for a human if it failed."""
        import json

        if self.quiet:
            return
        if self.json_mode:
            self._write(sys.stdout, json.dumps(fields))
            sys.stdout.flush()  # consumers follow a long run as it goes
        elif fields["status"] == "duplicate":
            self._write(
                sys.stderr, f"line {fields['line']}: duplicate of line {fields['duplicate_of']}, "
                "skipped",
            )
        elif fields["status"] != "signed_out":
            self._write(
                sys.stderr,
                f"line {fields['line']}: {fields['status'].replace('_', ' ')}: "
                f"{fields['message']}",
            )

    def tick(self, stats: _Stats, now: float, *, force: bool = False) -> None:
        if not self.progress or (not force and now - self._last_draw < 0.1):
            return
        self._last_draw = now
        elapsed = max(now - self.started, 1e-9)
        rate = stats.finished / elapsed
        done = stats.finished + stats.duplicates + (stats.lines - stats.tokens - stats.duplicates)
        if self.total:
            fraction = min(done / self.total, 1.0)
            filled = int(fraction * 24)
            eta = (self.total - done) / rate if rate > 0 else 0.0
            text = (
                f"[{'#' * filled}{'-' * (24 - filled)}] {done}/{self.total} lines "
                f"{fraction:4.0%}  {rate:.0f}/s  ETA {eta:.0f}s"
            )
        else:
            text = f"{done} lines  {rate:.0f}/s"
        if stats.failures:
            text += f"  failed {stats.failures}"
        sys.stderr.write("\r\x1b[K" + text)
        sys.stderr.flush()
        self._bar_shown = True

    def _clear_bar(self) -> None:
        if self._bar_shown:
            sys.stderr.write("\r\x1b[K")
            self._bar_shown = False

    def summary(self, stats: _Stats, elapsed: float, *, interrupted: bool) -> None:
        import json

        self._clear_bar()
        in_flight = stats.tokens - stats.finished
        if self.quiet:
            return
        if self.json_mode:
            self._write(
                sys.stdout,
                json.dumps(
                    {
                        "summary": {
                            "lines": stats.lines,
                            "tokens": stats.tokens,
                            "signed_out": stats.signed_out,
                            "failed": stats.failures,
                            "duplicates": stats.duplicates,
                            "by_status": {k: len(v) for k, v in sorted(stats.failed.items())},
                            "unfinished": in_flight,
                            "interrupted": interrupted,
                            "elapsed_s": round(elapsed, 3),
                            "exit_code": EXIT_INTERRUPTED if interrupted else stats.exit_code,
                        }
                    }
                ),
            )
            sys.stdout.flush()
            return
        text = (
            f"signed out {stats.signed_out} of {stats.tokens} token"
            f"{'' if stats.tokens == 1 else 's'} in {elapsed:.1f} s"
        )
        if stats.failures:
            kinds = ", ".join(
                f"{status.replace('_', ' ')} {len(lines)}"
                for status, lines in sorted(stats.failed.items())
            )
            text += f"; {stats.failures} failed ({kinds})"
        if stats.duplicates:
            text += f"; {stats.duplicates} duplicate line(s) skipped"
        lines = [text]
        if interrupted:
            lines.append(f"interrupted: {in_flight} token(s) in flight, the rest not read")
        for label, statuses in (
            ("may still be live, retry lines", ("throttled", "service_error", "transport_error")),
            ("not tokens, fix lines", ("invalid_token",)),
        ):
            numbers = sorted(n for status in statuses for n in stats.failed.get(status, []))
            if numbers:
                shown = ", ".join(map(str, numbers[:_SHOW_LINES]))
                hidden = len(numbers) - _SHOW_LINES
                more = f" and {hidden} more" if hidden > 0 else ""
                lines.append(f"{label}: {shown}{more}")
        for line in lines:
            self._write(sys.stdout, line)
        sys.stdout.flush()


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


async def _line_batches(stream: IO[bytes]) -> AsyncIterator[list[tuple[bytes, bool]]]:
    """The lines read so far, in batches, read on a daemon thread line by line.

    Line by line so that tokens piped in slowly (``tail -f``, a script) are signed out as they
    come. Not on an anyio worker thread: those are joined at exit, and one blocked reading a
    stdin that never closes would keep an interrupted batch from exiting.
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
                    raise _ReadError(f"cannot read the tokens: {type(item).__name__}: {item}")
                batch.append(item)
        except queue.Empty:
            pass
        if batch:
            yield batch
        else:
            await anyio.sleep(0.005)


class _ReadError(Exception):
    """The tokens file failed mid-way (an I/O error); the batch stops with what it has."""


def _count_lines(stream: IO[bytes]) -> int | None:
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


def _open_tokens(path: str) -> IO[bytes]:
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
        return open(path, "rb")  # closed by _run_batch
    except OSError as exc:
        raise UsageError(f"cannot read the tokens file: {exc.strerror or exc}") from None


def _run_batch(config: Config, path: str, *, concurrency: int, console: _Console) -> int:
    import time

    import anyio

    stream = _open_tokens(path)
    # Our copy of stdin stays open: after Ctrl-C the reader thread may still be blocked in it,
    # and closing would wait for that read. The process is about to end anyway.
    owned = path != "-"
    stats = _Stats()
    started = time.monotonic()
    interrupted = False
    try:
        if console.progress:
            console.total = _count_lines(stream)
        anyio.run(_batch, config, stream, concurrency, stats, console)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        if owned:
            stream.close()
    console.summary(stats, time.monotonic() - started, interrupted=interrupted)
    if interrupted:
        return EXIT_INTERRUPTED
    if stats.read_error is not None:
        from ._token import scrub

        message = f"{stats.read_error} (after line {stats.lines})"
        print(f"cognito-signout: error: {scrub(message, None)}", file=sys.stderr)
        return max(stats.exit_code, EXIT_USAGE)
    return stats.exit_code


async def _batch(
    config: Config, stream: IO[bytes], concurrency: int, stats: _Stats, console: _Console
) -> None:
    import hashlib

    import anyio

    from . import errors
    from ._client import Client

    send, receive = anyio.create_memory_object_stream[tuple[int, str]](concurrency * 2)
    console.started = anyio.current_time()

    async def read() -> None:
        seen: dict[bytes, int] = {}
        async with send:
            try:
                async for batch in _line_batches(stream):
                    await accept(batch, seen)
            except _ReadError as exc:
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
                try:
                    output = await client.global_sign_out().access_token(token).send()
                except errors.SdkError as exc:
                    fields = failure_fields(exc)
                    stats.fail(line, fields["status"], fields["exit_code"])
                    console.record({"line": line, **fields})
                else:
                    stats.finished += 1
                    stats.signed_out += 1
                    console.record(
                        {
                            "line": line,
                            "status": "signed_out",
                            "request_id": _service_text(output.request_id),
                            "attempts": output.attempts,
                        }
                    )
                console.tick(stats, anyio.current_time())

    async with Client(config) as client, anyio.create_task_group() as tasks:
        tasks.start_soon(read)
        async with receive:
            for _ in range(concurrency):
                tasks.start_soon(work, client, receive.clone())
    console.tick(stats, anyio.current_time(), force=True)
