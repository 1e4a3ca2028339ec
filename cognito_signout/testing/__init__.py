"""Test your own sign-out code without the network.

    from cognito_signout.testing import FakeCognito

    fake = FakeCognito()
    token = fake.issue_token("alice")
    async with fake.client() as client:
        await client.global_sign_out().access_token(token).send()
    assert fake.signed_out(token)

Signed out means signed out in your own API too: the fake's tokens are RS256-signed and it
serves its key set, so your ``TokenVerifier`` accepts them, and a sign-out through a client
that shares your verifier's revocation store makes it refuse them:

    import pytest
    from cognito_signout import Revocations
    from cognito_signout.errors import TokenRevoked
    from cognito_signout.testing import FakeCognito

    fake = FakeCognito()
    store = Revocations.memory()
    session = fake.sign_in("alice")
    async with fake.verifier(revocations=store) as verifier:
        assert (await verifier.verify(session.access_token)).username == "alice"
        async with fake.client(revocations=store) as client:
            await client.global_sign_out().access_token(session.access_token).send()
        with pytest.raises(TokenRevoked):
            await verifier.verify(session.access_token)
        fake.advance(1)  # iat is whole seconds: sign in again in a later one, without a sleep
        await verifier.verify(fake.sign_in("alice").access_token)

``fake.verifier()`` (the ``verify`` extra) checks the fake's pool and app clients and fetches
the key set from the fake; a ``TokenVerifier`` of your own finds it too while the fake is
installed (``fake.patch()``, the ``cognito_fake`` fixture). Without ``cryptography`` the fake
still signs users out, but its tokens are unsigned and it refuses to serve a key set.

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
