"""FakeCognito signs its tokens and serves its key set (issue 11): an app's own TokenVerifier
accepts the fake's tokens as it would Cognito's, and a sign-out through the fake, recorded in
a ``Revocations.memory()`` store, makes that verifier refuse them. Both asyncio and trio.
"""

from __future__ import annotations

import base64
import email.utils
import json
import subprocess
import sys
import textwrap
import time
import traceback
from typing import Any

import anyio
import httpx
import pytest

from cognito_signout import Config, Revocations, TokenVerifier, VerifiedToken, errors
from cognito_signout.errors import InvalidToken, TokenRevoked
from cognito_signout.testing import INVALID, REVOKED, FakeCognito
from cognito_signout.testing import _pool as pool_module

pytestmark = pytest.mark.anyio

ADMIN_SCOPE = "aws.cognito.signin.user.admin"


def segment(token: str, index: int) -> dict[str, Any]:
    part = token.split(".")[index]
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    return decoded


def with_claims(token: str, **changes: Any) -> str:
    """The token with its payload changed and its signature kept: a forgery."""
    header, _, signature = token.split(".")
    payload = json.dumps({**segment(token, 1), **changes}).encode()
    encoded = base64.urlsafe_b64encode(payload).rstrip(b"=").decode()
    return f"{header}.{encoded}.{signature}"


async def refused(verifier: TokenVerifier, token: str) -> str:
    with pytest.raises(InvalidToken) as caught:
        await verifier.verify(token)
    return caught.value.reason


async def revoked(verifier: TokenVerifier, token: str) -> bool:
    try:
        await verifier.verify(token)
    except TokenRevoked:
        return True
    return False


def frozen_fake(**options: Any) -> FakeCognito:
    """A fake whose clock stands still in the middle of the current second: a sign-out and the
    sign-ins around it share one second unless the test advances the clock."""
    start = int(time.time()) + 0.5
    return FakeCognito(clock=lambda: start, **options)


# --- the fake's tokens verify ----------------------------------------------------------------


async def test_access_and_id_tokens_verify_with_cognitos_claims() -> None:
    fake = FakeCognito(region="eu-west-1")
    web = fake.add_client("webclient")
    session = fake.sign_in("alice", attributes={"email": "alice@example.com"})
    other_client = fake.sign_in("alice", client_id=web.client_id)
    async with fake.verifier() as access, fake.verifier(token_use="id") as id_verifier:
        assert access.client_ids == {"fakeclientid", "webclient"}
        token = await access.verify(session.access_token)
        id_token = await id_verifier.verify(session.id_token)
        assert (await access.verify(other_client.access_token)).client_id == "webclient"

    assert isinstance(token, VerifiedToken)
    assert (token.username, token.client_id, token.token_use) == ("alice", "fakeclientid", "access")
    assert token.scopes == {ADMIN_SCOPE}
    assert token.origin_jti == id_token.origin_jti == session.origin_jti
    assert token.sub == id_token.sub
    assert other_client.origin_jti != session.origin_jti
    assert (id_token.username, id_token.client_id, id_token.token_use) == (
        "alice", "fakeclientid", "id",
    )
    assert id_token.scopes == frozenset() and "scope" not in id_token.claims
    assert id_token.claims["email"] == "alice@example.com"
    assert id_token.claims["aud"] == "fakeclientid" and "client_id" not in id_token.claims
    assert token.jti and id_token.jti and token.jti != id_token.jti
    for verified in (token, id_token):
        claims = verified.claims
        assert claims["iss"] == fake.issuer == (
            f"https://cognito-idp.eu-west-1.amazonaws.com/{fake.pool_id}"
        )
        assert claims["auth_time"] == claims["iat"] and claims["exp"] == claims["iat"] + 3600
        assert abs(claims["iat"] - time.time()) < 5
    [key] = fake.key_set()["keys"]
    for raw in (session.access_token, session.id_token):
        assert segment(raw, 0) == {"kid": key["kid"], "alg": "RS256"}


