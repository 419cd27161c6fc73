"""The cleaning steps: the 2021 KLUE-style rules as small named functions, with their defects fixed."""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np

# Each step is a function str -> str that returns its input object unchanged when it has nothing to do,
# and most start with a cheap substring test (`in` runs at memory speed) before any regular expression,
# because on real prose most steps find nothing.

EMAIL_TOKEN = "[이메일]"
URL_TOKEN = "[웹주소]"

# ---- html_entities ----------------------------------------------------------------------------------

# Only complete entities (with their ';'): html.unescape alone would also turn "&copy" or "&para" inside
# ordinary text into symbols.
_ENTITY = re.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")


def html_entities(text: str) -> str:
    """Decode leftover HTML entities (`&amp;`, `&#39;`, `&nbsp;`), also doubly escaped ones (`&amp;lt;`)."""
    for _ in range(4):  # "&amp;amp;lt;" needs one round per level of escaping
        if "&" not in text:
            return text
        decoded = _ENTITY.sub(lambda m: html.unescape(m.group()), text)
        if decoded is text or decoded == text:
            return text
        text = decoded
    return text


# ---- nfc ----------------------------------------------------------------------------------------------


def nfc(text: str) -> str:
    """Unicode NFC: decomposed Hangul (NFD text from macOS) and accents become precomposed characters."""
    if unicodedata.is_normalized("NFC", text):
        return text
    return unicodedata.normalize("NFC", text)


# ---- control_chars ------------------------------------------------------------------------------------

_LINE_BREAKS = re.compile(r"\r\n?|[\x0b\x0c\x85\u2028\u2029]")
# C0/C1 controls but tab and newline, DEL, and lone surrogates (which cannot be encoded as UTF-8).
_CONTROLS = re.compile(r"[\x00-\x08\x0e-\x1f\x7f-\x84\x86-\x9f\ud800-\udfff]")
_ANY_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")


def control_chars(text: str) -> str:
    """Line breaks of every kind become `\\n`; other control characters are removed."""
    if _ANY_CONTROL.search(text) is None:
        return text
    return _CONTROLS.sub("", _LINE_BREAKS.sub("\n", text))


# ---- bad_chars, odd_spaces, punctuation ----------------------------------------------------------------

BAD_CHARS = {
    "\u200b": "",  # zero-width space
    "\ufeff": "",  # byte-order mark
    "\u2060": "",  # word joiner
    "\u200e": "",  # left-to-right mark
    "\u200f": "",  # right-to-left mark
    "\u00ad": "",  # soft hyphen
    "…": " ... ",
}
ODD_SPACES = {
    "\u3000": " ",  # ideographic space
    "\u2009": " ",  # thin space
    "\u2002": " ",  # en space
    "\xa0": " ",  # no-break space
    "\u2003": " ",
    "\u2004": " ",
    "\u2005": " ",
    "\u2006": " ",
    "\u2007": " ",
    "\u2008": " ",
    "\u200a": " ",
    "\u202f": " ",
    "\u205f": " ",
}
# The 2021 mapping, as they wrote it (their dict listed '“' twice; once is enough).
PUNCTUATION = {
    "‘": "'",
    "₹": "e",
    "´": "'",
    "°": "",
    "€": "e",
    "™": "tm",
    "√": " sqrt ",
    "×": "x",
    "²": "2",
    "—": "-",
    "–": "-",
    "’": "'",
    "_": "-",
    "`": "'",
    "“": '"',
    "”": '"',
    "£": "e",
    "∞": "infinity",
    "θ": "theta",
    "÷": "/",
    "α": "alpha",
    "•": ".",
    "à": "a",
    "−": "-",
    "β": "beta",
    "∅": "",
    "³": "3",
    "π": "pi",
}


