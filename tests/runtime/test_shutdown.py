"""SIGTERM and crashes: a job that was running reads FAILED (interrupted) after a restart, never RUNNING."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import grpc
import pytest

from supil.client import health_status, open_channel
from supil.v1 import jobs_pb2, jobs_pb2_grpc

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
State = jobs_pb2.Job.State


class JobServer:
    """tests/runtime/job_server.py as a real child process."""

    def __init__(self, workspace: Path, mode: str, grace: float = 2.0) -> None:
        self.port_file = workspace.parent / f"port-{time.monotonic_ns()}"
        env = dict(os.environ, SUPIL_GRACE_SECONDS=str(grace), PYTHONPATH=str(REPO))
        self.process = subprocess.Popen(
            [
                sys.executable,
                str(HERE / "job_server.py"),
                "--workspace",
                str(workspace),
                "--port",
                "0",
                "--port-file",
                str(self.port_file),
                "--job",
                mode,
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while not (self.port_file.exists() and self.port_file.read_text().strip()):
            assert self.process.poll() is None, self.process.stdout.read().decode()  # type: ignore[union-attr]
            assert time.monotonic() < deadline, "job server did not start"
            time.sleep(0.05)
        self.channel = open_channel(f"127.0.0.1:{int(self.port_file.read_text())}")
        self.jobs = jobs_pb2_grpc.JobServiceStub(self.channel)

    def job(self) -> jobs_pb2.Job:
        return self.jobs.GetJob(jobs_pb2.GetJobRequest(job_id="long-job")).job

    def wait_running(self) -> None:
        deadline = time.monotonic() + 10
        while not (self.job().state == State.STATE_RUNNING and self.job().progress.done >= 1):
            assert time.monotonic() < deadline
            time.sleep(0.05)

    def close(self) -> None:
        self.channel.close()
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    return tmp_path / "ws"


def test_sigterm_stops_running_job_cleanly(workspace: Path) -> None:
    server = JobServer(workspace, "cooperative")
    try:
        server.wait_running()
        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(timeout=15) == 0
        log = server.process.stdout.read().decode()  # type: ignore[union-attr]
        assert "health NOT_SERVING" in log and "stopped" in log
    finally:
        server.close()
    reborn = JobServer(workspace, "none")
    try:
        job = reborn.job()
        assert job.state == State.STATE_FAILED
        assert job.error.startswith("interrupted")
        assert job.end_time.seconds > 0
    finally:
        reborn.close()


def test_stubborn_job_does_not_hold_shutdown_past_grace(workspace: Path) -> None:
    server = JobServer(workspace, "stubborn", grace=1.0)
    try:
        server.wait_running()
        started = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(timeout=20) == 0
        assert time.monotonic() - started < 15
    finally:
        server.close()
    reborn = JobServer(workspace, "none")
    try:
        assert reborn.job().state == State.STATE_FAILED
    finally:
        reborn.close()


def test_killed_service_never_reports_a_running_job(workspace: Path) -> None:
    server = JobServer(workspace, "cooperative")
    try:
        server.wait_running()
        server.process.send_signal(signal.SIGKILL)
        server.process.wait(timeout=10)
    finally:
        server.close()
    reborn = JobServer(workspace, "none")
    try:
        job = reborn.job()
        assert job.state == State.STATE_FAILED
        assert "interrupted" in job.error
        events = [
            r.event for r in reborn.jobs.WatchJob(jobs_pb2.WatchJobRequest(job_id="long-job"), timeout=10)
        ]
        assert events[-1].job.state == State.STATE_FAILED
    finally:
        reborn.close()


def test_health_not_serving_during_graceful_stop(tmp_path: Path) -> None:
    from services.cleaner.server import create_server
    from tests.conftest import loopback_config

    server, port = create_server(loopback_config("cleaner", tmp_path / "ws"))
    server.start()
    channel = open_channel(f"127.0.0.1:{port}")
    try:
        assert health_status(channel) == "SERVING"
        server.health.enter_graceful_shutdown()
        assert health_status(channel) == "NOT_SERVING"
        assert health_status(channel, "supil.v1.CleanerService") == "NOT_SERVING"
    finally:
        server.stop(0.5)
        channel.close()
    with pytest.raises(grpc.RpcError):
        jobs_pb2_grpc.JobServiceStub(open_channel(f"127.0.0.1:{port}")).ListJobs(
            jobs_pb2.ListJobsRequest(), timeout=1
        )
