"""TokenVerifier (issue 11): moto's real tokens and key set, tokens minted with moto's own
private key, and key-set endpoints over real loopback sockets. Both asyncio and trio."""

from __future__ import annotations

import base64
import gzip
import hashlib
import hmac
import json
import pickle
import time
import traceback
import tracemalloc
import uuid
from pathlib import Path
from typing import Any

import anyio
import httpx
import moto as moto_package
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from joserfc.jwk import RSAKey

from cognito_signout import Config, TimeoutConfig, TokenVerifier, VerifiedToken, errors
from cognito_signout import _verify as verify_module
from cognito_signout._retry import RetryConfig
from cognito_signout.emulator import MotoCognito
from cognito_signout.errors import InvalidToken, RevocationsUnavailable, TokenRevoked

from . import loopback
from .extras import construction_failure_without
from .loopback import serve

pytestmark = pytest.mark.anyio

_RESOURCES = Path(moto_package.__file__).parent / "cognitoidp" / "resources"
PRIVATE_JWK: dict[str, Any] = json.loads(
    gzip.decompress((_RESOURCES / "jwks-private.json.gz").read_bytes())
)
PUBLIC_JWKS: bytes = gzip.decompress((_RESOURCES / "jwks-public.json.gz").read_bytes())
# Without its "alg" member, so that the same key can also sign an RS512 token.
PRIVATE = RSAKey.import_key({k: v for k, v in PRIVATE_JWK.items() if k != "alg"})
KID = "dummy"
LOOPBACK_POOL = "us-east-1_" + "0123456789abcdef" * 2
LOOPBACK_CLIENT = "loopbackclient0123456789"


# --- minting ---------------------------------------------------------------------------------


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64json(value: object) -> str:
    return b64(json.dumps(value).encode())


def mint(claims: dict[str, Any], header: dict[str, Any] | None = None) -> str:
    """Signed with moto's private key: moto's key set accepts the signature."""
    return sign(header or {"alg": "RS256", "kid": KID}, claims, PRIVATE)


def sign(header: dict[str, Any], claims: object, key: RSAKey) -> str:
    """A compact JWS with whatever header: PKCS#1 v1.5 over SHA-256 (SHA-512 for RS512)."""
    signing_input = f"{b64json(header)}.{b64json(claims)}".encode()
    digest = hashes.SHA512() if header.get("alg") == "RS512" else hashes.SHA256()
    signature = key.private_key.sign(signing_input, padding.PKCS1v15(), digest)  # type: ignore[union-attr]
    return f"{signing_input.decode()}.{b64(signature)}"


def claims_for(pool_id: str, app_client: str, /, **changes: Any) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": str(uuid.uuid4()),
        "iss": f"https://cognito-idp.us-east-1.amazonaws.com/{pool_id}",
        "client_id": app_client,
        "token_use": "access",
        "scope": "aws.cognito.signin.user.admin",
        "auth_time": now,
        "iat": now,
        "exp": now + 3600,
        "jti": str(uuid.uuid4()),
        "origin_jti": str(uuid.uuid4()),
        "username": "someone",
    }
    for name, value in changes.items():
        if value is None:
            claims.pop(name, None)
        else:
            claims[name] = value
    return claims


def hs256_with_public_key(claims: dict[str, Any]) -> str:
    """The classic algorithm confusion: HMAC keyed with the (public) RSA key's bytes."""
    public = RSAKey.import_key(json.loads(PUBLIC_JWKS)["keys"][0])
    secret = public.as_pem(private=False)
    signing_input = f"{b64json({'alg': 'HS256', 'kid': KID})}.{b64json(claims)}"
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(mac)}"


def alg_none(claims: dict[str, Any], signature: str = "") -> str:
    return f"{b64json({'alg': 'none', 'kid': KID})}.{b64json(claims)}.{signature}"


# --- helpers ---------------------------------------------------------------------------------


