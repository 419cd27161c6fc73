"""In-process retrieval on a workspace, for the CLI's quick checks when no retriever is running."""

from __future__ import annotations

from pathlib import Path

from services.retriever.config import RetrieverConfig
from services.retriever.retriever import Retriever
from services.retriever.search import QueryOptions, validate_k
from services.runtime import ArtifactStore, InvalidArgument
from supil.v1 import retriever_pb2


def search_response(
    retriever: Retriever, request: retriever_pb2.SearchRequest
) -> retriever_pb2.SearchResponse:
    """Answer a SearchRequest with a retriever: the one place a request becomes hits on the wire."""
    if not request.query.strip():
        raise InvalidArgument("query is empty; give a sub-topic such as '희망과 함께'")
    k = validate_k(request.k)
    hits, total = retriever.search(request.index, request.query, QueryOptions.from_proto(request.options), k)
    return retriever_pb2.SearchResponse(
        hits=[
            retriever_pb2.Hit(
                id=h.document.id,
                score=h.score,
                title=h.document.title,
                source=h.document.source,
                url=h.document.url,
                snippet=h.snippet,
            )
            for h in hits
        ],
        total_hits=total,
    )


def search_in_workspace(
    workspace: Path, request: retriever_pb2.SearchRequest
) -> retriever_pb2.SearchResponse:
    """Answer a SearchRequest from the indexes in a workspace, as the service would."""
    return search_response(Retriever(ArtifactStore(workspace), RetrieverConfig.from_env()), request)
