"""GPU check for the trainer and the generator: bf16 training tokens/s, decoding tokens/s vs the bandwidth bound.

The one prepared script to run when a session is lent a GPU (issues #6 and #7). Random weights of a
GPT-2-shaped model (default: the shape of skt/ko-gpt-trinity-1.2B-v0.5, the 2021 base), so nothing is
downloaded. It prints, each beside a baseline from the same run:

  - training tokens/s of our trainer (`services.trainer.engine.train`, packed blocks) in bf16 autocast,
    with every block trained and with the lower half frozen (the 2021 set-up), beside the same loop in
    fp32; and the model-FLOPs utilisation against --peak-tflops;
  - decoding tokens/s of the generator's KV-cached step (`services.generator.fastgpt2.FastGPT2`) in
    bf16 at batch 1 and batch 5, beside transformers' own `generate` (greedy, KV cache) and beside the
    memory-bandwidth bound (every step reads all weights and the KV cache once: --bandwidth-gbs).

Usage: python bench/gpu.py [--shape 1.2b|125m|tiny] [--device cuda] [--out results.json]
On a CPU, `python bench/gpu.py --shape tiny --device cpu --precision fp32` runs the same code small.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from services.generator.fastgpt2 import FastGPT2
from services.trainer.data import Packed
from services.trainer.engine import Hooks, TrainSettings, train
from services.trainer.models import freeze_lower_blocks

SHAPES = {
    # skt/ko-gpt-trinity-1.2B-v0.5's config.json: the model the 2021 team fine-tuned.
    "1.2b": {"n_embd": 1920, "n_layer": 24, "n_head": 16, "vocab_size": 51200, "n_positions": 1024},
    "125m": {"n_embd": 768, "n_layer": 12, "n_head": 12, "vocab_size": 51200, "n_positions": 1024},
    "tiny": {"n_embd": 128, "n_layer": 4, "n_head": 4, "vocab_size": 8000, "n_positions": 512},
}


def build(shape: str, seed: int) -> torch.nn.Module:
    """A randomly initialised GPT2LMHeadModel of the named shape (fp32 weights)."""
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(seed)
    last = SHAPES[shape]["vocab_size"] - 1
    return GPT2LMHeadModel(GPT2Config(**SHAPES[shape], bos_token_id=last, eos_token_id=last))


def sync(device: torch.device) -> None:
    """Wait for queued kernels so a wall-clock reading covers them."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def parameters(model: torch.nn.Module) -> int:
    """Distinct parameters (the tied head counted once)."""
    return sum(p.numel() for p in model.parameters())


def bench_train(args: argparse.Namespace, device: torch.device, precision: str, frozen: int) -> dict:
    """Tokens/s of our trainer over args.train_steps optimizer steps after args.warmup_steps."""
    model = build(args.shape, 0)
    if frozen:
        freeze_lower_blocks(model, frozen)
    vocab = SHAPES[args.shape]["vocab_size"]
    gen = torch.Generator().manual_seed(1)
    steps = args.warmup_steps + args.train_steps
    blocks = torch.randint(vocab, (steps * args.batch, args.block), generator=gen)
    data = Packed(train=blocks, valid=blocks[: args.batch], train_docs=len(blocks), valid_docs=args.batch)
    settings = TrainSettings(
        max_steps=steps,
        batch_size=args.batch,
        block_size=args.block,
        precision=precision,
        learning_rate=1e-4,
        save_every_steps=10**9,
        early_stopping_patience=0,
        gradient_checkpointing=args.checkpointing,
    )
    marks: list[float] = []

    def after_step(step: int, micro: int) -> None:
        sync(device)
        marks.append(time.perf_counter())

    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    train(model, data, settings, device=device, hooks=Hooks(after_step=after_step))
    timed = marks[args.warmup_steps :]
    seconds = timed[-1] - marks[args.warmup_steps - 1] if args.warmup_steps else timed[-1] - marks[0]
    counted = len(timed) if args.warmup_steps else len(timed) - 1
    tokens_per_s = counted * args.batch * args.block / seconds
    n = parameters(model)
    c = SHAPES[args.shape]
    # 6N per token for the matrices (forward + backward) plus attention scores, as in the PaLM appendix.
    flops_per_token = 6 * n + 12 * c["n_layer"] * c["n_embd"] * args.block
    result = {
        "precision": precision,
        "frozen_blocks": frozen,
        "tokens_per_s": tokens_per_s,
        "mfu": tokens_per_s * flops_per_token / (args.peak_tflops * 1e12),
        "peak_memory_gib": torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else None,
    }
    del model
    if device.type == "cuda":
        torch.cuda.empty_cache()
    return result


