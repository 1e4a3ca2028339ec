"""The errors of local token verification (issue 11); to be moved into ``errors.py``.

- :class:`InvalidToken` -- the token was refused. ``reason`` says why, one of
  :data:`REASONS`. A final error: verifying the same token again gets the same answer.
- :class:`TokenRevoked` -- the :class:`InvalidToken` for ``revoked``: the token is authentic
  and unexpired, but its user or session was signed out.
- :class:`RevocationsUnavailable` -- the revocation store could not answer in time.

Failing to fetch the key set raises the SDK's existing errors (``DispatchFailure``,
``TimeoutError``, ``ServiceError``, ``ResponseError``). No text here ever holds the token: the
messages name the rule that failed, never a claim value an attacker chose.
"""

from __future__ import annotations

from typing import Literal, get_args

from .errors import RetryKind, SdkError

__all__ = ["REASONS", "InvalidToken", "Reason", "RevocationsUnavailable", "TokenRevoked"]

Reason = Literal[
    "malformed",
    "unknown_key",
    "signature",
    "expired",
    "not_yet_valid",
    "issuer",
    "token_use",
    "client",
    "scope",
    "revoked",
]
REASONS: frozenset[str] = frozenset(get_args(Reason))


class InvalidToken(SdkError):
    """The token was refused; ``reason`` (one of :data:`REASONS`) says why.

    ``malformed`` (not a JWT, not RS256, no ``kid``, a required claim missing or of the wrong
    type), ``unknown_key`` (no key of the pool's key set has its ``kid``), ``signature``,
    ``expired``, ``not_yet_valid``, ``issuer`` (another pool, region or partition),
    ``token_use`` (an ID token where an access token was expected, or the reverse),
    ``client`` (an app client not in ``client_ids``), ``scope`` (a required scope missing),
    ``revoked`` (:class:`TokenRevoked`).
    """

    def __init__(self, message: str, *, reason: Reason) -> None:
        if reason not in REASONS:
            raise ValueError(f"unknown InvalidToken reason {reason!r}")
        super().__init__(message)
        self.reason: Reason = reason


class TokenRevoked(InvalidToken):
    """The token is authentic and unexpired, but it was revoked: its user signed out
    everywhere (GlobalSignOut) or its session was ended (RevokeToken)."""

    def __init__(self, message: str = "the token has been revoked") -> None:
        super().__init__(message, reason="revoked")


class RevocationsUnavailable(SdkError):
    """The revocation store could not answer (unreachable, or too slow), and the verifier
    fails closed: whether the token was revoked is unknown. Worth retrying later."""

    retry_kind: RetryKind | None = "transient"
