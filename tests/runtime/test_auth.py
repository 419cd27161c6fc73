"""The bearer-token interceptor: calls without the token are UNAUTHENTICATED; health stays open."""

from __future__ import annotations

from collections.abc import Callable

import grpc
import pytest

from services.runtime import ServiceServer
from supil.client import health_status, list_services, open_channel
from supil.v1 import jobs_pb2, jobs_pb2_grpc

TOKEN = "s3cret-token-for-tests-0123456789"


def test_token_required_except_for_health(
    serve_service: Callable[..., tuple[ServiceServer, grpc.Channel]],
) -> None:
    server, with_token = serve_service("crawler", token=TOKEN)
    target = f"127.0.0.1:{server.port}"
    anonymous = open_channel(target)
    wrong = open_channel(target, token="not-the-token-0123456789")
    try:
        assert health_status(anonymous) == "SERVING"
        for channel in (anonymous, wrong):
            stub = jobs_pb2_grpc.JobServiceStub(channel)
            with pytest.raises(grpc.RpcError) as info:
                stub.ListJobs(jobs_pb2.ListJobsRequest())
            assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED
            assert "bearer token" in info.value.details()
            with pytest.raises(grpc.RpcError) as info:
                list(stub.WatchJob(jobs_pb2.WatchJobRequest(job_id="x")))
            assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED
            with pytest.raises(grpc.RpcError) as info:
                list_services(channel)
            assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED
        stub = jobs_pb2_grpc.JobServiceStub(with_token)
        assert list(stub.ListJobs(jobs_pb2.ListJobsRequest()).jobs) == []
        assert "supil.v1.CrawlerService" in list_services(with_token)
    finally:
        anonymous.close()
        wrong.close()
