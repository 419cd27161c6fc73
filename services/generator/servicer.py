"""gRPC servicer of the generator service (supil.v1.GeneratorService)."""

from __future__ import annotations

import grpc

from services.runtime import ServiceParts, Unimplemented, validate_job_id
from supil.v1 import generator_pb2, generator_pb2_grpc


class GeneratorServicer(generator_pb2_grpc.GeneratorServiceServicer):
    """supil.v1.GeneratorService: drafts sections paragraph by paragraph with the writers."""

    def __init__(self, parts: ServiceParts) -> None:
        self._parts = parts

    def CreateDraftJob(
        self, request: generator_pb2.CreateDraftJobRequest, context: grpc.ServicerContext
    ) -> generator_pb2.CreateDraftJobResponse:
        validate_job_id(request.job_id)
        raise Unimplemented(
            "generator: CreateDraftJob is not built yet (section drafting, issue #7); nothing was done"
        )

    def GenerateParagraph(
        self, request: generator_pb2.GenerateParagraphRequest, context: grpc.ServicerContext
    ) -> generator_pb2.GenerateParagraphResponse:
        raise Unimplemented(
            "generator: GenerateParagraph is not built yet (paragraph generation, issue #7); nothing was done"
        )
