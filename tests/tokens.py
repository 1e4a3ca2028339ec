"""Access tokens shaped like Cognito's, for tests. Unsigned: the SDK never verifies them."""

from __future__ import annotations

import base64
import json
import uuid


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def make_token(
    region: str = "eu-west-1",
    *,
    issuer: str | None = None,
    token_use: str = "access",
    **claims: object,
) -> str:
    """A JWT whose ``iss`` is ``https://cognito-idp.<region>.amazonaws.com/<region>_AbC123``."""
    payload = {
        "sub": str(uuid.uuid4()),
        "iss": issuer
        if issuer is not None
        else f"https://cognito-idp.{region}.amazonaws.com/{region}_AbC123xyz",
        "token_use": token_use,
        "scope": "aws.cognito.signin.user.admin",
        "client_id": "abc123",
        "jti": str(uuid.uuid4()),
        **claims,
    }
    header = {"kid": "test", "alg": "RS256"}
    return ".".join(
        (
            _b64(json.dumps(header).encode()),
            _b64(json.dumps(payload).encode()),
            _b64(uuid.uuid4().bytes * 8),
        )
    )


TOKEN = make_token()
