"""MeCab's Viterbi over MeCab's compiled dictionary files, compiled with numba.

The analyzer's throughput is MeCab's: its lattice is most of an analysis. This module runs the
same lattice on the same files (`sys.dic`, `unk.dic`, `char.bin`, `matrix.bin`, `dicrc`) and picks
the same path, node for node, ties included (tests/retriever/test_lattice.py compares it with
mecab-ko row by row). It follows mecab-ko 0.996-ko: `Tokenizer::lookup` (whitespace skipped by
MeCab's SPACE class, dictionary prefixes, unknown words by character class with grouping and
lengths), `connect` (for each new node, the first left node in end-list order with the lowest
cost; new nodes pushed on the front of their end lists) and mecab-ko's left-space penalty.

What it does not do that MeCab does is redundant work: a new node's best left node depends only
on its left context id, so it is found once per id and position; of the left nodes sharing a
right context id only the cheapest (the first in list order among equals) can win, so the others
are not scanned; and the left nodes are scanned cheapest first, stopping once a row's cheapest
connection cost cannot bring the next one under the best. All keep MeCab's choice exactly, order
of ties included.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import numba
import numpy as np

_HEADER = 72  # ten uint32 fields and a 32-byte charset name
_TOKEN = np.dtype(
    [
        ("lc", "<u2"),
        ("rc", "<u2"),
        ("posid", "<u2"),
        ("wcost", "<i2"),
        ("feature", "<u4"),
        ("compound", "<u4"),
    ]
)
_DICTIONARY_MAGIC = 0xEF718F77
_DEFAULT_MAX_GROUPING = 24
_CHAR_MAP_SIZE = 0xFFFF
# Node fields (one int64 row per node).
LC, RC, POSID, WCOST, TOKEN, SURFACE, LENGTH, RLENGTH, COST, PREV, ENEXT = range(11)
# The small tables' array (int64): settings first, then each character class's unknown-word
# entries (first, count), the left-space penalty per POS id, each matrix row's minimum.
_SPACE, _LSIZE, _RSIZE, _MAX_GROUPING, _SYSTEM_TOKENS, _CLASSES = range(6)
_META = 8
_FIELDS = 11
_INFINITE = np.int64(2147483647)
# Context ids are renumbered by use once this much text has been parsed (see Lattice._learn).
REORDER_AFTER = 1 << 20
LEARN_MIN_BYTES = 512  # shorter texts (queries) are not counted: counting would cost them more


class DictionaryError(ValueError):
    """A MeCab dictionary file that is missing or not in the format MeCab writes."""


@dataclass(frozen=True)
class _Dictionary:
    darts: np.ndarray  # int32 pairs (base, check)
    tokens: np.ndarray  # structured _TOKEN
    features: bytes


def _read_dictionary(path: Path, kind: int) -> _Dictionary:
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except OSError as exc:
        raise DictionaryError(f"cannot read {path}: {exc}") from exc
    if len(data) < _HEADER:
        raise DictionaryError(f"{path} is too short to be a MeCab dictionary")
    header = data[:40].view("<u4")
    magic, _version, dtype_, _lexsize, _lsize, _rsize, dsize, tsize, fsize, _ = (int(v) for v in header)
    if magic ^ _DICTIONARY_MAGIC != len(data) or dtype_ != kind:
        raise DictionaryError(f"{path} is not a MeCab {'system' if kind == 0 else 'unknown-word'} dictionary")
    charset = bytes(data[40:72]).split(b"\0", 1)[0].decode("ascii", "replace").lower()
    if charset.replace("-", "") != "utf8":
        raise DictionaryError(f"{path} is compiled for {charset}, not UTF-8")
    start = _HEADER
    darts = data[start : start + dsize].view("<i4")
    start += dsize
    tokens = data[start : start + tsize].view(_TOKEN)
    start += tsize
    features = bytes(data[start : start + fsize])
    return _Dictionary(darts, tokens, features)


def _dicrc(path: Path) -> dict[str, str]:
    settings: dict[str, str] = {}
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise DictionaryError(f"cannot read {path}: {exc}") from exc
    for line in lines:
        line = line.strip()
        if not line or line.startswith(("#", ";")) or "=" not in line:
            continue
        key, value = line.split("=", 1)
        settings[key.strip()] = value.strip()
    return settings


@numba.njit(cache=True, nogil=True, inline="always")
def _char_info(buf: np.ndarray, p: int, end: int, char_map: np.ndarray) -> tuple[np.uint32, int]:
    """MeCab's utf8_to_ucs2 and CharProperty::getCharInfo: the class bits and the byte length."""
    length = end - p
    b0 = np.int64(buf[p]) if p < len(buf) else 0  # MeCab reads the string's NUL past its end
    if b0 < 0x80:
        code = b0
        mblen = 1
    elif length >= 2 and (b0 & 0xE0) == 0xC0:
        code = ((b0 & 0x1F) << 6) | (np.int64(buf[p + 1]) & 0x3F)
        mblen = 2
    elif length >= 3 and (b0 & 0xF0) == 0xE0:
        code = ((b0 & 0x0F) << 12) | ((np.int64(buf[p + 1]) & 0x3F) << 6) | (np.int64(buf[p + 2]) & 0x3F)
        mblen = 3
    elif length >= 4 and (b0 & 0xF8) == 0xF0:
        code = 0
        mblen = 4
    elif length >= 5 and (b0 & 0xFC) == 0xF8:
        code = 0
        mblen = 5
    elif length >= 6 and (b0 & 0xFE) == 0xFC:
        code = 0
        mblen = 6
    else:
        code = 0
        mblen = 1
    if code >= len(char_map):  # U+FFFF: past MeCab's table
        code = 0
    return char_map[code], mblen


