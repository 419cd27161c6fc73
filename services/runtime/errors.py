"""Domain errors and the one place that turns them into canonical gRPC status codes."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import grpc

logger = logging.getLogger(__name__)


class SupilError(Exception):
    """A failure the caller can act on; its message is shown to the user as is."""

    code: grpc.StatusCode = grpc.StatusCode.INTERNAL


class InvalidArgument(SupilError, ValueError):
    """The request (or a spec, a name, a parameter) is malformed."""

    code = grpc.StatusCode.INVALID_ARGUMENT


class NotFound(SupilError, LookupError):
    """An unknown job, artifact, index or writer."""

    code = grpc.StatusCode.NOT_FOUND


class AlreadyExists(SupilError):
    """A job_id is already taken by a different request."""

    code = grpc.StatusCode.ALREADY_EXISTS


class FailedPrecondition(SupilError):
    """A prerequisite is missing (an index not built yet, a base model not trained)."""

    code = grpc.StatusCode.FAILED_PRECONDITION


class ResourceExhausted(SupilError):
    """Out of memory or another resource; the message says what to change."""

    code = grpc.StatusCode.RESOURCE_EXHAUSTED


class Unimplemented(SupilError):
    """A capability that has not been built yet; the message says which."""

    code = grpc.StatusCode.UNIMPLEMENTED


class Unauthenticated(SupilError):
    """A call without the service's bearer token."""

    code = grpc.StatusCode.UNAUTHENTICATED


def status_for(exc: BaseException) -> tuple[grpc.StatusCode, str]:
    """The canonical code and a short message for an exception raised by domain code."""
    if isinstance(exc, SupilError):
        return exc.code, str(exc)
    if isinstance(exc, MemoryError) or type(exc).__name__ == "OutOfMemoryError":
        return grpc.StatusCode.RESOURCE_EXHAUSTED, f"out of memory: {_first_line(exc)}"
    return grpc.StatusCode.INTERNAL, f"internal error ({type(exc).__name__}); see the service log"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:300] if text else type(exc).__name__


class ErrorInterceptor(grpc.ServerInterceptor):
    """Maps exceptions escaping any handler to canonical codes; never sends a stack trace."""

    def intercept_service(self, continuation: Callable[[Any], Any], handler_call_details: Any) -> Any:
        handler = continuation(handler_call_details)
        if handler is None:
            return None
        method = handler_call_details.method
        if handler.unary_unary:
            return grpc.unary_unary_rpc_method_handler(
                _wrap_unary(handler.unary_unary, method),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        if handler.unary_stream:
            return grpc.unary_stream_rpc_method_handler(
                _wrap_stream(handler.unary_stream, method),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        return handler  # client-streaming RPCs: none in supil.v1


def _abort(context: grpc.ServicerContext, method: str, exc: BaseException) -> None:
    code, message = status_for(exc)
    if code == grpc.StatusCode.INTERNAL:
        logger.exception("unexpected error in %s", method)
    else:
        logger.info("%s -> %s: %s", method, code.name, message)
    context.abort(code, message)


def _wrap_unary(behaviour: Callable[[Any, grpc.ServicerContext], Any], method: str) -> Callable:
    def wrapped(request: Any, context: grpc.ServicerContext) -> Any:
        try:
            return behaviour(request, context)
        except Exception as exc:
            if _already_aborted(context):
                raise
            _abort(context, method, exc)

    return wrapped


def _wrap_stream(behaviour: Callable[[Any, grpc.ServicerContext], Any], method: str) -> Callable:
    def wrapped(request: Any, context: grpc.ServicerContext) -> Any:
        try:
            yield from behaviour(request, context)
        except Exception as exc:
            if _already_aborted(context):
                raise
            _abort(context, method, exc)

    return wrapped


def _already_aborted(context: grpc.ServicerContext) -> bool:
    # context.abort() raises after setting a code; let that through untouched.
    code = context.code() if hasattr(context, "code") else None
    return code is not None and code != grpc.StatusCode.OK
