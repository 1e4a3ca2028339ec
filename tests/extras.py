"""Running a snippet in a fresh interpreter where an optional package is not installed."""

from __future__ import annotations

import subprocess
import sys


def construction_failure_without(module: str, construct: str) -> str:
    """The ConstructionFailure text of ``construct`` (one statement, with ``cognito_signout``'s
    public names in scope) when ``module`` cannot be imported; fails if nothing was raised."""
    code = (
        "import sys\n"
        f"sys.modules[{module!r}] = None  # any import of it now fails, as if not installed\n"
        "from cognito_signout import *\n"
        "from cognito_signout import errors\n"
        "try:\n"
        f"    {construct}\n"
        "except errors.ConstructionFailure as exc:\n"
        "    print(exc)\n"
        "else:\n"
        "    raise SystemExit('no ConstructionFailure')\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert run.returncode == 0, run.stdout + run.stderr
    return run.stdout
