"""GR210 nil-context: `nil` passed where a context is expected.

## What it does
Flags `nil` given as:
- the parent of `context.WithCancel`, `WithTimeout`, `WithDeadline`, `WithValue`,
  `WithoutCancel`, their `*Cause` forms and `AfterFunc`;
- the first argument of a function or method of the package (or a function literal held by
  a variable) whose first parameter is declared a `context.Context` — by its type, whatever
  the function or the parameter is called — unless it only uses that context under
  `if ctx != nil`;
- the first argument of a function or method outside the package whose name ends in
  `Context` (`QueryContext`, `DialContext`, `http.NewRequestWithContext`, `r.WithContext`...),
  the library's convention for "takes a context first" — but not `New…Context`,
  `Set…Context` or `…With<Thing>Context` (`RetrieveWithCredContext`): those make, store or
  take a value of a type named `…Context`.

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
is a placeholder at worst. A method call counts as the package's when its receiver's type is
one of the package's types.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from tree_sitter import Node

from ...finding import Severity
from ...gosource import GoFile
from ...rule import Report, Rule
from ...semantics import Package, package_of
from ...semantics.contexts import DERIVING, DETACHING
from ...syntax import call_method_name, field_of, first_argument, qualified_name

CONSTRUCTORS = DERIVING | {DETACHING, "context.AfterFunc"}
_VALUE_OF_A_CONTEXT_TYPE = re.compile(r"With[A-Z]\w*Context$")

REMEDIATION = """\
rows, err := db.QueryContext(ctx, query) // the caller's context
// no context yet? context.TODO() marks the spot without panicking"""


def _may_be_the_packages(package: Package, file: GoFile, call: Node) -> bool:
    """A cheap test before resolving the callee: a function, or a method, of that name is
    declared in the package (or it is a local that may hold a literal)."""
    name = call_method_name(file, call)
    function = call.child_by_field_name("function")
    if name is None or function is None:
        return False
    if function.type == "selector_expression":
        return name in package.method_names
    return True


def _expects_context(package: Package, file: GoFile, call: Node) -> bool:
    """Whether the call's first parameter is a context: by its declared type for a function
    or method of the package, by the library's naming (`QueryContext`, `DialContext`)
    otherwise."""
    if qualified_name(file, call) in CONSTRUCTORS:
        return True
    callee = package.facts.callee(file, call) if _may_be_the_packages(package, file, call) else None
    if callee is not None:
        types = package.facts.parameter_types(callee)
        expects = bool(types) and types[0] is not None and types[0].is_named("context.Context")
        return expects and not package.facts.tolerates_nil(callee, 0)
    name = call_method_name(file, call)
    if name is None or not name.endswith("Context") or name == "Context":
        return False
    if name.endswith("WithContext"):  # `NewRequestWithContext`, `r.WithContext`
        return True
    # `NewEvalContext(...)` makes a thing called a context, `SetSecurityContext(...)` stores
    # one, `RetrieveWithCredContext(...)` takes a `*CredContext`: a type of that name, not a
    # context.Context.
    return not name.startswith(("New", "Set")) and _VALUE_OF_A_CONTEXT_TYPE.search(name) is None


def check(file: GoFile) -> Iterator[Report]:
    source = file.source
    package = package_of(file)
    for call in file.nodes("call_expression"):
        if source.find(b"nil", call.start_byte, call.end_byte) < 0:
            continue  # no `nil` argument in its text (most calls): spares reading its arguments
        argument = first_argument(call)
        if argument is None or argument.type != "nil" or not _expects_context(package, file, call):
            continue
        yield Report(
            node=call,
            message=(
                f"`nil` is passed as the context of `{file.text(field_of(call, 'function'))}`: it panics "
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
    in_tests=False,
)
