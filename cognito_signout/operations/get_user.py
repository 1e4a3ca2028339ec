"""GetUser: Cognito's own check of whether an access token is still live.

It refuses a revoked token (NotAuthorizedException), so it catches sign-outs made outside this
SDK. Mirrors the AWS SDK for Rust's ``GetUserFluentBuilder``. User attributes are personal data:
they are kept out of every repr.
"""

from __future__ import annotations

import json
import types
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import attrs

from .. import _validate, errors
from .._operation import Member, Operation, redacted
from ._builders import AccessTokenFluentBuilder, AccessTokenInputBuilder

if TYPE_CHECKING:

    from .._runtime import CallResult

__all__ = ["GetUserFluentBuilder", "GetUserInput", "GetUserInputBuilder", "GetUserOutput",
           "MfaOption"]


@attrs.frozen
class GetUserInput:
    """A validated GetUser request."""

    access_token: str = attrs.field(repr=redacted)


@attrs.frozen
class MfaOption:
    """A (legacy) SMS MFA option: how the code is delivered, and to which attribute."""

    delivery_medium: str | None
    attribute_name: str | None


@attrs.frozen(kw_only=True)
class GetUserOutput:
    """The user the access token belongs to. ``user_attributes`` maps names to values."""

    username: str = attrs.field(repr=redacted)
    user_attributes: Mapping[str, str] = attrs.field(repr=redacted)
    mfa_options: tuple[MfaOption, ...] = ()
    preferred_mfa_setting: str | None = None
    user_mfa_setting_list: tuple[str, ...] = ()
    request_id: str | None = None
    """The service's request id (``x-amzn-requestid``), for support cases and logs."""
    attempts: int = 1
    """How many attempts the call took (1 = no retry)."""


def _deserialize(result: CallResult) -> GetUserOutput:
    """The output from the JSON body; a body of another shape is a ResponseError."""
    try:
        document = json.loads(result.body)
        username = document["Username"]
        attributes = {
            _str(item["Name"]): _str(item.get("Value", ""))
            for item in document.get("UserAttributes") or ()
        }
        mfa = tuple(
            MfaOption(_opt(item.get("DeliveryMedium")), _opt(item.get("AttributeName")))
            for item in document.get("MFAOptions") or ()
        )
        settings = tuple(_str(s) for s in document.get("UserMFASettingList") or ())
        preferred = _opt(document.get("PreferredMfaSetting"))
        if not isinstance(username, str):
            raise TypeError("Username")
    except (ValueError, RecursionError, KeyError, TypeError, AttributeError) as exc:
        raise errors.ResponseError(
            f"HTTP {result.response.status_code}: GetUser's answer is not a user "
            f"({type(exc).__name__}); the token's state cannot be confirmed",
            status_code=result.response.status_code,
            request_id=result.request_id,
        ) from None
    return GetUserOutput(
        username=username,
        user_attributes=types.MappingProxyType(attributes),
        mfa_options=mfa,
        preferred_mfa_setting=preferred,
        user_mfa_setting_list=settings,
        request_id=result.request_id,
        attempts=result.attempts,
    )


def _str(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError("not a string")
    return value


def _opt(value: Any) -> str | None:
    return None if value is None else _str(value)


OPERATION: Operation[GetUserInput, GetUserOutput] = Operation(
    name="GetUser",
    members=(
        Member("access_token", "AccessToken", _validate.token, required=True, sensitive=True),
    ),
    input=GetUserInput,
    deserialize=_deserialize,
    errors={
        cls.__name__: cls
        for cls in (
            errors.ResourceNotFoundException,
            errors.InvalidParameterException,
            errors.NotAuthorizedException,
            errors.TooManyRequestsException,
            errors.PasswordResetRequiredException,
            errors.UserNotFoundException,
            errors.UserNotConfirmedException,
            errors.OperationNotEnabledException,
            errors.InternalErrorException,
            errors.ForbiddenException,
        )
    },
    region_from="access_token",
)


class GetUserInputBuilder(AccessTokenInputBuilder[GetUserInput, GetUserOutput]):
    """Collects the input; :meth:`build` validates it."""

    __slots__ = ()
    OPERATION = OPERATION


class GetUserFluentBuilder(AccessTokenFluentBuilder[GetUserInputBuilder, GetUserOutput]):
    """Builds and sends a GetUser call: ``await builder.access_token(t).send()``."""

    __slots__ = ()
    INPUT = GetUserInputBuilder
