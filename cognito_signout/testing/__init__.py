"""Test your own sign-out code without the network.

    from cognito_signout.testing import FakeCognito

    fake = FakeCognito()
    token = fake.issue_token("alice")
    async with fake.client() as client:
        await client.global_sign_out().access_token(token).send()
    assert fake.signed_out(token)

Sessions as Cognito keeps them: ``session = fake.sign_in("alice", attributes={"email": ...})``
gives an access, ID and refresh token; ``revoke_token().token(session.refresh_token)`` ends
that session only, GlobalSignOut all of the user's, and GetUser refuses any ended token.

With pytest, the ``cognito_fake`` fixture (installed with the package) gives a fresh
:class:`FakeCognito` with instant retries, and routes every ``Client`` your code creates during
the test to it. Any other ``httpx.AsyncBaseTransport`` (an ``httpx.MockTransport``, say) plugs
in the same way: ``with install_transport(transport): ...`` makes every ``Client`` created
without its own ``http_client`` send through it, whatever transport it is configured with.
Nothing here is imported by ``import cognito_signout``.
"""

from .._transport import install_transport
from ._fake import (
    EXPIRED,
    INVALID,
    REVOKED,
    FakeAppClient,
    FakeCognito,
    FakeSession,
    RecordedCall,
)

__all__ = [
    "EXPIRED",
    "INVALID",
    "REVOKED",
    "FakeAppClient",
    "FakeCognito",
    "FakeSession",
    "RecordedCall",
    "install_transport",
]
