"""Hostile configuration (issue 9): impossible ports, credentials in the endpoint URL, and
shared config files that are not files (a FIFO, ``/dev/zero``, a directory, 2 MiB).

Each is a ``ConstructionFailure`` raised before any I/O, whose message names what is wrong
without quoting a secret (a password) or the content of a file.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cognito_signout import Client, Config, errors
from cognito_signout._endpoints import resolve_endpoint

from .loopback import LoopbackServer, ok, serve
from .tokens import TOKEN

SECRET = "Hunter2Qz7uXk"  # a password no SDK message contains

ENV_VARS = (
    "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
    "AWS_USE_FIPS_ENDPOINT", "AWS_USE_DUALSTACK_ENDPOINT", "AWS_MAX_ATTEMPTS", "AWS_RETRY_MODE",
    "AWS_CONFIG_FILE",
)


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for var in ENV_VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/aws-config")
    return monkeypatch


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    with serve(ok) as running:
        yield running


# --- 1. impossible ports --------------------------------------------------------------------

# int() would take "+80", "1_0", " 80" and a fullwidth "80"; httpx takes 99999 and -1.
BAD_PORTS = ["99999", "65536", "0", "-1", "abc", "+80", "1_0", " 80", "\uff18\uff10", "0x50"]


@pytest.mark.parametrize("port", BAD_PORTS)
def test_an_impossible_port_fails_at_construction(port: str) -> None:
    url = f"http://127.0.0.1:{port}/"
    with pytest.raises(errors.ConstructionFailure, match="endpoint_url"):
        Config(region="us-east-1", endpoint_url=url)
    with pytest.raises(errors.ConstructionFailure, match="endpoint_url"):
        resolve_endpoint(None, endpoint_url=url)


@pytest.mark.parametrize("port", ["99999", "0", "-1", "abc"])
def test_an_impossible_port_from_the_environment_fails_in_from_env(
    env: pytest.MonkeyPatch, port: str
) -> None:
    for var in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER"):
        env.setenv(var, f"http://127.0.0.1:{port}/")
        with pytest.raises(errors.ConstructionFailure, match="endpoint_url"):
            Config.from_env()
        with pytest.raises(errors.ConstructionFailure, match="endpoint_url"):
            Client()
        env.delenv(var)


def test_an_impossible_port_in_the_profile_fails_in_from_env(
    env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    profile = tmp_path / "config"
    profile.write_text("[default]\nendpoint_url = http://127.0.0.1:99999/\n")
    env.setenv("AWS_CONFIG_FILE", str(profile))
    with pytest.raises(errors.ConstructionFailure, match="port"):
        Config.from_env()


@pytest.mark.parametrize("port", ["1", "443", "5000", "65535", "00080", ""])
def test_possible_ports_still_pass(port: str) -> None:
    url = f"http://127.0.0.1:{port}/x"  # an empty port is the scheme's default (RFC 3986)
    assert Config(endpoint_url=url).endpoint_url == url
    assert resolve_endpoint(None, endpoint_url=url).endswith("/x")
    assert resolve_endpoint(None, endpoint_url="http://[::1]:8080") == "http://[::1]:8080/"


@pytest.mark.anyio
@pytest.mark.parametrize("port", ["99999", "0", "-1"])
async def test_an_impossible_port_in_config_override_sends_nothing(
    server: LoopbackServer, port: str
) -> None:
    async with Client(Config(region="us-east-1", endpoint_url=server.url)) as client:
        op = client.global_sign_out().access_token(TOKEN).customize()
        with pytest.raises(errors.ConstructionFailure, match="port"):
            await op.config_override(endpoint_url=f"http://127.0.0.1:{port}/").send()
        assert server.request_count == 0
        await client.global_sign_out().access_token(TOKEN).send()  # the client still works
    assert server.request_count == 1


def test_the_cli_reports_an_impossible_port_as_a_usage_error() -> None:
    """The issue's symptom: a traceback (ExceptionGroup of OverflowError) and exit 1."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    run = subprocess.run(
        [sys.executable, "-m", "cognito_signout", "--endpoint-url", "http://127.0.0.1:99999/"],
        input=TOKEN, capture_output=True, text=True, timeout=60, check=False,
        env={**environ, "AWS_CONFIG_FILE": "/nonexistent"},
    )
    assert run.returncode == 2, run.stderr
    assert "Traceback" not in run.stderr and "port" in run.stderr
    assert TOKEN not in run.stderr + run.stdout


