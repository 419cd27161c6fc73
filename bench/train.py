"""Training throughput: our packed trainer vs a plain HF Trainer, and seven LoRA vs full writers.

Run: .venv/bin/python bench/train.py [--corpus ../shared/corpus/koconovel/koconovel.jsonl]
"""

from __future__ import annotations

import argparse
import json
import math
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.shared_corpus import DEFAULT_CORPUS
from services.runtime import Document
from services.trainer import models
from services.trainer.data import pack_sets
from services.trainer.engine import TrainSettings, train


def load_documents(path: Path, seed: int) -> list[Document]:
    """Documents of 1-8 consecutive paragraphs cut from each work (real prose, varied lengths)."""
    rng = random.Random(seed)
    docs: list[Document] = []
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            work = json.loads(line)
            paragraphs = [p.strip() for p in work["text"].split("\n") if p.strip()]
            i = 0
            while i < len(paragraphs):
                n = rng.randint(1, 8)
                docs.append(Document(id=f"{work['id']}-{i}", text="\n".join(paragraphs[i : i + n])))
                i += n
    rng.shuffle(docs)
    return docs


def dir_size(path: Path) -> int:
    """Bytes of every file under path."""
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def bench_hf_trainer(
    model: torch.nn.Module, tokenizer, docs: list[Document], args: argparse.Namespace
) -> float:
    """Useful (non-padding) tokens per second of a plain HF Trainer: one document per row, padded."""
    from transformers import DataCollatorForLanguageModeling, Trainer, TrainingArguments

    eos = tokenizer.eos_token_id
    rows = [
        {"input_ids": [*tokenizer(d.text, add_special_tokens=False)["input_ids"][: args.block - 1], eos]}
        for d in docs
    ]
    useful = padded = 0
    collator = DataCollatorForLanguageModeling(tokenizer, mlm=False)

    def collate(batch: list[dict]) -> dict:
        nonlocal useful, padded
        out = collator(batch)
        useful += int(out["attention_mask"].sum())
        padded += int(out["attention_mask"].numel())
        return out

    out_dir = tempfile.mkdtemp(prefix="hf-trainer-")
    training_args = TrainingArguments(
        output_dir=out_dir,
        per_device_train_batch_size=args.batch,
        max_steps=args.steps,
        learning_rate=1e-3,
        warmup_steps=0.05,  # transformers 5: a float below 1 is a ratio
        lr_scheduler_type="cosine",
        weight_decay=0.01,
        logging_steps=10_000,
        save_strategy="no",
        report_to=[],
        use_cpu=True,
        dataloader_num_workers=0,
        seed=args.seed,
        disable_tqdm=True,
    )
    trainer = Trainer(model=model, args=training_args, train_dataset=rows, data_collator=collate)
    started = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - started
    shutil.rmtree(out_dir, ignore_errors=True)
    print(f"HF Trainer: {padded:,} tokens computed, {useful:,} of them not padding ({useful / padded:.0%})")
    return useful / seconds