async def test_a_refreshed_token_keeps_the_session_and_the_sign_in_time() -> None:
    fake = FakeCognito()
    session = fake.sign_in("bea", scopes=["openid", "profile"])
    fake.advance(30)
    refreshed = fake.refresh(session.refresh_token)
    async with fake.verifier(required_scopes=["openid"]) as verifier:
        first, second = await verifier.verify(session.access_token), await verifier.verify(
            refreshed
        )
    assert second.origin_jti == first.origin_jti == session.origin_jti
    assert second.jti != first.jti
    assert second.claims["iat"] == first.claims["iat"] + 30
    assert second.claims["auth_time"] == first.claims["auth_time"]
    assert second.scopes == first.scopes == {"openid", "profile"}


async def test_wrong_client_expired_id_for_access_and_forgeries_are_refused() -> None:
    fake = FakeCognito()
    session = fake.sign_in("carl")
    no_scope = fake.sign_in("carl", scopes=())
    fake.advance(-7200)  # issued two hours ago: expired an hour ago, on the verifier's clock
    old = fake.sign_in("carl")
    stranger = FakeCognito(own_signing_key=True).issue_token("carl")
    async with fake.verifier(["someoneelse"]) as wrong_client, fake.verifier(
        required_scopes=[ADMIN_SCOPE]
    ) as verifier:
        assert await refused(wrong_client, session.access_token) == "client"
        assert await refused(verifier, old.access_token) == "expired"
        assert await refused(verifier, session.id_token) == "token_use"
        assert await refused(verifier, no_scope.access_token) == "scope"
        assert await refused(verifier, with_claims(session.access_token, sub="x")) == "signature"
        assert await refused(verifier, stranger) == "unknown_key"
        await verifier.verify(session.access_token)
    # Another fake sharing the process's key: its tokens name another pool.
    async with FakeCognito().verifier() as other_pool:
        assert await refused(other_pool, session.access_token) == "issuer"


async def test_300_concurrent_cold_verifies_fetch_the_key_set_once() -> None:
    fake = FakeCognito(latency=0.01)  # the key set takes a while: every verify waits for it
    tokens = [fake.issue_token(f"user-{i}") for i in range(3)]
    verified: list[VerifiedToken] = []
    cold: list[bool] = []

    async def verify(verifier: TokenVerifier, token: str) -> None:
        cold.append(fake.key_set_requests == 0)
        verified.append(await verifier.verify(token))

    async with fake.verifier() as verifier:
        async with anyio.create_task_group() as tasks:
            for i in range(300):
                tasks.start_soon(verify, verifier, tokens[i % 3])
        assert verifier.key_set_fetches == 1
    assert cold == [True] * 300  # every verify began before the key set arrived
    assert len(verified) == 300
    assert fake.key_set_requests == 1
    assert fake.calls == []  # a key-set request is not an operation


async def test_a_plain_verifier_reaches_the_fake_through_patch() -> None:
    """No http_client and no endpoint: the verifier asks the issuer's host, the fake answers."""
    fake = FakeCognito(region="ap-southeast-2")
    token = fake.issue_token("dina")
    with fake.patch():
        async with TokenVerifier(fake.pool_id, ["fakeclientid"]) as verifier:
            assert verifier.jwks_url.host == "cognito-idp.ap-southeast-2.amazonaws.com"
            assert (await verifier.verify(token)).username == "dina"
        emulator = Config(region=fake.region, endpoint_url="http://localhost:4566")
        async with TokenVerifier(fake.pool_id, ["fakeclientid"], config=emulator) as verifier:
            assert verifier.jwks_url.host == "localhost"
            assert (await verifier.verify(token)).username == "dina"
    assert fake.key_set_requests == 2


async def _get(fake: FakeCognito, url: str) -> httpx.Response:
    async with httpx.AsyncClient(transport=fake) as http:
        return await http.get(url)


