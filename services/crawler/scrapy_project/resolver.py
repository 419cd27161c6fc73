"""The crawl's DNS resolver: the address Scrapy connects to is checked too, so a host cannot rebind past the guard."""

from __future__ import annotations

from typing import Any, ClassVar

from scrapy.resolver import CachingThreadedResolver
from twisted.internet.defer import Deferred
from twisted.internet.error import DNSLookupError

from services.crawler.safety import address_problem


def host_in(host: str, domains: tuple[str, ...]) -> bool:
    """True if host is one of domains or a subdomain of one."""
    return any(host == d or host.endswith("." + d) for d in domains)


class GuardedResolver(CachingThreadedResolver):
    """Scrapy's caching resolver, refusing answers on private/loopback/reserved addresses.

    SafetyMiddleware checks a host's addresses before a request is sent, but Twisted resolves the
    host again to connect; a DNS server that answers "public" first and "127.0.0.1" next would get
    through. Every connection's address comes from this resolver, so checking here closes that gap.
    Hosts of sites with allow_private (setting SUPIL_PRIVATE_DOMAINS) are let through.
    """

    # host -> reason, for the spider's errback and the safety middleware (one crawl per process).
    refusals: ClassVar[dict[str, str]] = {}

    private_domains: tuple[str, ...] = ()

    @classmethod
    def from_crawler(cls, crawler: Any, reactor: Any) -> GuardedResolver:
        """Scrapy's constructor hook (DNS_RESOLVER)."""
        resolver = super().from_crawler(crawler, reactor)
        resolver.private_domains = tuple(crawler.settings.getlist("SUPIL_PRIVATE_DOMAINS"))
        return resolver

    def getHostByName(self, name: str, timeout: Any = ()) -> Deferred[str]:
        """Resolve name (cached), failing with DNSLookupError if the answer must not be reached."""
        deferred = super().getHostByName(name, timeout)
        deferred.addCallback(self._check, name)
        return deferred

    def _check(self, address: str, name: str) -> str:
        if host_in(name, self.private_domains):
            return address
        problem = address_problem(address)
        if problem is None:
            return address
        reason = (
            f"host {name!r} resolved to {problem} address {address} when connecting "
            "(its DNS answer changed after the safety check); "
            "set allow_private on the site profile to crawl it"
        )
        self.refusals[name] = reason
        raise DNSLookupError(reason)
