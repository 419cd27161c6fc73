"""Runs the service images and Elasticsearch through the Docker Engine API (`supil services up --docker`)."""

from __future__ import annotations

import logging
import os
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from supil.healthcheck import SERVICE_PORTS
from supil.local import SERVICE_NAMES

logger = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parent.parent
ELASTICSEARCH_CONTEXT = REPO / "deploy" / "elasticsearch"
WORKSPACE_MOUNT = "/workspace"
DEFAULT_TAG = "0.1.0"
DEFAULT_ES_VERSION = "9.5.2"
SECOND_NS = 1_000_000_000
# Services whose images come in a CUDA variant (tag suffix "-cuda") and get GPUs with gpus=True.
TORCH_SERVICES = ("trainer", "generator")
BUILD_HINT = (
    "build them first: in deploy/, cp .env.example .env (set ELASTIC_PASSWORD), then "
    "`docker compose build` (see deploy/README.md)"
)


class EngineUnavailable(RuntimeError):
    """No Docker engine answers (or the Docker SDK is missing); the message says where we looked."""


class DockerStartError(RuntimeError):
    """A container did not come up healthy, or an image is missing; the message says which and why."""


def _docker() -> Any:
    try:
        import docker  # the `deploy` extra
    except ImportError:
        raise EngineUnavailable(
            "the Docker SDK is not installed; install it with: pip install 'supil[deploy]'"
        ) from None
    return docker


def engine_address() -> str:
    """Where the Docker SDK looks for the engine: DOCKER_HOST, else the default local socket."""
    return os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"


def connect(timeout: float = 10.0) -> Any:
    """A DockerClient that has answered a ping; EngineUnavailable, saying so plainly, when none does."""
    docker = _docker()
    import requests  # a dependency of the Docker SDK

    try:
        client = docker.from_env(timeout=timeout)
        client.ping()
    except (docker.errors.DockerException, requests.RequestException, OSError) as exc:
        reason = str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__
        raise EngineUnavailable(
            f"no Docker engine is reachable at {engine_address()} ({reason}). Start Docker or set "
            "DOCKER_HOST to a running engine; `supil services up` without --docker runs the services "
            "as local processes instead."
        ) from None
    return client


@dataclass(frozen=True)
class ContainerPlan:
    """One container to run: what `deploy/docker-compose.yml` says for the same service."""

    service: str
    name: str
    image: str
    command: list[str] | None
    environment: dict[str, str]
    ports: dict[str, tuple[str, int]]  # "50051/tcp" -> (host address, host port)
    volumes: dict[str, dict[str, str]]  # volume name -> {"bind": path, "mode": "rw"}
    healthcheck: dict[str, Any]  # Docker Engine API form: durations in nanoseconds
    gpus: bool = False
    shm_size: str | None = None


def _healthcheck(
    test: list[str], start_period_s: int, retries: int = 5, timeout_s: int = 5
) -> dict[str, Any]:
    return {
        "test": test,
        "interval": 10 * SECOND_NS,
        "timeout": timeout_s * SECOND_NS,
        "retries": retries,
        "start_period": start_period_s * SECOND_NS,
    }