def _char_mapper(mapping: dict[str, str]) -> Callable[[str], str]:
    # str.replace per present key: an `in` test per key and a replace only for the few present is far
    # faster than str.translate, which looks every character up in a dict. No value contains a key, so
    # the order does not matter.
    pairs = tuple(mapping.items())

    def apply(text: str) -> str:
        for key, value in pairs:
            if key in text:
                text = text.replace(key, value)
        return text

    return apply


_bad_chars = _char_mapper(BAD_CHARS)
_odd_spaces = _char_mapper(ODD_SPACES)
_punctuation = _char_mapper(PUNCTUATION)


def bad_chars(text: str) -> str:
    """Remove zero-width and byte-order characters; `…` becomes ` ... `."""
    return _bad_chars(text)


def odd_spaces(text: str) -> str:
    """Ideographic, thin, en, no-break and other typographic spaces become a plain space."""
    return _odd_spaces(text)


def punctuation(text: str) -> str:
    """The 2021 punctuation mapping: typographic quotes and dashes to ASCII, symbols spelled out."""
    return _punctuation(text)


# ---- email, url -------------------------------------------------------------------------------------

# Fixes the 2021 class `[a-zA-Z0-9+-_.]`, whose `+-_` is a range covering `,./:;<=>?@[\]^` and the
# capitals. Lengths are bounded (RFC 5321: 64-character local part, 63-character labels) so that a
# long run of letters costs linear time, not quadratic.
EMAIL = re.compile(r"[A-Za-z0-9._%+-]{1,64}@(?:[A-Za-z0-9-]{1,63}\.){1,8}[A-Za-z]{2,24}(?![A-Za-z0-9-])")


def email(text: str) -> str:
    """E-mail addresses become `[이메일]`."""
    if "@" not in text:
        return text
    return EMAIL.sub(EMAIL_TOKEN, text)


# A URL runs over ASCII URL characters only (Korean right after it is prose: "www.a.com에서"), and
# does not end in sentence punctuation.
_URL_CHARS = r"A-Za-z0-9\-._~:/?#@!$&'*+,;=%()"
_URL_END = r"A-Za-z0-9\-_~/#@$&*+=%"
_TLDS = r"com|net|org|kr|co\.kr|or\.kr|go\.kr|ac\.kr|io|me|ly|tv|gl|be|info|biz"
URL = re.compile(
    rf"(?:(?:https?|ftps?)://|(?<![A-Za-z0-9.\-])(?:www|pic)\.(?=[A-Za-z0-9\-]+\.)"
    rf"|(?<![A-Za-z0-9.\-@])(?=(?:[A-Za-z0-9\-]{{1,63}}\.){{1,6}}(?:{_TLDS})/))"
    rf"[{_URL_CHARS}]*[{_URL_END}]"
)
_URL_HINTS = ("://", "www.", "pic.", "/")


def url(text: str) -> str:
    """URLs (`http(s)://`, `www.`, `pic.` links, bare `domain.com/path`) become `[웹주소]`."""
    for hint in _URL_HINTS:
        if hint in text:
            return URL.sub(URL_TOKEN, text)
    return text


# ---- hashtags, mentions -------------------------------------------------------------------------------

HASHTAG = re.compile(r"(?<!\S)#[^\s#]\S*")
MENTION = re.compile(r"(?<![^\s(\[])@\w+(?:\.\w+)*")


def _remove_until_stable(pattern: re.Pattern[str], text: str) -> str:
    # Removing a token can make the next one start a word ("@a@b" -> "@b"), so repeat until nothing
    # matches: the step is then a fixed point, and the pipeline idempotent.
    for _ in range(100):
        out = pattern.sub("", text)
        if out is text or out == text:
            return text
        text = out
    return text


def hashtags(text: str) -> str:
    """Drop `#tag` tokens (a word that starts with `#`); `C#` and `## 제목` stay."""
    if "#" not in text:
        return text
    return _remove_until_stable(HASHTAG, text)


