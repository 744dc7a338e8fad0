"""GR201 background-in-handler: `context.Background()` or `context.TODO()` inside an HTTP handler.

## What it does
Flags `context.Background()` and `context.TODO()` written in an HTTP handler: a function
taking `(http.ResponseWriter, *http.Request)`, a `ServeHTTP` method, a literal passed to
`HandleFunc` or `http.HandlerFunc`, or a gin, echo or fiber handler. An error for a bare
`context.Background()`, whose work has no end; a warning when a deadline bounds it
(`context.WithTimeout(context.Background(), d)`) or for `context.TODO()`, which marks the
choice as open.

## Why is this bad?
The request already carries a context that is cancelled when the client goes away or the
server shuts down. Work started from a fresh `Background()` never hears of it: database
queries, outgoing calls and retries go on for a caller that left, holding connections and
goroutines while the service is under the very load that made the client give up.

## Example
```go
func handler(w http.ResponseWriter, r *http.Request) {
    rows, err := db.QueryContext(context.Background(), query)
}
```

## Use instead
```go
func handler(w http.ResponseWriter, r *http.Request) {
    rows, err := db.QueryContext(r.Context(), query)
}
```

## Fix safety
The suggestion replaces the call by the request's context (`r.Context()`,
`c.Request.Context()` for gin, `c.Request().Context()` for echo, `c.UserContext()` for
fiber v2). Goroutines are GR202's business: neither the body of a goroutine nor the
arguments of a `go` statement (`go doWork(context.Background())`) are reported here. Nor is
the root of a context the handler stores in a field with its cancel function
(`h.ctx, h.cancel = context.WithCancel(context.Background())`): state that outlives every
request by design, and that its owner cancels. Nor is a fresh context given to a call that
only logs (`slog.InfoContext`, a `Log...` function, a level method of a logger): it reads
the context's values and does no work to stop.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import takewhile

from tree_sitter import Node

from ...finding import Severity
from ...gosource import GoFile
from ...rule import Fix, Report, Rule
from ...semantics import Package, package_of
from ...semantics.contexts import DERIVING, FRESH_CONTEXTS, REQUEST_ORIGIN, logs_only, origins
from ...semantics.ownership import bound_results
from ...syntax import ancestors, enclosing_handler, qualified_calls, qualified_name, request_context

BOUNDING = frozenset(
    {"context.WithTimeout", "context.WithDeadline", "context.WithTimeoutCause", "context.WithDeadlineCause"}
)

REMEDIATION = """\
func handler(w http.ResponseWriter, r *http.Request) {
    ctx := r.Context() // cancelled when the client goes away
    rows, err := db.QueryContext(ctx, query)
}"""


def _starts_goroutine(call: Node, handler: Node) -> bool:
    """Whether the call is an argument of a `go` statement of the handler (GR202 reports)."""
    return any(a.type == "go_statement" for a in takewhile(lambda a: a != handler, ancestors(call)))


def _roots_stored_state(package: Package, file: GoFile, call: Node) -> bool:
    """`h.ctx, h.cancel = context.WithCancel(context.Background())`, or a cancel kept in
    state stored elsewhere: the fresh context roots state that outlives every request by
    design, and that its owner cancels."""
    arguments = file.parent(call)
    derived = file.parent(arguments) if arguments is not None and arguments.type == "argument_list" else None
    if derived is None or qualified_name(file, derived) not in DERIVING:
        return False
    bound = bound_results(package, file, derived)
    return bound is not None and bound.cancel_kept_elsewhere(package)


def _bounded_by_a_deadline(file: GoFile, call: Node) -> bool:
    """`context.WithTimeout(context.Background(), d)`: the work ends at the deadline even if
    not when the client leaves."""
    arguments = file.parent(call)
    derived = file.parent(arguments) if arguments is not None and arguments.type == "argument_list" else None
    return derived is not None and qualified_name(file, derived) in BOUNDING


def _fallback_for_request(package: Package, file: GoFile, call: Node) -> bool:
    """`ctx := context.Background(); if r != nil { ctx = r.Context() }`: the fresh context
    is the default of a variable that the request's context replaces when there is one."""
    holder = call.parent
    statement = holder.parent if holder is not None and holder.type == "expression_list" else None
    left = statement.child_by_field_name("left") if statement is not None else None
    targets = left.named_children if left is not None else []
    if len(targets) != 1 or targets[0].type != "identifier":
        return False
    binding = package.binding(file, targets[0])
    return binding is not None and REQUEST_ORIGIN in origins(package, file, targets[0])


def _logged(file: GoFile, call: Node) -> bool:
    """`slog.InfoContext(context.Background(), ...)`: a logger reads the context's values and
    does no work that the client's leaving should stop."""
    arguments = file.parent(call)
    given = file.parent(arguments) if arguments is not None and arguments.type == "argument_list" else None
    return given is not None and logs_only(file, given)


def check(file: GoFile) -> Iterator[Report]:
    package = package_of(file)
    for call in qualified_calls(file, file.root, FRESH_CONTEXTS):
        handler = enclosing_handler(file, call)
        if handler is None or _starts_goroutine(call, handler) or _roots_stored_state(package, file, call):
            continue
        if _fallback_for_request(package, file, call) or _logged(file, call):
            continue
        replacement = request_context(file, handler)
        instead = f"`{replacement}`" if replacement else "the request's context"
        bounded = _bounded_by_a_deadline(file, call)
        placeholder = qualified_name(file, call) == "context.TODO"
        never = "outlives the client" if bounded else "is never cancelled"
        yield Report(
            node=call,
            message=(
                f"`{file.text(call)}` in an HTTP handler {never}: use {instead}, so the work "
                "stops when the client goes away."
            ),
            remediation=REMEDIATION,
            fix=Fix.replace(file, call, replacement) if replacement else None,
            severity=Severity.WARNING if bounded or placeholder else None,
        )


RULE = Rule(
    id="GR201",
    name="background-in-handler",
    severity=Severity.ERROR,
    doc=__doc__,
    check=check,
    imports=("context",),
    in_tests=False,
)
