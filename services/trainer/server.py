"""Builds the trainer service's gRPC server."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

import torch

from services.runtime import (
    ArtifactStore,
    ConfigError,
    JobRunner,
    Registration,
    ServiceConfig,
    ServiceParts,
    ServiceServer,
    env_int,
)
from services.runtime import create_server as create_runtime_server
from services.trainer.servicer import TrainerServicer
from supil.v1 import trainer_pb2, trainer_pb2_grpc


@dataclass(frozen=True)
class TrainerConfig:
    """Trainer settings from the environment.

    SUPIL_TRAINER_DEVICE: auto|cpu|cuda|cuda:N (auto = a GPU when torch sees one).
    SUPIL_TRAINER_THREADS: torch CPU threads, 0 = torch's default; set 1 when services share few cores.
    """

    device: str = "auto"
    threads: int = 0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> TrainerConfig:
        """Read once at start-up; an unusable value fails fast naming the variable."""
        env = os.environ if env is None else env
        device = env.get("SUPIL_TRAINER_DEVICE", "auto").strip() or "auto"
        if device not in ("auto", "cpu") and not device.startswith("cuda"):
            raise ConfigError(f"SUPIL_TRAINER_DEVICE must be auto, cpu, cuda or cuda:N, got {device!r}")
        if device.startswith("cuda") and not torch.cuda.is_available():
            raise ConfigError(f"SUPIL_TRAINER_DEVICE={device} but torch sees no CUDA device")
        return cls(device, env_int(env, "SUPIL_TRAINER_THREADS", 0, 0, 1024))

    def torch_device(self) -> torch.device:
        """The device jobs train on: a GPU when there is one and auto is asked for."""
        if self.device == "auto":
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")
        return torch.device(self.device)


def create_server(
    config: ServiceConfig,
    *,
    store: ArtifactStore | None = None,
    runner: JobRunner | None = None,
    trainer_config: TrainerConfig | None = None,
) -> tuple[ServiceServer, int]:
    """A bound, not yet started trainer server with health, reflection and JobService."""
    trainer_config = trainer_config or TrainerConfig.from_env()
    if trainer_config.threads:
        torch.set_num_threads(trainer_config.threads)
    parts = ServiceParts.build(config, store, runner)
    servicer = TrainerServicer(parts, trainer_config.torch_device())
    registration = Registration.of(
        trainer_pb2, "TrainerService", trainer_pb2_grpc.add_TrainerServiceServicer_to_server, servicer
    )
    return create_runtime_server(config, [registration], parts.runner)
