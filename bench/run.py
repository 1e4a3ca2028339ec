"""Issue 5's benchmark: our SDK against raw httpx, aiohttp, httpx-aiohttp, aiobotocore and capo.

    python bench/run.py            # full run, a few minutes on 2 cores
    python bench/run.py --quick    # smoke test, under a minute

The server (bench/server.py) runs in its own process; this process is the client, so
``time.process_time()`` here is the client's CPU alone. On a machine with two or more cores the
client is pinned to CPU 0 and the server to CPU 1, so neither steals the other's core.

Contenders are interleaved inside every round (the order rotates from round to round) and each
figure is the median over the rounds, so drift on the machine hits every contender alike.
The results go to bench/results/latest.json and to one printed table (see report.py).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import selectors
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import AsyncExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import report
from contenders import CONTENDERS, NO_REQUEST_ID, Caller, Settings, Unavailable

HERE = Path(__file__).resolve().parent
GOOD = "good-token.eyJhbGciOiJSUzI1NiJ9.payload-signature"
BAD = "bad-token.eyJhbGciOiJSUzI1NiJ9.revoked-signature"
IMPORT_MODULES = (
    "httpx",
    "cognito_signout",
    "aiobotocore.session",
    "aiohttp",
    "httpx_aiohttp",
    "capo_cognito_identity_provider",
)
# Third-party modules that `import cognito_signout` must not pull in (issue 5: optional parts).
OPTIONAL_ROOTS = ("aiohttp", "httpx_aiohttp", "fastapi", "starlette", "uvicorn", "pytest", "respx")
CREATION_LIBS = ("httpx", "sdk_default", "sdk_fast", "aiohttp", "aiobotocore")
MEMORY_TARGETS = ("sdk_default", "sdk_fast", "httpx_raw")


@dataclass(frozen=True)
class Profile:
    rounds: int
    seq_calls: int
    throughput_calls: dict[int, int]  # in flight -> calls per round
    import_runs: int
    creation_count: int
    memory_calls: int
    memory_warmup: int
    batch_timeout: float
    budget: float  # seconds for the in-process rounds; later rounds are skipped past it


FULL = Profile(
    rounds=7,
    seq_calls=1000,
    throughput_calls={1: 400, 16: 1280, 128: 2560},
    import_runs=7,
    creation_count=50,
    memory_calls=50_000,
    memory_warmup=2_000,
    batch_timeout=120.0,
    budget=420.0,
)
QUICK = Profile(
    rounds=3,
    seq_calls=150,
    throughput_calls={1: 100, 16: 320, 128: 512},
    import_runs=3,
    creation_count=10,
    memory_calls=2_000,
    memory_warmup=200,
    batch_timeout=30.0,
    budget=35.0,
)


def stat(samples: list[float]) -> dict[str, Any]:
    return {
        "median": statistics.median(samples),
        "min": min(samples),
        "max": max(samples),
        "samples": samples,
    }


# ---------------------------------------------------------------- the server process


@dataclass
class Server:
    proc: subprocess.Popen[str]
    url: str

    def cpu_seconds(self) -> float:
        """utime + stime of the server process, to show whether it was ever the bottleneck."""
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def start_server(cpu: int | None, lifetime: float) -> Iterator[Server]:
    cmd = [sys.executable, str(HERE / "server.py"), "--port", "0", "--max-lifetime", str(lifetime)]
    if cpu is not None:
        cmd += ["--cpu", str(cpu)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        with selectors.DefaultSelector() as sel:
            sel.register(proc.stdout, selectors.EVENT_READ)
            if not sel.select(timeout=15.0):
                raise RuntimeError("the benchmark server did not start within 15 s")
        line = proc.stdout.readline().split()
        if len(line) != 2 or line[0] != "READY":
            raise RuntimeError(f"unexpected line from the server: {line!r}")
        yield Server(proc, f"http://127.0.0.1:{line[1]}")
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5.0)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5.0)


# ---------------------------------------------------------------- in-process call measurements


async def warm_up_and_validate(name: str, caller: Caller, pool: int) -> None:
    """Proves the contender does what it claims before its numbers are trusted."""
    request_id = ""
    for _ in range(100):
        request_id = await caller.call(GOOD)
    if not request_id and name not in NO_REQUEST_ID:
        raise Unavailable("the success path returned no request id")
    for _ in range(20):
        try:
            await caller.call(BAD)
        except caller.error_types:
            continue
        raise Unavailable("the error path returned instead of raising NotAuthorized")
    # Open the whole pool once, so the first round's throughput excludes connection set-up.
    for _ in range(2):
        await asyncio.gather(*(caller.call(GOOD) for _ in range(pool)))


async def sequential(caller: Caller, calls: int, error: bool) -> tuple[float, float]:
    call, errors = caller.call, caller.error_types
    gc.collect()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    if error:
        for _ in range(calls):
            try:
                await call(BAD)
            except errors:
                pass
            else:
                raise AssertionError("the error path returned normally")
    else:
        for _ in range(calls):
            await call(GOOD)
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    return cpu / calls, wall / calls


async def throughput(
    caller: Caller, in_flight: int, calls: int, server: Server
) -> tuple[float, float, float]:
    call = caller.call
    per_worker = max(1, calls // in_flight)
    total = per_worker * in_flight

    async def worker() -> None:
        for _ in range(per_worker):
            await call(GOOD)

    gc.collect()
    srv0 = server.cpu_seconds()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    async with asyncio.TaskGroup() as tg:
        for _ in range(in_flight):
            tg.create_task(worker())
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    return total / wall, cpu / total, (server.cpu_seconds() - srv0) / wall


async def measure_calls(
    names: list[str], settings: Settings, profile: Profile, server: Server
) -> dict[str, Any]:
    contenders: dict[str, dict[str, Any]] = {}
    callers: dict[str, Caller] = {}
    samples: dict[tuple[str, str], list[tuple[float, ...]]] = {}
    failures: dict[str, dict[str, str]] = {}
    kinds = ["seq_ok", "seq_error", *(f"thr_{n}" for n in profile.throughput_calls)]
    async with AsyncExitStack() as stack:
        for name in names:
            try:
                async with asyncio.timeout(profile.batch_timeout):
                    caller = await stack.enter_async_context(CONTENDERS[name](settings))
                    await warm_up_and_validate(name, caller, settings.pool)
            except Unavailable as exc:
                contenders[name] = {"available": False, "reason": str(exc)}
                print(f"  {name}: unavailable: {exc}", flush=True)
                continue
            except Exception as exc:
                contenders[name] = {"available": False, "reason": f"failed to start: {exc!r}"}
                print(f"  {name}: failed to start: {exc!r}", flush=True)
                continue
            contenders[name] = {"available": True, "reason": None}
            callers[name] = caller
        order = list(callers)
        started = time.monotonic()
        rounds_done = 0
        for rnd in range(profile.rounds):
            if rnd and time.monotonic() - started > profile.budget:
                print(f"  time budget spent: stopping after {rnd} rounds", flush=True)
                break
            shift = rnd % len(order) if order else 0
            rotated = order[shift:] + order[:shift]  # A B C, then B C A, ...: no fixed position
            for kind in kinds:
                for name in rotated:
                    if kind in failures.get(name, {}):
                        continue
                    try:
                        async with asyncio.timeout(profile.batch_timeout):
                            samples.setdefault((name, kind), []).append(
                                await _one_batch(callers[name], kind, profile, server)
                            )
                    except Exception as exc:  # one broken measurement must not end the run
                        failures.setdefault(name, {})[kind] = repr(exc)
                        print(f"  {name} {kind}: failed: {exc!r}", flush=True)
            rounds_done += 1
            print(f"  round {rnd + 1}/{profile.rounds} done", flush=True)
    return {
        "contenders": contenders,
        "rounds": rounds_done,
        "failures": failures,
        **_summarize_calls(samples),
    }


async def _one_batch(
    caller: Caller, kind: str, profile: Profile, server: Server
) -> tuple[float, ...]:
    if kind.startswith("seq_"):
        return await sequential(caller, profile.seq_calls, error=kind == "seq_error")
    in_flight = int(kind.removeprefix("thr_"))
    return await throughput(caller, in_flight, profile.throughput_calls[in_flight], server)


def _summarize_calls(samples: dict[tuple[str, str], list[tuple[float, ...]]]) -> dict[str, Any]:
    seq: dict[str, dict[str, Any]] = {}
    thr: dict[str, dict[str, Any]] = {}
    for (name, kind), rows in samples.items():
        if kind.startswith("seq_"):
            path = "ok" if kind == "seq_ok" else "error"
            seq.setdefault(name, {})[path] = {
                "cpu_us": stat([r[0] * 1e6 for r in rows]),
                "wall_us": stat([r[1] * 1e6 for r in rows]),
            }
        else:
            thr.setdefault(name, {})[kind.removeprefix("thr_")] = {
                "calls_per_s": stat([r[0] for r in rows]),
                "cpu_us": stat([r[1] * 1e6 for r in rows]),
                "server_cpu_share": stat([r[2] for r in rows]),
            }
    return {"sequential": seq, "throughput": thr}


# ---------------------------------------------------------------- fresh-process measurements

# Timed inside a fresh interpreter, so start-up is excluded without subtracting a bare run; the
# clock starts before anything else is imported.
_IMPORT_SNIPPET = """\
import time
_t = time.perf_counter()
import {module}
_d = time.perf_counter() - _t
import json, sys
roots = {roots!r}
print(json.dumps({{"s": _d, "optional": sorted(m for m in sys.modules if m.split(".")[0] in roots),
    "own": sorted(m for m in sys.modules if m.startswith("{top}."))}}))