def bench_writers(
    base_dir: Path, tokenizer, docs: list[Document], args: argparse.Namespace
) -> dict[str, dict]:
    """Seven writers each way, full fine-tuning and LoRA interleaved (writer i of both kinds on the
    same documents, one after the other, so load swings on shared cores hit both alike).

    Per kind: wall seconds and process CPU seconds (data packing, base load, training with its
    validation, save), bytes of weights on disk, and each writer's valid perplexity.
    """
    from services.trainer.engine import evaluate

    rng = random.Random(args.seed)
    kinds = {k: {"seconds": 0.0, "cpu": 0.0, "bytes": 0, "ppl": []} for k in ("full", "lora")}
    base_ppl: list[float] = []
    out_root = Path(tempfile.mkdtemp(prefix="writers-"))
    for i in range(7):
        subset = rng.sample(docs, min(len(docs), args.writer_docs))
        valid = subset[: max(1, len(subset) // 10)]
        for kind in ("full", "lora"):
            wall, cpu = time.perf_counter(), time.process_time()
            data = pack_sets(tokenizer, subset[len(valid) :], valid, args.block)
            model, _ = models.load_pretrained(base_dir)
            settings = TrainSettings(
                # As the service trains a writer: its default epochs (3), unless steps are given.
                epochs=args.writer_epochs,
                max_steps=args.writer_steps or None,
                batch_size=args.batch,
                block_size=args.block,
                learning_rate=1e-3 if kind == "lora" else 3e-4,  # the trainer's writer defaults
                early_stopping_patience=0,
                seed=args.seed + i,
                frozen_cache_mb=args.frozen_cache_mb,
            )
            if kind == "lora":
                # What the service trains for `lora { r: 8 }` (the orchestrator's request): alpha 2r,
                # dropout 0, adapters on c_attn of the upper half of the blocks; seeded as the service does.
                torch.manual_seed(settings.seed)
                model = models.add_lora(model, models.lora_settings(model, 8, 0.0, 0.0, []))
            else:
                models.freeze_lower_blocks(model, 0)
            result = train(model, data, settings)
            out = out_root / f"{kind}{i}"
            model.save_pretrained(str(out))
            kinds[kind]["seconds"] += time.perf_counter() - wall
            kinds[kind]["cpu"] += time.process_time() - cpu
            kinds[kind]["bytes"] += dir_size(out)  # weights only: both kinds carry the same tokenizer files
            kinds[kind]["ppl"].append(result.history.epochs[-1]["valid_perplexity"])
        base_model, _ = models.load_pretrained(base_dir)
        base_ppl.append(math.exp(evaluate(base_model, data.valid, args.batch, torch.device("cpu"), None)))
    shutil.rmtree(out_root, ignore_errors=True)
    kinds["base"] = {"ppl": base_ppl}
    return kinds


def main(args: argparse.Namespace) -> None:
    """Run both comparisons and print each figure beside its baseline."""
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
    if args.threads:
        torch.set_num_threads(args.threads)
    if not args.corpus.exists():
        raise SystemExit(f"corpus {args.corpus} not found; pass --corpus (see ../shared/corpus/README.md)")
    docs = load_documents(args.corpus, args.seed)
    chars = sum(len(d.text) for d in docs)
    print(
        f"input: {len(docs)} documents ({chars:,} characters) cut from {args.corpus.name}, 1-8 paragraphs each"
    )
    tokenizer = models.train_tiny_tokenizer(d.text for d in docs)
    preset = models.TinyPreset(n_embd=args.width, n_layer=args.layers, n_head=args.heads)
    base = models.tiny_model(tokenizer, preset, seed=args.seed)
    params = models.parameter_counts(base)["total"]
    shape = "tiny preset" if preset == models.TINY else f"width {args.width}, {args.layers} blocks"
    print(
        f"model: {shape} GPT-2, {params / 1e6:.2f}M parameters, vocab {len(tokenizer)}; torch threads {torch.get_num_threads()}"
    )
    print(f"settings: {args.steps} optimizer steps, batch {args.batch}, block {args.block}, fp32 on CPU")

    # 1. Throughput: our packed loop vs a plain HF Trainer with padding, same model init and steps.
    valid = docs[:20]
    data = pack_sets(tokenizer, docs[20:], valid, args.block)
    ours_model = models.tiny_model(tokenizer, preset, seed=args.seed)
    settings = TrainSettings(
        max_steps=args.steps, batch_size=args.batch, block_size=args.block, learning_rate=1e-3
    )
    started = time.perf_counter()
    result = train(ours_model, data, settings)
    ours_seconds = time.perf_counter() - started
    ours_tps = result.history.tokens / ours_seconds  # every packed token is useful; time includes validation
    hf_tps = bench_hf_trainer(
        models.tiny_model(tokenizer, preset, seed=args.seed), tokenizer, docs[20:], args
    )
    print(
        f"useful training tokens/s: ours (packed) {ours_tps:,.0f}  vs  HF Trainer (padded) {hf_tps:,.0f}  -> {ours_tps / hf_tps:.2f}x (goal >= 1.0x)"
    )

    # 2. Seven writers from one base: LoRA adapters vs full fine-tuning.
    base_dir = Path(tempfile.mkdtemp(prefix="base-"))
    ours_model.save_pretrained(str(base_dir))
    tokenizer.save_pretrained(str(base_dir))
    length = f"{args.writer_steps} steps" if args.writer_steps else f"{args.writer_epochs:g} epochs"
    cache = (
        f"frozen-prefix cache {args.frozen_cache_mb} MB" if args.frozen_cache_mb else "no frozen-prefix cache"
    )
    print(
        f"writers: 7 x {length} on {args.writer_docs} documents each, from the model trained above ({cache})"
    )
    w = bench_writers(base_dir, tokenizer, docs, args)
    full, lora = w["full"], w["lora"]
    print(
        f"seven writers, time: LoRA {lora['seconds']:.1f} s  vs  full fine-tuning {full['seconds']:.1f} s  -> {full['seconds'] / lora['seconds']:.2f}x faster (goal >= 2x)"
    )
    print(
        f"seven writers, process CPU time: LoRA {lora['cpu']:.1f} s  vs  full fine-tuning {full['cpu']:.1f} s  -> {full['cpu'] / lora['cpu']:.2f}x"
    )
    print(
        f"seven writers, disk: LoRA {lora['bytes'] / 1e6:.2f} MB  vs  full fine-tuning {full['bytes'] / 1e6:.2f} MB  -> {full['bytes'] / lora['bytes']:.1f}x smaller (goal >= 20x)"
    )

    def mean(xs: list[float]) -> float:
        return sum(xs) / len(xs)

    print(
        f"seven writers, mean valid perplexity: base {mean(w['base']['ppl']):,.0f}  LoRA {mean(lora['ppl']):,.0f}  full fine-tuning {mean(full['ppl']):,.0f}"
    )
    shutil.rmtree(base_dir, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--block", type=int, default=128)
    parser.add_argument(
        "--writer-epochs", type=float, default=3.0, help="epochs per writer (the service's default)"
    )
    parser.add_argument(
        "--writer-steps", type=int, default=0, help="optimizer steps per writer instead of epochs"
    )
    parser.add_argument("--writer-docs", type=int, default=300)
    parser.add_argument(
        "--frozen-cache-mb",
        type=int,
        default=TrainSettings.frozen_cache_mb,
        help="the trainer's frozen-prefix cache budget (0 = off: the frozen blocks run every epoch)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch CPU threads (0 = torch default; 1 avoids spinning on shared cores)",
    )
    parser.add_argument("--seed", type=int, default=42)
    # The tiny preset's shape by default; a wider/deeper GPT-2 shows how the LoRA/full ratio moves
    # once the blocks, not the tied output layer, hold most of the work (as in the 2021 1.2B model).
    parser.add_argument("--width", type=int, default=models.TINY.n_embd)
    parser.add_argument("--layers", type=int, default=models.TINY.n_layer)
    parser.add_argument("--heads", type=int, default=models.TINY.n_head)
    main(parser.parse_args())
