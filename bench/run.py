"""Issue 8's benchmark: our SDK three ways (over a caller's httpx client, with no options, and on
aiohttp) against raw httpx, aiohttp, httpx-aiohttp, aiobotocore and capo; and issue 11's
verification benchmarks (bench/verify.py: TokenVerifier against PyJWT and joserfc, the
revocation check, a crowd of cold verifies, propagation through Redis), in the same run.

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
import tempfile
import time
from collections.abc import Iterator
from contextlib import AsyncExitStack, contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import machine
import report
import verify
from contenders import CONTENDERS, NO_REQUEST_ID, SDK_KINDS, Caller, Settings, Unavailable

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
# What a user's process really runs before its first call, beside the bare import (the runtime
# and the operation module load with the first Client): timed in the same interleaved rounds.
IMPORT_SNIPPETS = {
    "from cognito_signout import Client, Config": "from cognito_signout import Client, Config",
    "... + Client(...).global_sign_out()": (
        "from cognito_signout import Client, Config\n"
        "Client(Config(region='eu-west-1')).global_sign_out()"
    ),
}
# Third-party modules that `import cognito_signout` must not pull in (issue 5: optional parts).
OPTIONAL_ROOTS = ("aiohttp", "httpx_aiohttp", "fastapi", "starlette", "uvicorn", "pytest", "respx")
SDK_CONTENDERS = tuple(f"sdk_{which}" for which in SDK_KINDS)
CREATION_LIBS = ("httpx", *SDK_CONTENDERS, "aiohttp", "aiobotocore")
# 50,000 calls take about half a minute each, so only the first available group is measured: the
# SDK's three paths, else raw httpx (which at least shows what the HTTP stack itself does).
# --memory-targets overrides this.
MEMORY_GROUPS = (SDK_CONTENDERS, ("httpx_raw",))


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
    rounds=5,
    seq_calls=1000,
    throughput_calls={1: 400, 16: 1280, 128: 2560},
    import_runs=21,  # issue 8: a median of at least 11 whole processes (21: paired rounds)
    creation_count=50,
    memory_calls=50_000,
    memory_warmup=2_000,
    batch_timeout=120.0,
    budget=400.0,
)
QUICK = Profile(
    rounds=2,
    seq_calls=100,
    throughput_calls={1: 50, 16: 160, 128: 128},
    import_runs=2,
    creation_count=10,
    memory_calls=1_000,
    memory_warmup=100,
    batch_timeout=30.0,
    budget=20.0,
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

    async def connections(self) -> int:
        """Connections the server has accepted so far, this query's own included."""
        host, port = self.url.removeprefix("http://").split(":")
        async with asyncio.timeout(5.0):
            reader, writer = await asyncio.open_connection(host, int(port))
            writer.write(b"GET /__stats HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n")
            raw = await reader.read()  # the server closes: bounded by the timeout
            writer.close()
            await writer.wait_closed()
        return int(json.loads(raw.split(b"\r\n\r\n", 1)[1])["connections"])


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


async def validate(name: str, caller: Caller) -> None:
    """Proves the contender does what it claims before its numbers are trusted."""
    request_id = ""
    for _ in range(100):  # also the warm-up: imports, caches, the first connection
        request_id = await caller.call(GOOD)
    if not request_id and name not in NO_REQUEST_ID:
        raise Unavailable("the success path returned no request id")
    for _ in range(20):
        try:
            await caller.call(BAD)
        except caller.error_types:
            continue
        raise Unavailable("the error path returned instead of raising NotAuthorized")


async def fill_pool(caller: Caller, in_flight: int) -> None:
    """Untimed: (re)opens the connections a batch will use, since idle ones expire between
    rounds (httpx after 5 s, aiohttp after 15 s) and reconnecting is not what is measured."""
    await asyncio.gather(*(caller.call(GOOD) for _ in range(in_flight)))


async def sequential(
    caller: Caller, calls: int, error: bool, server: Server
) -> tuple[float, float, float]:
    call, errors = caller.call, caller.error_types
    await fill_pool(caller, 1)
    conn0 = await server.connections()
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
    opened = await server.connections() - conn0 - 1
    return cpu / calls, wall / calls, opened / calls


