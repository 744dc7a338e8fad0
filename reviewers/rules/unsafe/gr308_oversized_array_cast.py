"""GR308 oversized-array-cast: a pointer cast to a huge array type to make a slice.

## What it does
Flags `(*[1 << 30]T)(unsafe.Pointer(p))[:n:n]` and its relatives: an unsafe.Pointer
converted to a pointer to an array whose constant length is 1<<16 or more, then sliced —
directly or through the variable it was assigned to. A cast to an array of the pointee's
own type (`(*[1 << 20]byte)(unsafe.Pointer(&table))` where `table` is a `[1 << 20]byte`) is
fine and not reported.

## Why is this bad?
The array length is a lie told to the compiler: the memory holds `n` elements, not 2^30.
Every index and slice bound is checked against the fake length, so an off-by-one reads or
writes past the real data instead of panicking, and `[:n]` without the third index gives a
capacity that lets `append` scribble over whatever follows. On 32-bit platforms the type
may not even fit in the address space ("type too large").

## Example
```go
s := (*[1 << 30]C.int)(unsafe.Pointer(p))[:n:n]
```

## Use instead
```go
s := unsafe.Slice((*C.int)(unsafe.Pointer(p)), n) // Go 1.17: length and capacity n
```

## Fix safety
The suggestion rewrites `(*[N]T)(p)[:n:n]` (or `[0:n:n]`) to `unsafe.Slice((*T)(p), n)`,
which gives the same slice. It is offered only for that full slice expression, when the
module's Go version is 1.17 or later (or unknown), and `p` is visibly an unsafe.Pointer.
A `[:n]` form changes capacity, so it gets no suggestion. An array length made of names
the package does not declare as constants cannot be evaluated and is not reported.
"""

from __future__ import annotations

from collections.abc import Iterator

from tree_sitter import Node

from ...finding import Severity
from ...gosource import GoFile
from ...rule import Fix, Report, Rule
from ...syntax import FUNCTION_TYPES, ancestors, descendants, unparen
from ._helpers import (
    bindings,
    call_argument,
    is_pointer_expression,
    is_unsafe_pointer_call,
    package_bindings,
    type_name,
    unsafe_local_name,
)

THRESHOLD = 1 << 16

REMEDIATION = """\
s := unsafe.Slice((*T)(unsafe.Pointer(p)), n) // the real length, checked"""

OPERATORS = {
    "<<": lambda a, b: a << b,
    ">>": lambda a, b: a >> b,
    "*": lambda a, b: a * b,
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "/": lambda a, b: a // b if b else None,
}


def constant_value(file: GoFile, node: Node, depth: int = 0) -> int | None:
    """The value of an integer constant expression made of literals, operators and the
    package's constants; None when it cannot be told."""
    node = unparen(node)
    if depth > 8:
        return None
    if node.type == "int_literal":
        try:
            return int(file.text(node).replace("_", ""), 0)
        except ValueError:
            return None
    if node.type == "binary_expression":
        operator = OPERATORS.get(file.text(node.child_by_field_name("operator")))
        left = constant_value(file, node.child_by_field_name("left"), depth + 1)
        right = constant_value(file, node.child_by_field_name("right"), depth + 1)
        if operator is None or left is None or right is None or right > 4096:
            return None
        return operator(left, right)
    if node.type == "identifier":
        found = [b for b in package_bindings(file, file.text(node)) if b.kind == "constant"]
        if len(found) == 1 and found[0].value is not None:
            return constant_value(file, found[0].value, depth + 1)
    return None


def _array_type(type_node: Node) -> Node | None:
    """The array type of `(*[N]T)`."""
    while type_node.type == "parenthesized_type":
        type_node = type_node.named_children[0]
    if type_node.type != "pointer_type":
        return None
    inner = type_node.named_children[0]
    while inner.type == "parenthesized_type":
        inner = inner.named_children[0]
    return inner if inner.type == "array_type" else None