@dataclass
class DockerStack:
    """The services (and Elasticsearch, when the retriever runs) as containers on one network and volume."""

    names: tuple[str, ...] = SERVICE_NAMES
    project: str = "supil"
    image_repo: str = "supil"
    tag: str = DEFAULT_TAG
    es_version: str = DEFAULT_ES_VERSION
    es_heap: str = "1g"
    bind: str = "127.0.0.1"
    token: str | None = None
    elastic_password: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    gpus: bool = False
    grace_seconds: int = 30
    containers: dict[str, Any] = field(default_factory=dict)
    _client: Any = None

    @classmethod
    def from_env(cls, names: Sequence[str], gpus: bool = False) -> DockerStack:
        """A stack configured by the same variables as deploy/.env (SUPIL_TAG, ELASTIC_PASSWORD, ...)."""
        env = os.environ
        values: dict[str, Any] = {
            "names": tuple(names),
            "project": env.get("COMPOSE_PROJECT_NAME") or "supil",
            "image_repo": env.get("SUPIL_IMAGE_REPO") or "supil",
            "tag": env.get("SUPIL_TAG") or DEFAULT_TAG,
            "es_version": env.get("ES_VERSION") or DEFAULT_ES_VERSION,
            "es_heap": env.get("ES_HEAP") or "1g",
            "bind": env.get("SUPIL_BIND") or "127.0.0.1",
            "token": env.get("SUPIL_TOKEN") or None,
            "gpus": gpus,
        }
        if env.get("ELASTIC_PASSWORD"):
            values["elastic_password"] = env["ELASTIC_PASSWORD"]
        return cls(**values)

    @property
    def network(self) -> str:
        """The bridge network every container joins (named as compose names its default one)."""
        return f"{self.project}_default"

    @property
    def workspace_volume(self) -> str:
        """The shared workspace volume (the same one compose uses for this project name)."""
        return f"{self.project}_workspace"

    def image(self, service: str) -> str:
        """The image a service runs: <repo>/<service>:<tag>, "-cuda" for trainer/generator on GPUs."""
        if service == "elasticsearch":
            return f"{self.image_repo}/elasticsearch-nori:{self.es_version}"
        suffix = "-cuda" if self.gpus and service in TORCH_SERVICES else ""
        return f"{self.image_repo}/{service}:{self.tag}{suffix}"

    def plan(self) -> list[ContainerPlan]:
        """The containers to run, Elasticsearch first (the retriever needs it healthy)."""
        unknown = [n for n in self.names if n not in SERVICE_NAMES]
        if unknown:
            raise DockerStartError(
                f"unknown service(s): {', '.join(unknown)}; known: {', '.join(SERVICE_NAMES)}"
            )
        plans: list[ContainerPlan] = []
        es_host = f"{self.project}-elasticsearch"
        if "retriever" in self.names:
            plans.append(
                ContainerPlan(
                    service="elasticsearch",
                    name=es_host,
                    image=self.image("elasticsearch"),
                    command=None,
                    environment=elasticsearch_environment(self.elastic_password, self.es_heap),
                    ports={},  # only the retriever talks to it, over the network
                    volumes={
                        f"{self.project}_esdata": {"bind": "/usr/share/elasticsearch/data", "mode": "rw"}
                    },
                    healthcheck=elasticsearch_healthcheck(),
                )
            )
        for service in self.names:
            port = SERVICE_PORTS[service]
            environment = {
                "SUPIL_HOST": "0.0.0.0",
                "SUPIL_WORKSPACE": WORKSPACE_MOUNT,
                "SUPIL_TOKEN": self.token or "",
                "SUPIL_LOG_FORMAT": "json",
                "SUPIL_LOG_LEVEL": os.environ.get("SUPIL_LOG_LEVEL") or "INFO",
                "SUPIL_GRACE_SECONDS": "20",
                f"SUPIL_{service.upper()}_PORT": str(port),
            }
            if service == "retriever":
                environment["SUPIL_RETRIEVER_BACKEND"] = "elasticsearch"
                environment["SUPIL_ES_URL"] = f"http://{es_host}:9200"
                environment["SUPIL_ES_USERNAME"] = "elastic"
                environment["SUPIL_ES_PASSWORD"] = self.elastic_password
            volumes = {self.workspace_volume: {"bind": WORKSPACE_MOUNT, "mode": "rw"}}
            if service in TORCH_SERVICES:
                volumes[f"{self.project}_hf-cache"] = {"bind": "/home/supil/.cache/huggingface", "mode": "rw"}
            plans.append(
                ContainerPlan(
                    service=service,
                    name=f"{self.project}-{service}",
                    image=self.image(service),
                    command=["python", "-m", f"services.{service}"],
                    environment=environment,
                    ports={f"{port}/tcp": (self.bind, port)},
                    volumes=volumes,
                    healthcheck=_healthcheck(
                        ["CMD", "python", "-m", "supil.healthcheck", service],
                        start_period_s=60 if service in TORCH_SERVICES else 30,
                    ),
                    gpus=self.gpus and service in TORCH_SERVICES,
                    shm_size="1g" if service == "trainer" else None,
                )
            )
        return plans

    def addresses(self) -> dict[str, str]:
        """name -> host:port where the CLI reaches each service (its published port)."""
        host = "127.0.0.1" if self.bind in ("0.0.0.0", "") else self.bind
        return {name: f"{host}:{SERVICE_PORTS[name]}" for name in self.names}

    def start(
        self,
        timeout: float = 300.0,
        on_status: Callable[[str], None] | None = None,
        cancelled: Callable[[], bool] | None = None,
    ) -> dict[str, str]:
        """Run every planned container, wait until Docker reports each healthy, return the addresses.

        Raises EngineUnavailable when no engine answers and DockerStartError (after removing what it
        started) when an image is missing, a container exits or turns unhealthy, or cancelled() says so.
        """
        plans = self.plan()
        client = self._client = connect()
        docker = _docker()
        missing = []
        for plan in plans:
            try:
                client.images.get(plan.image)
            except docker.errors.ImageNotFound:
                missing.append(plan.image)
        if missing:
            raise DockerStartError(f"image(s) not found: {', '.join(missing)}; {BUILD_HINT}")
        try:
            self._ensure_network(client)
            deadline = time.monotonic() + timeout
            for plan in plans:
                if on_status:
                    on_status(f"starting {plan.name} ({plan.image})")
                self.containers[plan.service] = self._run(client, plan)
                if plan.service == "elasticsearch":  # the retriever checks its backend at start-up
                    wait_healthy(self.containers[plan.service], deadline, cancelled)
            for service, container in self.containers.items():
                if on_status:
                    on_status(f"waiting for {service} to be healthy")
                wait_healthy(container, deadline, cancelled)
        except BaseException:
            self.stop()
            raise
        return self.addresses()

    def _ensure_network(self, client: Any) -> None:
        docker = _docker()
        try:
            client.networks.get(self.network)
        except docker.errors.NotFound:
            client.networks.create(self.network, driver="bridge", labels={"org.supil.project": self.project})

    def _run(self, client: Any, plan: ContainerPlan) -> Any:
        docker = _docker()
        try:  # a container left by an earlier run that was killed: replace it
            client.containers.get(plan.name).remove(force=True)
        except docker.errors.NotFound:
            pass
        device_requests = (
            [docker.types.DeviceRequest(count=-1, capabilities=[["gpu"]])] if plan.gpus else None
        )
        return client.containers.run(
            plan.image,
            command=plan.command,
            name=plan.name,
            hostname=plan.service,
            detach=True,
            init=True,
            environment=plan.environment,
            ports=plan.ports,
            volumes=plan.volumes,
            network=self.network,
            healthcheck=plan.healthcheck,
            device_requests=device_requests,
            shm_size=plan.shm_size,
            labels={"org.supil.project": self.project, "org.supil.service": plan.service},
        )

    def stop(self) -> dict[str, int | None]:
        """Stop (SIGTERM, then SIGKILL after the grace period) and remove the containers; keep volumes."""
        docker = _docker()
        codes: dict[str, int | None] = {}
        for service, container in reversed(list(self.containers.items())):
            try:
                container.stop(timeout=self.grace_seconds)
                codes[service] = container.wait(timeout=self.grace_seconds + 5).get("StatusCode")
                container.remove()
            except docker.errors.DockerException as exc:
                logger.warning("could not stop %s cleanly: %s", service, exc)
                codes[service] = None
        self.containers.clear()
        if self._client is not None:
            try:
                self._client.networks.get(self.network).remove()
            except docker.errors.DockerException as exc:  # still used by another container, or gone
                logger.info("network %s left in place: %s", self.network, exc)
        return dict(reversed(list(codes.items())))