"""


def import_times(runs: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    times: dict[str, list[float]] = {m: [] for m in IMPORT_MODULES}
    # One discarded run each first: it may write .pyc files.
    for run in range(runs + 1):
        for module in IMPORT_MODULES:  # interleaved, like the call measurements
            if module in out:
                continue
            code = _IMPORT_SNIPPET.format(
                module=module, roots=OPTIONAL_ROOTS, top=module.split(".")[0]
            )
            proc = subprocess.run(
                [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
            )
            if proc.returncode != 0:
                last = (proc.stderr.strip().splitlines() or ["?"])[-1]
                out[module] = {"available": False, "reason": last}
                continue
            data = json.loads(proc.stdout)
            if run:
                times[module].append(data["s"] * 1e3)
            if module == "cognito_signout":
                out["cognito_signout_imports"] = {"optional": data["optional"], "own": data["own"]}
    for module, samples in times.items():
        if module not in out and samples:
            out[module] = {"available": True, "ms": stat(samples)}
    return out


def _probe(args: list[str], timeout: float) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, str(HERE / "probes.py"), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["?"])[-1]
        return {"unavailable": f"probe failed: {last}"}
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def creation_times(settings: Settings, count: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for lib in CREATION_LIBS:
        n = max(3, count // 5) if lib == "aiobotocore" else count  # ~20 ms each
        res = _probe(["create", lib, "--settings", settings.to_json(), "--count", str(n)], 120)
        if "unavailable" in res:
            out[lib] = {"available": False, "reason": res["unavailable"]}
        else:
            out[lib] = {
                "available": True,
                "first_ms": res["first_s"] * 1e3,
                "subsequent_ms": stat([s * 1e3 for s in res["subsequent_s"]]),
            }
    return out


def memory_growth(settings: Settings, profile: Profile, targets: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in targets:
        max_seconds = 240.0 if profile is FULL else 20.0
        args = ["memory", name, "--settings", settings.to_json()]
        args += ["--calls", str(profile.memory_calls), "--warmup", str(profile.memory_warmup)]
        args += ["--max-seconds", str(max_seconds)]
        res = _probe(args, max_seconds + 60)
        if "unavailable" in res:
            out[name] = {"available": False, "reason": res["unavailable"]}
        else:
            out[name] = {"available": True, **res}
        print(f"  memory {name}: {_short(out[name])}", flush=True)
    return out


def _short(res: dict[str, Any]) -> str:
    if not res.get("available"):
        return f"unavailable ({res.get('reason')})"
    return f"{res['growth_bytes'] / 2**20:+.2f} MiB over {res['calls']} calls"


# ---------------------------------------------------------------- main


def _isolate_environment() -> None:
    """Keep the user's AWS files and instance metadata out of botocore's start-up."""
    os.environ["AWS_CONFIG_FILE"] = os.devnull
    os.environ["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
    os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
    for key in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER"):
        os.environ.pop(key, None)
    for key in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        os.environ.pop(key, None)  # loopback must never go through a proxy


def _pin(no_pin: bool) -> tuple[int | None, int | None]:
    if no_pin or not hasattr(os, "sched_setaffinity"):
        return None, None
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return None, None
    os.sched_setaffinity(0, {cpus[0]})  # children (the probes) inherit this
    return cpus[0], cpus[1]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="GlobalSignOut client benchmark (issue 5)")
    parser.add_argument("--quick", action="store_true", help="a smoke test under a minute")
    parser.add_argument("--contenders", default=",".join(CONTENDERS), help="comma-separated")
    parser.add_argument("--rounds", type=int, help="override the profile's round count")
    parser.add_argument("--pool", type=int, default=128, help="connection pool of raw clients")
    parser.add_argument("--no-pin", action="store_true", help="do not pin client/server CPUs")
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--skip-imports", action="store_true")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "latest.json")
    parser.add_argument("--strict", action="store_true", help="exit 1 if a target check FAILs")
    sdk = parser.add_argument_group("how the SDK contenders pick a transport")
    sdk.add_argument("--sdk-transport-kw", default="transport")
    sdk.add_argument("--sdk-default-value", default="default")
    sdk.add_argument("--sdk-fast-value", default="fast")
    sdk.add_argument("--sdk-config-json", default="{}", help="extra Config(...) keywords")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    profile = QUICK if args.quick else FULL
    if args.rounds:
        profile = Profile(**{**profile.__dict__, "rounds": args.rounds})
    names = [n.strip() for n in args.contenders.split(",") if n.strip()]
    unknown = [n for n in names if n not in CONTENDERS]
    if unknown:
        raise SystemExit(f"unknown contenders: {unknown}; known: {list(CONTENDERS)}")
    _isolate_environment()
    client_cpu, server_cpu = _pin(args.no_pin)
    began = time.time()
    results: dict[str, Any] = {
        "meta": report.machine_info(),
        "settings": {
            "profile": "quick" if args.quick else "full",
            **profile.__dict__,
            "pool": args.pool,
            "client_cpu": client_cpu,
            "server_cpu": server_cpu,
            "contenders": names,
        },
    }
    with start_server(server_cpu, lifetime=1800.0) as server:
        settings = Settings(
            url=server.url,
            pool=args.pool,
            sdk_transport_kw=args.sdk_transport_kw,
            sdk_default_value=args.sdk_default_value,
            sdk_fast_value=args.sdk_fast_value,
            sdk_config=json.loads(args.sdk_config_json),
        )
        print(f"server {server.url}; calls, {profile.rounds} interleaved rounds", flush=True)
        results.update(asyncio.run(measure_calls(names, settings, profile, server)))
        if not args.skip_imports:
            print("import times", flush=True)
            results["import"] = import_times(profile.import_runs)
        print("client creation", flush=True)
        results["creation"] = creation_times(settings, profile.creation_count)
        if not args.skip_memory:
            print("memory", flush=True)
            wanted = [n for n in MEMORY_TARGETS if n in names]
            results["memory"] = memory_growth(settings, profile, wanted)
    results["meta"]["duration_s"] = time.time() - began
    results["checks"] = report.checks(results)
    print()
    print(report.render(results))
    report.write_json(results, args.out)
    print(f"\nwritten to {args.out}")
    failed = any(c["status"] == "FAIL" for c in results["checks"])
    return 1 if args.strict and failed else 0


if __name__ == "__main__":
    sys.exit(main())
