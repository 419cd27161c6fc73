"""The retriever's own settings (backend choice, Elasticsearch address), read once from the environment."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from services.runtime import ConfigError, env_float, env_int

BACKENDS = ("embedded", "elasticsearch")


@dataclass(frozen=True)
class RetrieverConfig:
    """Which backend new indexes use by default, how to reach Elasticsearch, how many analyzers run."""

    backend: str = "embedded"
    es_url: str | None = None
    es_api_key: str | None = field(default=None, repr=False)
    es_username: str = "elastic"
    es_password: str | None = field(default=None, repr=False)
    es_index_prefix: str = "supil-"
    es_timeout_s: float = 60.0
    workers: int = 1

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise ConfigError(
                f"SUPIL_RETRIEVER_BACKEND: {self.backend!r} is not one of {', '.join(BACKENDS)}"
            )
        if self.backend == "elasticsearch" and not self.es_url:
            raise ConfigError(
                "SUPIL_ES_URL is not set but SUPIL_RETRIEVER_BACKEND=elasticsearch needs it "
                "(e.g. http://localhost:9200)"
            )
        if self.es_url and not self.es_url.startswith(("http://", "https://")):
            raise ConfigError(f"SUPIL_ES_URL: {redact(self.es_url)!r} is not an http(s) URL")
        if self.es_password and self.es_api_key:
            raise ConfigError("SUPIL_ES_PASSWORD and SUPIL_ES_API_KEY are both set; give one of them")
        if not 1 <= self.workers <= 256:
            raise ConfigError(f"SUPIL_RETRIEVER_WORKERS: {self.workers} is not in 1..256")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> RetrieverConfig:
        """Read SUPIL_RETRIEVER_BACKEND, SUPIL_ES_URL, SUPIL_ES_API_KEY or SUPIL_ES_USERNAME +
        SUPIL_ES_PASSWORD, SUPIL_ES_INDEX_PREFIX, SUPIL_ES_TIMEOUT_S and SUPIL_RETRIEVER_WORKERS;
        a bad value raises ConfigError naming it."""
        env = os.environ if env is None else env
        workers = env_int(env, "SUPIL_RETRIEVER_WORKERS", min(2, os.cpu_count() or 1), 1, 256)
        timeout = env_float(env, "SUPIL_ES_TIMEOUT_S", 60.0, 0.0, 86_400.0)
        return cls(
            backend=env.get("SUPIL_RETRIEVER_BACKEND", "embedded").strip().lower() or "embedded",
            es_url=env.get("SUPIL_ES_URL") or None,
            es_api_key=env.get("SUPIL_ES_API_KEY") or None,
            es_username=env.get("SUPIL_ES_USERNAME") or "elastic",
            es_password=env.get("SUPIL_ES_PASSWORD") or None,
            es_index_prefix=env.get("SUPIL_ES_INDEX_PREFIX", "supil-"),
            es_timeout_s=timeout,
            workers=workers,
        )

    def elasticsearch_client(self):
        """A client for SUPIL_ES_URL that retries 429/502/503/504 itself too."""
        from elasticsearch import Elasticsearch

        if not self.es_url:
            raise ConfigError("SUPIL_ES_URL is not set; the Elasticsearch backend needs it")
        # Credentials travel apart from the URL, so any password works and the URL can be logged.
        basic_auth = (self.es_username, self.es_password) if self.es_password else None
        return Elasticsearch(
            self.es_url,
            api_key=self.es_api_key,
            basic_auth=basic_auth,
            request_timeout=self.es_timeout_s,
            retry_on_status=(429, 502, 503, 504),
            max_retries=5,
            retry_on_timeout=True,
        )


def redact(url: str) -> str:
    """url with any password in it replaced by ***, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return parts._replace(netloc=netloc).geturl()