async def test_the_key_set_is_a_jwk_set_and_unknown_pools_are_not_found() -> None:
    fake = FakeCognito()
    path = f"/{fake.pool_id}/.well-known/jwks.json"
    served = await _get(fake, f"https://cognito-idp.us-east-1.amazonaws.com{path}")
    assert served.status_code == 200
    assert served.headers["content-type"] == "application/json"
    assert served.json() == fake.key_set()
    [key] = served.json()["keys"]
    assert set(key) == {"kty", "kid", "alg", "use", "n", "e"}
    assert (key["kty"], key["alg"], key["use"], key["e"]) == ("RSA", "RS256", "sig", "AQAB")
    assert len(base64.urlsafe_b64decode(key["n"] + "==")) == 256  # RSA-2048

    for url in (
        "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_NoSuchPool/.well-known/jwks.json",
        f"https://cognito-idp.eu-west-1.amazonaws.com{path}",  # another region's host
    ):
        response = await _get(fake, url)
        assert response.status_code == 404
        assert response.headers["x-amzn-errortype"] == "ResourceNotFoundException"
    async with TokenVerifier(
        "us-east-1_NoSuchPool", ["fakeclientid"], http_client=httpx.AsyncClient(transport=fake)
    ) as verifier:
        with pytest.raises(errors.ServiceError) as caught:
            await verifier.verify(fake.issue_token())
    assert caught.value.status_code == 404 and caught.value.code == "ResourceNotFoundException"
    assert fake.key_set_requests == 4
    fake.reset()
    assert fake.key_set_requests == 0


async def test_answers_carry_a_date_from_the_fakes_clock() -> None:
    fake = frozen_fake()
    for _ in range(2):
        async with fake.client() as client:
            out = await client.global_sign_out().access_token(fake.issue_token()).send()
        assert out.request_id
        async with httpx.AsyncClient(transport=fake) as http:
            # An error (no X-Amz-Target) has a Date too.
            answer = await http.post("https://cognito-idp.us-east-1.amazonaws.com/", content=b"{}")
        moment = email.utils.parsedate_to_datetime(answer.headers["date"]).timestamp()
        assert moment == int(fake.now())
        assert answer.headers["date"].endswith(" GMT")
        fake.advance(90)


