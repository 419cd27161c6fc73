"""gRPC servicer of the cleaner service (supil.v1.CleanerService)."""

from __future__ import annotations

import logging

import grpc

from services.cleaner.options import BACKENDS, config_from_options
from services.cleaner.pipeline import clean_corpus
from services.cleaner.sentences import split_sentences
from services.cleaner.steps import Cleaner
from services.runtime import InvalidArgument, JobContext, ServiceParts, validate_job_id, validate_name
from supil.v1 import cleaner_pb2, cleaner_pb2_grpc

logger = logging.getLogger(__name__)


class CleanerServicer(cleaner_pb2_grpc.CleanerServiceServicer):
    """supil.v1.CleanerService: cleans and filters corpora, removes duplicates, splits sentences."""

    def __init__(self, parts: ServiceParts, *, workers: int = 1) -> None:
        self._parts = parts
        self._workers = workers
        self._cleaners: dict[tuple, Cleaner] = {}

    def CreateCleanJob(
        self, request: cleaner_pb2.CreateCleanJobRequest, context: grpc.ServicerContext
    ) -> cleaner_pb2.CreateCleanJobResponse:
        validate_job_id(request.job_id)
        if not request.input:
            raise InvalidArgument("input is empty: name the corpus artifact to clean")
        if not request.output:
            raise InvalidArgument("output is empty: name the cleaned corpus artifact to write")
        validate_name(request.input)
        validate_name(request.output)
        if request.input == request.output:
            raise InvalidArgument("output must differ from input (the input corpus is never overwritten)")
        config = config_from_options(request.options)
        store = self._parts.store
        store.entry(request.input)  # NotFound now, not in the job, for a missing or half-written input
        workers = self._workers

        def run(ctx: JobContext) -> None:
            total = store.entry(request.input).records
            ctx.progress(0, total=max(total, 0), unit="documents", message=f"cleaning {request.input}")

            def progress(done: int, counters: dict[str, float]) -> None:
                ctx.progress(done, counters=counters)

            report = clean_corpus(
                store,
                request.input,
                request.output,
                config,
                workers=workers,
                job_id=ctx.job_id,
                progress=progress,
                check_cancelled=ctx.check_cancelled,
            )
            for entry, role in report.outputs:
                ctx.add_output(entry, role)
            stages = report.stats["stages"]
            dropped = report.stats["dropped"]
            ctx.set_metrics(
                read=stages["read"],
                kept=stages["written"],
                **{f"dropped_{rule}": count for rule, count in dropped.items()},
            )
            ctx.log(
                f"kept {stages['written']} of {stages['read']} documents; dropped "
                + ", ".join(f"{rule} {n}" for rule, n in dropped.items() if n)
            )

        job = self._parts.runner.submit(request.job_id, "clean", request, run)
        return cleaner_pb2.CreateCleanJobResponse(job=job)

    def CleanText(
        self, request: cleaner_pb2.CleanTextRequest, context: grpc.ServicerContext
    ) -> cleaner_pb2.CleanTextResponse:
        if not request.text:
            raise InvalidArgument("text is empty: nothing to clean")
        config = config_from_options(request.options)
        key = (config.steps, config.boilerplate)
        cleaner = self._cleaners.get(key)
        if cleaner is None:
            cleaner = self._cleaners[key] = Cleaner(config.steps, config.boilerplate)
        result = cleaner.clean(request.text)
        return cleaner_pb2.CleanTextResponse(text=result.text, changed_steps=result.changed)

    def SplitSentences(
        self, request: cleaner_pb2.SplitSentencesRequest, context: grpc.ServicerContext
    ) -> cleaner_pb2.SplitSentencesResponse:
        if not request.text.strip():
            raise InvalidArgument("text is empty: nothing to split")
        backend = BACKENDS.get(request.backend)
        if backend is None:
            raise InvalidArgument(f"backend {request.backend} is not a known SentenceBackend")
        sentences = split_sentences(request.text, backend)
        return cleaner_pb2.SplitSentencesResponse(
            sentences=[cleaner_pb2.Sentence(text=s.text, start=s.start, end=s.end) for s in sentences]
        )
