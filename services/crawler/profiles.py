"""Site profiles: what to crawl on one site and how politely; built-ins, merging and validation."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field, replace
from typing import Any
from urllib.parse import urlsplit

from parsel import Selector

from services.runtime import InvalidArgument
from supil.v1 import crawler_pb2

DEFAULT_USER_AGENT = "supil-crawler/0.1 (+https://github.com/supil/supil; Korean essay corpus; polite)"


@dataclass(frozen=True)
class Politeness:
    """How hard to press one site; the defaults are polite for a public site."""

    obey_robots_txt: bool = True
    download_delay: float = 0.25
    concurrency: int = 4
    autothrottle: bool = True
    user_agent: str = DEFAULT_USER_AGENT
    download_timeout: float = 30.0
    max_response_bytes: int = 10 * 1024 * 1024
    retry_times: int = 2


@dataclass(frozen=True)
class Selectors:
    """CSS selectors, or XPath ones written with an `xpath:` prefix; empty means extract."""

    title: str = ""
    body: str = ""
    author: str = ""
    published: str = ""
    tags: str = ""


@dataclass(frozen=True)
class JsonListing:
    """A JSON API that lists articles page by page (infinite-scroll listings)."""

    url_template: str
    items_path: str
    url_field: str
    first_page: int = 1
    max_pages: int = 100


@dataclass(frozen=True)
class Profile:
    """One site profile, with a built-in (if named) already merged in and every field checked."""

    name: str
    start_urls: tuple[str, ...] = ()
    allowed_domains: tuple[str, ...] = ()
    article_pattern: str = ""
    follow_pattern: str = ""
    selectors: Selectors = field(default_factory=Selectors)
    json_listings: tuple[JsonListing, ...] = ()
    max_pages: int = 2000
    max_depth: int = 0  # 0: no limit
    politeness: Politeness = field(default_factory=Politeness)
    allow_private: bool = False
    min_text_chars: int = 100
    min_hangul_ratio: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able form, for the crawl process."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Profile:
        """The inverse of to_dict."""
        data = dict(data)
        data["start_urls"] = tuple(data.get("start_urls", ()))
        data["allowed_domains"] = tuple(data.get("allowed_domains", ()))
        data["selectors"] = Selectors(**data.get("selectors", {}))
        data["json_listings"] = tuple(JsonListing(**j) for j in data.get("json_listings", ()))
        data["politeness"] = Politeness(**data.get("politeness", {}))
        return cls(**data)

    def domains(self) -> tuple[str, ...]:
        """The hosts this profile stays on: allowed_domains, else the hosts of its start URLs."""
        if self.allowed_domains:
            return self.allowed_domains
        hosts = [urlsplit(u).hostname or "" for u in self.start_urls]
        hosts += [urlsplit(j.url_template).hostname or "" for j in self.json_listings]
        return tuple(dict.fromkeys(h for h in hosts if h))


# Built-ins. `demo` matches the bundled demo site (`supil demo-site`); `generic` keeps any in-domain
# page whose extracted text looks like Korean prose.
BUILTINS: dict[str, Profile] = {
    "generic": Profile(
        name="generic",
        max_depth=3,
        min_text_chars=400,
        min_hangul_ratio=0.5,
    ),
    "demo": Profile(
        name="demo",
        start_urls=("http://127.0.0.1:8765/tags/%EC%88%98%ED%95%84",),
        article_pattern=r"/posts/\d+$",
        follow_pattern=r"/tags/|[?&]page=",
        selectors=Selectors(
            title="article.post h1.post-title",
            body="article.post div.post-body",
            author="article.post .post-meta a.author",
            published="xpath://article//time/@datetime",
            tags="article.post .post-tags a",
        ),
        max_pages=500,
        allow_private=True,  # the demo site runs on 127.0.0.1
        politeness=Politeness(download_delay=0.0, concurrency=8, autothrottle=False),
    ),
}


def _check_regex(value: str, where: str) -> str:
    if value:
        try:
            re.compile(value)
        except re.error as exc:
            raise InvalidArgument(f"{where}: invalid regular expression {value!r}: {exc}") from None
    return value


_PROBE = Selector(text="<html><body><p>x</p></body></html>")


def _check_selector(value: str, where: str) -> str:
    if value:
        try:
            if value.startswith("xpath:"):
                _PROBE.xpath(value.removeprefix("xpath:"))
            else:
                _PROBE.css(value)
        except (SyntaxError, ValueError) as exc:  # cssselect's SelectorError, lxml's XPath errors
            raise InvalidArgument(f"{where}: invalid selector {value!r}: {exc}") from None
    return value


def _check_url(url: str, where: str) -> str:
    parts = urlsplit(url)
    # A well-formed URL with a scheme we will not fetch (file:, ftp:) is refused per URL at crawl
    # time, as a RECORD event; only text that is not a URL at all is a bad profile.
    if not parts.scheme or not (parts.netloc or parts.path):
        raise InvalidArgument(f"{where}: {url!r} is not an absolute URL (scheme://host/path)")
    return url


def profile_from_proto(site: crawler_pb2.SiteProfile, where: str) -> Profile:
    """Merge a request's SiteProfile over its built-in and validate it; errors name the field."""
    if site.builtin:
        if site.builtin not in BUILTINS:
            raise InvalidArgument(
                f"{where}.builtin: unknown built-in profile {site.builtin!r}; one of {', '.join(sorted(BUILTINS))}"
            )
        base = BUILTINS[site.builtin]
    else:
        base = Profile(name="")
    name = site.name or base.name
    if not name:
        raise InvalidArgument(f"{where}.name: empty; name the site (it becomes the documents' source)")
    sel = site.selectors
    selectors = Selectors(
        title=_check_selector(sel.title or base.selectors.title, f"{where}.selectors.title"),
        body=_check_selector(sel.body or base.selectors.body, f"{where}.selectors.body"),
        author=_check_selector(sel.author or base.selectors.author, f"{where}.selectors.author"),
        published=_check_selector(sel.published or base.selectors.published, f"{where}.selectors.published"),
        tags=_check_selector(sel.tags or base.selectors.tags, f"{where}.selectors.tags"),
    )
    listings = []
    for j, listing in enumerate(site.json_listings):
        at = f"{where}.json_listings[{j}]"
        if "{page}" not in listing.url_template:
            raise InvalidArgument(f"{at}.url_template: must contain a {{page}} placeholder")
        _check_url(listing.url_template, f"{at}.url_template")
        if not listing.url_field:
            raise InvalidArgument(f"{at}.url_field: empty; name the item field that holds the article URL")
        if listing.max_pages < 0 or listing.first_page < 0:
            raise InvalidArgument(f"{at}: first_page and max_pages must not be negative")
        listings.append(
            JsonListing(
                url_template=listing.url_template,
                items_path=listing.items_path,
                url_field=listing.url_field,
                first_page=listing.first_page or 1,
                max_pages=listing.max_pages or 100,
            )
        )
    json_listings = tuple(listings) or base.json_listings
    start_urls = tuple(site.start_urls) or base.start_urls
    for j, url in enumerate(start_urls):
        _check_url(url, f"{where}.start_urls[{j}]")
    if not start_urls and not json_listings:
        raise InvalidArgument(f"{where}.start_urls: no start URL; give start_urls or json_listings")
    if site.max_pages < 0:
        raise InvalidArgument(f"{where}.max_pages: must not be negative")
    if site.max_depth < 0:
        raise InvalidArgument(f"{where}.max_depth: must not be negative")
    if site.min_text_chars < 0:
        raise InvalidArgument(f"{where}.min_text_chars: must not be negative")
    if site.HasField("min_hangul_ratio") and not 0.0 <= site.min_hangul_ratio <= 1.0:
        raise InvalidArgument(f"{where}.min_hangul_ratio: must be between 0 and 1")
    return Profile(
        name=name,
        start_urls=start_urls,
        allowed_domains=tuple(d.lower() for d in site.allowed_domains) or base.allowed_domains,
        article_pattern=_check_regex(
            site.article_pattern or base.article_pattern, f"{where}.article_pattern"
        ),
        follow_pattern=_check_regex(site.follow_pattern or base.follow_pattern, f"{where}.follow_pattern"),
        selectors=selectors,
        json_listings=json_listings,
        max_pages=site.max_pages or base.max_pages,
        max_depth=site.max_depth or base.max_depth,
        politeness=_politeness(site.politeness, base.politeness, f"{where}.politeness"),
        allow_private=site.allow_private or base.allow_private,
        min_text_chars=site.min_text_chars or base.min_text_chars,
        min_hangul_ratio=site.min_hangul_ratio
        if site.HasField("min_hangul_ratio")
        else base.min_hangul_ratio,
    )


