"""Crawl throughput: pages/s through the crawler service, beside bare `scrapy crawl` of the same spider.

The site is the demo-site server (`supil demo-site --corpus`, in its own process) publishing documents
composed from the shared corpus (../shared/corpus/koconovel): paragraphs sampled with a fixed seed,
a few per document, so every page is distinct real Korean prose. Both runs crawl the same site with
the same profile (robots.txt on, no delay, 16 concurrent requests) and the same plan; the service run
adds gRPC, the job runner, the spawned crawl process and its progress stream.

    python bench/crawl.py [--docs 2000] [--rounds 2] [--corpus ../shared/corpus/koconovel/koconovel.jsonl]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.shared_corpus import DEFAULT_CORPUS  # noqa: E402
from services.crawler.profiles import profiles_from_request  # noqa: E402
from services.crawler.scrapy_project.plan import PLAN_ENV, CrawlPlan  # noqa: E402
from services.crawler.server import create_server  # noqa: E402
from services.runtime import ArtifactStore, ServiceConfig  # noqa: E402
from supil.client import follow_job, open_channel  # noqa: E402
from supil.v1 import crawler_pb2, crawler_pb2_grpc, jobs_pb2  # noqa: E402


def compose_corpus(source: Path, docs: int, out: Path, seed: int = 42) -> int:
    """Write `docs` documents of 3-8 paragraphs sampled from source; returns total characters."""
    works = [json.loads(line) for line in source.read_text(encoding="utf-8").splitlines() if line.strip()]
    paragraphs = [
        (w.get("author", ""), p.strip()) for w in works for p in w["text"].split("\n") if len(p.strip()) > 40
    ]
    rng = random.Random(seed)
    chars = 0
    with out.open("w", encoding="utf-8") as fh:
        for i in range(docs):
            picked = rng.sample(paragraphs, rng.randint(3, 8))
            text = "\n".join(p for _, p in picked)
            chars += len(text)
            record = {"title": f"합성 수필 {i + 1}", "author": picked[0][0], "text": text, "tags": ["소설"]}
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")
    return chars


def start_site(corpus: Path) -> tuple[subprocess.Popen[str], str]:
    """`supil demo-site --corpus` in its own process; returns it and the start URL."""
    process = subprocess.Popen(
        [sys.executable, "-m", "supil.cli", "demo-site", "--port", "0", "--corpus", str(corpus)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
        env=dict(os.environ, COLUMNS="400", NO_COLOR="1"),
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    match = re.search(r"start URL (\S+)", line)
    if not match:
        process.kill()
        raise SystemExit(f"demo site did not start: {line!r}")
    return process, match.group(1)


def profile(start_url: str) -> crawler_pb2.SiteProfile:
    """The benchmark's site profile: the demo built-in's selectors, no politeness delay."""
    site = crawler_pb2.SiteProfile(name="bench", builtin="demo", start_urls=[start_url], max_pages=100_000)
    site.politeness.download_delay_seconds = 0
    site.politeness.autothrottle = False
    site.politeness.concurrent_requests_per_domain = 16
    return site


def run_service(start_url: str, workspace: Path, job_id: str) -> tuple[float, int, int]:
    """(seconds, pages, documents) for one crawl through the gRPC service."""
    server, port = create_server(ServiceConfig(service="crawler", workspace=workspace, log_level="WARNING"))
    server.start()
    channel = open_channel(f"127.0.0.1:{port}")
    try:
        request = crawler_pb2.CreateCrawlJobRequest(
            job_id=job_id, sites=[profile(start_url)], output=f"{job_id}.jsonl.zst"
        )
        began = time.perf_counter()
        crawler_pb2_grpc.CrawlerServiceStub(channel).CreateCrawlJob(request)
        job = follow_job(channel, job_id)
        seconds = time.perf_counter() - began
        if job.state != jobs_pb2.Job.STATE_SUCCEEDED:
            raise SystemExit(f"service crawl failed: {job.error}")
        return seconds, int(job.progress.counters["pages"]), int(job.metrics["documents"])
    finally:
        channel.close()
        server.stop(1.0)


def run_bare(start_url: str, workspace: Path, job_id: str) -> tuple[float, int, int]:
    """(seconds, pages, documents) for `scrapy crawl essay` with the same plan, in a fresh process."""
    request = crawler_pb2.CreateCrawlJobRequest(job_id=job_id, sites=[profile(start_url)])
    store = ArtifactStore(workspace)
    plan = CrawlPlan(
        job_id=job_id,
        workspace=str(store.root),
        output=f"{job_id}.jsonl.zst",
        workdir=str(store.state_dir / "crawler" / job_id),
        profiles=[p.to_dict() for p in profiles_from_request(request)],
    )
    Path(plan.workdir).mkdir(parents=True, exist_ok=True)
    plan_file = workspace / f"{job_id}.plan.json"
    plan.save(plan_file)
    env = dict(os.environ, PYTHONPATH=str(REPO), **{PLAN_ENV: str(plan_file)})
    began = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "scrapy", "crawl", "essay"],
        cwd=REPO / "services" / "crawler",
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    seconds = time.perf_counter() - began
    result = json.loads(plan.result_path.read_text(encoding="utf-8"))
    return seconds, int(result["pages"]), int(result["records"])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--docs", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    if not args.corpus.exists():
        raise SystemExit(f"shared corpus not found at {args.corpus}; pass --corpus")
    with tempfile.TemporaryDirectory(prefix="supil-bench-crawl-") as tmp:
        tmp_path = Path(tmp)
        corpus = tmp_path / "site.jsonl"
        chars = compose_corpus(args.corpus, args.docs, corpus)
        site, start_url = start_site(corpus)
        try:
            print(
                f"site: {args.docs} documents composed from {args.corpus.name} (seed 42, 3-8 paragraphs each, "
                f"{chars:,} characters), served by `supil demo-site --corpus` in its own process"
            )
            service, bare = [], []
            for r in range(args.rounds):
                # Alternate the order so neither run always gets the warmer machine.
                order = [("service", run_service, service), ("bare", run_bare, bare)]
                for name, fn, results in order if r % 2 == 0 else order[::-1]:
                    seconds, pages, docs = fn(start_url, tmp_path / f"ws-{name}-{r}", f"{name}-{r}")
                    results.append((pages / seconds, seconds, pages, docs))
                    print(
                        f"  round {r + 1} {name:7}: {pages} pages, {docs} documents in {seconds:.2f} s = {pages / seconds:.0f} pages/s"
                    )
        finally:
            site.terminate()
            site.wait(10)
    best_service, best_bare = max(service), max(bare)
    print(f"{'':24}{'pages/s':>10}{'pages':>8}{'docs':>7}{'seconds':>9}")
    print(
        f"{'bare scrapy crawl':24}{best_bare[0]:>10.0f}{best_bare[2]:>8}{best_bare[3]:>7}{best_bare[1]:>9.2f}"
    )
    print(
        f"{'through the service':24}{best_service[0]:>10.0f}{best_service[2]:>8}{best_service[3]:>7}{best_service[1]:>9.2f}"
    )
    print(
        f"service / bare: {best_service[0] / best_bare[0]:.2f}x (best of {args.rounds} rounds each; goal >= 300 pages/s and >= 0.9x)"
    )


if __name__ == "__main__":
    main()