def frames_hold(exc: BaseException, secret: str) -> list[str]:
    """Names of the SDK's traceback-frame locals whose value mentions ``secret`` (what
    locals-capturing reporters keep)."""
    found = []
    for frame, _ in traceback.walk_tb(exc.__traceback__):
        if "cognito_signout" not in frame.f_code.co_filename:
            continue  # the test's own frames hold the token, of course
        for name, value in frame.f_locals.items():
            try:
                text = repr(value)
            except Exception:
                continue
            if secret in text or (isinstance(value, str) and secret in value):
                found.append(f"{frame.f_code.co_name}.{name}")
    return found


def assert_clean(exc: BaseException, token: str) -> None:
    assert token not in str(exc)
    assert token not in repr(exc)
    for part in token.split("."):
        if len(part) >= 16:
            assert part not in str(exc) and part not in repr(exc)
    assert exc.__cause__ is None and exc.__context__ is None
    assert frames_hold(exc, token) == []


async def refused(verifier: TokenVerifier, token: str, reason: str) -> InvalidToken:
    with pytest.raises(InvalidToken) as caught:
        await verifier.verify(token)
    assert caught.value.reason == reason, str(caught.value)
    assert_clean(caught.value, token)
    return caught.value


def jwks_handler(body: bytes = PUBLIC_JWKS, delay: float = 0.0) -> loopback.Handler:
    def handler(conn: loopback.Conn, request: loopback.Request) -> bool:
        if delay:
            time.sleep(delay)
        return conn.respond(200, body, [("Content-Type", "application/json")])

    return handler


def loopback_verifier(url: str, **kwargs: Any) -> TokenVerifier:
    config = kwargs.pop("config", None) or Config(
        endpoint_url=url, retry_config=RetryConfig.disabled(),
        timeout_config=TimeoutConfig(operation_timeout=2.0),
    )
    return TokenVerifier(LOOPBACK_POOL, [LOOPBACK_CLIENT], config=config, **kwargs)


def loopback_token(**changes: Any) -> str:
    return mint(claims_for(LOOPBACK_POOL, LOOPBACK_CLIENT, **changes))


@pytest.fixture
def moto_verifier(moto: MotoCognito) -> TokenVerifier:
    return TokenVerifier(
        moto.pool_id, [moto.client_id], config=Config(endpoint_url=moto.endpoint_url)
    )


# --- real moto tokens ------------------------------------------------------------------------


async def test_moto_access_token_is_accepted_with_its_fields(moto: MotoCognito) -> None:
    user = moto.create_user()
    async with TokenVerifier(
        moto.pool_id, [moto.client_id], config=Config(endpoint_url=moto.endpoint_url),
        required_scopes=["aws.cognito.signin.user.admin"],
    ) as verifier:
        assert verifier.jwks_url == httpx.URL(moto.jwks_url)
        token = await verifier.verify(user.access_token)
    raw = json.loads(base64.urlsafe_b64decode(user.access_token.split(".")[1] + "=="))
    assert isinstance(token, VerifiedToken)
    assert token.username == user.username
    assert token.sub == raw["sub"]
    assert token.client_id == moto.client_id
    assert token.token_use == "access"
    assert "aws.cognito.signin.user.admin" in token.scopes
    assert token.jti == raw["jti"] and token.origin_jti == user.origin_jti is not None
    assert int(token.issued_at.timestamp()) == raw["iat"]
    assert int(token.expires_at.timestamp()) == raw["exp"]
    assert token.issued_at.tzinfo is not None
    assert dict(token.claims) == raw
    with pytest.raises(TypeError):
        token.claims["sub"] = "someone else"  # type: ignore[index]
    assert user.access_token not in repr(token)
    assert moto.client_id not in repr(token)  # a client id is sensitive too
    assert user.access_token not in repr(verifier)


async def test_moto_id_token_is_accepted_by_an_id_verifier(moto: MotoCognito) -> None:
    user = moto.create_user()
    async with TokenVerifier(
        moto.pool_id, [moto.client_id], token_use="id",
        config=Config(endpoint_url=moto.endpoint_url),
    ) as verifier:
        token = await verifier.verify(user.id_token)
        assert token.token_use == "id"
        assert token.client_id == moto.client_id
        assert token.username == user.username
        assert token.scopes == frozenset()
        assert token.origin_jti == user.origin_jti
        await refused(verifier, user.access_token, "token_use")


