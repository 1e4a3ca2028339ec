"""The clients being compared, each behind one small interface.

A contender is an async context manager factory: given the :class:`Settings` it opens its client
and yields a :class:`Caller`, whose ``call(token)`` does one GlobalSignOut and returns the request
id (or ``""`` when the library does not expose it). On the error path ``call`` raises one of
``Caller.error_types``; ``Caller.info`` holds facts about the opened client that the results
record (the SDK's ``Client.transport``, whether aiohttp was importable). A contender that cannot
run here raises :class:`Unavailable` with the reason, so the harness records it instead of
crashing.

Imports happen inside the factories: the harness must run whatever subset is installed, and the
SDK is being written at the same time as this benchmark.
"""

from __future__ import annotations

import importlib
import json
import platform
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import httpx

    import cognito_signout

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
    # Extra Config(...) keywords for every SDK contender (run.py --sdk-config-json).
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
    # Facts about the opened client that the results record (e.g. the SDK's transport).
    info: Mapping[str, Any] = field(default_factory=dict)


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
    async with httpx_client(settings.pool) as client:
        yield Caller(_httpx_call(client, settings.url), (RawServiceError,))


def httpx_client(pool: int) -> httpx.AsyncClient:
    """A plain httpx.AsyncClient with a pool of ``pool``: raw httpx's, and the one the
    ``sdk_caller`` contender hands the SDK, so the two differ only by the SDK on top."""
    import httpx

    limits = httpx.Limits(max_connections=pool, max_keepalive_connections=pool)
    return httpx.AsyncClient(limits=limits, timeout=HTTP_TIMEOUT)


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


# The SDK contenders of issue 8, by what the caller passes:
#   caller:  Client(config, http_client=<a plain httpx.AsyncClient sized like httpx_raw's>)
#   default: Config(region, endpoint_url) and nothing else: what a user gets (httpcore)
#   fast:    Config(..., transport="aiohttp")
SDK_KINDS = ("caller", "default", "fast")
# What Client.transport must report for each (the harness records it, report.py checks it).
SDK_EXPECTED_TRANSPORT = {"caller": "caller", "default": "httpcore", "fast": "aiohttp"}


def sdk_config_keywords(settings: Settings, which: str) -> dict[str, Any]:
    """Config(...) keywords besides region and endpoint_url for the SDK contender ``which``."""
    config_kw: dict[str, Any] = dict(settings.sdk_config)
    if settings.sdk_pool_kw:
        config_kw[settings.sdk_pool_kw] = settings.pool
    if which == "fast":
        config_kw["transport"] = "aiohttp"
    return config_kw


def sdk_client(
    settings: Settings, which: str, http_client: httpx.AsyncClient | None = None
) -> cognito_signout.Client:
    """An unopened cognito_signout.Client for ``which``, or Unavailable saying why not."""
    try:
        from cognito_signout import Client, Config
    except ImportError as exc:
        raise Unavailable(f"SDK not importable: {exc}") from exc
    config_kw = sdk_config_keywords(settings, which)
    client_kw = {} if http_client is None else {"http_client": http_client}
    try:
        config = Config(region=REGION, endpoint_url=settings.url, **config_kw)
        return Client(config, http_client=http_client)
    except Exception as exc:  # the SDK's own ConstructionFailure included
        shown = {**client_kw, "http_client": "httpx.AsyncClient"} if client_kw else {}
        raise Unavailable(f"Client(Config(**{config_kw}), **{shown}) failed: {exc!r}") from exc


def aiohttp_presence() -> dict[str, Any]:
    """Whether aiohttp imports here: sdk_default must stay on httpcore even when it does."""
    try:
        module = importlib.import_module("aiohttp")
    except ImportError as exc:
        return {"aiohttp_importable": False, "aiohttp_error": repr(exc)}
    return {"aiohttp_importable": True, "aiohttp_version": str(getattr(module, "__version__", ""))}


def _sdk_factory(which: str) -> Factory:
    @asynccontextmanager
    async def sdk(settings: Settings) -> AsyncIterator[Caller]:
        try:
            from cognito_signout.errors import NotAuthorizedException
        except ImportError as exc:
            raise Unavailable(f"SDK not importable: {exc}") from exc
        info: dict[str, Any] = aiohttp_presence() if which == "default" else {}
        async with AsyncExitStack() as stack:
            http = None
            if which == "caller":
                http = await stack.enter_async_context(httpx_client(settings.pool))
            opened = await stack.enter_async_context(sdk_client(settings, which, http))
            info["transport"] = str(opened.transport)  # of the opened client
            sign_out = opened.global_sign_out

            async def call(token: str) -> str:
                out = await sign_out().access_token(token).send()
                return str(out.request_id or "")

            yield Caller(call, (NotAuthorizedException,), info)

    return sdk


CONTENDERS: dict[str, Factory] = {
    "httpx_raw": httpx_raw,
    "aiohttp_raw": aiohttp_raw,
    "httpx_aiohttp_raw": httpx_aiohttp_raw,
    "aiobotocore": aiobotocore_client,
    "capo": capo,
    **{f"sdk_{which}": _sdk_factory(which) for which in SDK_KINDS},
}

# Contenders whose success answer carries no request id by design (not a failure of the check).
NO_REQUEST_ID = frozenset({"capo"})
