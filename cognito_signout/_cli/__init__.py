"""The ``cognito-signout`` command (also ``python -m cognito_signout``).

Signs one access token out, read from ``COGNITO_ACCESS_TOKEN`` or stdin, or many from a file
(``--tokens-file``), concurrently: the incident-response case of revoking every session a
service knows of. Tokens are never taken from the command line, because argv is visible to
every user of the machine (``ps``, ``/proc/<pid>/cmdline``), and never printed: every line
this command writes goes through the token scrubber.

With ``--revoke-refresh-token --client-id ID`` it signs one session out instead (a device
sign-out, RevokeToken): the token read is a refresh token, from ``COGNITO_REFRESH_TOKEN`` or
stdin (or each line of ``--tokens-file``), and the app client's secret, if it has one, comes
from ``COGNITO_CLIENT_SECRET`` only. Every other invocation is unchanged.

Exit codes. A batch exits with its most serious failure, in the order 7, 6, 5, 4, 2, 3: so 3
means every failed token was refused (already dead), 2 that some lines are not tokens (fix
them: a damaged line may hide a live token), 4 to 6 that some sessions may still be live
(retry those lines; the summary lists them), and 7 that the app client was refused (fix the
client id or secret, then retry).

====  ===================================================================================
0     signed out (batch: every token)
2     usage error: bad option, no token, malformed token, unreadable tokens file
3     not authorized: Cognito refused the token (revoked, expired, from another pool)
4     throttled: Cognito still throttled after the retries
5     other service error: Cognito answered with another error
6     transport failure: no usable answer (connection, timeout, unreadable response)
7     app client refused (--revoke-refresh-token): wrong client id or secret, or token
      revocation is not enabled for the client
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
    from .arguments import (
        app_client,
        build_config,
        read_single_token,
        token_source,
    )

    batch = args.tokens_file is not None
    app = app_client(args)  # None unless --revoke-refresh-token
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
            app,
            concurrency=args.concurrency,
            console=Console(
                json_mode=args.json,
                quiet=args.quiet,
                progress=not args.no_progress and not args.quiet and isatty(sys.stderr),
                secrets=app.secrets if app is not None else (),
            ),
        )
    from .one import sign_out_one

    token = read_single_token(token_source(args))
    return sign_out_one(config, token, app, json_mode=args.json, quiet=args.quiet)
