from supil.v1 import jobs_pb2 as _jobs_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SamplingOptions(_message.Message):
    __slots__ = ("top_k", "top_p", "temperature", "repetition_penalty", "no_repeat_ngram_size", "seed", "chunk_tokens", "carry_sentences", "min_paragraph_chars", "max_copied_span")
    TOP_K_FIELD_NUMBER: _ClassVar[int]
    TOP_P_FIELD_NUMBER: _ClassVar[int]
    TEMPERATURE_FIELD_NUMBER: _ClassVar[int]
    REPETITION_PENALTY_FIELD_NUMBER: _ClassVar[int]
    NO_REPEAT_NGRAM_SIZE_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    CHUNK_TOKENS_FIELD_NUMBER: _ClassVar[int]
    CARRY_SENTENCES_FIELD_NUMBER: _ClassVar[int]
    MIN_PARAGRAPH_CHARS_FIELD_NUMBER: _ClassVar[int]
    MAX_COPIED_SPAN_FIELD_NUMBER: _ClassVar[int]
    top_k: int
    top_p: float
    temperature: float
    repetition_penalty: float
    no_repeat_ngram_size: int
    seed: int
    chunk_tokens: int
    carry_sentences: int
    min_paragraph_chars: int
    max_copied_span: int
    def __init__(self, top_k: _Optional[int] = ..., top_p: _Optional[float] = ..., temperature: _Optional[float] = ..., repetition_penalty: _Optional[float] = ..., no_repeat_ngram_size: _Optional[int] = ..., seed: _Optional[int] = ..., chunk_tokens: _Optional[int] = ..., carry_sentences: _Optional[int] = ..., min_paragraph_chars: _Optional[int] = ..., max_copied_span: _Optional[int] = ...) -> None: ...

class SectionSpec(_message.Message):
    __slots__ = ("title", "writer", "prompt", "target_chars")
    TITLE_FIELD_NUMBER: _ClassVar[int]
    WRITER_FIELD_NUMBER: _ClassVar[int]
    PROMPT_FIELD_NUMBER: _ClassVar[int]
    TARGET_CHARS_FIELD_NUMBER: _ClassVar[int]
    title: str
    writer: str
    prompt: str
    target_chars: int
    def __init__(self, title: _Optional[str] = ..., writer: _Optional[str] = ..., prompt: _Optional[str] = ..., target_chars: _Optional[int] = ...) -> None: ...

class CreateDraftJobRequest(_message.Message):
    __slots__ = ("job_id", "sections", "sampling", "output")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    SECTIONS_FIELD_NUMBER: _ClassVar[int]
    SAMPLING_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    sections: _containers.RepeatedCompositeFieldContainer[SectionSpec]
    sampling: SamplingOptions
    output: str
    def __init__(self, job_id: _Optional[str] = ..., sections: _Optional[_Iterable[_Union[SectionSpec, _Mapping]]] = ..., sampling: _Optional[_Union[SamplingOptions, _Mapping]] = ..., output: _Optional[str] = ...) -> None: ...

class CreateDraftJobResponse(_message.Message):
    __slots__ = ("job",)
    JOB_FIELD_NUMBER: _ClassVar[int]
    job: _jobs_pb2.Job
    def __init__(self, job: _Optional[_Union[_jobs_pb2.Job, _Mapping]] = ...) -> None: ...

class GuardReport(_message.Message):
    __slots__ = ("longest_copied_span", "overlap_ratio", "resamples", "dropped_sentences")
    LONGEST_COPIED_SPAN_FIELD_NUMBER: _ClassVar[int]
    OVERLAP_RATIO_FIELD_NUMBER: _ClassVar[int]
    RESAMPLES_FIELD_NUMBER: _ClassVar[int]
    DROPPED_SENTENCES_FIELD_NUMBER: _ClassVar[int]
    longest_copied_span: int
    overlap_ratio: float
    resamples: int
    dropped_sentences: int
    def __init__(self, longest_copied_span: _Optional[int] = ..., overlap_ratio: _Optional[float] = ..., resamples: _Optional[int] = ..., dropped_sentences: _Optional[int] = ...) -> None: ...

class DraftParagraph(_message.Message):
    __slots__ = ("section_index", "paragraph_index", "text", "chars", "guards")
    SECTION_INDEX_FIELD_NUMBER: _ClassVar[int]
    PARAGRAPH_INDEX_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    CHARS_FIELD_NUMBER: _ClassVar[int]
    GUARDS_FIELD_NUMBER: _ClassVar[int]
    section_index: int
    paragraph_index: int
    text: str
    chars: int
    guards: GuardReport
    def __init__(self, section_index: _Optional[int] = ..., paragraph_index: _Optional[int] = ..., text: _Optional[str] = ..., chars: _Optional[int] = ..., guards: _Optional[_Union[GuardReport, _Mapping]] = ...) -> None: ...

class GenerateParagraphRequest(_message.Message):
    __slots__ = ("writer", "text", "sampling", "target_chars")
    WRITER_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    SAMPLING_FIELD_NUMBER: _ClassVar[int]
    TARGET_CHARS_FIELD_NUMBER: _ClassVar[int]
    writer: str
    text: str
    sampling: SamplingOptions
    target_chars: int
    def __init__(self, writer: _Optional[str] = ..., text: _Optional[str] = ..., sampling: _Optional[_Union[SamplingOptions, _Mapping]] = ..., target_chars: _Optional[int] = ...) -> None: ...

class GenerateParagraphResponse(_message.Message):
    __slots__ = ("text", "chars", "guards")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    CHARS_FIELD_NUMBER: _ClassVar[int]
    GUARDS_FIELD_NUMBER: _ClassVar[int]
    text: str
    chars: int
    guards: GuardReport
    def __init__(self, text: _Optional[str] = ..., chars: _Optional[int] = ..., guards: _Optional[_Union[GuardReport, _Mapping]] = ...) -> None: ...
