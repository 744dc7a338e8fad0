"""The rule interface, in the spirit of go/analysis: a rule is a plain value.

A rule module defines `check(file)` and `RULE = Rule(...)`; its docstring is the rule's
documentation page (What it does / Why is this bad? / Example / Use instead / Fix safety)
and the first line of the docstring is its one-line summary. `check` yields `Report`s; the
engine turns them into findings (lines, severity from the configuration, fingerprint),
applies suppressions and keeps those the diff filter allows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from tree_sitter import Node

from .finding import Severity
from .gosource import GoFile

if TYPE_CHECKING:
    from .semantics.names import Binding


@dataclass(frozen=True)
class Fix:
    """Replacement text for exactly the lines `start_line..end_line` (a GitHub suggestion)."""

    start_line: int
    end_line: int
    text: str

    @classmethod
    def replace(cls, file: GoFile, node: Node, new_text: str, after: str = "") -> Fix:
        """Replace `node` by `new_text` inside its full lines; `after` is added as lines
        following them, indented like the first line (for `defer cancel()`)."""
        first, last = node.start_point[0], node.end_point[0]
        line_start = node.start_byte - node.start_point[1]
        line_end = file.source.find(b"\n", node.end_byte)
        line_end = len(file.source) if line_end < 0 else line_end
        prefix = file.source[line_start : node.start_byte].decode("utf-8", "replace")
        suffix = file.source[node.end_byte : line_end].decode("utf-8", "replace")
        crlf = suffix.endswith("\r")
        text = prefix + new_text + suffix.removesuffix("\r")
        if after:
            indent = prefix[: len(prefix) - len(prefix.lstrip())]
            text += "".join(f"\n{indent}{line}" for line in after.splitlines())
        if crlf:  # the file's line ending on every line, the added ones too
            text = "\n".join(line.removesuffix("\r") + "\r" for line in text.split("\n"))
        return cls(first + 1, last + 1, text)


@dataclass(frozen=True)
class Report:
    """What a rule found. `node` is the flagged call, statement or declaration: the finding's
    line is where it starts, and its text is what the fingerprint remembers."""

    node: Node
    message: str
    remediation: str
    fix: Fix | None = None
    severity: Severity | None = None  # None: the rule's default
    context: Binding | None = None  # the context the code is said to ignore, where one is named
    # The code's own names for the stand-ins of the remediation snippet (`{"ch": "errc",
    # "int": "error"}`): the fix a reader sees is written in the names of their code.
    names: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Rule:
    id: str
    name: str
    severity: Severity
    doc: str
    check: Callable[[GoFile], Iterable[Report]]
    # The rule can only fire in files importing one of these packages (empty: any file).
    imports: tuple[str, ...] = ()
    # Why the rule is off unless the configuration turns it on; None: on by default.
    off_by_default: str | None = None
    # Whether test code (`_test.go` files, `tests/` directories: GoFile.is_test) is reviewed:
    # a test's goroutines, sleeps and fresh contexts
    # live and die with the test process; what leaks real resources or memory safety does not.
    in_tests: bool = True

    @property
    def summary(self) -> str:
        return self.doc.strip().splitlines()[0] if self.doc.strip() else self.name

    def applies_to(self, file: GoFile) -> bool:
        if not self.in_tests and file.is_test:
            return False
        return not self.imports or any(file.imports_path(path) for path in self.imports)
