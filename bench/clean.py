"""Benchmark: the cleaner beside the 2021 cleaning function (bench/klue2021.py), same input, same run.

Input: documents composed from paragraphs of the shared corpus (../shared/corpus/koconovel) sampled at
random with a fixed seed, each 500-4,000 characters, until the corpus reaches --mb megabytes (UTF-8);
a fixed share of documents gets a line of web noise (e-mail, URL, hashtags, ㅋㅋㅋㅋ, odd spaces) and a
fixed share is planted as exact or near duplicates, so every stage has work.

Prints, in MB/s of input text:
  1. per core (one process, measured in CPU time so that other load on a shared machine does not
     distort the ratio): the 2021 function vs our steps that do the same work, and all our steps;
  2. the whole clean job (read, clean, filter, exact + near dedup, write corpus and statistics) on
     1 core and on all cores, with the time for the whole input.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from klue2021 import preprocessing  # noqa: E402  (the baseline, kept beside this script)

from bench.shared_corpus import DEFAULT_CORPUS, corpus_paragraphs  # noqa: E402
from services.cleaner.options import CleanConfig  # noqa: E402
from services.cleaner.pipeline import clean_corpus, default_workers  # noqa: E402
from services.cleaner.steps import Cleaner  # noqa: E402
from services.runtime import ArtifactStore, Document, write_corpus  # noqa: E402

# Our steps that do what the 2021 function does (it has no entity decoding, NFC, control characters
# or boilerplate list).
BASELINE_STEPS = (
    "bad_chars",
    "odd_spaces",
    "punctuation",
    "email",
    "url",
    "mentions",
    "hashtags",
    "news_copyright",
    "photo_captions",
    "repeat_normalize",
    "spaces",
)
NOISE = [
    "문의는 writer.kim@example.com 으로 주세요.",
    "원문: https://brunch.co.kr/@writer/123 에서 보기",
    "#에세이 #일상 #감성에세이",
    "@friend 고마워요 ㅋㅋㅋㅋㅋㅋ",
    "사진=홍길동 기자 (사진=연합뉴스)",
    "구독하기",
    "그날의\u3000기억은\xa0아직도\u200b선명하다…",
]


def compose(corpus: Path, megabytes: float, seed: int) -> list[Document]:
    """Documents of random paragraphs from the shared corpus, with noise and planted duplicates."""
    paragraphs = corpus_paragraphs(corpus)
    rng = random.Random(seed)
    docs: list[Document] = []
    size = 0
    target = megabytes * 1_000_000
    while size < target:
        want = rng.randint(500, 4000)
        parts: list[str] = []
        length = 0
        while length < want:
            parts.append(rng.choice(paragraphs))
            length += len(parts[-1])
        roll = rng.random()
        if roll < 0.2:
            parts.insert(rng.randrange(len(parts) + 1), rng.choice(NOISE))
        if roll > 0.98 and docs:  # 2%: a copy (exact or one word changed) of an earlier document
            text = rng.choice(docs).text
            if roll > 0.99:
                words = text.split(" ")
                words[rng.randrange(len(words))] = "바뀐말"
                text = " ".join(words)
        else:
            text = "\n".join(parts)
        docs.append(Document(id=f"doc-{len(docs):06d}", text=text, source=f"s{len(docs) % 3}"))
        size += len(text.encode("utf-8"))
    return docs


def cpu_seconds(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def rate(megabytes: float, seconds: float) -> str:
    return f"{megabytes / seconds:7.2f} MB/s"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help="koconovel.jsonl")
    parser.add_argument("--mb", type=float, default=160.0, help="megabytes of text to compose (default 160)")
    parser.add_argument("--per-core-mb", type=float, default=30.0, help="share of it for the per-core runs")
    parser.add_argument("--workers", type=int, default=default_workers(), help="cores for the parallel job")
    parser.add_argument("--seed", type=int, default=2021)
    args = parser.parse_args(argv)
    if not args.corpus.exists():
        print(f"shared corpus not found at {args.corpus}; pass --corpus (see ../shared/corpus/README.md)")
        return 2

    started = time.perf_counter()
    docs = compose(args.corpus, args.mb, args.seed)
    total_mb = sum(len(d.text.encode("utf-8")) for d in docs) / 1e6
    print(
        f"input: {len(docs):,} documents, {total_mb:.1f} MB UTF-8, composed from random paragraphs of "
        f"{args.corpus.name} (seed {args.seed}; 20% with a noise line, 2% planted duplicates) "
        f"in {time.perf_counter() - started:.1f} s"
    )

    # 1. Per core, same texts, one process: the 2021 function, then ours.
    sample: list[str] = []
    sample_bytes = 0
    for doc in docs:
        if sample_bytes >= args.per_core_mb * 1e6:
            break
        sample.append(doc.text)
        sample_bytes += len(doc.text.encode("utf-8"))
    sample_mb = sample_bytes / 1e6
    print(f"\nper core, one process (CPU time), first {len(sample):,} documents ({sample_mb:.1f} MB):")
    t0 = time.process_time()
    for text in sample:
        preprocessing(text)
    baseline_s = time.process_time() - t0
    print(f"  2021 preprocessing() (baseline)            {rate(sample_mb, baseline_s)}")
    same = Cleaner(BASELINE_STEPS)
    t0 = time.process_time()
    for text in sample:
        same.clean(text)
    same_s = time.process_time() - t0
    print(
        f"  ours, the same steps ({len(BASELINE_STEPS)})                {rate(sample_mb, same_s)}"
        f"   x{baseline_s / same_s:.2f} the baseline (goal: x2)"
    )
    full = Cleaner()
    t0 = time.process_time()
    for text in sample:
        full.clean(text)
    full_s = time.process_time() - t0
    print(
        f"  ours, all {len(full.steps)} steps                        {rate(sample_mb, full_s)}"
        f"   x{baseline_s / full_s:.2f} the baseline"
    )

    # 2. The whole job, 1 core vs all cores, over the whole input.
    print(f"\nwhole clean job (clean + filter + exact/near dedup + write), {total_mb:.1f} MB, wall clock:")
    with tempfile.TemporaryDirectory(prefix="supil-bench-clean-") as tmp:
        store = ArtifactStore(Path(tmp))
        write_corpus(store, "raw.jsonl.zst", docs)
        del docs, sample
        timings = {}
        for workers in sorted({1, args.workers}):
            t0 = time.perf_counter()
            parent0, children0 = cpu_seconds(resource.RUSAGE_SELF), cpu_seconds(resource.RUSAGE_CHILDREN)
            report = clean_corpus(
                store, "raw.jsonl.zst", f"clean-{workers}.jsonl.zst", CleanConfig(), workers=workers
            )
            timings[workers] = time.perf_counter() - t0
            parent = cpu_seconds(resource.RUSAGE_SELF) - parent0
            children = cpu_seconds(resource.RUSAGE_CHILDREN) - children0
            stages, dropped = report.stats["stages"], report.stats["dropped"]
            # CPU seconds and the load average say how much of the wall time was this job's own work
            # when other processes share the machine.
            print(
                f"  {workers} core(s): {timings[workers]:6.1f} s  {rate(total_mb, timings[workers])}"
                f"   (CPU: parent {parent:.1f} s, worker processes {children:.1f} s;"
                f" load average {os.getloadavg()[0]:.1f})\n"
                f"             kept {stages['written']:,} of {stages['read']:,}; "
                + ", ".join(f"{k} {v:,}" for k, v in dropped.items() if v)
            )
        if args.workers > 1:
            same_output = (
                store.path("clean-1.jsonl.zst").read_bytes()
                == store.path(f"clean-{args.workers}.jsonl.zst").read_bytes()
            )
            print(
                f"  {args.workers} cores vs 1 core: x{timings[1] / timings[args.workers]:.2f}; "
                f"identical output: {same_output}"
            )
        best = timings[max(timings)]
        print(
            f"  goal: 160 MB in under 60 s on 2 cores -> {best * 160 / total_mb:.1f} s for 160 MB "
            f"on {max(timings)} core(s) (os.cpu_count() = {os.cpu_count()})"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
