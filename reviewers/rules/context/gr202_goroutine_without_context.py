"""GR202 goroutine-without-context: a goroutine started in a handler runs on `context.Background()` or on no context at all.

## What it does
Flags a `go` statement in an HTTP handler (net/http, gin, echo, fiber, chi) whose goroutine
uses `context.Background()`, `context.TODO()` (directly or through a variable built from
them), or no context at all while its body sleeps, waits on a timer or makes an HTTP or
network call — when the handler does not wait for it.

## Why is this bad?
Nothing stops such a goroutine: not the client going away, not the request's deadline, not
the server shutting down. Under load every request leaves one behind — sleeping, retrying,
holding connections — and they pile up into thousands of zombie goroutines.

## Example
```go
func badHandler(w http.ResponseWriter, r *http.Request) {
    go doWork(context.Background()) // no timeout, nothing cancels it
}
```

## Use instead
```go
func handler(w http.ResponseWriter, r *http.Request) {
    // Must outlive the request: detach from its cancellation, but bound it.
    ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 10*time.Second)
    go func() {
        defer cancel()
        doWork(ctx)
    }()
}
```

## Fix safety
No suggestion: whether the work must outlive the request is a design decision. A goroutine
that uses `context.WithoutCancel(...)` is the fix and is not reported; one that uses the
request's own context is GR211's. The rule stays silent when the handler waits for the
goroutine (a `Wait()` call, or a receive from a channel the goroutine mentions, after the
`go`), when a goroutine without any context is a named function or does not visibly wait
(a websocket pump stops when its connection closes: syntax cannot see that), when the
goroutine reports to a WaitGroup field (`s.wg.Done()`: a long-lived owner's
shutdown waits for it), and when the goroutine mentions the request itself or another context, since syntax
cannot tell what it does with them.
"""

from __future__ import annotations

from collections.abc import Iterator

from ...finding import Severity
from ...gosource import GoFile
from ...rule import Report, Rule
from ...syntax import FRAMEWORK_CONTEXTS, qualified_calls
from ._helpers import handler_goroutines

# Waits and calls that nothing stops when the goroutine has no context.
UNSTOPPABLE = frozenset(
    {"time.Sleep", "time.After", "time.Tick", "time.NewTimer", "time.NewTicker", "net.Dial", "net.DialTimeout"}
    | {f"net/http.{name}" for name in ("Get", "Post", "Head", "PostForm")}
)

REMEDIATION = """\
// Outlives the request on purpose: detached from its cancellation, bounded by a timeout.
ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 10*time.Second)
go func() {
    defer cancel()
    doWork(ctx)
}()"""


def _waits_uncancellably(file: GoFile, go_statement) -> bool:
    """Whether the goroutine's own body (a literal in view) sleeps, waits on a timer or makes
    a network call that no context can stop."""
    started = go_statement.named_children[0] if go_statement.named_children else None
    function = (
        started.child_by_field_name("function") if started is not None and started.type == "call_expression" else None
    )
    return (
        function is not None and function.type == "func_literal" and bool(qualified_calls(file, function, UNSTOPPABLE))
    )


def check(file: GoFile) -> Iterator[Report]:
    for handler, go_statement in handler_goroutines(file):
        used = handler.of_goroutine(go_statement)
        if used.kind == "none" and not _waits_uncancellably(file, go_statement):
            continue
        if (
            used.kind not in ("fresh", "none")
            or handler.waits_for(go_statement)
            or handler.owned_elsewhere(go_statement)
        ):
            continue
        what = f"`{used.evidence}`" if used.kind == "fresh" else "no context"
        request = handler.request_expression or "r.Context()"
        yield Report(
            node=go_statement,
            message=(
                f"This goroutine, started in an HTTP handler, runs on {what}: nothing stops it when the "
                f"client goes away. Derive its context from `{request}` (with `context.WithoutCancel` and a "
                "timeout if it must outlive the request)."
            ),
            remediation=REMEDIATION,
        )


RULE = Rule(
    id="GR202",
    name="goroutine-without-context",
    severity=Severity.WARNING,
    doc=__doc__,
    check=check,
    imports=("net/http", *sorted({q.rsplit(".", 1)[0] for q, _ in FRAMEWORK_CONTEXTS})),
    in_tests=False,
)
