"""GR301 stored-uintptr-to-pointer: `unsafe.Pointer(u)` of a pointer kept as a uintptr in a variable, field or parameter.

## What it does
Flags `unsafe.Pointer(u)` (or `unsafe.Pointer(u + off)`) where `u` is a `uintptr` held in a
local or package variable, a struct field or a parameter, and the syntax shows that `u`
holds the address of a Go object: it was assigned `uintptr(unsafe.Pointer(p))` (directly
or through arithmetic on such a variable) or the result of a `reflect.Value`'s
`Pointer()`/`UnsafeAddr()`, or — for a parameter — a caller in the package passes it such a
conversion. The one-expression form `unsafe.Pointer(uintptr(p) + off)` is legal and is
GR303's (info), never this rule's.

## Why is this bad?
A `uintptr` is an integer: the garbage collector does not see it as a reference. Between
the conversion to `uintptr` and the conversion back, the object can be freed, or — when it
lives on a goroutine stack — moved by stack growth, and the new pointer points at whatever
is there now. The `unsafe` documentation allows the round trip only inside one expression
(`unsafe.Pointer(uintptr(p) + off)`) or for the arguments of a syscall.

## Example
```go
base := uintptr(unsafe.Pointer(&buf[0]))
next := (*byte)(unsafe.Pointer(base + 1)) // base may be stale
```

## Use instead
```go
base := unsafe.Pointer(&buf[0])
next := (*byte)(unsafe.Add(base, 1)) // the GC sees base
```

## Fix safety
No suggestion: the variable must change type, which touches every use. A uintptr whose
origin the syntax does not show (a syscall result, a parameter no caller in the package
fills from a pointer, memory the runtime manages by hand) is not reported: such integers
often address memory the garbage collector does not manage. A parameter of a function
marked `//go:uintptrescapes` or `//go:uintptrkeepalive` is kept alive by the compiler and
is not reported either.
"""

from __future__ import annotations

from collections.abc import Iterator

from tree_sitter import Node

from ...finding import Severity
from ...gosource import GoFile, captures
from ...rule import Report, Rule
from ...syntax import FUNCTION_TYPES, ancestors, call_method_name, descendants, function_name, parameters
from ._helpers import (
    UINTPTR,
    arguments_of,
    assigned_values,
    bindings,
    call_argument,
    expression_type,
    field_types,
    has_directive,
    is_uintptr_conversion,
    left_spine,
    manages_memory_by_hand,
    pointer_to_uintptr,
    unparen,
    unsafe_pointer_calls,
)

REMEDIATION = """\
base := unsafe.Pointer(&buf[0]) // keep a pointer: the GC sees it
next := (*byte)(unsafe.Add(base, 1))"""

KEEPALIVE_DIRECTIVES = ("//go:uintptrescapes", "//go:uintptrkeepalive")


def _base(file: GoFile, argument: Node) -> Node | None:
    """The uintptr the conversion starts from: `u` in `unsafe.Pointer(u + off)`; None for the
    one-expression form `uintptr(p) + off` (GR303)."""
    base, terms = left_spine(file, argument, ("+", "-", "&^"))
    if terms and terms[0][0] == "+" and is_uintptr_conversion(file, terms[0][1]):
        return None  # off + uintptr(p)
    if is_uintptr_conversion(file, base):
        inner = unparen(call_argument(base))
        if expression_type(file, inner) != UINTPTR:
            return None
        base = inner
    return base if base.type in ("identifier", "selector_expression") else None


def _tainted_origin(file: GoFile, scope: Node, name: str, seen: set[str]) -> Node | None:
    """The `uintptr(pointer)` that a local name was (transitively) assigned from."""
    seen.add(name)
    for value in assigned_values(file, scope, name):
        origin = pointer_to_uintptr(file, value)
        if origin is not None:
            return origin
        for identifier in [value, *descendants(value)]:
            if (
                identifier.type == "identifier"
                and file.text(identifier) not in seen
                and expression_type(file, identifier) == UINTPTR
            ):
                origin = _tainted_origin(file, scope, file.text(identifier), seen)
                if origin is not None:
                    return origin
    return None


