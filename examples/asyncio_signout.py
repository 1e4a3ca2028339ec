"""Sign a user out from an asyncio program.

    COGNITO_ACCESS_TOKEN=... AWS_REGION=eu-west-1 python examples/asyncio_signout.py
    python examples/asyncio_signout.py      # no token given: an embedded Cognito emulator

Settings come from the usual AWS environment (``Config.from_env()``); no AWS credentials are
needed, because the user's access token itself authorizes GlobalSignOut.
"""

from __future__ import annotations

import asyncio
import os
import sys

from cognito_signout import Client, Config, errors


async def sign_out(config: Config, access_token: str) -> int:
    async with Client(config) as client:
        try:
            out = await client.global_sign_out().access_token(access_token).send()
        except errors.NotAuthorizedException:
            print("the token was refused: already signed out, expired or invalid")
            return 3
        except errors.SdkError as exc:  # str(exc) never contains the token
            print(f"sign-out failed: {exc}", file=sys.stderr)
            return 1
    print(f"signed out everywhere (request id {out.request_id}, {out.attempts} attempt(s))")
    return 0


def main() -> int:
    token = os.environ.get("COGNITO_ACCESS_TOKEN")
    if token:
        return asyncio.run(sign_out(Config.from_env(), token))

    from cognito_signout.emulator import MotoCognito

    print("COGNITO_ACCESS_TOKEN is not set: using an embedded Cognito emulator")
    with MotoCognito() as cognito:
        user = cognito.create_user()
        # moto keeps pools of unsigned callers in us-east-1.
        config = Config(region="us-east-1", endpoint_url=cognito.endpoint_url)
        code = asyncio.run(sign_out(config, user.access_token))
        if code == 0 and cognito.access_token_accepted(user.access_token):
            print("FAILED: the emulator still accepts the token", file=sys.stderr)
            return 1
    return code


if __name__ == "__main__":
    sys.exit(main())
