"""Config overrides are typed (``Unpack[ConfigOverrides]``) and checked at run time too.

``Config.from_env(**overrides)`` and ``CognitoSignOut(**overrides)`` take Config fields as
keyword arguments; ``config_override(**fields)`` takes those a single call may change
(``CallOverrides``). A misspelt field is a mypy error, and a ConstructionFailure at run time
that names it and lists the valid fields. The mypy half runs mypy itself on a generated
snippet and reads what it reports for each line.
"""

from __future__ import annotations

import inspect
import os
import re
import subprocess
import sys
from pathlib import Path

import attrs
import pytest
from fastapi import FastAPI

from cognito_signout import Config, CustomizableOperation, RetryConfig, TimeoutConfig, errors
from cognito_signout._config import CallOverrides, ConfigOverrides, validate_overrides
from cognito_signout.fastapi import CognitoSignOut

REPO = Path(__file__).resolve().parent.parent
CONFIG_FIELDS = {field.name for field in attrs.fields(Config)}
CLIENT_ONLY = {"max_connections", "transport"}


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in list(os.environ):
        if name.startswith("AWS_") or name.startswith("COGNITO_SIGNOUT_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    return monkeypatch


# --- the TypedDicts follow Config -----------------------------------------------------------------


def test_config_overrides_has_every_config_field_all_optional() -> None:
    assert ConfigOverrides.__optional_keys__ == CONFIG_FIELDS
    assert ConfigOverrides.__required_keys__ == frozenset()


def test_call_overrides_is_config_overrides_without_the_clients_fields() -> None:
    assert CallOverrides.__optional_keys__ == CONFIG_FIELDS - CLIENT_ONLY
    assert CallOverrides.__required_keys__ == frozenset()


# --- run time: validate_overrides, from_env, CognitoSignOut --------------------------------------


def test_validate_overrides_names_the_field_and_lists_the_valid_ones() -> None:
    with pytest.raises(errors.ConstructionFailure) as caught:
        validate_overrides({"regoin": "x"}, per_call=False)
    message = str(caught.value)
    assert "'regoin'" in message and "did you mean 'region'?" in message
    assert all(name in message for name in CONFIG_FIELDS)


@pytest.mark.parametrize("field", sorted(CLIENT_ONLY))
def test_per_call_refuses_the_clients_fields(field: str) -> None:
    validate_overrides({field: None}, per_call=False)  # a Config field: fine for a client
    with pytest.raises(errors.ConstructionFailure, match="unknown field") as caught:
        validate_overrides({field: None}, per_call=True)
    message = str(caught.value)
    assert f"{field!r}" in message and "belong to the client" in message
    valid = message.rpartition("Valid fields per call: ")[2]
    assert set(valid.split(", ")) == CONFIG_FIELDS - CLIENT_ONLY


def test_validate_overrides_accepts_every_field() -> None:
    validate_overrides(dict.fromkeys(CONFIG_FIELDS), per_call=False)
    validate_overrides(dict.fromkeys(CONFIG_FIELDS - CLIENT_ONLY), per_call=True)
    validate_overrides({}, per_call=True)


def test_from_env_refuses_an_unknown_field(env: pytest.MonkeyPatch) -> None:
    with pytest.raises(errors.ConstructionFailure, match="invalid Config field") as caught:
        Config.from_env(regoin="eu-west-1")  # type: ignore[call-arg]
    assert "did you mean 'region'?" in str(caught.value)


def test_from_env_overrides_win_over_the_environment(env: pytest.MonkeyPatch) -> None:
    env.setenv("AWS_REGION", "ap-south-1")
    env.setenv("AWS_MAX_ATTEMPTS", "5")
    timeouts = TimeoutConfig(operation_timeout=2.0)
    config = Config.from_env(region="eu-west-1", timeout_config=timeouts, max_connections=3)
    assert (config.region, config.timeout_config, config.max_connections) == (
        "eu-west-1", timeouts, 3,
    )
    assert config.retry_config.max_attempts == 5  # not overridden: from the environment


def test_cognito_sign_out_refuses_an_unknown_field_at_construction() -> None:
    with pytest.raises(errors.ConstructionFailure, match="did you mean 'region'"):
        CognitoSignOut(regoin="eu-west-1")  # type: ignore[call-arg]


@pytest.mark.parametrize(
    "overrides",
    [{"region": 5}, {"max_connections": 0}, {"transport": "auto"},
     {"endpoint_url": "http://user:pw@127.0.0.1:9"}, {"timeout_config": 2.0}],
    ids=["region", "max-connections", "transport", "userinfo", "timeout-config"],
)
def test_cognito_sign_out_checks_override_values_at_construction(
    env: pytest.MonkeyPatch, overrides: dict[str, object]
) -> None:
    with pytest.raises(errors.ConstructionFailure):
        CognitoSignOut(**overrides)  # type: ignore[arg-type]


def _count_from_env_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Count the calls of Config.from_env (where the environment and config file are read)."""
    reads: list[str] = []
    original = Config.from_env.__func__  # type: ignore[attr-defined]

    def spying(cls: type[Config], /, **overrides: object) -> Config:
        reads.append("from_env")
        return original(cls, **overrides)  # type: ignore[no-any-return]

    monkeypatch.setattr(Config, "from_env", classmethod(spying))
    return reads


@pytest.mark.anyio
async def test_overrides_apply_over_from_env_at_startup_not_at_import(
    env: pytest.MonkeyPatch,
) -> None:
    reads = _count_from_env_calls(env)
    timeouts = TimeoutConfig(operation_timeout=2.0)
    cognito = CognitoSignOut(region="eu-west-1", timeout_config=timeouts)
    assert reads == []  # nothing read at construction (import time)
    env.setenv("AWS_REGION", "ap-south-1")  # set after construction, as a test would
    env.setenv("AWS_MAX_ATTEMPTS", "7")
    async with cognito.lifespan(FastAPI()) as state:
        [client] = state.values()
        assert reads == ["from_env"]
        assert client.config.region == "eu-west-1"  # the override wins
        assert client.config.timeout_config == timeouts
        assert client.config.retry_config.max_attempts == 7  # the rest: the environment
    assert client.is_closed


@pytest.mark.anyio
async def test_overrides_apply_over_a_given_config(env: pytest.MonkeyPatch) -> None:
    base = Config(region="us-east-1", app_name="base", retry_config=RetryConfig.disabled())
    cognito = CognitoSignOut(base, region="eu-west-1")
    async with cognito.lifespan(FastAPI()) as state:
        [client] = state.values()
    assert client.config == attrs.evolve(base, region="eu-west-1")


def test_every_existing_argument_still_works() -> None:
    cognito = CognitoSignOut(
        Config(region="us-east-1"), client_factory=None, path="/logout", tags=["sessions"],
        retry_after=5,
    )
    assert [route.path for route in cognito.router.routes] == ["/logout"]  # type: ignore[attr-defined]


# --- mypy -----------------------------------------------------------------------------------------

SNIPPET = '''\
from cognito_signout import Client, Config, TimeoutConfig
from cognito_signout.fastapi import CognitoSignOut


def good(client: Client) -> None:
    Config.from_env(region="eu-west-1", max_connections=4, transport="aiohttp")
    CognitoSignOut(region="eu-west-1", timeout_config=TimeoutConfig(operation_timeout=2.0))
    CognitoSignOut(Config(), path="/logout", retry_after=3, use_fips=True)
    client.global_sign_out().customize().config_override(region="eu-west-1")


def bad(client: Client) -> None:
    Config.from_env(regoin="eu-west-1")  # line: from_env-name
    Config.from_env(region=5)  # line: from_env-type
    CognitoSignOut(regoin="eu-west-1")  # line: integration-name
    CognitoSignOut(max_connections="10")  # line: integration-type
    op = client.global_sign_out().customize()
    op.config_override(regoin="eu-west-1")  # line: call-name
    op.config_override(max_connections=3)  # line: call-client-field
'''


def _line_numbers() -> dict[str, int]:
    numbers = {}
    for number, line in enumerate(SNIPPET.splitlines(), start=1):
        marker = re.search(r"# line: (\S+)", line)
        if marker:
            numbers[marker.group(1)] = number
    return numbers


@pytest.fixture(scope="module")
def mypy_report(tmp_path_factory: pytest.TempPathFactory) -> dict[int, str]:
    """mypy --strict on the snippet: its messages by line number."""
    pytest.importorskip("mypy")
    folder = tmp_path_factory.mktemp("typing")
    (folder / "snippet.py").write_text(SNIPPET)
    run = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-error-summary", "--show-error-codes",
         "--cache-dir", str(folder / ".mypy_cache"), "--config-file", os.devnull,
         "snippet.py"],
        capture_output=True, text=True, cwd=folder, timeout=300, check=False,
        env={**os.environ, "MYPYPATH": str(REPO)},
    )
    assert run.returncode in (0, 1), run.stdout + run.stderr  # 2: mypy itself failed
    messages: dict[int, str] = {}
    for line in run.stdout.splitlines():
        match = re.match(r"snippet\.py:(\d+): (?:error|note): (.*)", line)
        if match:
            number = int(match.group(1))
            messages[number] = messages.get(number, "") + match.group(2) + "\n"
    return messages


def _errors_on(report: dict[int, str], marker: str) -> str:
    return report.get(_line_numbers()[marker], "")


def test_mypy_accepts_the_good_calls(mypy_report: dict[int, str]) -> None:
    bad_start = SNIPPET.splitlines().index("def bad(client: Client) -> None:") + 1
    good = {n: m for n, m in mypy_report.items() if n < bad_start}
    assert good == {}


def test_mypy_rejects_a_misspelt_field_for_from_env(mypy_report: dict[int, str]) -> None:
    assert 'Unexpected keyword argument "regoin"' in _errors_on(mypy_report, "from_env-name")
    assert "incompatible type" in _errors_on(mypy_report, "from_env-type")


def test_mypy_rejects_a_misspelt_field_for_cognito_sign_out(
    mypy_report: dict[int, str],
) -> None:
    assert 'Unexpected keyword argument "regoin"' in _errors_on(mypy_report, "integration-name")
    assert "incompatible type" in _errors_on(mypy_report, "integration-type")


def _config_override_is_typed() -> bool:
    parameter = inspect.signature(CustomizableOperation.config_override).parameters.get("fields")
    if parameter is None:
        kinds = inspect.signature(CustomizableOperation.config_override).parameters.values()
        parameter = next((p for p in kinds if p.kind is p.VAR_KEYWORD), None)
    return parameter is not None and "Unpack" in str(parameter.annotation)


def test_mypy_rejects_a_misspelt_field_for_config_override(
    mypy_report: dict[int, str],
) -> None:
    if not _config_override_is_typed():
        pytest.skip(
            "CustomizableOperation.config_override is not typed with "
            "**fields: Unpack[CallOverrides] yet (operations/global_sign_out.py)"
        )
    assert 'Unexpected keyword argument "regoin"' in _errors_on(mypy_report, "call-name")
    assert 'Unexpected keyword argument "max_connections"' in _errors_on(
        mypy_report, "call-client-field"
    )
