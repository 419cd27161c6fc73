"""Run one training request without the service, e.g. on GPUs under torchrun or accelerate launch.

    python -m services.trainer.run --workspace supil-work --request request.json
    torchrun --nproc_per_node 8 -m services.trainer.run --workspace /shared/ws --request request.json

request.json is a CreateTrainJobRequest in protobuf JSON form (the orchestrator's own request).
Every process trains on its share of each batch (DistributedDataParallel); rank 0 alone writes.
"""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path
from typing import Any

import torch
from google.protobuf import json_format

from services.runtime import ArtifactEntry, ArtifactStore, validate_job_id
from services.runtime.logs import setup_logging
from services.trainer.pipeline import run_train_job
from supil.v1 import trainer_pb2

logger = logging.getLogger(__name__)


class LocalContext:
    """The parts of a JobContext a training run uses, reporting to the log (rank 0 only)."""

    def __init__(self, job_id: str, rank: int) -> None:
        self.job_id = job_id
        self.attempt = 1
        self.partial = False
        self._rank = rank

    def progress(self, done: int | None = None, *, message: str | None = None, **_: Any) -> None:
        """Log a progress message."""
        if self._rank == 0 and message:
            logger.info("%s", message)

    def log(self, message: str) -> None:
        """Log a line."""
        if self._rank == 0:
            logger.info("%s", message)

    def add_output(self, entry: ArtifactEntry, role: str | None = None) -> None:
        """Log an output artifact."""
        logger.info("wrote %s (%s, %d bytes)", entry.name, role or entry.role, entry.size_bytes)

    def set_metrics(self, **metrics: float) -> None:
        """Log the run's figures."""
        logger.info("metrics: %s", metrics)

    def check_cancelled(self) -> None:
        """Nothing cancels a local run but a signal."""


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, pick this process's device, and run the request."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--workspace", type=Path, default=Path(os.environ.get("SUPIL_WORKSPACE", "supil-work"))
    )
    parser.add_argument("--request", type=Path, required=True, help="CreateTrainJobRequest as JSON")
    args = parser.parse_args(argv)
    setup_logging("trainer")
    request = json_format.Parse(args.request.read_text(encoding="utf-8"), trainer_pb2.CreateTrainJobRequest())
    validate_job_id(request.job_id)
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if torch.cuda.is_available():
        torch.cuda.set_device(local_rank)
        device = torch.device("cuda", local_rank)
    else:
        device = torch.device("cpu")
    run_train_job(LocalContext(request.job_id, rank), ArtifactStore(args.workspace), request, device)  # type: ignore[arg-type]
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
