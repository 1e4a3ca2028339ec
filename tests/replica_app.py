"""One replica of an API for tests/test_replicas.py: ``uvicorn tests.replica_app:app``.

Configured only by environment variables, as a deployed replica would be, so that several
uvicorn processes serve the same code against one Cognito (the emulator) and one Redis:

- ``REPLICA_ENDPOINT_URL``: the emulator's endpoint (its key set is served there too);
- ``REPLICA_USER_POOL_ID``, ``REPLICA_CLIENT_ID``: the pool and app client whose tokens pass;
- ``REPLICA_REDIS_URL``: the revocation store every replica shares;
- ``REPLICA_NAME``: echoed by ``/me``, so a test sees which replica answered.

Everything is built at import, as an app module does: nothing connects before the lifespan.
"""

from __future__ import annotations

import os

from fastapi import Depends, FastAPI, Response

from cognito_signout import Config, Revocations, VerifiedToken
from cognito_signout.fastapi import CognitoSignOut


def _setting(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise RuntimeError(f"{name} is not set (see tests/replica_app.py)")
    return value


NAME = os.environ.get("REPLICA_NAME", "replica")

# A short health interval: a test that stops Redis should not wait seconds to be noticed.
store = Revocations.redis(_setting("REPLICA_REDIS_URL"), health_interval=0.25)
cognito = CognitoSignOut(
    # moto's pools live in us-east-1 (unsigned requests land there).
    Config(region="us-east-1", endpoint_url=_setting("REPLICA_ENDPOINT_URL")),
    user_pool_id=_setting("REPLICA_USER_POOL_ID"),
    client_ids=[_setting("REPLICA_CLIENT_ID")],
    revocations=store,
)
app = FastAPI(lifespan=cognito.lifespan)
app.include_router(cognito.router)


authenticated = Depends(cognito.authenticated)


@app.get("/me")
async def me(token: VerifiedToken = authenticated) -> dict[str, str]:
    return {"sub": token.sub, "replica": NAME}


@app.get("/ready")
async def ready() -> Response:
    """200 once the store has synced (a replica before that refuses every token with 503)."""
    return Response(status_code=200 if store.ready else 503)
