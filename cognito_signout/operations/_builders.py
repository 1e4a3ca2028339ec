"""The builder machinery every operation shares: the input builder, the fluent builder and the
customizable operation, after the AWS SDK for Rust's generated ones.

An operation module subclasses :class:`InputBuilder` and :class:`FluentBuilder` only to give
each member its typed ``member`` / ``set_member`` / ``get_member`` methods; building,
validating, redacting, ``as_input``, ``customize`` and ``send`` live here, once.

Builders are immutable: every setter returns a new builder, so a partly filled builder is a
reusable template. Sensitive members are redacted in every repr.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar, Unpack

import attrs
import httpx

from .. import errors
from .._config import CallOverrides, validate_overrides
from .._operation import Operation, redacted

if TYPE_CHECKING:
    from typing import Self

    from .._runtime import RequestMutator, Runtime

InputT = TypeVar("InputT")
OutputT = TypeVar("OutputT")
BuilderT = TypeVar("BuilderT", bound="InputBuilder[Any, Any]")


class InputBuilder(Generic[InputT, OutputT]):
    """Collects an operation's input; :meth:`build` validates it."""

    __slots__ = ("_values",)
    OPERATION: ClassVar[Operation[Any, Any]]

    def __init__(self, **values: object) -> None:
        unknown = set(values) - {m.name for m in self.OPERATION.members}
        if unknown:
            raise errors.ConstructionFailure(
                f"{type(self).__name__} has no member(s) {sorted(unknown)}"
            )
        self._values: Mapping[str, object] = values

    def _set(self, name: str, value: object) -> Self:
        new = object.__new__(type(self))
        new._values = {**self._values, name: value}
        return new

    def _get(self, name: str) -> Any:
        return self._values.get(name)

    def member_values(self) -> Mapping[str, object]:
        """The values set so far, by member name (unvalidated)."""
        return self._values

    def build(self) -> InputT:
        """The validated input, or :class:`errors.ConstructionFailure` (no value echoed)."""
        built: InputT = self.OPERATION.build(self._values)
        return built

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, InputBuilder) or type(other) is not type(self):
            return NotImplemented
        return dict(self._values) == dict(other._values)

    def __hash__(self) -> int:
        return hash((type(self), tuple(sorted(self._values.items(), key=lambda kv: kv[0]))))

    def __repr__(self) -> str:
        shown = ", ".join(
            f"{m.name}={_shown(self._values.get(m.name), m.sensitive)}"
            for m in self.OPERATION.members
        )
        return f"{type(self).__name__}({shown})"


def _shown(value: object, sensitive: bool) -> str:
    return redacted(value) if sensitive else repr(value)


class FluentBuilder(Generic[BuilderT, OutputT]):
    """Builds and sends one operation call: ``await builder.member(value).send()``."""

    __slots__ = ("_input", "_runtime")
    INPUT: ClassVar[type[InputBuilder[Any, Any]]]

    def __init__(self, *, runtime: Runtime, input: BuilderT | None = None) -> None:
        self._runtime = runtime
        self._input: BuilderT = input if input is not None else self.INPUT()  # type: ignore[assignment]

    def _with(self, input: BuilderT) -> Self:
        new = object.__new__(type(self))
        new._runtime, new._input = self._runtime, input
        return new

    def as_input(self) -> BuilderT:
        """The input builder this fluent builder holds."""
        return self._input

    def customize(self) -> CustomizableOperation[OutputT]:
        """The call, with per-call request mutators and configuration overrides."""
        return CustomizableOperation(runtime=self._runtime, input=self._input)

    async def send(self) -> OutputT:
        """Send the request; retryable failures are retried (twice by default).

        Raises a subclass of :class:`errors.SdkError`; nothing is sent if the input or the
        configuration is invalid.
        """
        result: OutputT = await self._runtime.invoke(self._input.OPERATION, self._input)
        return result

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._input!r})"


class CustomizableOperation(Generic[OutputT]):
    """One call with per-call request mutators and configuration overrides. Immutable: each
    method returns a new operation."""

    __slots__ = ("_input", "_mutators", "_overrides", "_runtime")

    def __init__(
        self,
        *,
        runtime: Runtime,
        input: InputBuilder[Any, OutputT],
        mutators: tuple[RequestMutator, ...] = (),
        overrides: tuple[tuple[str, Any], ...] = (),
    ) -> None:
        self._runtime = runtime
        self._input = input
        self._mutators = mutators
        self._overrides = overrides

    def _evolve(
        self, mutators: tuple[RequestMutator, ...], overrides: tuple[tuple[str, Any], ...]
    ) -> CustomizableOperation[OutputT]:
        return CustomizableOperation(
            runtime=self._runtime, input=self._input, mutators=mutators, overrides=overrides
        )

    def __repr__(self) -> str:
        return (
            f"CustomizableOperation(input={self._input!r}, mutators={len(self._mutators)}, "
            f"overrides={[name for name, _ in self._overrides]})"
        )

    def mutate_request(self, fn: Callable[[httpx.Request], None]) -> CustomizableOperation[OutputT]:
        """Run ``fn`` on the ``httpx.Request`` of every attempt, just before it is sent."""
        if not callable(fn):
            raise errors.ConstructionFailure("mutate_request needs a callable")
        return self._evolve((*self._mutators, fn), self._overrides)

    def config_override(self, **fields: Unpack[CallOverrides]) -> CustomizableOperation[OutputT]:
        """Override Config fields for this call only, e.g. ``retry_config=RetryConfig.disabled()``.

        The retry quota, rate limiter and connection pool stay the client's, so
        ``max_connections`` and ``transport`` cannot be overridden. Unknown fields are refused
        here (and by a type checker); values are checked when the call is sent.
        """
        validate_overrides(fields, per_call=True)
        return self._evolve(self._mutators, (*self._overrides, *fields.items()))

    async def send(self) -> OutputT:
        config = self._runtime.config
        if self._overrides:
            config = attrs.evolve(config, **dict(self._overrides))
        result: OutputT = await self._runtime.invoke(
            self._input.OPERATION, self._input, config=config, mutators=self._mutators
        )
        return result


class AccessTokenInputBuilder(InputBuilder[InputT, OutputT]):
    """The input builder of an operation whose one member is the user's access token
    (GlobalSignOut, GetUser)."""

    __slots__ = ()

    def access_token(self, value: str) -> Self:
        return self._set("access_token", value)

    def set_access_token(self, value: str | None) -> Self:
        return self._set("access_token", value)

    def get_access_token(self) -> str | None:
        value: str | None = self._get("access_token")
        return value


AccessTokenBuilderT = TypeVar("AccessTokenBuilderT", bound=AccessTokenInputBuilder[Any, Any])


class AccessTokenFluentBuilder(FluentBuilder[AccessTokenBuilderT, OutputT]):
    """The fluent builder of an operation whose one member is the user's access token."""

    __slots__ = ()

    def access_token(self, value: str) -> Self:
        """A valid access token that Cognito issued to the user."""
        return self._with(self._input.access_token(value))

    def set_access_token(self, value: str | None) -> Self:
        return self._with(self._input.set_access_token(value))

    def get_access_token(self) -> str | None:
        return self._input.get_access_token()
