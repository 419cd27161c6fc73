"""The essay job's manifest: each stage's settings, inputs, outputs, job and timings, for resume and reports."""

from __future__ import annotations

import json
import platform
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from services.runtime.artifacts import atomic_write_text
from supil import __version__


@dataclass
class OutputRecord:
    """An artifact a stage produced, as its job reported it."""

    name: str
    role: str
    sha256: str
    size_bytes: int
    records: int


@dataclass
class StageRecord:
    """What the manifest knows about one stage."""

    name: str
    group: str
    service: str
    key: str
    job_id: str
    state: str = "running"  # running | succeeded | failed | cancelled
    outputs: list[OutputRecord] = field(default_factory=list)
    metrics: dict[str, float] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    inputs: list[str] = field(default_factory=list)
    started: float = 0.0
    finished: float = 0.0
    error: str = ""

    @property
    def seconds(self) -> float:
        """Wall time of the stage's last run."""
        return max(0.0, self.finished - self.started) if self.finished else 0.0

    def output(self, role: str) -> OutputRecord:
        """The output with this role; KeyError naming what exists otherwise."""
        for out in self.outputs:
            if out.role == role:
                return out
        raise KeyError(
            f"stage {self.name} has no {role!r} output (has: {', '.join(o.role for o in self.outputs) or 'none'})"
        )


@dataclass
class JobManifest:
    """workspace/jobs/<name>/manifest.json, rewritten atomically after every change."""

    path: Path
    essay: str
    stages: dict[str, StageRecord] = field(default_factory=dict)
    generations: dict[str, int] = field(default_factory=dict)
    overrides: dict[str, str] = field(default_factory=dict)  # section index -> regenerated section artifact
    essay_file: str = ""
    essay_chars: int = 0

    @classmethod
    def load(cls, path: Path, essay: str) -> JobManifest:
        """Read the manifest, or start an empty one."""
        if not path.exists():
            return cls(path=path, essay=essay)
        raw = json.loads(path.read_text(encoding="utf-8"))
        stages = {}
        for name, rec in raw.get("stages", {}).items():
            rec = dict(rec)
            rec.pop("seconds", None)
            rec["outputs"] = [OutputRecord(**o) for o in rec.get("outputs", [])]
            stages[name] = StageRecord(**rec)
        return cls(
            path=path,
            essay=raw.get("essay", essay),
            stages=stages,
            generations=raw.get("generations", {}),
            overrides=raw.get("overrides", {}),
            essay_file=raw.get("essay_file", ""),
            essay_chars=raw.get("essay_chars", 0),
        )

    def save(self) -> None:
        """Write the manifest atomically."""
        data = {
            "essay": self.essay,
            "updated": time.time(),
            "versions": {"supil": __version__, "python": platform.python_version()},
            "stages": {n: {**asdict(s), "seconds": round(s.seconds, 3)} for n, s in self.stages.items()},
            "generations": self.generations,
            "overrides": self.overrides,
            "essay_file": self.essay_file,
            "essay_chars": self.essay_chars,
        }
        atomic_write_text(self.path, json.dumps(data, ensure_ascii=False, indent=2))
