"""The essay job over gRPC: builds each stage's request from the spec and follows its job."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass

import grpc

from supil.client import error_text, follow_job, open_channel
from supil.spec import EssaySpec
from supil.v1 import crawler_pb2, crawler_pb2_grpc, jobs_pb2

logger = logging.getLogger(__name__)

STAGES = ("crawl", "clean", "index", "export", "pretrain", "train", "draft", "assemble")


class StageError(RuntimeError):
    """A stage could not finish; the message names the stage, the cause and what to change."""

    def __init__(self, stage: str, cause: str, advice: str = "") -> None:
        self.stage = stage
        self.cause = cause
        self.advice = advice
        super().__init__(f"stage {stage}: {cause}" + (f"\n  {advice}" if advice else ""))


@dataclass(frozen=True)
class SectionPlan:
    """One section as the job will write it."""

    index: int
    title: str
    query: str
    writer: str
    target_chars: int


def plan_sections(spec: EssaySpec) -> list[SectionPlan]:
    """Sections with their character targets and the writer (one per distinct query) that drafts each."""
    queries = list(dict.fromkeys(s.query for s in spec.sections))
    targets = spec.section_targets()
    return [
        SectionPlan(i, s.title, s.query, f"writer-{queries.index(s.query) + 1}", targets[i])
        for i, s in enumerate(spec.sections)
    ]


def stage_job_id(spec: EssaySpec, stage: str, request_fields: bytes) -> str:
    """A job_id that is stable for the same essay, stage and settings (so re-runs re-attach)."""
    digest = hashlib.sha256(request_fields).hexdigest()[:12]
    return f"{spec.essay.name}.{stage}.{digest}"


def crawl_request(spec: EssaySpec) -> crawler_pb2.CreateCrawlJobRequest:
    """The crawl stage's request: the spec's site profiles, writing the job's raw corpus."""
    sites = []
    for site in spec.crawl.sites:
        profile = crawler_pb2.SiteProfile(
            name=site.name,
            builtin=site.builtin or "",
            start_urls=site.start_urls,
            allowed_domains=site.allowed_domains,
            article_pattern=site.article_pattern or "",
            follow_pattern=site.follow_pattern or "",
            selectors=crawler_pb2.Selectors(
                title=site.title_selector or "",
                body=site.body_selector or "",
                author=site.author_selector or "",
                published=site.date_selector or "",
                tags=site.tags_selector or "",
            ),
            max_pages=site.max_pages,
            max_depth=site.max_depth,
            allow_private=site.allow_private,
        )
        profile.politeness.obey_robots_txt = site.obey_robots_txt
        if site.download_delay is not None:
            profile.politeness.download_delay_seconds = site.download_delay
        if site.concurrency_per_domain is not None:
            profile.politeness.concurrent_requests_per_domain = site.concurrency_per_domain
        sites.append(profile)
    request = crawler_pb2.CreateCrawlJobRequest(
        sites=sites, output=f"jobs/{spec.essay.name}/corpus/raw.jsonl.zst"
    )
    request.job_id = stage_job_id(spec, "crawl", request.SerializeToString(deterministic=True))
    return request


def run_essay(
    spec: EssaySpec,
    addresses: dict[str, str],
    token: str | None = None,
    on_event: Callable[[str, jobs_pb2.JobEvent], None] | None = None,
) -> None:
    """Run the essay job's stages in order. Today only the crawl stage is wired; the services say
    (UNIMPLEMENTED) which capability is still missing, and that ends the run with a StageError."""
    if not spec.crawl.sites:
        raise StageError("crawl", "the spec has no [[crawl.sites]]", "add at least one site profile")
    channel = open_channel(addresses["crawler"], token)
    try:
        request = crawl_request(spec)
        try:
            job = crawler_pb2_grpc.CrawlerServiceStub(channel).CreateCrawlJob(request).job
        except grpc.RpcError as exc:
            raise StageError(
                "crawl", f"crawler at {addresses['crawler']} answered {error_text(exc)}"
            ) from None
        final = follow_job(channel, job.job_id, (lambda e: on_event("crawl", e)) if on_event else None)
        if final.state != jobs_pb2.Job.STATE_SUCCEEDED:
            raise StageError(
                "crawl", f"job {final.job_id} ended {jobs_pb2.Job.State.Name(final.state)}: {final.error}"
            )
        raise StageError("clean", "the rest of the pipeline is not wired into `supil run` yet (issue #8)")
    finally:
        channel.close()
