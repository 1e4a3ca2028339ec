"""The fake's user pool: users, app clients, sessions and their tokens, what ended them, the
failures queued for coming requests, and the record of every request answered.

Cognito's model, kept here: a sign-in opens a *session* (its ``origin_jti``) on one app client,
with one refresh token; every access and ID token minted for that session (at sign-in, or by a
refresh) carries its ``origin_jti``. RevokeToken ends one session; GlobalSignOut ends every
session the user has at that moment, on every app client. An ended session's tokens are all
refused, and sessions opened later are not affected.

Tokens are signed for real (RS256, RSASSA-PKCS1-v1_5 with SHA-256) by a :class:`SigningKey`,
so an app's own ``TokenVerifier`` accepts them as it would Cognito's. Generating an RSA-2048 key
costs tens of milliseconds and a suite makes many fakes: one key is generated per process, on
the first token, and shared by every pool (``own_key=True`` gives a pool its own). Without the
``cryptography`` package there is no key: tokens keep an unsigned, random signature under the
kid :data:`UNSIGNED_KID`, which no key set names, and the key set is refused (see
``FakeCognito``), so no verifier can mistake them for signed ones.

Every time here is the pool's clock (:meth:`Pool.now`), which tests can move.

Nothing here locks: :class:`Pool` is guarded by its ``lock``, which the caller holds around a
whole request (check, change, record), so concurrent requests see one order.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import re
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

import attrs

from .._token import REDACTED, unverified_claims
from ._wire import Refusal

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

    from ..operations.get_user import MfaOption

Clock = Callable[[], float]

# Real Cognito's texts for the three ways a token is refused.
REVOKED = "Access Token has been revoked"
EXPIRED = "Access Token has expired"
INVALID = "Invalid Access Token"

DEFAULT_CLIENT_ID = "fakeclientid"
DEFAULT_SCOPES = ("aws.cognito.signin.user.admin",)
"""What Cognito puts in ``scope`` for a sign-in through the SDK's user-pool API."""
UNSIGNED_KID = "cognito-signout-fake-unsigned"
"""The ``kid`` of tokens made without ``cryptography``: no key set ever holds it."""
_SECRET_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"
_SCOPE = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+")  # RFC 6749 scope-token


def _redacted(value: object) -> str:
    return "None" if value is None else repr(REDACTED)


# -- what tests see -----------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class RecordedCall:
    """One request the fake answered (or failed on purpose), in arrival order.

    The tokens and the client id are kept so a test can ask *which* token was signed out or
    revoked, but they never show in ``repr``: test failure output is logged by CI and must not
    carry credentials. Neither do ``members`` and ``headers``.
    """

    operation: str | None
    """The operation from ``X-Amz-Target`` (``"GlobalSignOut"``, ``"RevokeToken"``,
    ``"GetUser"``), None if it was missing."""
    access_token: str | None = attrs.field(repr=_redacted)
    """The request's ``AccessToken`` (GlobalSignOut, GetUser); None for RevokeToken."""
    username: str | None
    """The user the token belongs to, for tokens the fake issued (refresh tokens too)."""
    status_code: int
    """200 for a success; 0 when the fake dropped the connection or timed out on purpose."""
    error_code: str | None
    request_id: str | None
    attempt: int | None
    """The SDK's attempt number (``amz-sdk-request``): 1 first, 2 for the first retry..."""
    invocation_id: str | None
    """Shared by all attempts of one SDK call (``amz-sdk-invocation-id``)."""
    injected: bool
    """True if this answer came from :meth:`FakeCognito.fail_next` and friends."""
    headers: Mapping[str, str] = attrs.field(repr=False, eq=False, hash=False)
    """Request headers, lower-cased names (these operations are unsigned: no credential)."""
    token: str | None = attrs.field(default=None, repr=_redacted)
    """The token the request carried: ``AccessToken``, or RevokeToken's (refresh) ``Token``."""
    client_id: str | None = attrs.field(default=None, repr=_redacted)
    """RevokeToken's ``ClientId``."""
    members: Mapping[str, Any] = attrs.field(factory=dict, repr=False, eq=False, hash=False)
    """The request body as sent (a ``ClientSecret`` included: it is never in ``repr``)."""

    @property
    def ok(self) -> bool:
        return self.status_code == 200


@attrs.frozen(kw_only=True)
class FakeAppClient:
    """An app client of the fake pool (:meth:`FakeCognito.add_client`)."""

    client_id: str
    client_secret: str | None = attrs.field(repr=_redacted)
    """None for a public client; RevokeToken must then be sent without a secret."""
    revocation_enabled: bool = True
    """Cognito's ``EnableTokenRevocation``; off, RevokeToken is an UnsupportedOperationException."""


