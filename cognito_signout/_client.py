"""The Client: owns the HTTP client and the runtime, hands out operation builders."""

from __future__ import annotations

from types import TracebackType

import httpx

from ._config import Config
from ._retry import RetryQuota
from ._runtime import Runtime
from .operations.global_sign_out import GlobalSignOutFluentBuilder


class Client:
    """A Cognito user pools client for token-authorized operations. No credentials needed.

    Use it as an async context manager, or call :meth:`aclose`. One client is safe to share
    across tasks: it holds one connection pool, one retry quota and one rate limiter.

    ``Client()`` reads its settings with :meth:`Config.from_env`. A caller-supplied
    ``http_client`` stays the caller's: :meth:`aclose` leaves it open, and its redirect and
    auth settings are overridden per request (redirects are never followed; nothing is signed).
    """

    def __init__(
        self, config: Config | None = None, *, http_client: httpx.AsyncClient | None = None
    ) -> None:
        if http_client is not None and not isinstance(http_client, httpx.AsyncClient):
            from .errors import ConstructionFailure

            raise ConstructionFailure("http_client must be an httpx.AsyncClient")
        self._runtime = Runtime(config if config is not None else Config.from_env(), http_client)

    @property
    def config(self) -> Config:
        return self._runtime.config

    @property
    def retry_quota(self) -> RetryQuota:
        """The client's retry token bucket (``available`` / ``capacity``)."""
        return self._runtime.quota

    @property
    def transport(self) -> str:
        """What carries the requests: ``aiohttp`` (the fast path), ``httpcore`` (httpx's
        default), ``caller`` (your ``http_client``), or ``unopened`` before the first call."""
        return self._runtime.transport_name

    @property
    def is_closed(self) -> bool:
        return self._runtime.closed

    def global_sign_out(self) -> GlobalSignOutFluentBuilder:
        """A GlobalSignOut builder: ``await client.global_sign_out().access_token(t).send()``."""
        return GlobalSignOutFluentBuilder(runtime=self._runtime)

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
