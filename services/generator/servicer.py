"""gRPC servicer of the generator service (supil.v1.GeneratorService)."""

from __future__ import annotations

import json
import logging
from dataclasses import asdict

import grpc

from services.generator.drafter import Drafter, Paragraph, SectionDraft, SectionTask, plan_batches
from services.generator.sampling import SamplingSettings
from services.generator.writers import WriterPool
from services.runtime import (
    InvalidArgument,
    JobContext,
    ServiceParts,
    validate_job_id,
    validate_name,
)
from supil.v1 import generator_pb2, generator_pb2_grpc

logger = logging.getLogger(__name__)

DRAFTS_FORMAT = "supil.drafts/1"
MAX_TARGET_CHARS = 1_000_000


def _guards(paragraph: Paragraph) -> generator_pb2.GuardReport:
    return generator_pb2.GuardReport(
        longest_copied_span=paragraph.longest_copied_span,
        overlap_ratio=paragraph.overlap_ratio,
        resamples=paragraph.resamples,
        dropped_sentences=paragraph.dropped_sentences,
    )


def _check_target(target: int, what: str) -> None:
    if not 0 < target <= MAX_TARGET_CHARS:
        raise InvalidArgument(f"{what} target_chars {target} must be between 1 and {MAX_TARGET_CHARS}")


class GeneratorServicer(generator_pb2_grpc.GeneratorServiceServicer):
    """supil.v1.GeneratorService: drafts sections paragraph by paragraph with the writers."""

    def __init__(self, parts: ServiceParts, pool: WriterPool, *, max_batch: int = 8) -> None:
        self._parts = parts
        self._pool = pool
        self._max_batch = max_batch

    # ---- validation ----------------------------------------------------------------------------

    def _check_writer(self, name: str, settings: SamplingSettings, what: str) -> None:
        if not name:
            raise InvalidArgument(f"{what} names no writer")
        validate_name(name)
        settings.validate(self._pool.context_tokens(name))

    # ---- RPCs ----------------------------------------------------------------------------------

    def CreateDraftJob(
        self, request: generator_pb2.CreateDraftJobRequest, context: grpc.ServicerContext
    ) -> generator_pb2.CreateDraftJobResponse:
        validate_job_id(request.job_id)
        if not request.output:
            raise InvalidArgument("output is empty; name the drafts artifact to write (e.g. drafts.json)")
        validate_name(request.output)
        if not request.sections:
            raise InvalidArgument("sections is empty; give at least one section to draft")
        settings = SamplingSettings.from_proto(request.sampling)
        for i, section in enumerate(request.sections):
            _check_target(section.target_chars, f"sections[{i}]")
            self._check_writer(section.writer, settings, f"sections[{i}]")
        job = self._parts.runner.submit(
            request.job_id, "draft", request, lambda ctx: self._draft_job(ctx, request, settings)
        )
        return generator_pb2.CreateDraftJobResponse(job=job)

    def GenerateParagraph(
        self, request: generator_pb2.GenerateParagraphRequest, context: grpc.ServicerContext
    ) -> generator_pb2.GenerateParagraphResponse:
        settings = SamplingSettings.from_proto(request.sampling)
        _check_target(request.target_chars, "request")
        self._check_writer(request.writer, settings, "request")
        writer = self._pool.get(request.writer)
        task = SectionTask(
            0, writer, request.text, request.target_chars, include_prompt=False, single_paragraph=True
        )
        draft = Drafter(settings).draft([task])[0]
        paragraph = draft.paragraphs[0]
        return generator_pb2.GenerateParagraphResponse(
            text=paragraph.text, chars=paragraph.chars, guards=_guards(paragraph)
        )

    # ---- the draft job -------------------------------------------------------------------------

    def _checkpoint_name(self, request: generator_pb2.CreateDraftJobRequest, index: int) -> str:
        return f"{request.output}.parts/{request.job_id}/section-{index}.json"

    def _draft_job(
        self, ctx: JobContext, request: generator_pb2.CreateDraftJobRequest, settings: SamplingSettings
    ) -> None:
        store = self._parts.store
        total = sum(s.target_chars for s in request.sections)
        drafts: dict[int, dict] = {}
        # A resubmitted job resumes: sections finished by an earlier attempt are read back.
        for i in range(len(request.sections)):
            name = self._checkpoint_name(request, i)
            if store.exists(name):
                drafts[i] = json.loads(store.path(name).read_text(encoding="utf-8"))
        if drafts:
            ctx.log(f"resuming: {len(drafts)} of {len(request.sections)} sections already drafted")
        tasks = []
        for i, section in enumerate(request.sections):
            if i in drafts:
                continue
            writer = self._pool.get(section.writer)
            tasks.append(SectionTask(i, writer, section.prompt, section.target_chars, title=section.title))
        written = sum(d["chars"] for d in drafts.values())
        ctx.progress(written, total=total, unit="chars", message="drafting")

        def on_paragraph(draft: SectionDraft, paragraph: Paragraph) -> None:
            nonlocal written
            written += paragraph.chars
            detail = generator_pb2.DraftParagraph(
                section_index=paragraph.section_index,
                paragraph_index=paragraph.index,
                text=paragraph.text,
                chars=paragraph.chars,
                guards=_guards(paragraph),
            )
            ctx.record(
                f"section {paragraph.section_index} paragraph {paragraph.index}: {paragraph.chars} chars",
                detail,
            )
            ctx.progress(written, total=total, unit="chars")

        drafter = Drafter(settings)
        for batch in plan_batches(tasks, self._max_batch):
            ctx.check_cancelled()
            ctx.log(f"drafting sections {[t.index for t in batch]} with {batch[0].writer.group}")
            for task, draft in zip(
                batch,
                drafter.draft(batch, on_paragraph=on_paragraph, check_cancelled=ctx.check_cancelled),
                strict=True,
            ):
                drafts[task.index] = section_record(draft, task.writer.index)
                store.write_bytes(
                    self._checkpoint_name(request, task.index),
                    json.dumps(drafts[task.index], ensure_ascii=False).encode(),
                    job_id=ctx.job_id,
                    role="checkpoint",
                )
        document = drafts_document(
            request.job_id, settings, [drafts[i] for i in range(len(request.sections))]
        )
        entry = store.write_bytes(
            request.output,
            json.dumps(document, ensure_ascii=False, indent=1).encode(),
            job_id=ctx.job_id,
            role="drafts",
            records=len(document["sections"]),
        )
        ctx.add_output(entry, "drafts")
        totals = document["totals"]
        ctx.set_metrics(**{k: v for k, v in totals.items() if isinstance(v, int | float)})


