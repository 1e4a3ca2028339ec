"""Measurements that need a fresh process of their own; run.py starts one per probe.

    python bench/probes.py create LIB --settings JSON --count N
        client creation (constructor plus ``__aenter__``): the first in a fresh process, then
        ``N`` more. The library is imported before the clock starts.
    python bench/probes.py memory CONTENDER --settings JSON --calls N --warmup W
        resident set size (from /proc/self/statm) before and after N sequential calls made after
        a warm-up of W calls, every tenth of them on the NotAuthorized path.

Each prints one JSON object on stdout. A fresh process keeps one library's first-use costs and
memory from being hidden by, or charged to, another's.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

from contenders import (
    CONTENDERS,
    REGION,
    SDK_KINDS,
    Settings,
    Unavailable,
    httpx_client,
    sdk_client,
)

Opener = Callable[[], Awaitable[Callable[[], Awaitable[None]]]]


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _opener(lib: str, settings: Settings) -> Opener:
    """Returns a coroutine function that opens one client and returns how to close it."""
    if lib == "httpx":
        import httpx

        async def open_httpx() -> Callable[[], Awaitable[None]]:
            client = await httpx.AsyncClient().__aenter__()
            return client.aclose

        return open_httpx
    if lib == "aiohttp":
        import aiohttp

        async def open_aiohttp() -> Callable[[], Awaitable[None]]:
            session = await aiohttp.ClientSession().__aenter__()
            return session.close

        return open_aiohttp
    if lib == "aiobotocore":
        from aiobotocore.session import get_session

        session = get_session()

        async def open_aiobotocore() -> Callable[[], Awaitable[None]]:
            cm = session.create_client(
                "cognito-idp",
                region_name=REGION,
                endpoint_url=settings.url,
                aws_access_key_id="bench",
                aws_secret_access_key="bench",
            )
            await cm.__aenter__()

            async def close() -> None:
                await cm.__aexit__(None, None, None)

            return close

        return open_aiobotocore
    if lib.removeprefix("sdk_") in SDK_KINDS:
        which = lib.removeprefix("sdk_")
        sdk_client(settings, which)  # imports the SDK, or Unavailable, before any clock starts
        # sdk_caller: the caller's httpx client exists already (made once, outside the clock,
        # as one shared client would be); what is timed is the SDK's Client on top of it. The
        # "httpx" row is what making that httpx client costs.
        shared = httpx_client(settings.pool) if which == "caller" else None

        async def open_sdk() -> Callable[[], Awaitable[None]]:
            client = await sdk_client(settings, which, shared).__aenter__()

            async def close() -> None:
                await client.__aexit__(None, None, None)

            return close

        return open_sdk
    raise Unavailable(f"no creation probe for {lib!r}")


async def probe_create(lib: str, settings: Settings, count: int) -> dict[str, Any]:
    open_client = _opener(lib, settings)
    times: list[float] = []
    for _ in range(count + 1):  # bounded: the first, then `count` more
        gc.collect()
        start = time.perf_counter()
        close = await open_client()
        times.append(time.perf_counter() - start)
        await close()
    return {"first_s": times[0], "subsequent_s": times[1:]}


async def probe_memory(
    name: str, settings: Settings, calls: int, warmup: int, max_seconds: float
) -> dict[str, Any]:
    factory = CONTENDERS[name]
    samples: list[tuple[int, int]] = []
    done = 0
    async with factory(settings) as caller:
        call, errors = caller.call, caller.error_types

        async def one(i: int) -> None:
            # Every tenth call takes the error path: exceptions are where cycles and leaks hide.
            if i % 10 == 9:
                with contextlib.suppress(*errors):
                    await call("bad-token")
            else:
                await call("good-token")

        for i in range(warmup):
            await one(i)
        gc.collect()
        before = rss_bytes()
        deadline = time.monotonic() + max_seconds
        step = max(1, calls // 10)
        for i in range(calls):
            await one(i)
            done += 1
            if done % step == 0:
                samples.append((done, rss_bytes()))
                if time.monotonic() > deadline:
                    break
        gc.collect()
        after = rss_bytes()
    return {
        "calls": done,
        "warmup": warmup,
        "error_every": 10,
        "rss_before_bytes": before,
        "rss_after_bytes": after,
        "growth_bytes": after - before,
        "samples": samples,
        "completed": done == calls,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("probe", choices=["create", "memory"])
    parser.add_argument("target")
    parser.add_argument("--settings", required=True)
    parser.add_argument("--count", type=int, default=50)
    parser.add_argument("--calls", type=int, default=50_000)
    parser.add_argument("--warmup", type=int, default=2_000)
    parser.add_argument("--max-seconds", type=float, default=300.0)
    args = parser.parse_args(argv)
    settings = Settings.from_json(args.settings)
    try:
        if args.probe == "create":
            result = asyncio.run(probe_create(args.target, settings, args.count))
        else:
            result = asyncio.run(
                probe_memory(args.target, settings, args.calls, args.warmup, args.max_seconds)
            )
    except Unavailable as exc:
        result = {"unavailable": str(exc)}
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
