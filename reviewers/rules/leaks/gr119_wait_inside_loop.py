"""GR119 wait-inside-loop: `wg.Wait()` in the body of the loop that starts the goroutines it waits for.

## What it does
Flags `wg.Wait()` (or an errgroup's `g.Wait()`) written directly in the body of the
innermost loop that starts a goroutine counted by that group — `wg.Add` before the `go`,
`wg.Done` inside it, the group handed to it, or `g.Go(...)` — after that start in the same
iteration, when that iteration starts exactly one goroutine (none in a nested loop) and
waits for it straight away. The group is a place of the
semantic model (a variable or a field, whatever it is called where it is used), of type
`sync.WaitGroup` or `errgroup.Group`.

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
starts them are deliberate batching, and are not flagged. Nor is a loop over no items, a
bare `for {` or `for retry() {`: it runs one attempt at a time on purpose (the goroutine is
often there so that the attempt can end with `runtime.Goexit` or `t.FailNow`).
"""

from __future__ import annotations

from collections.abc import Iterator

from tree_sitter import Node

from ...finding import Severity
from ...gosource import GoFile
from ...rule import Report, Rule
from ...semantics import package_of
from ...semantics.package import Declared, Package
from ...semantics.places import Place, holds, place_of
from ...semantics.types import WAITGROUP
from ...syntax import enclosing_function, enclosing_loops, functions_in_order, is_inside

REMEDIATION = """\
for _, item := range items {
    wg.Add(1)
    go func() {
        defer wg.Done()
        process(item)
    }()
}
wg.Wait() // once, after every goroutine has started"""

GROUPS = (WAITGROUP, "golang.org/x/sync/errgroup.Group")


def _starts(
    package: Package, file: GoFile, function: Declared, body: Node, group: Place, before: int
) -> tuple[list[Node], bool]:
    """The goroutine starts of one iteration before `before` (`go` statements and
    `group.Go(...)` calls) outside nested loops, and whether a nested loop starts more."""
    gos = [g for g in file.nodes("go_statement", within=body) if _enclosing_function(file, g) == function.node.id]
    calls = [op.node for op in package.facts.operations(function).of("Go") if op.place == group]
    loop = file.parent(body)
    started = [node for node in gos + [c for c in calls if is_inside(c, body)] if node.start_byte < before]
    direct = [node for node in started if enclosing_loops(node, file=file)[:1] == [loop]]
    return direct, len(direct) < len(started)


def _works_meanwhile(statements: Node, start: Node, wait: Node) -> bool:
    """Whether the iteration runs statements between starting the goroutine and waiting."""
    between = [
        s
        for s in statements.named_children
        if s.type != "comment" and s.start_byte > start.end_byte and s.end_byte <= wait.start_byte
    ]
    return bool(between)


def _enclosing_function(file: GoFile, node: Node) -> int | None:
    function = enclosing_function(node, file)
    return function.id if function is not None else None


def _counted(package: Package, function: Declared, body: Node, start: Node, group: Place) -> bool:
    """Whether the start belongs to `group`: `group.Go`, `group.Add` before it in the
    iteration, `group.Done` in the goroutine, or the group handed to it (`go worker(&wg)`)."""
    if start.type == "call_expression":
        return True
    facts, file = package.facts, function.file
    if any(body.start_byte <= add.start_byte < start.start_byte for add in facts.performing(function, "Add", group, 0)):
        return True
    call = start.named_children[0] if start.named_children else None
    if call is None or call.type != "call_expression":
        return False
    arguments = call.child_by_field_name("arguments")
    handed = [place_of(package, file, a) for a in (arguments.named_children if arguments is not None else [])]
    if group in handed:
        return True
    started = facts.callee(file, call)
    inner = facts.place_in(started, group, handed) if started is not None else None
    return started is not None and inner is not None and facts.performs(started, "Done", inner) is not None


def check(file: GoFile) -> Iterator[Report]:
    if b"Wait" not in file.source:
        return  # most files: no need to look at their calls
    package = package_of(file)
    functions = functions_in_order(file)
    for node in functions:
        if file.source.find(b"Wait", node.start_byte, node.end_byte) < 0:
            continue
        function = Declared(file, node)
        for wait in package.facts.operations(function).of("Wait"):
            report = _judge(package, function, wait.node, wait.place)
            if report is not None:
                yield report


def _judge(package: Package, function: Declared, call: Node, group: Place) -> Report | None:
    file = function.file
    arguments = call.child_by_field_name("arguments")
    statement = file.parent(call)
    if arguments is None or arguments.named_children or statement is None or statement.type != "expression_statement":
        return None
    if not holds(package, group, *GROUPS):
        return None
    loops = enclosing_loops(statement, file=file)
    body = loops[0].child_by_field_name("body") if loops else None
    statements = file.parent(statement)
    if body is None or statements is None or file.parent(statements) != body:
        return None  # under a condition, or in a nested block: deliberate batching
    if not any(child.type in ("range_clause", "for_clause") for child in loops[0].named_children):
        return None  # `for attempt()`, `for {`: no items to fan out, one run at a time is the design
    starts, batched = _starts(package, file, function, body, group, statement.start_byte)
    if batched or len(starts) != 1 or not _counted(package, function, body, starts[0], group):
        return None  # a nested loop starting more makes each iteration a batch
    if _works_meanwhile(statements, starts[0], statement):
        return None  # the iteration works (feeds it, often) while the goroutine runs
    selector = call.child_by_field_name("function")
    operand = selector.child_by_field_name("operand") if selector is not None else None
    shown = file.text(operand) if operand is not None else group.label
    return Report(
        call,
        f"`{shown}.Wait()` inside the loop waits, on the first iteration, for the goroutine that iteration just "
        f"started (line {file.line(starts[0])}): the loop runs one item at a time. Move `{shown}.Wait()` after the loop.",
        REMEDIATION,
    )


RULE = Rule(
    id="GR119",
    name="wait-inside-loop",
    severity=Severity.ERROR,
    doc=__doc__,
    check=check,
    imports=("sync", "golang.org/x/sync/errgroup"),
    in_tests=False,
)
