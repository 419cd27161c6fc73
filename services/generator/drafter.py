"""Section drafting: the 2021 chunked paragraph loop, on a KV cache, batched, on length, with guards.

One *round* encodes each row's carried context once (a single batched prefill) and then samples up
to `chunk_tokens` tokens one cached step at a time. Rows are sections (or GenerateParagraph calls)
whose writers share one network. Each completed sentence goes through the guards as soon as it is
written; a paragraph ends at a sentence boundary once it reaches its planned length (or at the
writer's own line break past the minimum), and the next round starts from the last
`carry_sentences` sentences (split with kss), as in 2021.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch

from services.generator import fastgpt2
from services.generator.fastgpt2 import FastGPT2
from services.generator.sampling import (
    NgramBans,
    SamplingSettings,
    apply_repetition_penalty,
    draw,
    nucleus,
    sample_rows,
)
from services.generator.text import (
    SentenceMemory,
    boundary_offsets,
    ends_sentence,
    hangul_share,
    loop_score,
    rule_sentences,
    split_sentences,
)
from services.generator.writers import Writer
from services.runtime import FailedPrecondition

logger = logging.getLogger(__name__)

AIM = 0.015  # each section aims within ±1.5% of its target, so that the essay lands within ±2%
TOLERANCE = 0.03  # the hard bound per section
MIN_WINDOW = 4  # characters either side of a tiny target
MAX_SENTENCE_CHARS = 400  # a "sentence" longer than this is a loop or a run-on: resampled
MAX_PARAGRAPH_RESAMPLES = 6
MAX_FAILURES = 40  # consecutive guard failures before a row gives up on its guards and says so
MIN_HANGUL = 0.5
TOKEN_BUDGET_PER_CHAR = 20  # a writer that needs more tokens than this per accepted character is broken


class DraftFailed(FailedPrecondition):
    """The writer could not produce text the guards accept within the token budget."""


MAX_LOOP_SCORE = 0.8


@dataclass
class SectionTask:
    """One section (or one GenerateParagraph call) to draft."""

    index: int
    writer: Writer
    prompt: str
    target_chars: int
    title: str = ""
    include_prompt: bool = True  # a section opens with its prompt; GenerateParagraph only continues it
    single_paragraph: bool = False


@dataclass
class Paragraph:
    """An accepted paragraph with what the guards found."""

    section_index: int
    index: int
    text: str
    longest_copied_span: int
    overlap_ratio: float
    resamples: int
    dropped_sentences: int

    @property
    def chars(self) -> int:
        """Characters of the paragraph (spaces included)."""
        return len(self.text)


@dataclass
class SectionDraft:
    """A drafted section: its paragraphs and figures."""

    index: int
    title: str
    writer: str
    prompt: str
    target_chars: int
    paragraphs: list[Paragraph] = field(default_factory=list)
    tokens: int = 0
    rounds: int = 0
    guard_failures: int = 0  # sentences accepted only because the guards' retry budget ran out

    @property
    def text(self) -> str:
        """Paragraphs joined with line breaks."""
        return "\n".join(p.text for p in self.paragraphs)

    @property
    def chars(self) -> int:
        """Body characters: paragraphs without the line breaks between them."""
        return sum(p.chars for p in self.paragraphs)

    def metrics(self, index: object) -> dict[str, float]:
        """Longest copied span and overlap ratio over the whole section, plus length figures."""
        copied = [index.report(p.text) for p in self.paragraphs]  # type: ignore[attr-defined]
        chars = max(1, self.chars)
        return {
            "chars": self.chars,
            "target_chars": self.target_chars,
            "length_error": (self.chars - self.target_chars) / self.target_chars,
            "paragraphs": len(self.paragraphs),
            "longest_copied_span": max((c.longest_span for c in copied), default=0),
            "overlap_ratio": sum(
                c.overlap_ratio * p.chars for c, p in zip(copied, self.paragraphs, strict=True)
            )
            / chars,
            "resamples": sum(p.resamples for p in self.paragraphs),
            "dropped_sentences": sum(p.dropped_sentences for p in self.paragraphs),
            "tokens": self.tokens,
            "guard_failures": self.guard_failures,
        }


class _Row:
    """Drafting state of one section inside a batch."""

    def __init__(self, task: SectionTask, settings: SamplingSettings) -> None:
        self.task = task
        self.settings = settings
        self.writer = task.writer
        self.draft = SectionDraft(task.index, task.title, task.writer.name, task.prompt, task.target_chars)
        # One generator per section: the same seed gives the same section however it is batched.
        self.generator = torch.Generator().manual_seed((settings.seed * 1_000_003 + task.index) % (2**63))
        target = task.target_chars
        self.paragraphs_planned = (
            1 if task.single_paragraph else max(1, target // max(1, settings.min_paragraph_chars))
        )
        self.memory = SentenceMemory()
        self.sentences: list[str] = []  # accepted sentences of the paragraph being written
        self.prefix = ""  # an unfinished sentence carried into the next round
        self.previous: list[str] = []  # the last paragraph's sentences (for the carry)
        self.resamples = 0
        self.dropped = 0
        self.failures = 0  # consecutive guard failures: raise the temperature to get out of a rut
        self.degenerate = 0
        self.steer = False  # after a copy was caught, keep sampling away from the training documents
        self.done = False
        self.frozen = False  # waits for the next round (re-anchor)
        if task.include_prompt:
            pieces = rule_sentences(task.prompt)
            if pieces and not ends_sentence(pieces[-1]):
                self.prefix = pieces.pop()
            self.sentences = pieces
        self.prompt_prefix = self.prefix
        # Round state: tokens since the pending text started, and every token sampled this round.
        self.round_ids: list[int] = []
        self.sampled_ids: list[int] = []
        self.context_ids: list[int] = []
        self.ngrams: NgramBans | None = None  # no-repeat n-gram table over context_ids + sampled_ids
        # Caches keyed on the list they were computed from (held, so its identity stays unique) and
        # its length: these lists only grow by append or are replaced.
        self._decoded: tuple[list[int], int, str] = ([], 0, "")
        self._joined: tuple[list[str], int, str] = ([], 0, "")
        self._splits: dict[str, list[str]] = {}
        self._window: tuple[int, tuple[float, float, float, bool]] = (-1, (0.0, 0.0, 0.0, False))

    # ---- planning ------------------------------------------------------------------------------

    @property
    def done_chars(self) -> int:
        return self.draft.chars

    @property
    def paragraph_text(self) -> str:
        """The accepted sentences of the paragraph being written, joined."""
        source, n, text = self._joined
        if source is not self.sentences or n != len(self.sentences):
            text = " ".join(self.sentences)
            self._joined = (self.sentences, len(self.sentences), text)
        return text

    def round_text(self) -> str:
        """The decoded text of round_ids (the tokens of the unfinished sentence sampled this round)."""
        source, n, text = self._decoded
        ids = self.round_ids
        if source is not ids or n != len(ids):
            text = self.writer.tables.decode(self.writer.tokenizer, ids)
            self._decoded = (ids, len(ids), text)
        return text

    def window(self) -> tuple[float, float, float, bool]:
        """(lo, stop, hi, last) in characters of the current paragraph.

        The paragraph may end at a line break from lo on, ends at the first sentence end from
        stop on, and is closed by force before hi.
        """
        done = len(self.draft.paragraphs)
        if self._window[0] == done:  # it changes only when a paragraph is accepted
            return self._window[1]
        target = self.task.target_chars
        left = self.paragraphs_planned - done
        remaining = target - self.done_chars
        if left <= 1:
            half = max(AIM * target, MIN_WINDOW)
            lo = remaining - half
            window = (lo, lo, remaining + half, True)
        else:
            planned = remaining / left
            window = (min(self.settings.min_paragraph_chars, planned), planned, planned * 1.3, False)
        self._window = (done, window)
        return window

    def current_chars(self, pending: str) -> int:
        text = self.paragraph_text
        pending = pending.strip()
        if not pending:
            return len(text)
        return len(text) + (1 if text else 0) + len(pending)

    # ---- context -------------------------------------------------------------------------------

    def split(self, text: str) -> list[str]:
        """split_sentences (kss), remembered: after a rejected sentence the same tail is carried again."""
        found = self._splits.get(text)
        if found is None:
            if len(self._splits) > 64:
                self._splits.clear()
            found = self._splits[text] = split_sentences(text)
        return found

    def context_text(self) -> str:
        """The next round's prompt: the last carry_sentences sentences (kss) and any unfinished one.

        An empty result means "start from the beginning-of-text token" (carry_sentences = 0).
        """
        k = self.settings.carry_sentences
        source = self.sentences or self.previous
        if source:
            tail = " ".join(source[-(k + 1) :])
        else:
            tail = "" if self.task.include_prompt else self.task.prompt
        text = " ".join(self.split(tail)[-k:]) if k and tail else ""
        if not self.sentences and self.previous and not self.prefix:
            text += "\n"  # a new paragraph starts: show the writer the line break
        if self.prefix:
            text = f"{text} {self.prefix.strip()}" if text.strip() else self.prefix.strip()
        return text


class Drafter:
    """Drafts sections with writers that share one network, batched, on the KV cache."""

    def __init__(self, settings: SamplingSettings) -> None:
        self.settings = settings

    def draft(
        self,
        tasks: Sequence[SectionTask],
        *,
        on_paragraph: Callable[[SectionDraft, Paragraph], None] | None = None,
        check_cancelled: Callable[[], None] | None = None,
    ) -> list[SectionDraft]:
        """Draft every task (all must share one writer group); returns their drafts in order."""
        if not tasks:
            return []
        groups = {t.writer.group for t in tasks}
        if len(groups) != 1:
            raise ValueError(f"one batch needs writers sharing a network; got {sorted(groups)}")
        rows = [_Row(t, self.settings) for t in tasks]
        while not all(r.done for r in rows):
            if check_cancelled is not None:
                check_cancelled()
            for row in rows:
                if not row.done and row.draft.tokens > TOKEN_BUDGET_PER_CHAR * row.task.target_chars + 2000:
                    raise DraftFailed(
                        f"writer {row.writer.name!r} spent {row.draft.tokens} tokens on section {row.task.index} "
                        f"({row.draft.chars} of {row.task.target_chars} characters accepted, "
                        f"{row.degenerate} degenerate sentences): it keeps writing text the guards reject"
                    )
            active = [r for r in rows if not r.done]
            self._round(active, on_paragraph)
        return [r.draft for r in rows]

    # ---- one round -----------------------------------------------------------------------------

    @torch.inference_mode()
    def _round(self, rows: list[_Row], on_paragraph: Callable | None) -> None:
        s = self.settings
        writer = rows[0].writer
        model = writer.slot.model
        budget = writer.context_tokens - s.chunk_tokens
        contexts = []
        for row in rows:
            ids = self._anchor(row, budget)
            contexts.append(ids)
        width = max(len(c) for c in contexts)
        pad = writer.tables.eos if writer.tables.eos is not None else 0
        input_ids = torch.tensor([[pad] * (width - len(c)) + c for c in contexts], dtype=torch.long)
        mask = torch.tensor([[0] * (width - len(c)) + [1] * len(c) for c in contexts], dtype=torch.long)
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        vocab = len(writer.tables.texts)
        seen = torch.zeros(len(rows), max(vocab, 1), dtype=torch.bool)
        for i, c in enumerate(contexts):
            seen[i, torch.tensor(c)] = True
        adapters = [r.writer.adapter for r in rows]
        extra = {"adapter_names": adapters} if adapters[0] is not None else {}
        fast = FastGPT2(model) if fastgpt2.supports(model) else None
        cache = None
        # The network may sit on a GPU; token choice stays on the CPU (it needs the values at once).
        device = writer.slot.device
        with writer.slot.lock:
            if fast is not None:
                logits = fast.prefill(input_ids, mask, s.chunk_tokens + 1).float().cpu()
            else:
                mask = mask.to(device)
                positions = positions.to(device)
                out = model(
                    input_ids=input_ids.to(device),
                    attention_mask=mask,
                    position_ids=positions,
                    use_cache=True,
                    logits_to_keep=1,
                    **extra,
                )
                cache = out.cache
                logits = out.logits[:, -1, :].float().cpu()
        last_pos = positions[:, -1:]
        for _step in range(s.chunk_tokens):
            active = [i for i, row in enumerate(rows) if not (row.frozen or row.done)]
            chosen = self._choose(
                rows, active, logits if logits.shape[-1] == vocab else logits[:, :vocab], seen
            )
            next_tokens = [pad] * len(rows)
            for i, token in zip(active, chosen, strict=True):
                next_tokens[i] = token
                seen[i, token] = True
                rows[i].draft.tokens += 1
                self._advance(rows[i], token, on_paragraph)
            if all(r.frozen or r.done for r in rows):
                break
            with writer.slot.lock:
                if fast is not None:
                    logits = fast.step(next_tokens).float().cpu()
                    # A row that must re-anchor gets its new context now instead of idling to the round's end.
                    for i, row in enumerate(rows):
                        if row.frozen and not row.done:
                            self._refill(fast, i, row, budget, logits, seen)
                    continue
                step_ids = torch.tensor(next_tokens, dtype=torch.long, device=device)
                mask = torch.cat([mask, torch.ones(len(rows), 1, dtype=torch.long, device=device)], dim=-1)
                last_pos = last_pos + 1
                out = model(
                    input_ids=step_ids.unsqueeze(-1),
                    attention_mask=mask,
                    position_ids=last_pos,
                    cache=cache,
                    use_cache=True,
                    **extra,
                )
            cache = out.cache
            logits = out.logits[:, -1, :].float().cpu()
        # The chunk is spent: whatever sentence is unfinished is carried into the next round.
        for row in rows:
            if not row.frozen and not row.done:
                row.prefix = self._pending(row).strip()

    def _refill(
        self, fast: FastGPT2, i: int, row: _Row, budget: int, logits: torch.Tensor, seen: torch.Tensor
    ) -> None:
        saved = (row.round_ids, row.sampled_ids, row.context_ids, row.ngrams, row.draft.rounds)
        ids = self._anchor(row, budget)
        fresh = fast.replace_row(i, ids)
        if fresh is None:  # does not fit yet: wait for the next round
            row.round_ids, row.sampled_ids, row.context_ids, row.ngrams, row.draft.rounds = saved
            row.frozen = True
            return
        logits[i] = fresh.float().cpu()
        seen[i] = False
        seen[i, torch.tensor(ids)] = True

    def _anchor(self, row: _Row, budget: int) -> list[int]:
        """Start a row's chunk: its context tokens (carried sentences), fresh round state."""
        writer = row.writer
        row.frozen = False
        row.round_ids = []
        row.sampled_ids = []
        ids = writer.tokenizer.encode(row.context_text(), add_special_tokens=False)[-budget:]
        if not ids:
            ids = [writer.tables.eos if writer.tables.eos is not None else 0]
        row.context_ids = ids
        size = self.settings.no_repeat_ngram_size
        row.ngrams = NgramBans(size, ids) if size else None
        row.draft.rounds += 1
        return ids

    # ---- sampling one token per row ------------------------------------------------------------

    def _choose(
        self, rows: list[_Row], active: list[int], logits: torch.Tensor, seen: torch.Tensor
    ) -> list[int]:
        """One token for each active row: vocabulary-wide steps batched, the k survivors per row in Python.

        The pipeline is transformers' (repetition penalty, no-repeat n-grams, the drafter's own
        masks and bonus, temperature, top-k, top-p) and its result the same distribution as
        filter_logits + sample_rows, but only the top-k step touches the whole vocabulary: top-p and
        the inverse-CDF draw run on the k survivors. logits are the round's own (changed in place).
        """
        if not active:
            return []
        s = self.settings
        tables = rows[active[0]].writer.tables
        if len(active) == logits.shape[0]:
            mask = seen
        else:
            index = torch.tensor(active)
            logits, mask = logits[index], seen[index]
        apply_repetition_penalty(logits, mask, s.repetition_penalty)
        pendings = []
        for j, i in enumerate(active):
            row = rows[i]
            line = logits[j]
            if row.ngrams is not None:
                banned = row.ngrams.banned()
                if banned:
                    line[banned] = float("-inf")
            pending = self._pending(row)
            pendings.append(pending)
            chars = row.current_chars(pending)
            lo, _stop, hi, _last = row.window()
            open_sentence = bool(pending.strip())
            may_end = chars >= lo and (ends_sentence(pending) if open_sentence else bool(row.sentences))
            if (not may_end or row.task.single_paragraph) and tables.paragraph_end.numel():
                line.index_fill_(0, tables.paragraph_end, float("-inf"))
            if tables.terminal.numel() and open_sentence:
                stuck = row.failures >= MAX_FAILURES // 2 and len(pending) > 100
                if chars >= hi - 3 or stuck:
                    # Close the sentence now: only short sentence-ending tokens are left.
                    line.add_(tables.closing_mask)
                elif chars >= lo:
                    line.add_(tables.terminal_mask, alpha=2.0 + 8.0 * (chars - lo) / max(hi - lo, 1.0))
            temperature = s.temperature * min(1.0 + 0.1 * row.failures, 2.5)
            if temperature != 1.0:
                line.div_(temperature)
        vocab = logits.shape[-1]
        k = s.top_k if 0 < s.top_k < vocab else vocab
        values, order = torch.topk(logits, k, dim=-1)  # descending
        values_rows, order_rows = values.tolist(), order.tolist()
        chosen = []
        for j, i in enumerate(active):
            row = rows[i]
            uniform = torch.rand(1, generator=row.generator, dtype=torch.float64).item()
            kept = nucleus(values_rows[j], order_rows[j], s.top_p)
            pending = pendings[j]
            if (row.steer and not row.writer.index.empty) or not kept:
                chosen.append(self._choose_full(row, pending, logits[j], kept, uniform))
                continue
            if (row.failures or row.steer) and tables.partial_ids and not pending.endswith("\ufffd"):
                # Pushed off its favourite path a small writer reaches for stray bytes; keep to whole characters.
                whole = [c for c in kept if c[0] not in tables.partial_ids]
                kept = whole or kept
            chosen.append(draw(kept, uniform))
        return chosen

    def _choose_full(
        self, row: _Row, pending: str, logits: torch.Tensor, kept: list[tuple[int, float]], uniform: float
    ) -> int:
        """The rare cases on the whole vocabulary: copy steering, or nothing left after filtering."""
        tables = row.writer.tables
        logits = logits.unsqueeze(0)
        filtered = torch.full_like(logits, float("-inf"))
        if kept:
            ids = torch.tensor([t for t, _w in kept])
            filtered[0, ids] = logits[0, ids]
        if row.steer and not row.writer.index.empty:
            filtered = self._steer(row, pending, filtered, logits)
        if (row.steer or row.failures) and tables.partial.numel() and not pending.endswith("\ufffd"):
            masked = filtered[0].clone()
            masked[tables.partial] = float("-inf")
            if not torch.isinf(masked).all():
                filtered[0] = masked
        if torch.isinf(filtered[0]).all():
            filtered[0] = logits[0]
        return sample_rows(filtered, torch.tensor([uniform], dtype=torch.float64))[0]

    def _steer(self, row: _Row, pending: str, filtered: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
        """Forbid tokens that would stretch a copied span past the limit."""
        limit = self.settings.max_copied_span
        index = row.writer.index
        text = (row.paragraph_text + " " + pending.strip()).strip()[-(limit + index.n + 8) :]
        suffix = index.copied_suffix(text)
        if suffix + 8 < limit - 8:
            return filtered
        texts = row.writer.tables.texts
        candidates = torch.nonzero(~torch.isinf(filtered[0])).flatten().tolist()
        if len(candidates) < 5:
            # Widen the choice so that something original remains.
            candidates = torch.topk(logits[0], min(50, logits.shape[-1])).indices.tolist()
            filtered = torch.full_like(logits, float("-inf"))
            filtered[0, candidates] = logits[0, candidates]
        for token in candidates:
            if index.extends_copy(text, texts[token], limit, suffix):
                filtered[0, token] = float("-inf")
        return filtered

    # ---- after each token ----------------------------------------------------------------------

    def _pending(self, row: _Row) -> str:
        text = row.round_text()
        if row.prefix:
            return row.prefix + text
        return text

    def _advance(self, row: _Row, token: int, on_paragraph: Callable | None) -> None:
        tables = row.writer.tables
        paragraph_break = token == tables.eos
        if not paragraph_break:
            row.round_ids.append(token)
            row.sampled_ids.append(token)
            if row.ngrams is not None:
                row.ngrams.add(token)
        pending = self._pending(row)
        if pending.endswith("\ufffd"):
            return  # half a character: wait for the rest of its bytes
        if "\n" in pending or "\r" in pending:
            cut = min(i for i in (pending.find("\n"), pending.find("\r")) if i >= 0)
            pending = pending[:cut]
            paragraph_break = True
        if not pending.lstrip() and not paragraph_break:
            return
        body = pending.lstrip()
        offsets = boundary_offsets(body)
        start = 0
        for end in offsets:
            sentence = body[start:end].strip()
            start = end
            if not sentence:
                continue
            if not self._accept_sentence(row, sentence):
                self._restart(row)
                return
            if self._paragraph_complete(row, at_break=False):
                self._finish_paragraph(row, on_paragraph)
                return
        rest = body[start:]
        if paragraph_break:
            # The writer ended the paragraph; an unfinished tail is dropped (never end mid-sentence).
            if self._paragraph_complete(row, at_break=True):
                self._finish_paragraph(row, on_paragraph)
            else:
                self._restart(row)
            return
        if len(rest) > MAX_SENTENCE_CHARS:
            row.failures += 1
            self._restart(row)
            return
        if start:
            # Accepted sentences leave the pending text; only the unfinished one stays.
            row.prefix = rest if rest.strip() else ""
            row.round_ids = []

    def _accept_sentence(self, row: _Row, sentence: str) -> bool:
        """Run the sentence guards; True if the sentence joins the paragraph."""
        letters = sum(ch.isalpha() for ch in sentence)
        if "\ufffd" in sentence or letters < 2 or (letters >= 4 and hangul_share(sentence) < MIN_HANGUL):
            # Degenerate: bytes that are not UTF-8 (undertrained models emit them), no words, or not Korean.
            row.failures += 1
            row.dropped += 1
            row.degenerate += 1
            return False
        if row.failures >= MAX_FAILURES:
            # The repeat and copy guards keep failing: accept, and say so in the section's figures.
            row.draft.guard_failures += 1
            row.failures = 0
            self._add(row, sentence)
            return True
        logger.debug("section %d: sentence %r", row.task.index, sentence)
        if row.memory.is_repeat(sentence) or row.memory.near_any(sentence, row.sentences):
            row.failures += 1
            row.dropped += 1
            return False
        index = row.writer.index
        if not index.empty:
            limit = self.settings.max_copied_span
            window = (row.paragraph_text[-(limit + index.n) :] + " " + sentence).strip()
            if index.exceeds(window, limit):
                logger.debug("section %d: copied sentence resampled: %s", row.task.index, sentence)
                row.failures += 1
                row.resamples += 1
                row.steer = True
                return False
        self._add(row, sentence)
        return True

    def _add(self, row: _Row, sentence: str) -> None:
        row.sentences.append(sentence)
        row.failures = 0

    def _paragraph_complete(self, row: _Row, *, at_break: bool) -> bool:
        chars = len(row.paragraph_text)
        if not row.sentences:
            return False
        lo, stop, _hi, _last = row.window()
        if at_break:
            return chars >= lo
        return chars >= stop

    def _restart(self, row: _Row) -> None:
        """Discard the unfinished text and start the next round from the accepted sentences."""
        # The section's own prompt is never discarded, even when its first sentence is resampled.
        row.prefix = row.prompt_prefix if not row.sentences and not row.draft.paragraphs else ""
        row.round_ids = []
        row.frozen = True

    def _finish_paragraph(self, row: _Row, on_paragraph: Callable | None) -> None:
        text = row.paragraph_text
        report = row.writer.index.report(text)
        degenerate = hangul_share(text) < MIN_HANGUL or loop_score(text) > MAX_LOOP_SCORE
        copied = report.longest_span > self.settings.max_copied_span
        if (degenerate or copied) and row.resamples < MAX_PARAGRAPH_RESAMPLES:
            logger.info(
                "section %d paragraph %d resampled (%s)",
                row.task.index,
                len(row.draft.paragraphs),
                "degenerate" if degenerate else f"copied span {report.longest_span}",
            )
            row.resamples += 1
            row.steer = row.steer or copied
            row.sentences = []
            self._restart(row)
            return
        paragraph = Paragraph(
            section_index=row.task.index,
            index=len(row.draft.paragraphs),
            text=text,
            longest_copied_span=report.longest_span,
            overlap_ratio=report.overlap_ratio,
            resamples=row.resamples,
            dropped_sentences=row.dropped,
        )
        row.draft.paragraphs.append(paragraph)
        for sentence in row.sentences:
            row.memory.add(sentence)
        row.previous = row.sentences
        row.sentences = []
        row.resamples = 0
        row.dropped = 0
        row.steer = False
        self._restart(row)
        if on_paragraph is not None:
            on_paragraph(row.draft, paragraph)
        lo_total = row.task.target_chars * (1 - AIM) - MIN_WINDOW
        if len(row.draft.paragraphs) >= row.paragraphs_planned or row.done_chars >= lo_total:
            row.done = True


def plan_batches(tasks: Sequence[SectionTask], max_batch: int) -> list[list[SectionTask]]:
    """Group tasks by the network their writers share, in batches of at most max_batch."""
    groups: dict[str, list[SectionTask]] = {}
    for task in tasks:
        groups.setdefault(task.writer.group, []).append(task)
    batches = []
    for members in groups.values():
        for i in range(0, len(members), max_batch):
            batches.append(members[i : i + max_batch])
    return batches
