"""In-code suppressions: `//goreef:ignore GR101 reason` and `//nolint:goreef`.

A suppression comment on a line of its own covers the next line; a comment after code
covers its own line. `//goreef:ignore` names rule ids (comma or space separated) and should
give a reason; `//goreef:ignore` with no id, `//nolint:goreef` and a bare `//nolint` cover
every rule. `//nolint:LINTER` for a golangci-lint linter that checks the same trap as a
rule covers that rule too (`//nolint:bodyclose` covers GR111): the author already weighed
that warning and said so in the code.
"""

from __future__ import annotations

import re

from .gosource import GoFile, captures

_IGNORE = re.compile(r"^//\s*goreef:ignore\b(?P<rest>.*)$")
_NOLINT = re.compile(r"^//\s*nolint(?::(?P<linters>[\w,\-]+))?\b")
_RULE_ID = re.compile(r"\bGR\d{3}\b", re.IGNORECASE)
ALL = "*"

# golangci-lint linters that flag the same trap as a goreef rule, and those rules.
EQUIVALENT_LINTERS = {
    "bodyclose": {"GR111"},
    "containedctx": {"GR209"},
    "contextcheck": {"GR201", "GR207"},
    "noctx": {"GR206"},
    "sqlclosecheck": {"GR120"},
}


def _rules_of(comment: str) -> set[str] | None:
    ignore = _IGNORE.match(comment)
    if ignore:
        ids = {rule_id.upper() for rule_id in _RULE_ID.findall(ignore.group("rest"))}
        return ids or {ALL}
    nolint = _NOLINT.match(comment)
    if nolint:
        linters = nolint.group("linters")
        named = linters.split(",") if linters is not None else []
        if linters is None or "goreef" in named or "all" in named:
            return {ALL}
        rules = {rule_id for linter in named for rule_id in EQUIVALENT_LINTERS.get(linter, ())}
        return rules or None
    return None


def suppressed_lines(file: GoFile) -> dict[int, set[str]]:
    """Line number -> the rule ids suppressed there (`*` for all)."""
    suppressed: dict[int, set[str]] = {}
    if b"goreef" not in file.source and b"nolint" not in file.source:
        return suppressed
    for comment in captures("(comment) @comment", file.root).get("comment", []):
        rules = _rules_of(file.text(comment))
        if rules is None:
            continue
        line_start = file.source.rfind(b"\n", 0, comment.start_byte) + 1
        own_line = not file.source[line_start : comment.start_byte].strip()
        target = file.line(comment) + (1 if own_line else 0)
        suppressed.setdefault(target, set()).update(rules)
    return suppressed


def is_suppressed(suppressed: dict[int, set[str]], rule_id: str, line: int) -> bool:
    rules = suppressed.get(line, ())
    return ALL in rules or rule_id in rules
