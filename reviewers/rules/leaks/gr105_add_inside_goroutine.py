"""GR105 add-inside-goroutine: `wg.Add` is called inside the goroutine that `wg.Wait` waits for.

## What it does
Flags `wg.Add(n)` in the body of a goroutine when the function that starts the goroutine
later calls `wg.Wait()` on the same WaitGroup. The goroutine may be a literal, a closure
started through a variable, a method on the same value, or a function of the same file
handed the WaitGroup (`go worker(&wg)`): the WaitGroup is the same place (semantics/places.py)
on both sides. A goroutine that calls `Add` for a child goroutine it starts right after
(a recursive walk) is not flagged: that `Add` happens before its own `Done`.

## Why is this bad?
Nothing orders the goroutine's `Add` before the starter's `Wait`. When the scheduler runs
`Wait` first the counter is still zero: `Wait` returns at once and the caller goes on while
the work is still running — results are read half-written, and the goroutine may outlive
everything it uses. (The opposite order can panic with a negative counter.)

## Example
```go
var wg sync.WaitGroup
for _, item := range items {
    go func() {
        wg.Add(1) // too late: Wait may already have returned
        defer wg.Done()
        process(item)
    }()
}
wg.Wait()
```

## Use instead
```go
var wg sync.WaitGroup
for _, item := range items {
    wg.Add(1) // before go: Wait sees it
    go func() {
        defer wg.Done()
        process(item)
    }()
}
wg.Wait()
```

## Fix safety
No suggestion: moving the call changes which statements it runs after.
"""

from __future__ import annotations

from collections.abc import Iterator

from tree_sitter import Node

from ...finding import Severity
from ...gosource import GoFile
from ...rule import Report, Rule
from ...semantics import package_of
from ...semantics.package import Declared
from ...semantics.places import holds, place_of
from ...semantics.types import WAITGROUP
from ...syntax import call_method_name, enclosing_function, go_statements

REMEDIATION = """\
wg.Add(1) // before go: Wait cannot miss it
go func() {
    defer wg.Done()
    process(item)
}()
wg.Wait()"""


def check(file: GoFile) -> Iterator[Report]:
    if b".Add(" not in file.source:
        return
    package = package_of(file)
    facts = package.facts
    for go in file.nodes("go_statement"):
        function = enclosing_function(go, file)
        call = go.named_children[0] if go.named_children else None
        started = facts.callee(file, call) if call is not None and call.type == "call_expression" else None
        if function is None or call is None or started is None or started.file is not file:
            continue
        arguments = call.child_by_field_name("arguments")
        handed = [place_of(package, file, a) for a in (arguments.named_children if arguments is not None else [])]
        children = go_statements(started.node, started.file)
        for add in facts.operations(started).of("Add"):
            if any(child.start_byte > add.node.end_byte for child in children):
                continue  # an Add for a child goroutine started right after
            outer = facts.place_outside(started, add.place, handed)
            if outer is None or not holds(package, outer, WAITGROUP):
                continue
            waits = [w for w in facts.performing(Declared(file, function), "Wait", outer) if w.start_byte > go.end_byte]
            if waits:
                yield _report(file, add.node, _spelled(file, waits[0]) or outer.label, waits[0])


def _spelled(file: GoFile, wait: Node) -> str | None:
    """`self.group` for `self.group.Wait()`: how the starter names the group."""
    function = wait.child_by_field_name("function")
    operand = function.child_by_field_name("operand") if function is not None else None
    return file.text(operand) if operand is not None and call_method_name(file, wait) == "Wait" else None


def _report(file: GoFile, add: Node, group: str, wait: Node) -> Report:
    return Report(
        node=add,
        message=(
            f"`{file.text(add)}` runs inside the goroutine that `{group}.Wait()` (line {file.line(wait)}) "
            f"waits for: Wait can run first and return while the work goes on. Call `{group}.Add` before `go`."
        ),
        remediation=REMEDIATION,
        names={"wg": group},
    )


RULE = Rule(
    id="GR105",
    name="add-inside-goroutine",
    severity=Severity.ERROR,
    doc=__doc__,
    check=check,
    imports=("sync",),
    in_tests=False,
)
