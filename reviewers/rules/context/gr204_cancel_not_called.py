"""GR204 cancel-not-called: the cancel function of a derived context is kept but never called on some paths.

## What it does
Follows the cancel function of `context.WithCancel`, `WithTimeout`, `WithDeadline` and their
`*Cause` forms, bound to a name (`_` is GR203's), from its assignment to every exit of the
function. Any use releases a path: a call, a `defer`, a `return`, a store into a field or a
slice, an argument, a closure that captures it. An error when no path uses it (only
`_ = cancel`, or overwritten first); a warning when some `return`, or the end of the block
that declares it, is reached without a use — typically an early `return err` placed before
`defer cancel()`.

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
from ...syntax import FUNCTION_TYPES
from ._helpers import cancel_assignments, dropped_cancel

REMEDIATION = """\
ctx, cancel := context.WithTimeout(parent, 3*time.Second)
defer cancel() // right after the call: every return path releases the context"""


def _where(file: GoFile, exit_node) -> str:
    if exit_node.type == "return_statement":
        return f"the `return` on line {file.line(exit_node)}"
    if exit_node.type in ("assignment_statement", "short_var_declaration"):
        return f"line {file.line(exit_node)}, which overwrites it"
    if exit_node.parent is not None and exit_node.parent.type in FUNCTION_TYPES:
        return f"the end of the function on line {file.end_line(exit_node)}"
    return f"the end of the block on line {file.end_line(exit_node)}"


def check(file: GoFile) -> Iterator[Report]:
    for assignment in cancel_assignments(file):
        statement, call, constructor = assignment.statement, assignment.call, assignment.constructor
        cancel = file.text(assignment.cancel_name)
        if assignment.cancel_name.type != "identifier" or cancel == "_":
            continue  # `_` is GR203's; a cancel stored in a field is handed on
        paths = dropped_cancel(file, statement, cancel)
        if paths is None or not paths.escapes:
            continue
        deferred = f"defer {cancel}(nil)" if constructor == "context.WithCancelCause" else f"defer {cancel}()"
        if not paths.released:
            yield Report(
                node=call,
                message=(
                    f"`{cancel}` from {constructor} is never called, deferred, returned or handed on before "
                    f"{_where(file, paths.escapes[0])}: the context and its resources stay alive until the parent "
                    f"is cancelled. `{deferred}` right after the call."
                ),
                remediation=REMEDIATION,
            )
            continue
        yield Report(
            node=call,
            message=(
                f"`{cancel}` from {constructor} is not called on the path to {_where(file, paths.escapes[0])}: "
                f"`{deferred}` right after the call."
            ),
            remediation=REMEDIATION,
            severity=Severity.WARNING,
        )


RULE = Rule(
    id="GR204",
    name="cancel-not-called",
    severity=Severity.ERROR,
    doc=__doc__,
    check=check,
    imports=("context",),
)
