"""Each service as a real process (`python -m services.<name>`): health, reflection, honest UNIMPLEMENTED."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import grpc
import pytest

from services.runtime import ServiceServer
from supil.client import health_status, list_services, open_channel
from supil.local import SERVICE_NAMES, LocalServices
from supil.v1 import (
    cleaner_pb2,
    cleaner_pb2_grpc,
    crawler_pb2,
    crawler_pb2_grpc,
    generator_pb2,
    generator_pb2_grpc,
    retriever_pb2,
    retriever_pb2_grpc,
    trainer_pb2,
    trainer_pb2_grpc,
)

Serve = Callable[..., tuple[ServiceServer, grpc.Channel]]
API = {
    "crawler": "supil.v1.CrawlerService",
    "cleaner": "supil.v1.CleanerService",
    "retriever": "supil.v1.RetrieverService",
    "trainer": "supil.v1.TrainerService",
    "generator": "supil.v1.GeneratorService",
}


def test_all_five_start_as_processes_and_answer_health_and_reflection(tmp_path: Path) -> None:
    local = LocalServices(workspace=tmp_path / "ws")
    addresses = local.start()
    try:
        assert sorted(addresses) == sorted(SERVICE_NAMES)
        for name, address in addresses.items():
            channel = open_channel(address)
            try:
                assert health_status(channel) == "SERVING"
                assert health_status(channel, API[name]) == "SERVING"
                assert health_status(channel, "supil.v1.JobService") == "SERVING"
                served = list_services(channel)
                assert API[name] in served
                assert "supil.v1.JobService" in served
                assert "grpc.health.v1.Health" in served
            finally:
                channel.close()
    finally:
        codes = local.stop()
    assert codes == dict.fromkeys(SERVICE_NAMES, 0), "every service exits 0 on SIGTERM"


# Every domain RPC refuses a near-empty request with a clear error, never an empty success.
CALLS = [
    (
        "crawler",
        lambda ch: crawler_pb2_grpc.CrawlerServiceStub(ch).CreateCrawlJob(
            crawler_pb2.CreateCrawlJobRequest(job_id="j1")
        ),
    ),
    (
        "cleaner",
        lambda ch: cleaner_pb2_grpc.CleanerServiceStub(ch).CreateCleanJob(
            cleaner_pb2.CreateCleanJobRequest(job_id="j1")
        ),
    ),
    (
        "cleaner",
        lambda ch: cleaner_pb2_grpc.CleanerServiceStub(ch).CleanText(cleaner_pb2.CleanTextRequest(text="")),
    ),
    (
        "cleaner",
        lambda ch: cleaner_pb2_grpc.CleanerServiceStub(ch).SplitSentences(
            cleaner_pb2.SplitSentencesRequest(text="")
        ),
    ),
    (
        "retriever",
        lambda ch: retriever_pb2_grpc.RetrieverServiceStub(ch).Analyze(
            retriever_pb2.AnalyzeRequest(text="")  # "x" is analyzable since issue #5
        ),
    ),
    (
        "retriever",
        lambda ch: retriever_pb2_grpc.RetrieverServiceStub(ch).CreateIndexJob(
            retriever_pb2.CreateIndexJobRequest(job_id="j1")
        ),
    ),
    (
        "retriever",
        lambda ch: retriever_pb2_grpc.RetrieverServiceStub(ch).Search(retriever_pb2.SearchRequest(query="x")),
    ),
    (
        "retriever",
        lambda ch: retriever_pb2_grpc.RetrieverServiceStub(ch).CreateExportJob(
            retriever_pb2.CreateExportJobRequest(job_id="j1")
        ),
    ),
    (
        "trainer",
        lambda ch: trainer_pb2_grpc.TrainerServiceStub(ch).CreateTrainJob(
            trainer_pb2.CreateTrainJobRequest(job_id="j1")
        ),
    ),
    (
        "generator",
        lambda ch: generator_pb2_grpc.GeneratorServiceStub(ch).CreateDraftJob(
            generator_pb2.CreateDraftJobRequest(job_id="j1")
        ),
    ),
    (
        "generator",
        lambda ch: generator_pb2_grpc.GeneratorServiceStub(ch).GenerateParagraph(
            generator_pb2.GenerateParagraphRequest(text="x")
        ),
    ),
]


@pytest.mark.parametrize(("service", "call"), CALLS)
def test_near_empty_requests_are_refused(
    serve_service: Serve, service: str, call: Callable[[grpc.Channel], object]
) -> None:
    _, channel = serve_service(service)
    with pytest.raises(grpc.RpcError) as info:
        call(channel)
    assert info.value.code() in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND)
    assert info.value.details() and "Traceback" not in info.value.details()


@pytest.mark.parametrize(
    "call",
    [
        lambda ch: crawler_pb2_grpc.CrawlerServiceStub(ch).CreateCrawlJob(
            crawler_pb2.CreateCrawlJobRequest(job_id="../x")
        ),
        lambda ch: crawler_pb2_grpc.CrawlerServiceStub(ch).CreateCrawlJob(
            crawler_pb2.CreateCrawlJobRequest()
        ),
    ],
)
def test_bad_job_id_is_invalid_argument(serve_service: Serve, call: Callable[[grpc.Channel], object]) -> None:
    _, channel = serve_service("crawler")
    with pytest.raises(grpc.RpcError) as info:
        call(channel)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "job_id" in info.value.details()


def test_services_stop_when_their_parent_is_killed(tmp_path: Path) -> None:
    """`supil services up` killed with SIGKILL leaves no orphaned service behind."""
    import os
    import subprocess
    import sys
    import time

    env = dict(os.environ, COLUMNS="200", NO_COLOR="1")
    parent = subprocess.Popen(
        [sys.executable, "-m", "supil.cli", "services", "up", "cleaner", "--workspace", str(tmp_path / "ws")],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    assert parent.stdout is not None
    lines = []
    while not any("Ctrl-C" in line for line in lines):
        line = parent.stdout.readline()
        assert line, "".join(lines)
        lines.append(line)
    children = [int(p) for p in os.listdir("/proc") if p.isdigit() and _parent_of(int(p)) == parent.pid]
    assert children, "services up started no child"
    parent.kill()
    parent.wait()
    deadline = time.monotonic() + 20
    while any(_alive(pid) for pid in children):
        assert time.monotonic() < deadline, "a service outlived its killed parent"
        time.sleep(0.1)


def _parent_of(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return int(fh.read().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return None


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False
