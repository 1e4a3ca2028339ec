"""A FastAPI app with Cognito sign-out: the ready route and a custom one.

    uvicorn fastapi_app:app --app-dir examples        # settings from AWS_REGION etc.
    python examples/fastapi_app.py                    # serve, on an embedded emulator if no
                                                      # AWS_REGION / endpoint is configured
    python examples/fastapi_app.py --self-check       # serve, log a user out, check, exit

Then ``curl -X POST -H "Authorization: Bearer $TOKEN" http://127.0.0.1:8000/sign-out``.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
import tempfile
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request, Response

from cognito_signout import Client, errors
from cognito_signout.fastapi import CognitoSignOut, error_response

# No Config: Config.from_env() is read when the app starts (AWS_REGION, endpoint, retries).
cognito = CognitoSignOut()


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
    """The app's own lifespan, with cognito's inside it: pass its state on."""
    async with cognito.lifespan(app) as state:
        # ... open your database pool etc. here ...
        yield {**state}


app = FastAPI(title="cognito-signout example", lifespan=lifespan)
app.include_router(cognito.router)  # POST /sign-out, token from "Authorization: Bearer ..."

# The shared client as a dependency (the same as `client: Client = Depends(cognito.client)`).
CognitoClient = Annotated[Client, Depends(cognito.client)]


@app.post("/my-logout", status_code=204)
async def my_logout(request: Request, client: CognitoClient) -> Response:
    """A logout for browser sessions that keep the access token in an HttpOnly cookie.

    (Use SameSite=Strict cookies, or a CSRF token, for a cookie-authorized POST.)
    """
    token = request.cookies.get("access_token")
    if token is None:
        return Response(status_code=204)  # nothing to sign out
    try:
        await client.global_sign_out().access_token(token).send()
    except errors.NotAuthorizedException:
        pass  # already signed out or expired: the session is over either way
    except errors.SdkError as exc:
        return error_response(exc)  # the same HTTP mapping as /sign-out
    response = Response(status_code=204)
    response.delete_cookie("access_token")
    return response


# --- running it directly ----------------------------------------------------------------------


def _configured() -> bool:
    names = ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL",
             "AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER")
    return any(os.environ.get(name) for name in names)


def _use_emulator_env(endpoint_url: str) -> None:
    os.environ["AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER"] = endpoint_url
    os.environ["AWS_REGION"] = "us-east-1"  # moto keeps unsigned callers' pools there


def _serve_in_thread(port: int) -> tuple[Any, threading.Thread]:
    import uvicorn

    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started and thread.is_alive():
        threading.Event().wait(0.02)
    return server, thread


def self_check() -> int:
    """Serve on a free port, sign an emulator user out through the app, check moto agrees."""
    import httpx

    from cognito_signout.emulator import MotoCognito

    with MotoCognito() as cognito_server, socket.socket() as probe:
        _use_emulator_env(cognito_server.endpoint_url)
        user = cognito_server.create_user()
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
        probe.close()
        server, thread = _serve_in_thread(port)
        try:
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", trust_env=False) as http:
                auth = {"Authorization": f"Bearer {user.access_token}"}
                first = http.post("/sign-out", headers=auth)
                second = http.post("/sign-out", headers=auth)
        finally:
            server.should_exit = True
            thread.join(10)
        print(f"POST /sign-out       -> {first.status_code}")
        print(f"POST /sign-out again -> {second.status_code} {second.json()['error']}")
        refused = not cognito_server.access_token_accepted(user.access_token)
        print(f"token refused by Cognito afterwards: {refused}")
    return 0 if first.status_code == 204 and second.status_code == 401 and refused else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--self-check", action="store_true")
    args = parser.parse_args()
    if args.self_check:
        return self_check()

    import uvicorn

    if _configured():
        uvicorn.run(app, host="127.0.0.1", port=args.port)
        return 0
    from cognito_signout.emulator import MotoCognito

    with MotoCognito() as emulator, tempfile.TemporaryDirectory() as folder:
        _use_emulator_env(emulator.endpoint_url)
        token_file = os.path.join(folder, "token")
        # The demo token goes to a private file, never to the terminal.
        fd = os.open(token_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(emulator.create_user().access_token)
        print(f"embedded Cognito emulator at {emulator.endpoint_url}; a demo user's token is in")
        print(f"  {token_file}")
        print(f'try: curl -i -X POST -H "Authorization: Bearer $(cat {token_file})" '
              f"http://127.0.0.1:{args.port}/sign-out")
        uvicorn.run(app, host="127.0.0.1", port=args.port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
