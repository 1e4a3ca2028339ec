"""Developer tasks. `python -m nox -s tests` is what CI runs (with lint and typecheck)."""

from __future__ import annotations

import nox

nox.options.sessions = ["lint", "typecheck", "tests"]
nox.options.reuse_existing_virtualenvs = True
nox.options.error_on_missing_interpreters = True



@nox.session
def tests(session: nox.Session) -> None:
    """The whole suite: unit, integration (real moto/uvicorn servers), both async backends."""
    session.install("-e", ".[test]")
    session.run("pytest", "-p", "no:cacheprovider", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    session.install("ruff>=0.6")
    session.run("ruff", "check", "cognito_signout", "tests", "examples", "bench", "noxfile.py")


@nox.session
def typecheck(session: nox.Session) -> None:
    session.install("-e", ".[test,lint]")
    session.run("mypy", "--strict")


@nox.session
def demo(session: nox.Session) -> None:
    """Sign a real user out against an embedded moto server on 127.0.0.1."""
    session.install("-e", ".[emulator]")
    session.run("python", "examples/demo.py")


@nox.session
def bench(session: nox.Session) -> None:
    """Benchmarks against raw httpx, aiohttp and aiobotocore (not part of the test run)."""
    session.install("-e", ".[bench,fast]")
    session.run("python", "bench/run.py", *session.posargs)
