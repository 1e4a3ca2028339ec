"""GlobalSignOut: input, output, builders, the customizable operation and its error table.

Mirrors the AWS SDK for Rust's ``GlobalSignOutFluentBuilder``. Builders are immutable: every
setter returns a new builder, so a partly filled builder is a reusable template. The access
token is redacted in every representation.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import attrs
import httpx

from .. import errors
from .._config import Config
from .._runtime import CallResult, OperationSpec, RequestMutator, Runtime
from .._token import REDACTED, validate_access_token

_UNSET: Any = object()


def _redacted(value: object) -> str:
    return "None" if value is None else REDACTED


@attrs.frozen
class GlobalSignOutInput:
    """A validated GlobalSignOut request."""

    access_token: str = attrs.field(repr=_redacted)


@attrs.frozen(kw_only=True)
class GlobalSignOutOutput:
    """The result of a confirmed sign-out. The operation returns no fields of its own."""

    request_id: str | None
    """The service's request id (``x-amzn-requestid``), for support cases and logs."""
    attempts: int = 1
    """How many attempts the call took (1 = no retry)."""


ERRORS: Mapping[str, type[errors.ServiceError]] = {
    cls.__name__: cls
    for cls in (
        errors.ResourceNotFoundException,
        errors.InvalidParameterException,
        errors.NotAuthorizedException,
        errors.TooManyRequestsException,
        errors.PasswordResetRequiredException,
        errors.UserNotConfirmedException,
        errors.OperationNotEnabledException,
        errors.InternalErrorException,
        errors.ForbiddenException,
    )
}


def _deserialize(result: CallResult) -> GlobalSignOutOutput:
    return GlobalSignOutOutput(request_id=result.request_id, attempts=result.attempts)


SPEC: OperationSpec[GlobalSignOutInput, GlobalSignOutOutput] = OperationSpec(
    name="GlobalSignOut",
    params=lambda i: {"AccessToken": i.access_token},
    secret=lambda i: i.access_token,
    deserialize=_deserialize,
    errors=ERRORS,
)


@attrs.frozen
class GlobalSignOutInputBuilder:
    """Collects the input; :meth:`build` validates it."""

    _access_token: str | None = attrs.field(default=None, repr=_redacted, alias="access_token")

    def access_token(self, value: str) -> GlobalSignOutInputBuilder:
        return GlobalSignOutInputBuilder(access_token=value)  # its only field; evolve is dearer

    def set_access_token(self, value: str | None) -> GlobalSignOutInputBuilder:
        return attrs.evolve(self, access_token=value)

    def get_access_token(self) -> str | None:
        return self._access_token

    def build(self) -> GlobalSignOutInput:
        """The validated input, or :class:`errors.ConstructionFailure` (the token not echoed)."""
        return GlobalSignOutInput(validate_access_token(self._access_token))


@attrs.frozen
class GlobalSignOutFluentBuilder:
    """Builds and sends a GlobalSignOut call: ``await builder.access_token(t).send()``."""

    _runtime: Runtime = attrs.field(repr=False, alias="runtime")
    _input: GlobalSignOutInputBuilder = attrs.field(
        factory=GlobalSignOutInputBuilder, alias="input"
    )

    def access_token(self, value: str) -> GlobalSignOutFluentBuilder:
        """A valid access token that Cognito issued to the user to sign out."""
        # Both fields given: the same as attrs.evolve, at a fraction of its cost per call.
        return GlobalSignOutFluentBuilder(
            runtime=self._runtime, input=self._input.access_token(value)
        )

    def set_access_token(self, value: str | None) -> GlobalSignOutFluentBuilder:
        return attrs.evolve(self, input=self._input.set_access_token(value))

    def get_access_token(self) -> str | None:
        return self._input.get_access_token()

    def as_input(self) -> GlobalSignOutInputBuilder:
        return self._input

    def customize(self) -> CustomizableOperation:
        """An operation whose request and configuration can be adjusted before sending."""
        return CustomizableOperation(runtime=self._runtime, input=self._input)

    async def send(self) -> GlobalSignOutOutput:
        """Send the request; retryable failures are retried (twice by default).

        Raises a subclass of :class:`errors.SdkError`; nothing is sent if the input or the
        configuration is invalid.
        """
        return await self._runtime.invoke(SPEC, self._input.build)


def _no_override_of_unknown_fields(overrides: Mapping[str, Any]) -> None:
    # The pool and its transport belong to the client, so they cannot change per call.
    known = {f.name for f in attrs.fields(Config)} - {"max_connections", "transport"}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise errors.ConstructionFailure(
            f"config_override got unknown field(s) {unknown}; Config fields are {sorted(known)}"
        )


@attrs.frozen
class CustomizableOperation:
    """A GlobalSignOut call with per-call request mutators and configuration overrides."""

    _runtime: Runtime = attrs.field(repr=False, alias="runtime")
    _input: GlobalSignOutInputBuilder = attrs.field(alias="input")
    _mutators: tuple[RequestMutator, ...] = attrs.field(default=(), alias="mutators")
    _overrides: tuple[tuple[str, Any], ...] = attrs.field(default=(), alias="overrides")

    def mutate_request(self, fn: Callable[[httpx.Request], None]) -> CustomizableOperation:
        """Run ``fn`` on the ``httpx.Request`` of every attempt, just before it is sent."""
        if not callable(fn):
            raise errors.ConstructionFailure("mutate_request needs a callable")
        return attrs.evolve(self, mutators=(*self._mutators, fn))

    def config_override(self, **fields: Any) -> CustomizableOperation:
        """Override Config fields for this call only, e.g. ``retry_config=RetryConfig.disabled()``.

        The retry quota, rate limiter and connection pool stay the client's.
        """
        _no_override_of_unknown_fields(fields)
        return attrs.evolve(self, overrides=(*self._overrides, *fields.items()))

    async def send(self) -> GlobalSignOutOutput:
        config = self._runtime.config
        if self._overrides:
            config = attrs.evolve(config, **dict(self._overrides))
        return await self._runtime.invoke(
            SPEC, self._input.build, config=config, mutators=self._mutators
        )
