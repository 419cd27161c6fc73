"""Builds the cleaner service's gRPC server."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from services.cleaner.pipeline import default_workers
from services.cleaner.servicer import CleanerServicer
from services.runtime import (
    ArtifactStore,
    JobRunner,
    Registration,
    ServiceConfig,
    ServiceParts,
    ServiceServer,
    env_int,
)
from services.runtime import create_server as create_runtime_server
from supil.v1 import cleaner_pb2, cleaner_pb2_grpc

WORKERS_VARIABLE = "SUPIL_CLEANER_WORKERS"


@dataclass(frozen=True)
class CleanerConfig:
    """The cleaner's own settings: how many processes a clean job uses."""

    workers: int

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> CleanerConfig:
        """Read SUPIL_CLEANER_WORKERS (default: the cores this process may use); fail fast if bad."""
        env = os.environ if env is None else env
        return cls(env_int(env, WORKERS_VARIABLE, default_workers(), 1, 256))


def create_server(
    config: ServiceConfig,
    *,
    store: ArtifactStore | None = None,
    runner: JobRunner | None = None,
    cleaner_config: CleanerConfig | None = None,
) -> tuple[ServiceServer, int]:
    """A bound, not yet started cleaner server with health, reflection and JobService."""
    cleaner_config = cleaner_config or CleanerConfig.from_env()
    parts = ServiceParts.build(config, store, runner)
    servicer = CleanerServicer(parts, workers=cleaner_config.workers)
    registration = Registration.of(
        cleaner_pb2, "CleanerService", cleaner_pb2_grpc.add_CleanerServiceServicer_to_server, servicer
    )
    return create_runtime_server(config, [registration], parts.runner)
