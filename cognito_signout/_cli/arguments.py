"""What the command was asked to do: its options, checked, and the token it was given.

Tokens are never taken from the command line, because argv is visible to every user of the
machine (``ps``, ``/proc/<pid>/cmdline``): one token comes from ``$COGNITO_ACCESS_TOKEN`` or
stdin (prompted for, without echo, on a terminal), many from ``--tokens-file``.

Device sign-out (issue 10) signs one session out instead of all of them, with RevokeToken:
``--revoke-refresh-token`` says that what is read (stdin, ``$COGNITO_REFRESH_TOKEN``, or each
line of ``--tokens-file``) is a refresh token, and ``--client-id`` names the app client it was
issued to. The names are what the call does and what it takes, as Cognito and the AWS CLI
(``aws cognito-idp revoke-token --client-id``) call them: the flag says outright that the input
is a refresh token, so a script cannot be mistaken for a GlobalSignOut of access tokens, and
avoids "device", which in Cognito is the device-tracking feature (ForgetDevice). The client
secret has no option at all, only ``$COGNITO_CLIENT_SECRET``; the client id may also come from
``$COGNITO_CLIENT_ID`` for those who keep it out of argv too. None of the three is printed.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NamedTuple, NoReturn

from .exits import EXIT_USAGE

if TYPE_CHECKING:
    from .._config import Config

TOKEN_ENV = "COGNITO_ACCESS_TOKEN"
REFRESH_TOKEN_ENV = "COGNITO_REFRESH_TOKEN"
CLIENT_ID_ENV = "COGNITO_CLIENT_ID"
CLIENT_SECRET_ENV = "COGNITO_CLIENT_SECRET"
_MAX_STDIN_BYTES = 64 * 1024  # an access or refresh token is 1-2 KiB



class TokenSource(NamedTuple):
    """Which kind of token is read, and the environment variable that may hold one."""

    name: str
    env: str


ACCESS_TOKEN = TokenSource("access token", TOKEN_ENV)
REFRESH_TOKEN = TokenSource("refresh token", REFRESH_TOKEN_ENV)

_EPILOG = """\
The token is read from $COGNITO_ACCESS_TOKEN, else from stdin (prompted for, without echo, on
a terminal). It is never accepted on the command line. With --revoke-refresh-token it is a
refresh token, from $COGNITO_REFRESH_TOKEN or stdin, and the app client's secret (if it has
one) comes from $COGNITO_CLIENT_SECRET only. Region, endpoint and retries also come
from the usual AWS settings (AWS_REGION, AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER,
AWS_MAX_ATTEMPTS, AWS_RETRY_MODE, ~/.aws/config); without a region, each token's issuer
names it. No AWS credentials are needed or read.

exit codes:
  0 signed out          3 not authorized      5 other service error
  2 usage error         4 throttled           6 transport failure
  7 app client refused (--revoke-refresh-token: wrong client id or secret, or revocation
    is not enabled for the client)
130 interrupted (a batch still prints its summary)   141 stdout closed (broken pipe)
A batch exits with its most serious failure, in the order 7, 6, 5, 4, 2, 3.

examples:
  printf '%s' "$TOKEN" | cognito-signout --region eu-west-1
  COGNITO_ACCESS_TOKEN=... cognito-signout --json
  cognito-signout --tokens-file sessions.txt --concurrency 32 --json > results.jsonl
  printf '%s' "$REFRESH_TOKEN" | cognito-signout --region eu-west-1 \\
      --revoke-refresh-token --client-id 1example23456789