def mentions(text: str) -> str:
    """Drop `@mention` tokens (a word that starts with `@`)."""
    if "@" not in text:
        return text
    return _remove_until_stable(MENTION, text)


# ---- news_copyright, photo_captions ---------------------------------------------------------------------

_COPYRIGHT_HINTS = ("저작권", "ⓒ", "©", "(c)", "(C)", "Copyright", "COPYRIGHT", "무단", "재배포")
# "<저작권자 ⓒ 연합뉴스, 무단 전재-재배포 금지>" anywhere, on one line.
_COPYRIGHT_BRACKETED = re.compile(r"[<\[(]\s*저작권자[^<>\[\]()\n]{0,80}(?:\([cC]\)[^<>\[\]\n]{0,80})?[>\])]")
# A short line that is a copyright notice: it carries a marker and is no paragraph of prose.
_COPYRIGHT_LINE = re.compile(
    r"(?m)^[^\n]{0,60}(?:ⓒ|©|\([cC]\)|Copyright|COPYRIGHT|저작권자|무단\s?전재|재배포\s?금지)[^\n]{0,60}$\n?"
)


def news_copyright(text: str) -> str:
    """Remove news copyright notices: `<저작권자 ⓒ ...>` and short lines such as `ⓒ 연합뉴스 무단전재 금지`."""
    for hint in _COPYRIGHT_HINTS:
        if hint in text:
            return _COPYRIGHT_LINE.sub("", _COPYRIGHT_BRACKETED.sub("", text))
    return text


# "(사진=연합뉴스)", "(출처: 뉴스1)", "(자료사진)", "[사진=홍길동 기자]", "사진=홍길동 기자".
# Unlike the 2021 pattern `\(사진 ?= ?.+\) `, nothing runs past the closing bracket or the line.
# Three patterns rather than one alternation, each run only when its literal parts are present.
_CAPTION_CREDIT = re.compile(r"[(\[][ \t]*(?:사진|출처|자료|그래픽|영상)[ \t]*[=:][^()\[\]\n]{0,60}[)\]]")
_CAPTION_PLAIN = re.compile(r"[(\[][ \t]*(?:자료사진|사진[ \t]*제공|게티이미지(?:뱅크)?)[ \t]*[)\]]")
_CAPTION_REPORTER = re.compile(r"(?<!\S)사진[ \t]*=[ \t]*\S{1,20}(?:[ \t]\S{1,10})?[ \t]기자(?!\S)")
_CAPTION_WORDS = ("사진", "출처", "자료", "그래픽", "영상")


def photo_captions(text: str) -> str:
    """Remove news photo captions and credits: `(사진=연합뉴스)`, `(출처: ...)`, `(자료사진)`, `사진=... 기자`."""
    if not any(word in text for word in _CAPTION_WORDS):
        return text
    if "=" in text or ":" in text:
        text = _CAPTION_CREDIT.sub("", text)
    if "사진" in text or "게티" in text:
        text = _CAPTION_PLAIN.sub("", text)
        if "기자" in text and "=" in text:
            text = _CAPTION_REPORTER.sub("", text)
    return text


# ---- boilerplate ----------------------------------------------------------------------------------------

DEFAULT_BOILERPLATE: tuple[str, ...] = (
    "구독하기",
    "구독과 좋아요",
    "좋아요와 구독",
    "구독 부탁",
    "좋아요 부탁",
    "라이킷",
    "공유하기",
    "댓글 달기",
    "작가의 글",
    "작가의 이전글",
    "작가의 다음글",
    "작가의 책",
    "브런치는 최신 브라우저에 최적화",
    "브런치스토리",
    "All rights reserved",
    "무단전재",
    "무단 전재",
    "재배포 금지",
)
# A substring entry removes a line only when the line is this short: a prompt or footer, not prose that
# happens to say "공유하기".
BOILERPLATE_MAX_LINE = 80


