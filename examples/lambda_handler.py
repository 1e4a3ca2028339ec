"""Cognito sign-out on AWS Lambda: a FastAPI app behind API Gateway, through Mangum.

    # handler setting of the function: lambda_handler.handler
    pip install 'cognito-signout[fastapi]' mangum

Settings come from the function's environment (``AWS_REGION`` is set by Lambda; add
``AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER``, ``AWS_MAX_ATTEMPTS`` etc. if you need them),
read on the first invocation, not at import. No AWS credentials are needed: the caller's access
token authorizes GlobalSignOut, so the function's role needs no Cognito permission.

One client per warm container: ``lifespan="off"`` skips the ASGI lifespan Mangum would
otherwise run around every invocation, and the first request opens the shared client; later
invocations of the same container reuse it and its connections. (``lifespan="auto"`` works
too: under Lambda, CognitoSignOut keeps the client across those per-invocation lifespans.)

    python examples/lambda_handler.py     # invoke the handler with sample API Gateway events,
                                          # on an embedded emulator unless AWS_REGION or an
                                          # endpoint is set (then COGNITO_ACCESS_TOKEN is used)
"""

from __future__ import annotations

import os
import sys
import uuid
from typing import Any

from fastapi import FastAPI
from mangum import Mangum

from cognito_signout.fastapi import CognitoSignOut

# No Config: Config.from_env() is read on the first invocation. Keyword arguments named after
# Config fields would override it, e.g. CognitoSignOut(app_name="my-logout-fn").
cognito = CognitoSignOut()

app = FastAPI(title="cognito-signout on Lambda", lifespan=cognito.lifespan)
app.include_router(cognito.router)  # POST /sign-out, token from "Authorization: Bearer ..."

handler = Mangum(app, lifespan="off")


# --- invoking it locally ------------------------------------------------------------------------


class SampleContext:
    """The attributes of the Lambda runtime's context object that Mangum passes on."""

    function_name = "cognito-signout-example"
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:example"
    memory_limit_in_mb = 256
    log_group_name = "/aws/lambda/cognito-signout-example"
    log_stream_name = "local"
    identity = None
    client_context = None

    def __init__(self) -> None:
        self.aws_request_id = str(uuid.uuid4())

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


def sample_event(access_token: str) -> dict[str, Any]:
    """``POST /sign-out`` as API Gateway's HTTP API (payload format 2.0) delivers it."""
    return {
        "version": "2.0",
        "routeKey": "POST /sign-out",
        "rawPath": "/sign-out",
        "rawQueryString": "",
        "headers": {
            "authorization": f"Bearer {access_token}",
            "host": "example.execute-api.us-east-1.amazonaws.com",
            "x-forwarded-proto": "https",
        },
        "requestContext": {
            "http": {"method": "POST", "path": "/sign-out", "protocol": "HTTP/1.1",
                     "sourceIp": "203.0.113.7", "userAgent": "example"},
            "requestId": str(uuid.uuid4()),
            "stage": "$default",
        },
        "isBase64Encoded": False,
    }


def invoke(access_token: str) -> tuple[int, str]:
    """One invocation: the status code and, for an error, the error name from the body."""
    import json

    result = handler(sample_event(access_token), SampleContext())  # type: ignore[arg-type]
    body = result.get("body") or ""
    error = json.loads(body).get("error", "") if body.startswith("{") else ""
    return int(result["statusCode"]), error


def _configured() -> bool:
    names = ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL",
             "AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER")
    return any(os.environ.get(name) for name in names)


def self_check() -> int:
    """Two warm invocations on the embedded emulator: 204, then 401 for the same token."""
    from cognito_signout.emulator import MotoCognito

    with MotoCognito() as emulator:
        # Set before the first invocation, which is when the configuration is read.
        os.environ["AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER"] = emulator.endpoint_url
        os.environ["AWS_REGION"] = "us-east-1"  # moto keeps unsigned callers' pools there
        print(f"embedded Cognito emulator at {emulator.endpoint_url}")
        user = emulator.create_user()
        first, _ = invoke(user.access_token)
        second, error = invoke(user.access_token)
        print(f"invocation 1: POST /sign-out       -> {first}")
        print(f"invocation 2: POST /sign-out again -> {second} {error}")
        refused = not emulator.access_token_accepted(user.access_token)
        print(f"token refused by Cognito afterwards: {refused}")
        print(f"one shared client, still open: {'open_clients=1' in repr(cognito)}")
    return 0 if (first, second, error, refused) == (204, 401, "invalid_token", True) else 1


def main() -> int:
    if not _configured():
        return self_check()
    token = os.environ.get("COGNITO_ACCESS_TOKEN", "").strip()
    if not token:
        print("set COGNITO_ACCESS_TOKEN to the access token to sign out", file=sys.stderr)
        return 2
    status, error = invoke(token)
    print(f"POST /sign-out -> {status} {error}".rstrip())
    return 0 if status == 204 else 1


if __name__ == "__main__":
    sys.exit(main())