def _own_size(file: GoFile, operand: Node, array: Node) -> bool:
    """`unsafe.Pointer(&x)` where `x` is declared with that very array type."""
    if not is_unsafe_pointer_call(file, operand):
        return False
    address = unparen(call_argument(unparen(operand)))
    if address.type != "unary_expression" or not file.text(address).startswith("&"):
        return False
    target = unparen(address.child_by_field_name("operand"))
    if target.type != "identifier":
        return False
    spelled = {type_name(file, b.type_node) for b in bindings(file, target)}
    return spelled == {type_name(file, array)}


def _slicing(file: GoFile, conversion: Node) -> Node | None:
    """The slice expression cutting the converted array: on the conversion itself, or on the
    variable it was assigned to (`arr := (*[1<<20]T)(p); s := arr[:n]`)."""
    parent = conversion.parent
    while parent is not None and parent.type == "parenthesized_expression":
        parent = parent.parent
    if parent is not None and parent.type == "slice_expression":
        return parent
    if parent is None or parent.type != "expression_list" or parent.parent is None:
        return None
    statement = parent.parent
    if statement.type not in ("short_var_declaration", "assignment_statement") or len(parent.named_children) != 1:
        return None
    left = statement.child_by_field_name("left")
    name = file.text(left.named_children[0]) if left is not None and len(left.named_children) == 1 else None
    function = next((a for a in ancestors(statement) if a.type in FUNCTION_TYPES), None)
    if name is None or function is None:
        return None
    return next(
        (
            n
            for n in descendants(function)
            if n.type == "slice_expression"
            and file.text(unparen(n.child_by_field_name("operand"))) == name
            and n.start_byte > statement.end_byte
        ),
        None,
    )


def _suggestion(file: GoFile, conversion: Node, slicing: Node, array: Node) -> Fix | None:
    if slicing.child_by_field_name("operand") is None or unparen(slicing.child_by_field_name("operand")) != conversion:
        return None
    if file.go_version is not None and file.go_version < (1, 17):
        return None
    start, end, capacity = (slicing.child_by_field_name(f) for f in ("start", "end", "capacity"))
    if end is None or capacity is None or file.text(end) != file.text(capacity):
        return None
    if start is not None and file.text(start) != "0":
        return None
    operand = conversion.child_by_field_name("operand")
    if not is_pointer_expression(file, operand):
        return None
    element = file.text(array.child_by_field_name("element"))
    return Fix.replace(
        file, slicing, f"{unsafe_local_name(file)}.Slice((*{element})({file.text(operand)}), {file.text(end)})"
    )


def check(file: GoFile) -> Iterator[Report]:
    for conversion in file.nodes("type_conversion_expression"):
        array = _array_type(conversion.child_by_field_name("type"))
        operand = conversion.child_by_field_name("operand")
        if array is None or operand is None or not is_pointer_expression(file, operand):
            continue
        length = constant_value(file, array.child_by_field_name("length"))
        if length is None or length < THRESHOLD or _own_size(file, operand, array):
            continue
        slicing = _slicing(file, conversion)
        if slicing is None:
            continue
        element = file.text(array.child_by_field_name("element"))
        bound = file.text(slicing.child_by_field_name("end")) if slicing.child_by_field_name("end") is not None else "n"
        yield Report(
            node=conversion,
            message=(
                f"`{file.text(conversion)}` views `{file.text(operand)}` as an array of {length} elements (`{element}`) to make "
                f"a slice: bounds are checked against that fake length, not the real one. Use "
                f"`unsafe.Slice((*{element})({file.text(operand)}), {bound})`."
            ),
            remediation=REMEDIATION,
            fix=_suggestion(file, conversion, slicing, array),
        )


RULE = Rule(
    id="GR308",
    name="oversized-array-cast",
    severity=Severity.WARNING,
    doc=__doc__,
    check=check,
    imports=("unsafe",),
)
