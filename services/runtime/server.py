"""Server bootstrap shared by all services: create_server, auth, health, reflection, graceful stop."""

from __future__ import annotations

import hmac
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from services.runtime.artifacts import ArtifactStore, atomic_write_text
from services.runtime.config import ConfigError, ServiceConfig, load_config
from services.runtime.errors import ErrorInterceptor
from services.runtime.jobs import JobRunner, JobServicer
from services.runtime.logs import setup_logging
from supil.v1 import jobs_pb2, jobs_pb2_grpc

logger = logging.getLogger(__name__)

# Calls that need no token: load balancers and orchestrators probe health before they hold one.
OPEN_METHOD_PREFIXES = ("/grpc.health.v1.Health/",)


def channel_options(max_message_bytes: int) -> list[tuple[str, Any]]:
    """Message size limits, used on both ends of every supil connection."""
    return [
        ("grpc.max_send_message_length", max_message_bytes),
        ("grpc.max_receive_message_length", max_message_bytes),
    ]


class TokenInterceptor(grpc.ServerInterceptor):
    """Rejects calls without `authorization: Bearer <token>` (UNAUTHENTICATED); health stays open."""

    def __init__(self, token: str) -> None:
        self._expected = f"Bearer {token}".encode()

    def intercept_service(self, continuation: Callable[[Any], Any], handler_call_details: Any) -> Any:
        handler = continuation(handler_call_details)
        if handler is None or handler_call_details.method.startswith(OPEN_METHOD_PREFIXES):
            return handler
        metadata = dict(handler_call_details.invocation_metadata or ())
        supplied = metadata.get("authorization", "")
        if isinstance(supplied, str):
            supplied = supplied.encode()
        if hmac.compare_digest(supplied, self._expected):
            return handler
        return _denying_handler(handler)