# --- 2. credentials in the endpoint URL -----------------------------------------------------


def _userinfo_urls(server: LoopbackServer) -> list[str]:
    host = f"127.0.0.1:{server.port}"
    return [
        f"http://user:{SECRET}@{host}/",
        f"http://{SECRET}@{host}/",  # a user name alone can be a token
        f"http://:{SECRET}@{host}/",
        f"http://@{host}/",  # empty user information: still refused
        f"https://user:{SECRET}@{host}/path?q=1",
        f"HTTP://user:{SECRET}@{host}",
        f"http://user:{SECRET}@{host}:abc/",  # an invalid port too: the message quotes neither
        f"http://user:{SECRET}@[::1/",  # unparseable after the "@"
        f"http://user:{SECRET}@xn--/",  # an invalid IDNA host
        f"http://a@b:{SECRET}@{host}/",  # two "@"
    ]


def _assert_no_secret(exc: BaseException) -> None:
    text = f"{exc}{exc!r}{exc.args}"
    assert SECRET not in text
    assert "user:" not in text.replace("'user:password@'", "")


def test_userinfo_fails_at_construction_without_echoing_it(server: LoopbackServer) -> None:
    for url in _userinfo_urls(server):
        with pytest.raises(errors.ConstructionFailure, match="endpoint_url") as info:
            Config(region="us-east-1", endpoint_url=url)
        _assert_no_secret(info.value)
        assert info.value.__cause__ is None and info.value.__context__ is None
        with pytest.raises(errors.ConstructionFailure) as info:
            resolve_endpoint(None, endpoint_url=url)
        _assert_no_secret(info.value)
    assert server.request_count == 0


def test_a_client_with_userinfo_is_never_built(server: LoopbackServer) -> None:
    for url in _userinfo_urls(server):
        client: Client | None = None
        with pytest.raises(errors.ConstructionFailure) as info:
            client = Client(Config(region="us-east-1", endpoint_url=url))
        _assert_no_secret(info.value)
        assert client is None  # so no repr() of it, nor of its Config, can show the password
    assert server.request_count == 0


@pytest.mark.parametrize("var", ["AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER"])
def test_userinfo_from_the_environment_fails_in_from_env(
    env: pytest.MonkeyPatch, server: LoopbackServer, var: str
) -> None:
    env.setenv(var, f"http://user:{SECRET}@127.0.0.1:{server.port}/")
    with pytest.raises(errors.ConstructionFailure, match="user information") as info:
        Config.from_env()
    _assert_no_secret(info.value)
    with pytest.raises(errors.ConstructionFailure) as info:
        Client()
    _assert_no_secret(info.value)
    assert server.request_count == 0


@pytest.mark.anyio
async def test_userinfo_in_config_override_sends_nothing(server: LoopbackServer) -> None:
    async with Client(Config(region="us-east-1", endpoint_url=server.url)) as client:
        op = client.global_sign_out().access_token(TOKEN).customize()
        with pytest.raises(errors.ConstructionFailure, match="user information") as info:
            await op.config_override(
                endpoint_url=f"http://user:{SECRET}@127.0.0.1:{server.port}/"
            ).send()
        _assert_no_secret(info.value)
        assert SECRET not in repr(client)
    assert server.request_count == 0


def test_other_invalid_urls_do_not_echo_a_password() -> None:
    """Failures other than the userinfo check never quote a URL that holds an "@"."""
    for url in (f"ftp://user:{SECRET}@h/", f"user:{SECRET}@h:5000", f"//user:{SECRET}@h/",
                f"http:user:{SECRET}@h/", f"http://h:1/{SECRET}@\x00"):
        with pytest.raises(errors.ConstructionFailure) as info:
            Config(endpoint_url=url)
        _assert_no_secret(info.value)


def test_an_at_sign_in_the_path_or_query_is_not_userinfo() -> None:
    url = "http://127.0.0.1:5000/a@b?c=d@e"
    assert Config(endpoint_url=url).endpoint_url == url


# --- 3. the shared config file --------------------------------------------------------------


