"""The generator's own settings, read once from the environment (SUPIL_GENERATOR_*)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from services.runtime import ConfigError, env_int


@dataclass(frozen=True)
class GeneratorSettings:
    """How the generator serves writers."""

    memory_mb: int = (
        8192  # parameters kept loaded (bases, full writers, adapters); least recently used go first
    )
    device: str = "cpu"
    max_batch: int = 8  # sections drafted together when their writers share a network
    torch_threads: int = 0  # 0 keeps torch's default

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> GeneratorSettings:
        """Read SUPIL_GENERATOR_MEMORY_MB, _DEVICE, _MAX_BATCH, _TORCH_THREADS; ConfigError names a bad one."""
        env = os.environ if env is None else env
        return cls(
            memory_mb=env_int(env, "SUPIL_GENERATOR_MEMORY_MB", cls.memory_mb, 1, 10_000_000),
            device=_device(env.get("SUPIL_GENERATOR_DEVICE") or cls.device),
            max_batch=env_int(env, "SUPIL_GENERATOR_MAX_BATCH", cls.max_batch, 1, 256),
            torch_threads=env_int(env, "SUPIL_GENERATOR_TORCH_THREADS", cls.torch_threads, 0, 1024),
        )


def _device(value: str) -> str:
    if value != "cpu" and not value.startswith(("cuda", "mps")):
        raise ConfigError(f"SUPIL_GENERATOR_DEVICE={value!r} must be cpu, cuda, cuda:N or mps")
    return value
