"""The job runner every service uses for its Create*Job work, and the JobService that exposes it."""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import grpc
from google.protobuf import any_pb2, json_format, timestamp_pb2
from google.protobuf.message import Message

from services.runtime.artifacts import ArtifactEntry, atomic_write_text
from services.runtime.errors import AlreadyExists, InvalidArgument, NotFound, SupilError, status_for
from supil.v1 import jobs_pb2, jobs_pb2_grpc

logger = logging.getLogger(__name__)

State = jobs_pb2.Job.State
TERMINAL = frozenset({State.STATE_SUCCEEDED, State.STATE_FAILED, State.STATE_CANCELLED})
RESTARTABLE = frozenset({State.STATE_FAILED, State.STATE_CANCELLED})
JOB_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
PERSIST_INTERVAL_S = 1.0
INTERRUPTED = (
    "interrupted: the {service} service stopped while this job was running; "
    "submit the same request with the same job_id to run it again"
)


class JobCancelled(Exception):
    """Raised inside a job function (by JobContext.check_cancelled) when the job must stop."""


def validate_job_id(job_id: str) -> str:
    """Return job_id if it is usable (letters, digits, '.', '_', '-'; at most 128), else InvalidArgument."""
    if not job_id:
        raise InvalidArgument("job_id is empty; choose one (letters, digits, '.', '_', '-')")
    if not JOB_ID_PATTERN.match(job_id):
        raise InvalidArgument(
            f"job_id {job_id!r} must be 1-128 letters, digits, '.', '_' or '-', not starting with a symbol"
        )
    return job_id


def request_digest(request: Message) -> str:
    """sha256 of a request's deterministic serialization: same request, same digest."""
    return hashlib.sha256(request.SerializeToString(deterministic=True)).hexdigest()


def _now(clock: Callable[[], float]) -> timestamp_pb2.Timestamp:
    stamp = timestamp_pb2.Timestamp()
    stamp.FromNanoseconds(int(clock() * 1e9))
    return stamp


@dataclass
class _JobSlot:
    """Everything the runner holds for one job."""

    job: jobs_pb2.Job
    cond: threading.Condition
    events: deque[jobs_pb2.JobEvent]
    sequence: int = 0
    cancel: threading.Event = field(default_factory=threading.Event)
    shutting_down: bool = False
    future: Future | None = None
    last_persist: float = 0.0


class JobContext:
    """What a job function sees: progress reporting, records, outputs, metrics and cancellation."""

    def __init__(self, runner: JobRunner, slot: _JobSlot) -> None:
        self._runner = runner
        self._slot = slot
        self.job_id = slot.job.job_id
        self.attempt = slot.job.attempt
        self.partial = False

    @property
    def cancelled(self) -> bool:
        """True once the job has been asked to stop (CancelJob or service shutdown)."""
        return self._slot.cancel.is_set()

    def check_cancelled(self) -> None:
        """Raise JobCancelled if the job has been asked to stop; call it between units of work."""
        if self._slot.cancel.is_set():
            raise JobCancelled()

    def wait_cancelled(self, timeout: float) -> bool:
        """Sleep up to timeout seconds, waking early (and returning True) if the job is cancelled."""
        return self._slot.cancel.wait(timeout)

    def progress(
        self,
        done: int | None = None,
        *,
        total: int | None = None,
        unit: str | None = None,
        message: str | None = None,
        counters: dict[str, float] | None = None,
    ) -> None:
        """Report progress; every watcher gets a PROGRESS event."""

        def change(job: jobs_pb2.Job) -> None:
            if done is not None:
                job.progress.done = done
            if total is not None:
                job.progress.total = total
            if unit is not None:
                job.progress.unit = unit
            if message is not None:
                job.progress.message = message
            for key, value in (counters or {}).items():
                job.progress.counters[key] = float(value)

        self._runner._update(self._slot, change, jobs_pb2.JobEvent.KIND_PROGRESS, message or "")

    def record(self, message: str, detail: Message | None = None) -> None:
        """Stream a record (a drafted paragraph, a refused URL) to watchers as a RECORD event."""
        packed = None
        if detail is not None:
            packed = any_pb2.Any()
            packed.Pack(detail)
        self._runner._update(self._slot, None, jobs_pb2.JobEvent.KIND_RECORD, message, packed)

    def log(self, message: str) -> None:
        """Send a line worth showing to the person watching as a LOG event."""
        self._runner._update(self._slot, None, jobs_pb2.JobEvent.KIND_LOG, message)

    def add_output(self, entry: ArtifactEntry, role: str | None = None) -> None:
        """Name an artifact the job wrote (with its manifest entry) among the job's outputs."""

        def change(job: jobs_pb2.Job) -> None:
            for existing in job.outputs:
                if existing.name == entry.name:
                    job.outputs.remove(existing)
                    break
            job.outputs.add(
                name=entry.name,
                role=role if role is not None else entry.role,
                size_bytes=entry.size_bytes,
                sha256=entry.sha256,
                records=entry.records,
                job_id=entry.job_id,
            )

        self._runner._update(
            self._slot, change, jobs_pb2.JobEvent.KIND_LOG, f"wrote {entry.name}", force_persist=True
        )

    def set_metrics(self, **metrics: float) -> None:
        """Record job-level figures (documents kept, final loss, ...)."""

        def change(job: jobs_pb2.Job) -> None:
            for key, value in metrics.items():
                job.metrics[key] = float(value)

        self._runner._update(self._slot, change, None, "")