def elasticsearch_environment(password: str, heap: str) -> dict[str, str]:
    """Single-node settings with authentication on and HTTP TLS off (the compose network only)."""
    return {
        "cluster.name": "supil",
        "discovery.type": "single-node",
        "ES_JAVA_OPTS": f"-Xms{heap} -Xmx{heap}",
        "xpack.security.enabled": "true",
        "ELASTIC_PASSWORD": password,
        "xpack.security.http.ssl.enabled": "false",
        "xpack.security.transport.ssl.enabled": "false",
    }


def elasticsearch_healthcheck() -> dict[str, Any]:
    """Cluster health at least yellow, asked with the elastic user's password."""
    return _healthcheck(
        [
            "CMD-SHELL",
            'curl -fsS -u "elastic:$ELASTIC_PASSWORD" '
            "'http://127.0.0.1:9200/_cluster/health?wait_for_status=yellow&timeout=5s' > /dev/null",
        ],
        start_period_s=60,
        retries=30,
        timeout_s=10,
    )


def wait_healthy(
    container: Any, deadline: float, cancelled: Callable[[], bool] | None = None, poll: float = 1.0
) -> None:
    """Poll Docker's health status until healthy; DockerStartError if it exits, turns unhealthy, times
    out or cancelled() turns true (Ctrl-C while starting)."""
    while True:
        if cancelled is not None and cancelled():
            raise DockerStartError(f"interrupted while waiting for {container.name}")
        container.reload()
        state = container.attrs.get("State", {})
        health = (state.get("Health") or {}).get("Status")
        if health == "healthy":
            return
        if state.get("Status") in ("exited", "dead") or health == "unhealthy":
            tail = container.logs(tail=15).decode("utf-8", "replace")
            raise DockerStartError(
                f"{container.name} is {health or state.get('Status')} (exit code {state.get('ExitCode')}); "
                f"last log lines:\n{tail}"
            )
        if time.monotonic() > deadline:
            raise DockerStartError(f"{container.name} was not healthy in time (health: {health})")
        time.sleep(poll)


