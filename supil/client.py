"""Client-side connections to supil services: channels with limits and token, health, reflection."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from supil.v1 import jobs_pb2, jobs_pb2_grpc

DEFAULT_MAX_MESSAGE_BYTES = 64 * 1024 * 1024


class _BearerToken(
    grpc.UnaryUnaryClientInterceptor,
    grpc.UnaryStreamClientInterceptor,
    grpc.StreamUnaryClientInterceptor,
    grpc.StreamStreamClientInterceptor,
):
    """Adds `authorization: Bearer <token>` to every call."""

    def __init__(self, token: str) -> None:
        self._header = ("authorization", f"Bearer {token}")

    def _details(self, details: Any) -> Any:
        metadata = [*(details.metadata or ()), self._header]
        return _CallDetails(
            details.method,
            details.timeout,
            metadata,
            details.credentials,
            details.wait_for_ready,
            details.compression,
        )

    def intercept_unary_unary(self, continuation: Any, client_call_details: Any, request: Any) -> Any:
        return continuation(self._details(client_call_details), request)

    def intercept_unary_stream(self, continuation: Any, client_call_details: Any, request: Any) -> Any:
        return continuation(self._details(client_call_details), request)

    def intercept_stream_unary(
        self, continuation: Any, client_call_details: Any, request_iterator: Any
    ) -> Any:
        return continuation(self._details(client_call_details), request_iterator)

    def intercept_stream_stream(
        self, continuation: Any, client_call_details: Any, request_iterator: Any
    ) -> Any:
        return continuation(self._details(client_call_details), request_iterator)


@dataclass(frozen=True)
class _CallDetails(grpc.ClientCallDetails):
    method: str
    timeout: float | None
    metadata: Any
    credentials: Any
    wait_for_ready: Any
    compression: Any


def open_channel(
    address: str, token: str | None = None, max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES
) -> grpc.Channel:
    """An insecure channel to address with supil's message limits (and the bearer token, if any)."""
    channel = grpc.insecure_channel(
        address,
        options=[
            ("grpc.max_send_message_length", max_message_bytes),
            ("grpc.max_receive_message_length", max_message_bytes),
        ],
    )
    if token:
        channel = grpc.intercept_channel(channel, _BearerToken(token))
    return channel


def health_status(channel: grpc.Channel, service: str = "", timeout: float = 2.0) -> str:
    """SERVING, NOT_SERVING, UNKNOWN, SERVICE_UNKNOWN, or the gRPC code name if the call failed."""
    try:
        reply = health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service=service), timeout=timeout
        )
    except grpc.RpcError as exc:
        return exc.code().name
    return health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)


def wait_serving(channel: grpc.Channel, timeout: float, service: str = "") -> bool:
    """Poll the health check until SERVING or timeout; True if it got there."""
    deadline = time.monotonic() + timeout
    while True:
        if health_status(channel, service, timeout=1.0) == "SERVING":
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.1)


def list_services(channel: grpc.Channel, timeout: float = 5.0) -> list[str]:
    """Service names the server lists through gRPC reflection (what grpcurl's `list` shows)."""
    stub = reflection_pb2_grpc.ServerReflectionStub(channel)

    def one_request() -> Iterator[reflection_pb2.ServerReflectionRequest]:
        yield reflection_pb2.ServerReflectionRequest(list_services="")

    names: list[str] = []
    for response in stub.ServerReflectionInfo(one_request(), timeout=timeout):
        names.extend(s.name for s in response.list_services_response.service)
    return sorted(names)


def error_text(exc: grpc.RpcError) -> str:
    """`CODE: message` for an RPC error, for showing to a person."""
    details = exc.details() if hasattr(exc, "details") else str(exc)
    return f"{exc.code().name}: {details}"


TERMINAL_STATES = frozenset(
    {jobs_pb2.Job.STATE_SUCCEEDED, jobs_pb2.Job.STATE_FAILED, jobs_pb2.Job.STATE_CANCELLED}
)


def follow_job(
    channel: grpc.Channel,
    job_id: str,
    on_event: Any = None,
    *,
    after_sequence: int = 0,
    reconnect_for: float = 30.0,
    attempt: int | None = None,
) -> Any:
    """Watch a job to its end, re-attaching (from the last event seen) if the stream breaks.

    Returns the terminal Job. on_event(event) is called for every event in order, once each. With
    attempt, the end of an earlier attempt of the same job (resubmitted after a failure) is not the end.
    """
    stub = jobs_pb2_grpc.JobServiceStub(channel)
    seen = after_sequence
    broken_since: float | None = None
    while True:
        try:
            for response in stub.WatchJob(jobs_pb2.WatchJobRequest(job_id=job_id, after_sequence=seen)):
                broken_since = None
                event = response.event
                if event.sequence <= seen:
                    continue
                seen = event.sequence
                if on_event is not None:
                    on_event(event)
                if (
                    event.job.state in TERMINAL_STATES
                    and event.kind == jobs_pb2.JobEvent.KIND_STATE
                    and (attempt is None or event.job.attempt == attempt)
                ):
                    return event.job
            job = stub.GetJob(jobs_pb2.GetJobRequest(job_id=job_id)).job
            if job.state in TERMINAL_STATES and (attempt is None or job.attempt == attempt):
                return job
        except grpc.RpcError as exc:
            if exc.code() != grpc.StatusCode.UNAVAILABLE:
                raise
            broken_since = broken_since or time.monotonic()
            if time.monotonic() - broken_since > reconnect_for:
                raise
            time.sleep(0.2)
