"""Jobs through the real JobService on 127.0.0.1: watch, re-attach, cancel, idempotency, persistence."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import grpc
import pytest

from services.runtime import (
    AlreadyExists,
    ArtifactStore,
    InvalidArgument,
    JobContext,
    JobRunner,
    ServiceServer,
)
from supil.client import follow_job
from supil.v1 import generator_pb2, jobs_pb2, jobs_pb2_grpc

State = jobs_pb2.Job.State
Serve = Callable[..., tuple[ServiceServer, grpc.Channel]]


def request(job_id: str, note: str = "") -> jobs_pb2.GetJobRequest:
    """Any message serves as a job's request for the runner; its bytes make the digest."""
    return jobs_pb2.GetJobRequest(job_id=job_id + note)


def gated_counter(steps: int, gate: threading.Event | None = None) -> Callable[[JobContext], None]:
    """A job that reports `steps` progress events, the first after the gate opens."""

    def run(ctx: JobContext) -> None:
        if gate is not None:
            gate.wait(10)
        for i in range(1, steps + 1):
            ctx.check_cancelled()
            ctx.progress(i, total=steps, unit="steps", counters={"square": i * i})
        ctx.set_metrics(steps=steps)

    return run


def until_cancelled(ticks: list[int]) -> Callable[[JobContext], None]:
    def run(ctx: JobContext) -> None:
        while not ctx.wait_cancelled(0.01):
            ticks.append(1)
            ctx.progress(len(ticks), unit="ticks")
        ctx.check_cancelled()

    return run


def watch_all(channel: grpc.Channel, job_id: str, after: int = 0) -> list[jobs_pb2.JobEvent]:
    stub = jobs_pb2_grpc.JobServiceStub(channel)
    return [
        r.event
        for r in stub.WatchJob(jobs_pb2.WatchJobRequest(job_id=job_id, after_sequence=after), timeout=20)
    ]


