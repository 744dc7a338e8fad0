"""What GR111 (response bodies) and GR120 (rows and statements) say and suggest: the way
out that leaves a resource open, in words, and the `defer x.Close()` suggestion. Whether a
resource is released, and where not, is the semantic model's (`semantics/ownership.py`)."""

from __future__ import annotations

from tree_sitter import Node

from ...gosource import GoFile
from ...rule import Fix
from ...semantics.cfg import Escape
from ...syntax import enclosing_loops


def defer_close_fix(file: GoFile, closer: str, error: str | None, statement: Node) -> Fix | None:
    """`defer {closer}.Close()` right after the error check that follows the statement:
    offered when that check is `if err != nil { ...; return }` and no loop is around (a
    defer in a loop piles up: GR115)."""
    if (
        error is None
        or statement.parent is None
        or statement.parent.type != "statement_list"
        or enclosing_loops(statement, file=file)
    ):
        return None
    siblings = statement.parent.named_children
    position = siblings.index(statement)
    check = siblings[position + 1] if position + 1 < len(siblings) else None
    if check is None or check.type != "if_statement" or check.child_by_field_name("alternative") is not None:
        return None
    condition = check.child_by_field_name("condition")
    if (
        check.child_by_field_name("initializer") is not None
        or condition is None
        or file.text(condition) != f"{error} != nil"
    ):
        return None
    consequence = check.child_by_field_name("consequence")
    body = next((c for c in consequence.named_children if c.type == "statement_list"), None) if consequence else None
    if body is None or not body.named_children or body.named_children[-1].type != "return_statement":
        return None
    first, last = statement.start_point[0], check.end_point[0]
    lines = file.source.split(b"\n")[first : last + 1]
    indent = lines[0][: len(lines[0]) - len(lines[0].lstrip())].decode()
    text = b"\n".join(lines).decode("utf-8", "replace") + f"\n{indent}defer {closer}.Close()"
    return Fix(first + 1, last + 1, text)


def describe_leak(file: GoFile, escape: Escape) -> str:
    """How a message names the way out that leaves the resource open."""
    if escape.kind in ("return", "continue"):
        return f"the `{escape.kind}` on line {file.line(escape.node)}"
    if escape.kind == "loop":
        return f"the next iteration of the loop on line {file.line(escape.node)}"
    if escape.kind == "overwrite":
        return f"line {file.line(escape.node)}, which assigns it again"
    return f"the end of the function (line {file.end_line(escape.node)})"
