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

from typing import Iterator

from ...finding import Severity
from ...gosource import GoFile, captures, matches
from ...rule import Fix, Report, Rule
from ...syntax import enclosing_function, enclosing_loops, qualified_name

DERIVING = frozenset(
    f"context.{name}"
    for name in ("WithCancel", "WithTimeout", "WithDeadline", "WithCancelCause", "WithTimeoutCause", "WithDeadlineCause")
)

ASSIGNMENTS = """
[(short_var_declaration left: (expression_list) @left right: (expression_list . (call_expression) @call .))
 (assignment_statement left: (expression_list) @left right: (expression_list . (call_expression) @call .))
 (var_spec name: (identifier) name: (identifier) @left value: (expression_list . (call_expression) @call .))] @statement
"""

REMEDIATION = """\
ctx, cancel := context.WithTimeout(parent, 10*time.Second)
defer cancel() // releases the timer and the parent's reference as soon as we return"""


def _names(file: GoFile, statement) -> list[str]:
    left = statement.child_by_field_name("left")
    if left is not None:
        return [file.text(n) for n in left.named_children]
    return [file.text(n) for n in statement.children_by_field_name("name")]


def _suggestion(file: GoFile, statement, constructor: str) -> Fix | None:
    if statement.type != "short_var_declaration" or statement.parent is None:
        return None
    if statement.parent.type != "statement_list" or enclosing_loops(statement):
        return None
    function = enclosing_function(statement)
    if function is None or any(file.text(n) == "cancel" for n in captures("(identifier) @id", function).get("id", [])):
        return None
    left = statement.child_by_field_name("left")
    blank = left.named_children[1]
    new_left = file.text(left)[: blank.start_byte - left.start_byte] + "cancel"
    deferred = "defer cancel(nil)" if constructor == "context.WithCancelCause" else "defer cancel()"
    return Fix.replace(file, left, new_left, after=deferred)


def check(file: GoFile) -> Iterator[Report]:
    for match in matches(ASSIGNMENTS, file.root):
        statement, call = match["statement"], match["call"]
        constructor = qualified_name(file, call)
        if constructor not in DERIVING:
            continue
        names = _names(file, statement)
        if len(names) != 2 or names[1] != "_":
            continue
        arguments = call.child_by_field_name("arguments")
        parent = file.text(arguments.named_children[0]) if arguments is not None and arguments.named_children else "its parent"
        context_name = f"`{names[0]}`" if names[0] != "_" else "the derived context"
        held = f"{context_name} and its timer stay" if "Cancel" not in constructor else f"{context_name} stays"
        yield Report(
            node=call,
            message=(
                f"The cancel function of {constructor} is discarded: {held} alive until `{parent}` is "
                "cancelled. Keep it and `defer cancel()`."
            ),
            remediation=REMEDIATION,
            fix=_suggestion(file, statement, constructor),
        )


RULE = Rule(
    id="GR203",
    name="cancel-discarded",
    severity=Severity.ERROR,
    doc=__doc__,
    check=check,
    imports=("context",),
)
