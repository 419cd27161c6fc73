"""Each service image installs only its extra: everything its code imports must come with that extra."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import pytest

from supil.local import SERVICE_NAMES

REPO = Path(__file__).resolve().parent.parent.parent
LOCAL = {"services", "supil"}


def _name(requirement: str) -> str:
    return re.split(r"[\s\[<>=!~;]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def _closure(requirements: list[str]) -> set[str]:
    """The distributions these requirements install, with their own (non-extra) requirements."""
    seen: set[str] = set()
    todo = [_name(r) for r in requirements if not r.startswith("supil[")]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        try:
            requires = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            continue
        todo.extend(_name(r) for r in requires if "extra ==" not in r and "extra==" not in r)
    return seen


def _module_file(module: str) -> Path | None:
    path = REPO.joinpath(*module.split("."))
    for candidate in (path.with_suffix(".py"), path / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _guarded(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    """An import inside `try: ... except ImportError` is optional by design."""
    while node in parents:
        node = parents[node]
        if isinstance(node, ast.Try) and any(
            isinstance(h.type, ast.Name) and h.type.id in ("ImportError", "ModuleNotFoundError")
            for h in node.handlers
        ):
            return True
    return False


def third_party_imports(service: str) -> dict[str, str]:
    """Top-level third-party module -> a file importing it, over the service's code and what it imports."""
    todo = [*(REPO / "services" / service).rglob("*.py"), *(REPO / "services" / "runtime").rglob("*.py")]
    seen: set[Path] = set()
    found: dict[str, str] = {}
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        tree = ast.parse(path.read_text(encoding="utf-8"))
        parents = {child: parent for parent in ast.walk(tree) for child in ast.iter_child_nodes(parent)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
            else:
                continue
            for module in modules:
                top = module.split(".")[0]
                if top in LOCAL:
                    if (file := _module_file(module)) is not None:
                        todo.append(file)
                elif (
                    top not in sys.stdlib_module_names and top != "__future__" and not _guarded(node, parents)
                ):
                    found.setdefault(top, str(path.relative_to(REPO)))
    return found


@pytest.mark.parametrize("service", SERVICE_NAMES)
def test_service_code_imports_only_what_its_image_installs(service: str) -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    installed = _closure([*project["dependencies"], *project["optional-dependencies"][service]])
    distributions = metadata.packages_distributions()
    missing = {}
    for module, where in third_party_imports(service).items():
        owners = {d.lower().replace("_", "-") for d in distributions.get(module, [module])}
        if not owners & installed:
            missing[module] = where
    assert not missing, (
        f"the {service} image installs `.[{service}]` only; add these to that extra in pyproject.toml "
        f"(module: first file importing it): {missing}"
    )


def test_the_check_sees_third_party_imports() -> None:
    imports = third_party_imports("crawler")
    assert "grpc" in imports and "zstandard" in imports  # through services.runtime
    assert "grpc_health" in imports
