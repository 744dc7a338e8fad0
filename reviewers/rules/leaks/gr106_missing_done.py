"""GR106 missing-done: a goroutine started after `wg.Add` never calls `wg.Done()`.

## What it does
Flags a `go` statement that follows `wg.Add(n)` (in the same block, or before the loop that
starts it) when the goroutine's body never calls `wg.Done()` on that WaitGroup. The body may
be a literal, a closure started through a variable, a function of the package handed the
WaitGroup (`go worker(&wg)`) or a method of the package's type whose WaitGroup field it is
(`go s.loop()` for `s.wg`). `Done` counts wherever the goroutine reaches it: directly, in a
deferred closure, or in a function or method of the package it calls. A warning when `Done`
is called on some paths only: an early `return`, or a `Done` inside a branch.

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
No suggestion. When the goroutine hands the WaitGroup to a function outside the package,
stores it, runs a function the package does not show, or is itself the one that waits on
it, the rule stays silent: the `Done` may be there. Nor is a goroutine reported whose
`Done` the starting function calls itself, or in a goroutine it starts that no `Add`
counts: a collector that takes each worker's result and calls `Done` once for it. A
literal's parameter named like the WaitGroup (`go func(name string, wg *sync.WaitGroup)
{...}(name, &wg)`) is the WaitGroup it is handed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from tree_sitter import Node

from ...finding import Severity
from ...gosource import GoFile
from ...rule import Report, Rule
from ...semantics import Package, package_of
from ...semantics.package import Declared
from ...semantics.places import LOCAL, Place, place_of
from ...syntax import ancestors, call_method_name, enclosing_function
from ._goroutines import preceding_add

REMEDIATION = """\
wg.Add(1)
go func() {
    defer wg.Done() // first: every path, panics included, calls it
    work()
}()
wg.Wait()"""


def _receiver(call: Node) -> Node | None:
    function = call.child_by_field_name("function")
    return (
        function.child_by_field_name("operand")
        if function is not None and function.type == "selector_expression"
        else None
    )


def _is_waitgroup(package: Package, file: GoFile, expression: Node) -> bool:
    declared = package.type_of(file, expression)
    return declared is not None and declared.is_named("sync.WaitGroup")


def _handed_on(package: Package, body: Declared, place: Place) -> bool:
    """The body gives the WaitGroup to code the package does not show, or stores it: the
    `Done` may be there."""
    binding = place.binding
    if place.kind != LOCAL or binding is None:
        return False
    node = body.node
    for reference in package.references(binding):
        if not (node.start_byte <= reference.start_byte < node.end_byte):
            continue
        parent = reference.parent
        while parent is not None and parent.type in ("unary_expression", "parenthesized_expression"):
            parent = parent.parent
        if parent is None or parent.type == "selector_expression":
            continue  # `wg.Done()`, `wg.Add(1)`
        call = parent.parent if parent.type == "argument_list" else None
        if call is not None and package.facts.callee(body.file, call) is not None:
            continue  # a function of the package: its facts are followed
        return True
    return False


def _done_in_callback(package: Package, file: GoFile, arguments: Node | None, place: Place) -> bool:
    """Whether the goroutine is handed the WaitGroup's `Done`: a function literal that calls
    it, or the method value itself (`go watch(ctx, wg.Done)`)."""
    for argument in arguments.named_children if arguments is not None else []:
        if (
            argument.type == "func_literal"
            and package.facts.performs(Declared(file, argument), "Done", place) is not None
        ):
            return True
        field = argument.child_by_field_name("field") if argument.type == "selector_expression" else None
        if (
            field is not None
            and file.text(field) == "Done"
            and place_of(package, file, argument.child_by_field_name("operand")) == place
        ):
            return True
    return False


def _counted_off_elsewhere(package: Package, file: GoFile, statement: Node, place: Place) -> bool:
    """Whether the function that starts the goroutine calls `Done` on the WaitGroup itself, or
    in a goroutine it starts that no `Add` counts: a collector that takes each worker's result
    and calls `Done` once for it (`for range jobs { <-results; wg.Done() }`)."""
    function = enclosing_function(statement, file)
    if function is None:
        return False
    for call in file.nodes("call_expression", within=function):
        receiver = _receiver(call)
        if receiver is None or call_method_name(file, call) != "Done":
            continue
        if place_of(package, file, receiver) != place:
            continue
        starter = next((a for a in ancestors(call, file) if a.type == "go_statement"), None)
        if starter is None or (starter.start_byte >= function.start_byte and preceding_add(file, starter) is None):
            return True
    return False


def _holding(nodes: list[Node]) -> Callable[[Node], bool]:
    """Whether an element of the graph holds one of `nodes`."""
    return lambda element: any(element.start_byte <= n.start_byte and n.end_byte <= element.end_byte for n in nodes)


def check(file: GoFile) -> Iterator[Report]:
    package = package_of(file)
    for statement in file.nodes("go_statement"):
        call = statement.named_children[0] if statement.named_children else None
        add = preceding_add(file, statement)
        counted = _receiver(add) if add is not None else None
        if call is None or call.type != "call_expression" or add is None or counted is None:
            continue
        place = place_of(package, file, counted)
        body = package.facts.callee(file, call)
        if place is None or body is None or not _is_waitgroup(package, file, counted):
            continue
        arguments = call.child_by_field_name("arguments")
        handed = [place_of(package, file, a) for a in (arguments.named_children if arguments is not None else [])]
        inner = package.facts.place_in(body, place, handed)
        shown = file.text(counted).lstrip("&")
        if _done_in_callback(package, file, arguments, place):
            continue  # `go run(job, func() { wg.Done() })`: the goroutine is handed its Done
        if inner is not None:
            if _handed_on(package, body, inner) or package.facts.performs(body, "Wait", inner) is not None:
                continue  # handed to unseen code, or the goroutine is the one that waits
            dones = package.facts.performing(body, "Done", inner)
        elif body.node.type == "func_literal" or place.kind != LOCAL:
            continue  # shadowed by the literal's own names, or reachable another way
        else:
            dones = []
        if not dones and _counted_off_elsewhere(package, file, statement, place):
            continue  # a collector of the function calls Done for it
        if not dones:
            yield Report(
                node=statement,
                message=(
                    f"This goroutine is counted by `{file.text(add)}` (line {file.line(add)}) but never calls "
                    f"`{shown}.Done()`: `{shown}.Wait()` blocks forever. Start it with `defer {inner.label if inner else shown}.Done()`."
                ),
                remediation=REMEDIATION,
                names={"wg": shown},
            )
            continue
        assert inner is not None
        cfg = package.cfg(body.file, body.node)
        escapes = cfg.escapes(None, _holding(dones))
        if escapes:
            yield Report(
                node=statement,
                message=(
                    f"This goroutine calls `{inner.label}.Done()` (line {body.file.line(dones[0])}) on some paths only: "
                    f"{escapes[0].described(body.file)} skips it and `{shown}.Wait()` blocks forever. Use `defer {inner.label}.Done()` first."
                ),
                remediation=REMEDIATION,
                severity=Severity.WARNING,
                names={"wg": shown},
            )


RULE = Rule(
    id="GR106",
    name="missing-done",
    severity=Severity.ERROR,
    doc=__doc__,
    check=check,
    imports=("sync",),
    in_tests=False,
)
