"""Sign several users out concurrently under trio: the SDK is built on anyio, not asyncio.

    COGNITO_ACCESS_TOKEN=... AWS_REGION=eu-west-1 python examples/trio_signout.py
    python examples/trio_signout.py      # no token given: three users on an embedded emulator

One Client serves every task of the nursery: it holds one connection pool and retry quota.
"""

from __future__ import annotations

import os
import sys

import trio

from cognito_signout import Client, Config, errors


async def sign_out_all(config: Config, tokens: list[str]) -> dict[int, str]:
    """Sign every token out concurrently; the outcome per position in ``tokens``."""
    outcomes: dict[int, str] = {}

    async def one(client: Client, index: int, token: str) -> None:
        try:
            out = await client.global_sign_out().access_token(token).send()
        except errors.SdkError as exc:
            outcomes[index] = f"failed: {type(exc).__name__}"
        else:
            outcomes[index] = f"signed out (request id {out.request_id})"

    async with Client(config) as client, trio.open_nursery() as nursery:
        for index, token in enumerate(tokens):
            nursery.start_soon(one, client, index, token)
    return outcomes


def report(outcomes: dict[int, str]) -> int:
    for index in sorted(outcomes):
        print(f"  session {index + 1}: {outcomes[index]}")
    return 0 if all(o.startswith("signed out") for o in outcomes.values()) else 1


def main() -> int:
    token = os.environ.get("COGNITO_ACCESS_TOKEN")
    if token:
        return report(trio.run(sign_out_all, Config.from_env(), [token]))

    from cognito_signout.emulator import MotoCognito

    print("COGNITO_ACCESS_TOKEN is not set: using an embedded Cognito emulator")
    with MotoCognito() as cognito:
        users = [cognito.create_user() for _ in range(3)]
        config = Config(region="us-east-1", endpoint_url=cognito.endpoint_url)
        code = report(trio.run(sign_out_all, config, [u.access_token for u in users]))
        if any(cognito.access_token_accepted(u.access_token) for u in users):
            print("FAILED: the emulator still accepts a token", file=sys.stderr)
            return 1
    return code


if __name__ == "__main__":
    sys.exit(main())
