"""Input rules from the service model, checked before any I/O.

Each validator takes the member's name and the value, returns the value, or raises
ConstructionFailure. No message quotes the value: most members here are credentials.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable

from .errors import ConstructionFailure

# The model's patterns. In AccessToken's and Token's ``[A-Za-z0-9-_=.]+`` the '-' after 9 is a
# literal; ``\w`` is the model's (Java's) ASCII word character.
TOKEN = r"[A-Za-z0-9\-_=.]"
WORD = r"[A-Za-z0-9_+]"


@functools.cache
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def string(
    pattern: str, shown: str, *, min_len: int = 1, max_len: int | None = None, hint: str = ""
) -> Callable[[str, object], str]:
    """A validator for a string member: characters of ``pattern`` (the model's, written
    ``shown`` in messages), a length in range."""

    def validate(name: str, value: object) -> str:
        if not isinstance(value, str):
            raise ConstructionFailure(f"{name} must be a str, not {type(value).__name__}")
        if not value:
            raise ConstructionFailure(f"{name} is empty")
        if len(value) < min_len or (max_len is not None and len(value) > max_len):
            span = f"{min_len}-{max_len}" if max_len is not None else f"at least {min_len}"
            raise ConstructionFailure(
                f"{name} must be {span} characters long (got {len(value)})"
            )
        compiled = _compiled(pattern + "+")
        if compiled.fullmatch(value) is None:
            bad = next(i for i, ch in enumerate(value) if compiled.fullmatch(ch) is None)

            raise ConstructionFailure(
                f"{name} has a character not allowed by the pattern {shown} "
                f"at position {bad} (length {len(value)}){hint}"
            )
        return value

    return validate


def one_of(*choices: str) -> Callable[[str, object], str]:
    def validate(name: str, value: object) -> str:
        if value not in choices:
            shown = repr(value) if isinstance(value, str) and len(value) <= 20 else "that value"
            raise ConstructionFailure(f"{name} must be one of {list(choices)}, not {shown}")
        return str(value)

    return validate


_BARE = "; pass the raw token, without a 'Bearer ' prefix, quotes or whitespace"
token = string(TOKEN, "[A-Za-z0-9-_=.]+", hint=_BARE)
client_id = string(WORD, "[\\w+]+", max_len=128)
client_secret = string(WORD, "[\\w+]+", min_len=24, max_len=64)
