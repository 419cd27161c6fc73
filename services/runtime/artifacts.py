"""The artifact store: named files and folders in the workspace, written atomically, with a manifest."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from services.runtime.errors import InvalidArgument, NotFound

logger = logging.getLogger(__name__)

STATE_DIR = ".supil"  # the runtime's own records; not an artifact namespace
MAX_NAME_LENGTH = 1024
FILE_MODE = 0o644
DIR_MODE = 0o755


@dataclass(frozen=True)
class ArtifactEntry:
    """The manifest's record of one artifact."""

    name: str
    kind: str  # "file" or "dir"
    size_bytes: int
    sha256: str
    records: int
    job_id: str
    role: str
    created: float


def validate_name(name: object) -> str:
    """Return name if it is a safe relative artifact name, else raise InvalidArgument saying why."""
    if not isinstance(name, str) or not name:
        raise InvalidArgument("artifact name is empty")
    if "\x00" in name:
        raise InvalidArgument(f"artifact name {name!r} contains a NUL character")
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidArgument(f"artifact name is longer than {MAX_NAME_LENGTH} characters")
    if "\\" in name:
        raise InvalidArgument(f"artifact name {name!r} contains a backslash; use '/'")
    pure = PurePosixPath(name)
    if pure.is_absolute() or (len(name) > 1 and name[1] == ":"):
        raise InvalidArgument(f"artifact name {name!r} is absolute; names are relative to the workspace")
    parts = name.split("/")
    if any(part in ("", ".", "..") for part in parts):
        raise InvalidArgument(f"artifact name {name!r} has an empty, '.' or '..' component")
    if parts[0] == STATE_DIR:
        raise InvalidArgument(f"artifact name {name!r} is inside the reserved {STATE_DIR}/ folder")
    return name


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _file_digest(path: Path) -> tuple[int, str]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


def _tree_digest(root: Path) -> tuple[int, str]:
    """sha256 over (relative path, file sha256) of every file in a folder, in sorted order."""
    digest = hashlib.sha256()
    total = 0
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        size, sha = _file_digest(path)
        total += size
        digest.update(f"{path.relative_to(root).as_posix()}\0{sha}\n".encode())
    return total, digest.hexdigest()


