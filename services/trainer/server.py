"""Builds the trainer service's gRPC server."""

from __future__ import annotations

from services.runtime import (
    ArtifactStore,
    JobRunner,
    Registration,
    ServiceConfig,
    ServiceParts,
    ServiceServer,
)
from services.runtime import create_server as create_runtime_server
from services.trainer.servicer import TrainerServicer
from supil.v1 import trainer_pb2, trainer_pb2_grpc


def create_server(
    config: ServiceConfig, *, store: ArtifactStore | None = None, runner: JobRunner | None = None
) -> tuple[ServiceServer, int]:
    """A bound, not yet started trainer server with health, reflection and JobService."""
    parts = ServiceParts.build(config, store, runner)
    servicer = TrainerServicer(parts)
    registration = Registration.of(
        trainer_pb2, "TrainerService", trainer_pb2_grpc.add_TrainerServiceServicer_to_server, servicer
    )
    return create_runtime_server(config, [registration], parts.runner)
