"""gRPC servicer of the retriever service (supil.v1.RetrieverService)."""

from __future__ import annotations

import grpc

from services.runtime import ServiceParts, Unimplemented, validate_job_id
from supil.v1 import retriever_pb2, retriever_pb2_grpc


class RetrieverServicer(retriever_pb2_grpc.RetrieverServiceServicer):
    """supil.v1.RetrieverService: Nori-compatible analysis, BM25 search and training-set export."""

    def __init__(self, parts: ServiceParts) -> None:
        self._parts = parts

    def Analyze(
        self, request: retriever_pb2.AnalyzeRequest, context: grpc.ServicerContext
    ) -> retriever_pb2.AnalyzeResponse:
        raise Unimplemented(
            "retriever: Analyze is not built yet (the Nori-compatible analyzer, issue #5); nothing was done"
        )

    def CreateIndexJob(
        self, request: retriever_pb2.CreateIndexJobRequest, context: grpc.ServicerContext
    ) -> retriever_pb2.CreateIndexJobResponse:
        validate_job_id(request.job_id)
        raise Unimplemented(
            "retriever: CreateIndexJob is not built yet (BM25 indexing, issue #5); nothing was done"
        )

    def Search(
        self, request: retriever_pb2.SearchRequest, context: grpc.ServicerContext
    ) -> retriever_pb2.SearchResponse:
        raise Unimplemented("retriever: Search is not built yet (BM25 search, issue #5); nothing was done")

    def CreateExportJob(
        self, request: retriever_pb2.CreateExportJobRequest, context: grpc.ServicerContext
    ) -> retriever_pb2.CreateExportJobResponse:
        validate_job_id(request.job_id)
        raise Unimplemented(
            "retriever: CreateExportJob is not built yet (training-set export, issue #5); nothing was done"
        )
