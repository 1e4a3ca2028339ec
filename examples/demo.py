"""The quick-start demo: real sign-outs against an embedded Cognito emulator.

Starts moto's server on 127.0.0.1 (with the emulator's RevokeToken on top) and shows both kinds
of sign-out, checking each with Cognito's own GetUser:

1. this device: a user signed in on a laptop and a phone revokes the laptop's refresh token
   (RevokeToken); the laptop's tokens are refused, the phone's session lives on;
2. everywhere: GlobalSignOut with the phone's access token; every token is refused.

Exits non-zero if Cognito does not refuse what it should, or refuses what it should not.
"""

from __future__ import annotations

import sys

import anyio

from cognito_signout import Client, Config, errors, logout_url
from cognito_signout.emulator import CognitoUser, MotoCognito


async def live(client: Client, user: CognitoUser) -> bool:
    """Cognito's own answer: does this access token still authorize GetUser?"""
    try:
        await client.get_user().access_token(user.access_token).send()
    except errors.NotAuthorizedException:
        return False
    return True


async def demo(cognito: MotoCognito, laptop: CognitoUser, phone: CognitoUser) -> bool:
    # moto keeps unsigned callers' pools in us-east-1, so that is the region to name.
    config = Config(region="us-east-1", endpoint_url=cognito.endpoint_url, app_name="demo")
    async with Client(config) as client:
        laptop_live, phone_live = await live(client, laptop), await live(client, phone)
        print(f"  laptop / phone live     {laptop_live} / {phone_live}")

        revoked = await client.revoke_token().token(laptop.refresh_token).client_id(
            laptop.client_id).send()
        print(f"  RevokeToken (laptop)    ok, request id {revoked.request_id}")
        laptop_live, phone_live = await live(client, laptop), await live(client, phone)
        laptop_refresh = cognito.refresh_token_accepted(laptop)
        print(f"  laptop live             {laptop_live}   refresh accepted {laptop_refresh}")
        print(f"  phone live              {phone_live}    (the other session lives on)")
        one_device = not laptop_live and not laptop_refresh and phone_live

        signed_out = await client.global_sign_out().access_token(phone.access_token).send()
        print(f"  GlobalSignOut (phone)   ok, request id {signed_out.request_id}")
        phone_live = await live(client, phone)
        phone_refresh = cognito.refresh_token_accepted(phone)
        print(f"  phone live              {phone_live}   refresh accepted {phone_refresh}")
        everywhere = not phone_live and not phone_refresh

    # The browser's managed-login session ends only when it visits /logout:
    link = logout_url("demo.auth.us-east-1.amazoncognito.com", client_id=laptop.client_id,
                      logout_uri="https://app.example.com/signed-out")
    print(f"  managed-login logout    {link.split('?')[0]}?client_id=...&logout_uri=...")
    return one_device and everywhere


def main() -> int:
    print("starting moto's Cognito server on 127.0.0.1 (with RevokeToken) ...")
    with MotoCognito() as cognito:
        laptop = cognito.create_user()
        phone = cognito.login(laptop)  # the same user's second session
        print(f"  server                  {cognito.endpoint_url}")
        print(f"  user                    {laptop.username} in pool {laptop.pool_id}")
        ok = anyio.run(demo, cognito, laptop, phone)
    if ok:
        print("signed out: one device, then everywhere; Cognito refuses exactly those tokens")
        return 0
    print("FAILED: Cognito's answers are not what the sign-outs should leave", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
