"""Lucene's own Nori analyzer and BM25 index driven through jpype: the reference for parity checks."""

from __future__ import annotations

import glob
import logging
import os
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from services.retriever.analyzer import AnalyzerSettings, Token

logger = logging.getLogger(__name__)

LUCENE_JAR_DIR = Path(os.environ.get("SUPIL_LUCENE_JARS", "/usr/share/java"))
_JARS = ("lucene-core", "lucene-analyzers-common", "lucene-analyzers-nori")


class ReferenceUnavailable(RuntimeError):
    """jpype, a JVM or Debian's liblucene8-java jars are missing."""


def _jar(stem: str) -> str:
    found = sorted(glob.glob(str(LUCENE_JAR_DIR / f"{stem}-[0-9]*.jar")))
    if not found:
        raise ReferenceUnavailable(
            f"{stem}-*.jar not found in {LUCENE_JAR_DIR} (apt-get install -y liblucene8-java)"
        )
    return found[-1]


def start_jvm() -> Any:
    """Start (once) a JVM with Lucene's core, common and Nori jars; return the jpype module."""
    try:
        import jpype
        import jpype.imports
    except ImportError:
        raise ReferenceUnavailable("jpype1 is not installed (pip install -e '.[dev]')") from None
    if not jpype.isJVMStarted():
        classpath = [_jar(stem) for stem in _JARS]
        try:
            jpype.startJVM(classpath=classpath, convertStrings=True)
        except (OSError, RuntimeError) as exc:
            raise ReferenceUnavailable(f"could not start a JVM: {exc}") from None
    return jpype


def lucene_version() -> str:
    """The version of the Lucene jars in use."""
    start_jvm()
    from org.apache.lucene.util import Version  # type: ignore[import-not-found]

    return str(Version.LATEST)


class LuceneNori:
    """Lucene's KoreanTokenizer + KoreanPartOfSpeechStopFilter + KoreanReadingFormFilter + LowerCaseFilter."""

    def __init__(self, settings: AnalyzerSettings | None = None) -> None:
        start_jvm()
        from java.io import StringReader  # type: ignore[import-not-found]
        from java.util import HashSet  # type: ignore[import-not-found]
        from org.apache.lucene.analysis import (  # type: ignore[import-not-found]
            Analyzer,
            LowerCaseFilter,
        )
        from org.apache.lucene.analysis.ko import (  # type: ignore[import-not-found]
            POS,
            KoreanPartOfSpeechStopFilter,
            KoreanReadingFormFilter,
            KoreanTokenizer,
        )
        from org.apache.lucene.analysis.ko.dict import UserDictionary  # type: ignore[import-not-found]
        from org.apache.lucene.analysis.ko.tokenattributes import (  # type: ignore[import-not-found]
            PartOfSpeechAttribute,
        )
        from org.apache.lucene.analysis.tokenattributes import (  # type: ignore[import-not-found]
            CharTermAttribute,
            OffsetAttribute,
            PositionIncrementAttribute,
            PositionLengthAttribute,
        )

        self.settings = settings or AnalyzerSettings()
        self._StringReader = StringReader
        mode = getattr(KoreanTokenizer.DecompoundMode, self.settings.decompound_mode.upper())
        user_dict = None
        if self.settings.user_dictionary:
            user_dict = UserDictionary.open(StringReader("\n".join(self.settings.user_dictionary)))
        tags = HashSet()
        for tag in self.settings.stop_tags:
            tags.add(POS.Tag.valueOf(tag))
        tokenizer = KoreanTokenizer(
            KoreanTokenizer.DEFAULT_TOKEN_ATTRIBUTE_FACTORY, user_dict, mode, False, True
        )
        stream = LowerCaseFilter(KoreanReadingFormFilter(KoreanPartOfSpeechStopFilter(tokenizer, tags)))
        self._tokenizer = tokenizer
        self._stream = stream
        self._term = stream.addAttribute(CharTermAttribute)
        self._offset = stream.addAttribute(OffsetAttribute)
        self._inc = stream.addAttribute(PositionIncrementAttribute)
        self._len = stream.addAttribute(PositionLengthAttribute)
        self._pos = stream.addAttribute(PartOfSpeechAttribute)
        # An Analyzer wrapping the same chain, for IndexWriter and query parsing.
        self._components = (tokenizer, stream)
        self._analyzer_class = Analyzer

    def analyze(self, text: str) -> list[Token]:
        """Tokens of a text, with Nori's leftPOS, offsets and positions."""
        self._tokenizer.setReader(self._StringReader(text))
        stream = self._stream
        stream.reset()
        out: list[Token] = []
        position = -1
        try:
            while stream.incrementToken():
                position += self._inc.getPositionIncrement()
                left = self._pos.getLeftPOS()
                pos_type = self._pos.getPOSType()
                out.append(
                    Token(
                        str(self._term.toString()),
                        str(left.name()) if left is not None else "",
                        int(self._offset.startOffset()),
                        int(self._offset.endOffset()),
                        position,
                        int(self._len.getPositionLength()),
                        str(pos_type.name()) if pos_type is not None else "",
                    )
                )
            stream.end()
        finally:
            stream.close()
        return out

    def terms(self, text: str) -> list[str]:
        """Just the terms."""
        return [t.term for t in self.analyze(text)]

    def consume(self, text: str) -> None:
        """Run the whole chain over a text inside the JVM, as an indexer would.

        A few jpype calls per text: CachingTokenFilter's first incrementToken pulls every token
        and captures its attributes in Java, so a throughput figure measures Nori, not the
        Python-to-Java calls per token that analyze() and terms() pay.
        """
        from org.apache.lucene.analysis import CachingTokenFilter  # type: ignore[import-not-found]

        self._tokenizer.setReader(self._StringReader(text))
        cached = CachingTokenFilter(self._stream)
        try:
            cached.reset()
            cached.incrementToken()
            cached.end()
        finally:
            cached.close()


