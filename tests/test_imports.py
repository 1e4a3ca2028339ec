"""What `import cognito_signout` costs: only the core, never the optional parts (issue 5)."""

from __future__ import annotations

import json
import subprocess
import sys

LAZY = (
    # needed only after a failed attempt / when a profile file is read / on the fast path
    "tenacity", "configparser", "aiohttp", "httpx_aiohttp", "cognito_signout._aiohttp",
    # optional faces
    "fastapi", "starlette", "uvicorn", "moto", "pytest", "trio", "cognito_signout.fastapi",
    "cognito_signout.testing", "cognito_signout._cli", "cognito_signout.emulator",
)


def _modules_after(code: str) -> set[str]:
    probe = f"import sys, json\n{code}\nprint(json.dumps(sorted(sys.modules)))"
    run = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True)
    return set(json.loads(run.stdout.splitlines()[-1]))


def _loaded(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if any(m == n or m.startswith(n + ".") for n in LAZY))


def test_package_root_loads_nothing_lazy() -> None:
    assert _loaded(_modules_after("import cognito_signout")) == []


def test_building_a_client_and_a_call_loads_nothing_lazy() -> None:
    code = (
        "import cognito_signout as c\n"
        "client = c.Client(c.Config(region='eu-west-1'))\n"
        "client.global_sign_out().access_token('t').as_input().build()\n"
    )
    assert _loaded(_modules_after(code)) == []


def test_package_root_does_not_load_attrs() -> None:
    """attrs costs about 15 ms of import (docs/guide/performance.md): a process that imports
    the package to catch its errors pays none of it; the first Config does."""
    code = "import cognito_signout\nfrom cognito_signout import errors, Client\n"
    assert "attrs" not in _modules_after(code)
    assert "attrs" in _modules_after("from cognito_signout import Config")


def test_the_lazy_names_are_the_modules_own() -> None:
    import cognito_signout
    from cognito_signout import _config, _retry

    assert cognito_signout.Config is _config.Config
    assert cognito_signout.TimeoutConfig is _config.TimeoutConfig
    assert cognito_signout.RetryConfig is _retry.RetryConfig
    assert cognito_signout.set_testing is _retry.set_testing
    assert set(cognito_signout.__all__) <= set(dir(cognito_signout))