def _fails_naming(path: str, env: pytest.MonkeyPatch) -> errors.ConstructionFailure:
    env.setenv("AWS_CONFIG_FILE", path)
    with pytest.raises(errors.ConstructionFailure, match="AWS config file") as info:
        Config.from_env()
    assert path in str(info.value)
    return info.value


@pytest.mark.timeout(10)
@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_fifo_fails_at_once(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    assert "not a regular file" in str(_fails_naming(str(fifo), env))


@pytest.mark.timeout(10)
@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="no /dev/zero here")
def test_dev_zero_fails_at_once(env: pytest.MonkeyPatch) -> None:
    assert "not a regular file" in str(_fails_naming("/dev/zero", env))


@pytest.mark.timeout(10)
def test_a_directory_fails(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert "not a regular file" in str(_fails_naming(str(tmp_path), env))


@pytest.mark.timeout(10)
def test_a_2_mib_file_fails_without_quoting_it(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    big = tmp_path / "big"
    big.write_text(f"[default]\nregion = eu-west-1\n# {SECRET}\n" + "#" * (2 << 20))
    failure = _fails_naming(str(big), env)
    assert "larger than 1 MiB" in str(failure)
    assert SECRET not in str(failure)


def test_a_file_of_exactly_1_mib_is_read(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    head = "[default]\nregion = eu-west-1\n"
    (tmp_path / "config").write_text(head + "#" * ((1 << 20) - len(head)))
    env.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    assert Config.from_env().region == "eu-west-1"


def test_a_file_larger_than_its_stat_says_is_capped(
    env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """As /proc files, whose size reads 0, or one growing meanwhile: the read stops at the cap."""
    big = tmp_path / "big"
    big.write_text("[default]\n" + "#" * (2 << 20))
    real_stat, real_fstat = os.stat, os.fstat

    def sized_0(info: os.stat_result) -> os.stat_result:
        return os.stat_result((*info[:6], 0, *info[7:10]))

    def fake_stat(path: Any, *args: Any, **kwargs: Any) -> os.stat_result:
        info = real_stat(path, *args, **kwargs)
        return sized_0(info) if str(path) == str(big) else info

    env.setattr(os, "stat", fake_stat)
    env.setattr(os, "fstat", lambda fd: sized_0(real_fstat(fd)))
    try:
        env.setenv("AWS_CONFIG_FILE", str(big))
        with pytest.raises(errors.ConstructionFailure, match="larger than 1 MiB"):
            Config.from_env()
    finally:
        env.setattr(os, "stat", real_stat)
        env.setattr(os, "fstat", real_fstat)


def test_a_binary_file_fails_without_quoting_it(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    blob = tmp_path / "blob"
    blob.write_bytes(b"\xff\xfe" + SECRET.encode() + b"\x80")
    failure = _fails_naming(str(blob), env)
    assert SECRET not in str(failure)


def test_an_unknown_user_s_home_fails_typed(env: pytest.MonkeyPatch) -> None:
    failure = _fails_naming("~nonexistentuser-qz7/x", env)
    assert "home directory" in str(failure)


def test_no_home_directory_and_no_config_file_is_no_profile(env: pytest.MonkeyPatch) -> None:
    env.delenv("AWS_CONFIG_FILE")
    env.delenv("HOME", raising=False)

    def no_home() -> Path:
        raise RuntimeError("Could not determine home directory.")

    env.setattr(Path, "home", staticmethod(no_home))
    assert Config.from_env() == Config()
    env.setenv("AWS_REGION", "eu-west-1")
    assert Config.from_env().region == "eu-west-1"


def test_home_unset_falls_back_quietly(env: pytest.MonkeyPatch) -> None:
    """Without $HOME, Python asks the password database; a missing file is still no error."""
    env.delenv("AWS_CONFIG_FILE")
    env.delenv("HOME", raising=False)
    Config.from_env()  # no exception, whatever the home directory holds


def test_a_missing_file_is_still_ignored(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    env.setenv("AWS_CONFIG_FILE", str(tmp_path / "absent" / "config"))
    assert Config.from_env() == Config()


def test_an_unreadable_file_fails_typed(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    if not hasattr(os, "geteuid") or os.geteuid() == 0:
        pytest.skip("root reads any file (and Windows has no chmod 0)")
    locked = tmp_path / "config"
    locked.write_text("[default]\nregion = eu-west-1\n")
    locked.chmod(0)
    assert "PermissionError" in str(_fails_naming(str(locked), env))
