"""gRPC servicer of the retriever service (supil.v1.RetrieverService)."""

from __future__ import annotations

import logging

import grpc

from services.retriever.analyzer import Analyzer, AnalyzerSettings
from services.retriever.embedded import IndexProgress
from services.retriever.local import search_response
from services.retriever.retriever import Retriever, validate_index_name
from services.retriever.search import QueryOptions, split_export, validate_k
from services.runtime import (
    InvalidArgument,
    JobContext,
    ServiceParts,
    validate_job_id,
    validate_name,
    write_corpus,
)
from supil.v1 import retriever_pb2, retriever_pb2_grpc

logger = logging.getLogger(__name__)

MAX_ANALYZE_CHARS = 200_000
DEFAULT_EXPORT_K = 500
BACKENDS = {
    retriever_pb2.BACKEND_UNSPECIFIED: "",
    retriever_pb2.BACKEND_EMBEDDED: "embedded",
    retriever_pb2.BACKEND_ELASTICSEARCH: "elasticsearch",
}


class RetrieverServicer(retriever_pb2_grpc.RetrieverServiceServicer):
    """supil.v1.RetrieverService: Nori-compatible analysis, BM25 search and training-set export."""

    def __init__(self, parts: ServiceParts, retriever: Retriever) -> None:
        self._parts = parts
        self._retriever = retriever
        self._analyzers: dict[AnalyzerSettings, Analyzer] = {}

    def _analyzer(self, settings: AnalyzerSettings) -> Analyzer:
        analyzer = self._analyzers.get(settings)
        if analyzer is None:
            analyzer = self._analyzers.setdefault(settings, Analyzer(settings))
        return analyzer

    def Analyze(
        self, request: retriever_pb2.AnalyzeRequest, context: grpc.ServicerContext
    ) -> retriever_pb2.AnalyzeResponse:
        if not request.text.strip():
            raise InvalidArgument("text is empty; give the text to analyze")
        if len(request.text) > MAX_ANALYZE_CHARS:
            raise InvalidArgument(f"text is {len(request.text)} characters; at most {MAX_ANALYZE_CHARS}")
        settings = AnalyzerSettings.from_proto(request.analyzer)
        tokens = self._analyzer(settings).analyze(request.text)
        return retriever_pb2.AnalyzeResponse(
            tokens=[
                retriever_pb2.Token(
                    term=t.term,
                    pos=t.pos,
                    start_offset=t.start,
                    end_offset=t.end,
                    position=t.position,
                    position_length=t.position_length,
                    pos_type=t.pos_type,
                )
                for t in tokens
            ]
        )

    def CreateIndexJob(
        self, request: retriever_pb2.CreateIndexJobRequest, context: grpc.ServicerContext
    ) -> retriever_pb2.CreateIndexJobResponse:
        validate_job_id(request.job_id)
        name = validate_index_name(request.index)
        if not request.corpus:
            raise InvalidArgument("corpus is empty; name the corpus artifact to index")
        self._parts.store.entry(request.corpus)  # NotFound now rather than in the job
        settings = AnalyzerSettings.from_proto(request.analyzer)
        if request.backend not in BACKENDS:
            raise InvalidArgument(f"backend {request.backend} is not a known Backend")
        backend = self._retriever.backend_for(BACKENDS[request.backend])
        k1 = request.k1 if request.HasField("k1") else 1.2
        b = request.b if request.HasField("b") else 0.75
        if not 0.0 < k1 <= 10.0:
            raise InvalidArgument(f"k1 must be in (0, 10], got {k1}")
        if not 0.0 <= b <= 1.0:
            raise InvalidArgument(f"b must be in [0, 1], got {b}")

        def run(ctx: JobContext) -> None:
            def report(p: IndexProgress) -> None:
                rate = p.bytes / 1e6 / p.seconds if p.seconds > 0 else 0.0
                ctx.progress(
                    p.documents,
                    total=p.total,
                    unit="documents",
                    message=f"{p.documents}/{p.total} documents, {p.bytes / 1e6:.1f} MB, {rate:.2f} MB/s",
                    counters={"bytes": p.bytes, "mb_per_s": rate, "cached": p.cached},
                )

            entry, progress = backend.build(
                name,
                request.corpus,
                settings,
                k1,
                b,
                job_id=ctx.job_id,
                on_progress=report,
                check_cancelled=ctx.check_cancelled,
            )
            report(progress)
            ctx.add_output(entry, "index")
            ctx.set_metrics(
                documents=progress.total,
                analyzed=progress.analyzed,
                cached=progress.cached,
                bytes=progress.bytes,
                seconds=progress.seconds,
            )

        job = self._parts.runner.submit(request.job_id, "index", request, run)
        return retriever_pb2.CreateIndexJobResponse(job=job)

    def Search(
        self, request: retriever_pb2.SearchRequest, context: grpc.ServicerContext
    ) -> retriever_pb2.SearchResponse:
        return search_response(self._retriever, request)

    def CreateExportJob(
        self, request: retriever_pb2.CreateExportJobRequest, context: grpc.ServicerContext
    ) -> retriever_pb2.CreateExportJobResponse:
        validate_job_id(request.job_id)
        if not request.query.strip():
            raise InvalidArgument("query is empty; give the sub-topic whose training set to export")
        self._retriever.index_info(request.index)  # NotFound now rather than in the job
        k = validate_k(request.k, default=DEFAULT_EXPORT_K)
        if not 0.0 <= request.valid_fraction < 1.0:
            raise InvalidArgument(f"valid_fraction must be in [0, 1), got {request.valid_fraction}")
        options = QueryOptions.from_proto(request.options)
        prefix = request.output_prefix.strip("/") or f"exports/{request.index}/{request.job_id}"
        validate_name(f"{prefix}/train.jsonl.zst")
        self._parts.store.path(f"{prefix}/train.jsonl.zst")  # refuses prefixes escaping the workspace

        def run(ctx: JobContext) -> None:
            ctx.progress(0, total=k, unit="documents", message=f"searching {request.index!r}")
            hits, total = self._retriever.search(request.index, request.query, options, k, snippets=False)
            ctx.check_cancelled()
            train, valid, duplicates = split_export(hits, request.valid_fraction, request.seed)
            train_entry = write_corpus(
                self._parts.store, f"{prefix}/train.jsonl.zst", train, job_id=ctx.job_id, role="train"
            )
            valid_entry = write_corpus(
                self._parts.store, f"{prefix}/valid.jsonl.zst", valid, job_id=ctx.job_id, role="valid"
            )
            ctx.add_output(train_entry, "train")
            ctx.add_output(valid_entry, "valid")
            ctx.progress(
                len(hits), total=k, unit="documents", message=f"{len(train)} train, {len(valid)} valid"
            )
            ctx.set_metrics(
                matched=total, taken=len(hits), duplicates=duplicates, train=len(train), valid=len(valid)
            )

        job = self._parts.runner.submit(request.job_id, "export", request, run)
        return retriever_pb2.CreateExportJobResponse(job=job)
