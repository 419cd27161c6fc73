"""`supil services up --docker` (Docker SDK): the no-engine message, and that it runs what compose runs."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from supil.docker_services import DockerStack, DockerStartError, EngineUnavailable, connect, wait_healthy
from supil.local import SERVICE_NAMES
from tests.deploy.compose import load

REPO = Path(__file__).resolve().parent.parent.parent


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize(
    "docker_host", ["unix:///nonexistent/supil-test/docker.sock", f"tcp://127.0.0.1:{_closed_port()}"]
)
def test_services_up_docker_says_clearly_that_no_engine_is_reachable(
    docker_host: str, tmp_path: Path
) -> None:
    env = dict(os.environ, COLUMNS="400", NO_COLOR="1", DOCKER_HOST=docker_host)
    result = subprocess.run(
        [sys.executable, "-m", "supil.cli", "services", "up", "--docker", "--check"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert result.returncode == 1
    assert f"no Docker engine is reachable at {docker_host}" in result.stderr
    assert "without --docker" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "supil-work").exists(), "nothing started"


def test_connect_raises_engine_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/supil-test/docker.sock")
    with pytest.raises(EngineUnavailable, match="no Docker engine is reachable"):
        connect(timeout=2)


def test_containers_match_the_compose_file() -> None:
    stack = DockerStack(token="a-token-of-16-chars-or-more", elastic_password="pw-123")
    compose = load(env={"ELASTIC_PASSWORD": "pw-123", "SUPIL_TOKEN": "a-token-of-16-chars-or-more"})[
        "services"
    ]
    plans = {p.service: p for p in stack.plan()}
    assert list(plans) == ["elasticsearch", *SERVICE_NAMES], "Elasticsearch first"
    for name in SERVICE_NAMES:
        plan, service = plans[name], compose[name]
        assert plan.image == service["image"]
        assert plan.command == service["command"]
        expected_env = {k: str(v) for k, v in service["environment"].items() if not k.startswith("HF_")}
        if name == "retriever":  # the SDK names the container, compose the service
            expected_env["SUPIL_ES_URL"] = "http://supil-elasticsearch:9200"
        assert plan.environment == expected_env
        [published] = service["ports"]
        bind, host_port, container_port = published.split(":")
        assert plan.ports == {f"{container_port}/tcp": (bind, int(host_port))}
        mounts = {v.split(":")[1] for v in service["volumes"]}
        assert {m["bind"] for m in plan.volumes.values()} == mounts
        assert "supil_workspace" in plan.volumes, "the volume compose makes for project supil"
        assert plan.healthcheck["test"] == service["healthcheck"]["test"]
        assert plan.healthcheck["start_period"] == int(service["healthcheck"]["start_period"][:-1]) * 10**9
        assert plan.shm_size == ("1g" if name == "trainer" else None)
        assert not plan.gpus
    es, es_service = plans["elasticsearch"], compose["elasticsearch"]
    assert es.image == es_service["image"]
    assert es.environment == es_service["environment"]
    assert es.ports == {}
    assert es.healthcheck["test"] == es_service["healthcheck"]["test"]


def test_gpu_stack_matches_the_gpu_override() -> None:
    override = load("docker-compose.gpu.yml")["services"]
    plans = {p.service: p for p in DockerStack(gpus=True).plan()}
    for name in SERVICE_NAMES:
        if name in override:
            assert plans[name].gpus and plans[name].image == override[name]["image"]
        else:
            assert not plans[name].gpus and not plans[name].image.endswith("-cuda")


def test_without_the_retriever_no_elasticsearch_and_addresses_are_published_ports() -> None:
    stack = DockerStack(names=("cleaner", "generator"))
    assert [p.service for p in stack.plan()] == ["cleaner", "generator"]
    assert stack.addresses() == {"cleaner": "127.0.0.1:50052", "generator": "127.0.0.1:50055"}
    assert DockerStack(bind="0.0.0.0").addresses()["crawler"] == "127.0.0.1:50051"


def test_stack_settings_come_from_the_env_file_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in {
        "COMPOSE_PROJECT_NAME": "essay",
        "SUPIL_IMAGE_REPO": "registry.example/supil",
        "SUPIL_TAG": "1.2.3",
        "ELASTIC_PASSWORD": "from-env",
        "ES_HEAP": "2g",
    }.items():
        monkeypatch.setenv(key, value)
    stack = DockerStack.from_env(["retriever"])
    plans = {p.service: p for p in stack.plan()}
    assert plans["retriever"].image == "registry.example/supil/retriever:1.2.3"
    retriever_env = plans["retriever"].environment
    assert retriever_env["SUPIL_ES_URL"] == "http://essay-elasticsearch:9200"
    assert (retriever_env["SUPIL_ES_USERNAME"], retriever_env["SUPIL_ES_PASSWORD"]) == ("elastic", "from-env")
    assert plans["elasticsearch"].environment["ES_JAVA_OPTS"] == "-Xms2g -Xmx2g"
    assert stack.workspace_volume == "essay_workspace" and stack.network == "essay_default"


def test_elasticsearch_image_analyzes_korean_with_nori(elasticsearch_url: str) -> None:
    """Runs where a Docker engine or SUPIL_ES_URL gives an Elasticsearch; skipped here otherwise."""
    from elasticsearch import Elasticsearch

    client = Elasticsearch(elasticsearch_url, request_timeout=30)
    result = client.indices.analyze(tokenizer="nori_tokenizer", text="함께라는 것은")
    tokens = [t["token"] for t in result["tokens"]]
    assert "함께" in tokens, tokens


class _Container:
    """The few attributes wait_healthy reads, as the Docker SDK's Container has them (no engine here)."""

    name = "supil-cleaner"

    def __init__(self, states: list[dict]) -> None:
        self._states = states
        self.attrs: dict = {}

    def reload(self) -> None:
        self.attrs = {"State": self._states.pop(0) if len(self._states) > 1 else self._states[0]}

    def logs(self, tail: int) -> bytes:
        return b"supil cleaner: configuration error: SUPIL_PORT='x' is not an integer\n"


def test_wait_healthy_returns_once_healthy() -> None:
    starting = {"Status": "running", "Health": {"Status": "starting"}}
    healthy = {"Status": "running", "Health": {"Status": "healthy"}}
    wait_healthy(_Container([starting, starting, healthy]), time.monotonic() + 30, poll=0.01)


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        ({"Status": "exited", "ExitCode": 2, "Health": {"Status": "starting"}}, "exit code 2"),
        ({"Status": "running", "Health": {"Status": "unhealthy"}}, "is unhealthy"),
    ],
)
def test_wait_healthy_reports_a_dead_or_unhealthy_container_with_its_log(state: dict, expected: str) -> None:
    with pytest.raises(DockerStartError, match=expected) as info:
        wait_healthy(_Container([state]), time.monotonic() + 30)
    assert "configuration error" in str(info.value)


def test_wait_healthy_stops_when_cancelled() -> None:
    starting = {"Status": "running", "Health": {"Status": "starting"}}
    with pytest.raises(DockerStartError, match="interrupted while waiting for supil-cleaner"):
        wait_healthy(_Container([starting]), time.monotonic() + 30, cancelled=lambda: True)
