"""Service configuration: flags over environment, failing fast with the variable's name."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.runtime import ConfigError, load_config


def test_defaults_bind_loopback() -> None:
    config = load_config("crawler", [], env={})
    assert (config.host, config.port, config.token) == ("127.0.0.1", 50051, None)
    assert config.workspace == Path("supil-work")


def test_flags_win_over_environment(tmp_path: Path) -> None:
    env = {"SUPIL_PORT": "6000", "SUPIL_WORKSPACE": "/env/ws", "SUPIL_HOST": "0.0.0.0"}
    config = load_config("cleaner", ["--port", "7000", "--workspace", str(tmp_path)], env=env)
    assert (config.port, config.workspace, config.host) == (7000, tmp_path, "0.0.0.0")


def test_service_specific_port_variable() -> None:
    assert load_config("trainer", [], env={"SUPIL_PORT": "6000", "SUPIL_TRAINER_PORT": "6100"}).port == 6100


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"SUPIL_PORT": "eighty"}, "SUPIL_PORT"),
        ({"SUPIL_GENERATOR_PORT": "70000"}, "SUPIL_GENERATOR_PORT"),
        ({"SUPIL_MAX_MESSAGE_MB": "0"}, "SUPIL_MAX_MESSAGE_MB"),
        ({"SUPIL_JOB_WORKERS": "-1"}, "SUPIL_JOB_WORKERS"),
        ({"SUPIL_GRACE_SECONDS": "soon"}, "SUPIL_GRACE_SECONDS"),
        ({"SUPIL_TOKEN": "short"}, "SUPIL_TOKEN"),
        ({"SUPIL_LOG_FORMAT": "xml"}, "SUPIL_LOG_FORMAT"),
    ],
)
def test_invalid_values_name_the_variable(env: dict[str, str], named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        load_config("generator", [], env=env)