def nori_analyzer(settings: AnalyzerSettings | None = None) -> Any:
    """A Lucene Analyzer (CustomAnalyzer) with the Nori chain Elasticsearch builds from our settings."""
    start_jvm()
    from org.apache.lucene.analysis.custom import CustomAnalyzer  # type: ignore[import-not-found]

    settings = settings or AnalyzerSettings()
    if settings.user_dictionary:
        raise ReferenceUnavailable("the reference analyzer takes no user dictionary (use LuceneNori)")
    builder = CustomAnalyzer.builder()
    builder.withTokenizer(
        "korean", "decompoundMode", settings.decompound_mode.upper(), "discardPunctuation", "true"
    )
    builder.addTokenFilter("koreanPartOfSpeechStop", "tags", ",".join(sorted(settings.stop_tags)))
    builder.addTokenFilter("koreanReadingForm")
    builder.addTokenFilter("lowercase")
    return builder.build()


class LuceneBM25Index:
    """A real Lucene index (BM25, k1 1.2, b 0.75), over pre-analyzed terms or analyzed by Nori in Java."""

    def __init__(
        self, path: Path | None = None, k1: float = 1.2, b: float = 0.75, analyzer: Any = None
    ) -> None:
        start_jvm()
        from java.nio.file import Paths  # type: ignore[import-not-found]
        from org.apache.lucene.analysis.core import WhitespaceAnalyzer  # type: ignore[import-not-found]
        from org.apache.lucene.index import (  # type: ignore[import-not-found]
            IndexWriter,
            IndexWriterConfig,
            LogByteSizeMergePolicy,
        )
        from org.apache.lucene.search.similarities import BM25Similarity  # type: ignore[import-not-found]
        from org.apache.lucene.store import MMapDirectory  # type: ignore[import-not-found]

        self._tmp = None
        if path is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="supil-lucene-")
            path = Path(self._tmp.name)
        self._directory = MMapDirectory(Paths.get(str(path)))
        self._similarity = BM25Similarity(k1, b)
        config = IndexWriterConfig(analyzer if analyzer is not None else WhitespaceAnalyzer())
        config.setSimilarity(self._similarity)
        config.setRAMBufferSizeMB(256.0)
        # Merges of adjacent segments only, so document numbers stay in insertion (corpus) order and
        # Lucene's tie-break (lower document number first) is the corpus order, as on one ES shard.
        config.setMergePolicy(LogByteSizeMergePolicy())
        self._writer = IndexWriter(self._directory, config)
        self._searcher = None
        self._analyzer = analyzer
        self._query_builder = None

    def add_analyzed(self, doc_id: str, terms: Sequence[str]) -> None:
        """Index a document whose Nori terms are already known (joined by spaces: terms have none)."""
        self.add_text(doc_id, " ".join(terms))

    def add_text(self, doc_id: str, text: str) -> None:
        """Index a raw text with the index's own analyzer (Nori, when built with nori_analyzer())."""
        from org.apache.lucene.document import (  # type: ignore[import-not-found]
            Document,
            Field,
            StringField,
            TextField,
        )

        doc = Document()
        doc.add(StringField("id", doc_id, Field.Store.YES))
        doc.add(TextField("text", text, Field.Store.NO))
        self._writer.addDocument(doc)

    def add_all(self, docs: Iterable[tuple[str, Sequence[str]]]) -> None:
        """Index many pre-analyzed documents."""
        for doc_id, terms in docs:
            self.add_analyzed(doc_id, terms)

    def commit(self) -> None:
        """Commit and open a searcher."""
        from org.apache.lucene.index import DirectoryReader  # type: ignore[import-not-found]
        from org.apache.lucene.search import IndexSearcher  # type: ignore[import-not-found]

        self._writer.commit()
        searcher = IndexSearcher(DirectoryReader.open(self._directory))
        searcher.setSimilarity(self._similarity)
        self._searcher = searcher

    def search(
        self,
        terms: Sequence[str],
        k: int,
        filter_terms: Sequence[str] = (),
        boosts: Sequence[float] | None = None,
    ) -> list[tuple[str, float]]:
        """Top k (id, score) for a SHOULD query over terms (boosted if given), filter terms required (unscored)."""
        from org.apache.lucene.index import Term  # type: ignore[import-not-found]
        from org.apache.lucene.search import (  # type: ignore[import-not-found]
            BooleanClause,
            BooleanQuery,
            BoostQuery,
            TermQuery,
        )

        assert self._searcher is not None, "commit() first"
        builder = BooleanQuery.Builder()
        inner = BooleanQuery.Builder()
        for i, term in enumerate(terms):
            clause = TermQuery(Term("text", term))
            if boosts is not None and boosts[i] != 1.0:
                clause = BoostQuery(clause, float(boosts[i]))
            inner.add(clause, BooleanClause.Occur.SHOULD)
        builder.add(inner.build(), BooleanClause.Occur.MUST)
        for term in filter_terms:
            builder.add(TermQuery(Term("text", term)), BooleanClause.Occur.FILTER)
        top = self._searcher.search(builder.build(), k)
        out = []
        for hit in top.scoreDocs:
            doc = self._searcher.doc(hit.doc)
            out.append((str(doc.get("id")), float(hit.score)))
        return out

    def search_text(self, text: str, k: int) -> list[tuple[str, float]]:
        """Top k (id, score) for a query text analyzed in Java by the index's own analyzer (Nori):
        QueryBuilder makes the same SHOULD query over the analyzed terms in one call."""
        from org.apache.lucene.util import QueryBuilder  # type: ignore[import-not-found]

        assert self._searcher is not None, "commit() first"
        if self._query_builder is None:
            self._query_builder = QueryBuilder(self._analyzer)
        query = self._query_builder.createBooleanQuery("text", text)
        if query is None:
            return []
        top = self._searcher.search(query, k)
        out = []
        for hit in top.scoreDocs:
            doc = self._searcher.doc(hit.doc)
            out.append((str(doc.get("id")), float(hit.score)))
        return out

    def close(self) -> None:
        """Close the writer and drop a temporary folder."""
        self._writer.close()
        if self._tmp is not None:
            self._tmp.cleanup()
