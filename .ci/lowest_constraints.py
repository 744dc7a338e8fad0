"""Print pip constraints that pin every direct dependency (the test extra's too) of
pyproject.toml to its lower bound: `.ci/lowest` installs with them."""

import re
import tomllib
from pathlib import Path

BOUND = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*(?:>=|==)\s*([^,;\s]+)")

project = tomllib.loads((Path(__file__).resolve().parent.parent / "pyproject.toml").read_text())["project"]
for requirement in [*project["dependencies"], *project["optional-dependencies"]["test"]]:
    match = BOUND.match(requirement)
    if match is None:
        raise SystemExit(f"pyproject.toml: {requirement!r} has no lower bound")
    print(f"{match.group(1)}=={match.group(2)}")
