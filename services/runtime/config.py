"""Typed service configuration, read once from the environment and command-line flags."""

from __future__ import annotations

import argparse
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

SERVICE_NAMES = ("crawler", "cleaner", "retriever", "trainer", "generator")

# Default ports when a service runs on its own (compose, a cluster); `supil services up` uses free ones.
DEFAULT_PORTS = {"crawler": 50051, "cleaner": 50052, "retriever": 50053, "trainer": 50054, "generator": 50055}

MAX_MESSAGE_MB_LIMIT = 1024
SERVICE_NAME_PATTERN = re.compile(r"^[a-z][a-z0-9-]{0,31}$")


class ConfigError(ValueError):
    """A configuration value is missing or invalid; the message names the variable or flag."""


@dataclass(frozen=True)
class ServiceConfig:
    """Everything the shared runtime needs to run one service."""

    service: str
    host: str = "127.0.0.1"
    port: int = 0
    workspace: Path = field(default_factory=lambda: Path("supil-work"))
    # Bearer token every call but health checks must carry; None turns authentication off.
    token: str | None = None
    max_message_bytes: int = 64 * 1024 * 1024
    rpc_workers: int = 16
    job_workers: int = 2
    grace_seconds: float = 10.0
    log_format: str = "auto"
    log_level: str = "INFO"
    # Where to write the bound port once listening (for parents that start us with --port 0).
    port_file: Path | None = None

    def __post_init__(self) -> None:
        if not SERVICE_NAME_PATTERN.match(self.service):
            raise ConfigError(
                f"service: {self.service!r} is not a service name (lowercase letters, digits, '-')"
            )
        if not 0 <= self.port <= 65535:
            raise ConfigError(f"port: {self.port} is not a TCP port (0-65535)")
        if self.log_format not in ("auto", "json", "text"):
            raise ConfigError(f"log format: {self.log_format!r} is not one of auto, json, text")

    @property
    def address(self) -> str:
        """host:port as given to grpc (IPv6 hosts bracketed)."""
        host = f"[{self.host}]" if ":" in self.host and not self.host.startswith("[") else self.host
        return f"{host}:{self.port}"


def env_int(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    """The integer in env[name] (default when unset or empty); ConfigError naming the variable if bad."""
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not an integer") from None
    if not low <= value <= high:
        raise ConfigError(f"{name}={value} is out of range ({low}-{high})")
    return value


def env_float(env: Mapping[str, str], name: str, default: float, low: float, high: float) -> float:
    """The number in env[name] (default when unset or empty); ConfigError naming the variable if bad."""
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a number") from None
    if not low <= value <= high:
        raise ConfigError(f"{name}={value} is out of range ({low}-{high})")
    return value


def argument_parser(service: str) -> argparse.ArgumentParser:
    """The flags every service accepts; flags win over environment variables."""
    parser = argparse.ArgumentParser(
        prog=f"python -m services.{service}",
        description=f"Run the supil {service} gRPC service.",
        epilog="Environment: SUPIL_HOST, SUPIL_PORT (or SUPIL_<SERVICE>_PORT), SUPIL_WORKSPACE, SUPIL_TOKEN, "
        "SUPIL_MAX_MESSAGE_MB, SUPIL_RPC_WORKERS, SUPIL_JOB_WORKERS, SUPIL_GRACE_SECONDS, "
        "SUPIL_LOG_FORMAT (auto|json|text), SUPIL_LOG_LEVEL.",
    )
    parser.add_argument("--host", help="address to bind (default 127.0.0.1)")
    parser.add_argument(
        "--port", type=int, help=f"port to bind; 0 picks a free one (default {DEFAULT_PORTS.get(service, 0)})"
    )
    parser.add_argument("--workspace", type=Path, help="artifact workspace folder (default ./supil-work)")
    parser.add_argument("--port-file", type=Path, help="write the bound port to this file once listening")
    parser.add_argument(
        "--log-format", choices=("auto", "json", "text"), help="log format (default: json unless a tty)"
    )
    return parser


def load_config(
    service: str, argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None
) -> ServiceConfig:
    """Build a service's config from flags and the environment; raise ConfigError naming a bad value."""
    env = os.environ if env is None else env
    args = argument_parser(service).parse_args(argv)
    port_var = f"SUPIL_{service.upper()}_PORT"
    default_port = DEFAULT_PORTS.get(service, 0)
    port = args.port
    if port is None:
        name = port_var if env.get(port_var) else "SUPIL_PORT"
        port = env_int(env, name, default_port, 0, 65535)
    elif not 0 <= port <= 65535:
        raise ConfigError(f"--port {port} is not a TCP port (0-65535)")
    workspace = args.workspace or Path(env.get("SUPIL_WORKSPACE") or "supil-work")
    token = env.get("SUPIL_TOKEN") or None
    if token is not None and (len(token) < 16 or any(c.isspace() for c in token)):
        raise ConfigError("SUPIL_TOKEN must be at least 16 characters with no whitespace")
    log_format = args.log_format or env.get("SUPIL_LOG_FORMAT") or "auto"
    if log_format not in ("auto", "json", "text"):
        raise ConfigError(f"SUPIL_LOG_FORMAT={log_format!r} is not one of auto, json, text")
    log_level = (env.get("SUPIL_LOG_LEVEL") or "INFO").upper()
    if log_level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise ConfigError(f"SUPIL_LOG_LEVEL={log_level!r} is not one of DEBUG, INFO, WARNING, ERROR")
    return ServiceConfig(
        service=service,
        host=args.host or env.get("SUPIL_HOST") or "127.0.0.1",
        port=port,
        workspace=workspace,
        token=token,
        max_message_bytes=env_int(env, "SUPIL_MAX_MESSAGE_MB", 64, 1, MAX_MESSAGE_MB_LIMIT) * 1024 * 1024,
        rpc_workers=env_int(env, "SUPIL_RPC_WORKERS", 16, 1, 1024),
        job_workers=env_int(env, "SUPIL_JOB_WORKERS", 2, 1, 256),
        grace_seconds=env_float(env, "SUPIL_GRACE_SECONDS", 10.0, 0.0, 3600.0),
        log_format=log_format,
        log_level=log_level,
        port_file=args.port_file,
    )
