"""GR204 cancel-not-called: the cancel function of a derived context is kept but never called on some paths.

## What it does
Follows the cancel function of `context.WithCancel`, `WithTimeout`, `WithDeadline` and their
`*Cause` forms, bound to a name (`_` is GR203's), from its assignment to every exit of the
function. Any use releases a path: a call, a `defer`, a `return`, a store into a field or a
slice, an argument, a closure that captures it. An error when no path uses it (only
`_ = cancel`, or overwritten first); a warning when some `return`, or the end of the block
that declares it, is reached without a use — typically an early `return err` placed before
`defer cancel()`. A deferred closure that calls it only under `if err != nil` (`err` a named
result) releases it on the failing returns only: a `return` that gives back a `nil` error
without handing the cancel function on is a way out too.

A cancel function stored into a field is followed too, in two cases: the field is
unexported and nothing in the package ever calls or reads it (an error: the context can
never be cancelled), or the field belongs to a struct this function made (`s := &T{...}`)
and has not handed on yet: until the struct is returned, stored or passed on, a `return`
that drops it without calling `s.cancel()` is a way out (a warning; not for a
`WithCancel` of `context.Background()`, which arms no timer and registers with no parent,
so that a dropped one holds nothing).

Across calls: a function of the package that gives its caller the only way to cancel a
context it derives — it returns the cancel function, or a struct it makes that keeps it and
that nothing else holds (the methods it calls on the struct only read its fields) — makes a
call statement that drops its results an error, reported on that call.

## Why is this bad?
Until it is cancelled, the derived context stays registered with its parent and, for
`WithTimeout`/`WithDeadline`, keeps a runtime timer: on a long-lived parent every call
leaks a little, and the goroutines that wait on `ctx.Done()` wait for the deadline.

## Example
```go
ctx, cancel := context.WithTimeout(parent, 3*time.Second)
req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
if err != nil {
    return err // cancel is never called on this path
}
defer cancel()
```

## Use instead
```go
ctx, cancel := context.WithTimeout(parent, 3*time.Second)
defer cancel()
req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
if err != nil {
    return err
}
```

Cancelled on failure only, while the successful return keeps nothing that could cancel it:
```go
func dial(parent context.Context, addr string) (conn net.Conn, err error) {
    ctx, cancel := context.WithTimeout(parent, 5*time.Second)
    defer func() {
        if err != nil {
            cancel()
        }
    }()
    conn, err = dialer.DialContext(ctx, "tcp", addr)
    if err != nil {
        return nil, err
    }
    return conn, nil // cancel is never called
}
```
Use `defer cancel()`, or hand `cancel` on with the result (`&session{conn: conn, stop: cancel}`).

Kept in a struct that an early return drops before anything else can call it:
```go
c := &call{id: id}
c.ctx, c.cancel = context.WithTimeout(parent, timeout)
if !r.open {
    return nil, errClosed // c, and its cancel function, are lost
}
r.active[id] = c
```
Call `c.cancel()` before that `return`.

Dropping the result that holds the cancel function:
```go
func acquire(parent context.Context, ttl time.Duration) *lease {
    ctx, cancel := context.WithTimeout(parent, ttl)
    l := &lease{ctx: ctx, cancel: cancel}
    go l.expire() // waits on l.ctx.Done()
    return l
}

acquire(ctx, time.Minute) // nothing can cancel that context now
```
Keep the result and release it: `l := acquire(ctx, time.Minute); defer l.Release()`.

## Fix safety
No suggestion: where the `defer` belongs depends on the code. The paths are followed
syntactically: `panic`, `os.Exit`, `log.Fatal` and `t.Fatal` end a path, `break`,
`continue` and `goto` are given the benefit of the doubt, and a binding in an `if` or
`for` header is not followed.
"""

from __future__ import annotations

from collections.abc import Iterator

from ...finding import Severity
from ...gosource import GoFile
from ...rule import Report, Rule
from ...semantics import package_of
from ...semantics.cfg import Escape
from ...semantics.contexts import expression_can_be_cancelled
from ...semantics.ownership import CANCEL, Owned, cancel_results
from ...semantics.package import Package
from ...semantics.places import place_of
from ...syntax import call_method_name, first_argument, function_label, unparen

REMEDIATION = """\
ctx, cancel := context.WithTimeout(parent, 3*time.Second)
defer cancel() // right after the call: every return path releases the context"""


