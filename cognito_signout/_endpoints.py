"""The cognito-idp endpoint rule set: region, FIPS, dual-stack and partitions.

A hand-written equivalent of the service's public endpoint rule set (checked against botocore's
``EndpointProvider`` in the tests). Written out rather than interpreted from JSON so that the
whole rule set reads in one screen and costs nothing at import.
"""

from __future__ import annotations

import functools
import re

import httpx

from .errors import ConstructionFailure


class Partition:
    """One AWS partition's DNS suffixes and region names.

    A plain class rather than attrs: eight of them are built at import, and import time is
    budgeted (issue 5). The region pattern is compiled on first use by ``re``'s cache.
    """

    __slots__ = ("dns_suffix", "dual_stack_dns_suffix", "name", "region_regex", "regions")

    def __init__(self, name: str, dns: str, dual: str, regex: str, regions: str) -> None:
        self.name = name
        self.dns_suffix = dns
        self.dual_stack_dns_suffix = dual
        self.region_regex = regex
        self.regions = frozenset(regions.split())

    def __repr__(self) -> str:
        return f"Partition({self.name!r})"


_p = Partition


# Every partition supports FIPS and dual-stack today, so the "partition does not support" errors
# of the rule set cannot happen and are not modelled.
PARTITIONS: tuple[Partition, ...] = (
    _p("aws", "amazonaws.com", "api.aws", r"^(us|eu|ap|sa|ca|me|af|il|mx)\-\w+\-\d+$",
       "aws-global"),
    _p("aws-cn", "amazonaws.com.cn", "api.amazonwebservices.com.cn", r"^cn\-\w+\-\d+$",
       "aws-cn-global"),
    _p("aws-eusc", "amazonaws.eu", "api.amazonwebservices.eu", r"^eusc\-(de)\-\w+\-\d+$",
       "eusc-de-east-1"),
    _p("aws-iso", "c2s.ic.gov", "api.aws.ic.gov", r"^us\-iso\-\w+\-\d+$", "aws-iso-global"),
    _p("aws-iso-b", "sc2s.sgov.gov", "api.aws.scloud", r"^us\-isob\-\w+\-\d+$",
       "aws-iso-b-global"),
    _p("aws-iso-e", "cloud.adc-e.uk", "api.cloud-aws.adc-e.uk", r"^eu\-isoe\-\w+\-\d+$",
       "aws-iso-e-global"),
    _p("aws-iso-f", "csp.hci.ic.gov", "api.aws.hci.ic.gov", r"^us\-isof\-\w+\-\d+$",
       "aws-iso-f-global"),
    _p("aws-us-gov", "amazonaws.com", "api.aws", r"^us\-gov\-\w+\-\d+$", "aws-us-gov-global"),
)
_DEFAULT_PARTITION = PARTITIONS[0]

# The rule set pins FIPS + dual-stack in these regions to the plain FIPS host.
_FIPS_DUALSTACK_ON_FIPS_HOST = frozenset({"us-east-1", "us-east-2", "us-west-1", "us-west-2"})

_HOST_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?"


def partition_by_pattern(region: str) -> Partition | None:
    """The partition whose explicit regions or region pattern names ``region``, if any."""
    for partition in PARTITIONS:
        if region in partition.regions:
            return partition
    for partition in PARTITIONS:
        if re.match(partition.region_regex, region):
            return partition
    return None


def partition_for(region: str) -> Partition:
    """Like ``aws.partition`` of the rules: unknown regions fall back to the ``aws`` partition."""
    return partition_by_pattern(region) or _DEFAULT_PARTITION