def test_two_watchers_get_the_same_events(serve_service: Serve) -> None:
    server, channel = serve_service("cleaner")
    gate = threading.Event()
    server.runner.submit("job-a", "test", request("job-a"), gated_counter(50, gate))
    results: dict[int, list[jobs_pb2.JobEvent]] = {}

    def watcher(slot: int) -> None:
        results[slot] = watch_all(channel, "job-a")

    threads = [threading.Thread(target=watcher, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    gate.set()
    for t in threads:
        t.join(20)
    first, second = results[0], results[1]
    assert [e.SerializeToString(deterministic=True) for e in first] == [
        e.SerializeToString(deterministic=True) for e in second
    ]
    assert [e.sequence for e in first] == list(range(1, len(first) + 1))
    progress = [e.job.progress.done for e in first if e.kind == jobs_pb2.JobEvent.KIND_PROGRESS]
    assert progress == list(range(1, 51))
    assert first[-1].kind == jobs_pb2.JobEvent.KIND_STATE
    assert first[-1].job.state == State.STATE_SUCCEEDED
    assert first[-1].job.metrics["steps"] == 50
    assert first[-1].job.progress.counters["square"] == 2500


def test_client_that_disconnects_reattaches_and_sees_the_end(serve_service: Serve) -> None:
    server, channel = serve_service("retriever")
    release = threading.Event()

    def two_phase(ctx: JobContext) -> None:
        ctx.progress(1, unit="phase")
        release.wait(10)
        ctx.progress(2, unit="phase")

    server.runner.submit("job-b", "test", request("job-b"), two_phase)
    stub = jobs_pb2_grpc.JobServiceStub(channel)
    call = stub.WatchJob(jobs_pb2.WatchJobRequest(job_id="job-b"))
    seen = []
    for response in call:
        seen.append(response.event)
        if response.event.kind == jobs_pb2.JobEvent.KIND_PROGRESS:
            break
    call.cancel()  # the client goes away while the job runs on
    release.set()
    later: list[jobs_pb2.JobEvent] = []
    final = follow_job(channel, "job-b", later.append, after_sequence=seen[-1].sequence)
    assert final.state == State.STATE_SUCCEEDED
    assert [e.sequence for e in seen + later] == list(range(1, len(seen) + len(later) + 1))
    assert later[-1].job.progress.done == 2


def test_cancel_job_stops_work(serve_service: Serve) -> None:
    server, channel = serve_service("trainer")
    ticks: list[int] = []
    server.runner.submit("job-c", "test", request("job-c"), until_cancelled(ticks))
    stub = jobs_pb2_grpc.JobServiceStub(channel)
    while not ticks:
        threading.Event().wait(0.01)
    stub.CancelJob(jobs_pb2.CancelJobRequest(job_id="job-c"))
    final = server.runner.wait("job-c", timeout=10)
    assert final.state == State.STATE_CANCELLED
    count = len(ticks)
    threading.Event().wait(0.1)
    assert len(ticks) == count
    assert stub.GetJob(jobs_pb2.GetJobRequest(job_id="job-c")).job.state == State.STATE_CANCELLED
    # Cancelling a finished job changes nothing.
    again = stub.CancelJob(jobs_pb2.CancelJobRequest(job_id="job-c")).job
    assert again.state == State.STATE_CANCELLED


def test_cancel_queued_job_never_runs(tmp_path: Path) -> None:
    runner = JobRunner("test", tmp_path, max_workers=1)
    gate = threading.Event()
    ran: list[str] = []
    runner.submit("blocker", "test", request("blocker"), lambda ctx: gate.wait(10))
    runner.submit("queued", "test", request("queued"), lambda ctx: ran.append("queued"))
    assert runner.get("queued").state == State.STATE_QUEUED
    runner.cancel("queued")
    gate.set()
    assert runner.wait("queued", 10).state == State.STATE_CANCELLED
    assert ran == []
    runner.shutdown(1)


def test_submission_is_idempotent_on_job_id(tmp_path: Path) -> None:
    runner = JobRunner("test", tmp_path)
    first = runner.submit("same", "test", request("same"), gated_counter(3))
    runner.wait("same", 10)
    again = runner.submit("same", "test", request("same"), gated_counter(3))
    assert again.attempt == first.attempt == 1
    assert again.state == State.STATE_SUCCEEDED
    with pytest.raises(AlreadyExists, match="different request"):
        runner.submit("same", "test", request("same", note="-changed"), gated_counter(3))
    runner.shutdown(1)


def test_failed_job_reports_cause_and_can_run_again(tmp_path: Path) -> None:
    runner = JobRunner("test", tmp_path)
    attempts: list[int] = []

    def flaky(ctx: JobContext) -> None:
        attempts.append(ctx.attempt)
        if ctx.attempt == 1:
            raise InvalidArgument("corpus 'x' has no documents")

    runner.submit("flaky", "test", request("flaky"), flaky)
    failed = runner.wait("flaky", 10)
    assert failed.state == State.STATE_FAILED
    assert failed.error == "corpus 'x' has no documents"
    retried = runner.submit("flaky", "test", request("flaky"), flaky)
    assert retried.attempt == 2
    assert runner.wait("flaky", 10).state == State.STATE_SUCCEEDED
    assert attempts == [1, 2]

    runner.submit("crash", "test", request("crash"), lambda ctx: 1 / 0)
    crashed = runner.wait("crash", 10)
    assert crashed.state == State.STATE_FAILED
    assert crashed.error == "internal error (ZeroDivisionError); see the service log"
    runner.shutdown(1)


def test_outputs_and_records_reach_watchers(serve_service: Serve, tmp_path: Path) -> None:
    server, channel = serve_service("generator")

    def draft(ctx: JobContext) -> None:
        store = ArtifactStore(tmp_path / "ws")
        entry = store.write_bytes("drafts/a.txt", "문단".encode(), job_id=ctx.job_id, records=1)
        ctx.record(
            "paragraph 1",
            generator_pb2.DraftParagraph(section_index=0, paragraph_index=0, text="문단", chars=2),
        )
        ctx.add_output(entry, role="drafts")

    server.runner.submit("job-d", "draft", request("job-d"), draft)
    events = watch_all(channel, "job-d")
    records = [e for e in events if e.kind == jobs_pb2.JobEvent.KIND_RECORD]
    paragraph = generator_pb2.DraftParagraph()
    assert records[0].detail.Unpack(paragraph)
    assert (paragraph.text, paragraph.chars) == ("문단", 2)
    final = events[-1].job
    assert [(o.name, o.role, o.records, o.job_id) for o in final.outputs] == [
        ("drafts/a.txt", "drafts", 1, "job-d")
    ]
    assert len(final.outputs[0].sha256) == 64


def test_unknown_job_and_bad_arguments(serve_service: Serve) -> None:
    _, channel = serve_service("crawler")
    stub = jobs_pb2_grpc.JobServiceStub(channel)
    with pytest.raises(grpc.RpcError) as info:
        stub.GetJob(jobs_pb2.GetJobRequest(job_id="nope"))
    assert info.value.code() == grpc.StatusCode.NOT_FOUND
    assert "nope" in info.value.details()
    with pytest.raises(grpc.RpcError) as info:
        list(stub.WatchJob(jobs_pb2.WatchJobRequest(job_id="nope")))
    assert info.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.RpcError) as info:
        stub.ListJobs(jobs_pb2.ListJobsRequest(page_size=5000))
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(grpc.RpcError) as info:
        stub.GetJob(jobs_pb2.GetJobRequest(job_id=""))
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_list_jobs_pages_and_filters(serve_service: Serve) -> None:
    server, channel = serve_service("cleaner")
    for i in range(5):
        server.runner.submit(f"j{i}", "even" if i % 2 == 0 else "odd", request(f"j{i}"), gated_counter(1))
        server.runner.wait(f"j{i}", 10)
    stub = jobs_pb2_grpc.JobServiceStub(channel)
    page1 = stub.ListJobs(jobs_pb2.ListJobsRequest(page_size=2))
    page2 = stub.ListJobs(jobs_pb2.ListJobsRequest(page_size=2, page_token=page1.next_page_token))
    page3 = stub.ListJobs(jobs_pb2.ListJobsRequest(page_size=2, page_token=page2.next_page_token))
    ids = [j.job_id for p in (page1, page2, page3) for j in p.jobs]
    assert sorted(ids) == [f"j{i}" for i in range(5)] and len(ids) == 5
    assert page3.next_page_token == ""
    odd = stub.ListJobs(jobs_pb2.ListJobsRequest(kind="odd"))
    assert sorted(j.job_id for j in odd.jobs) == ["j1", "j3"]
    running = stub.ListJobs(jobs_pb2.ListJobsRequest(states=[State.STATE_RUNNING]))
    assert list(running.jobs) == []


@pytest.mark.parametrize("job_id", ["", "-starts-with-dash", "has space", "a/b", "x" * 129])
def test_bad_job_ids_refused(tmp_path: Path, job_id: str) -> None:
    runner = JobRunner("test", tmp_path)
    with pytest.raises(InvalidArgument):
        runner.submit(job_id, "test", request("r"), gated_counter(1))


def test_finished_jobs_survive_a_restart(tmp_path: Path) -> None:
    runner = JobRunner("test", tmp_path)
    runner.submit("done", "test", request("done"), gated_counter(2))
    runner.wait("done", 10)
    runner.shutdown(1)
    reborn = JobRunner("test", tmp_path)
    job = reborn.get("done")
    assert job.state == State.STATE_SUCCEEDED
    assert job.metrics["steps"] == 2
    events = list(reborn.watch("done"))
    assert events[-1].job.state == State.STATE_SUCCEEDED