async def test_an_access_verifier_refuses_an_id_token(
    moto: MotoCognito, moto_verifier: TokenVerifier
) -> None:
    user = moto.create_user()
    async with moto_verifier:
        await refused(moto_verifier, user.id_token, "token_use")


async def test_every_forgery_is_refused_with_its_reason(
    moto: MotoCognito, moto_verifier: TokenVerifier
) -> None:
    pool, client = moto.pool_id, moto.client_id
    now = int(time.time())

    def claims(**changes: Any) -> dict[str, Any]:
        return claims_for(pool, client, **changes)

    other_pool = "us-east-1_" + uuid.uuid4().hex
    cases = {
        "expired": mint(claims(iat=now - 7200, exp=now - 60)),
        "not_yet_valid": mint(claims(nbf=now + 600)),
        "issuer": mint(claims(iss=f"https://cognito-idp.us-east-1.amazonaws.com/{other_pool}")),
        "client": mint(claims(client_id="someotherclient")),
        "token_use": mint(claims(token_use="id")),
        "unknown_key": mint(claims(), {"alg": "RS256", "kid": "not-" + KID}),
    }
    malformed = {
        "no kid": mint(claims(), {"alg": "RS256"}),
        "empty kid": mint(claims(), {"alg": "RS256", "kid": ""}),
        "hs256 with the public key": hs256_with_public_key(claims()),
        "alg none": alg_none(claims(), "AAAA"),
        "alg none, empty signature": alg_none(claims()),
        "RS512": mint(claims(), {"alg": "RS512", "kid": KID}),
        "no exp": mint(claims(exp=None)),
        "no iat": mint(claims(iat=None)),
        "string exp": mint(claims(exp=str(now + 3600))),
        "no sub": mint(claims(sub=None)),
        "exp past year 9999": mint(claims(exp=10**20)),
        "negative iat": mint(claims(iat=-1)),
        "float exp": mint(claims(exp=now + 3600.5)),
        "nbf not a number": mint(claims(nbf="soon")),
        "crit header": mint(claims(), {"alg": "RS256", "kid": KID, "crit": ["exp"]}),
        "not a jwt": "not-a-jwt",
        "two segments": "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxIn0",
        "bearer prefix": "Bearer " + mint(claims()),
        "header not json": "bm90IGpzb24." + mint(claims()).split(".", 1)[1],
        "payload not an object": sign({"alg": "RS256", "kid": KID}, [1], PRIVATE),
        "too long": "a" * 20_000 + ".bbbb.cccc",
    }
    genuine = mint(claims())
    head, payload, signature = genuine.split(".")
    forged = claims(sub="victim")
    cases_signature = {
        "tampered payload": f"{head}.{b64json(forged)}.{signature}",
        "tampered signature": f"{head}.{payload}.{signature[:-4]}AAAA",
        "signature of another token": f"{head}.{payload}.{mint(forged).split('.')[2]}",
    }
    async with moto_verifier:
        assert (await moto_verifier.verify(genuine)).username == "someone"
        for reason, token in cases.items():
            await refused(moto_verifier, token, reason)
        for name, token in malformed.items():
            error = await refused(moto_verifier, token, "malformed")
            assert name  # for the traceback
            assert error.retry_kind is None
        for token in cases_signature.values():
            await refused(moto_verifier, token, "signature")
        for bad in (None, b"bytes", 42):
            with pytest.raises(InvalidToken) as caught:
                await moto_verifier.verify(bad)  # type: ignore[arg-type]
            assert caught.value.reason == "malformed"


