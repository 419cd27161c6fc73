"""The retriever's typed config fails fast, naming the variable."""

from __future__ import annotations

import pytest

from services.retriever.config import RetrieverConfig
from services.runtime import ConfigError


def test_defaults_to_embedded() -> None:
    config = RetrieverConfig.from_env({})
    assert config.backend == "embedded" and config.es_url is None and config.workers >= 1


@pytest.mark.parametrize(
    ("env", "name"),
    [
        ({"SUPIL_RETRIEVER_BACKEND": "solr"}, "SUPIL_RETRIEVER_BACKEND"),
        ({"SUPIL_RETRIEVER_BACKEND": "elasticsearch"}, "SUPIL_ES_URL"),
        ({"SUPIL_ES_URL": "localhost:9200"}, "SUPIL_ES_URL"),
        ({"SUPIL_RETRIEVER_WORKERS": "many"}, "SUPIL_RETRIEVER_WORKERS"),
        ({"SUPIL_ES_TIMEOUT_S": "soon"}, "SUPIL_ES_TIMEOUT_S"),
    ],
)
def test_bad_values_name_their_variable(env: dict[str, str], name: str) -> None:
    with pytest.raises(ConfigError, match=name):
        RetrieverConfig.from_env(env)


def test_elasticsearch_backend_with_url() -> None:
    config = RetrieverConfig.from_env(
        {"SUPIL_RETRIEVER_BACKEND": "elasticsearch", "SUPIL_ES_URL": "http://es.test:9200"}
    )
    assert config.backend == "elasticsearch" and config.es_url == "http://es.test:9200"