@functools.lru_cache(maxsize=256)
def resolve_endpoint(
    region: str | None,
    *,
    use_fips: bool = False,
    use_dualstack: bool = False,
    endpoint_url: str | None = None,
) -> str:
    """The URL to send to, or ConstructionFailure for a configuration the rules reject."""
    if endpoint_url is not None:
        if use_fips:
            raise ConstructionFailure(
                "Invalid Configuration: FIPS and custom endpoint are not supported"
            )
        if use_dualstack:
            raise ConstructionFailure(
                "Invalid Configuration: Dualstack and custom endpoint are not supported"
            )
        return validate_endpoint_url(endpoint_url)
    if region is None:
        raise ConstructionFailure("Invalid Configuration: Missing Region")
    if re.fullmatch(_HOST_LABEL, region) is None:
        raise ConstructionFailure(
            f"invalid region {region[:64]!r}: a region must be a valid host label "
            f"such as 'eu-west-1'"
        )
    partition = partition_for(region)
    if use_fips and use_dualstack:
        if region in _FIPS_DUALSTACK_ON_FIPS_HOST:
            return f"https://cognito-idp-fips.{region}.amazonaws.com/"
        return f"https://cognito-idp-fips.{region}.{partition.dual_stack_dns_suffix}/"
    if use_fips:
        return f"https://cognito-idp-fips.{region}.{partition.dns_suffix}/"
    if use_dualstack:
        if partition.name == "aws":
            return f"https://cognito-idp.{region}.amazonaws.com/"
        return f"https://cognito-idp.{region}.{partition.dual_stack_dns_suffix}/"
    return f"https://cognito-idp.{region}.{partition.dns_suffix}/"


@functools.cache
def _regexes() -> tuple[re.Pattern[str], re.Pattern[str]]:
    # Compiled on first use (the import budget): what httpx takes as the authority (after
    # "scheme://", up to the first "/", "?" or "#"), and the port after the host (a bracketed
    # IPv6 literal, or anything up to the first ":").
    return (
        re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://([^/?#]*)"),
        re.compile(r"(?:\[.*\]|[^:]*)(?::(.*))?"),
    )


def validate_endpoint_url(url: str) -> str:
    """An http(s) URL with a host, or ConstructionFailure. An empty path becomes ``/``.

    Refused before any I/O: user information (``user:password@``), which one transport would
    send as Basic auth and another would drop, and which repr() and logs would show; and a
    port that is not 1-65535 in ASCII digits (httpx takes ``99999`` or ``-1``, and the
    connection then fails with an untyped OverflowError). No message quotes user information.
    """
    return _validated(url)


@functools.lru_cache(maxsize=64)
def _validated(url: str) -> str:
    authority = _regexes()[0].match(url)
    if authority is not None and "@" in authority.group(1):
        raise ConstructionFailure(
            "endpoint_url must not contain user information ('user:password@'): "
            "GlobalSignOut is authorized by the access token alone"
        )
    try:
        parsed = httpx.URL(url)
        host = parsed.host  # decoding an IDNA host can fail here, with idna's own error
        normalized = str(parsed.copy_with(path=parsed.path or "/"))
    except (httpx.InvalidURL, TypeError, ValueError) as exc:  # ValueError: UnicodeError, idna
        # Nothing of the URL is quoted when it holds an "@" anywhere: it may be a password.
        detail = "" if "@" in url else f": {str(exc)[:200]}"
        raise ConstructionFailure(f"endpoint_url is not a valid URL{detail}") from None
    if parsed.scheme not in ("http", "https") or not host or authority is None:
        raise ConstructionFailure(
            "endpoint_url must be an absolute http:// or https:// URL with a host, "
            "for example 'http://127.0.0.1:5000'"
        )
    port = _regexes()[1].fullmatch(authority.group(1))
    raw_port = port.group(1) if port is not None else None
    if raw_port and not (
        raw_port.isascii() and raw_port.isdigit() and len(raw_port) <= 5
        and 1 <= int(raw_port) <= 65535
    ):
        raise ConstructionFailure(
            f"endpoint_url has an invalid port {raw_port[:20]!r}: "
            "a port is a number from 1 to 65535"
        )
    return normalized
