"""Container health probe: `python -m supil.healthcheck SERVICE|HOST:PORT` asks the gRPC health check."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping, Sequence

from supil.client import health_status, open_channel

SERVICE_PORTS = {"crawler": 50051, "cleaner": 50052, "retriever": 50053, "trainer": 50054, "generator": 50055}


def resolve_address(target: str, env: Mapping[str, str] | None = None) -> str:
    """host:port for a target that is either an address or a service name.

    A service name resolves the way the service itself picks its port (SUPIL_<SERVICE>_PORT, then
    SUPIL_PORT, then the default), on loopback, so a HEALTHCHECK keeps working when the port is moved
    through the environment.
    """
    env = os.environ if env is None else env
    if target not in SERVICE_PORTS:
        host, sep, port = target.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) <= 65535:
            raise ValueError(
                f"{target!r} is neither a service ({', '.join(SERVICE_PORTS)}) nor host:port with a port 1-65535"
            )
        return target
    port = env.get(f"SUPIL_{target.upper()}_PORT") or env.get("SUPIL_PORT") or str(SERVICE_PORTS[target])
    if not port.isdigit() or not 0 < int(port) <= 65535:
        raise ValueError(f"port {port!r} for {target} (from the environment) is not a TCP port 1-65535")
    return f"127.0.0.1:{port}"


def main(argv: Sequence[str] | None = None) -> int:
    """Exit 0 when the target answers SERVING, 1 otherwise (the reason goes to stderr), 2 on bad usage."""
    parser = argparse.ArgumentParser(
        prog="python -m supil.healthcheck",
        description="Ask a supil service's gRPC health check (grpc.health.v1.Health/Check); exit 0 if SERVING.",
    )
    parser.add_argument("target", help="a service name (port from the environment) or host:port")
    parser.add_argument("--service", default="", help="health service name to ask about (default: overall)")
    parser.add_argument("--timeout", type=float, default=3.0, help="seconds to wait for the answer")
    args = parser.parse_args(argv)
    try:
        address = resolve_address(args.target)
    except ValueError as exc:
        sys.stderr.write(f"healthcheck: {exc}\n")
        return 2
    channel = open_channel(address)
    try:
        status = health_status(channel, args.service, timeout=args.timeout)
    finally:
        channel.close()
    if status == "SERVING":
        return 0
    sys.stderr.write(f"healthcheck: {address} is {status}\n")
    return 1


if __name__ == "__main__":
    raise SystemExit(main())
