"""End to end: `supil run` on the demo site with the tiny model, through all five services as processes."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from supil.spec import parse_spec

REPO = Path(__file__).resolve().parent.parent.parent

SPEC = """
[essay]
name = "e2e"
title = "함께 사는 법"
theme = "함께"
target_chars = 1500

[[crawl.sites]]
name = "demo"
start_urls = ["{start_url}"]
article_pattern = "/posts/\\\\d+$"
follow_pattern = "/tags/|[?&]page="
max_pages = 300
allow_private = true

[retrieve]
k = 40
valid_fraction = 0.2

[model]
base = "tiny"
pretrain_max_steps = 40
lora = true
epochs = 1
max_steps = 8
batch_size = 8
block_size = 64

[generate]
seed = 7
min_paragraph_chars = 200
chunk_tokens = 48

[[sections]]
title = "함께라는 것"
query = "함께라는 것은"
prompt = "나는 오늘도 나에게 말을 건다."

[[sections]]
title = "죽음과 공존"
query = "죽음과 공존"
prompt = "죽음을 생각하면 삶이 조금 더 또렷해진다."
"""


def supil(args: list[str], workspace: Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, COLUMNS="200", NO_COLOR="1", HF_HUB_OFFLINE="1")
    return subprocess.run(
        [sys.executable, "-m", "supil.cli", *args, "--workspace", str(workspace)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


def events(result: subprocess.CompletedProcess[str]) -> list[dict]:
    return [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]


def sections_of(essay: str) -> dict[str, str]:
    parts = re.split(r"^## (.+)$", essay, flags=re.M)
    return {parts[i].strip(): parts[i + 1].strip() for i in range(1, len(parts), 2)}


def body_chars(section_text: str) -> int:
    return sum(len(p) for p in section_text.split("\n") if p)


@pytest.fixture(scope="module")
def site() -> Iterator[object]:
    from services.crawler.demo_site import start_demo_site

    handle = start_demo_site(0)
    yield handle
    handle.stop()


@pytest.fixture(scope="module")
def job(site: object, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """One full run, shared by the tests below (they rerun parts of it)."""
    root = tmp_path_factory.mktemp("e2e")
    spec = root / "spec.toml"
    spec.write_text(SPEC.replace("{start_url}", site.start_url), encoding="utf-8")  # type: ignore[attr-defined]
    workspace = root / "ws"
    result = supil(["run", str(spec), "-o", "json"], workspace)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    essay = (workspace / "jobs" / "e2e" / "essay.md").read_text(encoding="utf-8")
    return {"spec": spec, "workspace": workspace, "result": result, "essay": essay}


def test_essay_has_every_section_on_length(job: dict) -> None:
    spec = parse_spec(job["spec"].read_text(encoding="utf-8"))
    essay = job["essay"]
    assert essay.startswith("# 함께 사는 법\n")
    found = sections_of(essay)
    assert list(found) == [s.title for s in spec.sections]
    total = sum(body_chars(text) for text in found.values())
    assert abs(total - spec.essay.target_chars) <= 0.02 * spec.essay.target_chars, total
    kinds = {e.get("stage") for e in events(job["result"]) if e["event"] == "finished"}
    assert {
        "crawl",
        "clean",
        "index",
        "export-1",
        "export-2",
        "pretrain",
        "train-1",
        "train-2",
        "draft",
    } <= kinds


def test_rerun_does_nothing(job: dict) -> None:
    result = supil(["run", str(job["spec"]), "-o", "json"], job["workspace"])
    assert result.returncode == 0, result.stderr
    kinds = [e["event"] for e in events(result)]
    assert "started" not in kinds
    assert kinds.count("skipped") == 9
    assert (job["workspace"] / "jobs" / "e2e" / "essay.md").read_text(encoding="utf-8") == job["essay"]


def test_report_has_plots_and_metrics(job: dict) -> None:
    report = (job["workspace"] / "jobs" / "e2e" / "report.html").read_text(encoding="utf-8")
    assert report.count("data:image/png;base64,") >= 4
    for label in (
        "rep-2",
        "distinct-2",
        "longest copied span",
        "overlap ratio",
        "topic relevance",
        "retrieval scores",
    ):
        assert label in report
    manifest = json.loads((job["workspace"] / "jobs" / "e2e" / "manifest.json").read_text(encoding="utf-8"))
    for stage in manifest["stages"].values():
        assert stage["state"] == "succeeded"
        assert all(len(o["sha256"]) == 64 for o in stage["outputs"])


def test_regenerate_changes_one_section_only(job: dict) -> None:
    before = sections_of((job["workspace"] / "jobs" / "e2e" / "essay.md").read_text(encoding="utf-8"))
    result = supil(["regenerate", "e2e", "--section", "2", "--seed", "1234"], job["workspace"])
    assert result.returncode == 0, result.stdout + result.stderr
    after = sections_of((job["workspace"] / "jobs" / "e2e" / "essay.md").read_text(encoding="utf-8"))
    titles = list(before)
    assert after[titles[0]] == before[titles[0]]
    assert after[titles[1]] != before[titles[1]]


def test_from_draft_redraws_only_drafts(job: dict) -> None:
    result = supil(["run", str(job["spec"]), "-o", "json", "--from", "draft"], job["workspace"])
    assert result.returncode == 0, result.stderr
    started = [e["stage"] for e in events(result) if e["event"] == "started"]
    assert started == ["draft"]
    # Same seed, same writers: the redrawn essay equals the first one (the regenerated section is dropped).
    assert (job["workspace"] / "jobs" / "e2e" / "essay.md").read_text(encoding="utf-8") == job["essay"]


def test_killed_during_training_resumes_to_the_same_essay(job: dict) -> None:
    env = dict(os.environ, COLUMNS="200", NO_COLOR="1", HF_HUB_OFFLINE="1")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "supil.cli",
            "run",
            str(job["spec"]),
            "-o",
            "json",
            "--from",
            "train",
            "--workspace",
            str(job["workspace"]),
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    assert process.stdout is not None
    for line in process.stdout:
        if (
            line.startswith("{")
            and json.loads(line).get("event") == "progress"
            and json.loads(line)["stage"] == "train-1"
        ):
            break
    process.send_signal(signal.SIGKILL)
    process.wait()
    result = supil(["run", str(job["spec"]), "-o", "json"], job["workspace"])
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert (job["workspace"] / "jobs" / "e2e" / "essay.md").read_text(encoding="utf-8") == job["essay"]


def test_query_without_documents_stops_at_its_export(site: object, tmp_path: Path) -> None:
    spec = tmp_path / "spec.toml"
    text = SPEC.replace("{start_url}", site.start_url).replace(
        'query = "죽음과 공존"', 'query = "zebra quantum"'
    )  # type: ignore[attr-defined]
    spec.write_text(text, encoding="utf-8")
    result = supil(["run", str(spec), "-o", "quiet"], tmp_path / "ws")
    assert result.returncode == 1
    assert "stopped at stage export-2" in result.stderr
    assert "zebra quantum" in result.stderr and "broader query" in result.stderr
    manifest = json.loads((tmp_path / "ws" / "jobs" / "e2e" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["stages"]["export-1"]["state"] == "succeeded"
    assert manifest["stages"]["export-2"]["state"] == "failed"
    assert "pretrain" not in manifest["stages"]


def test_unreachable_remote_service_is_named(tmp_path: Path) -> None:
    spec = tmp_path / "spec.toml"
    spec.write_text(SPEC.replace("{start_url}", "http://127.0.0.1:9/"), encoding="utf-8")
    addresses = ",".join(
        f"{name}=127.0.0.1:9" for name in ("crawler", "cleaner", "retriever", "trainer", "generator")
    )
    result = supil(["run", str(spec), "--remote", addresses, "-o", "quiet"], tmp_path / "ws")
    assert result.returncode == 1
    assert "crawler at 127.0.0.1:9 is not reachable" in result.stderr
