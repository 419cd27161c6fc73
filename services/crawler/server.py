"""Builds the crawler service's gRPC server."""

from __future__ import annotations

from services.crawler.servicer import CrawlerServicer
from services.runtime import (
    ArtifactStore,
    JobRunner,
    Registration,
    ServiceConfig,
    ServiceParts,
    ServiceServer,
)
from services.runtime import create_server as create_runtime_server
from supil.v1 import crawler_pb2, crawler_pb2_grpc


def create_server(
    config: ServiceConfig, *, store: ArtifactStore | None = None, runner: JobRunner | None = None
) -> tuple[ServiceServer, int]:
    """A bound, not yet started crawler server with health, reflection and JobService."""
    parts = ServiceParts.build(config, store, runner)
    servicer = CrawlerServicer(parts)
    registration = Registration.of(
        crawler_pb2, "CrawlerService", crawler_pb2_grpc.add_CrawlerServiceServicer_to_server, servicer
    )
    return create_runtime_server(config, [registration], parts.runner)
