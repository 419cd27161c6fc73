from supil.v1 import jobs_pb2 as _jobs_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class DecompoundMode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DECOMPOUND_MODE_UNSPECIFIED: _ClassVar[DecompoundMode]
    DECOMPOUND_MODE_NONE: _ClassVar[DecompoundMode]
    DECOMPOUND_MODE_DISCARD: _ClassVar[DecompoundMode]
    DECOMPOUND_MODE_MIXED: _ClassVar[DecompoundMode]

class Backend(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    BACKEND_UNSPECIFIED: _ClassVar[Backend]
    BACKEND_EMBEDDED: _ClassVar[Backend]
    BACKEND_ELASTICSEARCH: _ClassVar[Backend]
DECOMPOUND_MODE_UNSPECIFIED: DecompoundMode
DECOMPOUND_MODE_NONE: DecompoundMode
DECOMPOUND_MODE_DISCARD: DecompoundMode
DECOMPOUND_MODE_MIXED: DecompoundMode
BACKEND_UNSPECIFIED: Backend
BACKEND_EMBEDDED: Backend
BACKEND_ELASTICSEARCH: Backend

class AnalyzerOptions(_message.Message):
    __slots__ = ("decompound_mode", "stop_tags", "stop_tags_set", "user_dictionary")
    DECOMPOUND_MODE_FIELD_NUMBER: _ClassVar[int]
    STOP_TAGS_FIELD_NUMBER: _ClassVar[int]
    STOP_TAGS_SET_FIELD_NUMBER: _ClassVar[int]
    USER_DICTIONARY_FIELD_NUMBER: _ClassVar[int]
    decompound_mode: DecompoundMode
    stop_tags: _containers.RepeatedScalarFieldContainer[str]
    stop_tags_set: bool
    user_dictionary: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, decompound_mode: _Optional[_Union[DecompoundMode, str]] = ..., stop_tags: _Optional[_Iterable[str]] = ..., stop_tags_set: _Optional[bool] = ..., user_dictionary: _Optional[_Iterable[str]] = ...) -> None: ...

class AnalyzeRequest(_message.Message):
    __slots__ = ("text", "analyzer")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    ANALYZER_FIELD_NUMBER: _ClassVar[int]
    text: str
    analyzer: AnalyzerOptions
    def __init__(self, text: _Optional[str] = ..., analyzer: _Optional[_Union[AnalyzerOptions, _Mapping]] = ...) -> None: ...

class AnalyzeResponse(_message.Message):
    __slots__ = ("tokens",)
    TOKENS_FIELD_NUMBER: _ClassVar[int]
    tokens: _containers.RepeatedCompositeFieldContainer[Token]
    def __init__(self, tokens: _Optional[_Iterable[_Union[Token, _Mapping]]] = ...) -> None: ...

class Token(_message.Message):
    __slots__ = ("term", "pos", "start_offset", "end_offset", "position", "position_length", "pos_type")
    TERM_FIELD_NUMBER: _ClassVar[int]
    POS_FIELD_NUMBER: _ClassVar[int]
    START_OFFSET_FIELD_NUMBER: _ClassVar[int]
    END_OFFSET_FIELD_NUMBER: _ClassVar[int]
    POSITION_FIELD_NUMBER: _ClassVar[int]
    POSITION_LENGTH_FIELD_NUMBER: _ClassVar[int]
    POS_TYPE_FIELD_NUMBER: _ClassVar[int]
    term: str
    pos: str
    start_offset: int
    end_offset: int
    position: int
    position_length: int
    pos_type: str
    def __init__(self, term: _Optional[str] = ..., pos: _Optional[str] = ..., start_offset: _Optional[int] = ..., end_offset: _Optional[int] = ..., position: _Optional[int] = ..., position_length: _Optional[int] = ..., pos_type: _Optional[str] = ...) -> None: ...

class CreateIndexJobRequest(_message.Message):
    __slots__ = ("job_id", "corpus", "index", "analyzer", "backend", "k1", "b")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    CORPUS_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    ANALYZER_FIELD_NUMBER: _ClassVar[int]
    BACKEND_FIELD_NUMBER: _ClassVar[int]
    K1_FIELD_NUMBER: _ClassVar[int]
    B_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    corpus: str
    index: str
    analyzer: AnalyzerOptions
    backend: Backend
    k1: float
    b: float
    def __init__(self, job_id: _Optional[str] = ..., corpus: _Optional[str] = ..., index: _Optional[str] = ..., analyzer: _Optional[_Union[AnalyzerOptions, _Mapping]] = ..., backend: _Optional[_Union[Backend, str]] = ..., k1: _Optional[float] = ..., b: _Optional[float] = ...) -> None: ...

