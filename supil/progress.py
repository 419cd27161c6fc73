"""How a run is shown: rich progress bars per stage, JSON lines for scripts, or nothing."""

from __future__ import annotations

import json
import sys
import time
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from supil.manifest import StageRecord
from supil.orchestrator import Reporter, Stage
from supil.v1 import generator_pb2, jobs_pb2

SHOWN_COUNTERS = (
    "loss",
    "valid_loss",
    "tokens_per_second",
    "pages",
    "items",
    "kept",
    "dropped",
    "duplicates",
    "chars",
)


def _counters(progress: jobs_pb2.Progress) -> str:
    parts = []
    for key in SHOWN_COUNTERS:
        if key in progress.counters:
            value = progress.counters[key]
            parts.append(
                f"{key} {value:.3g}"
                if isinstance(value, float) and not value.is_integer()
                else f"{key} {int(value)}"
            )
    return " ".join(parts)


class RichReporter(Reporter):
    """One progress bar per running stage plus an overall line with elapsed time."""

    def __init__(self, console: Console, verbose: bool = False) -> None:
        self.console = console
        self.verbose = verbose
        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.fields[note]}"),
            console=console,
            transient=False,
        )
        self.tasks: dict[str, TaskID] = {}
        self.overall: TaskID | None = None

    def __enter__(self) -> RichReporter:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def plan(self, stages: list[Stage]) -> None:
        self.overall = self.progress.add_task("essay job", total=len(stages), note="")

    def _advance(self) -> None:
        if self.overall is not None:
            self.progress.advance(self.overall)

    def skipped(self, stage: Stage, record: StageRecord) -> None:
        self.progress.console.print(
            f"[green]✓[/green] {stage.name} unchanged, skipped ({record.job_id})", highlight=False
        )
        self._advance()

    def started(self, stage: Stage, job: jobs_pb2.Job) -> None:
        label = f"{stage.name} ({stage.label})" if stage.label else stage.name
        self.tasks[stage.name] = self.progress.add_task(label, total=None, note="")

    def event(self, stage: Stage, event: jobs_pb2.JobEvent) -> None:
        task = self.tasks.get(stage.name)
        if task is None:
            return
        progress = event.job.progress
        self.progress.update(
            task,
            completed=progress.done,
            total=progress.total or None,
            note=_counters(progress) or progress.message,
        )
        if event.kind == jobs_pb2.JobEvent.KIND_RECORD and event.detail.Is(
            generator_pb2.DraftParagraph.DESCRIPTOR
        ):
            paragraph = generator_pb2.DraftParagraph()
            event.detail.Unpack(paragraph)
            self.progress.console.print(
                f"  [dim]section {paragraph.section_index + 1} ¶{paragraph.paragraph_index + 1}: {paragraph.chars} chars[/dim]",
                highlight=False,
            )
        elif self.verbose and event.message:
            self.progress.console.print(f"  [dim]{stage.name}: {event.message}[/dim]", highlight=False)

    def finished(self, stage: Stage, record: StageRecord) -> None:
        task = self.tasks.get(stage.name)
        if task is not None:
            total = self.progress.tasks[task].total or self.progress.tasks[task].completed or 1
            self.progress.update(task, completed=total, total=total)
        mark = "[green]✓[/green]" if record.state == "succeeded" else "[red]✗[/red]"
        self.progress.console.print(
            f"{mark} {stage.name} {record.state} in {record.seconds:.1f}s", highlight=False
        )
        self._advance()


class JsonReporter(Reporter):
    """One JSON object per line on stdout, for scripts and logs."""

    def __init__(self, stream: Any = None) -> None:
        self.stream = stream or sys.stdout

    def _emit(self, **fields: Any) -> None:
        self.stream.write(json.dumps({"time": round(time.time(), 3), **fields}, ensure_ascii=False) + "\n")
        self.stream.flush()

    def plan(self, stages: list[Stage]) -> None:
        self._emit(event="plan", stages=[s.name for s in stages])

    def skipped(self, stage: Stage, record: StageRecord) -> None:
        self._emit(event="skipped", stage=stage.name, job_id=record.job_id)

    def started(self, stage: Stage, job: jobs_pb2.Job) -> None:
        self._emit(event="started", stage=stage.name, job_id=job.job_id, attempt=job.attempt)

    def event(self, stage: Stage, event: jobs_pb2.JobEvent) -> None:
        progress = event.job.progress
        fields: dict[str, Any] = {
            "event": jobs_pb2.JobEvent.Kind.Name(event.kind).removeprefix("KIND_").lower(),
            "stage": stage.name,
            "sequence": event.sequence,
            "done": progress.done,
            "total": progress.total,
            "unit": progress.unit,
            "counters": dict(progress.counters),
            "message": event.message,
        }
        if event.detail.Is(generator_pb2.DraftParagraph.DESCRIPTOR):
            paragraph = generator_pb2.DraftParagraph()
            event.detail.Unpack(paragraph)
            fields["paragraph"] = {
                "section": paragraph.section_index,
                "index": paragraph.paragraph_index,
                "chars": paragraph.chars,
            }
        self._emit(**fields)

    def finished(self, stage: Stage, record: StageRecord) -> None:
        self._emit(
            event="finished",
            stage=stage.name,
            state=record.state,
            seconds=round(record.seconds, 3),
            error=record.error,
        )
