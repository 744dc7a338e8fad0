"""GR114 shutdown-misses-goroutine: a goroutine the shutdown's `wg.Wait()` does not cover.

## What it does
Looks at the types of the file whose `Close`, `Stop`, `Shutdown` or `GracefulStop` method
waits on a `sync.WaitGroup` field (directly, or through one method call). Flags every
goroutine started by a method of that type (or by a function of the file, on a value of
that type) that neither `Add`s to that field before its `go` nor is waited for inside the
method itself (a `Wait()` or a receive after the start).

## Why is this bad?
The shutdown method promises that nothing of the type runs once it returns: the caller
then closes the connections, files and channels those goroutines use. A goroutine the
WaitGroup does not count is not waited for: it goes on after shutdown, writes to closed
resources, panics on a closed channel, or leaks. This is how services end up with
"send on closed channel" crashes during deploys and goroutines that outlive the test
that started them.

## Example
```go
func (s *Server) handle(conn net.Conn) {
    go s.serve(conn) // Close does not wait for it
}

func (s *Server) Close() {
    close(s.quit)
    s.wg.Wait()
}
```

## Use instead
```go
func (s *Server) handle(conn net.Conn) {
    s.wg.Add(1)
    go func() {
        defer s.wg.Done()
        s.serve(conn)
    }()
}
```

## Fix safety
No suggestion: the `Add` must come before the `go` and the `Done` at every exit of the
goroutine. Goroutines that already call `Done` on the field (their `Add` is the caller's),
that call the shutdown method themselves, or that wait on the group (the classic
"close when all are done" goroutine) are not flagged; neither is a goroutine started
through a helper of another file, which syntax cannot see.
"""

from __future__ import annotations

from collections.abc import Iterator

from tree_sitter import Node

from ...finding import Severity
from ...gosource import GoFile
from ...rule import Report, Rule
from ...syntax import call_method_name, go_statements, is_inside, scope_nodes
from ._types import SHUTDOWN_METHODS, WAITGROUP, TypeIndex, Unit, field_expression, started_unit, type_index

REMEDIATION = """\
s.wg.Add(1) // before go: Close's s.wg.Wait() now covers it
go func() {
    defer s.wg.Done()
    s.serve(conn)
}()"""


def _waited_groups(index: TypeIndex, type_name: str) -> dict[str, Unit]:
    """WaitGroup field key -> the shutdown method that waits on it."""
    struct = index.types[type_name]
    groups = [f"{type_name}.{name}" for name, kind in struct.kinds.items() if kind == WAITGROUP]
    waited: dict[str, Unit] = {}
    if not groups:
        return waited  # no need to look at the units of the file
    for unit in index.methods(type_name):
        if unit.key.partition(".")[2] in SHUTDOWN_METHODS:
            for key in groups:
                if key not in waited and index.reaches(unit, "wait", key):
                    waited[key] = unit
    return waited


def _starters(index: TypeIndex, type_name: str) -> Iterator[tuple[Unit, Node]]:
    """(unit, go statement) for the goroutines started by the type's methods, and by
    functions of the file on one of its values (`go s.loop()` in a constructor)."""
    for unit in index.units.values():
        if unit.node.type == "func_literal":
            continue
        for go in go_statements(unit.node):
            started = started_unit(index, go)
            if _other_type(index, go, started, type_name):
                continue  # `go c.serve()` of another type: that type tracks its own goroutines
            if (unit.node.type == "method_declaration" and unit.type_name == type_name) or (
                started is not None and started.type_name == type_name and started.node.type == "method_declaration"
            ):
                yield unit, go


def _other_type(index: TypeIndex, go: Node, started: Unit | None, type_name: str) -> bool:
    if started is not None:
        return started.node.type == "method_declaration" and started.type_name != type_name
    call = go.named_children[0] if go.named_children else None
    function = call.child_by_field_name("function") if call is not None and call.type == "call_expression" else None
    return (
        function is not None
        and function.type == "selector_expression"
        and index.file.imports.get(index.file.text(function.child_by_field_name("operand"))) is None
    )


def _covered(file: GoFile, index: TypeIndex, unit: Unit, go: Node, key: str, shutdowns: set[str]) -> bool:
    # An Add to the field before the go, in the method or a closure of it.
    for other in index.units.values():
        if is_inside(other.node, unit.node) and any(
            op.kind == "add" and op.key == key and op.node.start_byte < go.start_byte for op in other.ops
        ):
            return True
    started = started_unit(index, go)
    if started is not None:
        if any(index.reaches(started, kind, key) for kind in ("done", "add", "wait")):
            return True  # counted by the caller's Add, GR105's business, or the waiter itself
        callees = [started, *index.unit_keys_called(started)]
        if any(s in callee.calls for callee in callees for s in shutdowns):
            return True  # the watcher that shuts the type down: it cannot be counted
    # Waited for in the method: a Wait() or a receive after the start (the goroutine may
    # answer through a channel syntax cannot connect to it).
    for node in scope_nodes(unit.node):
        if node.start_byte < go.end_byte:
            continue
        if node.type == "call_expression" and call_method_name(file, node) == "Wait":
            return True
        if node.type == "unary_expression" and file.text(node).startswith("<-"):
            return True
    return False


def _shown(file: GoFile, go: Node) -> str:
    """`s.serve(conn)`, or `func() {...}()` for a literal."""
    call = go.named_children[0] if go.named_children else None
    if call is None or call.type != "call_expression":
        return "..."
    function = call.child_by_field_name("function")
    if function is not None and function.type == "func_literal":
        arguments = call.child_by_field_name("arguments")
        return f"func{file.text(function.child_by_field_name('parameters'))} {{...}}{file.text(arguments)}"
    return file.text(call)


def check(file: GoFile) -> Iterator[Report]:
    if not file.nodes("go_statement") or b"WaitGroup" not in file.source:
        return  # no goroutine, or no WaitGroup field to count it
    index = type_index(file)
    for type_name in index.types:
        waited = _waited_groups(index, type_name)
        if not waited:
            continue
        shutdowns = {u.key for u in waited.values()}
        for unit, go in _starters(index, type_name):
            for key, shutdown in waited.items():
                if _covered(file, index, unit, go, key, shutdowns):
                    continue
                group = field_expression(file, unit, key)
                started = _shown(file, go)
                wait = (
                    next(op for op in shutdown.ops if op.kind == "wait" and op.key == key)
                    if any(op.kind == "wait" and op.key == key for op in shutdown.ops)
                    else None
                )
                where = f" (line {file.line(wait.node)})" if wait is not None else ""
                yield Report(
                    go,
                    f"`go {started}` is not counted in `{group}`: `{shutdown.key.partition('.')[2]}` waits on it{where}, "
                    f"but nothing `Add`s to it before this goroutine starts, so shutdown can return while it still runs. "
                    f"`{group}.Add(1)` before `go`, `defer {group}.Done()` inside.",
                    REMEDIATION,
                )
                break


RULE = Rule(
    id="GR114",
    name="shutdown-misses-goroutine",
    severity=Severity.WARNING,
    doc=__doc__,
    check=check,
    imports=("sync",),
)
