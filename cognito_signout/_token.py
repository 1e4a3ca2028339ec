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
from collections.abc import Sequence

from . import _endpoints
from .errors import ConstructionFailure

REDACTED = "*** Sensitive Data Redacted ***"


@functools.cache
def _pattern(source: str) -> re.Pattern[str]:
    # Compiled on first use: import time is budgeted, and most processes never need most of these.
    return re.compile(source)


# The model's pattern for AccessToken: ^[A-Za-z0-9-_=.]+$ (the '-' after 9 is a literal).
_TOKEN = r"[A-Za-z0-9\-_=.]+"

# Anything shaped like a JWT, so a token is scrubbed even when a proxy or emulator echoes back a
# different (e.g. re-encoded) token than the one we sent: three dot-separated runs of at least 8
# token characters. A server's body is hostile input, so the pattern must run in linear time.
# Unanchored with backtracking quantifiers, a long run of token characters without two dots
# cost quadratic time (64 KiB of 'a': 5-10 s on the event loop). Here a match may only start
# where a run of segment characters starts (the lookbehind, one character: O(1) wherever it
# fails), and each segment is taken possessively (``{8,}+``: no backtracking into it), so
# every character is looked at a bounded number of times. It finds exactly what the old
# pattern found: a start inside a segment can only succeed where the segment's own start does,
# and no segment class holds '.', so giving characters back could never find another dot.
_JWT_LIKE = (
    r"(?<![A-Za-z0-9_\-])[A-Za-z0-9_\-]{8,}+\.[A-Za-z0-9_\-]{8,}+\.[A-Za-z0-9_\-=]{8,}+"
)
# A part of the token, or of its base64, shorter than this is not scrubbed on its own: it would
# match unrelated text. Every part of a real Cognito JWT is far longer.
MIN_SECRET_CHARS = 16
# A whole sensitive value shorter than this is not scrubbed (a client id can be one character).
MIN_VALUE_CHARS = 8
# What may surround a token in an echo without ending it: the token alphabet, plus '+' and '/'
# for a base64 echo. A body cut short is cut back to before any such run at its end, so a token
# cut in two by the cut cannot leave its first half behind.
_ECHO_CHARS = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=.+/"
_URLSAFE = bytes.maketrans(b"+/", b"-_")
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


def scrub(text: str, token: str | Sequence[str] | Scrubber | None) -> str:
    """Remove ``token``, its parts and its base64, and anything JWT-shaped, from ``text``.

    Linear in ``len(text)``: a handful of substring searches and one regex pass.
    """
    return Scrubber.of(token).text(text)


def scrub_bytes(data: bytes, token: str | Sequence[str] | Scrubber | None) -> bytes:
    """Byte-level :func:`scrub`, for response bodies and headers that may not be valid UTF-8."""
    return Scrubber.of(token).raw(data)


