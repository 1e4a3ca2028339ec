"""RevokeToken: signs a user out of one device (one session).

It ends one refresh token and the access and ID tokens issued from it; the user's other
sessions live on. Mirrors the AWS SDK for Rust's ``RevokeTokenFluentBuilder``. A refresh token
is opaque, so the region must be configured: nothing in the input can route it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import attrs

from .. import _validate, errors
from .._operation import Member, Operation, redacted
from ._builders import FluentBuilder, InputBuilder

if TYPE_CHECKING:
    from typing import Self

    from .._runtime import CallResult

__all__ = ["RevokeTokenFluentBuilder", "RevokeTokenInput", "RevokeTokenInputBuilder",
           "RevokeTokenOutput"]

RevokeAssociatedSessions = Literal["NONE", "LINKED"]


@attrs.frozen
class RevokeTokenInput:
    """A validated RevokeToken request. Token, ClientId and ClientSecret are all sensitive."""

    token: str = attrs.field(repr=redacted)
    client_id: str = attrs.field(repr=redacted)
    client_secret: str | None = attrs.field(repr=redacted)
    revoke_associated_sessions: RevokeAssociatedSessions | None


@attrs.frozen(kw_only=True)
class RevokeTokenOutput:
    """The result of a confirmed revocation. The operation returns no fields of its own."""

    request_id: str | None
    """The service's request id (``x-amzn-requestid``), for support cases and logs."""
    attempts: int = 1
    """How many attempts the call took (1 = no retry)."""


def _deserialize(result: CallResult) -> RevokeTokenOutput:
    return RevokeTokenOutput(request_id=result.request_id, attempts=result.attempts)


OPERATION: Operation[RevokeTokenInput, RevokeTokenOutput] = Operation(
    name="RevokeToken",
    members=(
        Member("token", "Token", _validate.token, required=True, sensitive=True),
        Member("client_id", "ClientId", _validate.client_id, required=True, sensitive=True),
        Member("client_secret", "ClientSecret", _validate.client_secret, sensitive=True),
        Member("revoke_associated_sessions", "RevokeAssociatedSessions",
               _validate.one_of("NONE", "LINKED")),
    ),
    input=RevokeTokenInput,
    deserialize=_deserialize,
    errors={
        cls.__name__: cls
        for cls in (
            errors.TooManyRequestsException,
            errors.InternalErrorException,
            errors.UnauthorizedException,
            errors.InvalidParameterException,
            errors.UnsupportedOperationException,
            errors.UnsupportedTokenTypeException,
            errors.ForbiddenException,
            errors.OperationNotEnabledException,
        )
    },
    region_from=None,  # a refresh token is opaque: the region must be configured
)


class RevokeTokenInputBuilder(InputBuilder[RevokeTokenInput, RevokeTokenOutput]):
    """Collects the input; :meth:`build` validates it."""

    __slots__ = ()
    OPERATION = OPERATION

    def token(self, value: str) -> Self:
        return self._set("token", value)

    def set_token(self, value: str | None) -> Self:
        return self._set("token", value)

    def get_token(self) -> str | None:
        return self._get("token")  # type: ignore[no-any-return]

    def client_id(self, value: str) -> Self:
        return self._set("client_id", value)

    def set_client_id(self, value: str | None) -> Self:
        return self._set("client_id", value)

    def get_client_id(self) -> str | None:
        return self._get("client_id")  # type: ignore[no-any-return]

    def client_secret(self, value: str) -> Self:
        return self._set("client_secret", value)

    def set_client_secret(self, value: str | None) -> Self:
        return self._set("client_secret", value)

    def get_client_secret(self) -> str | None:
        return self._get("client_secret")  # type: ignore[no-any-return]

    def revoke_associated_sessions(self, value: RevokeAssociatedSessions) -> Self:
        return self._set("revoke_associated_sessions", value)

    def set_revoke_associated_sessions(self, value: RevokeAssociatedSessions | None) -> Self:
        return self._set("revoke_associated_sessions", value)

    def get_revoke_associated_sessions(self) -> RevokeAssociatedSessions | None:
        return self._get("revoke_associated_sessions")  # type: ignore[no-any-return]


class RevokeTokenFluentBuilder(FluentBuilder[RevokeTokenInputBuilder, RevokeTokenOutput]):
    """Builds and sends a RevokeToken call:
    ``await client.revoke_token().token(refresh).client_id(cid).send()``."""

    __slots__ = ()
    INPUT = RevokeTokenInputBuilder

    def token(self, value: str) -> Self:
        """The refresh token to revoke (with the access and ID tokens issued from it)."""
        return self._with(self._input.token(value))

    def set_token(self, value: str | None) -> Self:
        return self._with(self._input.set_token(value))

    def get_token(self) -> str | None:
        return self._input.get_token()

    def client_id(self, value: str) -> Self:
        """The app client the refresh token was issued to."""
        return self._with(self._input.client_id(value))

    def set_client_id(self, value: str | None) -> Self:
        return self._with(self._input.set_client_id(value))

    def get_client_id(self) -> str | None:
        return self._input.get_client_id()

    def client_secret(self, value: str) -> Self:
        """The app client's secret, for app clients that have one."""
        return self._with(self._input.client_secret(value))

    def set_client_secret(self, value: str | None) -> Self:
        return self._with(self._input.set_client_secret(value))

    def get_client_secret(self) -> str | None:
        return self._input.get_client_secret()

    def revoke_associated_sessions(self, value: RevokeAssociatedSessions) -> Self:
        """``"LINKED"`` also revokes the sessions linked to this one; ``"NONE"`` does not."""
        return self._with(self._input.revoke_associated_sessions(value))

    def set_revoke_associated_sessions(self, value: RevokeAssociatedSessions | None) -> Self:
        return self._with(self._input.set_revoke_associated_sessions(value))

    def get_revoke_associated_sessions(self) -> RevokeAssociatedSessions | None:
        return self._input.get_revoke_associated_sessions()