async def test_other_regions_and_partitions_are_other_issuers(moto: MotoCognito) -> None:
    # The same pool id under another region, partition or host is not this pool's issuer.
    pool, client = moto.pool_id, moto.client_id
    issuers = [
        f"https://cognito-idp.us-east-1.amazonaws.com.cn/{pool}",
        f"https://cognito-idp.us-west-2.amazonaws.com/{pool}",
        f"https://cognito-idp.us-east-1.amazonaws.com/{pool}/",
        f"http://cognito-idp.us-east-1.amazonaws.com/{pool}",
        f"{moto.endpoint_url}/{pool}",
    ]
    async with TokenVerifier(
        pool, [client], config=Config(endpoint_url=moto.endpoint_url)
    ) as verifier:
        for issuer in issuers:
            await refused(verifier, mint(claims_for(pool, client, iss=issuer)), "issuer")
    cn = TokenVerifier("cn-north-1_AbC123xYz", ["client"])
    assert cn.issuer == "https://cognito-idp.cn-north-1.amazonaws.com.cn/cn-north-1_AbC123xYz"
    assert str(cn.jwks_url) == f"{cn.issuer}/.well-known/jwks.json"
    gov = TokenVerifier("us-gov-west-1_AbC123xYz", ["client"])
    assert gov.issuer == "https://cognito-idp.us-gov-west-1.amazonaws.com/us-gov-west-1_AbC123xYz"


async def test_leeway_is_configurable(moto: MotoCognito) -> None:
    now = int(time.time())
    token = mint(claims_for(moto.pool_id, moto.client_id, iat=now - 100, exp=now - 3))
    early = mint(claims_for(moto.pool_id, moto.client_id, nbf=now + 3))
    config = Config(endpoint_url=moto.endpoint_url)
    async with TokenVerifier(moto.pool_id, [moto.client_id], config=config) as default:
        await refused(default, token, "expired")  # the default leeway is 2 s
    async with TokenVerifier(
        moto.pool_id, [moto.client_id], config=config, leeway=10
    ) as lenient:
        await lenient.verify(token)
        await lenient.verify(early)
    async with TokenVerifier(moto.pool_id, [moto.client_id], config=config, leeway=0) as strict:
        await refused(strict, early, "not_yet_valid")


async def test_required_scopes_and_several_clients(moto: MotoCognito) -> None:
    config = Config(endpoint_url=moto.endpoint_url)
    user = moto.create_user()
    async with TokenVerifier(
        moto.pool_id, ["another", moto.client_id], config=config,
        required_scopes=["aws.cognito.signin.user.admin", "orders/read"],
    ) as verifier:
        await refused(verifier, user.access_token, "scope")
        both = mint(claims_for(moto.pool_id, moto.client_id,
                               scope="aws.cognito.signin.user.admin orders/read"))
        assert (await verifier.verify(both)).scopes >= {"orders/read"}
        other = mint(claims_for(moto.pool_id, "another", scope="orders/read "
                                "aws.cognito.signin.user.admin"))
        assert (await verifier.verify(other)).client_id == "another"


class Store:
    def __init__(self, revoked: bool = False, fail: BaseException | None = None) -> None:
        self.revoked = revoked
        self.fail = fail
        self.seen: list[VerifiedToken] = []

    async def is_revoked(self, token: VerifiedToken) -> bool:
        self.seen.append(token)
        if self.fail is not None:
            raise self.fail
        return self.revoked


async def test_revocations_are_asked_last(moto: MotoCognito) -> None:
    user = moto.create_user()
    config = Config(endpoint_url=moto.endpoint_url)
    store = Store(revoked=True)
    async with TokenVerifier(
        moto.pool_id, [moto.client_id], config=config, revocations=store
    ) as verifier:
        with pytest.raises(TokenRevoked) as caught:
            await verifier.verify(user.access_token)
        assert caught.value.reason == "revoked"
        assert_clean(caught.value, user.access_token)
        assert store.seen[0].origin_jti == user.origin_jti
        # A token failing an earlier check never reaches the store.
        await refused(verifier, user.id_token, "token_use")
        assert len(store.seen) == 1
        store.revoked = False
        assert (await verifier.verify(user.access_token)).username == user.username
        for failure in (ConnectionError("store down"), RevocationsUnavailable("down")):
            store.fail = failure
            with pytest.raises(RevocationsUnavailable) as unavailable:
                await verifier.verify(user.access_token)
            assert_clean(unavailable.value, user.access_token)


