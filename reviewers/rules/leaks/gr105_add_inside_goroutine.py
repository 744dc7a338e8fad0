"""GR105 add-inside-goroutine: `wg.Add` is called inside the goroutine that `wg.Wait` waits for.

## What it does
Flags `wg.Add(n)` in the body of a goroutine when the function that starts the goroutine
later calls `wg.Wait()` on the same WaitGroup. The goroutine may be a literal, a closure
started through a variable, or a function of the same file handed the WaitGroup
(`go worker(&wg)`). A goroutine that calls `Add` for a child goroutine it starts right after
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

from ...finding import Severity
from ...goroutines import body_nodes, goroutines, scope_root
from ...gosource import GoFile
from ...rule import Report, Rule
from ...syntax import scope_nodes
from ._goroutines import call_receiver, method_calls

REMEDIATION = """\
wg.Add(1) // before go: Wait cannot miss it
go func() {
    defer wg.Done()
    process(item)
}()
wg.Wait()"""


def check(file: GoFile) -> Iterator[Report]:
    for goroutine in goroutines(file):
        if goroutine.body is None:
            continue
        nodes = list(body_nodes(goroutine))
        for add in (n for n in nodes if n.type == "call_expression"):
            inner = call_receiver(file, add)
            outer = goroutine.outer(inner) if inner and add in method_calls(file, [add], inner, "Add") else None
            if outer is None or any(n.type == "go_statement" and n.start_byte > add.end_byte for n in nodes):
                continue  # not an Add, or an Add for a child goroutine started right after
            starter = scope_root(file, goroutine.statement)
            waits = [
                w
                for w in method_calls(file, scope_nodes(starter), outer, "Wait")
                if w.start_byte > goroutine.statement.end_byte
            ]
            if not waits:
                continue
            yield Report(
                node=add,
                message=(
                    f"`{file.text(add)}` runs inside the goroutine that `{outer}.Wait()` (line {file.line(waits[0])}) "
                    f"waits for: Wait can run first and return while the work goes on. Call `{outer}.Add` before `go`."
                ),
                remediation=REMEDIATION,
            )


RULE = Rule(
    id="GR105",
    name="add-inside-goroutine",
    severity=Severity.ERROR,
    doc=__doc__,
    check=check,
    imports=("sync",),
)
