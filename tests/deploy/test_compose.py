"""deploy/docker-compose.yml: entry points, ports, workspace, health checks, Elasticsearch, GPU override."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from services.runtime.config import DEFAULT_PORTS, load_config
from supil.healthcheck import resolve_address
from supil.local import SERVICE_NAMES
from tests.deploy.compose import DEPLOY, env_file, load

REPO = DEPLOY.parent


def _environment(service: dict) -> dict[str, str]:
    return {k: str(v) for k, v in service["environment"].items()}


def test_five_services_and_elasticsearch() -> None:
    assert sorted(load()["services"]) == sorted([*SERVICE_NAMES, "elasticsearch"])


@pytest.mark.parametrize("name", SERVICE_NAMES)
def test_command_is_our_entry_point_and_port_matches_its_config(name: str) -> None:
    service = load()["services"][name]
    command = service["command"]
    assert command[:3] == ["python", "-m", f"services.{name}"]
    assert (REPO / "services" / name / "__main__.py").is_file()
    env = _environment(service)

    # The service's own config, read from the compose command and environment, is what compose expects.
    config = load_config(name, command[3:], env)
    assert config.port == DEFAULT_PORTS[name]
    assert config.host == "0.0.0.0"
    assert str(config.workspace) == "/workspace"
    published = [p.rsplit(":", 1)[1] for p in service["ports"]]
    assert published == [str(config.port)]
    assert service["healthcheck"]["test"] == ["CMD", "python", "-m", "supil.healthcheck", name]
    assert resolve_address(name, env) == f"127.0.0.1:{config.port}"

    # And the command really runs as that entry point (it parses its flags and says what it is).
    result = subprocess.run(
        [sys.executable, *command[1:], "--help"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", **env},
    )
    assert result.returncode == 0, result.stderr
    assert f"Run the supil {name} gRPC service" in result.stdout


def test_one_workspace_volume_at_the_same_path_everywhere() -> None:
    compose = load()
    assert "workspace" in compose["volumes"]
    for name in SERVICE_NAMES:
        service = compose["services"][name]
        mounts = [v for v in service["volumes"] if v.split(":")[0] == "workspace"]
        assert mounts == ["workspace:/workspace"], name
        assert service["environment"]["SUPIL_WORKSPACE"] == "/workspace"
    assert not any(
        v.startswith("workspace:") for v in compose["services"]["elasticsearch"].get("volumes", [])
    )


def test_health_checks_speak_grpc_health_not_a_port_probe() -> None:
    compose = load()
    for name in SERVICE_NAMES:
        test = compose["services"][name]["healthcheck"]["test"]
        assert test[0] == "CMD" and "supil.healthcheck" in test
        assert not any(probe in " ".join(test) for probe in ("nc ", "curl", "/dev/tcp"))
    es_test = " ".join(compose["services"]["elasticsearch"]["healthcheck"]["test"])
    assert "_cluster/health" in es_test and "elastic:" in es_test


def test_retriever_uses_elasticsearch_once_it_is_healthy() -> None:
    compose = load(env={"ELASTIC_PASSWORD": "pw-123"})
    retriever = compose["services"]["retriever"]
    assert retriever["environment"]["SUPIL_RETRIEVER_BACKEND"] == "elasticsearch"
    assert retriever["environment"]["SUPIL_ES_URL"] == "http://elasticsearch:9200"
    assert retriever["environment"]["SUPIL_ES_USERNAME"] == "elastic"
    assert retriever["environment"]["SUPIL_ES_PASSWORD"] == "pw-123"
    assert retriever["depends_on"] == {"elasticsearch": {"condition": "service_healthy"}}
    es_env = compose["services"]["elasticsearch"]["environment"]
    assert es_env["ELASTIC_PASSWORD"] == "pw-123"
    assert es_env["discovery.type"] == "single-node"
    assert es_env["xpack.security.enabled"] == "true", "authentication stays on"
    assert es_env["ES_JAVA_OPTS"] == "-Xms1g -Xmx1g"
    assert load(env={"ELASTIC_PASSWORD": "x", "ES_HEAP": "4g"})["services"]["elasticsearch"]["environment"][
        "ES_JAVA_OPTS"
    ] == ("-Xms4g -Xmx4g")


def test_elastic_password_is_required() -> None:
    with pytest.raises(KeyError, match="ELASTIC_PASSWORD"):
        load(env={})


def test_only_the_service_ports_are_published_on_loopback_by_default() -> None:
    compose = load()
    assert "ports" not in compose["services"]["elasticsearch"]
    for name in SERVICE_NAMES:
        port = DEFAULT_PORTS[name]
        assert compose["services"][name]["ports"] == [f"127.0.0.1:{port}:{port}"]
    opened = load(env={"ELASTIC_PASSWORD": "x", "SUPIL_BIND": "0.0.0.0"})
    assert opened["services"]["crawler"]["ports"] == ["0.0.0.0:50051:50051"]


def test_gpu_override_reserves_gpus_for_trainer_and_generator_only() -> None:
    override = load("docker-compose.gpu.yml")
    assert sorted(override["services"]) == ["generator", "trainer"]
    for name, service in override["services"].items():
        devices = service["deploy"]["resources"]["reservations"]["devices"]
        assert devices == [{"driver": "nvidia", "count": "all", "capabilities": ["gpu"]}]
        assert service["build"]["args"]["ACCELERATOR"] == "cuda"
        assert service["image"] == f"supil/{name}:0.1.0-cuda"


def test_no_keys_that_docker_compose_1_29_rejects() -> None:
    for name in ("docker-compose.yml", "docker-compose.gpu.yml"):
        compose = load(name)
        assert not {"include", "name", "configs", "secrets"} & set(compose), name
        for service in compose["services"].values():
            assert "start_interval" not in service.get("healthcheck", {})
            assert "develop" not in service


def test_env_example_names_every_variable_the_compose_files_use() -> None:
    example = env_file(DEPLOY / ".env.example")
    used = set()
    for name in ("docker-compose.yml", "docker-compose.gpu.yml"):
        used |= set(re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)", (DEPLOY / name).read_text()))
    assert used <= set(example), f"missing from .env.example: {sorted(used - set(example))}"
    assert example["ELASTIC_PASSWORD"] == "", "no default password: compose refuses to start without one"


docker_compose = shutil.which("docker-compose")


@pytest.mark.skipif(
    docker_compose is None, reason="docker-compose not installed (apt-get install docker-compose)"
)
@pytest.mark.parametrize(
    "files", [["docker-compose.yml"], ["docker-compose.yml", "docker-compose.gpu.yml"]], ids=["cpu", "gpu"]
)
def test_docker_compose_config_accepts_the_files(files: list[str], tmp_path: Path) -> None:
    args = [docker_compose or "docker-compose", "--env-file", str(DEPLOY / ".env.example")]
    for name in files:
        args += ["-f", str(DEPLOY / name)]
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    result = subprocess.run(
        [*args, "config", "-q"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**env, "ELASTIC_PASSWORD": "pw"},
    )
    assert result.returncode == 0, result.stderr
    refused = subprocess.run([*args, "config", "-q"], capture_output=True, text=True, timeout=60, env=env)
    assert refused.returncode != 0 and "ELASTIC_PASSWORD" in refused.stderr
