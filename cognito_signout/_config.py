"""Client configuration values, and where they come from (arguments, environment, profile).

Only non-secret settings are ever read: region, endpoint URL, FIPS/dual-stack and retries.
GlobalSignOut is authorized by the user's token, so no credentials are needed or loaded.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypedDict, Unpack

import attrs

from ._endpoints import validate_endpoint_url
from ._retry_config import RetryConfig
from .errors import ConstructionFailure

if TYPE_CHECKING:
    from configparser import ConfigParser

    from ._retry import RetryDetails  # the policy loads with the runtime, not with a Config


def _optional_seconds(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ConstructionFailure(
            f"{attribute.name} must be a number of seconds > 0, or None, got {value!r}"
        )


@attrs.frozen(kw_only=True)
class TimeoutConfig:
    """Time limits, in seconds (``None`` means no limit).

    - ``connect_timeout`` (3.1 s, as the AWS SDK for Rust): establishing a connection.
    - ``read_timeout`` (5 s): waiting for each chunk of the response. Cognito answers
      GlobalSignOut in tens of milliseconds, so 5 s is already a stalled server, not a slow one;
      the operation is idempotent, so ending the attempt and retrying is safe. botocore's 60 s
      would hold a user's logout for minutes across retries.
    - ``operation_attempt_timeout``: one whole attempt; expiry is retried.
    - ``operation_timeout``: the whole call, every attempt and backoff included; expiry ends the
      call with :class:`errors.TimeoutError`, and no retry starts whose backoff would outlast it.
      It also bounds the wait for a free connection.
    """

    connect_timeout: float | None = attrs.field(default=3.1, validator=_optional_seconds)
    read_timeout: float | None = attrs.field(default=5.0, validator=_optional_seconds)
    operation_attempt_timeout: float | None = attrs.field(
        default=None, validator=_optional_seconds
    )
    operation_timeout: float | None = attrs.field(default=None, validator=_optional_seconds)

    @classmethod
    def disabled(cls) -> TimeoutConfig:
        """No time limits at all."""
        return cls(connect_timeout=None, read_timeout=None)


def _optional_str(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is not None and not isinstance(value, str):
        raise ConstructionFailure(f"{attribute.name} must be a str or None, got {value!r}")


def _endpoint_url(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
    # At construction, before any I/O: a bad port or a "user:password@" must not wait for the
    # first call (nor reach repr() or a log). The FIPS/dual-stack combinations are checked when
    # the endpoint is resolved, as overrides may change them per call.
    if isinstance(value, str):
        validate_endpoint_url(value)


def _bool(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, bool):
        raise ConstructionFailure(f"{attribute.name} must be True or False, got {value!r}")


def _instance_of(cls: type) -> Any:
    def check(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
        if not isinstance(value, cls):
            raise ConstructionFailure(
                f"{attribute.name} must be a {cls.__name__}, got {type(value).__name__}"
            )

    return check


_APP_NAME = r"[A-Za-z0-9!#$%&'*+\-.^_`|~]{1,50}"


def _app_name(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is None:
        return
    if not isinstance(value, str) or re.fullmatch(_APP_NAME, value) is None:
        raise ConstructionFailure(
            "app_name must be 1-50 characters of letters, digits and !#$%&'*+-.^_`|~ "
            "(it goes into the User-Agent header)"
        )


def _max_connections(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConstructionFailure(f"max_connections must be an int >= 1, got {value!r}")


Transport = Literal["httpcore", "aiohttp"]


def _transport(_: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value not in ("httpcore", "aiohttp"):
        hint = (
            " ('auto' is gone: aiohttp is used only when asked for, see the README)"
            if value == "auto" else ""
        )
        raise ConstructionFailure(
            f"transport must be 'httpcore' (the default) or 'aiohttp', got {value!r}{hint}"
        )


def _as_hooks(value: object) -> tuple[Any, ...]:
    if callable(value):
        return (value,)
    try:
        return tuple(value)  # type: ignore[arg-type]
    except TypeError:
        raise ConstructionFailure(
            "on_retry must be a callable or a sequence of callables"
        ) from None


def _callables(_: object, attribute: attrs.Attribute[Any], value: tuple[object, ...]) -> None:
    if not all(callable(hook) for hook in value):
        raise ConstructionFailure(f"{attribute.name} must be a sequence of callables")


@attrs.frozen(kw_only=True)
class Config:
    """Everything a :class:`~cognito_signout.Client` needs to know. Frozen; use ``attrs.evolve``.

    ``region`` may be left unset: the region is then read from each access token's issuer (and
    checked strictly), so ``Client()`` works with no configuration at all.
    ``max_connections`` caps the connection pool; calls beyond it queue in FIFO order (bounded
    by ``operation_timeout``) instead of failing.
    ``transport`` picks the I/O under the client's own transport: ``httpcore`` (httpx's own, the
    default, whatever else is installed) or ``aiohttp`` (the ``fast`` extra, asyncio only; also
    ``COGNITO_SIGNOUT_TRANSPORT=aiohttp``). A caller's ``http_client`` is used as given.
    ``on_retry`` hooks receive a :class:`RetryDetails` before each backoff sleep (for metrics
    or tracing); an exception from a hook is logged and ignored.
    """

    region: str | None = attrs.field(default=None, validator=_optional_str)
    endpoint_url: str | None = attrs.field(
        default=None, validator=[_optional_str, _endpoint_url]
    )
    use_fips: bool = attrs.field(default=False, validator=_bool)
    use_dualstack: bool = attrs.field(default=False, validator=_bool)
    retry_config: RetryConfig = attrs.field(
        factory=RetryConfig.standard, validator=_instance_of(RetryConfig)
    )
    timeout_config: TimeoutConfig = attrs.field(
        factory=TimeoutConfig, validator=_instance_of(TimeoutConfig)
    )
    app_name: str | None = attrs.field(default=None, validator=_app_name)
    max_connections: int = attrs.field(default=10, validator=_max_connections)
    transport: Transport = attrs.field(default="httpcore", validator=_transport)
    on_retry: tuple[Callable[[RetryDetails], None], ...] = attrs.field(
        default=(), converter=_as_hooks, validator=_callables
    )

    @classmethod
    def from_env(cls, **overrides: Unpack[ConfigOverrides]) -> Config:
        """Settings from the environment and the ``~/.aws/config`` profile; overrides win.

        ``overrides`` are Config fields (see :class:`ConfigOverrides`): a misspelt name is a
        type error for mypy and pyright, and a :class:`ConstructionFailure` at run time.

        Region: ``AWS_REGION``, ``AWS_DEFAULT_REGION``, the profile's ``region``.
        Endpoint: ``AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER``, ``AWS_ENDPOINT_URL``, the
        profile's ``services`` section or ``endpoint_url`` (all off with
        ``AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true``). ``AWS_USE_FIPS_ENDPOINT``,
        ``AWS_USE_DUALSTACK_ENDPOINT``, ``AWS_MAX_ATTEMPTS``, ``AWS_RETRY_MODE``, each with its
        profile key. Credentials are never read.
        """
        validate_overrides(overrides, per_call=False)
        env = _Environment(os.environ)
        values: dict[str, Any] = {}
        region = env.get("AWS_REGION", None) or env.get("AWS_DEFAULT_REGION", "region")
        if region:
            values["region"] = region
        endpoint = env.endpoint_url()
        if endpoint:
            values["endpoint_url"] = endpoint
        for field, var, key in (
            ("use_fips", "AWS_USE_FIPS_ENDPOINT", "use_fips_endpoint"),
            ("use_dualstack", "AWS_USE_DUALSTACK_ENDPOINT", "use_dualstack_endpoint"),
        ):
            flag = env.get(var, key)
            if flag is not None:
                values[field] = _parse_bool(var, flag)
        retry = overrides.get("retry_config") or RetryConfig.standard()
        mode = env.get("AWS_RETRY_MODE", "retry_mode")
        if mode is not None and "retry_config" not in overrides:
            if mode.strip().lower() == "legacy":
                mode = "standard"  # botocore-only mode: standard is its successor
            normalized: Any = mode.strip().lower()  # RetryConfig refuses an unknown mode
            retry = attrs.evolve(retry, mode=normalized)
        attempts = env.get("AWS_MAX_ATTEMPTS", "max_attempts")
        if attempts is not None and "retry_config" not in overrides:
            try:
                retry = retry.with_max_attempts(int(attempts))
            except ValueError:
                raise ConstructionFailure(
                    f"AWS_MAX_ATTEMPTS / max_attempts must be a whole number, got {attempts!r}"
                ) from None
        values["retry_config"] = retry
        transport = env.get("COGNITO_SIGNOUT_TRANSPORT", None)
        if transport:
            values["transport"] = transport.strip().lower()
        values.update(overrides)
        try:
            return cls(**values)
        except TypeError as exc:
            raise ConstructionFailure(f"invalid Config field: {exc}") from None


class CallOverrides(TypedDict, total=False):
    """The Config fields one call may override (``config_override(**fields)``).

    All of :class:`ConfigOverrides` except ``max_connections`` and ``transport``: the
    connection pool and what carries it belong to the client, not to a call.
    """

    region: str | None
    endpoint_url: str | None
    use_fips: bool
    use_dualstack: bool
    retry_config: RetryConfig
    timeout_config: TimeoutConfig
    app_name: str | None
    on_retry: Callable[[RetryDetails], None] | Sequence[Callable[[RetryDetails], None]]


class ConfigOverrides(CallOverrides, total=False):
    """Every :class:`Config` field, each optional: the keyword arguments of
    :meth:`Config.from_env` and of ``CognitoSignOut(**overrides)``.

    With ``**overrides: Unpack[ConfigOverrides]`` a type checker rejects a misspelt field
    (``Config.from_env(regoin="x")``) or a value of the wrong type; :func:`validate_overrides`
    does the same for the names at run time.
    """

    max_connections: int
    transport: Transport


# The fields that belong to the client (its connection pool), never to one call.
_CLIENT_ONLY = ("max_connections", "transport")


def validate_overrides(fields: Mapping[str, object], *, per_call: bool) -> None:
    """:class:`ConstructionFailure` unless every name in ``fields`` is a Config field.

    ``per_call=True`` (a per-call override) also refuses ``max_connections`` and
    ``transport``. The message names each refused field (with a close match when there is
    one) and lists the valid fields. Values are not checked here: :class:`Config` does that.
    """
    known = [f.name for f in attrs.fields(Config)]
    valid = [name for name in known if not (per_call and name in _CLIENT_ONLY)]
    refused = [name for name in fields if name not in valid]
    if not refused:
        return
    import difflib  # the error path only

    parts = []
    for name in sorted(refused):
        if name in known:  # per call, a field of the client
            parts.append(
                f"unknown field {name!r} for a per-call override (max_connections and "
                "transport belong to the client: set them in its Config)"
            )
            continue
        close = difflib.get_close_matches(name, valid, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        parts.append(f"unknown field {name[:64]!r}{hint}")
    scope = " per call" if per_call else ""
    raise ConstructionFailure(
        f"invalid Config field(s): {'; '.join(parts)}. Valid fields{scope}: "
        f"{', '.join(sorted(valid))}"
    )


def _parse_bool(name: str, raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in ("true", "1"):
        return True
    if lowered in ("false", "0", ""):
        return False
    raise ConstructionFailure(f"{name} must be true or false, got {raw!r}")


class _Environment:
    """Environment variables first, then the active profile of the shared config file."""

    SERVICE_KEY = "cognito_identity_provider"

    def __init__(self, environ: os._Environ[str] | dict[str, str]) -> None:
        self._environ = environ
        self._profile: dict[str, str] | None = None
        self._parser: ConfigParser | None = None

    def get(self, var: str, profile_key: str | None) -> str | None:
        value = self._environ.get(var)
        if value:
            return value
        if profile_key is None:
            return None
        return self.profile().get(profile_key) or None

    def endpoint_url(self) -> str | None:
        ignore = self.get("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "ignore_configured_endpoint_urls")
        if ignore is not None and _parse_bool("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", ignore):
            return None
        for var in ("AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER",):
            if self._environ.get(var):
                return self._environ[var]
        if self._environ.get("AWS_ENDPOINT_URL"):
            return self._environ["AWS_ENDPOINT_URL"]
        profile = self.profile()
        services = profile.get("services")
        if services:
            nested = self._services_section(services).get(self.SERVICE_KEY)
            if nested:
                url = _nested(nested).get("endpoint_url")
                if url:
                    return url
        return profile.get("endpoint_url") or None

    def profile(self) -> dict[str, str]:
        if self._profile is None:
            name = self._environ.get("AWS_PROFILE") or self._environ.get("AWS_DEFAULT_PROFILE")
            name = name or "default"
            section = "default" if name == "default" else f"profile {name}"
            parser = self._read()
            self._profile = dict(parser[section]) if parser.has_section(section) else {}
        return self._profile

    def _services_section(self, name: str) -> dict[str, str]:
        parser = self._read()
        section = f"services {name}"
        return dict(parser[section]) if parser.has_section(section) else {}

    def _read(self) -> ConfigParser:
        # configparser is imported only when a profile is actually read (start-up budget).
        import configparser

        if self._parser is None:
            parser = configparser.ConfigParser(interpolation=None)
            path = self._config_path()
            text = None if path is None else _read_config_file(path)
            if path is not None and text is not None:
                try:
                    parser.read_string(text)
                except configparser.Error as exc:
                    raise _unreadable(path, type(exc).__name__) from None
            self._parser = parser
        return self._parser

    def _config_path(self) -> Path | None:
        """``AWS_CONFIG_FILE`` (``~`` expanded), else ``~/.aws/config``; None without a home."""
        configured = self._environ.get("AWS_CONFIG_FILE")
        try:
            if configured:
                return Path(configured).expanduser()
            return Path.home() / ".aws" / "config"
        except (RuntimeError, KeyError, OSError):  # "Could not determine home directory"
            if configured:
                raise _unreadable(configured, "its '~' names no known home directory") from None
            return None  # no home directory, so no default config file: as if it were missing


# The shared config file holds a few short profiles; anything larger is not one.
_CONFIG_FILE_CAP = 1 << 20


def _unreadable(path: Path | str, reason: str) -> ConstructionFailure:
    # The path only, never the content: a file named by mistake may hold anything.
    return ConstructionFailure(f"cannot read the AWS config file {str(path)!r}: {reason}")


def _read_config_file(path: Path) -> str | None:
    """The file's text, None if it does not exist, or ConstructionFailure.

    Only a regular file of at most 1 MiB is read: ``/dev/zero`` would be read forever, and a
    FIFO would block the open until some writer appeared. The stat before opening turns those
    away without touching them; the open is non-blocking and the fstat after it checks the
    file actually opened, in case the path was swapped in between.
    """
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:  # ValueError: an embedded NUL in the path
        raise _unreadable(path, type(exc).__name__) from None
    _check_regular(path, info)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        return None  # removed since the stat
    except OSError as exc:
        raise _unreadable(path, type(exc).__name__) from None
    try:
        _check_regular(path, os.fstat(fd))
        with open(fd, "rb", closefd=False) as file:
            data = file.read(_CONFIG_FILE_CAP + 1)
    except OSError as exc:
        raise _unreadable(path, type(exc).__name__) from None
    finally:
        os.close(fd)
    if len(data) > _CONFIG_FILE_CAP:
        raise _unreadable(path, "larger than 1 MiB")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise _unreadable(path, "not UTF-8 text") from None


def _check_regular(path: Path, info: os.stat_result) -> None:
    if not stat.S_ISREG(info.st_mode):
        raise _unreadable(path, "not a regular file")
    if info.st_size > _CONFIG_FILE_CAP:
        raise _unreadable(path, "larger than 1 MiB")


def _nested(block: str) -> dict[str, str]:
    """The ``key = value`` lines of an indented sub-section such as a ``services`` entry."""
    out: dict[str, str] = {}
    for line in block.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            out[key.strip()] = value.strip()
    return out