def bench_decode(args: argparse.Namespace, device: torch.device, batch: int) -> dict:
    """Decoding tokens/s of FastGPT2 and of transformers' generate, and the bandwidth bound."""
    dtype = torch.bfloat16 if args.precision != "fp32" else torch.float32
    model = build(args.shape, 0).to(device=device, dtype=dtype).eval()
    vocab = SHAPES[args.shape]["vocab_size"]
    gen = torch.Generator().manual_seed(2)
    prompt = torch.randint(vocab, (batch, args.prompt), generator=gen).to(device)
    mask = torch.ones_like(prompt)
    new = args.new_tokens

    with torch.inference_mode():
        fast = FastGPT2(model)
        for _ in range(2):  # the first round warms up kernels and allocators
            sync(device)
            started = time.perf_counter()
            logits = fast.prefill(prompt, mask, new)
            for _ in range(new - 1):
                logits = fast.step(logits.argmax(-1))
            sync(device)
            fast_s = time.perf_counter() - started

        for _ in range(2):
            sync(device)
            started = time.perf_counter()
            model.generate(
                input_ids=prompt,
                attention_mask=mask,
                max_new_tokens=new,
                min_new_tokens=new,
                do_sample=False,
                pad_token_id=SHAPES[args.shape]["vocab_size"] - 1,
            )
            sync(device)
            hf_s = time.perf_counter() - started

    c = SHAPES[args.shape]
    weight_bytes = parameters(model) * model.dtype.itemsize
    # Mean KV cache read per step: 2 (K, V) x layers x batch x mean length x width x bytes.
    kv_bytes = 2 * c["n_layer"] * batch * (args.prompt + new / 2) * c["n_embd"] * model.dtype.itemsize
    bound_steps = args.bandwidth_gbs * 1e9 / (weight_bytes + kv_bytes)
    del model, fast
    if device.type == "cuda":
        torch.cuda.empty_cache()
    return {
        "batch": batch,
        "fastgpt2_tokens_per_s": batch * new / fast_s,
        "hf_generate_tokens_per_s": batch * new / hf_s,
        "bandwidth_bound_tokens_per_s": batch * bound_steps,
    }


def main() -> None:
    """Run the training and decoding checks and print each figure beside its baseline."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", choices=sorted(SHAPES), default="1.2b")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--precision", choices=("bf16", "fp16", "fp32"), default="bf16")
    parser.add_argument("--batch", type=int, default=8, help="training blocks per step")
    parser.add_argument("--block", type=int, default=512, help="training block size (tokens)")
    parser.add_argument("--checkpointing", action="store_true", help="gradient checkpointing")
    parser.add_argument("--warmup-steps", type=int, default=3)
    parser.add_argument("--train-steps", type=int, default=10)
    parser.add_argument("--prompt", type=int, default=64, help="decoding prompt tokens")
    parser.add_argument("--new-tokens", type=int, default=256, help="decoded tokens per row")
    parser.add_argument("--bandwidth-gbs", type=float, default=4800.0, help="memory bandwidth (H200: 4800)")
    parser.add_argument("--peak-tflops", type=float, default=989.0, help="dense bf16 peak (H200 SXM: 989)")
    parser.add_argument("--skip-train", action="store_true")
    parser.add_argument("--skip-decode", action="store_true")
    parser.add_argument("--out", type=Path, help="also write the results here as JSON")
    args = parser.parse_args()

    device = torch.device(args.device)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            parser.error(
                "--device cuda but torch sees no GPU (use --device cpu --shape tiny to try the script)"
            )
        torch.backends.cuda.matmul.allow_tf32 = False  # the fp32 baseline is true fp32
        print(f"device: {torch.cuda.get_device_name(device)}, torch {torch.__version__}")
    n = parameters(build(args.shape, 0))
    print(f"shape {args.shape}: {n / 1e6:.0f} M parameters, {SHAPES[args.shape]}")
    results: dict = {"shape": args.shape, "parameters": n, "device": str(device), "train": [], "decode": []}

    if not args.skip_train:
        layers = SHAPES[args.shape]["n_layer"]
        runs = [(args.precision, 0), (args.precision, layers // 2)]
        if args.precision != "fp32":
            runs.append(("fp32", 0))
        for precision, frozen in runs:
            r = bench_train(args, device, precision, frozen)
            results["train"].append(r)
        base = next(r for r in results["train"] if r["precision"] == "fp32" and not r["frozen_blocks"])
        base = base["tokens_per_s"]
        print(f"\ntraining, batch {args.batch} x block {args.block}, {args.train_steps} timed steps:")
        for r in results["train"]:
            memory = f", peak {r['peak_memory_gib']:.1f} GiB" if r["peak_memory_gib"] is not None else ""
            print(
                f"  {r['precision']:>4}, lower {r['frozen_blocks']:>2} blocks frozen: "
                f"{r['tokens_per_s']:>10,.0f} tokens/s  ({r['tokens_per_s'] / base:.2f}x fp32, "
                f"MFU {100 * r['mfu']:.1f}% of {args.peak_tflops:.0f} TFLOPS{memory})"
            )

    if not args.skip_decode:
        print(f"\ndecoding, {args.prompt}-token prompt + {args.new_tokens} tokens, greedy, {args.precision}:")
        for batch in (1, 5):
            r = bench_decode(args, device, batch)
            results["decode"].append(r)
            print(
                f"  batch {batch}: FastGPT2 {r['fastgpt2_tokens_per_s']:>9,.0f} tokens/s  "
                f"vs HF generate {r['hf_generate_tokens_per_s']:>9,.0f} "
                f"({r['fastgpt2_tokens_per_s'] / r['hf_generate_tokens_per_s']:.2f}x)  "
                f"vs bandwidth bound {r['bandwidth_bound_tokens_per_s']:>9,.0f} "
                f"({100 * r['fastgpt2_tokens_per_s'] / r['bandwidth_bound_tokens_per_s']:.1f}% of it)"
            )
    if args.out:
        args.out.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
