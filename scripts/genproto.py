"""Generate the Python stubs in supil/v1/ from protos/ (the only script that writes them)."""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from importlib import resources
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROTO_ROOT = ROOT / "protos"
PACKAGE = Path("supil") / "v1"
GENERATED_SUFFIXES = ("_pb2.py", "_pb2.pyi", "_pb2_grpc.py")


def proto_files() -> list[Path]:
    """Every .proto under protos/, relative to protos/, in a stable order."""
    return sorted(p.relative_to(PROTO_ROOT) for p in PROTO_ROOT.rglob("*.proto"))


def generate(out_dir: Path) -> list[Path]:
    """Run protoc into out_dir and return the generated files, relative to out_dir."""
    from grpc_tools import protoc

    well_known = resources.files("grpc_tools") / "_proto"
    args = [
        "grpc_tools.protoc",
        f"-I{PROTO_ROOT}",
        f"-I{well_known}",
        f"--python_out={out_dir}",
        f"--pyi_out={out_dir}",
        f"--grpc_python_out={out_dir}",
        *[str(p) for p in proto_files()],
    ]
    code = protoc.main(args)
    if code != 0:
        raise SystemExit(f"protoc failed with exit code {code}")
    return sorted(p.relative_to(out_dir) for p in out_dir.rglob("*") if p.name.endswith(GENERATED_SUFFIXES))


def committed_files() -> list[Path]:
    """Generated files currently in the source tree, relative to the repository root."""
    return sorted(
        p.relative_to(ROOT) for p in (ROOT / PACKAGE).glob("*") if p.name.endswith(GENERATED_SUFFIXES)
    )


def stale_files() -> list[str]:
    """Names of generated files that differ from what protoc makes now (missing or extra included)."""
    with tempfile.TemporaryDirectory() as tmp:
        fresh = generate(Path(tmp))
        fresh_set, committed = set(fresh), set(committed_files())
        problems = [f"{p} is missing" for p in sorted(fresh_set - committed)]
        problems += [f"{p} has no .proto any more" for p in sorted(committed - fresh_set)]
        for rel in sorted(fresh_set & committed):
            if (Path(tmp) / rel).read_bytes() != (ROOT / rel).read_bytes():
                problems.append(f"{rel} differs from protoc's output")
        return problems


def main(argv: list[str] | None = None) -> int:
    """Regenerate the stubs, or with --check report stale ones and exit 1."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="only report stale stubs; exit 1 if any")
    args = parser.parse_args(argv)
    if args.check:
        problems = stale_files()
        for line in problems:
            sys.stderr.write(f"stale stub: {line}\n")
        if problems:
            sys.stderr.write("run `make protos` to regenerate\n")
        return 1 if problems else 0
    for old in committed_files():
        (ROOT / old).unlink()
    with tempfile.TemporaryDirectory() as tmp:
        for rel in generate(Path(tmp)):
            (ROOT / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(Path(tmp) / rel, ROOT / rel)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
