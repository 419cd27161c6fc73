"""The supil command line, run as a real process."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from supil.local import SERVICE_NAMES

REPO = Path(__file__).resolve().parent.parent.parent


def supil(*args: str, timeout: float = 120, **kwargs: object) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, COLUMNS="200", NO_COLOR="1")
    return subprocess.run(
        [sys.executable, "-m", "supil.cli", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        **kwargs,
    )


def test_bad_spec_exits_2_listing_fields(tmp_path: Path) -> None:
    spec = tmp_path / "bad.toml"
    spec.write_text(
        '[essay]\nname = "x"\ntitle = "t"\ntheme = "함께"\ntarget_chars = -1\n[generate]\ntop_p = 2\n'
    )
    result = supil("run", str(spec), "--workspace", str(tmp_path / "ws"))
    assert result.returncode == 2
    for field in ("essay.target_chars", "generate.top_p", "sections"):
        assert field in result.stderr
    assert not (tmp_path / "ws").exists(), "nothing starts for a bad spec"


def test_dry_run_shows_plan() -> None:
    result = supil("run", "examples/demo.toml", "--dry-run")
    assert result.returncode == 0, result.stderr
    assert "spec is valid" in result.stdout
    assert "함께라는 것은" in result.stdout and "1,000" in result.stdout


def test_services_up_check_shows_five_healthy(tmp_path: Path) -> None:
    result = supil("services", "up", "--check", "--workspace", str(tmp_path / "ws"))
    assert result.returncode == 0, result.stdout + result.stderr
    rows = [line for line in result.stdout.splitlines() if "SERVING" in line]
    assert sorted(row.split()[1] for row in rows) == sorted(SERVICE_NAMES)
    assert all("JobService" in row for row in rows)
    assert "stopped: " in result.stdout and result.stdout.count("(exit 0)") == 5


def test_services_up_until_ctrl_c_and_status_from_outside(tmp_path: Path) -> None:
    env = dict(os.environ, COLUMNS="200", NO_COLOR="1")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "supil.cli",
            "services",
            "up",
            "cleaner",
            "trainer",
            "--workspace",
            str(tmp_path / "ws"),
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    lines: list[str] = []
    assert process.stdout is not None
    deadline = time.monotonic() + 90
    while not any("Ctrl-C" in line for line in lines):
        assert time.monotonic() < deadline and process.poll() is None, "".join(lines)
        lines.append(process.stdout.readline())
    addresses = re.findall(r"127\.0\.0\.1:\d+", "".join(lines))
    assert len(addresses) == 2
    status = supil("services", "status", "--remote", ",".join(addresses))
    assert status.returncode == 0, status.stdout
    assert status.stdout.count("SERVING") == 2
    process.send_signal(signal.SIGINT)
    out, _ = process.communicate(timeout=60)
    assert process.returncode == 0
    assert "cleaner (exit 0)" in out and "trainer (exit 0)" in out
    after = supil("services", "status", "--remote", addresses[0])
    assert after.returncode == 1
    assert "UNAVAILABLE" in after.stdout


def test_status_rejects_bad_addresses() -> None:
    result = supil("services", "status", "--remote", "nohost")
    assert result.returncode == 2
    assert "host:port" in result.stderr
