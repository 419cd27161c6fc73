"""gRPC servicer of the cleaner service (supil.v1.CleanerService)."""

from __future__ import annotations

import grpc

from services.runtime import ServiceParts, Unimplemented, validate_job_id
from supil.v1 import cleaner_pb2, cleaner_pb2_grpc


class CleanerServicer(cleaner_pb2_grpc.CleanerServiceServicer):
    """supil.v1.CleanerService: cleans and filters corpora, removes duplicates, splits sentences."""

    def __init__(self, parts: ServiceParts) -> None:
        self._parts = parts

    def CreateCleanJob(
        self, request: cleaner_pb2.CreateCleanJobRequest, context: grpc.ServicerContext
    ) -> cleaner_pb2.CreateCleanJobResponse:
        validate_job_id(request.job_id)
        raise Unimplemented(
            "cleaner: CreateCleanJob is not built yet (corpus cleaning, filtering and dedup, issue #4); nothing was done"
        )

    def CleanText(
        self, request: cleaner_pb2.CleanTextRequest, context: grpc.ServicerContext
    ) -> cleaner_pb2.CleanTextResponse:
        raise Unimplemented(
            "cleaner: CleanText is not built yet (the cleaning steps, issue #4); nothing was done"
        )

    def SplitSentences(
        self, request: cleaner_pb2.SplitSentencesRequest, context: grpc.ServicerContext
    ) -> cleaner_pb2.SplitSentencesResponse:
        raise Unimplemented(
            "cleaner: SplitSentences is not built yet (kss sentence splitting, issue #4); nothing was done"
        )
