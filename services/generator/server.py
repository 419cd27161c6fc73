"""Builds the generator service's gRPC server."""

from __future__ import annotations

from services.generator.config import GeneratorSettings
from services.generator.servicer import GeneratorServicer
from services.generator.writers import WriterPool
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
    config: ServiceConfig,
    *,
    store: ArtifactStore | None = None,
    runner: JobRunner | None = None,
    settings: GeneratorSettings | None = None,
    pool: WriterPool | None = None,
) -> tuple[ServiceServer, int]:
    """A bound, not yet started generator server with health, reflection and JobService."""
    settings = settings or GeneratorSettings.from_env()
    if settings.torch_threads:
        import torch

        torch.set_num_threads(settings.torch_threads)
    parts = ServiceParts.build(config, store, runner)
    pool = pool or WriterPool(
        parts.store, memory_budget_bytes=settings.memory_mb << 20, device=settings.device
    )
    servicer = GeneratorServicer(parts, pool, max_batch=settings.max_batch)
    registration = Registration.of(
        generator_pb2, "GeneratorService", generator_pb2_grpc.add_GeneratorServiceServicer_to_server, servicer
    )
    return create_runtime_server(config, [registration], parts.runner)