@numba.njit(cache=True, nogil=True, inline="always")
def _kind_of(a: np.uint32, b: np.uint32) -> bool:
    return (a & b & 0x3FFFF) != 0


@numba.njit(cache=True, nogil=True, inline="always")
def _seek_other_type(
    buf: np.ndarray, p: int, stop: int, c: np.uint32, char_map: np.ndarray
) -> tuple[int, np.uint32, int, int]:
    """MeCab's CharProperty::seekToOtherType: from p, skip characters sharing a class with the one
    before (c at first). Returns where it stopped, the last character read (class bits and byte
    length: the one that differed, or the last skipped at stop) and how many were skipped."""
    info = c
    mblen = 1
    skipped = 0
    while p != stop:
        info, mblen = _char_info(buf, p, stop, char_map)
        if not _kind_of(c, info):
            break
        p += mblen
        skipped += 1
        c = info
    return p, info, mblen, skipped


@numba.njit(cache=True, nogil=True)
def _parse_line(
    buf: np.ndarray,
    begin: int,
    end: int,
    tables: tuple,
    scratch: tuple,
    out: tuple,
    out_n: int,
) -> int:
    """One line (bytes [begin, end) of buf) through MeCab's lattice; its best path is written to the
    out arrays from out_n on. Returns the new out_n, or -1 if the node buffer is too small."""
    darts, sys_tok, unk_tok, unk_range, char_map, matrix, penalty, settings, row_min = tables
    nodes, end_head, rc_state, lc_state, left, left_rc, left_cost, stamp, left_order = scratch
    out_token, out_start, out_length, out_rlength = out
    space = np.uint32(settings[_SPACE])
    lsize = settings[_LSIZE]
    max_grouping = settings[_MAX_GROUPING]
    capacity = len(nodes)
    size = end - begin
    end_head[: size + 1] = -1
    # BOS (context ids 0, cost 0)
    nodes[0, LC] = 0
    nodes[0, RC] = 0
    nodes[0, COST] = 0
    nodes[0, PREV] = -1
    nodes[0, ENEXT] = -1
    nodes[0, RLENGTH] = 0
    end_head[0] = 0
    n = 1
    for pos in range(size):
        if end_head[pos] < 0:
            continue
        start = begin + pos
        stop = end if end - start < 65535 else start + 65535
        # ---- Tokenizer::lookup -----------------------------------------------------------------
        # skip MeCab's whitespace; cinfo and mblen are then the first character's after it
        begin2, cinfo, mblen, _ = _seek_other_type(buf, start, stop, space, char_map)
        first_new = n
        # dictionary prefixes (Darts commonPrefixSearch), shortest first
        b = np.int64(darts[0])
        q = begin2
        while True:
            base = np.int64(darts[2 * b])
            if np.int64(darts[2 * b + 1]) == b and base < 0:
                value = -base - 1
                count = value & 0xFF
                first = value >> 8
                length = q - begin2
                if n + count >= capacity:
                    return -1
                n = _add_nodes(nodes, n, sys_tok, first, count, False, begin2, begin2 + length, start)
            if q >= stop:
                break
            nxt = b + np.int64(buf[q]) + 1
            if np.int64(darts[2 * nxt + 1]) != b:
                break
            b = np.int64(darts[2 * nxt])
            q += 1
        invoke = (cinfo >> 31) & 1
        if n == first_new or invoke:
            # unknown words of the first character's class (MeCab's ADDUNKNWON, in its order)
            group = (cinfo >> 30) & 1
            max_length = np.int64((cinfo >> 26) & 0xF)
            category = (cinfo >> 18) & 0xFF
            unk_a = unk_range[category, 0]
            unk_k = unk_range[category, 1]
            if n + (3 + max_length) * unk_k >= capacity:  # the most batches made below
                return -1
            begin3 = begin2 + mblen
            group_begin3 = -1
            done = False
            if begin3 > stop:
                n = _add_nodes(nodes, n, unk_tok, unk_a, unk_k, True, begin2, begin3, start)
                done = n > first_new
            if not done:
                if group:
                    g, _, _, clen = _seek_other_type(buf, begin3, stop, cinfo, char_map)
                    if clen <= max_grouping:
                        n = _add_nodes(nodes, n, unk_tok, unk_a, unk_k, True, begin2, g, start)
                    group_begin3 = g
                for _i in range(1, max_length + 1):
                    if begin3 > stop:
                        break
                    if begin3 == group_begin3:
                        continue
                    n = _add_nodes(nodes, n, unk_tok, unk_a, unk_k, True, begin2, begin3, start)
                    info, w = _char_info(buf, begin3, stop, char_map)
                    if not _kind_of(cinfo, info):
                        break
                    begin3 += w
                if n == first_new:
                    n = _add_nodes(nodes, n, unk_tok, unk_a, unk_k, True, begin2, begin3, start)
        # ---- connect ---------------------------------------------------------------------------
        # The left nodes that can win, in end-list order: per right context id, the first of the
        # cheapest (rc_state per id: stamp, cost, node).
        stamp[0] += 1
        mark = stamp[0]
        m = 0
        ln = end_head[pos]
        while ln >= 0:
            rc = nodes[ln, RC]
            cost = nodes[ln, COST]
            if rc_state[rc, 0] != mark or cost < rc_state[rc, 1]:
                rc_state[rc, 0] = mark
                rc_state[rc, 1] = cost
                rc_state[rc, 2] = ln
            left[m] = ln
            left_rc[m] = rc
            left_cost[m] = cost
            m += 1
            ln = nodes[ln, ENEXT]
        k = 0
        for i in range(m):  # in place: the sorted part [0, k) never reaches past i
            ln = left[i]
            rc = left_rc[i]
            if rc_state[rc, 2] == ln:
                # insertion by cost (stable: equal costs keep end-list order)
                cost = left_cost[i]
                j = k
                while j > 0 and left_cost[j - 1] > cost:
                    left[j] = left[j - 1]
                    left_rc[j] = left_rc[j - 1]
                    left_cost[j] = left_cost[j - 1]
                    left_order[j] = left_order[j - 1]
                    j -= 1
                left[j] = ln
                left_rc[j] = rc
                left_cost[j] = cost
                left_order[j] = i
                k += 1
        for r in range(n - 1, first_new - 1, -1):  # MeCab's begin list: newest first
            lc = nodes[r, LC]
            if lc_state[lc, 0] != mark:  # the best left node depends on lc alone
                best = _INFINITE
                best_i = 0
                best_order = m
                row = lsize * lc
                floor = row_min[lc]
                for i in range(k):
                    base = left_cost[i]
                    if base + floor > best:
                        break  # every later left node costs at least as much
                    cost = base + matrix[row + left_rc[i]]
                    if cost < best or (cost == best and left_order[i] < best_order):
                        best = cost
                        best_i = i
                        best_order = left_order[i]
                lc_state[lc, 0] = mark
                lc_state[lc, 1] = best
                lc_state[lc, 2] = left[best_i]
            cost = lc_state[lc, 1] + nodes[r, WCOST]
            if nodes[r, RLENGTH] != nodes[r, LENGTH]:
                cost += penalty[nodes[r, POSID]]
            nodes[r, COST] = cost
            nodes[r, PREV] = lc_state[lc, 2]
            x = pos + nodes[r, RLENGTH]
            if x <= size:  # MeCab files nodes running past the end where nothing reads them
                nodes[r, ENEXT] = end_head[x]
                end_head[x] = r
    # ---- EOS: connected at the last position any node ends at ---------------------------------
    last = size
    while end_head[last] < 0:
        last -= 1
    best = _INFINITE
    best_node = -1
    ln = end_head[last]
    while ln >= 0:
        cost = nodes[ln, COST] + matrix[nodes[ln, RC]]
        if cost < best:
            best = cost
            best_node = ln
        ln = nodes[ln, ENEXT]
    # the path, back to front, then reversed in place
    first_out = out_n
    node = best_node
    while node > 0:
        out_token[out_n] = nodes[node, TOKEN]
        out_start[out_n] = nodes[node, SURFACE]
        out_length[out_n] = nodes[node, LENGTH]
        out_rlength[out_n] = nodes[node, RLENGTH]
        out_n += 1
        node = nodes[node, PREV]
    i, j = first_out, out_n - 1
    while i < j:
        out_token[i], out_token[j] = out_token[j], out_token[i]
        out_start[i], out_start[j] = out_start[j], out_start[i]
        out_length[i], out_length[j] = out_length[j], out_length[i]
        out_rlength[i], out_rlength[j] = out_rlength[j], out_rlength[i]
        i += 1
        j -= 1
    return out_n


