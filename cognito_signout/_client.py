"""The Client: owns the HTTP client and the runtime, hands out operation builders."""

from __future__ import annotations

from types import TracebackType
from typing import TYPE_CHECKING, Literal

import httpx

if TYPE_CHECKING:
    from ._config import Config
    from ._retry import RetryQuota
    from ._revocations import Revocations
    from .operations.get_user import GetUserFluentBuilder
    from .operations.global_sign_out import GlobalSignOutFluentBuilder
    from .operations.revoke_token import RevokeTokenFluentBuilder


class Client:
    """A Cognito user pools client for token-authorized operations. No credentials needed.

    Use it as an async context manager, or call :meth:`aclose`. One client is safe to share
    across tasks: it holds one connection pool, one retry quota and one rate limiter.

    With ``revocations`` (a :class:`~cognito_signout.Revocations` store), every GlobalSignOut
    Cognito confirms records the user's cutoff there, so a ``TokenVerifier`` sharing the store
    refuses the signed-out tokens too (``output.revocation`` says whether it landed). A
    refused or failed sign-out records nothing.

    ``Client()`` reads its settings with :meth:`Config.from_env`. A caller-supplied
    ``http_client`` stays the caller's: :meth:`aclose` leaves it open, and its redirect and
    auth settings are overridden per request (redirects are never followed; nothing is signed).
    """

    def __init__(
        self,
        config: Config | None = None,
        *,
        http_client: httpx.AsyncClient | None = None,
        revocations: Revocations | None = None,
    ) -> None:
        from .errors import ConstructionFailure

        if http_client is not None and not isinstance(http_client, httpx.AsyncClient):
            raise ConstructionFailure("http_client must be an httpx.AsyncClient")
        if revocations is not None:
            from ._revocations import checked_store  # loaded only by those who use it

            checked_store(revocations)
        # The runtime (transport, protocol, retry loop) loads with the first Client, not with
        # the package: a process that only imports (a CLI's --help, a test collection) never
        # pays for it (the import budget, bench/).
        from ._runtime import Runtime

        if config is None:
            from ._config import Config

            config = Config.from_env()
        self._runtime = Runtime(config, http_client, revocations)

    @property
    def revocations(self) -> Revocations | None:
        """Where confirmed sign-outs are recorded for the app's own ``TokenVerifier``."""
        return self._runtime.revocations

    @property
    def config(self) -> Config:
        return self._runtime.config

    @property
    def retry_quota(self) -> RetryQuota:
        """The retry token bucket (``available`` / ``capacity``) of the configured endpoint.

        Each endpoint has its own (see :meth:`retry_quota_for`). With neither a region nor an
        endpoint configured, calls route by their token's region: this is then the quota of
        the endpoint used last.
        """
        return self._runtime.quota()

    def retry_quota_for(self, endpoint: str) -> RetryQuota:
        """The retry quota of one endpoint URL, e.g. ``https://cognito-idp.eu-west-1.amazonaws.com``."""
        from ._runtime import _origin

        return self._runtime.quota(_origin(httpx.URL(endpoint)))

    @property
    def transport(self) -> Literal["httpcore", "aiohttp", "caller"]:
        """What carries the requests, from construction on: ``httpcore`` (httpx's own, the
        default), ``aiohttp`` (``Config(transport="aiohttp")``), or ``caller`` (your
        ``http_client``, or a transport installed by ``cognito_signout.testing``)."""
        return self._runtime.transport_name

    @property
    def is_closed(self) -> bool:
        return self._runtime.closed

    def global_sign_out(self) -> GlobalSignOutFluentBuilder:
        """Sign the user out everywhere:
        ``await client.global_sign_out().access_token(t).send()``."""
        from .operations.global_sign_out import GlobalSignOutFluentBuilder

        return GlobalSignOutFluentBuilder(runtime=self._runtime)

    def revoke_token(self) -> RevokeTokenFluentBuilder:
        """Sign the user out of one device (one session):
        ``await client.revoke_token().token(refresh).client_id(cid).send()``.
        Needs a configured region or endpoint: a refresh token names none."""
        from .operations.revoke_token import RevokeTokenFluentBuilder  # loaded on first use

        return RevokeTokenFluentBuilder(runtime=self._runtime)

    def get_user(self) -> GetUserFluentBuilder:
        """Ask Cognito whether an access token is still live (and whose it is):
        ``await client.get_user().access_token(t).send()``."""
        from .operations.get_user import GetUserFluentBuilder  # loaded on first use

        return GetUserFluentBuilder(runtime=self._runtime)

    async def aclose(self) -> None:
        """Close the owned connection pool (a caller-supplied http_client stays open)."""
        await self._runtime.aclose()

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        state = "closed" if self.is_closed else "open"
        return f"<cognito_signout.Client {state} {self.config!r}>"