async def throughput(
    caller: Caller, in_flight: int, calls: int, server: Server
) -> tuple[float, float, float, float]:
    call = caller.call
    per_worker = max(1, calls // in_flight)
    total = per_worker * in_flight

    async def worker() -> None:
        for _ in range(per_worker):
            await call(GOOD)

    await fill_pool(caller, in_flight)
    conn0 = await server.connections()
    gc.collect()
    srv0 = server.cpu_seconds()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    async with asyncio.TaskGroup() as tg:
        for _ in range(in_flight):
            tg.create_task(worker())
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    srv = server.cpu_seconds() - srv0
    opened = await server.connections() - conn0 - 1
    return total / wall, cpu / total, srv / wall, opened / total


def _slot(kind: str) -> int:
    """Which of a contender's clients a measurement uses: the sequential one (also for 1 in
    flight) or the one kept for N in flight. Each client only ever sees its own concurrency,
    because a pool left with 128 idle connections makes httpx's sequential calls ~50% dearer."""
    return int(kind.removeprefix("thr_")) if kind.startswith("thr_") else 1


async def open_contenders(
    names: list[str], settings: Settings, profile: Profile, stack: AsyncExitStack
) -> tuple[dict[str, dict[str, Any]], dict[tuple[str, int], Caller], dict[str, dict[str, str]]]:
    contenders: dict[str, dict[str, Any]] = {}
    callers: dict[tuple[str, int], Caller] = {}
    failures: dict[str, dict[str, str]] = {}
    slots = sorted({1, *profile.throughput_calls})
    for name in names:
        info: dict[str, Any] = {}
        for slot in slots:
            # The pool is sized to the concurrency the client serves, unless --pool says.
            slot_settings = replace(settings, pool=settings.pool or slot)
            try:
                async with asyncio.timeout(profile.batch_timeout):
                    caller = await stack.enter_async_context(CONTENDERS[name](slot_settings))
                    if slot == 1:  # the same library and code path in every slot: once is enough
                        await validate(name, caller)
                    await fill_pool(caller, slot)
            except Exception as exc:
                reason = str(exc) if isinstance(exc, Unavailable) else f"failed: {exc!r}"
                if slot == 1:
                    contenders[name] = {"available": False, "reason": reason}
                    print(f"  {name}: unavailable: {reason}", flush=True)
                    break
                failures.setdefault(name, {})[f"thr_{slot}"] = reason
                continue
            callers[name, slot] = caller
            if slot == 1:  # e.g. the SDK's Client.transport, as the opened client reports it
                info = dict(caller.info)
        else:
            contenders[name] = {"available": True, "reason": None, **info}
    return contenders, callers, failures


async def measure_calls(
    names: list[str], settings: Settings, profile: Profile, server: Server
) -> dict[str, Any]:
    samples: dict[tuple[str, str], list[tuple[float, ...]]] = {}
    kinds = ["seq_ok", "seq_error", *(f"thr_{n}" for n in profile.throughput_calls)]
    async with AsyncExitStack() as stack:
        contenders, callers, failures = await open_contenders(names, settings, profile, stack)
        order = [n for n in names if contenders[n]["available"]]
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
                    caller = callers.get((name, _slot(kind)))
                    if caller is None or kind in failures.get(name, {}):
                        continue
                    try:
                        async with asyncio.timeout(profile.batch_timeout):
                            samples.setdefault((name, kind), []).append(
                                await _one_batch(caller, kind, profile, server)
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
        return await sequential(caller, profile.seq_calls, kind == "seq_error", server)
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
                "new_connections_per_call": stat([r[2] for r in rows]),
            }
        else:
            thr.setdefault(name, {})[kind.removeprefix("thr_")] = {
                "calls_per_s": stat([r[0] for r in rows]),
                "cpu_us": stat([r[1] * 1e6 for r in rows]),
                "server_cpu_share": stat([r[2] for r in rows]),
                "new_connections_per_call": stat([r[3] for r in rows]),
            }
    return {"sequential": seq, "throughput": thr}


# ---------------------------------------------------------------- fresh-process measurements

# Timed inside a fresh interpreter, so start-up is excluded without subtracting a bare run; the
# clock starts before anything else is imported.
_IMPORT_SNIPPET = """\
import time
_t = time.perf_counter()
{statement}
_d = time.perf_counter() - _t
import json, sys
roots = {roots!r}
print(json.dumps({{"s": _d, "optional": sorted(m for m in sys.modules if m.split(".")[0] in roots),
    "own": sorted(m for m in sys.modules if m.startswith("{top}."))}}))
"""


def import_times(runs: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    times: dict[str, list[float]] = {m: [] for m in (*IMPORT_MODULES, *IMPORT_SNIPPETS)}
    # Bytecode as after a normal install, without writing into the source tree: .pyc files go to a
    # private prefix (PYTHONDONTWRITEBYTECODE, set on some machines, would make every run compile
    # an editable install from source), and the first, discarded run of each module fills it.
    with tempfile.TemporaryDirectory(prefix="bench-pyc-") as prefix:
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env["PYTHONPYCACHEPREFIX"] = prefix
        _import_runs(runs, env, out, times)
    for module, samples in times.items():
        if module not in out and samples:
            out[module] = {"available": True, "ms": stat(samples)}
    return out


def _import_runs(
    runs: int, env: dict[str, str], out: dict[str, Any], times: dict[str, list[float]]
) -> None:
    statements = {**{m: f"import {m}" for m in IMPORT_MODULES}, **IMPORT_SNIPPETS}
    for run in range(runs + 1):
        for module, statement in statements.items():  # interleaved, like the call rounds
            if module in out:
                continue
            top = "cognito_signout" if module in IMPORT_SNIPPETS else module.split(".")[0]
            code = _IMPORT_SNIPPET.format(statement=statement, roots=OPTIONAL_ROOTS, top=top)
            proc = subprocess.run(
                [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env
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
    settings = replace(settings, pool=settings.pool or 1)
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
        one = replace(settings, pool=settings.pool or 1)  # sequential calls: one connection
        args = ["memory", name, "--settings", one.to_json()]
        args += ["--calls", str(profile.memory_calls), "--warmup", str(profile.memory_warmup)]
        args += ["--max-seconds", str(max_seconds)]
        res = _probe(args, max_seconds + 60)
        if "unavailable" in res:
            out[name] = {"available": False, "reason": res["unavailable"]}
        else:
            out[name] = {"available": True, **res}
        print(f"  memory {name}: {_short(out[name])}", flush=True)
    return out


def _memory_targets(option: str | None, contenders: dict[str, Any]) -> list[str]:
    if option:
        return [n.strip() for n in option.split(",") if n.strip()]
    for group in MEMORY_GROUPS:
        ready = [n for n in group if contenders.get(n, {}).get("available")]
        if ready:
            return ready
    return []


def _short(res: dict[str, Any]) -> str:
    if not res.get("available"):
        return f"unavailable ({res.get('reason')})"
    return f"{res['growth_bytes'] / 2**20:+.2f} MiB over {res['calls']} calls"


# ---------------------------------------------------------------- main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="GlobalSignOut client benchmark (issue 8)")
    parser.add_argument("--quick", action="store_true", help="a smoke test under a minute")
    parser.add_argument("--contenders", default=",".join(CONTENDERS), help="comma-separated")
    parser.add_argument("--rounds", type=int, help="override the profile's round count")
    parser.add_argument(
        "--pool", type=int, default=0, help="pool size of every client (default: its concurrency)"
    )
    parser.add_argument("--no-pin", action="store_true", help="do not pin client/server CPUs")
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--memory-targets", help="comma-separated contenders for the leak check")
    parser.add_argument("--skip-imports", action="store_true")
    parser.add_argument(
        "--skip-verify", action="store_true", help="skip issue 11's phase (bench/verify.py)"
    )
    parser.add_argument(
        "--out", type=Path, help="default: bench/results/latest.json (quick.json with --quick)"
    )
    parser.add_argument("--strict", action="store_true", help="exit 1 if a target check FAILs")
    sdk = parser.add_argument_group("the SDK contenders")
    sdk.add_argument(
        "--sdk-config-json", default="{}", help="extra Config(...) keywords (not transport)"
    )
    sdk.add_argument(
        "--sdk-pool-kw", help="Config keyword sized like the other pools (e.g. max_connections)"
    )
    args = parser.parse_args(argv)
    try:
        extra = json.loads(args.sdk_config_json)
    except ValueError as exc:
        parser.error(f"--sdk-config-json is not JSON: {exc}")
    if not isinstance(extra, dict):
        parser.error("--sdk-config-json must be a JSON object of Config keywords")
    if "transport" in extra or args.sdk_pool_kw == "transport":
        # sdk_default is the SDK with no options and sdk_fast is transport="aiohttp": a transport
        # for all of them would make both something else.
        parser.error("the SDK contenders set the transport themselves; leave it out")
    args.sdk_config = extra
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    profile = QUICK if args.quick else FULL
    if args.rounds:
        profile = Profile(**{**profile.__dict__, "rounds": args.rounds})
    names = [n.strip() for n in args.contenders.split(",") if n.strip()]
    unknown = [n for n in names if n not in CONTENDERS]
    if unknown:
        raise SystemExit(f"unknown contenders: {unknown}; known: {list(CONTENDERS)}")
    out = args.out or HERE / "results" / ("quick.json" if args.quick else "latest.json")
    machine.isolate_environment()
    meta = report.machine_info()  # before pinning, which hides the other cores
    client_cpu, server_cpu = machine.pin(args.no_pin)
    began = time.time()
    results: dict[str, Any] = {
        "meta": meta,
        "settings": {
            "profile": "quick" if args.quick else "full",
            **profile.__dict__,
            "pool": args.pool,
            "client_cpu": client_cpu,
            "server_cpu": server_cpu,
            "contenders": names,
            "sdk_config": args.sdk_config,
            "sdk_pool_kw": args.sdk_pool_kw,
        },
    }
    with start_server(server_cpu, lifetime=1800.0) as server:
        settings = Settings(
            url=server.url,
            pool=args.pool,
            sdk_config=args.sdk_config,
            sdk_pool_kw=args.sdk_pool_kw,
        )
        phases: dict[str, float] = {}

        def phase(label: str, started: float) -> None:
            phases[label] = round(time.monotonic() - started, 1)
            print(f"  ({label}: {phases[label]} s)", flush=True)

        print(f"server {server.url}; calls, {profile.rounds} interleaved rounds", flush=True)
        t = time.monotonic()
        results.update(asyncio.run(measure_calls(names, settings, profile, server)))
        phase("calls", t)
        if not args.skip_verify:
            # After the calls, which it must not disturb (its 100,000-entry store is freed by the
            # end); its Redis and recorder process go on the server's CPU, idle by then.
            print("token verification (issue 11)", flush=True)
            t = time.monotonic()
            results["verify"] = asyncio.run(verify.run_phase(args.quick, server_cpu))
            phase("verify", t)
        if not args.skip_imports:
            print("import times", flush=True)
            t = time.monotonic()
            results["import"] = import_times(profile.import_runs)
            phase("imports", t)
        print("client creation", flush=True)
        t = time.monotonic()
        results["creation"] = creation_times(settings, profile.creation_count)
        phase("creation", t)
        if not args.skip_memory:
            print("memory", flush=True)
            t = time.monotonic()
            wanted = _memory_targets(args.memory_targets, results["contenders"])
            results["memory"] = memory_growth(settings, profile, wanted)
            phase("memory", t)
        results["meta"]["phase_seconds"] = phases
    results["meta"]["duration_s"] = time.time() - began
    results["meta"]["loadavg_end"] = os.getloadavg()
    results["checks"] = report.checks(results)
    print()
    print(report.render(results))
    report.write_json(results, out)
    print(f"\nwritten to {out}")
    failed = any(c["status"] == "FAIL" and not c.get("stretch") for c in results["checks"])
    return 1 if args.strict and failed else 0


if __name__ == "__main__":
    sys.exit(main())
