"""What the command was asked to do: its options, checked, and the token it was given.

Tokens are never taken from the command line, because argv is visible to every user of the
machine (``ps``, ``/proc/<pid>/cmdline``): one token comes from ``$COGNITO_ACCESS_TOKEN`` or
stdin (prompted for, without echo, on a terminal), many from ``--tokens-file``.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NoReturn

from .exits import EXIT_USAGE

if TYPE_CHECKING:
    from .._config import Config

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
        from .._token import scrub

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
    from .._version import __version__

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


def parse_arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    """The options; argparse's usage error (exit 2) for a bad one or a stray argument."""
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:
        # Never echo them: a stray argument is most often a token typed on the command line.
        parser.error(
            f"{len(extra)} unexpected argument(s), not shown. Access tokens are read from "
            f"stdin or ${TOKEN_ENV}, never from the command line (it is visible to other "
            "users)"
        )
    return args


def build_config(args: argparse.Namespace, *, batch: bool) -> Config:
    """The SDK configuration the options and the environment ask for.

    A bad setting is a ConstructionFailure, raised before any token is read.
    """
    import attrs

    from .._config import Config
    from .._endpoints import resolve_endpoint

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


def read_single_token() -> str:
    """The one token to sign out: from ``$COGNITO_ACCESS_TOKEN``, else one line of stdin."""
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
