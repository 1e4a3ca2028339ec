"""The quick-start demo: a real sign-out against an embedded Cognito emulator.

Starts moto's server on 127.0.0.1, creates a user, signs them out with cognito-signout and shows
that Cognito now refuses both the access token and the refresh token. Exits non-zero if not.
"""

from __future__ import annotations

import sys

import anyio

from cognito_signout import Client, Config, errors
from cognito_signout.emulator import MotoCognito


async def sign_out(endpoint_url: str, access_token: str) -> None:
    # moto keeps unsigned callers' pools in us-east-1, so that is the region to name.
    config = Config(region="us-east-1", endpoint_url=endpoint_url, app_name="demo")
    async with Client(config) as client:
        out = await client.global_sign_out().access_token(access_token).send()
        print(f"  GlobalSignOut ok        request id {out.request_id}")
        try:
            await client.global_sign_out().access_token(access_token).send()
        except errors.NotAuthorizedException as exc:
            print(f"  signing out again       {exc.code} (HTTP {exc.status_code})")


def main() -> int:
    print("starting moto's Cognito server on 127.0.0.1 ...")
    with MotoCognito() as cognito:
        user = cognito.create_user()
        print(f"  server                  {cognito.endpoint_url}")
        print(f"  user                    {user.username} in pool {user.pool_id}")
        before = cognito.access_token_accepted(user.access_token)
        print(f"  access token accepted   {before}")
        anyio.run(sign_out, cognito.endpoint_url, user.access_token)
        access_after = cognito.access_token_accepted(user.access_token)
        refresh_after = cognito.refresh_token_accepted(user)
        print(f"  access token accepted   {access_after}   (GetUser)")
        print(f"  refresh token accepted  {refresh_after}   (REFRESH_TOKEN_AUTH)")
    if before and not access_after and not refresh_after:
        print("signed out: every token Cognito issued to the user is now refused")
        return 0
    print("FAILED: the tokens still work", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
