"""The essay spec (TOML): the contract between a user and the orchestrator, validated with pydantic."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

MAX_TARGET_CHARS = 1_000_000
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"


class SpecError(ValueError):
    """A spec that cannot be used; `problems` lists (field path, reason) pairs, every one of them."""

    def __init__(self, source: str, problems: list[tuple[str, str]]) -> None:
        self.source = source
        self.problems = problems
        lines = "\n".join(f"  {path}: {reason}" for path, reason in problems)
        super().__init__(f"{source}: {len(problems)} problem(s)\n{lines}")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


def _regex(value: str | None) -> str | None:
    if value:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a valid regular expression: {exc}") from None
    return value


class Essay(_Strict):
    """[essay]: what to write."""

    name: Annotated[str, Field(pattern=NAME_PATTERN, description="job name: workspace/jobs/<name>/")]
    title: Annotated[str, Field(min_length=1, max_length=200)]
    theme: Annotated[
        str, Field(min_length=1, max_length=50, description="word every retrieved document must contain")
    ]
    target_chars: Annotated[
        int, Field(gt=0, le=MAX_TARGET_CHARS, description="body characters, spaces included")
    ]


class JsonListing(_Strict):
    """[[crawl.sites.json_listings]]: a JSON API that lists articles page by page (infinite scroll)."""

    url_template: Annotated[str, Field(min_length=1, description="URL with a {page} placeholder")]
    items_path: str = ""
    url_field: Annotated[str, Field(min_length=1)] = "url"
    first_page: Annotated[int, Field(ge=0)] = 1
    max_pages: Annotated[int, Field(gt=0, le=1_000_000)] = 100

    @field_validator("url_template")
    @classmethod
    def _has_page(cls, value: str) -> str:
        if "{page}" not in value:
            raise ValueError("needs a {page} placeholder")
        return value


class Site(_Strict):
    """[[crawl.sites]]: one site profile (or a built-in one named by `builtin`)."""

    name: Annotated[str, Field(pattern=NAME_PATTERN)]
    builtin: str | None = None
    start_urls: list[str] = Field(default_factory=list)
    allowed_domains: list[str] = Field(default_factory=list)
    article_pattern: str | None = None
    follow_pattern: str | None = None
    title_selector: str | None = None
    body_selector: str | None = None
    author_selector: str | None = None
    date_selector: str | None = None
    tags_selector: str | None = None
    max_pages: Annotated[int, Field(gt=0, le=10_000_000)] = 2000
    max_depth: Annotated[int, Field(ge=0, le=1000)] = 0
    allow_private: bool = False
    obey_robots_txt: bool = True
    download_delay: Annotated[float, Field(ge=0, le=600)] | None = None
    concurrency_per_domain: Annotated[int, Field(gt=0, le=64)] | None = None
    json_listings: list[JsonListing] = Field(default_factory=list)
    min_text_chars: Annotated[int, Field(ge=0, le=1_000_000)] | None = None
    min_hangul_ratio: Annotated[float, Field(ge=0, le=1)] | None = None

    @field_validator("article_pattern", "follow_pattern")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        return _regex(value)

    @field_validator("start_urls")
    @classmethod
    def _http_urls(cls, urls: list[str]) -> list[str]:
        for url in urls:
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValueError(f"{url!r} is not an http(s) URL with a host")
        return urls

    @model_validator(mode="after")
    def _has_start(self) -> Site:
        if not self.start_urls and not self.builtin:
            raise ValueError("give start_urls or name a builtin profile")
        return self


class Crawl(_Strict):
    """[crawl]: where the corpus comes from."""

    sites: list[Site] = Field(default_factory=list)
    # Keep Scrapy's HTTP cache in the workspace so a re-crawl (a changed profile, --from crawl) does
    # not fetch the same pages again; off by default so a re-crawl sees the sites as they are now.
    http_cache: bool = False

    @model_validator(mode="after")
    def _unique_names(self) -> Crawl:
        names = [s.name for s in self.sites]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"site names must be unique; repeated: {', '.join(dupes)}")
        return self


# The cleaner's step names in pipeline order (services/cleaner/steps.py STEP_NAMES; a test keeps them equal).
CLEAN_STEPS = (
    "html_entities",
    "nfc",
    "control_chars",
    "bad_chars",
    "odd_spaces",
    "punctuation",
    "email",
    "url",
    "mentions",
    "hashtags",
    "news_copyright",
    "photo_captions",
    "boilerplate",
    "repeat_normalize",
    "spaces",
)


class Clean(_Strict):
    """[clean]: which cleaning steps run, the filters' thresholds, dedup and sentence splitting."""

    steps: list[str] | None = Field(default=None, description="step names; all of them when absent")
    boilerplate: list[str] | None = Field(
        default=None,
        description="lines to remove: substrings or 're:' regexes; the built-in list when absent",
    )
    min_chars: Annotated[int, Field(ge=0, le=MAX_TARGET_CHARS)] = 100
    max_chars: Annotated[int, Field(gt=0, le=100_000_000)] = 100_000
    min_hangul_ratio: Annotated[float, Field(ge=0, le=1)] = 0.5
    min_sentences: Annotated[int, Field(ge=0, le=100_000)] = 3
    max_repetition: Annotated[float, Field(gt=0, le=1)] = 0.3
    dedup_exact: bool = True
    dedup_near: bool = True
    near_threshold: Annotated[float, Field(gt=0, lt=1)] = 0.85
    num_perm: Annotated[int, Field(ge=16, le=1024)] = 128
    sentence_backend: Literal["fast", "pecab"] = "fast"
    write_sentences: bool = False

    @field_validator("steps")
    @classmethod
    def _known_steps(cls, steps: list[str] | None) -> list[str] | None:
        unknown = [s for s in steps or [] if s not in CLEAN_STEPS]
        if unknown:
            raise ValueError(f"unknown step(s) {', '.join(unknown)}; known: {', '.join(CLEAN_STEPS)}")
        return steps

    @field_validator("boilerplate")
    @classmethod
    def _boilerplate_patterns(cls, entries: list[str] | None) -> list[str] | None:
        for entry in entries or []:
            if not entry or entry == "re:":
                raise ValueError("an entry is empty")
            if entry.startswith("re:"):
                _regex(entry[3:])
        return entries

    @model_validator(mode="after")
    def _chars_range(self) -> Clean:
        if self.min_chars > self.max_chars:
            raise ValueError(f"min_chars ({self.min_chars}) is more than max_chars ({self.max_chars})")
        return self