async def test_errors_pickle_with_their_reason() -> None:
    error = InvalidToken("the token has expired", reason="expired")
    again = pickle.loads(pickle.dumps(error))
    assert type(again) is InvalidToken and again.reason == "expired" and str(again) == str(error)
    revoked = pickle.loads(pickle.dumps(TokenRevoked()))
    assert type(revoked) is TokenRevoked and revoked.reason == "revoked"
    assert isinstance(revoked, errors.SdkError)
    assert RevocationsUnavailable("x").retry_kind == "transient"
    with pytest.raises(ValueError):
        InvalidToken("x", reason="nonsense")  # type: ignore[arg-type]


async def test_construction_is_checked() -> None:
    good = "eu-west-1_AbC123xYz"
    TokenVerifier(LOOPBACK_POOL, ["c"])  # moto's form: 32 hex digits
    for bad_pool in ("eu-west-1", "AbC123", "eu-west-1_", "xx-west-1_abc", "eu-west-1_a/b",
                     "eu-west-1_" + "a" * 56, "../../evil_abc"):
        with pytest.raises(errors.ConstructionFailure):
            TokenVerifier(bad_pool, ["c"])
    for bad_clients in ("client", [], ["a b"], [1]):
        with pytest.raises(errors.ConstructionFailure):
            TokenVerifier(good, bad_clients)  # type: ignore[arg-type]
    with pytest.raises(errors.ConstructionFailure, match="ID token"):
        TokenVerifier(good, ["c"], token_use="id", confirm_with_cognito=60)
    with pytest.raises(errors.ConstructionFailure):
        TokenVerifier(good, ["c"], token_use="id", required_scopes=["x"])
    with pytest.raises(errors.ConstructionFailure):
        TokenVerifier(good, ["c"], token_use="refresh")  # type: ignore[arg-type]
    with pytest.raises(errors.ConstructionFailure):
        TokenVerifier(good, ["c"], leeway=-1)
    with pytest.raises(errors.ConstructionFailure):
        TokenVerifier(good, ["c"], config=Config(region="us-east-1"))
    with pytest.raises(errors.ConstructionFailure):
        TokenVerifier(good, ["c"], revocations=object())  # type: ignore[arg-type]
    assert TokenVerifier(good, ["c"], token_use="id").token_use == "id"


# --- the key-set endpoint over loopback sockets ----------------------------------------------


async def test_300_cold_verifies_make_one_key_set_request() -> None:
    token = loopback_token()
    results: list[VerifiedToken] = []
    with serve(jwks_handler(delay=0.2)) as server:
        async with loopback_verifier(server.url) as verifier:

            async def one() -> None:
                results.append(await verifier.verify(token))

            async with anyio.create_task_group() as tg:
                for _ in range(300):
                    tg.start_soon(one)
            assert verifier.key_set_fetches == 1
        assert server.request_count == 1
        assert server.requests[0].target == f"/{LOOPBACK_POOL}/.well-known/jwks.json"
        assert server.requests[0].method == "GET"
    assert len(results) == 300


async def test_random_kids_never_storm_the_key_endpoint() -> None:
    good = loopback_token()
    forged = [
        mint(claims_for(LOOPBACK_POOL, LOOPBACK_CLIENT),
             {"alg": "RS256", "kid": uuid.uuid4().hex})
        for _ in range(1000)
    ]
    with serve(jwks_handler(delay=0.05)) as server:
        async with loopback_verifier(server.url) as verifier:
            await verifier.verify(good)  # warm: one fetch
            reasons: list[str] = []

            async def one(token: str) -> None:
                try:
                    await verifier.verify(token)
                except InvalidToken as exc:
                    reasons.append(exc.reason)

            async with anyio.create_task_group() as tg:
                for token in forged[:500]:
                    tg.start_soon(one, token)
            for token in forged[500:]:
                await one(token)
            assert reasons == ["unknown_key"] * 1000
            await verifier.verify(good)  # known kids are unaffected by the cooldown
        assert server.request_count == 2  # the first fetch, one refetch, then the cooldown


