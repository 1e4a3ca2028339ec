"""A batch's output: one record per token, the progress bar, and the summary.

Everything is scrubbed of anything token-shaped, kept apart from the progress bar (which is
wiped before any other line), and silenced by ``--quiet``.
"""

from __future__ import annotations

import sys
from typing import IO, TYPE_CHECKING, Any

from .exits import EXIT_INTERRUPTED

if TYPE_CHECKING:
    from .batch import Stats

_SHOW_LINES = 50  # line numbers listed per category in the human summary

# The lines a summary lists, by what to do about them (JSON: retry_lines and fix_lines): after
# these a session may still be live, and these are not tokens (a damaged line may hide one).
_RETRY = ("throttled", "service_error", "transport_error", "client_refused")
_FIX = ("invalid_token",)


def isatty(stream: IO[str] | None) -> bool:
    try:
        return stream is not None and stream.isatty()
    except (AttributeError, ValueError):
        return False


def scrubbed(text: str, token: str | None, secrets: tuple[str, ...] = ()) -> str:
    """``text`` without ``token``, the other ``secrets`` (an app client's id and secret), or
    anything token-shaped."""
    from .._token import scrub

    text = scrub(text, token)
    for secret in secrets:
        text = scrub(text, secret)
    return text


class Console:
    """All batch output: scrubbed, kept apart from the progress bar, silenced by --quiet."""

    def __init__(
        self, *, json_mode: bool, quiet: bool, progress: bool, secrets: tuple[str, ...] = ()
    ) -> None:
        self.json_mode = json_mode
        self.quiet = quiet
        self.progress = progress
        self.secrets = secrets  # never printed: the app client's id and secret, if any
        self.total: int | None = None
        self._bar_shown = False
        self._last_draw = 0.0
        self.started = 0.0  # set when the batch starts, on the event loop's clock

    def _write(self, stream: IO[str], text: str, token: str | None = None) -> None:
        self._clear_bar()
        stream.write(scrubbed(text, token, self.secrets) + "\n")

    def record(self, fields: dict[str, Any], token: str | None = None) -> None:
        """One token's outcome: a JSON line, or a line on stderr for a human if it failed."""
        import json

        if self.quiet:
            return
        if self.json_mode:
            self._write(sys.stdout, json.dumps(fields), token)
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
                token,
            )

    def tick(self, stats: Stats, now: float, *, force: bool = False) -> None:
        """Redraw the progress bar (at most every 0.1 s unless forced), if there is one."""
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

    def summary(self, stats: Stats, elapsed: float, *, interrupted: bool) -> None:
        """What the batch did: a JSON object, or a few lines for a human, on stdout."""
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
                            "retry_lines": _line_numbers(stats, _RETRY),
                            "fix_lines": _line_numbers(stats, _FIX),
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
            ("may still be live, retry lines", _RETRY), ("not tokens, fix lines", _FIX)
        ):
            numbers = _line_numbers(stats, statuses)
            if numbers:
                shown = ", ".join(map(str, numbers[:_SHOW_LINES]))
                hidden = len(numbers) - _SHOW_LINES
                more = f" and {hidden} more" if hidden > 0 else ""
                lines.append(f"{label}: {shown}{more}")
        for line in lines:
            self._write(sys.stdout, line)
        sys.stdout.flush()


def _line_numbers(stats: Stats, statuses: tuple[str, ...]) -> list[int]:
    return sorted(n for status in statuses for n in stats.failed.get(status, []))
