"""The clients being compared, each behind one small interface.

A contender is an async context manager factory: given the :class:`Settings` it opens its client
and yields a :class:`Caller`, whose ``call(token)`` does one GlobalSignOut and returns the request
id (or ``""`` when the library does not expose it). On the error path ``call`` raises one of
``Caller.error_types``. A contender that cannot run here raises :class:`Unavailable` with the
reason, so the harness records it instead of crashing.

Imports happen inside the factories: the harness must run whatever subset is installed, and the
SDK is being written at the same time as this benchmark.
"""

from __future__ import annotations

import inspect
import json
import platform
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

TARGET = "AWSCognitoIdentityProviderService.GlobalSignOut"
CONTENT_TYPE = "application/x-amz-json-1.1"
REGION = "us-east-1"
# What the SDK's User-Agent looks like (wire.md); the raw contenders send a string of that shape.
USER_AGENT = (
    "cognito-signout/0.1.0 ua/2.1 api/cognitoidentityprovider#0.1.0 os/linux "
    f"lang/python#{platform.python_version()}"
)
# Generous: the benchmark measures cost, not timeouts, and 128 waiters on httpx's default pool
# can take over a second each.
HTTP_TIMEOUT = 60.0


@dataclass(frozen=True)
class Settings:
    url: str
    pool: int = 1  # connections per client; the harness sets it to the concurrency served
    # How the SDK contenders choose their transport: Config(..., transport="httpcore"|"aiohttp")
    # as the SDK has it now; "client" puts the keyword on Client(config, ...) instead, and
    # "auto" takes whichever of the two accepts it. run.py has a flag for each of these.
    sdk_transport_kw: str = "transport"
    sdk_transport_in: str = "auto"
    sdk_default_value: str = "httpcore"
    sdk_fast_value: str = "aiohttp"
    sdk_config: dict[str, Any] = field(default_factory=dict)
    # A Config keyword that receives `pool` (e.g. "max_connections"); None keeps the SDK's own
    # default, which is what a user gets.
    sdk_pool_kw: str | None = None

    def to_json(self) -> str:
        return json.dumps(self.__dict__)

    @classmethod
    def from_json(cls, text: str) -> Settings:
        return cls(**json.loads(text))


class Unavailable(Exception):
    """This contender cannot run here; the message says why."""