def _caller_origin(file: GoFile, function: Node, name: str) -> tuple[GoFile, Node] | None:
    """A call, in the package, that passes `uintptr(pointer)` as parameter `name`."""
    if function.type == "func_literal" or has_directive(file, function, KEEPALIVE_DIRECTIVES):
        return None
    params = parameters(function, file)
    index = next((i for i, p in enumerate(params) if p.name == name), None)
    callee = function_name(file, function)
    if index is None or params[index].type_node.parent.type == "variadic_parameter_declaration":
        return None
    for other in file.package_files:
        for call in other.nodes("call_expression"):
            if call_method_name(other, call) != callee:
                continue
            values = arguments_of(call)
            if len(values) == len(params) and pointer_to_uintptr(other, values[index]) is not None:
                return other, call
    return None


def _field_origin(file: GoFile, field: str) -> tuple[GoFile, Node] | None:
    """A store of `uintptr(pointer)` into a field of that name, in the package."""
    for other in file.package_files:
        for node in captures("[(assignment_statement) (keyed_element)] @store", other.root).get("store", []):
            if node.type == "keyed_element":
                key, value = ([*node.named_children, None, None])[:2]
                targets = [
                    key.named_children[0]
                    if key is not None and key.type == "literal_element" and key.named_children
                    else key
                ]
                values = [
                    value.named_children[0]
                    if value is not None and value.type == "literal_element" and value.named_children
                    else value
                ]
            else:
                targets = node.child_by_field_name("left").named_children
                values = node.child_by_field_name("right").named_children
            for target, value in zip(targets, values):
                if target is None or value is None:
                    continue
                stored = (
                    other.text(target)
                    if target.type in ("identifier", "field_identifier")
                    else (
                        other.text(target.child_by_field_name("field"))
                        if target.type == "selector_expression"
                        else None
                    )
                )
                if stored == field and pointer_to_uintptr(other, value) is not None:
                    return other, value
    return None


def _origin(file: GoFile, base: Node) -> tuple[GoFile, Node, str] | None:
    """Where the uintptr got its pointer (file and node), and how to name what holds it."""
    if base.type == "selector_expression":
        field = file.text(base.child_by_field_name("field"))
        if field == "Data":
            return None  # reflect.SliceHeader/StringHeader: GR302
        origin = _field_origin(file, field) if field_types(file, field) == [UINTPTR] else None
        return (*origin, "field") if origin is not None else None
    found = bindings(file, base)
    if not found or any(expression_type(file, b.name) != UINTPTR for b in found):
        return None
    name = file.text(base)
    kinds = {b.kind for b in found}
    if kinds == {"parameter"}:
        function = next(a for a in ancestors(found[0].name) if a.type in FUNCTION_TYPES)
        origin = _caller_origin(file, function, name)
        return (*origin, "parameter") if origin is not None else None
    if kinds <= {"variable"}:
        scope = next((a for a in ancestors(found[0].name) if a.type in FUNCTION_TYPES), None)
        origin = _tainted_origin(file, scope, name, set()) if scope is not None else None
        return (file, origin, "variable") if origin is not None else None
    if kinds == {"package"}:
        origin = _tainted_origin(file, file.root, name, set())
        return (file, origin, "package variable") if origin is not None else None
    return None


def check(file: GoFile) -> Iterator[Report]:
    if manages_memory_by_hand(file):
        return
    for call in unsafe_pointer_calls(file, file.root):
        base = _base(file, unparen(call_argument(call)))
        if base is None:
            continue
        found = _origin(file, base)
        if found is None:
            continue
        origin_file, origin, holder = found
        held = file.text(base)
        if origin_file is not file:
            where = f" ({origin_file.path}:{origin_file.line(origin)})"
        else:
            where = "" if origin.start_point[0] == call.start_point[0] else f" (line {file.line(origin)})"
        yield Report(
            node=call,
            message=(
                f"`{file.text(call)}` turns the {holder} `{held}` back into a pointer, but `{held}` is a uintptr "
                f"holding the address from `{origin_file.text(origin)}`{where}: the GC does not see it, so the object "
                "may have been freed or moved. Keep an unsafe.Pointer and use unsafe.Add(p, off)."
            ),
            remediation=REMEDIATION,
        )


RULE = Rule(
    id="GR301",
    name="stored-uintptr-to-pointer",
    severity=Severity.ERROR,
    doc=__doc__,
    check=check,
    imports=("unsafe",),
)