class Model(_Strict):
    """[model]: the base model and how writers are trained; unset numbers take the trainer's defaults."""

    base: Annotated[str, Field(min_length=1, description='"tiny", a hub id or a local path')] = "tiny"
    pretrain: bool = Field(True, description="continued pretraining on the whole cleaned corpus first")
    pretrain_epochs: Annotated[float, Field(gt=0, le=1000)] | None = None
    pretrain_max_steps: Annotated[int, Field(gt=0, le=10_000_000)] | None = None
    freeze_layers: Annotated[int, Field(ge=0, le=1000)] | None = None
    lora: bool = False
    lora_r: Annotated[int, Field(gt=0, le=1024)] = 8
    epochs: Annotated[float, Field(gt=0, le=1000)] | None = None
    max_steps: Annotated[int, Field(gt=0, le=10_000_000)] | None = None
    learning_rate: Annotated[float, Field(gt=0, lt=1)] | None = None
    batch_size: Annotated[int, Field(gt=0, le=4096)] | None = None
    gradient_accumulation: Annotated[int, Field(gt=0, le=4096)] | None = None
    block_size: Annotated[int, Field(ge=16, le=131072)] | None = None
    trust_remote_code: bool = False

    @model_validator(mode="after")
    def _freeze_or_lora(self) -> Model:
        if self.lora and self.freeze_layers is not None:
            raise ValueError("choose either freeze_layers or lora = true, not both")
        if self.base == "tiny" and not self.pretrain:
            raise ValueError('base = "tiny" is trained here from scratch: it needs pretrain = true')
        return self


