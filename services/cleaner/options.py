"""Cleaning options: defaults, validation, and conversion from the CleanOptions message."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from services.cleaner.steps import DEFAULT_BOILERPLATE, STEP_NAMES, validate_boilerplate
from services.runtime import InvalidArgument
from supil.v1 import cleaner_pb2

BACKENDS = {
    cleaner_pb2.SENTENCE_BACKEND_UNSPECIFIED: "fast",
    cleaner_pb2.SENTENCE_BACKEND_FAST: "fast",
    cleaner_pb2.SENTENCE_BACKEND_PECAB: "pecab",
}


@dataclass(frozen=True)
class CleanConfig:
    """Everything a clean job or a CleanText call runs with; unset request fields take these defaults."""

    steps: tuple[str, ...] = STEP_NAMES
    boilerplate: tuple[str, ...] = DEFAULT_BOILERPLATE
    min_chars: int = 100
    # The 2021 corpus had no document over 20,000 characters; 100,000 keeps long essays and drops dumps.
    max_chars: int = 100_000
    min_hangul_ratio: float = 0.5
    min_sentences: int = 3
    max_repetition: float = 0.3
    dedup_exact: bool = True
    dedup_near: bool = True
    near_threshold: float = 0.85
    num_perm: int = 128
    sentence_backend: str = "fast"
    write_sentences: bool = False
    shingle_size: int = 5

    def as_dict(self) -> dict:
        """The options as JSON-ready values (for the statistics artifact)."""
        return asdict(self)


def config_from_options(options: cleaner_pb2.CleanOptions) -> CleanConfig:
    """Validate a CleanOptions message and fill in defaults; InvalidArgument lists every problem."""
    base = CleanConfig()
    problems: list[str] = []
    steps = tuple(options.steps) or base.steps
    unknown = [s for s in steps if s not in STEP_NAMES]
    if unknown:
        problems.append(f"steps: unknown {', '.join(map(repr, unknown))} (known: {', '.join(STEP_NAMES)})")
    boilerplate = tuple(options.boilerplate) or base.boilerplate
    problems.extend(validate_boilerplate(boilerplate))

    def pick(name: str) -> object:
        return getattr(options, name) if options.HasField(name) else getattr(base, name)

    values = {
        name: pick(name)
        for name in (
            "min_chars",
            "max_chars",
            "min_hangul_ratio",
            "min_sentences",
            "max_repetition",
            "dedup_exact",
            "dedup_near",
            "near_threshold",
            "num_perm",
        )
    }
    if values["min_chars"] < 0:
        problems.append("min_chars must not be negative")
    if values["max_chars"] <= 0:
        problems.append("max_chars must be positive")
    if values["min_chars"] > values["max_chars"]:
        problems.append(f"min_chars ({values['min_chars']}) is more than max_chars ({values['max_chars']})")
    if not 0.0 <= values["min_hangul_ratio"] <= 1.0:
        problems.append("min_hangul_ratio must be between 0 and 1")
    if values["min_sentences"] < 0:
        problems.append("min_sentences must not be negative")
    if not 0.0 < values["max_repetition"] <= 1.0:
        problems.append("max_repetition must be in (0, 1]")
    if not 0.0 < values["near_threshold"] < 1.0:
        problems.append("near_threshold must be between 0 and 1 (exclusive)")
    if not 16 <= values["num_perm"] <= 1024:
        problems.append("num_perm must be between 16 and 1024")
    if options.sentence_backend not in BACKENDS:
        problems.append(f"sentence_backend {options.sentence_backend} is not a known backend")
    if problems:
        raise InvalidArgument("bad clean options: " + "; ".join(problems))
    return CleanConfig(
        steps=steps,
        boilerplate=boilerplate,
        sentence_backend=BACKENDS[options.sentence_backend],
        write_sentences=options.write_sentences,
        **values,  # type: ignore[arg-type]
    )
