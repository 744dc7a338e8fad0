"""GR119 wait-inside-loop: `wg.Wait()` in the body of the loop that starts the goroutines it waits for.

## What it does
Flags `wg.Wait()` (or an errgroup's `g.Wait()`) written directly in the body of the
innermost loop that starts a goroutine counted by that group — `wg.Add` before the `go`,
`wg.Done` or `wg` inside it, or `g.Go(...)` — after that start in the same iteration,
when that iteration starts exactly one goroutine.

## Why is this bad?
The first iteration starts one goroutine and then waits for it: the loop runs the work
one item at a time, and the goroutines buy nothing but overhead. When the loop is also
what feeds those goroutines (a channel they read, a semaphore they release), the wait can
block for good. The intent was almost always to wait once, after the loop.

## Example
```go
for _, item := range items {
    wg.Add(1)
    go func() {
        defer wg.Done()
        process(item)
    }()
    wg.Wait()
}
```

## Use instead
```go
for _, item := range items {
    wg.Add(1)
    go func() {
        defer wg.Done()
        process(item)
    }()
}
wg.Wait()
```

## Fix safety
No suggestion: moving the statement changes what the code waits for. A `Wait` under a
condition (`if i%batch == 0 { wg.Wait() }`), a loop that starts several goroutines per
iteration before waiting (a batch), and a `Wait` in an outer loop around the loop that
starts them are deliberate batching, and are not flagged.
"""

from __future__ import annotations

from collections.abc import Iterator

from tree_sitter import Node

from ...finding import Severity
from ...gosource import GoFile
from ...rule import Report, Rule
from ...syntax import call_method_name, calls_in, enclosing_loops

REMEDIATION = """\
for _, item := range items {
    wg.Add(1)
    go func() {
        defer wg.Done()
        process(item)
    }()
}
wg.Wait() // once, after every goroutine has started"""


def _starts(file: GoFile, body: Node, group: str, before: int) -> list[Node]:
    """The goroutine starts of one iteration before `before`, outside nested loops: `go`
    statements and `group.Go(...)` calls."""
    starts = []
    for node in file.nodes("go_statement", within=body) + [
        call for call in calls_in(file, body) if file.text(call).startswith(f"{group}.Go(")
    ]:
        if (
            node.start_byte < before
            and enclosing_loops(node, file=file)
            and enclosing_loops(node, file=file)[0] == body.parent
        ):
            starts.append(node)
    return starts


def _counted(file: GoFile, body: Node, start: Node, group: str) -> bool:
    """Whether the start belongs to `group`: `group.Go`, `group.Add` before it, `group.Done`
    in the goroutine, or the group handed to it (`go worker(&wg)`)."""
    if start.type == "call_expression":
        return True
    before = file.source[body.start_byte : start.start_byte].decode("utf-8", "replace")
    call = start.named_children[0] if start.named_children else None
    arguments = call.child_by_field_name("arguments") if call is not None and call.type == "call_expression" else None
    handed = arguments is not None and any(file.text(a).lstrip("&") == group for a in arguments.named_children)
    return f"{group}.Add(" in before or f"{group}.Done()" in file.text(start) or handed


def _wait_statements(file: GoFile) -> Iterator[tuple[Node, Node]]:
    """(statement, call) for every statement `x.Wait(...)`."""
    if b"Wait" not in file.source:
        return  # most files: no need to look at their calls
    for call in calls_in(file, file.root):
        function = call.child_by_field_name("function")
        if function is None or function.type != "selector_expression" or call_method_name(file, call) != "Wait":
            continue
        statement = call.parent
        if statement is not None and statement.type == "expression_statement":
            yield statement, call


def check(file: GoFile) -> Iterator[Report]:
    for statement, call in _wait_statements(file):
        if call.child_by_field_name("arguments").named_children:
            continue
        group = file.text(call.child_by_field_name("function").child_by_field_name("operand"))
        loops = enclosing_loops(statement, file=file)
        if not loops:
            continue
        body = loops[0].child_by_field_name("body")
        statements = statement.parent
        if body is None or statements is None or statements.parent != body:
            continue  # under a condition, or in a nested block: deliberate batching
        starts = _starts(file, body, group, statement.start_byte)
        if len(starts) != 1 or not _counted(file, body, starts[0], group):
            continue
        yield Report(
            call,
            f"`{group}.Wait()` inside the loop waits, on the first iteration, for the goroutine that iteration just "
            f"started (line {file.line(starts[0])}): the loop runs one item at a time. Move `{group}.Wait()` after the loop.",
            REMEDIATION,
        )


RULE = Rule(
    id="GR119",
    name="wait-inside-loop",
    severity=Severity.ERROR,
    doc=__doc__,
    check=check,
    imports=("sync", "golang.org/x/sync/errgroup"),
)