@numba.njit(cache=True, nogil=True, inline="always")
def _add_nodes(
    nodes: np.ndarray,
    n: int,
    table: np.ndarray,
    first: int,
    count: int,
    unknown: bool,
    begin2: int,
    end: int,
    start: int,
) -> int:
    """One node per entry table[first : first + count], surface [begin2, end), looked up at start;
    a dictionary entry's token is its index, an unknown word's -1 - its index (MeCab's ADDUNKNWON
    for the unknown ones)."""
    for j in range(count):
        t = first + j
        nodes[n, LC] = table[t, 0]
        nodes[n, RC] = table[t, 1]
        nodes[n, POSID] = table[t, 2]
        nodes[n, WCOST] = table[t, 3]
        nodes[n, TOKEN] = -1 - t if unknown else t
        nodes[n, SURFACE] = begin2
        nodes[n, LENGTH] = end - begin2
        nodes[n, RLENGTH] = end - start
        n += 1
    return n


@numba.njit(cache=True, nogil=True)
def parse_lines(
    buf: np.ndarray,
    bounds: np.ndarray,
    darts: np.ndarray,
    tokens: np.ndarray,
    char_map: np.ndarray,
    matrix: np.ndarray,
    meta: np.ndarray,
    nodes: np.ndarray,
    work: np.ndarray,
    out: np.ndarray,
) -> int:
    """Each line [bounds[2i], bounds[2i + 1]) of buf through the lattice, its best path appended to
    out's rows 0-3 (token: a sys.dic index, or -1 - an unk.dic index; surface start and length in
    bytes; length with the whitespace MeCab skipped before it) and the path length so far to
    out[4, i]. Returns the path length, or -1 if the node buffer is too small.

    Few arguments on purpose: each array a call passes costs about a microsecond to check when the
    CPU caches are cold, as they are for a query. `meta` and `work` pack the small tables and the
    scratch space (see Lattice and _Scratch for their layouts)."""
    lsize = meta[_LSIZE]
    rsize = meta[_RSIZE]
    n_sys = meta[_SYSTEM_TOKENS]
    classes = meta[_CLASSES]
    unk_range = meta[_META : _META + 2 * classes].reshape(classes, 2)
    penalty_at = _META + 2 * classes
    penalty = meta[penalty_at : penalty_at + 0x10000]
    row_min = meta[penalty_at + 0x10000 : penalty_at + 0x10000 + rsize]
    tables = (darts, tokens[:n_sys], tokens[n_sys:], unk_range, char_map, matrix, penalty, meta, row_min)
    capacity = len(nodes)
    at = 1
    rc_state = work[at : at + 3 * lsize].reshape(lsize, 3)
    at += 3 * lsize
    lc_state = work[at : at + 3 * rsize].reshape(rsize, 3)
    at += 3 * rsize
    left = work[at : at + capacity]
    left_rc = work[at + capacity : at + 2 * capacity]
    left_cost = work[at + 2 * capacity : at + 3 * capacity]
    left_order = work[at + 3 * capacity : at + 4 * capacity]
    end_head = work[at + 4 * capacity :]
    scratch = (nodes, end_head, rc_state, lc_state, left, left_rc, left_cost, work[0:1], left_order)
    paths = (out[0], out[1], out[2], out[3])
    counts = out[4]
    out_n = 0
    for i in range(len(bounds) // 2):
        out_n = _parse_line(buf, bounds[2 * i], bounds[2 * i + 1], tables, scratch, paths, out_n)
        if out_n < 0:
            return -1
        counts[i] = out_n
    return out_n


def _exact_match(darts: np.ndarray, key: bytes) -> int:
    """Darts exactMatchSearch: the value stored for key, or -1."""
    b = int(darts[0])
    for byte in key:
        p = b + byte + 1
        if 2 * p + 1 >= len(darts) or int(darts[2 * p + 1]) != b:
            return -1
        b = int(darts[2 * p])
    base = int(darts[2 * b])
    if int(darts[2 * b + 1]) == b and base < 0:
        return -base - 1
    return -1


class _Scratch(threading.local):
    """One thread's working space and output buffers, grown as inputs ask.

    `work` is int64: [0] the connect stamp, then per right context id (stamp, cost, node: one
    cache line) and per left context id the same, then a position's left nodes, their right ids,
    costs and end-list order (node capacity each), then each byte position's end-list head (longest
    line + 1). `out` rows: token, surface start, length, rlength, and path length after each line."""

    def __init__(self, lsize: int, rsize: int) -> None:
        self.lsize, self.rsize = lsize, rsize
        self.nodes = np.empty((1 << 12, _FIELDS), dtype=np.int64)
        self.work = np.zeros(1, dtype=np.int64)
        self.out = np.empty((5, 0), dtype=np.int64)
        self.fit(1 << 12, 1 << 12)

    def fit(self, nodes: int, size: int) -> None:
        """Room for `nodes` nodes and `size` bytes (lines and path nodes never outnumber bytes + 1)."""
        if nodes > len(self.nodes):
            self.nodes = np.empty((nodes, _FIELDS), dtype=np.int64)
        want = 1 + 3 * (self.lsize + self.rsize) + 4 * len(self.nodes) + size + 1
        if want > len(self.work):
            work = np.zeros(max(want, 2 * len(self.work)), dtype=np.int64)
            work[0] = self.work[0]  # the stamp goes on: stale stamps in the states must not match
            self.work = work
        if size + 1 > self.out.shape[1]:
            self.out = np.empty((5, max(size + 1, 2 * self.out.shape[1])), dtype=np.int64)


class Lattice:
    """MeCab's best path through a compiled MeCab dictionary folder (thread-safe)."""

    def __init__(
        self, dicdir: Path, *, space_penalty: bool = True, reorder_after: int | None = REORDER_AFTER
    ) -> None:
        """Loads a compiled MeCab dictionary folder; `space_penalty=False` leaves out mecab-ko's
        left-space penalty (plain MeCab's lattice). After `reorder_after` bytes of text (None:
        never) the context ids are renumbered by how often the parsed paths used them."""
        dicdir = Path(dicdir)
        system = _read_dictionary(dicdir / "sys.dic", 0)
        unknown = _read_dictionary(dicdir / "unk.dic", 2)
        try:
            matrix = np.fromfile(dicdir / "matrix.bin", dtype="<i2")
            chars = np.fromfile(dicdir / "char.bin", dtype=np.uint8)
        except OSError as exc:
            raise DictionaryError(f"cannot read the dictionary in {dicdir}: {exc}") from exc
        lsize, rsize = int(matrix[0]) & 0xFFFF, int(matrix[1]) & 0xFFFF
        if len(matrix) != lsize * rsize + 2:
            raise DictionaryError(f"{dicdir / 'matrix.bin'} does not hold a {lsize} x {rsize} matrix")
        matrix = matrix[2:]
        classes = int(chars[:4].view("<u4")[0])
        if len(chars) != 4 + 32 * classes + 4 * _CHAR_MAP_SIZE:
            raise DictionaryError(f"{dicdir / 'char.bin'} is not a MeCab character table")
        names = [bytes(chars[4 + 32 * i : 4 + 32 * (i + 1)]).split(b"\0", 1)[0] for i in range(classes)]
        self.char_map = chars[4 + 32 * classes :].view("<u4")
        unk_first = np.zeros(classes, dtype=np.int64)
        unk_count = np.zeros(classes, dtype=np.int64)
        for i, name in enumerate(names):
            value = _exact_match(unknown.darts, name)
            if value < 0:
                raise DictionaryError(f"{dicdir / 'unk.dic'} has no entry for the class {name.decode()}")
            unk_first[i], unk_count[i] = value >> 8, value & 0xFF
        self.darts = system.darts
        # every entry's ids and cost, dictionary entries first, one table (unknown words after)
        tokens = _packed(np.concatenate([system.tokens, unknown.tokens]))
        self.entries = len(system.tokens)  # sys.dic's entries (tokens >= 0 index them)
        self._sys_feature = system.tokens["feature"]
        self._unk_feature = unknown.tokens["feature"]
        self._sys_features = system.features
        self._unk_features = unknown.features
        self._scratch = _Scratch(lsize, rsize)
        meta = np.zeros(_META + 2 * classes + 0x10000 + rsize, dtype=np.int64)
        meta[_SPACE], meta[_LSIZE], meta[_RSIZE] = int(self.char_map[0x20]), lsize, rsize
        # mecab-ko's tagger never applies dicrc's max-grouping-size (Nori's rebuilt dictionary asks
        # for 1,024): a run of 3,000 letters is grouped from 24 letters on, MeCab's default.
        meta[_MAX_GROUPING] = _DEFAULT_MAX_GROUPING
        meta[_SYSTEM_TOKENS], meta[_CLASSES] = len(system.tokens), classes
        meta[_META : _META + 2 * classes] = np.stack([unk_first, unk_count], axis=1).reshape(-1)
        at = _META + 2 * classes
        self.penalty = meta[at : at + 0x10000]  # mecab-ko's left-space penalty by POS id
        pairs = _dicrc(dicdir / "dicrc").get("left-space-penalty-factor", "").replace(" ", "").split(",")
        seen: set[int] = set()
        for i in range(0, len(pairs) - 1 if space_penalty else 0, 2):
            posid, cost = int(pairs[i], 0), int(pairs[i + 1], 0)
            if posid not in seen:  # the first entry for a POS id is the one mecab-ko uses
                self.penalty[posid] = cost
                seen.add(posid)
        meta[at + 0x10000 :] = matrix.reshape(rsize, lsize).min(axis=1)  # each row's cheapest
        # What a parse reads and a renumbering replaces, swapped as one: (tokens, matrix, meta).
        self._tables = (tokens, matrix, meta)
        self._reordered = False
        self._lsize, self._rsize = lsize, rsize
        self._learn_lock = threading.Lock()
        self._learning = reorder_after is not None
        self._reorder_after = reorder_after or 0
        self._seen_bytes = 0
        self._seen_left = np.zeros(rsize, dtype=np.int64)  # uses of each left id (a row of the matrix)
        self._seen_right = np.zeros(lsize, dtype=np.int64)  # and of each right id (a column)

    def parse(self, data: bytes, bounds: np.ndarray) -> tuple[np.ndarray, ...]:
        """The best path of each line [bounds[2i], bounds[2i + 1]) of data (UTF-8, lines without a
        newline): (tokens, starts, lengths, rlengths, counts), see parse_lines. The arrays are this
        thread's buffers: read them before the thread's next parse."""
        n, _ = self._run(data, bounds, None)
        out = self._scratch.out
        return out[0, :n], out[1, :n], out[2, :n], out[3, :n], out[4, : len(bounds) // 2]

    def parse_terms(
        self,
        data: bytes,
        bounds: np.ndarray,
        table: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
        terms: np.ndarray,
    ) -> tuple[int, int]:
        """As parse(), then the path's term ids gathered from table (first, count, flat, unknown:
        see gather_terms) into terms, in the same compiled call: (the path's length, how many terms
        or -1 when gather_terms cannot do it alone; path(length) then gives the path)."""
        return self._run(data, bounds, (*table, terms))

    def path(self, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(tokens, starts, lengths) of the n nodes of this thread's last parse_terms."""
        out = self._scratch.out
        return out[0, :n], out[1, :n], out[2, :n]

    def _run(self, data: bytes, bounds: np.ndarray, gather: tuple[np.ndarray, ...] | None) -> tuple[int, int]:
        """parse_lines (gather None) or parse_terms (gather: first, count, flat, unknown, terms)
        into this thread's scratch space, grown until the lines fit: (path length, terms gathered
        or 0). A text of LEARN_MIN_BYTES or more is counted for the renumbering while it learns."""
        s = self._scratch
        if len(data) + 1 > s.out.shape[1]:
            s.fit(len(s.nodes), len(data))
        tokens, matrix, meta = self._tables
        # bytes go in as they are: numba reads them as a uint8 buffer (np.frombuffer costs ~0.35 us)
        tables = (data, bounds, self.darts, tokens, self.char_map, matrix, meta)
        while True:
            if gather is None:
                n, m = parse_lines(*tables, s.nodes, s.work, s.out), 0
            else:
                n, m = parse_terms(*tables, s.nodes, s.work, s.out, *gather)
            if n >= 0:
                if self._learning and len(data) >= LEARN_MIN_BYTES:
                    self._learn(s.out[0, :n], len(data))
                return n, m
            s.fit(2 * len(s.nodes), len(data))  # a line with more nodes than ever before: again

    @property
    def reordered(self) -> bool:
        """Whether the context ids have been renumbered by use (the paths are the same either way)."""
        return self._reordered

    def _learn(self, path: np.ndarray, size: int) -> None:
        """Counts the context ids of a parsed path; once enough text is seen, renumbers them.

        The matrix of connection costs (20 MB for Nori's dictionary) is read at (left id of a new
        node, right id of a node before it), all over the table. Most reads go to a few hundred
        ids, so numbering ids by use, most used first, gathers those reads into a corner that
        the CPU caches hold. Renumbering changes no cost, so no path: ids only name rows and
        columns (0 stays 0: it is BOS and EOS)."""
        tokens = self._tables[0]  # the file's numbering while learning (a late count is dropped)
        rows = np.where(path >= 0, path, self.entries - 1 - path)  # unk.dic entries after sys.dic's
        left = np.bincount(tokens[rows, 0], minlength=self._rsize)
        right = np.bincount(tokens[rows, 1], minlength=self._lsize)
        with self._learn_lock:
            if not self._learning:
                return
            self._seen_left += left
            self._seen_right += right
            self._seen_bytes += size
            if self._seen_bytes >= self._reorder_after:
                self._tables = self._renumbered(self._seen_left, self._seen_right)
                self._learning = False
                self._reordered = True  # the file's numbering is let go: 33 MB for Nori's

    def _renumbered(self, left_uses: np.ndarray, right_uses: np.ndarray) -> tuple[np.ndarray, ...]:
        """The file's tables with left and right ids renumbered, most used first (0 stays 0)."""
        tokens, matrix, meta = self._tables
        rsize, lsize = self._rsize, self._lsize

        def order(uses: np.ndarray) -> np.ndarray:
            key = uses.astype(np.float64)
            key[0] = np.inf
            return np.argsort(-key, kind="stable")  # new id -> old id

        left_order, right_order = order(left_uses), order(right_uses)
        left_id = np.empty(rsize, dtype=np.int32)
        left_id[left_order] = np.arange(rsize, dtype=np.int32)
        right_id = np.empty(lsize, dtype=np.int32)
        right_id[right_order] = np.arange(lsize, dtype=np.int32)
        renumbered = tokens.copy()
        renumbered[:, 0] = left_id[tokens[:, 0]]
        renumbered[:, 1] = right_id[tokens[:, 1]]
        square = matrix.reshape(rsize, lsize)[left_order][:, right_order]
        meta = meta.copy()
        meta[len(meta) - rsize :] = square.min(axis=1)  # each row's cheapest, in the new order
        return renumbered, np.ascontiguousarray(square).reshape(-1), meta

    def feature(self, token: int) -> str:
        """The feature string (MeCab's %H) of a sys.dic token (>= 0) or an unk.dic one (< 0)."""
        if token >= 0:
            offset, blob = int(self._sys_feature[token]), self._sys_features
        else:
            offset, blob = int(self._unk_feature[-1 - token]), self._unk_features
        return blob[offset : blob.index(b"\0", offset)].decode("utf-8")


def _packed(tokens: np.ndarray) -> np.ndarray:
    """lcAttr, rcAttr, posid, wcost of each token, one 16-byte row each (one cache line)."""
    out = np.empty((len(tokens), 4), dtype=np.int32)
    out[:, 0] = tokens["lc"]
    out[:, 1] = tokens["rc"]
    out[:, 2] = tokens["posid"]
    out[:, 3] = tokens["wcost"]
    return out


@numba.njit(cache=True, nogil=True)
def parse_terms(
    buf: np.ndarray,
    bounds: np.ndarray,
    darts: np.ndarray,
    tokens: np.ndarray,
    char_map: np.ndarray,
    matrix: np.ndarray,
    meta: np.ndarray,
    nodes: np.ndarray,
    work: np.ndarray,
    out: np.ndarray,
    first: np.ndarray,
    count: np.ndarray,
    flat: np.ndarray,
    unknown: np.ndarray,
    terms: np.ndarray,
) -> tuple[int, int]:
    """parse_lines, then gather_terms over the path with nothing listed as missing, in one call
    (a query's terms: one call, not two): (parse_lines' result, gather_terms' result)."""
    n = parse_lines(buf, bounds, darts, tokens, char_map, matrix, meta, nodes, work, out)
    if n < 0:
        return n, -1
    none = np.empty(0, dtype=np.int64)
    path = (out[0, :n], out[1, :n], out[2, :n], buf)
    return n, gather_terms(path, first, count, flat, unknown, none, none, none, terms)


@numba.njit(cache=True, nogil=True)
def gather_terms(
    path: tuple,
    first: np.ndarray,
    count: np.ndarray,
    flat: np.ndarray,
    unknown: np.ndarray,
    missing: np.ndarray,
    missing_ranges: np.ndarray,
    missing_flat: np.ndarray,
    out: np.ndarray,
) -> int:
    """The term ids of a path's nodes, in order, into out; returns how many, or -1 when a node
    has no ids yet and is not listed in `missing` (so the first call can list nothing) or when
    out is too small.

    `path` is (tokens, starts, lengths, buf): the nodes and the text their surfaces are in. A
    dictionary entry t's ids are flat[first[t] : first[t] + count[t]] (first[t] < 0: none yet);
    an unknown word's are found in `unknown` by its entry and surface (see unknown_table); the
    nodes listed in `missing` (ascending; unknown words, entries not registered yet) take theirs
    from missing_flat, [missing_ranges[2j], missing_ranges[2j + 1]) for the j-th."""
    tokens, starts, lengths, buf = path
    n = 0
    j = 0
    for i in range(len(tokens)):
        if j < len(missing) and missing[j] == i:
            a, b = missing_ranges[2 * j], missing_ranges[2 * j + 1]
            for k in range(a, b):
                out[n] = missing_flat[k]
                n += 1
            j += 1
            continue
        t = tokens[i]
        if t < 0:
            e = _find_unknown(unknown, t, buf, starts[i], lengths[i])
            if e < 0:
                return -1
            at = _U_HEADER + unknown[_U_MASK] + 1 + _U_ENTRY * e
            a = unknown[at + 3]
            c = unknown[at + 4]
        else:
            a = first[t]
            c = count[t]
        if a < 0 or n + c > len(out) or a + c > len(flat):  # (or registered since the call began)
            return -1
        for k in range(a, a + c):
            out[n] = flat[k]
            n += 1
    return n


# An analyzer's term ids for unknown words, by unk.dic entry and surface, in one int64 array the
# compiled gather reads: a header, open-addressing slots (entry + 1; 0: empty), the entries (token,
# key start, key length, first, count: the ids are flat[first : first + count] as for dictionary
# entries) and the keys' bytes. Bounded: once full, further unknown words take the slow path.
_U_MASK, _U_USED, _U_ROOM, _U_KEYS_USED, _U_KEYS_ROOM, _U_KEYS_AT = range(6)
_U_HEADER = 8
_U_ENTRY = 5


def unknown_table(entries: int) -> np.ndarray:
    """An empty table with room for `entries` unknown words (0: a table that never holds any)."""
    if entries <= 0:
        return np.zeros(_U_HEADER + 1, dtype=np.int64)  # one slot, always empty
    slots = 1 << (2 * entries - 1).bit_length()  # at most half full
    key_room = 24 * entries
    words = _U_HEADER + slots + _U_ENTRY * entries
    table = np.zeros(words + (key_room + 7) // 8, dtype=np.int64)
    table[_U_MASK], table[_U_ROOM], table[_U_KEYS_ROOM], table[_U_KEYS_AT] = (
        slots - 1,
        entries,
        key_room,
        words,
    )
    return table


@numba.njit(cache=True, nogil=True, inline="always")
def _unknown_hash(token: int, buf: np.ndarray, start: int, length: int) -> np.int64:
    h = np.int64(-3750763034362895579) ^ np.int64(token)  # FNV-1a, the entry first
    for i in range(start, start + length):
        h = (h ^ np.int64(buf[i])) * np.int64(1099511628211)
    return h


@numba.njit(cache=True, nogil=True)
def _find_unknown(table: np.ndarray, token: int, buf: np.ndarray, start: int, length: int) -> int:
    """The entry of (token, buf[start : start + length]) in an unknown-word table, or -1."""
    mask = table[_U_MASK]
    entries_at = _U_HEADER + mask + 1
    keys = table.view(np.uint8)
    i = _unknown_hash(token, buf, start, length) & mask
    while True:
        e = table[_U_HEADER + i] - 1
        if e < 0:
            return -1
        at = entries_at + _U_ENTRY * e
        if table[at] == token and table[at + 2] == length:
            k = 8 * table[_U_KEYS_AT] + table[at + 1]
            same = True
            for j in range(length):
                if keys[k + j] != buf[start + j]:
                    same = False
                    break
            if same:
                return e
        i = (i + 1) & mask


@numba.njit(cache=True, nogil=True)
def _stage_unknown(table: np.ndarray, token: int, key: np.ndarray, first: int, count: int) -> int:
    """Writes a new entry for (token, key) and returns the slot the caller fills to publish it
    (after this returns, so that a reader seeing the slot sees the entry), or -1 when the key is
    there already or the table is full."""
    if table[_U_USED] >= table[_U_ROOM] or table[_U_KEYS_USED] + len(key) > table[_U_KEYS_ROOM]:
        return -1
    if _find_unknown(table, token, key, 0, len(key)) >= 0:
        return -1
    mask = table[_U_MASK]
    e = table[_U_USED]
    at = _U_HEADER + mask + 1 + _U_ENTRY * e
    k = table[_U_KEYS_USED]
    keys = table.view(np.uint8)
    base = 8 * table[_U_KEYS_AT] + k
    for j in range(len(key)):
        keys[base + j] = key[j]
    table[at] = token
    table[at + 1] = k
    table[at + 2] = len(key)
    table[at + 3] = first
    table[at + 4] = count
    table[_U_USED] = e + 1
    table[_U_KEYS_USED] = k + len(key)
    i = _unknown_hash(token, key, 0, len(key)) & mask
    while table[_U_HEADER + i] != 0:
        i = (i + 1) & mask
    return _U_HEADER + i


def add_unknown(table: np.ndarray, token: int, key: bytes, first: int, count: int) -> bool:
    """Records an unknown word's ids (flat[first : first + count]) by its entry and surface; False
    when it was there already or the table is full. One writer at a time (the caller's lock)."""
    slot = _stage_unknown(table, token, np.frombuffer(key, dtype=np.uint8), first, count)
    if slot < 0:
        return False
    table[slot] = table[_U_USED]  # published: entry + 1, the entry just written
    return True