def _where(file: GoFile, escape: Escape) -> str:
    if escape.kind == "return":
        return f"the `return` on line {file.line(escape.node)}"
    if escape.kind == "overwrite":
        return f"line {file.line(escape.node)}, which overwrites it"
    if escape.kind == "continue":
        return f"the `continue` on line {file.line(escape.node)}, whose next iteration makes a new one"
    if escape.kind == "loop":
        return f"the next iteration of the loop on line {file.line(escape.node)}, which makes a new one"
    return f"the end of the function on line {file.end_line(escape.node)}"


def check(file: GoFile) -> Iterator[Report]:
    package = package_of(file)
    yield from _dropped_results(package, file)
    reported: set[tuple[str, int]] = set()  # (name, first way out): `if` / `else` constructors of one value
    for call, constructor, bound in cancel_results(package, file):
        cancel = next((r for r in bound.results if r.shape is CANCEL), None)
        if cancel is None or file.text(cancel.target) == "_":
            continue  # `_` is GR203's
        name = file.text(cancel.target)
        if cancel.binding is not None:
            if not cancel.binding.is_local:
                continue  # a package variable: something else calls it
            owned: Owned | None = bound.owned(package, cancel)
        else:
            place = place_of(package, file, cancel.target)
            if place is not None and package.facts.field_never_read(place):
                yield Report(
                    node=call,
                    message=(
                        f"`{name}` keeps the cancel function of {constructor}, but nothing in the package ever "
                        f"calls or reads the field `{place.key}`: the context is never cancelled. Call "
                        f"`{name}()` where its owner is closed."
                    ),
                    remediation=REMEDIATION,
                )
                continue
            parent = first_argument(call)
            if (
                "Cancel" in constructor
                and parent is not None
                and not expression_can_be_cancelled(package, file, parent)
            ):
                continue  # a dropped child of `Background()` with no timer holds nothing
            owned = bound.owned_in_field(package, file, cancel)
        leaks = owned.leaks() if owned is not None else []
        if owned is None or not leaks or (name, leaks[0].node.id) in reported:
            continue
        reported.add((name, leaks[0].node.id))
        called = f"{name}(nil)" if constructor.endswith("WithCancelCause") else f"{name}()"
        own_names = {"cancel": name} if cancel.binding is not None else {}
        # A struct that keeps it outlives the function on the good path: cancel on the others.
        advice = f"`defer {called}` right after the call" if cancel.binding is not None else f"call `{called}` there"
        if not owned.ever_released_or_moved():
            yield Report(
                node=call,
                message=(
                    f"`{name}` from {constructor} is never called, deferred, returned or handed on before "
                    f"{_where(file, leaks[0])}: the context and its resources stay alive until the parent "
                    f"is cancelled. {advice[0].upper()}{advice[1:]}."
                ),
                remediation=REMEDIATION,
                names=own_names,
            )
            continue
        yield Report(
            node=call,
            message=f"`{name}` from {constructor} is not called on the path to {_where(file, leaks[0])}: {advice}.",
            remediation=REMEDIATION,
            severity=Severity.WARNING,
            names=own_names,
        )


def _dropped_results(package: Package, file: GoFile) -> Iterator[Report]:
    """A call statement that drops the results of a function of the package that gives its
    caller the only way to cancel a context it derived."""
    makers = package.facts.cancel_deriving_names
    if makers is not None and not makers:
        return
    for statement in file.nodes("expression_statement"):
        call = unparen(statement.named_children[0]) if statement.named_children else None
        if call is None or call.type != "call_expression":
            continue
        called = call_method_name(file, call)
        if makers is not None and called is not None and called not in makers:
            continue  # not one of the package's functions that derive a context
        callee = package.facts.callee(file, call)
        kept = package.facts.result_keeps_cancel(callee) if callee is not None else None
        if callee is None or kept is None:
            continue
        made, constructor = kept
        name = function_label(callee.file, callee.node)
        yield Report(
            node=call,
            message=(
                f"`{name}` gives back the only way to cancel the context it derives with {constructor} "
                f"(line {callee.file.line(made)}), and this call drops its result: that context is never "
                f"cancelled. Keep the result and cancel or close it when done."
            ),
            remediation=REMEDIATION,
        )


RULE = Rule(
    id="GR204",
    name="cancel-not-called",
    severity=Severity.ERROR,
    doc=__doc__,
    check=check,
    imports=("context",),
    in_tests=False,
)
