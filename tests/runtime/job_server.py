"""A service process with one long-running job, for the shutdown and restart tests.

Usage: python tests/runtime/job_server.py --workspace W --port 0 --port-file F [--job cooperative|stubborn|none]
"""

from __future__ import annotations

import sys
import time

from services.runtime import (
    JobContext,
    Registration,
    ServiceConfig,
    ServiceParts,
    ServiceServer,
    create_server,
    serve,
)
from supil.v1 import jobs_pb2

MODE = "cooperative"


def cooperative(ctx: JobContext) -> None:
    """Ticks until asked to stop, then stops at once."""
    tick = 0
    while not ctx.wait_cancelled(0.05):
        tick += 1
        ctx.progress(tick, unit="ticks")
    ctx.check_cancelled()


def stubborn(ctx: JobContext) -> None:
    """Ignores cancellation for a long while (a job stuck in a long native call)."""
    ctx.progress(1, unit="ticks")
    time.sleep(60)


def build(config: ServiceConfig) -> tuple[ServiceServer, int]:
    parts = ServiceParts.build(config)
    registrations: list[Registration] = []
    server, port = create_server(config, registrations, parts.runner)
    job = {"cooperative": cooperative, "stubborn": stubborn}.get(MODE)
    if job is not None:
        parts.runner.submit("long-job", "test", jobs_pb2.GetJobRequest(job_id="long-job"), job)
    return server, port


if __name__ == "__main__":
    args = sys.argv[1:]
    if "--job" in args:
        i = args.index("--job")
        MODE = args[i + 1]
        del args[i : i + 2]
    raise SystemExit(serve("jobtest", build, args))
