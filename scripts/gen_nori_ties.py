"""Writes services/retriever/data/nori_ties.json: which entry Nori picks among tied dictionary homographs.

Where mecab-ko-dic holds several entries with the same surface, context ids and cost but different
analyses (저 as NP or as an inflected form of 제), MeCab and Nori break the tie differently; Nori
takes the first entry in its dictionary order. This reads that order from Lucene's Nori jar (jpype)
so the analyzer can follow it. Run: python scripts/gen_nori_ties.py
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from services.retriever.analyzer import tie_key  # noqa: E402
from tests.retriever.lucene_reference import lucene_version, start_jvm  # noqa: E402

OUT = REPO / "services" / "retriever" / "data" / "nori_ties.json"


def main() -> None:
    start_jvm()
    from jpype import JArray, JChar
    from org.apache.lucene.analysis.ko.dict import TokenInfoDictionary, TokenInfoFST  # type: ignore
    from org.apache.lucene.util import IntsRef  # type: ignore
    from org.apache.lucene.util.fst import IntsRefFSTEnum  # type: ignore

    dictionary = TokenInfoDictionary.getInstance()
    field = TokenInfoFST.class_.getDeclaredField("fst")
    field.setAccessible(True)
    fst_enum = IntsRefFSTEnum(field.get(dictionary.getFST()))
    ids = IntsRef()
    table: dict[str, list] = {}
    while (item := fst_enum.next()) is not None:
        dictionary.lookupWordIds(int(item.output), ids)
        if ids.length < 2:
            continue
        surface = "".join(chr(item.input.ints[item.input.offset + i]) for i in range(item.input.length))
        chars = JArray(JChar)(surface)
        groups: dict[tuple[int, int, int], list] = defaultdict(list)
        for i in range(ids.length):
            word = ids.ints[ids.offset + i]
            morphemes = dictionary.getMorphemes(word, chars, 0, len(surface))
            analysis = [
                str(dictionary.getPOSType(word).name()),
                str(dictionary.getLeftPOS(word).name()),
                None if dictionary.getReading(word) is None else str(dictionary.getReading(word)),
                None
                if morphemes is None
                else [[str(m.surfaceForm), str(m.posTag.name())] for m in morphemes],
            ]
            key = (
                int(dictionary.getLeftId(word)),
                int(dictionary.getRightId(word)),
                int(dictionary.getWordCost(word)),
            )
            groups[key].append(analysis)
        for analyses in groups.values():
            # Nori keeps the first entry of a tie; MeCab may have picked any of the others. Context
            # ids differ between dictionary builds, so the key is the analysis MeCab would give.
            for other in analyses[1:]:
                if other[0::3] != analyses[0][0::3] or other[1] != analyses[0][1]:
                    table[tie_key(surface, other[0], other[1], other[3])] = analyses[0]
    OUT.parent.mkdir(parents=True, exist_ok=True)
    lines = [
        f"{json.dumps(k, ensure_ascii=False)}: {json.dumps(v, ensure_ascii=False)}"
        for k, v in sorted(table.items())
    ]
    body = ",\n".join(lines)
    OUT.write_text(f'{{"lucene": "{lucene_version()}", "ties": {{\n{body}\n}}}}\n', encoding="utf-8")
    sys.stdout.write(f"{len(table)} tied homographs -> {OUT.relative_to(REPO)}\n")


if __name__ == "__main__":
    main()
