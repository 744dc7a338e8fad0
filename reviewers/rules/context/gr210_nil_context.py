"""GR210 nil-context: `nil` passed where a context is expected.

## What it does
Flags `nil` given as:
- the parent of `context.WithCancel`, `WithTimeout`, `WithDeadline`, `WithValue`,
  `WithoutCancel`, their `*Cause` forms and `AfterFunc`;
- the first argument of a function or method whose name ends in `Context`
  (`QueryContext`, `DialContext`, `http.NewRequestWithContext`, `r.WithContext`...);
- the first argument of a function (or method) of the same package whose first parameter
  is a `context.Context`.

## Why is this bad?
The `context` constructors panic on a nil parent (`cannot create context from nil
parent`), `NewRequestWithContext` returns an error, and any callee that calls
`ctx.Done()`, `ctx.Err()` or `ctx.Value()` panics with a nil dereference — at run time,
on the path that was not tested.

## Example
```go
rows, err := db.QueryContext(nil, "SELECT id FROM users")
```

## Use instead
```go
rows, err := db.QueryContext(ctx, "SELECT id FROM users")
// or, when there is truly no context yet:
rows, err := db.QueryContext(context.TODO(), "SELECT id FROM users")
```

## Fix safety
No suggestion: the right context is the caller's, which syntax cannot name; `context.TODO()`
is a placeholder at worst. A method of the same package counts only when every method of
that name in the package takes a context first.
"""

from __future__ import annotations

from collections.abc import Iterator

from tree_sitter import Node

from ...finding import Severity
from ...gosource import GoFile
from ...rule import Report, Rule
from ...semantics.contexts import DERIVING, DETACHING
from ...syntax import call_method_name, first_argument, parameters, qualified_name, type_is

CONSTRUCTORS = DERIVING | {DETACHING, "context.AfterFunc"}

REMEDIATION = """\
rows, err := db.QueryContext(ctx, query) // the caller's context
// no context yet? context.TODO() marks the spot without panicking"""


def _context_first_functions(file: GoFile) -> tuple[frozenset[str], frozenset[str]]:
    """(functions, methods) of the package whose first parameter is a context.Context; a
    method name counts only when all its declarations take a context first."""
    functions: set[str] = set()
    methods: dict[str, bool] = {}
    for other in file.package_files:
        for declaration in other.nodes("function_declaration") + other.nodes("method_declaration"):
            params = parameters(declaration, other)
            takes = bool(params) and type_is(other, params[0].type_node, "context.Context")
            name = other.text(declaration.child_by_field_name("name"))
            if declaration.type == "function_declaration" and takes:
                functions.add(name)
            elif declaration.type == "method_declaration":
                methods[name] = methods.get(name, True) and takes
    return frozenset(functions), frozenset(name for name, takes in methods.items() if takes)


def _expects_context(file: GoFile, call: Node) -> bool:
    if qualified_name(file, call) in CONSTRUCTORS:
        return True
    name = call_method_name(file, call)
    if name is None:
        return False
    if name.endswith("Context") and name != "Context":
        return True
    functions, methods = file.package_cached("gr210-context-first", lambda: _context_first_functions(file))
    function = call.child_by_field_name("function")
    if function.type == "identifier":
        return name in functions
    operand = function.child_by_field_name("operand")
    is_package = (
        operand is not None and operand.type == "identifier" and file.package_path(file.text(operand)) is not None
    )
    return not is_package and name in methods


def check(file: GoFile) -> Iterator[Report]:
    source = file.source
    for call in file.nodes("call_expression"):
        if source.find(b"nil", call.start_byte, call.end_byte) < 0:
            continue  # no `nil` argument in its text (most calls): spares reading its arguments
        argument = first_argument(call)
        if argument is None or argument.type != "nil" or not _expects_context(file, call):
            continue
        yield Report(
            node=call,
            message=(
                f"`nil` is passed as the context of `{file.text(call.child_by_field_name('function'))}`: it panics "
                "as soon as the context is used. Pass the caller's `ctx` (`context.TODO()` at worst)."
            ),
            remediation=REMEDIATION,
        )


RULE = Rule(
    id="GR210",
    name="nil-context",
    severity=Severity.ERROR,
    doc=__doc__,
    check=check,
)