async def test_the_cooldown_ends_and_is_configurable() -> None:
    with serve(jwks_handler()) as server:
        async with loopback_verifier(server.url, refetch_cooldown=0.3) as verifier:
            unknown = mint(claims_for(LOOPBACK_POOL, LOOPBACK_CLIENT),
                           {"alg": "RS256", "kid": "rotated"})
            await refused(verifier, unknown, "unknown_key")
            await refused(verifier, unknown, "unknown_key")
            assert server.request_count == 1
            await anyio.sleep(0.35)
            await refused(verifier, unknown, "unknown_key")
            assert server.request_count == 2


async def test_a_rotated_key_is_fetched() -> None:
    # Cognito adds a key: a token signed with it causes one refetch and then verifies.
    other = RSAKey.generate_key(2048, parameters={"kid": "new-key"})
    both = {"keys": [json.loads(PUBLIC_JWKS)["keys"][0], other.as_dict(private=False)]}
    switch = loopback.Switch(jwks_handler())
    with serve(switch) as server:
        async with loopback_verifier(server.url) as verifier:
            await verifier.verify(loopback_token())
            switch.to = jwks_handler(json.dumps(both).encode())
            rotated = sign({"alg": "RS256", "kid": "new-key"},
                           claims_for(LOOPBACK_POOL, LOOPBACK_CLIENT), other)
            await verifier.verify(rotated)
            await verifier.verify(loopback_token())
        assert server.request_count == 2


async def test_a_dripping_key_set_is_cut_off_by_the_operation_timeout() -> None:
    token = loopback_token()
    with serve(loopback.drip(0.05, chunks=400)) as server:  # 20 s in all, never idle 5 s
        async with loopback_verifier(server.url) as verifier:
            started = time.monotonic()
            with pytest.raises(errors.TimeoutError) as caught:
                await verifier.verify(token)
            assert time.monotonic() - started < 2.0 + 1.0
            assert caught.value.kind == "operation"
            assert_clean(caught.value, token)