JobFunction = Callable[[JobContext], None]


class JobRunner:
    """Runs jobs on a bounded pool, fans their events out to watchers, persists their records."""

    def __init__(
        self,
        service: str,
        state_dir: Path,
        *,
        max_workers: int = 2,
        max_events: int = 10_000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.service = service
        self._dir = Path(state_dir) / "jobs" / service
        self._dir.mkdir(parents=True, exist_ok=True)
        self._max_events = max_events
        self._clock = clock
        self._lock = threading.Lock()
        self._slots: dict[str, _JobSlot] = {}
        self._executor = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix=f"{service}-job")
        self._stopping = threading.Event()
        self._load()

    # ---- public API ----------------------------------------------------------------------------

    def submit(self, job_id: str, kind: str, request: Message, fn: JobFunction) -> jobs_pb2.Job:
        """Start a job, or return the existing one for the same job_id and request (idempotent).

        A job that FAILED or was CANCELLED starts again when the same request is submitted again;
        the same job_id with a different request is ALREADY_EXISTS.
        """
        validate_job_id(job_id)
        if self._stopping.is_set():
            raise SupilError(
                f"the {self.service} service is shutting down; submit the job again once it is back"
            )
        digest = request_digest(request)
        with self._lock:
            slot = self._slots.get(job_id)
            if slot is not None:
                with slot.cond:
                    if slot.job.request_digest != digest:
                        raise AlreadyExists(
                            f"job {job_id!r} already exists on the {self.service} service with a different request; "
                            "choose another job_id"
                        )
                    if slot.job.state not in RESTARTABLE:
                        return _copy(slot.job)
            else:
                job = jobs_pb2.Job(job_id=job_id, kind=kind, service=self.service, request_digest=digest)
                job.create_time.CopyFrom(_now(self._clock))
                slot = _JobSlot(job=job, cond=threading.Condition(), events=deque(maxlen=self._max_events))
                self._slots[job_id] = slot
            with slot.cond:
                slot.cancel = threading.Event()
                slot.shutting_down = False
                job = slot.job
                job.attempt += 1
                job.state = State.STATE_QUEUED
                job.error = ""
                job.partial = False
                job.ClearField("end_time")
                job.ClearField("start_time")
                job.ClearField("outputs")
                job.ClearField("progress")
                job.ClearField("metrics")
                # A new attempt's watchers start from its own events; sequence numbers keep growing, so
                # a client re-attaching with after_sequence still resumes where it was.
                slot.events.clear()
            self._update(slot, None, jobs_pb2.JobEvent.KIND_STATE, "queued", force_persist=True)
            slot.future = self._executor.submit(self._run, slot, fn)
            with slot.cond:
                return _copy(slot.job)

    def get(self, job_id: str) -> jobs_pb2.Job:
        """The job's current record; NotFound if this service has never seen it."""
        slot = self._slot(job_id)
        with slot.cond:
            return _copy(slot.job)

    def list(
        self, *, states: Iterable[int] = (), kind: str = "", page_size: int = 0, page_token: str = ""
    ) -> tuple[list[jobs_pb2.Job], str]:
        """Jobs newest first, filtered by state and kind, one page at a time."""
        if page_size < 0 or page_size > 1000:
            raise InvalidArgument(f"page_size {page_size} must be between 1 and 1000 (0 means 100)")
        size = page_size or 100
        try:
            offset = int(page_token) if page_token else 0
        except ValueError:
            raise InvalidArgument(f"page_token {page_token!r} was not made by ListJobs") from None
        wanted = set(states)
        with self._lock:
            slots = list(self._slots.values())
        jobs = []
        for slot in slots:
            with slot.cond:
                jobs.append(_copy(slot.job))
        jobs = [j for j in jobs if (not wanted or j.state in wanted) and (not kind or j.kind == kind)]
        jobs.sort(key=lambda j: (j.create_time.seconds, j.create_time.nanos, j.job_id), reverse=True)
        page = jobs[offset : offset + size]
        next_token = str(offset + size) if offset + size < len(jobs) else ""
        return page, next_token

    def cancel(self, job_id: str) -> jobs_pb2.Job:
        """Ask a job to stop; a queued job is cancelled at once, a running one at its next check."""
        slot = self._slot(job_id)
        with slot.cond:
            if slot.job.state in TERMINAL:
                return _copy(slot.job)
            slot.cancel.set()
        self._update(slot, None, jobs_pb2.JobEvent.KIND_LOG, "cancellation requested")
        return self.get(job_id)

    def watch(
        self, job_id: str, after_sequence: int = 0, is_active: Callable[[], bool] = lambda: True
    ) -> Iterator[jobs_pb2.JobEvent]:
        """Yield the job's events after after_sequence, as they happen, until its terminal event."""
        slot = self._slot(job_id)
        seen = after_sequence
        while True:
            with slot.cond:
                # Events are never changed once appended and their sequences are contiguous,
                # so the unseen ones are a tail slice (no copy, no scan).
                first = slot.events[0].sequence if slot.events else 0
                pending = list(itertools.islice(slot.events, max(0, seen + 1 - first), None))
                if not pending:
                    if slot.job.state in TERMINAL and self._delivered_all(slot, seen):
                        return
                    slot.cond.wait(timeout=0.5)
                    if not is_active():
                        return
                    continue
            for event in pending:
                yield event
                seen = event.sequence
            if slot.job.state in TERMINAL and self._delivered_all(slot, seen):
                return

    def wait(self, job_id: str, timeout: float | None = None) -> jobs_pb2.Job:
        """Block until the job is terminal (or timeout) and return it."""
        slot = self._slot(job_id)
        deadline = None if timeout is None else time.monotonic() + timeout
        with slot.cond:
            while slot.job.state not in TERMINAL:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    break
                slot.cond.wait(timeout=remaining)
            return _copy(slot.job)

    def shutdown(self, grace: float) -> list[str]:
        """Ask every unfinished job to stop, wait up to grace seconds, and record the rest as interrupted.

        Returns the ids of jobs whose threads were still busy when the grace period ended.
        """
        self._stopping.set()
        with self._lock:
            slots = list(self._slots.values())
        live = []
        for slot in slots:
            with slot.cond:
                if slot.job.state in TERMINAL:
                    continue
                slot.shutting_down = True
                slot.cancel.set()
            live.append(slot)
        deadline = time.monotonic() + grace
        for slot in live:
            if slot.future is not None:
                try:
                    slot.future.result(timeout=max(0.0, deadline - time.monotonic()))
                except Exception:  # noqa: BLE001 - the job's own outcome is already recorded by _run
                    logger.debug("job %s did not finish within the grace period", slot.job.job_id)
        stuck = []
        for slot in live:
            with slot.cond:
                still_running = slot.job.state not in TERMINAL
            if still_running:
                self._finish(slot, State.STATE_FAILED, INTERRUPTED.format(service=self.service))
            if slot.future is not None and not slot.future.done():
                stuck.append(slot.job.job_id)
        self._executor.shutdown(wait=False, cancel_futures=True)
        return stuck

    # ---- internals -----------------------------------------------------------------------------

    def _slot(self, job_id: str) -> _JobSlot:
        with self._lock:
            slot = self._slots.get(job_id)
        if slot is None:
            raise NotFound(f"job {job_id!r} not found on the {self.service} service")
        return slot

    @staticmethod
    def _delivered_all(slot: _JobSlot, seen: int) -> bool:
        return not slot.events or slot.events[-1].sequence <= seen

    def _run(self, slot: _JobSlot, fn: JobFunction) -> None:
        with slot.cond:
            if slot.job.state != State.STATE_QUEUED:
                return  # finished (interrupted) by shutdown before a worker picked it up
            cancelled_early = slot.cancel.is_set()
        if cancelled_early:
            self._finish_cancelled(slot, partial=False)
            return

        def start(job: jobs_pb2.Job) -> None:
            job.state = State.STATE_RUNNING
            job.start_time.CopyFrom(_now(self._clock))

        self._update(slot, start, jobs_pb2.JobEvent.KIND_STATE, "running", force_persist=True)
        ctx = JobContext(self, slot)
        try:
            fn(ctx)
        except JobCancelled:
            self._finish_cancelled(slot, ctx.partial)
        except Exception as exc:
            code, message = status_for(exc)
            if code == grpc.StatusCode.INTERNAL:
                logger.exception("job %s failed", slot.job.job_id)
            else:
                logger.info("job %s failed: %s", slot.job.job_id, message)
            self._finish(slot, State.STATE_FAILED, message, ctx.partial)
        else:
            if slot.cancel.is_set():
                self._finish_cancelled(slot, ctx.partial)
            else:
                self._finish(slot, State.STATE_SUCCEEDED, "", ctx.partial)

    def _finish_cancelled(self, slot: _JobSlot, partial: bool) -> None:
        if slot.shutting_down:
            self._finish(slot, State.STATE_FAILED, INTERRUPTED.format(service=self.service), partial)
        else:
            self._finish(slot, State.STATE_CANCELLED, "cancelled by CancelJob", partial)

    def _finish(self, slot: _JobSlot, state: int, error: str, partial: bool = False) -> None:
        with slot.cond:
            if slot.job.state in TERMINAL:
                return  # already recorded (e.g. interrupted at shutdown); the first outcome stands

        def end(job: jobs_pb2.Job) -> None:
            job.state = state
            job.error = error
            job.partial = partial
            job.end_time.CopyFrom(_now(self._clock))

        label = State.Name(state).removeprefix("STATE_").lower()
        self._update(
            slot,
            end,
            jobs_pb2.JobEvent.KIND_STATE,
            f"{label}: {error}" if error else label,
            force_persist=True,
        )

    def _update(
        self,
        slot: _JobSlot,
        change: Callable[[jobs_pb2.Job], None] | None,
        kind: int | None,
        message: str,
        detail: any_pb2.Any | None = None,
        *,
        force_persist: bool = False,
    ) -> None:
        with slot.cond:
            if change is not None:
                change(slot.job)
            slot.job.update_time.CopyFrom(_now(self._clock))
            if kind is not None:
                slot.sequence += 1
                event = jobs_pb2.JobEvent(
                    job_id=slot.job.job_id, sequence=slot.sequence, kind=kind, message=message
                )
                event.time.CopyFrom(slot.job.update_time)
                event.job.CopyFrom(slot.job)
                if detail is not None:
                    event.detail.CopyFrom(detail)
                slot.events.append(event)
            now = time.monotonic()
            if force_persist or now - slot.last_persist >= PERSIST_INTERVAL_S:
                slot.last_persist = now
                self._persist(slot)
            slot.cond.notify_all()

    def _persist(self, slot: _JobSlot) -> None:
        record = {"sequence": slot.sequence, "job": json_format.MessageToDict(slot.job)}
        try:
            atomic_write_text(self._dir / f"{slot.job.job_id}.json", json.dumps(record, ensure_ascii=False))
        except OSError:
            logger.exception("could not persist job %s", slot.job.job_id)

    def _load(self) -> None:
        """Read persisted jobs; one left queued or running by a dead process is FAILED (interrupted)."""
        for path in sorted(self._dir.glob("*.json")):
            try:
                record = json.loads(path.read_text(encoding="utf-8"))
                job = json_format.ParseDict(record["job"], jobs_pb2.Job())
                sequence = int(record.get("sequence", 0))
            except (OSError, ValueError, KeyError, json_format.ParseError):
                logger.warning("ignoring unreadable job record %s", path)
                continue
            slot = _JobSlot(
                job=job, cond=threading.Condition(), events=deque(maxlen=self._max_events), sequence=sequence
            )
            self._slots[job.job_id] = slot
            if job.state not in TERMINAL:
                logger.warning(
                    "job %s was %s when the service stopped; marking it failed",
                    job.job_id,
                    State.Name(job.state),
                )
                self._finish(slot, State.STATE_FAILED, INTERRUPTED.format(service=self.service))
            else:
                # One STATE event so that a watcher attaching after a restart sees how the job ended.
                self._update(
                    slot,
                    None,
                    jobs_pb2.JobEvent.KIND_STATE,
                    State.Name(job.state).removeprefix("STATE_").lower(),
                )


