"""`python -m supil.healthcheck`: the containers' HEALTHCHECK, against real servers on loopback."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Callable

import grpc
import pytest

from services.runtime import ServiceServer
from services.runtime.config import DEFAULT_PORTS
from supil.healthcheck import SERVICE_PORTS, main, resolve_address
from tests.conftest import REPO

Serve = Callable[..., tuple[ServiceServer, grpc.Channel]]


def test_serving_service_exits_0_as_a_process(serve_service: Serve) -> None:
    server, _ = serve_service("crawler")
    result = subprocess.run(
        [sys.executable, "-m", "supil.healthcheck", f"127.0.0.1:{server.port}"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr


def test_service_name_finds_the_port_the_service_would_use(
    serve_service: Serve, monkeypatch: pytest.MonkeyPatch
) -> None:
    server, _ = serve_service("cleaner")
    monkeypatch.setenv("SUPIL_CLEANER_PORT", str(server.port))
    assert main(["cleaner"]) == 0
    assert main(["cleaner", "--service", "supil.v1.CleanerService"]) == 0


def test_health_stays_open_when_a_token_is_required(serve_service: Serve) -> None:
    server, _ = serve_service("retriever", token="a-token-of-16-chars-or-more")
    assert main([f"127.0.0.1:{server.port}"]) == 0


def test_not_serving_during_shutdown_exits_1(
    serve_service: Serve, capsys: pytest.CaptureFixture[str]
) -> None:
    server, _ = serve_service("trainer")
    server.health.enter_graceful_shutdown()
    assert main([f"127.0.0.1:{server.port}"]) == 1
    assert "NOT_SERVING" in capsys.readouterr().err


def test_unknown_health_service_exits_1(serve_service: Serve, capsys: pytest.CaptureFixture[str]) -> None:
    server, _ = serve_service("generator")
    assert main([f"127.0.0.1:{server.port}", "--service", "no.such.Service"]) == 1
    assert "NOT_FOUND" in capsys.readouterr().err


def test_nothing_listening_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as sock:  # a port that was free a moment ago
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    assert main([f"127.0.0.1:{port}", "--timeout", "1"]) == 1
    assert "UNAVAILABLE" in capsys.readouterr().err


def test_resolve_address_follows_the_service_port_variables() -> None:
    assert resolve_address("retriever", {}) == "127.0.0.1:50053"
    assert resolve_address("retriever", {"SUPIL_PORT": "6000"}) == "127.0.0.1:6000"
    assert (
        resolve_address("retriever", {"SUPIL_PORT": "6000", "SUPIL_RETRIEVER_PORT": "7000"})
        == "127.0.0.1:7000"
    )
    assert resolve_address("search.internal:9000", {}) == "search.internal:9000"
    assert SERVICE_PORTS == DEFAULT_PORTS


@pytest.mark.parametrize("target", ["nonsense", "host:", "host:99999", ":50051"])
def test_bad_target_exits_2(target: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([target]) == 2
    assert "neither a service" in capsys.readouterr().err


def test_bad_port_variable_exits_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SUPIL_CRAWLER_PORT", "http")
    assert main(["crawler"]) == 2
    assert "'http'" in capsys.readouterr().err