@dataclass
class ElasticsearchContainer:
    """A throwaway deploy/elasticsearch container for integration tests, on a free loopback port."""

    version: str = DEFAULT_ES_VERSION
    image_repo: str = "supil"
    password: str = field(default_factory=lambda: secrets.token_urlsafe(18))
    url: str = ""
    _container: Any = None

    def start(self, timeout: float = 240.0) -> str:
        """Build the image if it is missing, run it, wait for health, return its URL (with credentials)."""
        client = connect()
        docker = _docker()
        image = f"{self.image_repo}/elasticsearch-nori:{self.version}"
        try:
            client.images.get(image)
        except docker.errors.ImageNotFound:
            logger.info("building %s from %s", image, ELASTICSEARCH_CONTEXT)
            client.images.build(
                path=str(ELASTICSEARCH_CONTEXT), tag=image, buildargs={"ES_VERSION": self.version}, rm=True
            )
        self._container = client.containers.run(
            image,
            detach=True,
            environment=elasticsearch_environment(self.password, "512m"),
            ports={"9200/tcp": ("127.0.0.1", None)},
            healthcheck=elasticsearch_healthcheck(),
            labels={"org.supil.project": "supil-tests"},
        )
        try:
            wait_healthy(self._container, time.monotonic() + timeout)
            self._container.reload()
            host_port = self._container.attrs["NetworkSettings"]["Ports"]["9200/tcp"][0]["HostPort"]
        except BaseException:
            self.stop()
            raise
        self.url = f"http://elastic:{self.password}@127.0.0.1:{host_port}"
        return self.url

    def stop(self) -> None:
        """Remove the container and its anonymous data volume."""
        if self._container is not None:
            self._container.remove(force=True, v=True)
            self._container = None


def services_up(
    names: Sequence[str],
    *,
    check: bool,
    console: Any,
    err_console: Any,
    show_health: Callable[[dict[str, str]], bool],
    stop_requested: Callable[[float], bool],
) -> int:
    """`supil services up --docker`: start, show health, wait for Ctrl-C (or stop at once with check).

    Returns the exit code: 0 when everything was healthy, 1 otherwise (including no engine).
    """
    gpus = (os.environ.get("SUPIL_DOCKER_GPUS") or "").lower() in ("1", "true", "yes")
    stack = DockerStack.from_env(names, gpus=gpus)
    try:
        with console.status("starting containers...") as status:
            addresses = stack.start(on_status=status.update, cancelled=lambda: stop_requested(0))
    except EngineUnavailable as exc:
        err_console.print(f"[red]--docker: {exc}[/red]", highlight=False)
        return 1
    except DockerStartError as exc:
        err_console.print(f"[red]could not start containers:[/red] {exc}", highlight=False)
        return 1
    ok = True
    try:
        ok = show_health(addresses)
        if not check:
            console.print(
                f"Press Ctrl-C to stop them. Workspace volume: {stack.workspace_volume}; "
                f"logs: docker logs {stack.project}-<service>"
            )
            while not stop_requested(1.0):
                for service, container in stack.containers.items():
                    container.reload()
                    if container.status in ("exited", "dead"):
                        err_console.print(f"[red]container exited:[/red] {service}")
                        ok = False
                if not ok:
                    break
    finally:
        codes = stack.stop()
        console.print("stopped: " + ", ".join(f"{n} (exit {c})" for n, c in codes.items()))
    return 0 if ok else 1