class RawServiceError(Exception):
    """What the raw-HTTP contenders raise for a non-2xx answer, after parsing it as an SDK would."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.code = code


@dataclass(frozen=True)
class Caller:
    call: Callable[[str], Awaitable[str]]
    error_types: tuple[type[BaseException], ...]


Factory = Callable[[Settings], AbstractAsyncContextManager[Caller]]


def sdk_like_headers() -> dict[str, str]:
    """The headers our SDK sends; a fresh invocation id per call, as the SDK must make one."""
    return {
        "Content-Type": CONTENT_TYPE,
        "X-Amz-Target": TARGET,
        "amz-sdk-invocation-id": str(uuid.uuid4()),
        "amz-sdk-request": "attempt=1; max=3",
        "User-Agent": USER_AGENT,
    }


def request_body(token: str) -> bytes:
    return json.dumps({"AccessToken": token}).encode()


def check_raw(status: int, body: bytes, request_id: str | None, error_type: str | None) -> str:
    """The minimum an SDK must do with an answer: the request id, or the error code parsed."""
    if 200 <= status < 300:
        return request_id or ""
    doc = json.loads(body) if body else {}
    code = error_type or doc.get("__type", "")
    code = code.split(":", 1)[0].rsplit("#", 1)[-1]
    raise RawServiceError(status, code, doc.get("message", ""))


@asynccontextmanager
async def httpx_raw(settings: Settings) -> AsyncIterator[Caller]:
    import httpx

    limits = httpx.Limits(max_connections=settings.pool, max_keepalive_connections=settings.pool)
    async with httpx.AsyncClient(limits=limits, timeout=HTTP_TIMEOUT) as client:
        yield Caller(_httpx_call(client, settings.url), (RawServiceError,))


@asynccontextmanager
async def httpx_aiohttp_raw(settings: Settings) -> AsyncIterator[Caller]:
    import httpx

    try:
        from httpx_aiohttp import AiohttpTransport
    except ImportError as exc:
        raise Unavailable(f"httpx_aiohttp not importable: {exc}") from exc
    limits = httpx.Limits(max_connections=settings.pool, max_keepalive_connections=settings.pool)
    transport = AiohttpTransport(limits=limits)
    async with httpx.AsyncClient(transport=transport, timeout=HTTP_TIMEOUT) as client:
        yield Caller(_httpx_call(client, settings.url), (RawServiceError,))


def _httpx_call(client: Any, url: str) -> Callable[[str], Awaitable[str]]:
    post = client.post

    async def call(token: str) -> str:
        response = await post(url, content=request_body(token), headers=sdk_like_headers())
        headers = response.headers
        return check_raw(
            response.status_code,
            response.content,
            headers.get("x-amzn-requestid"),
            headers.get("x-amzn-errortype"),
        )

    return call


@asynccontextmanager
async def aiohttp_raw(settings: Settings) -> AsyncIterator[Caller]:
    try:
        import aiohttp
    except ImportError as exc:
        raise Unavailable(f"aiohttp not importable: {exc}") from exc
    connector = aiohttp.TCPConnector(limit=settings.pool)
    timeout = aiohttp.ClientTimeout(total=HTTP_TIMEOUT)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        post, url = session.post, settings.url

        async def call(token: str) -> str:
            async with post(url, data=request_body(token), headers=sdk_like_headers()) as resp:
                body = await resp.read()
                headers = resp.headers
                return check_raw(
                    resp.status,
                    body,
                    headers.get("x-amzn-requestid"),
                    headers.get("x-amzn-errortype"),
                )

        yield Caller(call, (RawServiceError,))


@asynccontextmanager
async def aiobotocore_client(settings: Settings) -> AsyncIterator[Caller]:
    try:
        from aiobotocore.config import AioConfig
        from aiobotocore.session import get_session
    except ImportError as exc:
        raise Unavailable(f"aiobotocore not importable: {exc}") from exc
    # GlobalSignOut is unsigned in the model (authtype none; checked: no Authorization header is
    # sent): the dummy keys only stop botocore from searching for credentials. The harness sizes
    # the pool to the client's concurrency.
    config = AioConfig(max_pool_connections=settings.pool)
    session = get_session()
    async with session.create_client(
        "cognito-idp",
        region_name=REGION,
        endpoint_url=settings.url,
        aws_access_key_id="bench",
        aws_secret_access_key="bench",
        config=config,
    ) as client:
        sign_out = client.global_sign_out

        async def call(token: str) -> str:
            out = await sign_out(AccessToken=token)
            return str(out["ResponseMetadata"]["RequestId"])

        yield Caller(call, (client.exceptions.NotAuthorizedException,))


@asynccontextmanager
async def capo(settings: Settings) -> AsyncIterator[Caller]:
    try:
        import zapros
        from capo_cognito_identity_provider import AsyncCognitoIdentityProviderClient
        from capo_cognito_identity_provider.errors.not_authorized_exception import (
            NotAuthorizedException,
        )
    except ImportError as exc:
        raise Unavailable(f"capo-cognito-identity-provider not importable: {exc}") from exc
    handler = zapros.AsyncStdNetworkHandler(
        http1={
            "max_connections_per_host": settings.pool,
            "max_idle_connections_per_host": settings.pool,
        }
    )
    # anonymous: the operation is unsigned, and capo would otherwise walk the credential chain.
    async with AsyncCognitoIdentityProviderClient(
        http_handler=handler, region=REGION, endpoint=settings.url, anonymous=True
    ) as client:
        sign_out = client.global_sign_out

        async def call(token: str) -> str:
            await sign_out(token)
            return ""  # capo's output is the empty modeled shape: no request id

        yield Caller(call, (NotAuthorizedException,))


def sdk_keywords(
    settings: Settings, which: str, client_cls: Any, config_cls: Any
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The keywords for Client(...) and Config(...) that pick the transport ``which``
    ("default", "fast" or "auto" for none), or Unavailable if the SDK has no such switch yet."""
    config_kw: dict[str, Any] = dict(settings.sdk_config)
    if settings.sdk_pool_kw:
        config_kw[settings.sdk_pool_kw] = settings.pool
    client_kw: dict[str, Any] = {}
    if which == "auto":
        return client_kw, config_kw
    kw, where = settings.sdk_transport_kw, settings.sdk_transport_in
    if where == "auto":
        where = next(
            (w for w, c in (("client", client_cls), ("config", config_cls)) if _takes(c, kw)), ""
        )
    elif not _takes(client_cls if where == "client" else config_cls, kw):
        where = ""
    if not where:
        raise Unavailable(f"neither Client() nor Config() has a {kw!r} keyword for the transport")
    value = settings.sdk_default_value if which == "default" else settings.sdk_fast_value
    (client_kw if where == "client" else config_kw)[kw] = value
    return client_kw, config_kw


def _takes(cls: Any, kw: str) -> bool:
    params = inspect.signature(cls).parameters
    return kw in params or any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())


def _sdk_factory(which: str) -> Factory:
    """Our SDK: ``sdk_default`` and ``sdk_fast`` force a transport through the keyword named in
    the settings; ``sdk_auto`` passes none and gets what a user gets out of the box."""

    @asynccontextmanager
    async def sdk(settings: Settings) -> AsyncIterator[Caller]:
        try:
            from cognito_signout import Client, Config
            from cognito_signout.errors import NotAuthorizedException
        except ImportError as exc:
            raise Unavailable(f"SDK not importable yet: {exc}") from exc
        client_kw, config_kw = sdk_keywords(settings, which, Client, Config)
        try:
            config = Config(region=REGION, endpoint_url=settings.url, **config_kw)
            client = Client(config, **client_kw)
        except Exception as exc:  # the SDK's own ConstructionFailure included
            raise Unavailable(
                f"Client(Config(**{config_kw}), **{client_kw}) failed: {exc!r}"
            ) from exc
        async with client as opened:
            sign_out = opened.global_sign_out

            async def call(token: str) -> str:
                out = await sign_out().access_token(token).send()
                return str(out.request_id or "")

            yield Caller(call, (NotAuthorizedException,))

    return sdk


CONTENDERS: dict[str, Factory] = {
    "httpx_raw": httpx_raw,
    "aiohttp_raw": aiohttp_raw,
    "httpx_aiohttp_raw": httpx_aiohttp_raw,
    "aiobotocore": aiobotocore_client,
    "capo": capo,
    "sdk_default": _sdk_factory("default"),
    "sdk_fast": _sdk_factory("fast"),
    "sdk_auto": _sdk_factory("auto"),
}

# Contenders whose success answer carries no request id by design (not a failure of the check).
NO_REQUEST_ID = frozenset({"capo"})