def test_one_key_per_process_made_on_the_first_token(monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[object] = []
    real = pool_module.new_signing_key

    def counting() -> pool_module.SigningKey | None:
        made.append(None)
        return real()

    monkeypatch.setattr(pool_module, "_shared", [])
    monkeypatch.setattr(pool_module, "new_signing_key", counting)
    fakes = [FakeCognito() for _ in range(20)]
    assert made == []  # making fakes costs no key
    kids = {fake.key_set()["keys"][0]["kid"] for fake in fakes[:3]}
    fakes[3].sign_in()
    assert len(made) == 1 and len(kids) == 1
    own = FakeCognito(own_signing_key=True)
    assert len(made) == 1
    assert own.key_set()["keys"][0]["kid"] not in kids
    assert len(made) == 2


# --- revocations through the fake ------------------------------------------------------------


async def test_a_sign_out_through_the_fake_refuses_every_session_of_the_user() -> None:
    fake = frozen_fake()
    web = fake.add_client("webclient")
    phone, laptop = fake.sign_in("erin"), fake.sign_in("erin", client_id=web.client_id)
    refreshed = fake.refresh(phone.refresh_token)
    bystander = fake.sign_in("fred")
    store = Revocations.memory()
    async with fake.verifier(revocations=store) as access, fake.verifier(
        token_use="id", revocations=store
    ) as id_verifier:
        for session in (phone, laptop, bystander):
            await access.verify(session.access_token)
            await id_verifier.verify(session.id_token)
        async with fake.client(revocations=store) as client:
            out = await client.global_sign_out().access_token(phone.access_token).send()
        assert out.revocation is not None and out.revocation.recorded

        for token in (phone.access_token, laptop.access_token, refreshed):
            assert await revoked(access, token)
        for token in (phone.id_token, laptop.id_token):
            assert await revoked(id_verifier, token)
        await access.verify(bystander.access_token)
        await id_verifier.verify(bystander.id_token)

        # iat is whole seconds: a sign-in in the sign-out's own second is refused too...
        same_second = fake.sign_in("erin")
        assert await revoked(access, same_second.access_token)
        # ...and one a second later passes, without sleeping.
        fake.advance(1)
        later = fake.sign_in("erin")
        assert (await access.verify(later.access_token)).username == "erin"
        assert (await id_verifier.verify(later.id_token)).username == "erin"


async def test_a_refused_sign_out_records_nothing() -> None:
    fake = FakeCognito()
    gina, hugo = fake.sign_in("gina"), fake.sign_in("hugo")
    ended = fake.sign_in("gina")
    fake.revoke_session(ended.access_token)
    # Gina's genuine token with Hugo's sub in it: the signature is no longer Cognito's.
    forged = with_claims(gina.access_token, sub=segment(hugo.access_token, 1)["sub"])
    # Hugo's sub under another pool's issuer: the fake accepts unknown tokens by default, but
    # never as a sign-out of a user it knows.
    elsewhere = with_claims(
        forged, iss="https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Elsewhere1"
    )
    store = Revocations.memory()
    async with fake.client(revocations=store) as client:
        for token, message in (
            (ended.access_token, REVOKED),
            (gina.id_token, INVALID),
            (forged, INVALID),
            (elsewhere, INVALID),
        ):
            with pytest.raises(errors.NotAuthorizedException) as caught:
                await client.global_sign_out().access_token(token).send()
            assert caught.value.message == message
    assert len(store) == 0
    assert fake.sign_outs == []
    async with fake.verifier(revocations=store) as verifier:
        await verifier.verify(hugo.access_token)
        await verifier.verify(gina.access_token)


async def test_revoking_one_session_refuses_that_session_only() -> None:
    fake = FakeCognito()
    phone, laptop, tablet = (fake.sign_in("ivy") for _ in range(3))
    refreshed = fake.refresh(phone.refresh_token)
    store = Revocations.memory()
    async with fake.verifier(revocations=store) as access, fake.verifier(
        token_use="id", revocations=store
    ) as id_verifier:
        verified = await access.verify(phone.access_token)
        async with fake.client() as client:
            await client.revoke_token().token(phone.refresh_token).client_id(
                phone.client_id
            ).send()
        assert fake.is_revoked(phone.access_token)
        await store.revoke_session(verified)  # what the app records after its RevokeToken
        # A RevokeToken elsewhere, which the app learns of by the session's origin_jti.
        fake.revoke_session(tablet.refresh_token)
        await store.revoke_session(tablet.origin_jti)

        for token in (phone.access_token, refreshed, tablet.access_token):
            assert await revoked(access, token)
        assert await revoked(id_verifier, phone.id_token)
        assert await revoked(id_verifier, tablet.id_token)
        assert (await access.verify(laptop.access_token)).origin_jti == laptop.origin_jti
        await id_verifier.verify(laptop.id_token)


# --- secrets ---------------------------------------------------------------------------------


async def test_no_token_shows_in_any_repr_or_error(instant_retries: None) -> None:
    fake = FakeCognito()
    session = fake.sign_in("jay")
    expired = FakeCognito(clock=lambda: time.time() - 7200).issue_token("jay")
    store = Revocations.memory()
    shown: list[str] = []
    failures: list[BaseException] = []
    async with fake.verifier(revocations=store) as verifier:
        verified = await verifier.verify(session.access_token)
        async with fake.client(revocations=store) as client:
            await client.global_sign_out().access_token(session.access_token).send()
            try:
                await client.global_sign_out().access_token(session.access_token).send()
            except errors.NotAuthorizedException as exc:
                failures.append(exc)
        for token in (session.access_token, session.id_token, expired, session.refresh_token):
            try:
                await verifier.verify(token)
            except errors.SdkError as exc:
                failures.append(exc)
        shown += [repr(verifier), repr(verified), str(verified.claims), repr(store)]
    async with TokenVerifier(
        "us-east-1_Unknown", ["fakeclientid"], http_client=httpx.AsyncClient(transport=fake)
    ) as unknown:
        try:
            await unknown.verify(session.access_token)
        except errors.ServiceError as exc:
            failures.append(exc)
    assert [type(f).__name__ for f in failures] == [
        "NotAuthorizedException", "TokenRevoked", "InvalidToken", "InvalidToken", "InvalidToken",
        "ServiceError",
    ]
    for failure in failures:
        shown += [str(failure), repr(failure), "".join(traceback.format_exception(failure))]
    shown += [repr(fake), str(fake), repr(fake.calls), repr(session), str(fake.key_set())]
    shown += [repr(fake._pool.signing_key())]
    secrets = (session.access_token, session.id_token, session.refresh_token, expired)
    for text in shown:
        for secret in secrets:
            assert secret not in text
            assert secret.split(".")[2] not in text  # not even the signature
    assert "jay" in repr(fake.calls)


# --- the package's own example ---------------------------------------------------------------


def docstring_examples() -> list[str]:
    """The indented code blocks of ``cognito_signout.testing``'s docstring."""
    import cognito_signout.testing as testing

    blocks: list[str] = []
    current: list[str] = []
    for line in [*(testing.__doc__ or "").splitlines(), ""]:
        if line.startswith("    ") or (current and not line.strip()):
            current.append(line)
        elif current:
            blocks.append(textwrap.dedent("\n".join(current)))
            current = []
    return blocks


async def test_the_examples_users_read_run() -> None:
    examples = docstring_examples()
    assert len(examples) == 2 and "TokenRevoked" in examples[1]
    for example in examples:
        namespace: dict[str, Any] = {}
        exec("async def example():\n" + textwrap.indent(example, "    "), namespace)
        await namespace["example"]()


# --- without cryptography --------------------------------------------------------------------


def test_without_cryptography_the_fake_signs_out_and_refuses_to_serve_a_key_set() -> None:
    """A user with only cognito-signout installed: no cryptography, no joserfc."""
    code = textwrap.dedent(
        """
        import sys
        sys.modules["cryptography"] = None  # any import of it now fails, as if not installed
        sys.modules["joserfc"] = None
        import anyio, httpx
        from cognito_signout.testing import FakeCognito, REVOKED
        from cognito_signout import errors

        async def main():
            fake = FakeCognito()
            session = fake.sign_in("kim")
            header = session.access_token.split(".")[0]
            async with fake.client() as client:
                await client.global_sign_out().access_token(session.access_token).send()
                try:
                    await client.get_user().access_token(session.access_token).send()
                except errors.NotAuthorizedException as exc:
                    assert exc.message == REVOKED
            async with httpx.AsyncClient(transport=fake) as http:
                answer = await http.get(
                    f"https://cognito-idp.us-east-1.amazonaws.com/{fake.pool_id}"
                    "/.well-known/jwks.json"
                )
            try:
                fake.key_set()
            except RuntimeError as exc:
                assert "cryptography" in str(exc)
            else:
                raise AssertionError("key_set() gave keys without cryptography")
            print(header, answer.status_code, answer.headers["x-amzn-errortype"])
            print(fake.signed_out(session.access_token))
            print(sorted(m for m in sys.modules if m.startswith(("cryptography", "joserfc"))))

        anyio.run(main)
        """
    )
    run = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert run.returncode == 0, run.stdout + run.stderr
    header, status, code_name, signed_out, loaded = run.stdout.split(None, 4)
    padded = header + "=" * (-len(header) % 4)
    assert json.loads(base64.urlsafe_b64decode(padded))["kid"] == "cognito-signout-fake-unsigned"
    assert (status, code_name, signed_out) == ("501", "SigningKeyUnavailable", "True")
    assert loaded.strip() == "['cryptography', 'joserfc']"  # the blocked entries alone
