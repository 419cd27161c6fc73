"""Benchmark: job progress delivery over WatchJob streams vs polling GetJob, through a real server.

Prints, for the same job (N progress events) in the same run:
  - events delivered per second to 1 and 8 concurrent WatchJob streams,
  - the baseline: a client polling GetJob every 50 ms (how many progress updates it sees, and
    how late it learns that the job ended).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from pathlib import Path

from services.cleaner.server import create_server
from services.runtime import JobContext, ServiceConfig
from supil.client import open_channel
from supil.v1 import jobs_pb2, jobs_pb2_grpc

TERMINAL = {jobs_pb2.Job.STATE_SUCCEEDED, jobs_pb2.Job.STATE_FAILED, jobs_pb2.Job.STATE_CANCELLED}


def make_job(events: int, pace_s: float, done_at: dict[str, float], gate: threading.Event | None = None):
    def run(ctx: JobContext) -> None:
        if gate is not None:
            gate.wait()
        for i in range(1, events + 1):
            ctx.progress(i, total=events, unit="steps")
            if pace_s:
                time.sleep(pace_s)
        done_at[ctx.job_id] = time.perf_counter()

    return run


def watch(address: str, job_id: str, out: list[float]) -> None:
    channel = open_channel(address)
    stub = jobs_pb2_grpc.JobServiceStub(channel)
    count = 0
    for response in stub.WatchJob(jobs_pb2.WatchJobRequest(job_id=job_id)):
        count += response.event.kind == jobs_pb2.JobEvent.KIND_PROGRESS
    out.extend([time.perf_counter(), count])
    channel.close()


def poll(address: str, job_id: str, out: list[float], interval: float = 0.05) -> None:
    channel = open_channel(address)
    stub = jobs_pb2_grpc.JobServiceStub(channel)
    seen = set()
    while True:
        job = stub.GetJob(jobs_pb2.GetJobRequest(job_id=job_id)).job
        seen.add(job.progress.done)
        if job.state in TERMINAL:
            break
        time.sleep(interval)
    out.extend([time.perf_counter(), len(seen)])
    channel.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=5000, help="progress events per job")
    parser.add_argument("--paced-events", type=int, default=200, help="events in the paced (1 ms apart) job")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        config = ServiceConfig(service="cleaner", port=0, workspace=Path(tmp), grace_seconds=1)
        server, port = create_server(config)
        server.start()
        address = f"127.0.0.1:{port}"
        done_at: dict[str, float] = {}
        try:
            print(
                f"input: one job emitting {args.events} progress events as fast as it can; 1 and 8 watchers"
            )
            for watchers in (1, 8):
                job_id = f"burst-{watchers}"
                results: list[list[float]] = [[] for _ in range(watchers)]
                gate = threading.Event()

                server.runner.submit(
                    job_id,
                    "bench",
                    jobs_pb2.GetJobRequest(job_id=job_id),
                    make_job(args.events, 0, done_at, gate),
                )
                threads = [threading.Thread(target=watch, args=(address, job_id, r)) for r in results]
                for t in threads:
                    t.start()
                time.sleep(0.3)
                start = time.perf_counter()
                gate.set()
                for t in threads:
                    t.join()
                elapsed = max(r[0] for r in results) - start
                delivered = sum(r[1] for r in results)
                print(
                    f"  WatchJob x{watchers}: {delivered:>7} progress events in {elapsed:.3f}s = {delivered / elapsed:,.0f} events/s"
                )

            print(
                f"input: a job emitting {args.paced_events} progress events 1 ms apart; watcher vs 50 ms GetJob poller"
            )
            lags = {"watch": [], "poll": []}
            seen = {"watch": [], "poll": []}
            for round_ in range(3):
                job_id = f"paced-{round_}"
                w_out: list[float] = []
                p_out: list[float] = []
                server.runner.submit(
                    job_id,
                    "bench",
                    jobs_pb2.GetJobRequest(job_id=job_id),
                    make_job(args.paced_events, 0.001, done_at),
                )
                threads = [
                    threading.Thread(target=watch, args=(address, job_id, w_out)),
                    threading.Thread(target=poll, args=(address, job_id, p_out)),
                ]
                for t in threads:
                    t.start()
                for t in threads:
                    t.join()
                lags["watch"].append(w_out[0] - done_at[job_id])
                lags["poll"].append(p_out[0] - done_at[job_id])
                seen["watch"].append(w_out[1])
                seen["poll"].append(p_out[1])
            w_lag, p_lag = statistics.median(lags["watch"]) * 1000, statistics.median(lags["poll"]) * 1000
            w_seen, p_seen = statistics.median(seen["watch"]), statistics.median(seen["poll"])
            print(
                f"  progress updates seen  WatchJob {w_seen:.0f} / {args.paced_events}   GetJob poll (baseline) {p_seen:.0f}   ratio {w_seen / max(p_seen, 1):.1f}x"
            )
            print(
                f"  end noticed after      WatchJob {w_lag:.1f} ms            GetJob poll (baseline) {p_lag:.1f} ms   ratio {p_lag / max(w_lag, 0.001):.1f}x sooner"
            )
        finally:
            server.stop(1)


if __name__ == "__main__":
    main()
