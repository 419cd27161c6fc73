from supil.v1 import jobs_pb2 as _jobs_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SentenceBackend(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SENTENCE_BACKEND_UNSPECIFIED: _ClassVar[SentenceBackend]
    SENTENCE_BACKEND_FAST: _ClassVar[SentenceBackend]
    SENTENCE_BACKEND_PECAB: _ClassVar[SentenceBackend]
SENTENCE_BACKEND_UNSPECIFIED: SentenceBackend
SENTENCE_BACKEND_FAST: SentenceBackend
SENTENCE_BACKEND_PECAB: SentenceBackend

class CleanOptions(_message.Message):
    __slots__ = ("steps", "boilerplate", "min_chars", "max_chars", "min_hangul_ratio", "min_sentences", "max_repetition", "dedup_exact", "dedup_near", "near_threshold", "num_perm", "sentence_backend", "write_sentences")
    STEPS_FIELD_NUMBER: _ClassVar[int]
    BOILERPLATE_FIELD_NUMBER: _ClassVar[int]
    MIN_CHARS_FIELD_NUMBER: _ClassVar[int]
    MAX_CHARS_FIELD_NUMBER: _ClassVar[int]
    MIN_HANGUL_RATIO_FIELD_NUMBER: _ClassVar[int]
    MIN_SENTENCES_FIELD_NUMBER: _ClassVar[int]
    MAX_REPETITION_FIELD_NUMBER: _ClassVar[int]
    DEDUP_EXACT_FIELD_NUMBER: _ClassVar[int]
    DEDUP_NEAR_FIELD_NUMBER: _ClassVar[int]
    NEAR_THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    NUM_PERM_FIELD_NUMBER: _ClassVar[int]
    SENTENCE_BACKEND_FIELD_NUMBER: _ClassVar[int]
    WRITE_SENTENCES_FIELD_NUMBER: _ClassVar[int]
    steps: _containers.RepeatedScalarFieldContainer[str]
    boilerplate: _containers.RepeatedScalarFieldContainer[str]
    min_chars: int
    max_chars: int
    min_hangul_ratio: float
    min_sentences: int
    max_repetition: float
    dedup_exact: bool
    dedup_near: bool
    near_threshold: float
    num_perm: int
    sentence_backend: SentenceBackend
    write_sentences: bool
    def __init__(self, steps: _Optional[_Iterable[str]] = ..., boilerplate: _Optional[_Iterable[str]] = ..., min_chars: _Optional[int] = ..., max_chars: _Optional[int] = ..., min_hangul_ratio: _Optional[float] = ..., min_sentences: _Optional[int] = ..., max_repetition: _Optional[float] = ..., dedup_exact: _Optional[bool] = ..., dedup_near: _Optional[bool] = ..., near_threshold: _Optional[float] = ..., num_perm: _Optional[int] = ..., sentence_backend: _Optional[_Union[SentenceBackend, str]] = ..., write_sentences: _Optional[bool] = ...) -> None: ...

class CreateCleanJobRequest(_message.Message):
    __slots__ = ("job_id", "input", "output", "options")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    INPUT_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    input: str
    output: str
    options: CleanOptions
    def __init__(self, job_id: _Optional[str] = ..., input: _Optional[str] = ..., output: _Optional[str] = ..., options: _Optional[_Union[CleanOptions, _Mapping]] = ...) -> None: ...

class CreateCleanJobResponse(_message.Message):
    __slots__ = ("job",)
    JOB_FIELD_NUMBER: _ClassVar[int]
    job: _jobs_pb2.Job
    def __init__(self, job: _Optional[_Union[_jobs_pb2.Job, _Mapping]] = ...) -> None: ...

class CleanTextRequest(_message.Message):
    __slots__ = ("text", "options")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    text: str
    options: CleanOptions
    def __init__(self, text: _Optional[str] = ..., options: _Optional[_Union[CleanOptions, _Mapping]] = ...) -> None: ...

class CleanTextResponse(_message.Message):
    __slots__ = ("text", "changed_steps")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    CHANGED_STEPS_FIELD_NUMBER: _ClassVar[int]
    text: str
    changed_steps: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, text: _Optional[str] = ..., changed_steps: _Optional[_Iterable[str]] = ...) -> None: ...

class SplitSentencesRequest(_message.Message):
    __slots__ = ("text", "backend")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    BACKEND_FIELD_NUMBER: _ClassVar[int]
    text: str
    backend: SentenceBackend
    def __init__(self, text: _Optional[str] = ..., backend: _Optional[_Union[SentenceBackend, str]] = ...) -> None: ...

class SplitSentencesResponse(_message.Message):
    __slots__ = ("sentences",)
    SENTENCES_FIELD_NUMBER: _ClassVar[int]
    sentences: _containers.RepeatedCompositeFieldContainer[Sentence]
    def __init__(self, sentences: _Optional[_Iterable[_Union[Sentence, _Mapping]]] = ...) -> None: ...

class Sentence(_message.Message):
    __slots__ = ("text", "start", "end")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    START_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    text: str
    start: int
    end: int
    def __init__(self, text: _Optional[str] = ..., start: _Optional[int] = ..., end: _Optional[int] = ...) -> None: ...
