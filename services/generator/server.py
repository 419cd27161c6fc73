"""Builds the generator service's gRPC server."""

from __future__ import annotations

from services.generator.servicer import GeneratorServicer
from services.runtime import (
    ArtifactStore,
    JobRunner,
    Registration,
    ServiceConfig,
    ServiceParts,
    ServiceServer,
)
from services.runtime import create_server as create_runtime_server
from supil.v1 import generator_pb2, generator_pb2_grpc


def create_server(
    config: ServiceConfig, *, store: ArtifactStore | None = None, runner: JobRunner | None = None
) -> tuple[ServiceServer, int]:
    """A bound, not yet started generator server with health, reflection and JobService."""
    parts = ServiceParts.build(config, store, runner)
    servicer = GeneratorServicer(parts)
    registration = Registration.of(
        generator_pb2, "GeneratorService", generator_pb2_grpc.add_GeneratorServiceServicer_to_server, servicer
    )
    return create_runtime_server(config, [registration], parts.runner)