class Boilerplate:
    """Removes whole lines that are platform boilerplate, from a list of substrings and `re:` patterns."""

    def __init__(self, entries: Iterable[str]) -> None:
        self.entries = tuple(entries)
        substrings = [e for e in self.entries if not e.startswith("re:") and e]
        patterns = [e[3:] for e in self.entries if e.startswith("re:")]
        self._substrings = tuple(substrings)
        self._any_substring = re.compile("|".join(re.escape(s) for s in substrings)) if substrings else None
        self._patterns = [re.compile(p) for p in patterns]

    def __call__(self, text: str) -> str:
        """Text without its boilerplate lines."""
        hit = (self._any_substring is not None and self._any_substring.search(text) is not None) or any(
            p.search(text) for p in self._patterns
        )
        if not hit:
            return text
        lines = text.split("\n")
        kept = [line for line in lines if not self._is_boilerplate(line)]
        if len(kept) == len(lines):
            return text
        return "\n".join(kept)

    def _is_boilerplate(self, line: str) -> bool:
        if len(line) <= BOILERPLATE_MAX_LINE and any(s in line for s in self._substrings):
            return True
        return any(p.search(line) for p in self._patterns)


def validate_boilerplate(entries: Iterable[str]) -> list[str]:
    """Problems with a boilerplate list (bad `re:` patterns, empty entries), one message each."""
    problems = []
    for entry in entries:
        if not entry or entry == "re:":
            problems.append("boilerplate: an entry is empty")
        elif entry.startswith("re:"):
            try:
                re.compile(entry[3:])
            except re.error as exc:
                problems.append(f"boilerplate: {entry!r} is not a valid regular expression: {exc}")
    return problems


# ---- repeat_normalize -------------------------------------------------------------------------------------

# soynlp 0.0.493's repeat_normalize(num_repeats=2) is `(\w)\1{3,}` -> `\1\1` (a character written four or
# more times in a row is cut to two) plus collapsing all whitespace; both parts are 2021 defects. Here the
# class leaves out digits (`[^\W\d]`), so 10000원 and 010-1111-2222 stay, and whitespace is left to the
# `spaces` step, which keeps paragraph breaks.
REPEATS = re.compile(r"([^\W\d])\1{3,}")


def repeat_normalize(text: str) -> str:
    """A letter written four or more times in a row is cut to two (`ㅋㅋㅋㅋ` -> `ㅋㅋ`); digits never change."""
    if len(text) < 4 or not _has_run_of_four(text):
        return text
    return REPEATS.sub(r"\1\1", text)


def _has_run_of_four(text: str) -> bool:
    # The regular expression tries a backreference at every position (~60 MB/s); comparing code points
    # as a numpy array finds whether any character occurs four times in a row at ~2 GB/s, and most prose
    # has none (a run of dots or dashes is found here and then left to the regular expression to skip).
    points = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    same = points[1:] == points[:-1]
    return bool((same[2:] & same[1:-1] & same[:-2]).any())


# ---- spaces -------------------------------------------------------------------------------------------------


_NEWLINE_RUNS = re.compile(r"\n{2,}")


def spaces(text: str) -> str:
    """Collapse spaces inside each line and drop empty lines: paragraphs separated by a single `\\n`."""
    if not text:
        return text
    # Fast path: the only whitespace is single spaces and newlines (nothing else is non-printable), no
    # double spaces, no space beside a newline, nothing at either end: at most runs of newlines to fold.
    if (
        "  " not in text
        and " \n" not in text
        and "\n " not in text
        and not text[0].isspace()
        and not text[-1].isspace()
        and text.replace("\n", "").isprintable()
    ):
        return _NEWLINE_RUNS.sub("\n", text) if "\n\n" in text else text
    out = []
    for line in text.split("\n"):
        words = line.split()
        if words:
            out.append(" ".join(words))
    joined = "\n".join(out)
    return text if joined == text else joined


# ---- the pipeline -------------------------------------------------------------------------------------------

