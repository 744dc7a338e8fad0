"""GR201 background-in-handler: `context.Background()` or `context.TODO()` inside an HTTP handler.

## What it does
Flags `context.Background()` and `context.TODO()` written in an HTTP handler: a function
taking `(http.ResponseWriter, *http.Request)`, a `ServeHTTP` method, a literal passed to
`HandleFunc` or `http.HandlerFunc`, or a gin, echo or fiber handler.

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
arguments of a `go` statement (`go doWork(context.Background())`) are reported here.
"""

from __future__ import annotations

from itertools import takewhile
from typing import Iterator

from tree_sitter import Node

from ...finding import Severity
from ...gosource import GoFile
from ...rule import Fix, Report, Rule
from ...syntax import ancestors, enclosing_handler, qualified_calls, request_context

FRESH_CONTEXTS = frozenset({"context.Background", "context.TODO"})

REMEDIATION = """\
func handler(w http.ResponseWriter, r *http.Request) {
    ctx := r.Context() // cancelled when the client goes away
    rows, err := db.QueryContext(ctx, query)
}"""


def _starts_goroutine(call: Node, handler: Node) -> bool:
    """Whether the call is an argument of a `go` statement of the handler (GR202 reports)."""
    return any(a.type == "go_statement" for a in takewhile(lambda a: a != handler, ancestors(call)))


def check(file: GoFile) -> Iterator[Report]:
    for call in qualified_calls(file, file.root, FRESH_CONTEXTS):
        handler = enclosing_handler(file, call)
        if handler is None or _starts_goroutine(call, handler):
            continue
        replacement = request_context(file, handler)
        instead = f"`{replacement}`" if replacement else "the request's context"
        yield Report(
            node=call,
            message=(
                f"`{file.text(call)}` in an HTTP handler is never cancelled: use {instead}, so the work "
                "stops when the client goes away."
            ),
            remediation=REMEDIATION,
            fix=Fix.replace(file, call, replacement) if replacement else None,
        )


RULE = Rule(
    id="GR201",
    name="background-in-handler",
    severity=Severity.ERROR,
    doc=__doc__,
    check=check,
    imports=("context",),
)
