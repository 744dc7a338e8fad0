"""Print pip constraints that pin every direct dependency (the extras' too) of pyproject.toml
to its lower bound: `.ci/lowest` installs with them."""

import re
import tomllib
from pathlib import Path

BOUND = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*(?:>=|==)\s*([^,;\s]+)")

project = tomllib.loads((Path(__file__).resolve().parent.parent / "pyproject.toml").read_text())["project"]
extras = project["optional-dependencies"]
for requirement in [*project["dependencies"], *(r for extra in extras.values() for r in extra)]:
    if requirement.startswith(f"{project['name']}["):  # the test extra names the app extra
        continue
    match = BOUND.match(requirement)
    if match is None:
        raise SystemExit(f"pyproject.toml: {requirement!r} has no lower bound")
    print(f"{match.group(1)}=={match.group(2)}")