def _copy(message: Message) -> Message:
    clone = type(message)()
    clone.CopyFrom(message)
    return clone


class JobServicer(jobs_pb2_grpc.JobServiceServicer):
    """supil.v1.JobService over one service's JobRunner."""

    def __init__(self, runner: JobRunner) -> None:
        self._runner = runner

    def GetJob(
        self, request: jobs_pb2.GetJobRequest, context: grpc.ServicerContext
    ) -> jobs_pb2.GetJobResponse:
        return jobs_pb2.GetJobResponse(job=self._runner.get(_required_id(request.job_id)))

    def WatchJob(
        self, request: jobs_pb2.WatchJobRequest, context: grpc.ServicerContext
    ) -> Iterator[jobs_pb2.WatchJobResponse]:
        if request.after_sequence < 0:
            raise InvalidArgument("after_sequence must not be negative")
        for event in self._runner.watch(
            _required_id(request.job_id), request.after_sequence, context.is_active
        ):
            yield jobs_pb2.WatchJobResponse(event=event)

    def CancelJob(
        self, request: jobs_pb2.CancelJobRequest, context: grpc.ServicerContext
    ) -> jobs_pb2.CancelJobResponse:
        return jobs_pb2.CancelJobResponse(job=self._runner.cancel(_required_id(request.job_id)))

    def ListJobs(
        self, request: jobs_pb2.ListJobsRequest, context: grpc.ServicerContext
    ) -> jobs_pb2.ListJobsResponse:
        jobs, token = self._runner.list(
            states=request.states,
            kind=request.kind,
            page_size=request.page_size,
            page_token=request.page_token,
        )
        return jobs_pb2.ListJobsResponse(jobs=jobs, next_page_token=token)


def _required_id(job_id: str) -> str:
    if not job_id:
        raise InvalidArgument("job_id is empty")
    return job_id
