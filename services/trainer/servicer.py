"""gRPC servicer of the trainer service (supil.v1.TrainerService)."""

from __future__ import annotations

import grpc

from services.runtime import ServiceParts, Unimplemented, validate_job_id
from supil.v1 import trainer_pb2, trainer_pb2_grpc


class TrainerServicer(trainer_pb2_grpc.TrainerServiceServicer):
    """supil.v1.TrainerService: base model preparation, continued pretraining and one writer per sub-topic."""

    def __init__(self, parts: ServiceParts) -> None:
        self._parts = parts

    def CreateTrainJob(
        self, request: trainer_pb2.CreateTrainJobRequest, context: grpc.ServicerContext
    ) -> trainer_pb2.CreateTrainJobResponse:
        validate_job_id(request.job_id)
        raise Unimplemented(
            "trainer: CreateTrainJob is not built yet (training (tiny preset, pretraining, writers), issue #6); nothing was done"
        )
