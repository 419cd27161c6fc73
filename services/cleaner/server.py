"""Builds the cleaner service's gRPC server."""

from __future__ import annotations

from services.cleaner.servicer import CleanerServicer
from services.runtime import (
    ArtifactStore,
    JobRunner,
    Registration,
    ServiceConfig,
    ServiceParts,
    ServiceServer,
)
from services.runtime import create_server as create_runtime_server
from supil.v1 import cleaner_pb2, cleaner_pb2_grpc


def create_server(
    config: ServiceConfig, *, store: ArtifactStore | None = None, runner: JobRunner | None = None
) -> tuple[ServiceServer, int]:
    """A bound, not yet started cleaner server with health, reflection and JobService."""
    parts = ServiceParts.build(config, store, runner)
    servicer = CleanerServicer(parts)
    registration = Registration.of(
        cleaner_pb2, "CleanerService", cleaner_pb2_grpc.add_CleanerServiceServicer_to_server, servicer
    )
    return create_runtime_server(config, [registration], parts.runner)
