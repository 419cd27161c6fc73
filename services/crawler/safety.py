"""URL safety: only http(s), and no private, loopback, link-local or reserved hosts unless allowed."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from urllib.parse import urlsplit

Resolver = Callable[[str], list[str]]


def resolve_host(host: str) -> list[str]:
    """Every address a host name resolves to (IPv4 and IPv6)."""
    infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def address_problem(address: str) -> str | None:
    """Why an address must not be fetched from (loopback, private, ...), or None if it is public."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    for label, flag in (
        ("loopback", ip.is_loopback),
        ("link-local", ip.is_link_local),
        ("multicast", ip.is_multicast),
        ("unspecified", ip.is_unspecified),
        ("reserved", ip.is_reserved),
        ("private", ip.is_private),
    ):
        if flag:
            return label
    if not ip.is_global:
        return "non-global"
    return None


class UrlGuard:
    """Decides whether a URL may be fetched; caches host resolutions for the life of a crawl."""

    def __init__(self, resolver: Resolver = resolve_host) -> None:
        self._resolver = resolver
        self._cache: dict[str, list[str]] = {}

    def refusal(self, url: str, *, allow_private: bool) -> str | None:
        """The reason to refuse url, or None if it may be fetched."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https"):
            return f"scheme {parts.scheme or '(none)'!r} is not crawled; only http and https"
        host = parts.hostname
        if not host:
            return "no host in URL"
        if allow_private:
            return None
        addresses = self._cache.get(host)
        if addresses is None:
            try:
                addresses = self._resolver(host)
            except OSError:
                addresses = []  # the download fails the same way and is counted as a DNS error
            self._cache[host] = addresses
        for address in addresses:
            problem = address_problem(address)
            if problem:
                return (
                    f"host {host!r} resolves to {problem} address {address}; "
                    "set allow_private on the site profile to crawl it"
                )
        return None