class CreateIndexJobResponse(_message.Message):
    __slots__ = ("job",)
    JOB_FIELD_NUMBER: _ClassVar[int]
    job: _jobs_pb2.Job
    def __init__(self, job: _Optional[_Union[_jobs_pb2.Job, _Mapping]] = ...) -> None: ...

class QueryOptions(_message.Message):
    __slots__ = ("theme", "must", "must_not", "rm3", "rm3_feedback_docs", "rm3_feedback_terms", "rm3_original_weight")
    THEME_FIELD_NUMBER: _ClassVar[int]
    MUST_FIELD_NUMBER: _ClassVar[int]
    MUST_NOT_FIELD_NUMBER: _ClassVar[int]
    RM3_FIELD_NUMBER: _ClassVar[int]
    RM3_FEEDBACK_DOCS_FIELD_NUMBER: _ClassVar[int]
    RM3_FEEDBACK_TERMS_FIELD_NUMBER: _ClassVar[int]
    RM3_ORIGINAL_WEIGHT_FIELD_NUMBER: _ClassVar[int]
    theme: str
    must: _containers.RepeatedScalarFieldContainer[str]
    must_not: _containers.RepeatedScalarFieldContainer[str]
    rm3: bool
    rm3_feedback_docs: int
    rm3_feedback_terms: int
    rm3_original_weight: float
    def __init__(self, theme: _Optional[str] = ..., must: _Optional[_Iterable[str]] = ..., must_not: _Optional[_Iterable[str]] = ..., rm3: _Optional[bool] = ..., rm3_feedback_docs: _Optional[int] = ..., rm3_feedback_terms: _Optional[int] = ..., rm3_original_weight: _Optional[float] = ...) -> None: ...

class SearchRequest(_message.Message):
    __slots__ = ("index", "query", "options", "k")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    QUERY_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    K_FIELD_NUMBER: _ClassVar[int]
    index: str
    query: str
    options: QueryOptions
    k: int
    def __init__(self, index: _Optional[str] = ..., query: _Optional[str] = ..., options: _Optional[_Union[QueryOptions, _Mapping]] = ..., k: _Optional[int] = ...) -> None: ...

class SearchResponse(_message.Message):
    __slots__ = ("hits", "total_hits")
    HITS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_HITS_FIELD_NUMBER: _ClassVar[int]
    hits: _containers.RepeatedCompositeFieldContainer[Hit]
    total_hits: int
    def __init__(self, hits: _Optional[_Iterable[_Union[Hit, _Mapping]]] = ..., total_hits: _Optional[int] = ...) -> None: ...

class Hit(_message.Message):
    __slots__ = ("id", "score", "title", "source", "url", "snippet")
    ID_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    URL_FIELD_NUMBER: _ClassVar[int]
    SNIPPET_FIELD_NUMBER: _ClassVar[int]
    id: str
    score: float
    title: str
    source: str
    url: str
    snippet: str
    def __init__(self, id: _Optional[str] = ..., score: _Optional[float] = ..., title: _Optional[str] = ..., source: _Optional[str] = ..., url: _Optional[str] = ..., snippet: _Optional[str] = ...) -> None: ...

class CreateExportJobRequest(_message.Message):
    __slots__ = ("job_id", "index", "query", "options", "k", "valid_fraction", "seed", "output_prefix")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    QUERY_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    K_FIELD_NUMBER: _ClassVar[int]
    VALID_FRACTION_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_PREFIX_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    index: str
    query: str
    options: QueryOptions
    k: int
    valid_fraction: float
    seed: int
    output_prefix: str
    def __init__(self, job_id: _Optional[str] = ..., index: _Optional[str] = ..., query: _Optional[str] = ..., options: _Optional[_Union[QueryOptions, _Mapping]] = ..., k: _Optional[int] = ..., valid_fraction: _Optional[float] = ..., seed: _Optional[int] = ..., output_prefix: _Optional[str] = ...) -> None: ...

class CreateExportJobResponse(_message.Message):
    __slots__ = ("job",)
    JOB_FIELD_NUMBER: _ClassVar[int]
    job: _jobs_pb2.Job
    def __init__(self, job: _Optional[_Union[_jobs_pb2.Job, _Mapping]] = ...) -> None: ...