class ArtifactStore:
    """Artifacts under one workspace folder; safe for several processes sharing the folder."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root).resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        self.state_dir = self.root / STATE_DIR
        self.state_dir.mkdir(exist_ok=True)
        self._manifest = self.state_dir / "artifacts.json"
        self._lock = self.state_dir / "artifacts.lock"

    # ---- names and lookups -------------------------------------------------------------------

    def path(self, name: str) -> Path:
        """The filesystem path of an artifact name, refusing names that escape the workspace."""
        validate_name(name)
        path = (self.root / name).resolve()
        if not path.is_relative_to(self.root):
            raise InvalidArgument(f"artifact name {name!r} leads outside the workspace")
        return path

    def entry(self, name: str) -> ArtifactEntry:
        """The manifest entry of an artifact that exists whole; NotFound otherwise."""
        path = self.path(name)
        raw = self._read_manifest().get(name)
        if raw is None or not path.exists():
            raise NotFound(f"artifact {name!r} not found in workspace {self.root}")
        return ArtifactEntry(**raw)

    def exists(self, name: str) -> bool:
        """True if the artifact was written whole (has a manifest entry and is on disk)."""
        try:
            self.entry(name)
        except NotFound:
            return False
        return True

    def verify(self, name: str) -> bool:
        """True if the artifact's bytes still match its manifest entry."""
        entry = self.entry(name)
        path = self.path(name)
        size, sha = _tree_digest(path) if entry.kind == "dir" else _file_digest(path)
        return size == entry.size_bytes and sha == entry.sha256

    def entries(self) -> list[ArtifactEntry]:
        """Every artifact in the manifest, by name."""
        return [ArtifactEntry(**raw) for _, raw in sorted(self._read_manifest().items())]

    # ---- writing -------------------------------------------------------------------------------

    @contextlib.contextmanager
    def open_file(self, name: str, *, job_id: str = "", role: str = "") -> Iterator[FileWrite]:
        """Write one file artifact; it appears (with its manifest entry) only if the block succeeds."""
        final = self.path(name)
        final.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent)
        os.fchmod(fd, FILE_MODE)  # mkstemp makes 0600; artifacts are shared between services and users
        tmp = Path(tmp_name)
        write = FileWrite(os.fdopen(fd, "wb"), tmp)
        try:
            yield write
            write.fh.flush()
            os.fsync(write.fh.fileno())
            write.fh.close()
            os.replace(tmp, final)
            _fsync_dir(final.parent)
        except BaseException:
            write.fh.close()
            tmp.unlink(missing_ok=True)
            raise
        size, sha = _file_digest(final)
        write.entry = self._record(name, "file", size, sha, write.records, job_id, role)

    def write_bytes(
        self, name: str, data: bytes, *, job_id: str = "", role: str = "", records: int = -1
    ) -> ArtifactEntry:
        """Write a small file artifact in one go."""
        with self.open_file(name, job_id=job_id, role=role) as out:
            out.fh.write(data)
            out.records = records
        assert out.entry is not None
        return out.entry

    @contextlib.contextmanager
    def open_dir(self, name: str, *, job_id: str = "", role: str = "") -> Iterator[DirWrite]:
        """Build a folder artifact in a temporary folder; it replaces the old one only on success."""
        final = self.path(name)
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent))
        tmp.chmod(DIR_MODE)
        write = DirWrite(tmp)
        try:
            yield write
            for path in tmp.rglob("*"):
                if path.is_file():
                    with path.open("rb") as fh:
                        os.fsync(fh.fileno())
            old = None
            if final.exists():
                old = final.with_name(f".{final.name}.{os.getpid()}.{time.monotonic_ns()}.old")
                os.replace(final, old)
            os.replace(tmp, final)
            _fsync_dir(final.parent)
            if old is not None:
                shutil.rmtree(old, ignore_errors=True)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        size, sha = _tree_digest(final)
        write.entry = self._record(name, "dir", size, sha, write.records, job_id, role)

    def remove(self, name: str) -> None:
        """Delete an artifact and its manifest entry."""
        path = self.path(name)
        with self._locked():
            manifest = self._read_manifest()
            manifest.pop(name, None)
            self._write_manifest(manifest)
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)

    # ---- manifest ------------------------------------------------------------------------------

    def _record(
        self, name: str, kind: str, size: int, sha: str, records: int, job_id: str, role: str
    ) -> ArtifactEntry:
        entry = ArtifactEntry(name, kind, size, sha, records, job_id, role, time.time())
        with self._locked():
            manifest = self._read_manifest()
            manifest[name] = asdict(entry)
            self._write_manifest(manifest)
        logger.info("wrote artifact %s (%d bytes, %d records)", name, size, records)
        return entry

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        with self._lock.open("a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def _read_manifest(self) -> dict[str, dict]:
        try:
            return json.loads(self._manifest.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}

    def _write_manifest(self, manifest: dict[str, dict]) -> None:
        atomic_write_text(self._manifest, json.dumps(manifest, ensure_ascii=False, indent=1, sort_keys=True))


@dataclass
class FileWrite:
    """A file artifact being written: write to fh, set records; entry is filled in on success."""

    fh: BinaryIO
    tmp_path: Path
    records: int = -1
    entry: ArtifactEntry | None = None


@dataclass
class DirWrite:
    """A folder artifact being built in path; entry is filled in on success."""

    path: Path
    records: int = -1
    entry: ArtifactEntry | None = None


def atomic_write_text(path: Path, text: str) -> None:
    """Replace path's contents with text atomically (temporary file, fsync, rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, FILE_MODE)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