async def test_the_default_bound_applies_without_an_operation_timeout(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(verify_module, "DEFAULT_KEY_SET_TIMEOUT", 0.5)
    token = loopback_token()
    with serve(loopback.drip(0.05, chunks=400)) as server:
        config = Config(endpoint_url=server.url)  # no operation_timeout, read timeout 5 s
        async with loopback_verifier(server.url, config=config) as verifier:
            started = time.monotonic()
            with pytest.raises(errors.TimeoutError):
                await verifier.verify(token)
            assert time.monotonic() - started < 2.0


async def test_a_10_mib_key_set_is_refused_in_bounded_memory() -> None:
    token = loopback_token()
    for handler in (loopback.enormous_body(10 << 20),
                    loopback.enormous_body(0, chunked=True),
                    loopback.compressed(200, loopback.bomb(10 << 20))):
        with serve(handler) as server:
            async with loopback_verifier(server.url) as verifier:
                tracemalloc.start()
                try:
                    with pytest.raises(errors.ResponseError) as caught:
                        await verifier.verify(token)
                    _, peak = tracemalloc.get_traced_memory()
                finally:
                    tracemalloc.stop()
                assert peak < 2 << 20, peak
                assert "larger than 65536 bytes" in str(caught.value)
                assert_clean(caught.value, token)


@pytest.mark.parametrize(
    ("status", "body", "content_type", "expected"),
    [
        (200, b"<html><body>Sign in to the Wi-Fi</body></html>", "text/html", errors.ResponseError),
        (200, b"\x00\xff garbage", "application/octet-stream", errors.ResponseError),
        (200, b'{"keys": "nope"}', "application/json", errors.ResponseError),
        (200, b'{"keys": []}', "application/json", errors.ResponseError),
        (200, b"[" * 100_00 + b"]" * 100_00, "application/json", errors.ResponseError),
        (200, json.dumps({"keys": [{"kid": KID, "kty": "RSA", "n": "AQAB", "e": "AQAB"}]})
         .encode(), "application/json", errors.ResponseError),  # a 17-bit key
        (200, json.dumps({"keys": [{**json.loads(PUBLIC_JWKS)["keys"][0], "use": "enc"}]})
         .encode(), "application/json", errors.ResponseError),
        (404, b"<html>Not Found</html>", "text/html", errors.ServiceError),
        (403, b'{"message": "Forbidden"}', "application/json", errors.ServiceError),
    ],
)
async def test_bad_key_sets_are_typed_errors(
    status: int, body: bytes, content_type: str, expected: type[Exception]
) -> None:
    token = loopback_token()
    with serve(loopback.answer(status, body, [("Content-Type", content_type)])) as server:
        async with loopback_verifier(server.url) as verifier:
            with pytest.raises(expected) as caught:
                await verifier.verify(token)
            assert not isinstance(caught.value, InvalidToken)
            assert_clean(caught.value, token)
            # Failing fetches are not repeated at once for every verify.
            with pytest.raises(expected):
                await verifier.verify(token)
            assert server.request_count == 1


async def test_a_5xx_is_retried_by_the_config_and_then_works(instant_retries: None) -> None:
    token = loopback_token()
    handler = loopback.sequence(loopback.service_error(503, "InternalErrorException"),
                                jwks_handler())
    with serve(handler) as server:
        config = Config(endpoint_url=server.url)
        async with loopback_verifier(server.url, config=config) as verifier:
            await verifier.verify(token)
        assert server.request_count == 2


async def test_an_unreachable_key_endpoint_is_a_dispatch_failure() -> None:
    token = loopback_token()
    async with loopback_verifier(loopback.refused_url()) as verifier:
        with pytest.raises(errors.DispatchFailure) as caught:
            await verifier.verify(token)
        assert_clean(caught.value, token)


async def test_a_failed_fetch_is_held_briefly_then_asked_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(verify_module, "_FAILURE_HOLD", 0.2)
    token = loopback_token()
    switch = loopback.Switch(loopback.answer(500, b"oops", [("Content-Type", "text/plain")]))
    with serve(switch) as server:
        async with loopback_verifier(server.url) as verifier:
            for _ in range(50):
                with pytest.raises(errors.ServiceError):
                    await verifier.verify(token)
            assert server.request_count == 1
            switch.to = jwks_handler()
            await anyio.sleep(0.25)
            await verifier.verify(token)
            assert server.request_count == 2


async def test_a_callers_http_client_is_used_and_left_open() -> None:
    token = loopback_token()
    with serve(jwks_handler()) as server:
        async with httpx.AsyncClient() as http:
            async with loopback_verifier(server.url, http_client=http) as verifier:
                await verifier.verify(token)
            assert not http.is_closed
        assert server.request_count == 1


async def test_a_cancelled_fetch_lets_the_next_verify_fetch() -> None:
    token = loopback_token()
    with serve(jwks_handler(delay=0.3)) as server:
        async with loopback_verifier(server.url) as verifier:
            with anyio.move_on_after(0.05):
                await verifier.verify(token)
            assert (await verifier.verify(token)).username == "someone"
            assert verifier.key_set_fetches == 2  # the cancelled one, then a fresh one
        assert server.request_count in (1, 2)  # the cancel may come before the request


async def test_a_closed_verifier_refuses_to_work() -> None:
    verifier = loopback_verifier(loopback.refused_url())
    await verifier.aclose()
    with pytest.raises(errors.DispatchFailure):
        await verifier.verify(loopback_token())


def test_without_joserfc_the_verifier_says_which_extra_to_install() -> None:
    shown = construction_failure_without(
        "joserfc", "TokenVerifier('eu-west-1_AbC123xyz', ['client'])"
    )
    assert "pip install 'cognito-signout[verify]'" in shown