class Scrubber:
    """:func:`scrub` for the secrets of one call (every sensitive member of its input), for
    callers that scrub many values (a response's headers): what must be hidden is worked out
    once.

    That is the token itself; each of its dot-separated parts, for an echo of one part alone (a
    signature in a request id); and the base64 of the token, standard and URL-safe, at each of
    the three alignments it can have inside a longer base64 text (so an echo of ``Bearer
    <token>`` is caught too), cut to the characters that depend on the token alone. The base64
    forms are longer than the token and dearer to work out, so only a text long enough to hold
    one pays for them: most texts scrubbed (headers, messages, the request) are shorter.
    """

    __slots__ = ("_all", "_longest_only", "_plain", "_shortest", "_tokens")

    def __init__(self, token: str | Sequence[str] | None) -> None:
        # Every sensitive value of a call (a token, a refresh token, a client id and secret).
        # A value shorter than MIN_VALUE_CHARS is left alone: replacing it would mangle
        # unrelated text, and a value that short hides nothing anyway.
        tokens = (token,) if isinstance(token, str) else tuple(token or ())
        self._tokens = tuple(t for t in tokens if len(t) >= MIN_VALUE_CHARS)
        found = set(self._tokens)
        for value in self._tokens:
            found.update(p for p in value.split(".") if len(p) >= MIN_SECRET_CHARS)
        # Longest first, so a part is never replaced out of the middle of a whole token that
        # is then left unrecognised.
        self._plain: tuple[str, ...] = tuple(sorted(found, key=len, reverse=True))
        self._shortest = len(self._plain[-1]) if self._plain else 0
        self._all: tuple[str, ...] | None = None
        # The shortest base64 form is about 4/3 the shortest value's length.
        self._longest_only = (
            4 * min(len(t) for t in self._tokens) // 3 - 2 if self._tokens else 0
        )

    @classmethod
    def of(cls, token: str | Sequence[str] | Scrubber | None) -> Scrubber:
        """``token`` if it is a Scrubber already (one call's, built once), else a new one."""
        return token if isinstance(token, Scrubber) else cls(token)

    def _secrets(self, size: int) -> tuple[str, ...]:
        if not self._tokens or size < self._longest_only:
            return self._plain
        if self._all is None:
            found = set(self._plain)
            for value in self._tokens:
                raw = value.encode()
                for lead in range(3):
                    encoded = binascii.b2a_base64(b"\0" * lead + raw, newline=False)
                    # Character i carries bits 6i..6i+5; keep the ones made of value bits only.
                    core = encoded[-(-8 * lead // 6) : 8 * (lead + len(raw)) // 6]
                    if len(core) >= MIN_SECRET_CHARS:
                        found.add(core.decode("ascii"))
                        found.add(core.translate(_URLSAFE).decode("ascii"))
            self._all = tuple(sorted(found, key=len, reverse=True))
        return self._all

    def text(self, text: str) -> str:
        if len(text) < self._shortest and "." not in text:
            return text  # too short to hold any secret, and not JWT-shaped: the usual header
        return _scrub(text, self._secrets(len(text)))

    def raw(self, data: bytes) -> bytes:
        if len(data) < self._shortest and b"." not in data:
            return data
        # latin-1 maps each byte to the character of the same number and back, so the text
        # scrubber sees exactly the bytes (token characters are ASCII) and the rest round-trips.
        return _scrub(data.decode("latin-1"), self._secrets(len(data))).encode("latin-1")

    def body(self, data: bytes, *, limit: int | None = None) -> bytes:
        """A response body, scrubbed as the bytes and as what a reader decodes them to.

        Past ``limit`` bytes the body is cut (scrubbing and keeping 1 MiB of hostile bytes is
        time on the event loop nobody needs), back to before any run of token characters at
        the cut, with a marker saying so.
        """
        size = len(data)
        cut = limit is not None and size > limit
        if cut:
            data = data[:limit].rstrip(_ECHO_CHARS)
        kept = len(data)
        # The decoded view first, so that a token it shows whole is redacted whole; then the
        # bytes as they are, or as the view rewrote them.
        if b"\\" in data or json.detect_encoding(data) != "utf-8":
            data = self._json_view(data)
        if b"\0" in data:
            data = self._wide_view(data)
        out = self.raw(data)
        if cut:
            out += b"\n[cognito-signout: the body was cut here, after %d of its %d bytes]" % (
                kept, size,
            )
        return out

    def _json_view(self, data: bytes) -> bytes:
        # A JSON string can spell the token so that no byte search finds it but json.loads
        # returns it whole: escapes ('\u002e' for each dot, '\/' in a base64 echo) or a
        # UTF-16/32 body. Of the ways to scrub what a reader decodes, the simplest correct one
        # is to let json do the decoding: parse, serialize again with ensure_ascii (token
        # characters are never escaped, so every decoded string shows literally, and the
        # redaction marker needs no escaping), and scrub that. A plain byte-level un-escaper
        # would have to get backslash parity right itself and cost a Python call per escape
        # (11 ms for 64 KiB of escapes); json's C code does it in well under one. The bytes
        # are kept as they came unless the decoded view had something to scrub.
        try:
            document = json.loads(data)
        except (ValueError, RecursionError):
            return data  # no decoded view to leak through
        try:
            canonical = json.dumps(document, ensure_ascii=True)
        except (ValueError, RecursionError):
            return b"[cognito-signout: body withheld: it could not be checked for the token]"
        cleaned = _scrub(canonical, self._secrets(len(canonical)))
        return data if cleaned == canonical else cleaned.encode("ascii")

    def _wide_view(self, data: bytes) -> bytes:
        # UTF-16 or UTF-32 text (declared or not, valid or not, at any alignment) has NUL bytes
        # between the bytes of its ASCII characters, so a token in it escapes a byte search,
        # yet shows in .text or a terminal. Without the NULs it is a plain byte string again.
        # Only when that view holds something to scrub is it kept (scrubbed) instead.
        packed = data.replace(b"\0", b"")
        cleaned = self.raw(packed)
        return data if cleaned == packed else cleaned


def _scrub(text: str, secrets: tuple[str, ...]) -> str:
    # `in` and str.replace search in linear time (CPython's two-way string search).
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, REDACTED)
    if "." in text:  # a JWT has two dots; most texts (a 1 MiB run of digits) have none
        text = _pattern(_JWT_LIKE).sub(REDACTED, text)
    return text


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


def unverified_claims(token: str) -> dict[str, object] | None:
    """A JWT's payload, signature unchecked, or None if it is not one.

    For routing (the service checks the signature) and for recording a sign-out Cognito
    confirmed (a confirmed token is authentic); never for trusting a token.
    """
    parts = token.split(".")
    if len(parts) != 3 or len(parts[1]) > _MAX_PAYLOAD_CHARS:
        return None
    payload = parts[1]
    try:
        raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
        claims = json.loads(raw)
    except (binascii.Error, ValueError, RecursionError):
        return None
    return claims if isinstance(claims, dict) else None


def _claims(token: str) -> dict[str, object]:
    if len(token.split(".")) != 3:
        raise ConstructionFailure(
            f"no region configured and the access token is not a JWT to route by; "
            f"{_HOW_TO_CONFIGURE}"
        )
    claims = unverified_claims(token)
    if claims is None:
        raise ConstructionFailure(
            f"no region configured and the access token's payload cannot be read; "
            f"{_HOW_TO_CONFIGURE}"
        )
    return claims
