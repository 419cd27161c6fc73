"""The retriever's core: which backend holds an index, and searching it with the shared semantics."""

from __future__ import annotations

import json
import logging
import os
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from services.retriever.config import RetrieverConfig
from services.retriever.elastic import ElasticBackend
from services.retriever.embedded import EmbeddedBackend, index_artifact
from services.retriever.search import QueryOptions, SearchableIndex, SearchHit, add_snippets, run_query
from services.runtime import ArtifactStore, FailedPrecondition, InvalidArgument, NotFound

logger = logging.getLogger(__name__)

STAMP_TTL_S = 0.001  # how long an index's freshness stat holds (one stat per query below 1,000 q/s)
INDEX_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")


def validate_index_name(name: str) -> str:
    """An index name usable on both backends (Elasticsearch wants lowercase)."""
    if not name:
        raise InvalidArgument(
            "index name is empty; name the index (lowercase letters, digits, '.', '_', '-')"
        )
    if not INDEX_NAME.match(name):
        raise InvalidArgument(
            f"index name {name!r} must be 1-64 lowercase letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return name


def _stamp(path: str | Path) -> tuple[int, ...]:
    """What changes when a file is replaced: device, inode, size and modification time (empty if absent)."""
    try:
        st = os.stat(path)
    except OSError:
        return ()
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


class Retriever:
    """Opens indexes on whichever backend built them and answers queries the same way on both."""

    def __init__(
        self,
        store: ArtifactStore,
        config: RetrieverConfig | None = None,
        *,
        es_client_factory: Callable[[], Any] | None = None,
    ) -> None:
        self.store = store
        self.config = config or RetrieverConfig()
        self.embedded = EmbeddedBackend(store, workers=self.config.workers)
        factory = es_client_factory
        if factory is None and self.config.es_url:
            factory = self.config.elasticsearch_client
        self._infos: dict[str, tuple[str, dict[str, Any]]] = {}
        # name -> (index.json path, its stat stamp when opened, the opened index, when to stat again)
        self._opened: dict[str, tuple[str, tuple[int, ...], SearchableIndex, float]] = {}
        self.elastic = (
            ElasticBackend(store, factory, self.config.es_index_prefix) if factory is not None else None
        )

    def backend_for(self, requested: str) -> EmbeddedBackend | ElasticBackend:
        """The backend to build on ('' = the configured default)."""
        name = requested or self.config.backend
        if name == "elasticsearch":
            if self.elastic is None:
                raise FailedPrecondition(
                    "the Elasticsearch backend needs SUPIL_ES_URL set where the retriever runs"
                )
            return self.elastic
        return self.embedded

    def index_info(self, name: str) -> dict[str, Any]:
        """The record of a built index; NotFound if there is none."""
        validate_index_name(name)
        artifact = index_artifact(name)
        try:
            entry = self.store.entry(artifact)
        except NotFound:
            raise NotFound(f"index {name!r} not found (build it with CreateIndexJob)") from None
        cached = self._infos.get(name)
        if cached is None or cached[0] != entry.sha256:  # rebuilt since: read the new record
            info = json.loads((self.store.path(artifact) / "index.json").read_text(encoding="utf-8"))
            cached = self._infos[name] = (entry.sha256, info)
        return cached[1]

    def open(self, name: str) -> SearchableIndex:
        """The searchable index called name, on its backend.

        An index folder is only ever replaced whole (a rebuild writes a new folder and renames it
        into place; a delete drops it), so an unchanged stat of its index.json means the index
        opened before is still the one in the workspace: a query then costs at most one stat (one
        per STAMP_TTL_S under load), not three reads of the workspace manifest. So a search sees a
        rebuild that finished a millisecond before it (search, rebuild, search in one thread always
        does: a rebuild takes longer than that); one racing the rebuild already may answer from the
        index it replaces."""
        opened = self._opened.get(name)
        if opened is not None:
            now = time.monotonic()
            if now < opened[3]:
                return opened[2]
            if _stamp(opened[0]) == opened[1]:
                self._opened[name] = (*opened[:3], now + STAMP_TTL_S)
                return opened[2]
        info = self.index_info(name)
        record = self.store.path(index_artifact(name)) / "index.json"
        stamp = _stamp(record)  # taken before opening: a rebuild meanwhile is seen next time
        if info.get("backend") == "elasticsearch":
            if self.elastic is None:
                raise FailedPrecondition(
                    f"index {name!r} lives on Elasticsearch; set SUPIL_ES_URL to search it"
                )
            index: SearchableIndex = self.elastic.open(name, info)
        else:
            index = self.embedded.open(name)
        if stamp:
            self._opened[name] = (str(record), stamp, index, time.monotonic() + STAMP_TTL_S)
        return index

    def search(
        self,
        name: str,
        query: str,
        options: QueryOptions,
        k: int,
        *,
        snippets: bool = True,
        with_text: bool = True,
    ) -> tuple[list[SearchHit], int]:
        """Hits for a sub-topic query (with highlighted snippets unless told not to) and the match count.

        with_text=False leaves the documents' texts out (ids, scores and metadata only)."""
        index = self.open(name)
        hits, total, planner = run_query(index, query, options, k, with_text=with_text or snippets)
        if snippets:
            add_snippets(hits, planner, query)
        return hits, total
