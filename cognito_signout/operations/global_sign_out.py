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
    from .._revocations import Recording, Revocations
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
    revocation: Recording | None = attrs.field(default=None, eq=False)
    """With ``Client(revocations=...)``: the recorded cutoff that makes the app's own
    ``TokenVerifier`` refuse every token of the user issued up to the sign-out.
    ``revocation.recorded`` says whether it is in the store yet (a Redis store briefly
    unreachable is retried in the background: ``await revocation.wait()``). ``None`` without
    a store. The cutoff is the user of the access token given to the builder (a
    ``customize()`` mutator that rewrites the request body is not looked at)."""


def _deserialize(result: CallResult) -> GlobalSignOutOutput:
    return GlobalSignOutOutput(
        request_id=result.request_id, attempts=result.attempts, revocation=result.recording
    )


async def _revokes(
    operation_input: GlobalSignOutInput, result: CallResult, revocations: Revocations
) -> Recording:
    from .._revocations import record_confirmed_sign_out  # only with a store

    return await record_confirmed_sign_out(
        revocations, operation_input.access_token, result.response.headers.get("date")
    )


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
    revokes=_revokes,
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
