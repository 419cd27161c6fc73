"""Shared fixtures: real servers on 127.0.0.1:0 in a temporary workspace."""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import grpc
import pytest

from services.runtime import ServiceConfig, ServiceServer
from supil.client import open_channel

REPO = Path(__file__).resolve().parent.parent


def loopback_config(service: str, workspace: Path, **overrides: object) -> ServiceConfig:
    """A config for a server on a free loopback port with a short grace period."""
    values: dict[str, object] = {
        "service": service,
        "host": "127.0.0.1",
        "port": 0,
        "workspace": workspace,
        "grace_seconds": 2.0,
    }
    values.update(overrides)
    return ServiceConfig(**values)  # type: ignore[arg-type]


@pytest.fixture
def serve_service(tmp_path: Path) -> Iterator[Callable[..., tuple[ServiceServer, grpc.Channel]]]:
    """Start a named service's real server (in this process); stop it and close channels afterwards."""
    started: list[tuple[ServiceServer, grpc.Channel]] = []

    def start(service: str, **overrides: object) -> tuple[ServiceServer, grpc.Channel]:
        module = importlib.import_module(f"services.{service}.server")
        config = loopback_config(service, overrides.pop("workspace", tmp_path / "ws"), **overrides)
        server, port = module.create_server(config)
        server.start()
        channel = open_channel(f"127.0.0.1:{port}", overrides.get("token"))  # type: ignore[arg-type]
        started.append((server, channel))
        return server, channel

    yield start
    for server, channel in started:
        channel.close()
        server.stop(1.0)


@pytest.fixture(scope="session")
def elasticsearch_url() -> Iterator[str]:
    """An Elasticsearch with analysis-nori: the deploy/elasticsearch image on a reachable Docker engine,
    else SUPIL_ES_URL, else the test is skipped with the reason."""
    from supil.docker_services import ElasticsearchContainer, EngineUnavailable

    container = ElasticsearchContainer()
    try:
        url = container.start()
    except EngineUnavailable as exc:
        no_engine = str(exc)
    else:
        try:
            yield url
        finally:
            container.stop()
        return
    if not (url := os.environ.get("SUPIL_ES_URL", "")):
        pytest.skip(f"no Elasticsearch: SUPIL_ES_URL is not set and {no_engine}")
    yield url
