"""What every bench entry point does to the process first: a clean environment, pinned CPUs.

Shared by run.py (the whole bench) and verify.py (its verification phase, also run alone).
"""

from __future__ import annotations

import os


def isolate_environment() -> None:
    """Keep the user's AWS files and instance metadata out of botocore's start-up."""
    os.environ["AWS_CONFIG_FILE"] = os.devnull
    os.environ["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
    os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
    for key in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER"):
        os.environ.pop(key, None)
    for key in [k for k in os.environ if k.startswith("COGNITO_SIGNOUT_")]:
        os.environ.pop(key)  # e.g. COGNITO_SIGNOUT_TRANSPORT: sdk_default passes no options
    for key in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        os.environ.pop(key, None)  # loopback must never go through a proxy


def pin(no_pin: bool) -> tuple[int | None, int | None]:
    """This process on the first CPU, the second kept for servers and helpers: the two CPUs it
    returns (None, None when not pinned)."""
    if no_pin or not hasattr(os, "sched_setaffinity"):
        return None, None
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return None, None
    os.sched_setaffinity(0, {cpus[0]})  # children (the probes) inherit this
    return cpus[0], cpus[1]