@attrs.frozen(kw_only=True)
class FakeSession:
    """One sign-in (:meth:`FakeCognito.sign_in`): its tokens, as InitiateAuth returns them.

    No token shows in ``repr``.
    """

    username: str
    client_id: str
    origin_jti: str
    """Shared by every token of the session, refreshed ones included (a claim of the JWTs)."""
    access_token: str = attrs.field(repr=_redacted)
    refresh_token: str = attrs.field(repr=_redacted)
    id_token: str = attrs.field(repr=_redacted)


# -- state --------------------------------------------------------------------------------------


@attrs.define
class _User:
    username: str
    sub: str
    attributes: dict[str, str]
    preferred_mfa_setting: str | None = None
    user_mfa_setting_list: tuple[str, ...] = ()
    mfa_options: tuple[MfaOption, ...] = ()


@attrs.define
class _Session:
    view: FakeSession
    auth_time: int  # the sign-in's: kept by refreshed tokens, as Cognito does
    scope: str | None
    ended: bool = False


@attrs.define
class _Token:
    kind: Literal["access", "id", "refresh"]
    session: _Session
    expires_at: float | None


@attrs.define
class Injection:
    """A queued failure: the next requests it matches get it, ``remaining`` times."""

    kind: Literal["error", "disconnect", "timeout"]
    remaining: int | None  # None: until clear_failures()
    token: str | None = attrs.field(default=None, repr=_redacted)
    operation: str | None = None
    code: str | None = None
    status: int = 500
    message: str | None = None
    body: bytes | None = None
    headers: dict[str, str] = attrs.field(factory=dict)

    def matches(self, operation: str | None, token: str | None) -> bool:
        return (self.token is None or self.token == token) and (
            self.operation is None or self.operation == operation
        )