def section_record(draft: SectionDraft, index: object) -> dict:
    """One section's entry in the drafts artifact."""
    metrics = draft.metrics(index)
    return {
        "index": draft.index,
        "title": draft.title,
        "writer": draft.writer,
        "prompt": draft.prompt,
        "target_chars": draft.target_chars,
        "chars": draft.chars,
        "text": draft.text,
        "paragraphs": [
            {
                "index": p.index,
                "text": p.text,
                "chars": p.chars,
                "longest_copied_span": p.longest_copied_span,
                "overlap_ratio": round(p.overlap_ratio, 4),
                "resamples": p.resamples,
                "dropped_sentences": p.dropped_sentences,
            }
            for p in draft.paragraphs
        ],
        "metrics": {k: (round(v, 4) if isinstance(v, float) else v) for k, v in metrics.items()},
    }


def drafts_document(job_id: str, settings: SamplingSettings, sections: list[dict]) -> dict:
    """The drafts artifact: every section with its paragraphs and metrics, and essay-level totals."""
    target = sum(s["target_chars"] for s in sections)
    chars = sum(s["chars"] for s in sections)
    return {
        "format": DRAFTS_FORMAT,
        "job_id": job_id,
        "sampling": asdict(settings),
        "sections": sections,
        "totals": {
            "sections": len(sections),
            "paragraphs": sum(len(s["paragraphs"]) for s in sections),
            "target_chars": target,
            "chars": chars,
            "length_error": round((chars - target) / target, 4) if target else 0.0,
            "longest_copied_span": max((s["metrics"]["longest_copied_span"] for s in sections), default=0),
            "overlap_ratio": round(
                sum(s["metrics"]["overlap_ratio"] * s["chars"] for s in sections) / max(1, chars), 4
            ),
            "resamples": sum(s["metrics"]["resamples"] for s in sections),
            "dropped_sentences": sum(s["metrics"]["dropped_sentences"] for s in sections),
        },
    }