"""


class UsageError(Exception):
    """A problem with how the command was called; exit code 2, nothing sent."""


class AppClient:
    """For ``--revoke-refresh-token``: the app client the refresh tokens were issued to.

    The command treats both values as secrets: they are scrubbed from what it prints, and
    this object's repr shows neither.
    """

    __slots__ = ("client_id", "client_secret")

    def __init__(self, client_id: str, client_secret: str | None) -> None:
        self.client_id = client_id
        self.client_secret = client_secret

    def __repr__(self) -> str:
        secret = "<hidden>" if self.client_secret else "None"
        return f"AppClient(client_id=<hidden>, client_secret={secret})"

    @property
    def secrets(self) -> tuple[str, ...]:
        """What must never be printed, besides the token."""
        return tuple(value for value in (self.client_id, self.client_secret) if value)


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
    device = parser.add_argument_group(
        "device sign-out (RevokeToken): one session instead of every session"
    )
    device.add_argument(
        "--revoke-refresh-token", action="store_true",
        help=f"the token (or each line of --tokens-file) is a refresh token: revoke it and the "
        f"tokens issued from it. Read from ${REFRESH_TOKEN_ENV} or stdin; the client secret, "
        f"if the app client has one, from ${CLIENT_SECRET_ENV} only. Needs a region",
    )
    device.add_argument(
        "--client-id", metavar="ID",
        help=f"the app client the refresh tokens were issued to (or ${CLIENT_ID_ENV})",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return parser


def parse_arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    """The options; argparse's usage error (exit 2) for a bad one or a stray argument."""
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if any(arg.partition("=")[0] == "--client-secret" for arg in extra):
        parser.error(
            f"there is no --client-secret option, and the arguments are not shown: a client "
            f"secret is read from ${CLIENT_SECRET_ENV} only, never from the command line (it "
            "is visible to other users)"
        )
    if extra:
        # Never echo them: a stray argument is most often a token typed on the command line.
        source = token_source(args)
        parser.error(
            f"{len(extra)} unexpected argument(s), not shown. {source.name.capitalize()}s are "
            f"read from stdin or ${source.env}, never from the command line (it is visible to "
            "other users)"
        )
    return args


def token_source(args: argparse.Namespace) -> TokenSource:
    """The kind of token the command reads: refresh tokens with --revoke-refresh-token."""
    return REFRESH_TOKEN if args.revoke_refresh_token else ACCESS_TOKEN


def app_client(args: argparse.Namespace) -> AppClient | None:
    """The app client for ``--revoke-refresh-token`` (None without it), checked before any
    token is read; a UsageError for a missing or malformed value. No message quotes a value:
    any of them may be a secret pasted by mistake."""
    import re

    if not args.revoke_refresh_token:
        if args.client_id is not None:
            raise UsageError("--client-id is only used with --revoke-refresh-token")
        return None
    client_id = (args.client_id or os.environ.get(CLIENT_ID_ENV, "")).strip()
    if not client_id:
        raise UsageError(
            f"--revoke-refresh-token needs the app client's id: --client-id ID or "
            f"${CLIENT_ID_ENV}"
        )
    if re.fullmatch(r"[\w+]{1,128}", client_id, re.ASCII) is None:
        raise UsageError(
            "the client id (not shown) is not one: 1 to 128 letters, digits, '_' or '+'"
        )
    secret = os.environ.get(CLIENT_SECRET_ENV, "").strip() or None
    if secret is not None and re.fullmatch(r"[\w+]{24,64}", secret, re.ASCII) is None:
        raise UsageError(
            f"${CLIENT_SECRET_ENV} (not shown) is not a client secret: 24 to 64 letters, "
            "digits, '_' or '+'"
        )
    return AppClient(client_id, secret)


def build_config(args: argparse.Namespace, *, batch: bool) -> Config:
    """The SDK configuration the options and the environment ask for.

    A bad setting is a ConstructionFailure, and a refresh token without a region to send it to
    a UsageError, both raised before any token is read.
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
    if args.revoke_refresh_token and config.region is None and config.endpoint_url is None:
        raise UsageError(
            "--revoke-refresh-token needs a region (--region, $AWS_REGION or the profile's "
            "region): unlike an access token, a refresh token does not say where it was issued"
        )
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


def read_single_token(source: TokenSource) -> str:
    """The one token to sign out: from the source's variable, else one line of stdin."""
    from_env = os.environ.get(source.env, "")
    if from_env.strip():
        return clean_token(from_env)
    missing = f"no {source.name}: set ${source.env} or pipe the token on stdin"
    stdin = sys.stdin
    if stdin is None:
        raise UsageError(missing)
    if stdin.isatty():
        import getpass

        raw = getpass.getpass(f"{source.name.capitalize()} (not echoed): ", stream=sys.stderr)
    else:
        raw = stdin.read(_MAX_STDIN_BYTES + 1)
        if len(raw) > _MAX_STDIN_BYTES:
            raise UsageError(
                f"stdin holds more than any {source.name}; for many tokens use --tokens-file -"
            )
    lines = [line for line in raw.splitlines() if line.strip()]
    if len(lines) > 1:
        raise UsageError(
            f"stdin has {len(lines)} non-empty lines; one token is expected "
            "(for many tokens use --tokens-file -)"
        )
    token = clean_token(lines[0]) if lines else ""
    if not token:
        raise UsageError(missing)
    return token