STEPS: dict[str, Callable[[str], str]] = {
    "html_entities": html_entities,
    "nfc": nfc,
    "control_chars": control_chars,
    "bad_chars": bad_chars,
    "odd_spaces": odd_spaces,
    "punctuation": punctuation,
    "email": email,
    "url": url,
    "mentions": mentions,
    "hashtags": hashtags,
    "news_copyright": news_copyright,
    "photo_captions": photo_captions,
    "boilerplate": Boilerplate(DEFAULT_BOILERPLATE),
    "repeat_normalize": repeat_normalize,
    "spaces": spaces,
}
# The pipeline's order (steps always run in this order, whatever order they are named in): entities
# are decoded before NFC (an entity can yield a combining mark); punctuation is mapped before the
# e-mail/URL rules and repeat_normalize (`•` becomes `.`, `×××` becomes `xxx`); mentions go before hashtags
# (a removed hashtag leaves a space behind it, a removed mention may not), so that one pass is enough.
STEP_NAMES: tuple[str, ...] = tuple(STEPS)


# Steps that delete text. A deletion can join what was apart ("@(사진=...)가" -> "@가"), which an earlier
# step would have handled; when one of them changed the text, the pipeline runs again until nothing
# changes, so that clean(clean(x)) == clean(x). Replacements need one round. control_chars and bad_chars
# delete too, but run before everything except html_entities and nfc, so they only need another round
# when they leave an entity or a non-NFC sequence behind (checked directly, much cheaper).
REMOVALS = frozenset({"mentions", "hashtags", "news_copyright", "photo_captions", "boilerplate"})
EARLY_REMOVALS = frozenset({"control_chars", "bad_chars"})
MAX_ROUNDS = 4


@dataclass(frozen=True)
class CleanResult:
    """A cleaned text and the names of the steps that changed it, in pipeline order."""

    text: str
    changed: tuple[str, ...]


class Cleaner:
    """The cleaning pipeline: the chosen steps in pipeline order, with a boilerplate list."""

    def __init__(
        self, steps: Sequence[str] | None = None, boilerplate: Iterable[str] = DEFAULT_BOILERPLATE
    ) -> None:
        chosen = STEP_NAMES if not steps else tuple(steps)
        unknown = [name for name in chosen if name not in STEPS]
        if unknown:
            raise ValueError(
                f"unknown cleaning step(s): {', '.join(unknown)} (known: {', '.join(STEP_NAMES)})"
            )
        wanted = set(chosen)
        self.steps: tuple[str, ...] = tuple(name for name in STEP_NAMES if name in wanted)
        functions = dict(STEPS)
        functions["boilerplate"] = Boilerplate(boilerplate)
        self._pipeline = [(name, functions[name]) for name in self.steps]

    def clean(self, text: str) -> CleanResult:
        """Run the steps over text until it is a fixed point (usually one round, see REMOVALS)."""
        changed: list[str] = []
        for round_number in range(1, MAX_ROUNDS + 1):
            changed_now = set()
            for name, step in self._pipeline:
                out = step(text)
                if out is not text and out != text:
                    changed_now.add(name)
                    text = out
            changed.extend(name for name in self.steps if name in changed_now and name not in changed)
            if not changed_now:
                break
            if round_number == 1 and not self._needs_another_round(changed_now, text):
                break
        order = {name: i for i, name in enumerate(self.steps)}
        return CleanResult(text, tuple(sorted(changed, key=order.__getitem__)))

    def _needs_another_round(self, changed: set[str], text: str) -> bool:
        if changed & REMOVALS:
            return True
        if "nfc" in self.steps and not unicodedata.is_normalized("NFC", text):
            return True
        return bool(
            changed & EARLY_REMOVALS
            and "html_entities" in self.steps
            and "&" in text
            and _ENTITY.search(text) is not None
        )

    def __call__(self, text: str) -> str:
        """The cleaned text."""
        return self.clean(text).text
