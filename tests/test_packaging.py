"""Every library goreef's own code imports is a dependency pyproject.toml declares, with a
lower bound (`.ci/lowest` runs the suite on those bounds)."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("reviewers", "webapp", "workers")


def imported_modules() -> set[str]:
    """The top-level modules that goreef's packages import, other than the standard library's
    and their own."""
    names = set()
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Import):
                    names.update(alias.name.split(".")[0] for alias in node.names)
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names.add(node.module.split(".")[0])
    return names - sys.stdlib_module_names - set(PACKAGES) - {"__future__"}


def normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_every_imported_library_is_declared_with_a_lower_bound() -> None:
    declared = {}
    for requirement in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]:
        name = re.match(r"[A-Za-z0-9._-]+", requirement).group(0)
        declared[normalized(name)] = requirement
    distributions = packages_distributions()

    undeclared = {
        module: distributions.get(module)
        for module in imported_modules()
        if not any(normalized(d) in declared for d in distributions.get(module, []))
    }

    assert undeclared == {}
    assert [r for r in declared.values() if ">=" not in r] == []
