"""The API: stubs match protos/, and the conventions every later RPC must keep."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from google.protobuf.descriptor import FileDescriptor

from supil.v1 import cleaner_pb2, crawler_pb2, generator_pb2, jobs_pb2, retriever_pb2, trainer_pb2

REPO = Path(__file__).resolve().parent.parent
FILES: list[FileDescriptor] = [
    m.DESCRIPTOR for m in (jobs_pb2, crawler_pb2, cleaner_pb2, retriever_pb2, trainer_pb2, generator_pb2)
]


def test_stubs_are_fresh() -> None:
    result = subprocess.run(
        [sys.executable, "scripts/genproto.py", "--check"], cwd=REPO, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr


def test_stale_stub_is_detected(tmp_path: Path) -> None:
    copy = tmp_path / "repo"
    shutil.copytree(REPO / "protos", copy / "protos")
    shutil.copytree(REPO / "supil" / "v1", copy / "supil" / "v1")
    shutil.copytree(REPO / "scripts", copy / "scripts")
    proto = copy / "protos" / "supil" / "v1" / "jobs.proto"
    proto.write_text(
        proto.read_text().replace(
            "message GetJobRequest {\n  string job_id = 1;",
            "message GetJobRequest {\n  string job_id = 1;\n  bool verbose = 2;",
        )
    )
    result = subprocess.run(
        [sys.executable, "scripts/genproto.py", "--check"], cwd=copy, capture_output=True, text=True
    )
    assert result.returncode == 1
    assert "jobs_pb2.py differs" in result.stderr


def test_full_surface() -> None:
    methods = {
        s.full_name: sorted(m.name for m in s.methods) for f in FILES for s in f.services_by_name.values()
    }
    assert methods == {
        "supil.v1.JobService": ["CancelJob", "GetJob", "ListJobs", "WatchJob"],
        "supil.v1.CrawlerService": ["CreateCrawlJob"],
        "supil.v1.CleanerService": ["CleanText", "CreateCleanJob", "SplitSentences"],
        "supil.v1.RetrieverService": ["Analyze", "CreateExportJob", "CreateIndexJob", "Search"],
        "supil.v1.TrainerService": ["CreateTrainJob"],
        "supil.v1.GeneratorService": ["CreateDraftJob", "GenerateParagraph"],
    }


@pytest.mark.parametrize("file", FILES, ids=lambda f: f.name)
def test_conventions(file: FileDescriptor) -> None:
    assert file.package == "supil.v1"
    for service in file.services_by_name.values():
        assert service.name.endswith("Service")
        for method in service.methods:
            assert method.input_type.name == f"{method.name}Request"
            assert method.output_type.name == f"{method.name}Response"
            if method.name.startswith("Create") and method.name.endswith("Job"):
                assert (
                    method.input_type.fields_by_name["job_id"].type
                    == method.input_type.fields_by_name["job_id"].TYPE_STRING
                )
                assert method.output_type.fields_by_name["job"].message_type.full_name == "supil.v1.Job"
    enums = list(file.enum_types_by_name.values()) + [
        e for m in file.message_types_by_name.values() for e in m.enum_types
    ]
    for enum in enums:
        assert enum.values[0].number == 0 and enum.values[0].name.endswith("_UNSPECIFIED")


def test_job_states() -> None:
    names = [v.name for v in jobs_pb2.Job.State.DESCRIPTOR.values]
    assert names == [
        "STATE_UNSPECIFIED",
        "STATE_QUEUED",
        "STATE_RUNNING",
        "STATE_SUCCEEDED",
        "STATE_FAILED",
        "STATE_CANCELLED",
    ]


@pytest.mark.skipif(
    shutil.which("buf", path=str(Path(sys.executable).parent)) is None,
    reason="buf is not installed (pip install buf-bin)",
)
def test_buf_lint_standard() -> None:
    buf = shutil.which("buf", path=str(Path(sys.executable).parent))
    result = subprocess.run([buf, "lint"], cwd=REPO / "protos", capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
