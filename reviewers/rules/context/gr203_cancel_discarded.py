"""GR203 cancel-discarded: the cancel function of a derived context is thrown away with `_`.

## What it does
Flags `context.WithCancel`, `WithTimeout`, `WithDeadline` and their `*Cause` forms whose
cancel function is assigned to the blank identifier.

## Why is this bad?
The cancel function is the only way to release what the derived context holds: its entry
in the parent's list of children and, for `WithTimeout`/`WithDeadline`, a runtime timer.
Discarded, they live until the parent is cancelled — for `context.Background()` that is
never — and every goroutine waiting on `ctx.Done()` waits until the deadline at best.
`go vet`'s lostcancel check reports the same mistake; goreef catches it in review.

## Example
```go
ctx, _ := context.WithTimeout(r.Context(), 10*time.Second)
resp, err := client.Do(req.WithContext(ctx))
```

## Use instead
```go
ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
defer cancel()
resp, err := client.Do(req.WithContext(ctx))
```

## Fix safety
The suggestion names the cancel function `cancel` and defers it on the next line. It is
offered only for a `:=` statement of its own in a block outside any loop (a `defer` in a
loop piles up: GR115) and where the function does not already use the name `cancel`.
"""

from __future__ import annotations

from collections.abc import Iterator

from tree_sitter import Node

from ...finding import Severity
from ...gosource import GoFile
from ...rule import Fix, Report, Rule
from ...semantics import package_of
from ...semantics.ownership import CANCEL, Result, cancel_results
from ...syntax import enclosing_function, enclosing_loops, first_argument

REMEDIATION = """\
ctx, cancel := context.WithTimeout(parent, 10*time.Second)
defer cancel() // releases the timer and the parent's reference as soon as we return"""


def _suggestion(file: GoFile, statement: Node, blank: Node, constructor: str) -> Fix | None:
    if statement.type != "short_var_declaration" or statement.parent is None:
        return None
    if statement.parent.type != "statement_list" or enclosing_loops(statement, file=file):
        return None
    function = enclosing_function(statement, file)
    if function is None or any(file.text(n) == "cancel" for n in file.nodes("identifier", within=function)):
        return None
    left = statement.child_by_field_name("left")
    assert left is not None
    new_left = (
        file.text(left)[: blank.start_byte - left.start_byte]
        + "cancel"
        + file.text(left)[blank.end_byte - left.start_byte :]
    )
    deferred = "defer cancel(nil)" if constructor.endswith("WithCancelCause") else "defer cancel()"
    return Fix.replace(file, left, new_left, after=deferred)


def check(file: GoFile) -> Iterator[Report]:
    package = package_of(file)
    for call, constructor, bound in cancel_results(package, file):
        cancel = next((r for r in bound.results if r.shape is CANCEL), None)
        if cancel is None or file.text(cancel.target) != "_":
            continue
        parent = first_argument(call)
        context = _context_name(file, bound.results)
        parent_text = file.text(parent) if parent is not None else "its parent"
        if "Cancel" in constructor:
            held = f"{context} stays alive until `{parent_text}` is cancelled"
        else:
            held = f"{context} and its timer stay alive until the deadline, or until `{parent_text}` is cancelled"
        yield Report(
            node=call,
            message=f"The cancel function of {constructor} is discarded: {held}. Keep it and `defer cancel()`.",
            remediation=REMEDIATION,
            fix=_suggestion(file, bound.statement, cancel.target, constructor),
        )


def _context_name(file: GoFile, results: list[Result]) -> str:
    name = file.text(results[0].target) if results else "_"
    return f"`{name}`" if name != "_" else "the derived context"


RULE = Rule(
    id="GR203",
    name="cancel-discarded",
    severity=Severity.ERROR,
    doc=__doc__,
    check=check,
    imports=("context",),
    in_tests=False,
)