def _politeness(p: crawler_pb2.Politeness, base: Politeness, where: str) -> Politeness:
    out = base
    if p.HasField("obey_robots_txt"):
        out = replace(out, obey_robots_txt=p.obey_robots_txt)
    if p.HasField("download_delay_seconds"):
        if not 0 <= p.download_delay_seconds <= 600:
            raise InvalidArgument(f"{where}.download_delay_seconds: must be between 0 and 600")
        out = replace(out, download_delay=p.download_delay_seconds)
    if p.HasField("concurrent_requests_per_domain"):
        if not 1 <= p.concurrent_requests_per_domain <= 64:
            raise InvalidArgument(f"{where}.concurrent_requests_per_domain: must be between 1 and 64")
        out = replace(out, concurrency=p.concurrent_requests_per_domain)
    if p.HasField("autothrottle"):
        out = replace(out, autothrottle=p.autothrottle)
    if p.user_agent:
        out = replace(out, user_agent=p.user_agent)
    if p.HasField("download_timeout_seconds"):
        if not 0 < p.download_timeout_seconds <= 3600:
            raise InvalidArgument(f"{where}.download_timeout_seconds: must be above 0 and at most 3600")
        out = replace(out, download_timeout=p.download_timeout_seconds)
    if p.HasField("max_response_bytes"):
        if p.max_response_bytes <= 0:
            raise InvalidArgument(f"{where}.max_response_bytes: must be positive")
        out = replace(out, max_response_bytes=p.max_response_bytes)
    if p.HasField("retry_times"):
        if not 0 <= p.retry_times <= 20:
            raise InvalidArgument(f"{where}.retry_times: must be between 0 and 20")
        out = replace(out, retry_times=p.retry_times)
    return out


def profiles_from_request(request: crawler_pb2.CreateCrawlJobRequest) -> list[Profile]:
    """Every site profile of a crawl request, merged and validated; InvalidArgument names the field."""
    if not request.sites:
        raise InvalidArgument("sites: no site profile; give at least one")
    profiles = [profile_from_proto(site, f"sites[{i}]") for i, site in enumerate(request.sites)]
    seen: set[str] = set()
    for i, profile in enumerate(profiles):
        if profile.name in seen:
            raise InvalidArgument(f"sites[{i}].name: {profile.name!r} is used by another site")
        seen.add(profile.name)
    return profiles
