"""The 2021 team's generation loop, re-implemented faithfully as the baseline for bench/generate.py.

Kept as they wrote it (write-up, "최종 생성 코드"): a fresh `model.generate` call per 128-token
chunk that re-encodes the prompt, the chunk cut at its first newline, the last two kss sentences of
the chunk as the next prompt, a paragraph that ends at a newline once past 1,000 characters, and a
0.1 s sleep per call. Their quirks stay too: the text up to a newline (and the whole first chunks)
is appended *with* the prompt, so sentences repeat, and nothing stops a paragraph mid-sentence.
"""

from __future__ import annotations

import time
from typing import Any

import torch

from services.generator.text import split_sentences


def paragraph_2021(
    model: Any,
    tokenizer: Any,
    text: str,
    *,
    limit: int = 3000,
    min_chars: int = 1000,
    max_length: int = 128,
    sleep_s: float = 0.1,
) -> tuple[str, str, int]:
    """One paragraph by the 2021 loop; returns (paragraph, next prompt, generate calls)."""
    gen_txt = ""
    calls = 0
    while len(gen_txt) < limit:
        if "\n" in text:
            text = text[: text.index("\n")]
        input_ids = tokenizer.encode(text)
        gen_ids = model.generate(
            torch.tensor([input_ids]),
            max_length=max_length,
            repetition_penalty=2.0,
            pad_token_id=tokenizer.pad_token_id
            if tokenizer.pad_token_id is not None
            else tokenizer.eos_token_id,
            eos_token_id=tokenizer.eos_token_id,
            bos_token_id=tokenizer.bos_token_id,
            do_sample=True,
            top_k=30,
            top_p=0.95,
            use_cache=True,
        )
        calls += 1
        generated = tokenizer.decode(gen_ids[0, :].tolist())
        if "\n" in generated:
            gen_txt += generated[: generated.index("\n")]
            if len(gen_txt) > min_chars:
                break
        elif len(gen_txt) < 128:
            gen_txt += generated
        else:
            gen_txt += generated[len(text) :]
        splited_sentences = split_sentences(generated) or [generated]
        if len(splited_sentences) < 2:
            text = splited_sentences[-1]
        else:
            text = splited_sentences[-2] + " " + splited_sentences[-1]
        if sleep_s:
            time.sleep(sleep_s)
    return gen_txt, text, calls


def section_2021(
    model: Any, tokenizer: Any, prompt: str, target_chars: int, *, min_chars: int, sleep_s: float, seed: int
) -> tuple[list[str], int]:
    """Paragraphs by the 2021 loop until the section reaches target_chars (they had no length plan)."""
    torch.manual_seed(seed)
    paragraphs: list[str] = []
    text, calls = prompt, 0
    while sum(len(p) for p in paragraphs) < target_chars:
        paragraph, text, n = paragraph_2021(model, tokenizer, text, min_chars=min_chars, sleep_s=sleep_s)
        paragraphs.append(paragraph)
        calls += n
    return paragraphs, calls