class Pool:
    """The state behind one :class:`FakeCognito`. Callers hold ``lock``."""

    def __init__(
        self,
        region: str,
        *,
        accept_unknown_tokens: bool,
        clock: Clock = time.time,
        own_key: bool = False,
    ) -> None:
        self.region = region
        self.pool_id = f"{region}_{secrets.token_hex(5).upper()}"
        self.issuer = f"https://cognito-idp.{region}.{_dns_suffix(region)}/{self.pool_id}"
        self.accept_unknown_tokens = accept_unknown_tokens
        self.clock = clock
        self.offset = 0.0
        self.own_key = own_key
        self._key: SigningKey | None = None
        self._key_loaded = False
        self.key_set_requests = 0
        self.lock = threading.Lock()
        self.calls: list[RecordedCall] = []
        self.injections: list[Injection] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._users: dict[str, _User] = {}
        self._clients: dict[str, FakeAppClient] = {}
        self._sessions: list[_Session] = []
        self._tokens: dict[str, _Token] = {}
        self._revoked_unknown: set[str] = set()
        self.reset()

    def reset(self) -> None:
        self.calls.clear()
        self.injections.clear()
        self._users.clear()
        self._clients = {DEFAULT_CLIENT_ID: FakeAppClient(client_id=DEFAULT_CLIENT_ID,
                                                          client_secret=None)}
        self._sessions.clear()
        self._tokens.clear()
        self._revoked_unknown.clear()
        self.max_in_flight = self.in_flight
        self.key_set_requests = 0

    # -- time and keys ---------------------------------------------------------------------------

    def now(self) -> float:
        """The pool's time: its clock plus what :meth:`FakeCognito.advance` moved it by."""
        return self.clock() + self.offset

    def signing_key(self) -> SigningKey | None:
        """The key tokens are signed with (made on first use); None without cryptography."""
        if not self._key_loaded:
            self._key = new_signing_key() if self.own_key else shared_signing_key()
            self._key_loaded = True
        return self._key

    def client_ids(self) -> list[str]:
        return list(self._clients)

    # -- users, clients, sessions ---------------------------------------------------------------

    def add_client(
        self, client_id: str | None, secret: bool | str, revocation_enabled: bool
    ) -> FakeAppClient:
        client_id = client_id or "".join(secrets.choice(_SECRET_ALPHABET) for _ in range(26))
        if secret is True:
            client_secret: str | None = "".join(
                secrets.choice(_SECRET_ALPHABET) for _ in range(51)
            )
        elif secret is False:
            client_secret = None
        else:
            client_secret = secret
        client = FakeAppClient(
            client_id=client_id, client_secret=client_secret, revocation_enabled=revocation_enabled
        )
        self._clients[client_id] = client
        return client

    def add_user(
        self,
        username: str | None,
        attributes: Mapping[str, str] | None,
        *,
        preferred_mfa_setting: str | None = None,
        user_mfa_setting_list: Sequence[str] | None = None,
        mfa_options: Sequence[MfaOption] | None = None,
    ) -> _User:
        """The user (created if new), with ``attributes`` merged in and MFA settings replaced
        where given."""
        username = username or f"user-{uuid.uuid4().hex[:12]}"
        user = self._users.get(username)
        if user is None:
            sub = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{self.pool_id}/{username}"))
            user = self._users[username] = _User(username, sub, {})
        for name, value in (attributes or {}).items():
            if name == "sub":
                raise ValueError("sub is Cognito's own attribute; it cannot be set")
            if not isinstance(name, str) or not isinstance(value, str):
                raise TypeError("attributes map names to values, both str")
            user.attributes[name] = value
        if preferred_mfa_setting is not None:
            user.preferred_mfa_setting = preferred_mfa_setting
        if user_mfa_setting_list is not None:
            user.user_mfa_setting_list = tuple(user_mfa_setting_list)
        if mfa_options is not None:
            user.mfa_options = tuple(mfa_options)
        return user

    def sign_in(
        self,
        username: str | None,
        *,
        client_id: str,
        attributes: Mapping[str, str] | None,
        expires_in: float,
        scopes: Sequence[str] | None = None,
    ) -> FakeSession:
        _check_expires_in(expires_in)
        scope = _scope(scopes)
        user = self.add_user(username, attributes)
        if client_id not in self._clients:
            self.add_client(client_id, False, True)
        origin_jti = str(uuid.uuid4())
        now = self.now()
        auth_time = int(now)
        access = self._jwt(user, "access", client_id, origin_jti, now, expires_in, auth_time, scope)
        id_token = self._jwt(user, "id", client_id, origin_jti, now, expires_in, auth_time, None)
        refresh = _refresh_token()
        session = _Session(
            FakeSession(
                username=user.username, client_id=client_id, origin_jti=origin_jti,
                access_token=access, refresh_token=refresh, id_token=id_token,
            ),
            auth_time,
            scope,
        )
        self._sessions.append(session)
        self._tokens[access] = _Token("access", session, now + expires_in)
        self._tokens[id_token] = _Token("id", session, now + expires_in)
        self._tokens[refresh] = _Token("refresh", session, None)
        return session.view

    def refresh(self, refresh_token: str, expires_in: float) -> str:
        found = self._tokens.get(refresh_token)
        if found is None or found.kind != "refresh":
            raise ValueError("not a refresh token this fake issued")
        if found.session.ended:
            raise ValueError("the session of this refresh token has ended (revoked or signed out)")
        _check_expires_in(expires_in)
        session, now = found.session, self.now()
        view = session.view
        access = self._jwt(
            self._users[view.username], "access", view.client_id, view.origin_jti, now,
            expires_in, session.auth_time, session.scope,
        )
        self._tokens[access] = _Token("access", found.session, now + expires_in)
        return access

    def session_of(self, token: str) -> FakeSession | None:
        found = self._tokens.get(token)
        return found.session.view if found is not None else None

    def username_of(self, token: str | None) -> str | None:
        found = self._tokens.get(token) if token else None
        return found.session.view.username if found is not None else None

    # -- verdicts -------------------------------------------------------------------------------

    def check_access_token(self, token: str) -> None:
        """Cognito's verdict on an access token: a NotAuthorizedException refusal, or None."""
        found = self._tokens.get(token)
        if found is None:
            if not self.accept_unknown_tokens:
                raise Refusal("NotAuthorizedException", INVALID)
            claims = _claims(token)
            # A token naming this pool that the pool did not issue is forged (a sub swapped
            # into a real token, say): Cognito's signature check refuses it, and a sign-out
            # confirmed for it would record a cutoff for whoever that sub is.
            # So is one naming a user of this pool under any issuer: an unknown token is
            # accepted only as someone else's, never as a sign-out of a user the fake knows.
            if (
                claims.get("token_use") == "id"
                or claims.get("iss") == self.issuer
                or claims.get("sub") in {user.sub for user in self._users.values()}
            ):
                raise Refusal("NotAuthorizedException", INVALID)
            if token in self._revoked_unknown:
                raise Refusal("NotAuthorizedException", REVOKED)
            expires_at = _number(claims.get("exp"))
        else:
            if found.kind != "access":
                raise Refusal("NotAuthorizedException", INVALID)
            if found.session.ended:
                raise Refusal("NotAuthorizedException", REVOKED)
            expires_at = found.expires_at
        if expires_at is not None and expires_at <= self.now():
            raise Refusal("NotAuthorizedException", EXPIRED)

    def global_sign_out(self, token: str) -> None:
        """End every session of the token's user (the token alone if the fake did not issue it)."""
        found = self._tokens.get(token)
        if found is None:
            self._revoked_unknown.add(token)
            return
        for session in self._sessions:
            if session.view.username == found.session.view.username:
                session.ended = True

    def end_session(self, token: str) -> None:
        found = self._tokens.get(token)
        if found is None:
            self._revoked_unknown.add(token)
        else:
            found.session.ended = True

    def revoke_token(self, token: str, client_id: str, client_secret: str | None) -> None:
        """RevokeToken's checks, in Cognito's order, then the session's end.

        An unknown, already revoked or signed-out refresh token is a success (RFC 7009).
        """
        client = self._clients.get(client_id)
        if client is None:
            if not self.accept_unknown_tokens:
                raise Refusal("UnauthorizedException", "Client is not authorized")
            client = FakeAppClient(client_id=client_id, client_secret=None)  # a public one
        if client.client_secret is not None:
            if client_secret is None or not hmac.compare_digest(
                client_secret.encode(), client.client_secret.encode()
            ):
                raise Refusal("UnauthorizedException", "Client secret is missing or wrong")
        elif client_secret is not None:
            raise Refusal("UnauthorizedException", "Client has no secret")
        if not client.revocation_enabled:
            raise Refusal(
                "UnsupportedOperationException", "Token revocation is not enabled for the client"
            )
        found = self._tokens.get(token)
        if (found is not None and found.kind != "refresh") or (found is None and _claims(token)):
            raise Refusal("UnsupportedTokenTypeException", "Only refresh tokens can be revoked")
        if found is None:
            self._revoked_unknown.add(token)
            return
        if found.session.view.client_id != client_id:
            raise Refusal("UnauthorizedException", "The token was not issued to this client")
        found.session.ended = True

    def user_document(self, token: str) -> dict[str, Any]:
        """GetUser's answer for a live access token (after :meth:`check_access_token`)."""
        found = self._tokens.get(token)
        if found is None:  # an unknown token, accepted: its claims are all there is
            claims = _claims(token)
            name = claims.get("username") or claims.get("cognito:username")
            sub = claims.get("sub")
            digest = hashlib.sha256(token.encode()).hexdigest()[:12]
            user = _User(
                name if isinstance(name, str) else f"unknown-{digest}",
                sub if isinstance(sub, str) else str(uuid.uuid5(uuid.NAMESPACE_URL, digest)),
                {},
            )
        else:
            user = self._users[found.session.view.username]
        document: dict[str, Any] = {
            "Username": user.username,
            "UserAttributes": [
                {"Name": "sub", "Value": user.sub},
                *({"Name": k, "Value": v} for k, v in user.attributes.items()),
            ],
            "MFAOptions": [
                {"DeliveryMedium": o.delivery_medium, "AttributeName": o.attribute_name}
                for o in user.mfa_options
            ],
            "UserMFASettingList": list(user.user_mfa_setting_list),
        }
        if user.preferred_mfa_setting is not None:
            document["PreferredMfaSetting"] = user.preferred_mfa_setting
        return document

    def revoked(self, token: str) -> bool:
        found = self._tokens.get(token)
        return token in self._revoked_unknown if found is None else found.session.ended

    # -- injections and the record --------------------------------------------------------------

    def take_injection(self, operation: str | None, token: str | None) -> Injection | None:
        for injection in self.injections:
            if injection.matches(operation, token):
                if injection.remaining is not None:
                    injection.remaining -= 1
                    if injection.remaining <= 0:
                        self.injections.remove(injection)
                return injection
        return None

    # -- tokens ---------------------------------------------------------------------------------

    def _jwt(
        self,
        user: _User,
        use: Literal["access", "id"],
        client_id: str,
        origin_jti: str,
        now: float,
        expires_in: float,
        auth_time: int,
        scope: str | None,
    ) -> str:
        """A token with Cognito's claims, RS256-signed by the pool's key (see the module).
        ``iss`` names this pool, so a ``Client`` without a region routes by it."""
        claims: dict[str, Any] = {
            "sub": user.sub,
            "iss": self.issuer,
            "origin_jti": origin_jti,
            "token_use": use,
            "auth_time": auth_time,
            "exp": int(now + expires_in),
            "iat": int(now),
            "jti": str(uuid.uuid4()),
        }
        if use == "access":
            claims.update(client_id=client_id, username=user.username)
            if scope is not None:
                claims["scope"] = scope
        else:
            claims = {**user.attributes, **claims, "aud": client_id,
                      "cognito:username": user.username}
        key = self.signing_key()
        if key is None:
            signing_input = f"{_UNSIGNED_HEADER}.{_b64(claims)}"
            signature = secrets.token_bytes(256)  # the size of an RSA-2048 signature
        else:
            signing_input = f"{key.header}.{_b64(claims)}"
            signature = key.sign(signing_input.encode("ascii"))
        return f"{signing_input}.{_b64_bytes(signature)}"


