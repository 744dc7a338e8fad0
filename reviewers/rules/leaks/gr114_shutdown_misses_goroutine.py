"""GR114 shutdown-misses-goroutine: a goroutine the shutdown's `wg.Wait()` does not cover.

## What it does
Looks at the types of the package whose `Close`, `Stop`, `Shutdown` or `GracefulStop`
method waits on a `sync.WaitGroup` field (directly, or through one call). Flags every
goroutine started by a method of that type (or by a function of the package, on a value of
that type) that neither `Add`s to that field before its `go` nor is waited for inside the
method itself (a `Wait()` or a receive after the start). A goroutine that `Add`s to the
field itself races the `Wait`, and is flagged too.

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
goroutine. Goroutines whose lifetime is tied to the shutdown some other way are not
flagged: one that calls `Done` on the field (its `Add` is the caller's) or on another
WaitGroup (it is joined there); one that closes or sends on a channel the shutdown waits
on, or signals a `sync.Cond` it waits on; one that waits for a channel the package closes
(`for j := range p.jobs`, `<-s.quit`) or for a context's `Done()`, which the shutdown's
close or cancel ends; one that calls the shutdown method itself or waits on the group (the
classic "close when all are done" goroutine); and one the shutdown starts itself. A
goroutine whose function the package does not show is judged by its `go` line.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from tree_sitter import Node

from ...finding import Severity
from ...gosource import GoFile
from ...rule import Report, Rule
from ...semantics import package_of
from ...semantics.package import Declared, Package
from ...semantics.places import FIELD, Place, holds, spelling
from ...semantics.types import WAITGROUP
from ...syntax import (
    call_method_name,
    function_label,
    go_statements,
    is_done_receive,
    own_nodes,
    scope_nodes,
)

REMEDIATION = """\
s.wg.Add(1) // before go: Close's s.wg.Wait() now covers it
go func() {
    defer s.wg.Done()
    s.serve(conn)
}()"""

SHUTDOWN_METHODS = ("Close", "Stop", "Shutdown", "GracefulStop")
# What a watcher goroutine does once the stop signal fires.
_RELEASES = frozenset({"Close", "Stop", "Shutdown", "Cancel", "cancel", "close", "Interrupt", "Kill"})


@dataclass(frozen=True)
class _Waited:
    group: Place  # `Server.wg`
    shutdown: Declared  # the method that waits on it
    wait: Node  # its Wait, or the call that leads to it
    shutdowns: tuple[Declared, ...]  # every shutdown method of the type


def _waited(package: Package, type_name: str) -> list[_Waited]:
    """The WaitGroup fields of a type that one of its shutdown methods waits on."""
    fields = [f for f in package.types_model.fields(type_name) if f.type is not None and f.type.is_named(WAITGROUP)]
    if not fields:
        return []
    shutdowns = tuple(m for m in (package.method(type_name, name) for name in SHUTDOWN_METHODS) if m is not None)
    found: list[_Waited] = []
    for field in fields:
        group = Place(FIELD, f"{type_name}.{field.name}", field.name)
        for shutdown in shutdowns:
            wait = package.facts.performs(shutdown, "Wait", group, 1)
            if wait is not None:
                found.append(_Waited(group, shutdown, wait, shutdowns))
                break
    return found


def _done_by_shutdown(package: Package, waited: _Waited, *kinds: str) -> set[Place]:
    """The places the shutdown methods (and what they call) do one of `kinds` to."""
    return {
        op.place
        for shutdown in waited.shutdowns
        for function in package.facts.reached(shutdown)
        for op in package.facts.operations(function).of(*kinds)
    }


def _covered(package: Package, starter: Declared, go: Node, started: Declared | None, waited: _Waited) -> bool:
    facts, file, group = package.facts, starter.file, waited.group
    added = facts.performing(starter, "Add", group) + [
        op.node for op in facts.within(starter, "Add") if op.place == group
    ]
    if any(node.start_byte < go.start_byte for node in added):
        return True  # counted before it starts
    if any(starter.node.id == f.node.id for s in waited.shutdowns for f in package.facts.reached(s)):
        return True  # the shutdown starts it itself
    if started is not None and _joined(package, started, waited):
        return True
    # Waited for in the method: a Wait() or a receive after the start (the goroutine may
    # answer through a channel the model cannot connect to it).
    for node in scope_nodes(starter.node):
        if node.start_byte < go.end_byte:
            continue
        if node.type == "call_expression" and call_method_name(file, node) == "Wait":
            return True
        if node.type == "unary_expression" and file.text(node).startswith("<-"):
            return True
    return False


def _joined(package: Package, started: Declared, waited: _Waited) -> bool:
    """Whether the goroutine's lifetime is tied to the shutdown some way other than the
    `Add` it lacks."""
    facts, group = package.facts, waited.group
    adds = facts.performing(started, "Add", group, 1)
    children = started.file.nodes("go_statement", within=started.node)
    if adds and not any(child.start_byte > adds[0].start_byte for child in children):
        return False  # its own Add races the Wait (one for a child it then starts is fine)
    if any(facts.performs(started, kind, group, 1) is not None for kind in ("Done", "Wait")):
        return True  # counted by the caller's Add, or the waiter itself
    if any(s.node.id == f.node.id for s in waited.shutdowns for f in package.facts.reached(started, 2)):
        return True  # the watcher that shuts the type down
    done = facts.within(started, "Done", "close", "send")
    if any(op.kind == "Done" and op.place != group and holds(package, op.place, WAITGROUP) for op in done):
        return True  # joined by another WaitGroup
    conditions = {p for p in _done_by_shutdown(package, waited, "Wait") if holds(package, p, "sync.Cond")}
    if any(
        op.place in conditions
        for function in facts.reached(started, 2)
        for op in facts.operations(function).of("Signal", "Broadcast")
    ):
        return True  # it signals a condition the shutdown waits on (`for len(s.conns) > 0 { s.cv.Wait() }`)
    awaited = _done_by_shutdown(package, waited, "receive", "range")
    if any(op.kind in ("close", "send") and op.place in awaited for op in done):
        return True  # it signals a channel the shutdown waits on
    return _ends_on_close(package, started)


def _ends_on_close(package: Package, started: Declared) -> bool:
    """Whether the goroutine waits for a channel that the package closes (`for j := range
    p.jobs`, `<-s.quit`) or for a context's `Done()`: the shutdown's close or cancel is what
    ends it, so its lifetime is tied to the shutdown already."""
    facts, file = package.facts, started.file
    if any(facts.users(op.place, "close") for op in facts.operations(started).of("receive", "range")):
        return True
    return any(
        is_done_receive(file, node)
        for node in own_nodes(file, started.node, ("unary_expression",))
        if file.text(node).startswith("<-")
    )


def _relevant(package: Package, starter: Declared, started: Declared | None, call: Node, type_name: str) -> bool:
    """Whether a goroutine is the type's: started by one of its methods, or running one."""
    facts = package.facts
    if started is not None and started.node.type == "method_declaration":
        # `go c.serve()` of another type: that type tracks its own goroutines.
        return facts.owner_type(started) == type_name
    function = call.child_by_field_name("function")
    if started is None and function is not None and function.type == "selector_expression":
        operand = function.child_by_field_name("operand")
        binding = (
            package.binding(starter.file, operand) if operand is not None and operand.type == "identifier" else None
        )
        if binding is None or binding.kind != "import":
            return False  # a method the package does not show: whose goroutine it is is unknown
    return starter.node.type == "method_declaration" and facts.owner_type(starter) == type_name


