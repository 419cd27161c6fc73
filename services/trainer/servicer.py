"""gRPC servicer of the trainer service (supil.v1.TrainerService)."""

from __future__ import annotations

import logging

import grpc
import torch

from services.runtime import InvalidArgument, JobContext, ServiceParts, validate_job_id, validate_name
from services.trainer import models
from services.trainer.data import check_disjoint, read_documents
from services.trainer.pipeline import PRETRAIN, WRITER, run_train_job, settings_from_request, writer_mode
from supil.v1 import trainer_pb2, trainer_pb2_grpc

logger = logging.getLogger(__name__)

# Writers' train/valid sets are a few hundred documents; above this the overlap check moves into the job.
SYNC_CHECK_MAX_BYTES = 64 << 20


class TrainerServicer(trainer_pb2_grpc.TrainerServiceServicer):
    """supil.v1.TrainerService: base model preparation, continued pretraining and one writer per sub-topic."""

    def __init__(self, parts: ServiceParts, device: torch.device | None = None) -> None:
        self._parts = parts
        self._device = device or torch.device("cpu")

    def CreateTrainJob(
        self, request: trainer_pb2.CreateTrainJobRequest, context: grpc.ServicerContext
    ) -> trainer_pb2.CreateTrainJobResponse:
        validate_job_id(request.job_id)
        self._validate(request)
        store = self._parts.store
        device = self._device

        def run(ctx: JobContext) -> None:
            run_train_job(ctx, store, request, device)

        job = self._parts.runner.submit(request.job_id, "train", request, run)
        return trainer_pb2.CreateTrainJobResponse(job=job)

    def _validate(self, request: trainer_pb2.CreateTrainJobRequest) -> None:
        """Refuse a bad request before a job exists: INVALID_ARGUMENT, NOT_FOUND or FAILED_PRECONDITION."""
        store = self._parts.store
        if request.stage not in (PRETRAIN, WRITER):
            raise InvalidArgument("stage must be TRAIN_STAGE_PRETRAIN or TRAIN_STAGE_WRITER")
        if not request.output:
            raise InvalidArgument("output is empty; name the artifact folder to write the model to")
        validate_name(request.output)
        if not request.train:
            raise InvalidArgument("train is empty; name at least one corpus artifact")
        settings_from_request(request)
        if request.stage == PRETRAIN and (
            request.options.HasField("lora") or request.options.HasField("freeze_layers")
        ):
            raise InvalidArgument(
                "lora and freeze_layers apply to TRAIN_STAGE_WRITER; pretraining trains every weight"
            )
        if request.stage == WRITER:
            writer_mode(request)
        if request.base != "tiny" or request.stage == WRITER:
            kind, _, _ = models.resolve_base(store, request.base)
            if kind == "tiny":
                models.load_base(store, "tiny")  # raises FailedPrecondition with what to do
        names = [*request.train, *request.valid]
        if set(request.train) & set(request.valid):
            raise InvalidArgument("the same artifact is named in both train and valid")
        sizes = [store.entry(validate_name(name)).size_bytes for name in names]  # NotFound when missing
        if request.valid and sum(sizes) <= SYNC_CHECK_MAX_BYTES:
            check_disjoint(read_documents(store, request.train), read_documents(store, request.valid))