def _denying_handler(handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
    message = "missing or wrong bearer token: send metadata 'authorization: Bearer <SUPIL_TOKEN>'"

    def deny(request: Any, context: grpc.ServicerContext) -> Any:
        context.abort(grpc.StatusCode.UNAUTHENTICATED, message)

    def deny_stream(request: Any, context: grpc.ServicerContext) -> Any:
        context.abort(grpc.StatusCode.UNAUTHENTICATED, message)
        yield  # pragma: no cover - abort raises

    kwargs = {
        "request_deserializer": handler.request_deserializer,
        "response_serializer": handler.response_serializer,
    }
    if handler.stream_stream:  # reflection
        return grpc.stream_stream_rpc_method_handler(deny_stream, **kwargs)
    if handler.stream_unary:
        return grpc.stream_unary_rpc_method_handler(deny, **kwargs)
    if handler.unary_stream:
        return grpc.unary_stream_rpc_method_handler(deny_stream, **kwargs)
    return grpc.unary_unary_rpc_method_handler(deny, **kwargs)


@dataclass(frozen=True)
class Registration:
    """One gRPC service to serve: its full name, its generated add_*_to_server function, its servicer."""

    full_name: str
    add_to_server: Callable[[Any, grpc.Server], None]
    servicer: Any

    @classmethod
    def of(
        cls, pb2_module: Any, service: str, add_to_server: Callable[[Any, grpc.Server], None], servicer: Any
    ) -> Registration:
        """Registration for `service` as described in a generated *_pb2 module."""
        return cls(pb2_module.DESCRIPTOR.services_by_name[service].full_name, add_to_server, servicer)


@dataclass
class ServiceParts:
    """What a service's servicers share: its config, its artifact store and its job runner."""

    config: ServiceConfig
    store: ArtifactStore
    runner: JobRunner

    @classmethod
    def build(
        cls, config: ServiceConfig, store: ArtifactStore | None = None, runner: JobRunner | None = None
    ) -> ServiceParts:
        """Use the given store and runner, or make them in the config's workspace."""
        store = store or ArtifactStore(config.workspace)
        runner = runner or JobRunner(config.service, store.state_dir, max_workers=config.job_workers)
        return cls(config, store, runner)


class ServiceServer:
    """A started-or-not gRPC server plus the health state and job runner its shutdown must handle."""

    def __init__(
        self,
        server: grpc.Server,
        health_servicer: health.HealthServicer,
        runner: JobRunner,
        config: ServiceConfig,
        names: Sequence[str],
    ) -> None:
        self.grpc_server = server
        self.health = health_servicer
        self.runner = runner
        self.config = config
        self.service_names = tuple(names)
        self.port = 0  # the bound port, set by create_server
        self.stuck_jobs: list[str] = []
        self._stopped = threading.Event()

    def start(self) -> None:
        """Start serving."""
        self.grpc_server.start()

    def stop(self, grace: float | None = None) -> None:
        """Graceful stop: health NOT_SERVING, running jobs asked to stop, then stop(grace)."""
        if self._stopped.is_set():
            return
        self._stopped.set()
        grace = self.config.grace_seconds if grace is None else grace
        logger.info("stopping: health NOT_SERVING, asking running jobs to stop (grace %.1fs)", grace)
        self.health.enter_graceful_shutdown()
        self.stuck_jobs = self.runner.shutdown(grace)
        self.grpc_server.stop(grace).wait()
        if self.stuck_jobs:
            logger.warning(
                "jobs still busy after the grace period, recorded as interrupted: %s",
                ", ".join(self.stuck_jobs),
            )
        logger.info("stopped")

    def wait_for_termination(self, timeout: float | None = None) -> bool:
        """Block until the server has stopped."""
        return self.grpc_server.wait_for_termination(timeout)


def create_server(
    config: ServiceConfig, registrations: Sequence[Registration], runner: JobRunner
) -> tuple[ServiceServer, int]:
    """Build a bound (not yet started) server with health, reflection, JobService and the given services."""
    interceptors: list[grpc.ServerInterceptor] = []
    if config.token:
        interceptors.append(TokenInterceptor(config.token))
    interceptors.append(ErrorInterceptor())
    server = grpc.server(
        ThreadPoolExecutor(max_workers=config.rpc_workers, thread_name_prefix=f"{config.service}-rpc"),
        interceptors=interceptors,
        options=[*channel_options(config.max_message_bytes), ("grpc.so_reuseport", 0)],
        maximum_concurrent_rpcs=config.rpc_workers * 4,
    )
    jobs_pb2_grpc.add_JobServiceServicer_to_server(JobServicer(runner), server)
    names = [jobs_pb2.DESCRIPTOR.services_by_name["JobService"].full_name]
    for registration in registrations:
        registration.add_to_server(registration.servicer, server)
        names.append(registration.full_name)

    health_servicer = health.HealthServicer(
        experimental_non_blocking=True, experimental_thread_pool=ThreadPoolExecutor(max_workers=1)
    )
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    for name in ["", *names]:
        health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    reflection.enable_server_reflection(
        [*names, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name, reflection.SERVICE_NAME], server
    )
    try:
        port = server.add_insecure_port(config.address)
    except RuntimeError as exc:
        raise ConfigError(f"could not bind {config.address}: {exc}") from None
    if port == 0:
        raise ConfigError(f"could not bind {config.address} (in use or not an address of this host)")
    service_server = ServiceServer(server, health_servicer, runner, config, names)
    service_server.port = port
    return service_server, port


def serve(
    service: str,
    build: Callable[[ServiceConfig], tuple[ServiceServer, int]],
    argv: Sequence[str] | None = None,
) -> int:
    """Entry point body: read config, set up logging, serve until SIGTERM/SIGINT, stop gracefully."""
    try:
        config = load_config(service, argv)
    except ConfigError as exc:
        sys.stderr.write(f"supil {service}: configuration error: {exc}\n")
        return 2
    setup_logging(service, config.log_format, config.log_level)
    try:
        server, port = build(config)
    except ConfigError as exc:
        logger.error("configuration error: %s", exc)
        return 2
    stop = threading.Event()

    def on_signal(signum: int, _frame: Any) -> None:
        logger.info("received %s", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    server.start()
    if config.port_file is not None:
        atomic_write_text(Path(config.port_file), f"{port}\n")
    logger.info(
        "%s listening on %s:%d (workspace %s, auth %s)",
        service,
        config.host,
        port,
        config.workspace,
        "on" if config.token else "off",
    )
    while not stop.wait(0.5):
        pass
    server.stop()
    if server.stuck_jobs:
        # Their records already say "interrupted"; don't let the interpreter wait on their threads.
        logging.shutdown()
        os._exit(0)
    return 0
