"""GR108 loop-variable-capture: a goroutine closure captures the loop variable (before Go 1.22).

## What it does
Flags a `go func() {...}()` started inside a `for` loop whose body uses a variable the loop
declares (`for i := ...`, `for k, v := range ...`) without receiving it as an argument or
re-declaring it (`v := v`) first. Only when the module's `go.mod` says `go 1.21` or older;
silent from 1.22, and silent when the version is unknown. The `go` line is reported. A
closure assigned to a variable in the loop and started with `go f()` is followed too.

## Why is this bad?
Before Go 1.22 a loop variable is one variable for the whole loop. Every goroutine captures
the same one and reads it whenever it runs — usually after the loop has moved on — so they
all see the last value (or a value half-way through), and the race detector reports a data
race. Since Go 1.22 each iteration has its own variable, which is why the rule reads the
module's `go` directive.

## Example
```go
for _, item := range items {
    go func() {
        process(item) // every goroutine may see the last item
    }()
}
```

## Use instead
```go
for _, item := range items {
    go func(item Item) {
        process(item)
    }(item)
}
```
or raise the module to `go 1.22`.

## Fix safety
No suggestion: the parameter needs the variable's type, which syntax does not always show.
"""

from __future__ import annotations

from collections.abc import Iterator

from tree_sitter import Node

from ...finding import Severity
from ...goroutines import Goroutine, goroutines
from ...gosource import GoFile, captures
from ...rule import Report, Rule
from ...syntax import enclosing_loops, field_of, is_inside

REMEDIATION = """\
for _, item := range items {
    go func(item Item) { // its own copy, whatever the Go version
        process(item)
    }(item)
}"""


def _loop_variables(file: GoFile, loop: Node) -> list[str]:
    """The variables a `for` declares with `:=`."""
    for clause in loop.named_children:
        if clause.type == "range_clause" and clause.children and any(c.type == ":=" for c in clause.children):
            left = clause.child_by_field_name("left")
            return [file.text(n) for n in (left.named_children if left is not None else []) if file.text(n) != "_"]
        if clause.type == "for_clause":
            initializer = clause.child_by_field_name("initializer")
            if initializer is not None and initializer.type == "short_var_declaration":
                return [file.text(n) for n in field_of(initializer, "left").named_children if file.text(n) != "_"]
    return []


def _redeclared(file: GoFile, name: str, loop: Node, closure: Node) -> bool:
    """`v := v` (or any `:=` of `v`) in the loop body before the closure: a per-iteration copy."""
    body = loop.child_by_field_name("body")
    for declaration in captures("(short_var_declaration) @d", body).get("d", []) if body is not None else []:
        if declaration.start_byte >= closure.start_byte or is_inside(closure, declaration):
            continue
        if any(file.text(n) == name for n in field_of(declaration, "left").named_children):
            return True
    return False


def _captured(file: GoFile, goroutine: Goroutine, closure: Node) -> tuple[str, Node] | None:
    """A variable of a loop around `closure` (the goroutine's body) that the closure uses as
    the loop's own (not a parameter, not re-declared first), with that loop."""
    used = {file.text(n) for n in captures("(identifier) @id", field_of(closure, "body")).get("id", [])}
    for loop in enclosing_loops(closure, file=file):
        for name in _loop_variables(file, loop):
            if name in used and name not in goroutine.hidden and not _redeclared(file, name, loop, closure):
                return name, loop
    return None


def check(file: GoFile) -> Iterator[Report]:
    if file.go_version is None or file.go_version >= (1, 22):
        return
    version = ".".join(map(str, file.go_version))
    for goroutine in goroutines(file):
        closure = goroutine.body if goroutine.is_closure else None
        captured = _captured(file, goroutine, closure) if closure is not None else None
        if captured is None:
            continue
        name, loop = captured
        yield Report(
            node=goroutine.statement,
            message=(
                f"This goroutine's closure captures `{name}`, the variable of the `for` at line {file.line(loop)}: "
                f"with `go {version}` in go.mod all iterations share it, so the goroutines may all see the last value. "
                f"Pass it as an argument (`go func({name} T) {{...}}({name})`) or raise go.mod to 1.22."
            ),
            remediation=REMEDIATION,
        )


RULE = Rule(
    id="GR108",
    name="loop-variable-capture",
    severity=Severity.WARNING,
    doc=__doc__,
    check=check,
    in_tests=False,
)
