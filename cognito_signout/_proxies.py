"""Which proxy, if any, carries a request to a given URL: the environment, read once.

The SDK builds its own transports (see ``_transport.open_transport``), so httpx's client-level
proxy handling does not apply; this is the same behaviour through public APIs.
``urllib.request.getproxies()`` reads ``HTTP_PROXY``, ``HTTPS_PROXY``, ``ALL_PROXY`` and
``NO_PROXY`` (either case), and :func:`bypassed` applies ``NO_PROXY`` as httpx does: ``*``, a
host, a domain and its subdomains (with or without a leading dot), an IP address or a CIDR
network, each optionally with a port.
"""

from __future__ import annotations

import ipaddress
from typing import NamedTuple


class ProxySettings(NamedTuple):
    """The environment's proxies, as read when a client opened its transport. (A NamedTuple,
    not an attrs class: attrs compiles each class's methods, a cost at import.)"""

    http: str | None = None
    https: str | None = None
    no_proxy: tuple[str, ...] = ()

    @classmethod
    def from_environment(cls) -> ProxySettings:
        import urllib.request  # ~20 ms of imports, paid by the first call, not at import

        found = urllib.request.getproxies()
        every = found.get("all")
        no = found.get("no", "")
        return cls(
            http=found.get("http") or every,
            https=found.get("https") or every,
            no_proxy=tuple(entry.strip().lower() for entry in no.split(",") if entry.strip()),
        )

    def proxy_for(self, url: str, host: str, port: int | None) -> str | None:
        """The proxy URL for a request to ``url`` (``scheme://host:port/...``), or None."""
        scheme = url.split(":", 1)[0].lower()
        proxy = self.https if scheme == "https" else self.http if scheme == "http" else None
        if proxy is None or bypassed(self.no_proxy, host, port):
            return None
        if "://" not in proxy:
            proxy = f"http://{proxy}"  # a bare host:port, as curl and httpx accept
        return proxy


def bypassed(no_proxy: tuple[str, ...], host: str, port: int | None) -> bool:
    host = host.lower().strip("[]")
    for entry in no_proxy:
        if entry == "*":
            return True
        entry_host, entry_port = _split_port(entry)
        if entry_port is not None and entry_port != port:
            continue
        if _ip_match(entry_host, host):
            return True
        domain = entry_host.lstrip(".")
        if domain and (host == domain or host.endswith("." + domain)):
            return True
    return False


def _split_port(entry: str) -> tuple[str, int | None]:
    if "://" in entry:
        entry = entry.split("://", 1)[1]
    if entry.startswith("["):  # [::1]:8080
        host, _, rest = entry[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
        return host, int(port) if port.isdigit() else None
    if entry.count(":") == 1:
        host, _, port = entry.partition(":")
        return host, int(port) if port.isdigit() else None
    return entry, None


def _ip_match(entry: str, host: str) -> bool:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    try:
        return address in ipaddress.ip_network(entry, strict=False)
    except ValueError:
        return False
