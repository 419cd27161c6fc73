"""The retriever's typed config fails fast, naming the variable."""

from __future__ import annotations

import base64
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

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


def test_credentials_travel_apart_from_the_url() -> None:
    # A real HTTP server standing in for Elasticsearch's root endpoint records what the client sends.
    seen: list[str | None] = []

    class Root(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(self.headers.get("Authorization"))
            body = json.dumps({"version": {"number": "8.15.0"}, "tagline": "You Know, for Search"}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("X-Elastic-Product", "Elasticsearch")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Root)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        config = RetrieverConfig.from_env({"SUPIL_ES_URL": url, "SUPIL_ES_PASSWORD": "p@ss:w/rd#1"})
        assert config.elasticsearch_client().info()["tagline"] == "You Know, for Search"
    finally:
        server.shutdown()
    assert seen == ["Basic " + base64.b64encode(b"elastic:p@ss:w/rd#1").decode()]
    assert "p@ss" not in repr(config)


def test_a_password_in_a_bad_url_is_not_repeated() -> None:
    with pytest.raises(ConfigError, match=r"SUPIL_ES_URL: 'es.test://elastic:\*\*\*@x'") as info:
        RetrieverConfig.from_env({"SUPIL_ES_URL": "es.test://elastic:secret@x"})
    assert "secret" not in str(info.value)


def test_password_and_api_key_together_are_refused() -> None:
    with pytest.raises(ConfigError, match="SUPIL_ES_PASSWORD and SUPIL_ES_API_KEY"):
        RetrieverConfig.from_env(
            {"SUPIL_ES_URL": "http://es.test:9200", "SUPIL_ES_PASSWORD": "a", "SUPIL_ES_API_KEY": "b"}
        )
