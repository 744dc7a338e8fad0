"""GR106 missing-done: a goroutine started after `wg.Add` never calls `wg.Done()`.

## What it does
Flags a `go` statement that follows `wg.Add(n)` (in the same block, or before the loop that
starts it) when the goroutine's body never calls `wg.Done()` on that WaitGroup. The body may
be a literal, a closure started through a variable or a function of the same file handed the
WaitGroup (`go worker(&wg)`). A warning when `Done` is called but not deferred and some path
skips it: an early `return`, or a `Done` inside a branch.

## Why is this bad?
Each `Add` must be matched by a `Done`, or the counter never reaches zero: `wg.Wait()` blocks
forever, and with it the goroutine that waits — typically a request handler or a shutdown
path — and everything it holds. A `Done` skipped by an early return does the same, only
sometimes.

## Example
```go
wg.Add(1)
go func() {
    if err := step(); err != nil {
        return // Done is skipped: Wait blocks forever
    }
    wg.Done()
}()
wg.Wait()
```

## Use instead
```go
wg.Add(1)
go func() {
    defer wg.Done() // first statement: every path calls it, panics included
    if err := step(); err != nil {
        return
    }
}()
wg.Wait()
```

## Fix safety
No suggestion. When the goroutine hands the WaitGroup to a function the file does not show,
or runs a function of another file, the rule stays silent: the `Done` may be there.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from tree_sitter import Node

from ...finding import Severity
from ...goroutines import Goroutine, body_nodes, goroutines
from ...gosource import GoFile
from ...rule import Report, Rule
from ...syntax import ancestors, enclosing_function
from ._goroutines import call_receiver, is_local, method_calls, preceding_add

REMEDIATION = """\
wg.Add(1)
go func() {
    defer wg.Done() // first: every path, panics included, calls it
    work()
}()
wg.Wait()"""


def _handed_on(file: GoFile, nodes: list[Node], inner: str) -> bool:
    """The body uses the WaitGroup other than by `Add`/`Done`/`Wait` on it: passed on, stored."""
    for node in nodes:
        if node.type not in ("identifier", "selector_expression") or file.text(node) != inner:
            continue
        parent = node.parent
        if (
            parent is not None
            and parent.type == "selector_expression"
            and file.text(parent.child_by_field_name("field")) in ("Add", "Done", "Wait")
        ):
            continue
        if (
            parent is not None
            and parent.type == "selector_expression"
            and parent.child_by_field_name("operand") == node
        ):
            continue  # s.wg seen through s: another field
        return True
    return False


def _statement_of(call: Node) -> Node | None:
    parent = call.parent
    return parent if parent is not None and parent.type == "expression_statement" else None


def _covered(done_statements: list[Node], point: Node, body: Node) -> bool:
    """A `Done` statement runs before `point` on its path: an earlier sibling of `point` or of
    a statement around it, within the body."""
    for ancestor in [point, *ancestors(point)]:
        if ancestor == body:
            return False
        if any(s.parent == ancestor.parent and s.start_byte < ancestor.start_byte for s in done_statements):
            return True
    return False


def _skipping_path(file: GoFile, goroutine: Goroutine, nodes: list[Node], dones: list[Node]) -> str | None:
    """A path of the body that does not call Done, or None when every path does."""
    if any(a.type == "defer_statement" for d in dones for a in ancestors(d)):
        return None
    body = goroutine.body.child_by_field_name("body")
    statements = [s for s in map(_statement_of, dones) if s is not None]
    for node in nodes:
        if (
            node.type == "return_statement"
            and enclosing_function(node) == goroutine.body
            and not _covered(statements, node, body)
        ):
            return f"the `return` at line {file.line(node)}"
    top = next((c for c in body.named_children if c.type == "statement_list"), None)
    if not any(s.parent == top for s in statements):
        branch = next((a for a in ancestors(dones[0]) if a.parent == top), dones[0])
        return f"the path around the `{branch.type.split('_')[0]}` at line {file.line(branch)}"
    return None


def _is_waitgroup(file: GoFile, name: str) -> bool:
    last = re.escape(name.rsplit(".", 1)[-1])
    return re.search(rf"\b{last}\.Wait\(\)".encode(), file.source) is not None


def check(file: GoFile) -> Iterator[Report]:
    for goroutine in goroutines(file):
        add = preceding_add(file, goroutine.statement) if goroutine.body is not None else None
        outer = call_receiver(file, add) if add is not None else None
        if outer is None or not _is_waitgroup(file, outer):
            continue
        inner = goroutine.inner(outer)
        nodes = list(body_nodes(goroutine))
        if inner is None:
            if goroutine.is_closure or "." in outer or not is_local(file, outer, goroutine.statement):
                continue  # shadowed, or reachable another way
            dones = []
        elif _handed_on(file, nodes, inner):
            continue
        else:
            dones = method_calls(file, nodes, inner, "Done")
        if not dones:
            yield Report(
                node=goroutine.statement,
                message=(
                    f"This goroutine is counted by `{file.text(add)}` (line {file.line(add)}) but never calls "
                    f"`{outer}.Done()`: `{outer}.Wait()` blocks forever. Start it with `defer {inner or outer}.Done()`."
                ),
                remediation=REMEDIATION,
            )
            continue
        skipping = _skipping_path(file, goroutine, nodes, dones)
        if skipping is not None:
            yield Report(
                node=goroutine.statement,
                message=(
                    f"This goroutine calls `{inner}.Done()` (line {file.line(dones[0])}) on some paths only: "
                    f"{skipping} skips it and `{outer}.Wait()` blocks forever. Use `defer {inner}.Done()` first."
                ),
                remediation=REMEDIATION,
                severity=Severity.WARNING,
            )


RULE = Rule(
    id="GR106",
    name="missing-done",
    severity=Severity.ERROR,
    doc=__doc__,
    check=check,
    imports=("sync",),
)
