"""The artifact store: safe names, atomic writes, manifest entries."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from services.runtime import ArtifactStore, InvalidArgument, NotFound


@pytest.fixture
def store(tmp_path: Path) -> ArtifactStore:
    return ArtifactStore(tmp_path / "ws")


@pytest.mark.parametrize(
    "name",
    [
        "../outside.txt",
        "corpora/../../outside.txt",
        "/etc/passwd",
        "a\x00b",
        "",
        "a//b",
        "./a",
        "a\\..\\b",
        ".supil/artifacts.json",
        "C:/windows",
    ],
)
def test_unsafe_names_are_invalid_argument(store: ArtifactStore, name: str) -> None:
    with pytest.raises(InvalidArgument):
        store.path(name)
    with pytest.raises(InvalidArgument):
        store.write_bytes(name, b"x")


def test_symlink_escape_is_refused(store: ArtifactStore, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (store.root / "link").symlink_to(outside)
    with pytest.raises(InvalidArgument, match="outside the workspace"):
        store.write_bytes("link/file.txt", b"x")
    assert list(outside.iterdir()) == []


def test_write_records_manifest_entry(store: ArtifactStore) -> None:
    data = "수필 한 편\n".encode() * 100
    entry = store.write_bytes("notes/a.txt", data, job_id="job-1", role="note", records=100)
    assert store.path("notes/a.txt").read_bytes() == data
    assert entry.size_bytes == len(data)
    assert entry.sha256 == hashlib.sha256(data).hexdigest()
    assert (entry.records, entry.job_id, entry.role, entry.kind) == (100, "job-1", "note", "file")
    assert store.entry("notes/a.txt") == entry
    manifest = json.loads((store.state_dir / "artifacts.json").read_text())
    assert manifest["notes/a.txt"]["sha256"] == entry.sha256
    assert store.verify("notes/a.txt")


def test_failed_write_leaves_old_artifact_and_no_temp(store: ArtifactStore) -> None:
    store.write_bytes("a.txt", b"old")
    with pytest.raises(RuntimeError), store.open_file("a.txt") as out:
        out.fh.write(b"half of the new")
        raise RuntimeError("crash mid-write")
    assert store.path("a.txt").read_bytes() == b"old"
    assert store.verify("a.txt")
    assert sorted(p.name for p in store.root.iterdir()) == [".supil", "a.txt"]


def test_unfinished_artifact_is_not_found(store: ArtifactStore) -> None:
    # A file that got onto disk without the store (a crash, a copy) has no manifest entry.
    store.path("stray.txt").write_text("no manifest")
    assert not store.exists("stray.txt")
    with pytest.raises(NotFound, match=r"stray\.txt"):
        store.entry("stray.txt")


def test_verify_detects_corruption(store: ArtifactStore) -> None:
    store.write_bytes("a.bin", b"0123456789")
    store.path("a.bin").write_bytes(b"0123456780")
    assert not store.verify("a.bin")


def test_directory_artifact_replaced_atomically(store: ArtifactStore) -> None:
    with store.open_dir("models/writer-1", job_id="t1") as out:
        (out.path / "config.json").write_text("{}")
        (out.path / "weights.bin").write_bytes(b"\x00" * 64)
    first = store.entry("models/writer-1")
    assert first.kind == "dir" and first.size_bytes == 66
    with pytest.raises(RuntimeError), store.open_dir("models/writer-1") as out:
        (out.path / "config.json").write_text('{"broken": true}')
        raise RuntimeError("crash while saving")
    assert store.entry("models/writer-1") == first
    assert store.verify("models/writer-1")
    assert not any(p.name.endswith(".tmp") for p in (store.root / "models").iterdir())


def test_remove(store: ArtifactStore) -> None:
    store.write_bytes("a.txt", b"x")
    store.remove("a.txt")
    assert not store.exists("a.txt")
    assert not store.path("a.txt").exists()


def test_artifacts_are_readable_by_others(store: ArtifactStore) -> None:
    # Several services (and the person reading essay.md) share the workspace.
    entry = store.write_bytes("a.txt", b"x")
    assert store.path(entry.name).stat().st_mode & 0o777 == 0o644
    with store.open_dir("d") as out:
        (out.path / "f").write_text("y")
    assert store.path("d").stat().st_mode & 0o777 == 0o755
