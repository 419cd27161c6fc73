"""Runs the services as local child processes (the embedded default): start, wait for health, stop."""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from services.runtime.config import SERVICE_NAMES
from supil.client import health_status, open_channel

logger = logging.getLogger(__name__)

PR_SET_PDEATHSIG = 1  # linux/prctl.h


def _die_with_parent() -> None:
    """In the child: get SIGTERM when the parent dies (even by SIGKILL), so no service is orphaned."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


__all__ = ["SERVICE_NAMES", "LocalService", "LocalServices", "StartError"]


class StartError(RuntimeError):
    """A service did not come up; the message says which and shows the end of its log."""


@dataclass
class LocalService:
    """One child service process."""

    name: str
    process: subprocess.Popen
    port_file: Path
    log_file: Path
    host: str
    port: int = 0

    @property
    def address(self) -> str:
        """host:port it listens on (once started)."""
        return f"{self.host}:{self.port}"


@dataclass
class LocalServices:
    """The services as child processes on free ports of 127.0.0.1, sharing one workspace."""

    names: tuple[str, ...] = SERVICE_NAMES
    workspace: Path = Path("supil-work")
    host: str = "127.0.0.1"
    token: str | None = None
    python: str = sys.executable
    running: dict[str, LocalService] = field(default_factory=dict)

    def start(self, timeout: float = 90.0) -> dict[str, str]:
        """Start every service, wait until each answers SERVING, return name -> address."""
        unknown = [n for n in self.names if n not in SERVICE_NAMES]
        if unknown:
            raise StartError(f"unknown service(s): {', '.join(unknown)}; known: {', '.join(SERVICE_NAMES)}")
        run_dir = self.workspace / ".supil" / "run"
        log_dir = self.workspace / ".supil" / "logs"
        run_dir.mkdir(parents=True, exist_ok=True)
        log_dir.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ, SUPIL_LOG_FORMAT="json", PYTHONUNBUFFERED="1")
        if self.token:
            env["SUPIL_TOKEN"] = self.token
        try:
            for name in self.names:
                port_file = run_dir / f"{name}.{os.getpid()}.port"
                port_file.unlink(missing_ok=True)
                log_file = log_dir / f"{name}.log"
                with log_file.open("ab") as log:
                    process = subprocess.Popen(
                        [
                            self.python,
                            "-m",
                            f"services.{name}",
                            "--host",
                            self.host,
                            "--port",
                            "0",
                            "--port-file",
                            str(port_file),
                            "--workspace",
                            str(self.workspace),
                        ],
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        stdin=subprocess.DEVNULL,
                        env=env,
                        start_new_session=True,  # Ctrl-C reaches us, and we stop them in order
                        preexec_fn=_die_with_parent,
                    )
                self.running[name] = LocalService(name, process, port_file, log_file, self.host)
            deadline = time.monotonic() + timeout
            for service in self.running.values():
                self._wait_up(service, deadline)
        except BaseException:
            self.stop()
            raise
        return {name: s.address for name, s in self.running.items()}

    def _wait_up(self, service: LocalService, deadline: float) -> None:
        while not service.port:
            self._check_alive(service)
            if service.port_file.exists() and (text := service.port_file.read_text().strip()):
                service.port = int(text)
                break
            if time.monotonic() > deadline:
                raise StartError(f"{service.name} did not start listening in time; log: {service.log_file}")
            time.sleep(0.05)
        channel = open_channel(service.address, self.token)
        try:
            while health_status(channel, timeout=1.0) != "SERVING":
                self._check_alive(service)
                if time.monotonic() > deadline:
                    raise StartError(
                        f"{service.name} at {service.address} is not SERVING; log: {service.log_file}"
                    )
                time.sleep(0.05)
        finally:
            channel.close()

    @staticmethod
    def _check_alive(service: LocalService) -> None:
        code = service.process.poll()
        if code is not None:
            tail = service.log_file.read_text(encoding="utf-8", errors="replace").splitlines()[-8:]
            raise StartError(f"{service.name} exited with code {code} while starting:\n" + "\n".join(tail))

    def stop(self, grace: float = 15.0) -> dict[str, int | None]:
        """SIGTERM every service, wait up to grace seconds, SIGKILL any left; return exit codes."""
        for service in self.running.values():
            if service.process.poll() is None:
                service.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace
        codes: dict[str, int | None] = {}
        for name, service in self.running.items():
            try:
                codes[name] = service.process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                logger.warning("%s did not stop within %.0fs; killing it", name, grace)
                service.process.kill()
                codes[name] = service.process.wait()
            service.port_file.unlink(missing_ok=True)
        self.running.clear()
        return codes

    def __enter__(self) -> LocalServices:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
