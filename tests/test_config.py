"""Config values, and Config.from_env over the environment and the shared config file."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import attrs
import pytest

from cognito_signout import Config, RetryConfig, TimeoutConfig, errors

ENV_VARS = (
    "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
    "AWS_USE_FIPS_ENDPOINT", "AWS_USE_DUALSTACK_ENDPOINT", "AWS_MAX_ATTEMPTS", "AWS_RETRY_MODE",
)


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    for var in ENV_VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    return monkeypatch


@pytest.fixture
def profile(tmp_path: Path) -> Path:
    return tmp_path / "config"


def test_defaults() -> None:
    config = Config()
    assert config.region is None and config.endpoint_url is None
    assert config.use_fips is False and config.use_dualstack is False
    assert config.retry_config == RetryConfig.standard()
    assert config.timeout_config == TimeoutConfig()
    assert config.timeout_config.connect_timeout == 3.1
    assert config.app_name is None
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        config.region = "x"  # type: ignore[misc]
    with pytest.raises(TypeError):
        Config("eu-west-1")  # type: ignore[call-arg]


def test_empty_environment(env: pytest.MonkeyPatch) -> None:
    assert Config.from_env() == Config()


def test_region_precedence(env: pytest.MonkeyPatch, profile: Path) -> None:
    profile.write_text("[default]\nregion = ap-south-1\n")
    assert Config.from_env().region == "ap-south-1"
    env.setenv("AWS_DEFAULT_REGION", "eu-north-1")
    assert Config.from_env().region == "eu-north-1"
    env.setenv("AWS_REGION", "eu-west-3")
    assert Config.from_env().region == "eu-west-3"
    assert Config.from_env(region="us-west-1").region == "us-west-1"


def test_named_profile(env: pytest.MonkeyPatch, profile: Path) -> None:
    profile.write_text(
        "[default]\nregion = ap-south-1\n\n[profile work]\nregion = sa-east-1\n"
        "max_attempts = 6\nretry_mode = adaptive\nuse_fips_endpoint = true\n"
    )
    env.setenv("AWS_PROFILE", "work")
    config = Config.from_env()
    assert config.region == "sa-east-1"
    assert config.retry_config.max_attempts == 6
    assert config.retry_config.mode == "adaptive"
    assert config.use_fips is True


def test_endpoint_url_precedence(env: pytest.MonkeyPatch, profile: Path) -> None:
    profile.write_text(
        "[default]\nendpoint_url = http://profile-global:1\nservices = local\n\n"
        "[services local]\ncognito_identity_provider =\n  endpoint_url = http://profile-svc:2\n"
    )
    assert Config.from_env().endpoint_url == "http://profile-svc:2"
    env.setenv("AWS_ENDPOINT_URL", "http://env-global:3")
    assert Config.from_env().endpoint_url == "http://env-global:3"
    env.setenv("AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER", "http://env-svc:4")
    assert Config.from_env().endpoint_url == "http://env-svc:4"
    env.setenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true")
    assert Config.from_env().endpoint_url is None


def test_profile_endpoint_url_without_services(env: pytest.MonkeyPatch, profile: Path) -> None:
    profile.write_text("[default]\nendpoint_url = http://127.0.0.1:5000\n")
    assert Config.from_env().endpoint_url == "http://127.0.0.1:5000"


def test_flags_and_retries_from_env(env: pytest.MonkeyPatch) -> None:
    env.setenv("AWS_USE_FIPS_ENDPOINT", "true")
    env.setenv("AWS_USE_DUALSTACK_ENDPOINT", "TRUE")
    env.setenv("AWS_MAX_ATTEMPTS", "5")
    env.setenv("AWS_RETRY_MODE", "adaptive")
    config = Config.from_env()
    assert config.use_fips and config.use_dualstack
    assert config.retry_config == RetryConfig(mode="adaptive", max_attempts=5)


def test_legacy_retry_mode_means_standard(env: pytest.MonkeyPatch) -> None:
    env.setenv("AWS_RETRY_MODE", "legacy")
    assert Config.from_env().retry_config.mode == "standard"


def test_explicit_retry_config_wins_over_env(env: pytest.MonkeyPatch) -> None:
    env.setenv("AWS_MAX_ATTEMPTS", "9")
    assert Config.from_env(retry_config=RetryConfig.disabled()).retry_config.max_attempts == 1


@pytest.mark.parametrize(
    ("var", "value"),
    [("AWS_MAX_ATTEMPTS", "three"), ("AWS_MAX_ATTEMPTS", "0"), ("AWS_RETRY_MODE", "turbo"),
     ("AWS_USE_FIPS_ENDPOINT", "yes please")],
)
def test_bad_environment_values(env: pytest.MonkeyPatch, var: str, value: str) -> None:
    env.setenv(var, value)
    with pytest.raises(errors.ConstructionFailure):
        Config.from_env()


def test_unknown_override(env: pytest.MonkeyPatch) -> None:
    with pytest.raises(errors.ConstructionFailure, match="invalid Config field"):
        Config.from_env(regoin="eu-west-1")  # type: ignore[call-arg]


def test_broken_config_file_is_a_construction_failure(
    env: pytest.MonkeyPatch, profile: Path
) -> None:
    profile.write_text("this is [not an ini file\n")
    with pytest.raises(errors.ConstructionFailure, match="AWS config file"):
        Config.from_env()


def test_credentials_are_never_read(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    creds = tmp_path / "credentials"
    creds.write_text("[default]\naws_access_key_id = AKIA\n")
    (tmp_path / "config").write_text("[default]\nregion = eu-west-1\n")
    env.setenv("AWS_SHARED_CREDENTIALS_FILE", str(creds))
    env.setenv("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE")
    touched: list[tuple[str, str]] = []
    real_open, real_stat = os.open, os.stat

    def recording_open(path: Any, *args: Any, **kwargs: Any) -> int:
        touched.append(("open", str(path)))
        return real_open(path, *args, **kwargs)

    def recording_stat(path: Any, *args: Any, **kwargs: Any) -> os.stat_result:
        touched.append(("stat", str(path)))
        return real_stat(path, *args, **kwargs)

    env.setattr(os, "open", recording_open)
    env.setattr(os, "stat", recording_stat)
    try:
        config = Config.from_env()
    finally:
        env.setattr(os, "open", real_open)
        env.setattr(os, "stat", real_stat)
    assert {path for _, path in touched} == {str(tmp_path / "config")}
    assert ("open", str(tmp_path / "config")) in touched
    assert config.region == "eu-west-1"
    assert "AKIA" not in repr(config)


@pytest.mark.parametrize(
    "kwargs",
    [{"region": 1}, {"use_fips": "yes"}, {"retry_config": {"max_attempts": 3}},
     {"timeout_config": 5}, {"app_name": "has space"}, {"app_name": "x" * 51},
     {"max_connections": 0}],
)
def test_config_validation(kwargs: dict[str, object]) -> None:
    with pytest.raises(errors.ConstructionFailure):
        Config(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "kwargs", [{"connect_timeout": 0}, {"read_timeout": -1}, {"operation_timeout": "5"},
               {"operation_attempt_timeout": True}]
)
def test_timeout_validation(kwargs: dict[str, object]) -> None:
    with pytest.raises(errors.ConstructionFailure):
        TimeoutConfig(**kwargs)  # type: ignore[arg-type]


def test_timeout_disabled() -> None:
    off = TimeoutConfig.disabled()
    assert (off.connect_timeout, off.read_timeout, off.operation_attempt_timeout,
            off.operation_timeout) == (None, None, None, None)
