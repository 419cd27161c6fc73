"""Canonical URLs: one spelling per page, so the same page under two spellings is one document."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from w3lib.url import canonicalize_url

TRACKING_PREFIXES = ("utm_", "fbclid", "gclid", "mc_", "ref_src")


def canonical_url(url: str) -> str:
    """Lower-case scheme and host, no default port, no fragment, sorted query without tracking keys."""
    parts = urlsplit(url)
    query = [
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if not k.startswith(TRACKING_PREFIXES)
    ]
    host = (parts.hostname or "").lower()
    port = parts.port
    if port and not ((parts.scheme == "http" and port == 80) or (parts.scheme == "https" and port == 443)):
        host = f"{host}:{port}"
    rebuilt = urlunsplit((parts.scheme.lower(), host, parts.path or "/", urlencode(query), ""))
    return canonicalize_url(rebuilt)
