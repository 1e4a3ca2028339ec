"""GlobalSignOut: ends every session of the user, everywhere (all app clients).

Mirrors the AWS SDK for Rust's ``GlobalSignOutFluentBuilder``. Everything but the shapes is in
``_builders.py`` and ``_runtime.py``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs

from .. import _validate, errors
from .._operation import Member, Operation, redacted
from ._builders import AccessTokenFluentBuilder, AccessTokenInputBuilder, CustomizableOperation

if TYPE_CHECKING:
    from .._runtime import CallResult

__all__ = [
    "CustomizableOperation",
    "GlobalSignOutFluentBuilder",
    "GlobalSignOutInput",
    "GlobalSignOutInputBuilder",
    "GlobalSignOutOutput",
]


@attrs.frozen
class GlobalSignOutInput:
    """A validated GlobalSignOut request."""

    access_token: str = attrs.field(repr=redacted)


@attrs.frozen(kw_only=True)
class GlobalSignOutOutput:
    """The result of a confirmed sign-out. The operation returns no fields of its own."""

    request_id: str | None
    """The service's request id (``x-amzn-requestid``), for support cases and logs."""
    attempts: int = 1
    """How many attempts the call took (1 = no retry)."""


def _deserialize(result: CallResult) -> GlobalSignOutOutput:
    return GlobalSignOutOutput(request_id=result.request_id, attempts=result.attempts)


OPERATION: Operation[GlobalSignOutInput, GlobalSignOutOutput] = Operation(
    name="GlobalSignOut",
    members=(
        Member("access_token", "AccessToken", _validate.token, required=True, sensitive=True),
    ),
    input=GlobalSignOutInput,
    deserialize=_deserialize,
    errors={
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
    },
    region_from="access_token",
)


class GlobalSignOutInputBuilder(AccessTokenInputBuilder[GlobalSignOutInput, GlobalSignOutOutput]):
    """Collects the input; :meth:`build` validates it."""

    __slots__ = ()
    OPERATION = OPERATION


class GlobalSignOutFluentBuilder(
    AccessTokenFluentBuilder[GlobalSignOutInputBuilder, GlobalSignOutOutput]
):
    """Builds and sends a GlobalSignOut call: ``await builder.access_token(t).send()``."""

    __slots__ = ()
    INPUT = GlobalSignOutInputBuilder