# -- signing keys -------------------------------------------------------------------------------


class SigningKey:
    """An RSA-2048 key pair tokens are signed with. ``jwk`` is the public half as the key set
    serves it; the private half never leaves this object (nor shows in its repr)."""

    __slots__ = ("_hash", "_padding", "_private", "header", "jwk", "kid")

    def __init__(self, private: RSAPrivateKey) -> None:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        numbers = private.public_key().public_numbers()
        n, e = _b64_int(numbers.n), _b64_int(numbers.e)
        # RFC 7638's thumbprint as the kid: two keys never share one, so a token signed by a
        # pool's own key is an unknown_key to a verifier of another fake's pool.
        canonical = json.dumps({"e": e, "kty": "RSA", "n": n}, separators=(",", ":"))
        self.kid = _b64_bytes(hashlib.sha256(canonical.encode()).digest())
        self.jwk: Mapping[str, str] = {
            "kty": "RSA", "kid": self.kid, "alg": "RS256", "use": "sig", "n": n, "e": e,
        }
        self.header = _b64({"kid": self.kid, "alg": "RS256"})  # the same for every token
        self._private = private
        self._padding = padding.PKCS1v15()
        self._hash = hashes.SHA256()

    def sign(self, signing_input: bytes) -> bytes:
        return self._private.sign(signing_input, self._padding, self._hash)

    def __repr__(self) -> str:
        return f"<SigningKey RS256 kid={self.kid!r}>"


