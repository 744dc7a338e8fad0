"""GR211 request-context-in-goroutine: a goroutine started in a handler runs on the request's context, and the handler does not wait for it.

## What it does
Flags a `go` statement in an HTTP handler whose goroutine uses `r.Context()` (or the
framework's request context, or a context derived from it with `context.With*`) while the
handler neither waits for it (`wg.Wait()`, `g.Wait()`, a receive from a channel the goroutine
mentions) after starting it.

## Why is this bad?
net/http cancels the request's context as soon as the handler returns. A goroutine that
still runs then sees `context canceled` on its first query or call: the work it was started
for is cut short, usually silently, and only under real traffic where the handler returns
first.

## Example
```go
func handler(w http.ResponseWriter, r *http.Request) {
    go func() {
        audit.Record(r.Context(), event) // cancelled as soon as handler returns
    }()
    w.WriteHeader(http.StatusAccepted)
}
```

## Use instead
```go
func handler(w http.ResponseWriter, r *http.Request) {
    ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 10*time.Second)
    go func() {
        defer cancel()
        doWork(ctx)
    }()
    w.WriteHeader(http.StatusAccepted)
}
```
or wait for the goroutine before returning.

## Fix safety
No suggestion: detaching or waiting is a design decision. Handing the request's context to
a function is also how work is *meant* to stop with the request (the article's
`go doWork(r.Context())`, where `doWork` watches `ctx.Done()`), so `go f(ctx)` is reported only
when this file shows `f`'s body and that body never watches `Done()`. A goroutine literal that itself
selects on `<-ctx.Done()` is written to stop with the request and is not reported (that is
the article's bounded cleanup: `select { case <-time.After(d): ... case <-ctx.Done(): return }`).
`context.WithoutCancel(r.Context())` is the documented way to detach and is never reported.
A handler that, after the `go`, itself waits on `<-ctx.Done()` (a streaming handler that
returns when the client leaves) shares its goroutine's lifetime and is not reported.
"""

from __future__ import annotations

from collections.abc import Iterator

from ...finding import Severity
from ...goroutines import goroutine_at
from ...gosource import GoFile
from ...rule import Report, Rule
from ._helpers import handler_goroutines
from .gr202_goroutine_without_context import RULE as GR202

REMEDIATION = """\
// Detach from the request's cancellation, keep its values, bound the work.
ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 10*time.Second)
go func() {
    defer cancel()
    doWork(ctx)
}()"""


def check(file: GoFile) -> Iterator[Report]:
    for handler, go_statement in handler_goroutines(file):
        used = handler.of_goroutine(go_statement)
        if used.kind != "request" or handler.waits_for(go_statement) or handler.watches_done(go_statement):
            continue
        if handler.blocks_until_done(go_statement):
            continue
        body = goroutine_at(file, go_statement).body
        if body is None or handler.watches_done(body):
            continue  # a body we cannot see may well stop with the request, as it should
        yield Report(
            node=go_statement,
            message=(
                f"This goroutine runs on `{used.evidence}`, the request's context, but the handler does not "
                "wait for it: the context is cancelled as soon as the handler returns. Use "
                "`context.WithoutCancel` plus a timeout, or wait for the goroutine."
            ),
            remediation=REMEDIATION,
        )


RULE = Rule(
    id="GR211",
    name="request-context-in-goroutine",
    severity=Severity.WARNING,
    doc=__doc__,
    check=check,
    imports=GR202.imports,
    in_tests=False,
)
