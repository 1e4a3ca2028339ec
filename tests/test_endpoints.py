"""The endpoint rules, checked against botocore's EndpointProvider over the real rule set."""

from __future__ import annotations

import pytest
import respx
from botocore.endpoint_provider import EndpointProvider
from botocore.loaders import create_loader

from cognito_signout import Client, Config, errors
from cognito_signout._endpoints import PARTITIONS, resolve_endpoint

from .tokens import TOKEN

# Tests refused before any I/O leave their route uncalled, on purpose.
pytestmark = pytest.mark.respx(assert_all_called=False)

REGIONS = [
    "us-east-1", "us-east-2", "us-west-1", "us-west-2", "eu-west-1", "eu-central-2",
    "ap-southeast-7", "ca-west-1", "il-central-1", "mx-central-1", "aws-global",
    "cn-north-1", "cn-northwest-1", "aws-cn-global",
    "us-gov-west-1", "us-gov-east-1",
    "us-iso-east-1", "us-isob-east-1", "eu-isoe-west-1", "us-isof-south-1",
    "eusc-de-east-1",
    "xx-future-9", "mars-east-1",  # unknown: the aws partition, as the rules say
]
FLAGS = [(False, False), (True, False), (False, True), (True, True)]


@pytest.fixture(scope="module")
def oracle() -> EndpointProvider:
    loader = create_loader()
    return EndpointProvider(
        loader.load_service_model("cognito-idp", "endpoint-rule-set-1"),
        loader.load_data("partitions"),
    )


@pytest.mark.parametrize("region", REGIONS)
@pytest.mark.parametrize(("fips", "dualstack"), FLAGS)
def test_matches_botocore(
    oracle: EndpointProvider, region: str, fips: bool, dualstack: bool
) -> None:
    expected = oracle.resolve_endpoint(Region=region, UseFIPS=fips, UseDualStack=dualstack).url
    ours = resolve_endpoint(region, use_fips=fips, use_dualstack=dualstack)
    assert ours.rstrip("/") == expected


def test_table_of_reference_cases() -> None:
    assert resolve_endpoint("cn-north-1", use_dualstack=True) == (
        "https://cognito-idp.cn-north-1.api.amazonwebservices.com.cn/"
    )
    assert resolve_endpoint("us-gov-west-1", use_fips=True, use_dualstack=True) == (
        "https://cognito-idp-fips.us-gov-west-1.api.aws/"
    )
    assert resolve_endpoint("us-east-1", use_fips=True, use_dualstack=True) == (
        "https://cognito-idp-fips.us-east-1.amazonaws.com/"
    )


def test_every_partition_is_covered_by_the_oracle_regions() -> None:
    from cognito_signout._endpoints import partition_for

    assert {partition_for(r).name for r in REGIONS} == {p.name for p in PARTITIONS}


@pytest.mark.parametrize(("fips", "dualstack"), [(True, False), (False, True), (True, True)])
def test_custom_endpoint_with_fips_or_dualstack_is_rejected(
    oracle: EndpointProvider, fips: bool, dualstack: bool
) -> None:
    with pytest.raises(errors.ConstructionFailure, match="custom endpoint are not supported"):
        resolve_endpoint("eu-west-1", use_fips=fips, use_dualstack=dualstack,
                         endpoint_url="http://127.0.0.1:1")
    with pytest.raises(Exception, match="custom endpoint are not supported"):
        oracle.resolve_endpoint(Region="eu-west-1", UseFIPS=fips, UseDualStack=dualstack,
                                Endpoint="http://127.0.0.1:1")


@pytest.mark.parametrize(
    "url", ["127.0.0.1:5000", "ftp://127.0.0.1/", "http://", "not a url", "https:///path"]
)
def test_bad_endpoint_urls(url: str) -> None:
    with pytest.raises(errors.ConstructionFailure, match="endpoint_url"):
        resolve_endpoint(None, endpoint_url=url)


def test_custom_endpoint_keeps_its_path() -> None:
    assert resolve_endpoint(None, endpoint_url="http://127.0.0.1:5000") == "http://127.0.0.1:5000/"
    assert resolve_endpoint(None, endpoint_url="http://h:1/prefix") == "http://h:1/prefix"


@pytest.mark.parametrize("region", ["", "eu west 1", "-eu-west-1", "eu-west-1.evil.com",
                                    "a" * 64, "eu_west_1"])
def test_invalid_regions(region: str) -> None:
    with pytest.raises(errors.ConstructionFailure, match="region"):
        resolve_endpoint(region)



@pytest.mark.anyio
@pytest.mark.parametrize(("fips", "dualstack"), [(True, False), (False, True), (True, True)])
async def test_invalid_combination_fails_before_any_io(
    wire: respx.MockRouter, fips: bool, dualstack: bool
) -> None:
    route = wire.route().respond(200, json={})
    config = Config(endpoint_url="http://127.0.0.1:1", use_fips=fips, use_dualstack=dualstack)
    async with Client(config) as client:
        with pytest.raises(errors.ConstructionFailure):
            await client.global_sign_out().access_token(TOKEN).send()
    assert route.call_count == 0


@pytest.mark.anyio
async def test_fips_endpoint_is_used_on_the_wire(wire: respx.MockRouter) -> None:
    route = wire.post("https://cognito-idp-fips.eu-west-1.api.aws/").respond(200, json={})
    async with Client(Config(region="eu-west-1", use_fips=True, use_dualstack=True)) as client:
        await client.global_sign_out().access_token(TOKEN).send()
    assert route.call_count == 1