def new_signing_key() -> SigningKey | None:
    """A fresh RSA-2048 key, or None when ``cryptography`` is not importable."""
    try:
        from cryptography.hazmat.primitives.asymmetric import rsa
    except ImportError:
        return None
    return SigningKey(rsa.generate_private_key(public_exponent=65537, key_size=2048))


_shared_lock = threading.Lock()
_shared: list[SigningKey | None] = []  # empty until the first pool asks


def shared_signing_key() -> SigningKey | None:
    """The process's key, made by the first pool that signs a token (thread-safe)."""
    with _shared_lock:
        if not _shared:
            _shared.append(new_signing_key())
        return _shared[0]


def _check_expires_in(expires_in: float) -> None:
    if (
        isinstance(expires_in, bool)
        or not isinstance(expires_in, int | float)
        or not math.isfinite(expires_in)
    ):
        raise ValueError(f"expires_in must be a finite number of seconds, got {expires_in!r}")


def _scope(scopes: Sequence[str] | None) -> str | None:
    """The access token's ``scope`` claim: space-separated; no claim for no scopes."""
    if scopes is None:
        scopes = DEFAULT_SCOPES
    if isinstance(scopes, str):
        raise TypeError("scopes is a list of scope names, not one str")
    for scope in scopes:
        if not isinstance(scope, str) or _SCOPE.fullmatch(scope) is None:
            raise ValueError("each scope must be printable ASCII without spaces, quotes or \\")
    return " ".join(scopes) or None


def _refresh_token() -> str:
    """Opaque, five parts, like Cognito's (a JWE): nothing in it parses as JWT claims."""
    parts = [_b64({"cty": "JWT", "enc": "A256GCM", "alg": "RSA-OAEP"})]
    parts += [_b64_bytes(secrets.token_bytes(size)) for size in (256, 12, 600, 16)]
    return ".".join(parts)


def _claims(token: str) -> dict[str, object]:
    """A token's payload, unverified; empty if it is not a JWT."""
    return unverified_claims(token) or {}


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _b64(document: Mapping[str, Any]) -> str:
    return _b64_bytes(json.dumps(document, separators=(",", ":")).encode())


def _b64_bytes(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _b64_int(value: int) -> str:
    """A JWK's unsigned big-endian integer (RFC 7518 6.3.1): no leading zero octets."""
    return _b64_bytes(value.to_bytes((value.bit_length() + 7) // 8 or 1, "big"))


_UNSIGNED_HEADER = _b64({"kid": UNSIGNED_KID, "alg": "RS256"})


def _dns_suffix(region: str) -> str:
    from .._endpoints import partition_by_pattern

    partition = partition_by_pattern(region)
    return partition.dns_suffix if partition is not None else "amazonaws.com"