class Generate(_Strict):
    """[generate]: sampling settings (defaults are the 2021 team's)."""

    top_k: Annotated[int, Field(ge=0, le=100_000)] = 30
    top_p: Annotated[float, Field(gt=0, le=1)] = 0.95
    temperature: Annotated[float, Field(gt=0, le=10)] = 1.0
    repetition_penalty: Annotated[float, Field(ge=1, le=10)] = 2.0
    no_repeat_ngram_size: Annotated[int, Field(ge=0, le=64)] = 0
    seed: Annotated[int, Field(ge=0, lt=2**63)] = 42
    chunk_tokens: Annotated[int, Field(gt=0, le=8192)] = 128
    carry_sentences: Annotated[int, Field(ge=0, le=20)] = 2
    min_paragraph_chars: Annotated[int, Field(gt=0, le=100_000)] = 1000
    max_copied_span: Annotated[int, Field(gt=0, le=100_000)] = 50


class Retrieve(_Strict):
    """[retrieve]: how each section's training set is taken from the index."""

    k: Annotated[int, Field(gt=0, le=100_000, description="documents per query (500 in 2021)")] = 500
    valid_fraction: Annotated[float, Field(ge=0, lt=1)] = 0.1
    backend: Literal["embedded", "elasticsearch"] = "embedded"
    decompound_mode: Literal["none", "discard", "mixed"] = "discard"
    rm3: bool = False


class Section(_Strict):
    """[[sections]]: one section, written by the writer trained for its query."""

    title: Annotated[str, Field(min_length=1, max_length=200)]
    query: Annotated[str, Field(min_length=1, max_length=200)]
    prompt: Annotated[str, Field(min_length=1, max_length=2000)]
    chars: Annotated[int, Field(gt=0, le=MAX_TARGET_CHARS)] | None = None


class Services(_Strict):
    """[services]: addresses of remote services (host:port); the embedded default when absent."""

    crawler: str | None = None
    cleaner: str | None = None
    retriever: str | None = None
    trainer: str | None = None
    generator: str | None = None

    @field_validator("crawler", "cleaner", "retriever", "trainer", "generator")
    @classmethod
    def _host_port(cls, value: str | None) -> str | None:
        if value is not None:
            check_address(value)
        return value


class EssaySpec(_Strict):
    """A whole essay spec."""

    essay: Essay
    crawl: Crawl = Field(default_factory=Crawl)
    clean: Clean = Field(default_factory=Clean)
    model: Model = Field(default_factory=Model)
    generate: Generate = Field(default_factory=Generate)
    retrieve: Retrieve = Field(default_factory=Retrieve)
    sections: Annotated[list[Section], Field(min_length=1, max_length=100)]
    services: Services = Field(default_factory=Services)

    @model_validator(mode="after")
    def _section_budget(self) -> EssaySpec:
        fixed = sum(s.chars for s in self.sections if s.chars is not None)
        if fixed > self.essay.target_chars:
            raise ValueError(
                f"sections' chars add up to {fixed}, more than essay.target_chars ({self.essay.target_chars})"
            )
        if fixed == self.essay.target_chars and any(s.chars is None for s in self.sections):
            raise ValueError(
                "sections without chars would get 0 characters: the others already use essay.target_chars"
            )
        return self

    def section_targets(self) -> list[int]:
        """Characters per section: given ones kept, the rest of target_chars shared out evenly."""
        open_sections = [i for i, s in enumerate(self.sections) if s.chars is None]
        left = self.essay.target_chars - sum(s.chars or 0 for s in self.sections)
        targets = [s.chars or 0 for s in self.sections]
        for rank, i in enumerate(open_sections):
            share, extra = divmod(left, len(open_sections))
            targets[i] = share + (1 if rank < extra else 0)
        return targets


def check_address(value: str) -> str:
    """Return value if it is host:port with a valid port, else raise ValueError."""
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{value!r} is not host:port")
    return value


def _path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(spec)"


def parse_spec(text: str, source: str = "<spec>") -> EssaySpec:
    """Parse and validate TOML text; raise SpecError listing every problem with its field path."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(source, [("(toml)", str(exc))]) from None
    try:
        return EssaySpec.model_validate(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors(include_url=False):
            reason = error["msg"].removeprefix("Value error, ")
            if error["type"] == "extra_forbidden":
                reason = "unknown field (check the spelling)"
            problems.append((_path(error["loc"]), reason))
        raise SpecError(source, problems) from None


def load_spec(path: Path | str) -> EssaySpec:
    """Read and validate a spec file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError(str(path), [("(file)", "no such file")]) from None
    except UnicodeDecodeError:
        raise SpecError(str(path), [("(file)", "not UTF-8 text")]) from None
    return parse_spec(text, str(path))
