"""Prints token agreement with Lucene's Nori over the shared corpus's paragraphs, per mode and dictionary.

The figure test_parity.py asserts: (term, start offset) streams per paragraph aligned with difflib.
Run: python scripts/nori_parity.py [--limit N] [--modes discard,none,mixed] [--dictionaries nori,pypi]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from services.retriever.analyzer import Analyzer, AnalyzerSettings, resolve_dictionary  # noqa: E402
from tests.retriever.lucene_reference import LuceneNori  # noqa: E402
from tests.retriever.test_parity import agreement  # noqa: E402

CORPUS = REPO.parent / "shared" / "corpus" / "koconovel" / "koconovel.jsonl"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--limit", type=int, default=0, help="first N paragraphs (default: all)")
    parser.add_argument("--modes", default="discard,none,mixed")
    parser.add_argument("--dictionaries", default="nori,pypi")
    args = parser.parse_args()
    if not args.corpus.exists():
        sys.exit(f"shared corpus not found at {args.corpus}")
    paragraphs: list[str] = []
    with args.corpus.open(encoding="utf-8") as fh:
        for line in fh:
            paragraphs.extend(p for p in json.loads(line)["text"].split("\n") if p.strip())
    if args.limit:
        paragraphs = paragraphs[: args.limit]
    nori = resolve_dictionary()
    for mode in args.modes.split(","):
        settings = AnalyzerSettings(decompound_mode=mode)
        lucene = LuceneNori(settings)
        theirs = [[(t.term, t.start) for t in lucene.analyze(p)] for p in paragraphs]
        for name in args.dictionaries.split(","):
            if name == "nori" and nori is None:
                sys.stdout.write("nori: not built (python scripts/build_nori_dic.py)\n")
                continue
            analyzer = Analyzer(settings, dictionary=nori if name == "nori" else "pypi")
            started = time.perf_counter()
            ours = [[(t.term, t.start) for t in analyzer.analyze(p)] for p in paragraphs]
            sys.stdout.write(
                f"{mode:8} {name:5} {len(paragraphs)} paragraphs: agreement {agreement(ours, theirs):.4%}, "
                f"tokens {sum(map(len, ours))} / Lucene {sum(map(len, theirs))} "
                f"({time.perf_counter() - started:.1f} s)\n"
            )


if __name__ == "__main__":
    main()
