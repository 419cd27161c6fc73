"""gRPC servicer of the crawler service (supil.v1.CrawlerService)."""

from __future__ import annotations

import grpc

from services.runtime import ServiceParts, Unimplemented, validate_job_id
from supil.v1 import crawler_pb2, crawler_pb2_grpc


class CrawlerServicer(crawler_pb2_grpc.CrawlerServiceServicer):
    """supil.v1.CrawlerService: crawls essay-like web pages with Scrapy into a corpus artifact."""

    def __init__(self, parts: ServiceParts) -> None:
        self._parts = parts

    def CreateCrawlJob(
        self, request: crawler_pb2.CreateCrawlJobRequest, context: grpc.ServicerContext
    ) -> crawler_pb2.CreateCrawlJobResponse:
        validate_job_id(request.job_id)
        raise Unimplemented(
            "crawler: CreateCrawlJob is not built yet (the Scrapy crawl jobs over site profiles, issue #3); nothing was done"
        )
