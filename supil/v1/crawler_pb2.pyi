from supil.v1 import jobs_pb2 as _jobs_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SiteProfile(_message.Message):
    __slots__ = ("name", "builtin", "start_urls", "allowed_domains", "article_pattern", "follow_pattern", "selectors", "json_listings", "max_pages", "max_depth", "politeness", "allow_private", "min_text_chars", "min_hangul_ratio")
    NAME_FIELD_NUMBER: _ClassVar[int]
    BUILTIN_FIELD_NUMBER: _ClassVar[int]
    START_URLS_FIELD_NUMBER: _ClassVar[int]
    ALLOWED_DOMAINS_FIELD_NUMBER: _ClassVar[int]
    ARTICLE_PATTERN_FIELD_NUMBER: _ClassVar[int]
    FOLLOW_PATTERN_FIELD_NUMBER: _ClassVar[int]
    SELECTORS_FIELD_NUMBER: _ClassVar[int]
    JSON_LISTINGS_FIELD_NUMBER: _ClassVar[int]
    MAX_PAGES_FIELD_NUMBER: _ClassVar[int]
    MAX_DEPTH_FIELD_NUMBER: _ClassVar[int]
    POLITENESS_FIELD_NUMBER: _ClassVar[int]
    ALLOW_PRIVATE_FIELD_NUMBER: _ClassVar[int]
    MIN_TEXT_CHARS_FIELD_NUMBER: _ClassVar[int]
    MIN_HANGUL_RATIO_FIELD_NUMBER: _ClassVar[int]
    name: str
    builtin: str
    start_urls: _containers.RepeatedScalarFieldContainer[str]
    allowed_domains: _containers.RepeatedScalarFieldContainer[str]
    article_pattern: str
    follow_pattern: str
    selectors: Selectors
    json_listings: _containers.RepeatedCompositeFieldContainer[JsonListing]
    max_pages: int
    max_depth: int
    politeness: Politeness
    allow_private: bool
    min_text_chars: int
    min_hangul_ratio: float
    def __init__(self, name: _Optional[str] = ..., builtin: _Optional[str] = ..., start_urls: _Optional[_Iterable[str]] = ..., allowed_domains: _Optional[_Iterable[str]] = ..., article_pattern: _Optional[str] = ..., follow_pattern: _Optional[str] = ..., selectors: _Optional[_Union[Selectors, _Mapping]] = ..., json_listings: _Optional[_Iterable[_Union[JsonListing, _Mapping]]] = ..., max_pages: _Optional[int] = ..., max_depth: _Optional[int] = ..., politeness: _Optional[_Union[Politeness, _Mapping]] = ..., allow_private: _Optional[bool] = ..., min_text_chars: _Optional[int] = ..., min_hangul_ratio: _Optional[float] = ...) -> None: ...

class Selectors(_message.Message):
    __slots__ = ("title", "body", "author", "published", "tags")
    TITLE_FIELD_NUMBER: _ClassVar[int]
    BODY_FIELD_NUMBER: _ClassVar[int]
    AUTHOR_FIELD_NUMBER: _ClassVar[int]
    PUBLISHED_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    title: str
    body: str
    author: str
    published: str
    tags: str
    def __init__(self, title: _Optional[str] = ..., body: _Optional[str] = ..., author: _Optional[str] = ..., published: _Optional[str] = ..., tags: _Optional[str] = ...) -> None: ...

class JsonListing(_message.Message):
    __slots__ = ("url_template", "items_path", "url_field", "first_page", "max_pages")
    URL_TEMPLATE_FIELD_NUMBER: _ClassVar[int]
    ITEMS_PATH_FIELD_NUMBER: _ClassVar[int]
    URL_FIELD_FIELD_NUMBER: _ClassVar[int]
    FIRST_PAGE_FIELD_NUMBER: _ClassVar[int]
    MAX_PAGES_FIELD_NUMBER: _ClassVar[int]
    url_template: str
    items_path: str
    url_field: str
    first_page: int
    max_pages: int
    def __init__(self, url_template: _Optional[str] = ..., items_path: _Optional[str] = ..., url_field: _Optional[str] = ..., first_page: _Optional[int] = ..., max_pages: _Optional[int] = ...) -> None: ...

class Politeness(_message.Message):
    __slots__ = ("obey_robots_txt", "download_delay_seconds", "concurrent_requests_per_domain", "autothrottle", "user_agent", "download_timeout_seconds", "max_response_bytes", "retry_times")
    OBEY_ROBOTS_TXT_FIELD_NUMBER: _ClassVar[int]
    DOWNLOAD_DELAY_SECONDS_FIELD_NUMBER: _ClassVar[int]
    CONCURRENT_REQUESTS_PER_DOMAIN_FIELD_NUMBER: _ClassVar[int]
    AUTOTHROTTLE_FIELD_NUMBER: _ClassVar[int]
    USER_AGENT_FIELD_NUMBER: _ClassVar[int]
    DOWNLOAD_TIMEOUT_SECONDS_FIELD_NUMBER: _ClassVar[int]
    MAX_RESPONSE_BYTES_FIELD_NUMBER: _ClassVar[int]
    RETRY_TIMES_FIELD_NUMBER: _ClassVar[int]
    obey_robots_txt: bool
    download_delay_seconds: float
    concurrent_requests_per_domain: int
    autothrottle: bool
    user_agent: str
    download_timeout_seconds: float
    max_response_bytes: int
    retry_times: int
    def __init__(self, obey_robots_txt: _Optional[bool] = ..., download_delay_seconds: _Optional[float] = ..., concurrent_requests_per_domain: _Optional[int] = ..., autothrottle: _Optional[bool] = ..., user_agent: _Optional[str] = ..., download_timeout_seconds: _Optional[float] = ..., max_response_bytes: _Optional[int] = ..., retry_times: _Optional[int] = ...) -> None: ...

class CreateCrawlJobRequest(_message.Message):
    __slots__ = ("job_id", "sites", "output", "http_cache")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    SITES_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_FIELD_NUMBER: _ClassVar[int]
    HTTP_CACHE_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    sites: _containers.RepeatedCompositeFieldContainer[SiteProfile]
    output: str
    http_cache: bool
    def __init__(self, job_id: _Optional[str] = ..., sites: _Optional[_Iterable[_Union[SiteProfile, _Mapping]]] = ..., output: _Optional[str] = ..., http_cache: _Optional[bool] = ...) -> None: ...

class CreateCrawlJobResponse(_message.Message):
    __slots__ = ("job",)
    JOB_FIELD_NUMBER: _ClassVar[int]
    job: _jobs_pb2.Job
    def __init__(self, job: _Optional[_Union[_jobs_pb2.Job, _Mapping]] = ...) -> None: ...

class RefusedUrl(_message.Message):
    __slots__ = ("url", "reason")
    URL_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    url: str
    reason: str
    def __init__(self, url: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...
