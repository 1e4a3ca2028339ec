"""The ``cognito-signout`` command (also ``python -m cognito_signout``).

Signs one access token out, read from ``COGNITO_ACCESS_TOKEN`` or stdin, or many from a file
(``--tokens-file``), concurrently: the incident-response case of revoking every session a
service knows of. Tokens are never taken from the command line, because argv is visible to
every user of the machine (``ps``, ``/proc/<pid>/cmdline``), and never printed: every line
this command writes goes through the token scrubber.

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

The modules, one job each: :mod:`.arguments` (options, configuration, reading the token),
:mod:`.one` (one sign-out and its output), :mod:`.batch` (the tokens-file runner) with
:mod:`.tokens_file` (reading the lines) and :mod:`.console` (its records, progress bar and
summary), :mod:`.outcomes` (a result's status, exit code and printable fields) and
:mod:`.exits` (the exit codes).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Sequence

from .arguments import UsageError, build_parser, parse_arguments
from .exits import EXIT_BROKEN_PIPE, EXIT_CODES, EXIT_USAGE

__all__ = ["EXIT_CODES", "build_parser", "main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; returns the exit code (the console script exits with it)."""
    args = parse_arguments(argv)
    try:
        return _run(args)
    except UsageError as exc:
        from .._token import scrub

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
    from .. import errors
    from .arguments import build_config, read_single_token

    batch = args.tokens_file is not None
    try:
        config = build_config(args, batch=batch)
    except errors.ConstructionFailure as exc:
        raise UsageError(str(exc)) from None
    if batch:
        from .batch import run_batch
        from .console import Console, isatty

        return run_batch(
            config,
            args.tokens_file,
            concurrency=args.concurrency,
            console=Console(
                json_mode=args.json,
                quiet=args.quiet,
                progress=not args.no_progress and not args.quiet and isatty(sys.stderr),
            ),
        )
    from .one import sign_out_one

    token = read_single_token()
    return sign_out_one(config, token, json_mode=args.json, quiet=args.quiet)
