"""An operation is data: its members (and which are sensitive), its output, its errors and
where its region comes from. ``Runtime.invoke`` runs any of them; ``operations/`` declares
them, one small module each.

Modelled on smithy-python's ``APIOperation`` and the AWS SDK for Rust's generated code, where
the pipeline is generic and each operation only supplies its shapes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, Generic, NamedTuple, Protocol, TypeVar

from . import errors

if TYPE_CHECKING:
    from ._revocations import Recording, Revocations
    from ._runtime import CallResult

InputT = TypeVar("InputT")
OutputT = TypeVar("OutputT")

REDACTED = "*** Sensitive Data Redacted ***"


def redacted(value: object) -> str:
    """The repr of a sensitive member: whether it is set, never what it is."""
    return "None" if value is None else REDACTED


if TYPE_CHECKING:  # a Protocol class costs its creation at import; only mypy needs it

    class InputSource(Protocol):
        """What holds a call's member values (an input builder): its repr redacts the
        sensitive ones, so it may sit in a frame's locals where a dict of the raw values may
        not."""

        def member_values(self) -> Mapping[str, object]: ...


class Member(NamedTuple):
    """One input member: its Python name, its name on the wire, and its rules.

    This and :class:`Operation` are NamedTuples, not attrs classes: attrs compiles each class's
    methods, and these two are defined at import (the import budget, bench/).
    """

    name: str
    wire: str
    # Turns a set value into the valid one, or raises ConstructionFailure without echoing it.
    validate: Callable[[str, object], object]
    required: bool = False
    # Sensitive members are redacted in every repr and scrubbed from everything the SDK keeps
    # or says (error texts, kept responses and their requests, log records).
    sensitive: bool = False


class Operation(NamedTuple, Generic[InputT, OutputT]):
    """What the runtime needs to know about one operation."""

    name: str
    members: tuple[Member, ...]
    input: Callable[..., InputT]  # the frozen input type, built from validated members
    deserialize: Callable[[CallResult], OutputT]
    errors: Mapping[str, type[errors.ServiceError]]
    # The member whose token names the region when none is configured (the access token's
    # issuer), or None: the region must then be configured (a refresh token is opaque).
    region_from: str | None = None
    # What a confirmed call revokes in the Client's revocation store (a sign-out's cutoff),
    # or None: the operation revokes nothing locally (or cannot tell what: RevokeToken's
    # refresh token is opaque).
    revokes: Callable[[InputT, CallResult, Revocations], Awaitable[Recording]] | None = None

    def build(self, values: Mapping[str, object]) -> InputT:
        """The validated input; ConstructionFailure (naming the member, not its value)."""
        clean: dict[str, Any] = {}
        for member in self.members:
            value = values.get(member.name)
            if value is None:
                if member.required:
                    raise errors.ConstructionFailure(
                        f"{member.name} is required: call .{member.name}(...) first"
                    )
                clean[member.name] = None
                continue
            clean[member.name] = member.validate(member.name, value)
        return self.input(**clean)

    def params(self, operation_input: InputT) -> dict[str, object]:
        """The request's JSON members, as botocore would send them (unset ones left out)."""
        out: dict[str, object] = {}
        for member in self.members:
            value = getattr(operation_input, member.name)
            if value is not None:
                out[member.wire] = value
        return out

    def secrets(self, operation_input: InputT) -> tuple[str, ...]:
        """The values of the sensitive members that are set."""
        found = (getattr(operation_input, m.name) for m in self.members if m.sensitive)
        return tuple(value for value in found if isinstance(value, str) and value)

    def routing_token(self, operation_input: InputT) -> str | None:
        if self.region_from is None:
            return None
        value = getattr(operation_input, self.region_from)
        return value if isinstance(value, str) else None
