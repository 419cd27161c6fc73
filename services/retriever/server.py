"""Builds the retriever service's gRPC server."""

from __future__ import annotations

import logging
import threading

from services.retriever import analyzer, kernels
from services.retriever.config import RetrieverConfig
from services.retriever.retriever import Retriever
from services.retriever.servicer import RetrieverServicer
from services.runtime import (
    ArtifactStore,
    JobRunner,
    Registration,
    ServiceConfig,
    ServiceParts,
    ServiceServer,
)
from services.runtime import create_server as create_runtime_server
from supil.v1 import retriever_pb2, retriever_pb2_grpc

logger = logging.getLogger(__name__)


def create_server(
    config: ServiceConfig,
    *,
    store: ArtifactStore | None = None,
    runner: JobRunner | None = None,
    retriever_config: RetrieverConfig | None = None,
    retriever: Retriever | None = None,
) -> tuple[ServiceServer, int]:
    """A bound, not yet started retriever server with health, reflection and JobService.

    The retriever settings come from the environment (SUPIL_RETRIEVER_BACKEND, SUPIL_ES_URL, ...)
    unless given; a bad value raises ConfigError naming the variable.
    """
    # The query kernels and the analyzer's lattice compile (or load from numba's cache) in the
    # background, not in a first query.
    threading.Thread(target=_warm_up, name="kernel-warm-up", daemon=True).start()
    parts = ServiceParts.build(config, store, runner)
    if retriever is None:
        retriever = Retriever(parts.store, retriever_config or RetrieverConfig.from_env())
    servicer = RetrieverServicer(parts, retriever)
    registration = Registration.of(
        retriever_pb2, "RetrieverService", retriever_pb2_grpc.add_RetrieverServiceServicer_to_server, servicer
    )
    return create_runtime_server(config, [registration], parts.runner)


def _warm_up() -> None:
    kernels.warm_up()
    try:
        analyzer.warm_up()
    except Exception:  # a missing dictionary is reported by the first request that needs it
        logger.exception("the analyzer's lattice did not warm up")
