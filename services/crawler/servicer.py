"""gRPC servicer of the crawler service (supil.v1.CrawlerService)."""

from __future__ import annotations

import grpc

from services.crawler.jobs import run_crawl
from services.crawler.profiles import profiles_from_request
from services.runtime import InvalidArgument, ServiceParts, validate_job_id
from supil.v1 import crawler_pb2, crawler_pb2_grpc


class CrawlerServicer(crawler_pb2_grpc.CrawlerServiceServicer):
    """supil.v1.CrawlerService: crawls essay-like web pages with Scrapy into a corpus artifact."""

    def __init__(self, parts: ServiceParts) -> None:
        self._parts = parts

    def CreateCrawlJob(
        self, request: crawler_pb2.CreateCrawlJobRequest, context: grpc.ServicerContext
    ) -> crawler_pb2.CreateCrawlJobResponse:
        validate_job_id(request.job_id)
        profiles = profiles_from_request(request)
        output = request.output or f"corpora/{request.job_id}.jsonl.zst"
        try:
            self._parts.store.path(output)
        except InvalidArgument as exc:
            raise InvalidArgument(f"output: {exc}") from None
        store = self._parts.store
        config = self._parts.config
        # The crawl process logs warnings and up; at DEBUG the service wants Scrapy's detail too.
        level = "DEBUG" if config.log_level.upper() == "DEBUG" else "WARNING"

        def crawl(ctx):
            run_crawl(
                ctx,
                store,
                profiles,
                output,
                http_cache=request.http_cache,
                log_format=config.log_format,
                log_level=level,
            )

        job = self._parts.runner.submit(request.job_id, "crawl", request, crawl)
        return crawler_pb2.CreateCrawlJobResponse(job=job)
