"""The crawl job: runs the crawl process, streams its progress and refusals, records the corpus."""

from __future__ import annotations

import json
import logging
import multiprocessing
import shutil
import time
from pathlib import Path

from services.crawler.process import CLEAN_MARKER, crawl_main, plan_fields
from services.crawler.profiles import Profile
from services.crawler.scrapy_project.journal import Journal, compile_corpus
from services.crawler.scrapy_project.plan import CrawlPlan
from services.runtime import ArtifactStore, FailedPrecondition, JobCancelled, JobContext, SupilError
from supil.v1 import crawler_pb2

logger = logging.getLogger(__name__)

STOP_GRACE_S = 15.0  # after a stop order, how long the crawl may take to close before it is terminated
POLL_S = 0.2


def crawl_workdir(store: ArtifactStore, job_id: str) -> Path:
    """The job's folder in the workspace: journal, Scrapy JOBDIR, markers."""
    return store.state_dir / "crawler" / job_id


def run_crawl(
    ctx: JobContext,
    store: ArtifactStore,
    profiles: list[Profile],
    output: str,
    *,
    http_cache: bool = False,
    log_format: str = "auto",
    log_level: str = "WARNING",
) -> None:
    """The job function of CreateCrawlJob."""
    workdir = crawl_workdir(store, ctx.job_id)
    workdir.mkdir(parents=True, exist_ok=True)
    plan = CrawlPlan(
        job_id=ctx.job_id,
        workspace=str(store.root),
        output=output,
        workdir=str(workdir),
        profiles=[p.to_dict() for p in profiles],
        http_cache=http_cache,
        log_format=log_format,
        log_level=log_level,
    )
    clean = workdir / CLEAN_MARKER
    if plan.jobdir.exists() and not clean.exists():
        # The last attempt was killed: its queue files may be torn. The journal has every item it
        # kept, and listings are cheap to fetch again.
        ctx.log("previous crawl process was killed; starting its request queue afresh (kept items stay)")
        shutil.rmtree(plan.jobdir)
    clean.unlink(missing_ok=True)
    plan.result_path.unlink(missing_ok=True)
    already = len(Journal(plan.journal).read().docs)
    if already:
        ctx.log(f"resuming: {already} documents already kept by an earlier attempt")

    spawn = multiprocessing.get_context("spawn")
    parent_conn, child_conn = spawn.Pipe()
    process = spawn.Process(
        target=crawl_main, args=(plan_fields(plan), child_conn), name=f"crawl-{ctx.job_id}"
    )
    process.start()
    child_conn.close()
    ctx.log(f"crawl process started (pid {process.pid})")
    counters: dict[str, float] = {}
    stop_sent = 0.0
    try:
        while True:
            try:
                if parent_conn.poll(POLL_S):
                    message = parent_conn.recv()
                    counters = _handle(ctx, message, counters)
                    continue
            except (EOFError, OSError):
                break  # the crawl process has closed its end: it is exiting
            if ctx.cancelled and not stop_sent:
                stop_sent = time.monotonic()
                try:
                    parent_conn.send("stop")
                except OSError:
                    pass
            if stop_sent and time.monotonic() - stop_sent > STOP_GRACE_S and process.is_alive():
                logger.warning("crawl %s did not stop in %.0fs; terminating it", ctx.job_id, STOP_GRACE_S)
                process.terminate()
                stop_sent = time.monotonic()
            if not process.is_alive():
                break
    finally:
        process.join(STOP_GRACE_S)
        if process.is_alive():
            process.kill()
            process.join()
        try:  # whatever the process sent just before it exited
            while parent_conn.poll():
                counters = _handle(ctx, parent_conn.recv(), counters)
        except (EOFError, OSError):
            pass
        parent_conn.close()
    _finish(ctx, store, plan, process.exitcode, counters)


def _handle(ctx: JobContext, message: dict, counters: dict[str, float]) -> dict[str, float]:
    kind = message.get("type")
    if kind == "refused":
        ctx.record(
            f"refused {message['url']}: {message['reason']}",
            crawler_pb2.RefusedUrl(url=message["url"], reason=message["reason"]),
        )
        return counters
    if kind in ("progress", "closed"):
        counters = message["counters"]
        pages, kept = int(counters.get("pages", 0)), int(counters.get("kept", 0))
        text = f"{pages} pages fetched, {kept} documents kept"
        if kind == "closed":
            text += f" (crawl closed: {message['reason']})"
        ctx.progress(pages, unit="pages", message=text, counters=counters)
    return counters


def _finish(
    ctx: JobContext, store: ArtifactStore, plan: CrawlPlan, exitcode: int | None, counters: dict
) -> None:
    result = None
    if plan.result_path.exists():
        result = json.loads(plan.result_path.read_text(encoding="utf-8"))
    if result is None:
        # The crawl process died before writing the corpus: write what its journal holds.
        entry = compile_corpus(store, plan.journal, plan.output, plan.job_id)
        reason = f"crawl process exited with code {exitcode}"
    else:
        entry = store.entry(plan.output)
        reason = result["reason"]
    ctx.partial = reason != "finished"
    ctx.add_output(entry, "corpus")
    errors = sum(v for k, v in counters.items() if k.startswith("errors."))
    ctx.set_metrics(
        documents=entry.records,
        pages=counters.get("pages", 0),
        duplicates=counters.get("duplicates", 0),
        refused=counters.get("refused", 0),
        errors=errors,
        bytes=counters.get("bytes", 0),
    )
    if ctx.cancelled:
        raise JobCancelled()
    if reason != "finished":
        raise SupilError(
            f"crawl stopped early ({reason}); {entry.records} documents kept in {entry.name} (partial); "
            "submit the same request with the same job_id to resume"
        )
    if entry.records == 0:
        raise FailedPrecondition(
            f"the crawl kept no documents: {int(counters.get('pages', 0))} pages fetched, "
            f"{int(counters.get('refused', 0))} URLs refused, {int(errors)} errors; "
            "check the profile's start URLs and patterns (refusals are in the job's RECORD events)"
        )
    shutil.rmtree(plan.workdir, ignore_errors=True)  # the corpus holds everything now
