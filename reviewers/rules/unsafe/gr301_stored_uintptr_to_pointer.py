"""GR301 stored-uintptr-to-pointer: `unsafe.Pointer(u)` of a pointer kept as a uintptr in a variable, field or parameter.

## What it does
Flags `unsafe.Pointer(u)` (or `unsafe.Pointer(u + off)`) where `u` is a `uintptr` held in a
local or package variable, a struct field or a parameter, and the code shows that `u`
holds the address of a Go object: it was assigned `uintptr(unsafe.Pointer(p))` (directly
or through arithmetic on such a variable) or the result of a `reflect.Value`'s
`Pointer()`/`UnsafeAddr()` (anywhere in the package, for a package variable or a field of
that type), or — for a parameter — a call of that function in the package passes it such a
conversion. The one-expression form `unsafe.Pointer(uintptr(p) + off)` is legal and is
GR303's (info), never this rule's.

Also flags, as a warning, `uintptr(unsafe.Pointer(u))` where `u` is a uintptr (a variable,
field or parameter the package types so): an integer converted to a pointer only to be
converted back, typically an address in another process or in memory the kernel maps.

## Why is this bad?
A `uintptr` is an integer: the garbage collector does not see it as a reference. Between
the conversion to `uintptr` and the conversion back, the object can be freed, or — when it
lives on a goroutine stack — moved by stack growth, and the new pointer points at whatever
is there now. The `unsafe` documentation allows the round trip only inside one expression
(`unsafe.Pointer(uintptr(p) + off)`) or for the arguments of a syscall.

The round trip changes no value, but `go vet` reports it, and with `-race` (or
`-d=checkptr`) the runtime checks every integer made a pointer: when it happens to fall
inside a Go allocation the program throws ("pointer arithmetic result points to invalid
allocation").

## Example
```go
base := uintptr(unsafe.Pointer(&buf[0]))
next := (*byte)(unsafe.Pointer(base + 1)) // base may be stale

desc := ioDesc{Offs: uintptr(unsafe.Pointer(offs))} // offs is a uintptr already
```

## Use instead
```go
base := unsafe.Pointer(&buf[0])
next := (*byte)(unsafe.Add(base, 1)) // the GC sees base

desc := ioDesc{Offs: offs}
```

## Fix safety
The round trip's suggestion drops it (`offs` for `uintptr(unsafe.Pointer(offs))`), when it
fits on one line and the file uses unsafe elsewhere (the import stays used). Otherwise no
suggestion: the variable must change type, which touches every use. A uintptr whose
origin the code does not show (a syscall result, a parameter no caller in the package
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
from ...rule import Fix, Report, Rule
from ...semantics import Binding, Package, package_of
from ...semantics.names import PARAMETER, RESULT, VARIABLE
from ...semantics.package import Declared
from ...semantics.types import UINTPTR
from ...syntax import call_method_name, descendants, expression_items, function_name, unparen
from ._helpers import (
    arguments_of,
    call_argument,
    has_directive,
    is_uintptr_conversion,
    left_spine,
    manages_memory_by_hand,
    pointer_to_uintptr,
    unsafe_local_name,
    unsafe_pointer_calls,
)

REMEDIATION = """\
base := unsafe.Pointer(&buf[0]) // keep a pointer: the GC sees it
next := (*byte)(unsafe.Add(base, 1))"""

ROUND_TRIP_REMEDIATION = """\
desc.Offs = offs // a uintptr already: no unsafe.Pointer(offs) on the way"""

KEEPALIVE_DIRECTIVES = ("//go:uintptrescapes", "//go:uintptrkeepalive")

Origin = tuple[GoFile, Node]  # where a uintptr got its pointer: the file, and the conversion (or call)


