"""URL safety rules: schemes, and addresses a crawl must not reach unless the profile allows it."""

from __future__ import annotations

import pytest

from services.crawler.safety import UrlGuard, address_problem


def guard_resolving_to(*addresses: str) -> UrlGuard:
    return UrlGuard(resolver=lambda host: list(addresses))


@pytest.mark.parametrize(
    ("address", "problem"),
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("10.0.0.1", "private"),
        ("192.168.1.20", "private"),
        ("169.254.169.254", "link-local"),  # cloud metadata endpoints
        ("fe80::1", "link-local"),
        ("::ffff:127.0.0.1", "loopback"),
        ("0.0.0.0", "unspecified"),
        ("240.0.0.1", "reserved"),
        ("224.0.0.1", "multicast"),
    ],
)
def test_non_public_addresses_are_named(address: str, problem: str) -> None:
    assert address_problem(address) == problem


def test_public_address_is_fine() -> None:
    assert address_problem("93.184.215.14") is None


def test_only_http_and_https() -> None:
    guard = guard_resolving_to("93.184.215.14")
    assert guard.refusal("https://example.com/", allow_private=False) is None
    for url in ("file:///etc/passwd", "ftp://example.com/x", "gopher://example.com/"):
        assert "only http and https" in (guard.refusal(url, allow_private=True) or "")


def test_a_host_with_any_private_address_is_refused() -> None:
    guard = guard_resolving_to("93.184.215.14", "10.1.2.3")
    assert "private address 10.1.2.3" in (guard.refusal("http://mixed.example/", allow_private=False) or "")


def test_allow_private_lets_loopback_through() -> None:
    guard = guard_resolving_to("127.0.0.1")
    assert guard.refusal("http://localhost:8765/", allow_private=True) is None
    assert "allow_private" in (guard.refusal("http://localhost:8765/", allow_private=False) or "")


def test_resolutions_are_cached_per_host() -> None:
    calls: list[str] = []
    guard = UrlGuard(resolver=lambda host: calls.append(host) or ["93.184.215.14"])
    for path in ("a", "b", "c"):
        guard.refusal(f"http://example.com/{path}", allow_private=False)
    assert calls == ["example.com"]
