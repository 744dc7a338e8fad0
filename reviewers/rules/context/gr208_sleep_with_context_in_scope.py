"""GR208 sleep-with-context-in-scope: `time.Sleep` where a context is in scope.

## What it does
Flags `time.Sleep` in a function that has the caller's context in scope: a
`context.Context` parameter, a context derived from one, or an `*http.Request` parameter
(not a context the function roots in `Background()` itself, nor one whose `cancel()` every
path has already called: a probe's own deadline, done by the pause). A constant pause
shorter than a second (`time.Sleep(100 * time.Millisecond)`, or a constant declared so) is
left alone: it ends about when a cancellation would be noticed anyway.

## Why is this bad?
`time.Sleep` cannot be interrupted. A retry back-off or a polling pause keeps its goroutine
for the whole duration after the caller's context is cancelled, and a shutdown waits for
every sleeper. Waiting on a timer and `ctx.Done()` together returns at once.

## Example
```go
func retry(ctx context.Context, op func(context.Context) error) error {
    for {
        if err := op(ctx); err == nil {
            return nil
        }
        time.Sleep(time.Second)
    }
}
```

## Use instead
```go
func retry(ctx context.Context, op func(context.Context) error) error {
    for {
        if err := op(ctx); err == nil {
            return nil
        }
        select {
        case <-time.After(time.Second):
        case <-ctx.Done():
            return ctx.Err()
        }
    }
}
```

## Fix safety
No suggestion: the code after the wait must handle the cancellation. Inside goroutine
bodies (a literal started by `go`, or a function of the same file that a `go` statement
starts where GR104 reports it) GR104 reports instead, and this rule stays silent; test
files are not checked.
"""

from __future__ import annotations

from collections.abc import Iterator

from ...finding import Severity
from ...gosource import GoFile
from ...rule import Report, Rule
from ...semantics import package_of
from ...semantics.contexts import callers_contexts, preferred
from ...syntax import first_argument, qualified_calls
from ..leaks.gr104_sleeping_goroutine import sleeping_waits
from ._helpers import inside_goroutine

REMEDIATION = """\
select {
case <-time.After(time.Second):
case <-ctx.Done():
    return ctx.Err() // stop waiting as soon as the caller gives up
}"""


def check(file: GoFile) -> Iterator[Report]:
    goroutine_waits = {wait for wait, _ in sleeping_waits(file)}
    for call in qualified_calls(file, file.root, frozenset({"time.Sleep"})):
        if inside_goroutine(call, file) or call in goroutine_waits:
            continue  # a goroutine's: GR104's
        if package_of(file).values.short_pause(file, first_argument(call)):
            continue
        context = preferred(callers_contexts(package_of(file), file, call))
        if context is None:
            continue
        yield Report(
            node=call,
            message=(
                f"`{file.text(call)}` cannot be interrupted: it keeps waiting after `{context.expression}` is "
                f"cancelled. Select on a timer and `{context.expression}.Done()`."
            ),
            remediation=REMEDIATION,
            names={"ctx": context.expression},
            context=context.binding,
        )


RULE = Rule(
    id="GR208",
    name="sleep-with-context-in-scope",
    severity=Severity.WARNING,
    doc=__doc__,
    check=check,
    imports=("time",),
    in_tests=False,
)
