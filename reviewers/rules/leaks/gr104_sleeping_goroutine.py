"""GR104 sleeping-goroutine: a goroutine sleeps without watching the context in scope.

## What it does
Flags `time.Sleep(d)` and `<-time.After(d)` in a goroutine started where a context is in
scope (a `context.Context` parameter or variable, or an `*http.Request`), unless the wait is
a case of a `select` that also receives from `ctx.Done()` or a done channel. The goroutine
may be a literal, a closure started through a variable or a function of the same file; the
sleep line is reported. Outside goroutines, `time.Sleep` with a context in scope is GR208's.
A goroutine started once for the life of the process (in `main` or `init`, by a package
initializer, a `sync.Once` or a function of `package main` only `main` calls, like `run`) is
left alone: when `main`'s context ends, the process does. So is a constant pause under a
second (`time.Sleep(100 * time.Millisecond)`, or a constant declared so): it ends about when
a cancellation would be noticed anyway; and a wait after the goroutine closed a channel on
every path before it (`close(finished)`): it has told its starter it is done, so the
request may end first, and the pause is its own teardown (a grace period before it hangs
up), which the context's end would cut short.

## Why is this bad?
The caller has a way to say "stop" and the goroutine does not listen: when the request ends
or the server shuts down it sleeps on, then does work whose result nobody wants. Started per
request, such goroutines outlive their requests by the full delay and pile up under load.

## Example
```go
func handler(w http.ResponseWriter, r *http.Request) {
    go func() {
        time.Sleep(30 * time.Second) // the request is long gone
        log.Println("cleanup done")
    }()
}
```

## Use instead
```go
func handler(w http.ResponseWriter, r *http.Request) {
    ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
    defer cancel()
    go func(ctx context.Context) {
        select {
        case <-time.After(30 * time.Second):
            log.Println("cleanup done")
        case <-ctx.Done():
            return // stops as soon as the caller does
        }
    }(ctx)
}
```

## Fix safety
No suggestion: the `select` needs the context the goroutine should obey, which may not be the
one in scope (a detached `context.WithoutCancel` plus a timeout, for work that must outlive
the request). A warning, since a short pause in a retry loop can be intended.
"""

from __future__ import annotations

from collections.abc import Iterator

from tree_sitter import Node

from ...finding import Severity
from ...goroutines import body_nodes, goroutines, started_once
from ...gosource import GoFile
from ...rule import Report, Rule
from ...semantics import Package, package_of
from ...semantics.contexts import ContextInScope, cancellable_contexts, preferred
from ...semantics.types import CANCEL, CANCEL_CAUSE
from ...syntax import field_of, first_argument, parent_of, qualified_name, select_cases, surely_ran_before
from ._goroutines import communication_case, is_done_case

REMEDIATION = """\
go func(ctx context.Context) {
    select {
    case <-time.After(30 * time.Second):
        log.Println("cleanup done")
    case <-ctx.Done():
        return // the caller gave up: so do we
    }
}(ctx)"""


def _unwatched_wait(package: Package, file: GoFile, call: Node) -> bool:
    """`time.Sleep(d)`, or `<-time.After(d)` not in a select that watches a stop signal, for
    longer than a short constant pause."""
    name = qualified_name(file, call)
    if name not in ("time.Sleep", "time.After") or package.values.short_pause(file, first_argument(call)):
        return False
    if name == "time.Sleep":
        return True
    receive = call.parent
    if name != "time.After" or receive is None or receive.type != "unary_expression":
        return False
    case = communication_case(receive)
    return case is None or not any(is_done_case(file, other) for other in select_cases(parent_of(case)))


def _cancels(package: Package, file: GoFile, call: Node) -> bool:
    """A call of a cancel function: `cancel()`."""
    callee = call.child_by_field_name("function")
    called = package.type_of(file, callee) if callee is not None else None
    return called in (CANCEL, CANCEL_CAUSE)


def _after_saying_done(file: GoFile, calls: list[Node], wait: Node) -> bool:
    """The goroutine closed a channel (`close(finished)`) on every path before the wait: it
    has told whoever waits for it that it is done, so its starter, and the request, may end
    first. What follows is its own teardown (a grace period before it hangs up), which the
    context's end would cut short."""
    return any(
        file.text(field_of(call, "function")) == "close" and surely_ran_before(file, parent_of(call), wait)
        for call in calls
    )


def sleeping_waits(file: GoFile) -> list[tuple[Node, ContextInScope]]:
    """The waits this rule reports, with the context each goroutine ignores: GR208 stays
    quiet on them (a function of this file started by `go` is a goroutine body too)."""

    def build() -> list[tuple[Node, ContextInScope]]:
        package = package_of(file)
        found = []
        for goroutine in goroutines(file):
            context = preferred(cancellable_contexts(package, file, goroutine.statement))
            if goroutine.body is None or context is None:
                continue
            calls = [node for node in body_nodes(goroutine) if node.type == "call_expression"]
            if any(_cancels(package, file, call) for call in calls):
                continue  # the goroutine is the one that cancels: it is not ignoring the context
            waits = [
                (call, context)
                for call in calls
                if _unwatched_wait(package, file, call) and not _after_saying_done(file, calls, call)
            ]
            if waits and not started_once(file, goroutine.statement):  # asked last: it reads the package
                found += waits
        return found

    return file.cached("GR104.waits", build)


def check(file: GoFile) -> Iterator[Report]:
    for node, context in sleeping_waits(file):
        yield Report(
            node=node,
            message=(
                f"This goroutine waits with `{file.text(node)}` while `{context.expression}` is in scope, without "
                "watching it: when the caller is cancelled it waits on. Use "
                f"`select {{ case <-time.After(d): case <-{context.expression}.Done(): return }}`."
            ),
            remediation=REMEDIATION,
            context=context.binding,
        )


RULE = Rule(
    id="GR104",
    name="sleeping-goroutine",
    severity=Severity.WARNING,
    doc=__doc__,
    check=check,
    imports=("time",),
    in_tests=False,
)
