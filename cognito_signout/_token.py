"""What we may do with an access token: validate it, hide it, and read its region for routing.

The token is a bearer credential. It is checked before any I/O, never echoed in an error, and
scrubbed out of anything the service sends back (moto echoes it in its error messages).
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import re

from . import _endpoints
from .errors import ConstructionFailure

REDACTED = "*** Sensitive Data Redacted ***"


@functools.cache
def _pattern(source: str) -> re.Pattern[str]:
    # Compiled on first use: import time is budgeted, and most processes never need most of these.
    return re.compile(source)


@functools.cache
def _bytes_pattern(source: str) -> re.Pattern[bytes]:
    return re.compile(source.encode())

# The model's pattern for AccessToken: ^[A-Za-z0-9-_=.]+$ (the '-' after 9 is a literal).
_TOKEN = r"[A-Za-z0-9\-_=.]+"

# Anything shaped like a JWT, so a token is scrubbed even when a proxy or emulator echoes back a
# different (e.g. re-encoded) token than the one we sent.
_JWT_LIKE = r"[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-=]{8,}"
_REDACTED_BYTES = REDACTED.encode()

# The issuer of a Cognito user pool token: https://cognito-idp.<region>.<dns suffix>/<region>_<id>
_ISSUER = (
    r"https://cognito-idp\.(?P<region>[a-z0-9-]{1,40})\.(?P<suffix>[a-z0-9.-]{1,60})"
    r"/(?P<pool_region>[a-z0-9-]{1,40})_(?P<pool_suffix>[0-9A-Za-z]{1,40})"
)
# Stricter than a host label: <area>(-<word>)+-<number>, e.g. eu-west-1, us-gov-east-1.
_STRICT_REGION = r"[a-z]{2,5}(?:-[a-z]{2,12}){1,3}-[0-9]{1,2}"
_MAX_PAYLOAD_CHARS = 16_384

_HOW_TO_CONFIGURE = (
    "configure a region: Config(region='eu-west-1'), or AWS_REGION / AWS_DEFAULT_REGION, "
    "or 'region' in your ~/.aws/config profile"
)


def validate_access_token(value: object) -> str:
    """Return ``value`` if it is a well-formed access token, else raise ConstructionFailure.

    The messages describe the problem without quoting the value.
    """
    if value is None:
        raise ConstructionFailure("access_token is required: call .access_token(token) first")
    if not isinstance(value, str):
        raise ConstructionFailure(
            f"access_token must be a str, not {type(value).__name__}"
        )
    if not value:
        raise ConstructionFailure("access_token is empty")
    if _pattern(_TOKEN).fullmatch(value) is None:
        bad = next(i for i, ch in enumerate(value) if _pattern(_TOKEN).fullmatch(ch) is None)
        raise ConstructionFailure(
            f"access_token has a character not allowed by the pattern [A-Za-z0-9-_=.]+ "
            f"at position {bad} (length {len(value)}); pass the raw token, without a "
            f"'Bearer ' prefix, quotes or whitespace"
        )
    return value


def scrub(text: str, token: str | None) -> str:
    """Remove ``token`` and anything JWT-shaped from ``text``."""
    if token and token in text:
        text = text.replace(token, REDACTED)
    return _pattern(_JWT_LIKE).sub(REDACTED, text)


def scrub_bytes(data: bytes, token: str | None) -> bytes:
    """Byte-level :func:`scrub`, for response bodies that may not be valid UTF-8."""
    if token:
        raw = token.encode("ascii", "replace")
        if raw in data:
            data = data.replace(raw, REDACTED.encode())
    return _bytes_pattern(_JWT_LIKE).sub(_REDACTED_BYTES, data)


def region_from_token(token: str) -> str:
    """The region named by a Cognito access token's ``iss`` claim, for routing only.

    The signature is not checked: the service checks it. What we check is that the claim cannot
    send the request anywhere but a regular Cognito endpoint: the region must match a strict
    pattern and a known partition, agree with the user pool id, and the issuer host must be
    exactly ``cognito-idp.<region>.<that partition's DNS suffix>``. The endpoint is then built
    from the rules, never from the issuer.
    """
    claims = _claims(token)
    issuer = claims.get("iss")
    if not isinstance(issuer, str):
        raise ConstructionFailure(
            f"no region configured and the access token has no issuer to route by; "
            f"{_HOW_TO_CONFIGURE}"
        )
    match = _pattern(_ISSUER).fullmatch(issuer)
    if match is None:
        raise ConstructionFailure(
            f"no region configured and the access token's issuer is not a Cognito user pool "
            f"issuer (https://cognito-idp.<region>.amazonaws.com/<pool id>); {_HOW_TO_CONFIGURE}"
        )
    region = match["region"]
    partition = _endpoints.partition_by_pattern(region)
    if (
        _pattern(_STRICT_REGION).fullmatch(region) is None
        or match["pool_region"] != region
        or partition is None
        or match["suffix"] != partition.dns_suffix
    ):
        raise ConstructionFailure(
            f"no region configured and the access token's issuer does not name a valid "
            f"Cognito region consistently; {_HOW_TO_CONFIGURE}"
        )
    if claims.get("token_use", "access") != "access":
        raise ConstructionFailure(
            "this looks like an ID token (token_use is not 'access'); GlobalSignOut needs the "
            "user's access token"
        )
    return region


def _claims(token: str) -> dict[str, object]:
    parts = token.split(".")
    if len(parts) != 3 or len(parts[1]) > _MAX_PAYLOAD_CHARS:
        raise ConstructionFailure(
            f"no region configured and the access token is not a JWT to route by; "
            f"{_HOW_TO_CONFIGURE}"
        )
    payload = parts[1]
    try:
        raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
        claims = json.loads(raw)
    except (binascii.Error, ValueError, RecursionError):
        claims = None
    if not isinstance(claims, dict):
        raise ConstructionFailure(
            f"no region configured and the access token's payload cannot be read; "
            f"{_HOW_TO_CONFIGURE}"
        ) from None
    return claims