def _base(package: Package, file: GoFile, argument: Node) -> Node | None:
    """The uintptr the conversion starts from: `u` in `unsafe.Pointer(u + off)`; None for the
    one-expression form `uintptr(p) + off` (GR303)."""
    base, terms = left_spine(file, argument, ("+", "-", "&^"))
    if terms and terms[0][0] == "+" and is_uintptr_conversion(file, terms[0][1]):
        return None  # off + uintptr(p)
    if is_uintptr_conversion(file, base):
        inner = call_argument(base)
        if inner is None or package.type_of(file, inner) != UINTPTR:
            return None
        base = unparen(inner)
    return base if base.type in ("identifier", "selector_expression") else None


def _values(package: Package, binding: Binding) -> Iterator[tuple[GoFile, Node]]:
    """The values given to a variable, with their files: declarations, `=`, and the right
    side of `u += off`."""
    if binding.is_local:
        assigned = [(binding.file, a) for a in package.assignments(binding)]
    else:
        assigned = package.package_assignments(binding)
    for file, assignment in assigned:
        value, statement = assignment.value, assignment.statement
        if assignment.spread:
            continue
        if value is None and statement is not None and statement.type == "assignment_statement":
            items = expression_items(statement.child_by_field_name("right"))
            value = items[assignment.index] if assignment.index < len(items) else None
        if value is not None:
            yield file, value


def _tainted_origin(package: Package, binding: Binding, seen: set[int]) -> Origin | None:
    """The `uintptr(pointer)` that a variable was (transitively) assigned from."""
    seen.add(id(binding))
    for file, value in _values(package, binding):
        origin = pointer_to_uintptr(package, file, value)
        if origin is not None:
            return file, origin
        for identifier in [value, *descendants(value)]:
            other = package.binding(file, identifier) if identifier.type == "identifier" else None
            if (
                other is not None
                and id(other) not in seen
                and other.kind in (VARIABLE, PARAMETER, RESULT)
                and package.type_of(file, identifier) == UINTPTR
            ):
                found = _tainted_origin(package, other, seen)
                if found is not None:
                    return found
    return None


def _caller_origin(package: Package, parameter: Binding) -> Origin | None:
    """A call, in the package, that passes `uintptr(pointer)` as this parameter."""
    function, declaration = parameter.function, parameter.declaration
    if (
        function is None
        or declaration is None
        or function.type == "func_literal"
        or declaration.type == "variadic_parameter_declaration"
        or has_directive(parameter.file, function, KEEPALIVE_DIRECTIVES)
    ):
        return None
    parameters = package.facts.parameters(Declared(parameter.file, function))
    index = next((i for i, p in enumerate(parameters) if p is parameter), None)
    name = function_name(parameter.file, function)
    if index is None:
        return None
    for other in package.files:
        for call in other.nodes("call_expression"):
            if call_method_name(other, call) != name:
                continue  # the name first: spares resolving the callee of most calls
            values = arguments_of(call)
            callee = package.facts.callee(other, call) if len(values) == len(parameters) else None
            if (
                callee is not None
                and callee.node == function
                and pointer_to_uintptr(package, other, values[index]) is not None
            ):
                return other, call
    return None


def _field_stores(store: Node) -> list[tuple[Node | None, Node, Node]]:
    """(owner, field, value) for each field an assignment or a keyed literal element stores
    into: the owner is the selector's operand (`h` in `h.addr = v`) or the composite literal
    (`holder{addr: v}`)."""
    if store.type == "keyed_element":
        key, value = [
            c.named_children[0] if c.type == "literal_element" and c.named_children else c
            for c in store.named_children[:2]
        ]
        literal = store.parent.parent if store.parent is not None else None
        return [(literal, key, value)] if literal is not None and literal.type == "composite_literal" else []
    targets = expression_items(store.child_by_field_name("left"))
    values = expression_items(store.child_by_field_name("right"))
    return [
        (target.child_by_field_name("operand"), field, value)
        for target, value in zip(targets, values if len(values) == len(targets) else [])
        if target.type == "selector_expression" and (field := target.child_by_field_name("field")) is not None
    ]


