"""GR209 context-in-struct: a struct field of type `context.Context`.

## What it does
Flags a named struct field whose type is `context.Context`. An embedded `context.Context`
(a type that wraps a context to be one) is not flagged, nor is a struct that also keeps the
context's `context.CancelFunc`: it owns that context's lifetime (a server or worker whose
`Close` cancels its own work), nor a carrier whose method returns the field as its
`context.Context` (`func (s *serverStream) Context() context.Context { return s.ctx }`, a
connection that knows its request's context): keeping it is what the type is for.

## Why is this bad?
A context belongs to one call: its deadline and cancellation describe that operation.
Stored in a struct, it outlives the call that created it and is used by later calls it
says nothing about — or it is already cancelled when they run — and readers can no longer
see which context an operation runs on. The `context` package asks to pass it explicitly,
as the first parameter.

## Example
```go
type Worker struct {
    ctx context.Context
}

func (w *Worker) Fetch(url string) error {
    req, err := http.NewRequestWithContext(w.ctx, "GET", url, nil)
    ...
}
```

## Use instead
```go
type Worker struct{}

func (w *Worker) Fetch(ctx context.Context, url string) error {
    req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
    ...
}
```

## Fix safety
No suggestion. Information only: request-scoped carriers without such a method are
legitimate exceptions that syntax cannot tell apart.
"""

from __future__ import annotations

from collections.abc import Iterator

from ...finding import Severity
from ...gosource import GoFile
from ...rule import Report, Rule
from ...semantics import package_of
from ...semantics.contexts import hands_out_context
from ...syntax import ancestors, field_of, qualified_name, type_is

CANCEL_TYPES = frozenset({"context.CancelFunc", "context.CancelCauseFunc"})

REMEDIATION = """\
// Pass the context to each call instead of keeping it.
func (w *Worker) Fetch(ctx context.Context, url string) error"""


def _owns_cancel(file: GoFile, field) -> bool:
    """Whether the struct also keeps the cancel function of its context: it owns that
    context's lifetime (a server cancelling its own work on Close)."""
    for sibling in field.parent.named_children if field.parent is not None else []:
        type_node = sibling.child_by_field_name("type")
        if type_node is not None and qualified_name(file, type_node) in CANCEL_TYPES:
            return True
    return False


def check(file: GoFile) -> Iterator[Report]:
    for field in file.nodes("field_declaration"):
        names = [file.text(n) for n in field.children_by_field_name("name")]
        type_node = field.child_by_field_name("type")
        if not names or type_node is None or not type_is(file, type_node, "context.Context"):
            continue
        if _owns_cancel(file, field):
            continue
        spec = next((a for a in ancestors(field, file) if a.type == "type_spec"), None)
        type_name = file.text(field_of(spec, "name")) if spec is not None else None
        if type_name is not None and any(hands_out_context(package_of(file), type_name, name) for name in names):
            continue  # a carrier: its Context() hands the stored context to its users
        owner = f" of `{type_name}`" if type_name is not None else ""
        yield Report(
            node=field,
            message=(
                f"{'Fields' if len(names) > 1 else 'Field'} `{'`, `'.join(names)}`{owner} "
                f"{'store' if len(names) > 1 else 'stores'} a context.Context: it outlives the call it belongs to. "
                "Pass the context as the first parameter of each method instead."
            ),
            remediation=REMEDIATION,
        )


RULE = Rule(
    id="GR209",
    name="context-in-struct",
    severity=Severity.INFO,
    doc=__doc__,
    check=check,
    imports=("context",),
    in_tests=False,
)