def _shown(file: GoFile, call: Node) -> str:
    """`s.serve(conn)`, or `func() {...}()` for a literal."""
    function = call.child_by_field_name("function")
    if function is not None and function.type == "func_literal":
        arguments = call.child_by_field_name("arguments")
        parameters = function.child_by_field_name("parameters")
        return (
            f"func{file.text(parameters) if parameters else '()'} {{...}}{file.text(arguments) if arguments else '()'}"
        )
    return file.text(call)


def check(file: GoFile) -> Iterator[Report]:
    if not file.nodes("go_statement"):
        return
    package = package_of(file)
    waited_by_type: dict[str, list[_Waited]] = {}
    for top in file.root.named_children:
        if top.type not in ("function_declaration", "method_declaration"):
            continue
        starter = Declared(file, top)
        for go in go_statements(top, file):
            call, started = _started(package, file, go)
            if call is None:
                continue
            owners = {package.facts.owner_type(starter), package.facts.owner_type(started) if started else None}
            for type_name in sorted(o for o in owners if o):
                if type_name not in waited_by_type:
                    waited_by_type[type_name] = _waited(package, type_name)
                report = _report(package, file, starter, go, call, started, type_name, waited_by_type[type_name])
                if report is not None:
                    yield report
                    break


def _started(package: Package, file: GoFile, go: Node) -> tuple[Node | None, Declared | None]:
    call = go.named_children[0] if go.named_children else None
    if call is None or call.type != "call_expression":
        return None, None
    return call, package.facts.callee(file, call)


def _report(
    package: Package,
    file: GoFile,
    starter: Declared,
    go: Node,
    call: Node,
    started: Declared | None,
    type_name: str,
    waited: list[_Waited],
) -> Report | None:
    if not waited or not _relevant(package, starter, started, call, type_name):
        return None
    for each in waited:
        if _covered(package, starter, go, started, each):
            continue
        group = spelling(file, starter.node, each.group)
        name = function_label(each.shutdown.file, each.shutdown.node).rpartition(".")[2]
        where = f" (line {each.shutdown.file.line(each.wait)})" if each.shutdown.file is file else ""
        return Report(
            go,
            f"`go {_shown(file, call)}` is not counted in `{group}`: `{name}` waits on it{where}, "
            f"but nothing `Add`s to it before this goroutine starts, so shutdown can return while it still runs. "
            f"`{group}.Add(1)` before `go`, `defer {group}.Done()` inside.",
            REMEDIATION,
        )
    return None


RULE = Rule(
    id="GR114",
    name="shutdown-misses-goroutine",
    severity=Severity.WARNING,
    doc=__doc__,
    check=check,
    imports=("sync",),
    in_tests=False,
)