def _field(package: Package, file: GoFile, owner: Node | None, field: Node) -> str | None:
    """`holder.addr`: a field named with the type that has it, when the model knows it."""
    owner_type = package.type_of(file, owner) if owner is not None else None
    return f"{owner_type.deref()}.{file.text(field)}" if owner_type is not None else None


def _field_origin(package: Package, file: GoFile, selector: Node, field: Node) -> Origin | None:
    """A store of `uintptr(pointer)` into this field (of this type), in the package."""
    wanted = _field(package, file, selector.child_by_field_name("operand"), field)
    name = file.text(field)
    for other in package.files if wanted is not None else []:
        if name.encode() not in other.source:
            continue
        for store in captures("[(assignment_statement) (keyed_element)] @store", other.root).get("store", []):
            for owner, stored, value in _field_stores(store):
                if (
                    other.text(stored) == name  # the name first: spares typing most stores
                    and _field(package, other, owner, stored) == wanted
                    and pointer_to_uintptr(package, other, value) is not None
                ):
                    return other, value
    return None


def _origin(package: Package, file: GoFile, base: Node) -> tuple[GoFile, Node, str] | None:
    """Where the uintptr got its pointer (file and node), and how to name what holds it."""
    if package.type_of(file, base) != UINTPTR:
        return None
    if base.type == "selector_expression":
        field = base.child_by_field_name("field")
        if field is None or file.text(field) == "Data":
            return None  # reflect.SliceHeader/StringHeader: GR302
        found = _field_origin(package, file, base, field)
        return (*found, "field") if found is not None else None
    binding = package.binding(file, base)
    if binding is None:
        return None
    if binding.kind == PARAMETER:
        found = _caller_origin(package, binding)
        return (*found, "parameter") if found is not None else None
    if binding.kind == VARIABLE:
        found = _tainted_origin(package, binding, set())
        holder = "variable" if binding.is_local else "package variable"
        return (*found, holder) if found is not None else None
    return None


def _round_trip(package: Package, file: GoFile, call: Node, argument: Node | None) -> Node | None:
    """`uintptr(unsafe.Pointer(u))` of a value the package types as a uintptr: the outer
    conversion, for a conversion there and back that only converts an integer to a pointer."""
    outer = file.parent(file.parent(call) or call)
    if argument is None or outer is None or not is_uintptr_conversion(file, outer):
        return None
    value = unparen(argument)
    if value.type not in ("identifier", "selector_expression") or package.type_of(file, value) != UINTPTR:
        return None
    return outer


def _fix_is_safe(file: GoFile, outer: Node) -> bool:
    """Dropping the round trip keeps the file compiling: it fits on one line and the file
    uses the unsafe package elsewhere too."""
    uses = file.source.count(f"{unsafe_local_name(file)}.".encode())
    return outer.start_point[0] == outer.end_point[0] and uses > 1


def check(file: GoFile) -> Iterator[Report]:
    if manages_memory_by_hand(file):
        return
    package = package_of(file)
    for call in unsafe_pointer_calls(file, file.root):
        argument = call_argument(call)
        outer = _round_trip(package, file, call, argument)
        if outer is not None and argument is not None:
            held = file.text(unparen(argument))
            yield Report(
                node=outer,
                message=(
                    f"`{file.text(outer)}` turns the uintptr `{held}` into a pointer and back: it changes nothing, "
                    f"but `go vet` reports it as a misuse of unsafe.Pointer, and under `-race` (checkptr) the "
                    f"runtime throws when `{held}` happens to fall inside a Go allocation. Use `{held}` as it is."
                ),
                remediation=ROUND_TRIP_REMEDIATION,
                fix=Fix.replace(file, outer, held) if _fix_is_safe(file, outer) else None,
                severity=Severity.WARNING,
            )
            continue
        base = _base(package, file, unparen(argument)) if argument is not None else None
        if base is None:
            continue
        found = _origin(package, file, base)
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
