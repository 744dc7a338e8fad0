"""GR308 oversized-array-cast: a pointer cast to a huge array type to make a slice.

## What it does
Flags `(*[1 << 30]T)(unsafe.Pointer(p))[:n:n]` and its relatives: an unsafe.Pointer
converted to a pointer to an array whose constant length is 1<<16 or more, then sliced —
directly or through the variable it was assigned to. A cast to an array of the pointee's
own type (`(*[1 << 20]byte)(unsafe.Pointer(&table))` where `table` is a `[1 << 20]byte`) is
fine and not reported.

Whatever the length, it also flags a pointer into a Go array or slice (`&b[0]`, `&s.path[0]`)
made a constant-length array and cut with two indexes to a length the code computes:
`(*[4096]byte)(unsafe.Pointer(&s.path[0]))[0:n]`.

## Why is this bad?
The array length is a lie told to the compiler: the memory holds `n` elements, not 2^30.
Every index and slice bound is checked against the fake length, so an off-by-one reads or
writes past the real data instead of panicking, and `[:n]` without the third index gives a
capacity that lets `append` scribble over whatever follows. On 32-bit platforms the type
may not even fit in the address space ("type too large").

With `-race` (or `-d=checkptr`) the runtime checks each such conversion: the whole array
must lie in one allocation. The compiler checks a three-index slice `[lo:n:m]` against its
capacity `m`, but a two-index one against all the array's elements, so a pointer into a Go
object shorter than the array throws ("converted pointer straddles multiple allocations").

## Example
```go
s := (*[1 << 30]C.int)(unsafe.Pointer(p))[:n:n]
```

```go
name := (*[4096]byte)(unsafe.Pointer(&sa.path[0]))[0:n] // sa.path has 108 bytes
```

## Use instead
```go
s := unsafe.Slice((*C.int)(unsafe.Pointer(p)), n) // Go 1.17: length and capacity n

name := unsafe.Slice((*byte)(unsafe.Pointer(&sa.path[0])), n)
```

## Fix safety
The suggestion rewrites `(*[N]T)(p)[:n:n]` (or `[0:n:n]`) to `unsafe.Slice((*T)(p), n)`,
which gives the same slice. It is offered only for that full slice expression, when the
module's Go version is 1.17 or later (or unknown), and `p` is visibly an unsafe.Pointer.
A `[:n]` form changes capacity, so it gets no suggestion; nor does a pointer into a Go
object. A constant cut (`[:]`, `[:4]`) of such a pointer says the code means that many
elements, and is not reported below 1<<16. An array length made of names
the package does not declare as constants cannot be evaluated and is not reported.
"""

from __future__ import annotations

from collections.abc import Iterator

from tree_sitter import Node

from ...finding import Severity
from ...gosource import GoFile
from ...rule import Fix, Report, Rule
from ...semantics import Package, package_of
from ...semantics.names import CONSTANT
from ...syntax import expression_items, unparen
from ._helpers import call_argument, is_pointer_expression, is_unsafe_pointer_call, unsafe_local_name

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


def constant_value(package: Package, file: GoFile, node: Node | None, depth: int = 0) -> int | None:
    """The value of an integer constant expression made of literals, operators and constants
    the package declares; None when it cannot be told."""
    node = unparen(node) if node is not None else None
    if node is None or depth > 8:
        return None
    if node.type == "int_literal":
        try:
            return int(file.text(node).replace("_", ""), 0)
        except ValueError:
            return None
    if node.type == "binary_expression":
        operator_node = node.child_by_field_name("operator")
        operator = OPERATORS.get(file.text(operator_node)) if operator_node is not None else None
        left = constant_value(package, file, node.child_by_field_name("left"), depth + 1)
        right = constant_value(package, file, node.child_by_field_name("right"), depth + 1)
        if operator is None or left is None or right is None or right > 4096:
            return None
        return operator(left, right)
    if node.type == "identifier":
        binding = package.binding(file, node)
        if binding is not None and binding.kind == CONSTANT and not binding.spread:
            return constant_value(package, binding.file, binding.value, depth + 1)
    return None


def _array_type(type_node: Node | None) -> Node | None:
    """The array type of `(*[N]T)`."""
    while type_node is not None and type_node.type == "parenthesized_type" and type_node.named_children:
        type_node = type_node.named_children[0]
    if type_node is None or type_node.type != "pointer_type" or not type_node.named_children:
        return None
    inner = type_node.named_children[0]
    while inner.type == "parenthesized_type" and inner.named_children:
        inner = inner.named_children[0]
    return inner if inner.type == "array_type" else None


def _own_size(package: Package, file: GoFile, conversion: Node, operand: Node) -> bool:
    """`unsafe.Pointer(&x)` where `x` has the very array type converted to."""
    address = call_argument(unparen(operand)) if is_unsafe_pointer_call(file, operand) else None
    address = unparen(address) if address is not None else None
    target = (
        address.child_by_field_name("operand") if address is not None and address.type == "unary_expression" else None
    )
    if address is None or target is None or not file.text(address).startswith("&"):
        return False
    converted = package.type_of(file, conversion)
    return converted is not None and converted.elem is not None and package.type_of(file, target) == converted.elem


def _slicing(package: Package, file: GoFile, conversion: Node) -> Node | None:
    """The slice expression cutting the converted array: on the conversion itself, or on the
    variable it was assigned to (`arr := (*[1<<20]T)(p); s := arr[:n]`)."""
    parent = conversion.parent
    while parent is not None and parent.type == "parenthesized_expression":
        parent = parent.parent
    if parent is not None and parent.type == "slice_expression":
        return parent
    statement = parent.parent if parent is not None and parent.type == "expression_list" else None
    if statement is None or statement.type not in ("short_var_declaration", "assignment_statement"):
        return None
    targets = expression_items(statement.child_by_field_name("left"))
    if len(targets) != 1 or len(expression_items(parent)) != 1 or targets[0].type != "identifier":
        return None
    variable = package.binding(file, targets[0])
    for reference in package.references(variable) if variable is not None else []:
        sliced = reference.parent
        if (
            sliced is not None
            and sliced.type == "slice_expression"
            and sliced.child_by_field_name("operand") == reference
            and reference.start_byte > statement.end_byte
        ):
            return sliced
    return None


def _suggestion(file: GoFile, conversion: Node, operand: Node, slicing: Node, element: str) -> Fix | None:
    """`unsafe.Slice((*T)(p), n)` for `(*[N]T)(p)[:n:n]` (or `[0:n:n]`): the same slice."""
    sliced = slicing.child_by_field_name("operand")
    if sliced is None or unparen(sliced) != conversion:
        return None
    if file.go_version is not None and file.go_version < (1, 17):
        return None
    start, end, capacity = (slicing.child_by_field_name(f) for f in ("start", "end", "capacity"))
    if end is None or capacity is None or file.text(end) != file.text(capacity):
        return None
    if start is not None and file.text(start) != "0":
        return None
    return Fix.replace(
        file, slicing, f"{unsafe_local_name(file)}.Slice((*{element})({file.text(operand)}), {file.text(end)})"
    )


def _element_address(file: GoFile, operand: Node) -> Node | None:
    """`b` in `unsafe.Pointer(&b[i])`: a pointer into a Go array or slice."""
    address = call_argument(unparen(operand)) if is_unsafe_pointer_call(file, operand) else None
    address = unparen(address) if address is not None else None
    if address is None or address.type != "unary_expression" or not file.text(address).startswith("&"):
        return None
    target = address.child_by_field_name("operand")
    target = unparen(target) if target is not None else None
    return target.child_by_field_name("operand") if target is not None and target.type == "index_expression" else None


def _checked_whole(package: Package, file: GoFile, conversion: Node, operand: Node, length: int) -> Report | None:
    """`(*[N]T)(unsafe.Pointer(&b[0]))[lo:n]`: a pointer into a Go object made an array of a
    constant length, cut by a two-index slice to a length the code computes. Under checkptr
    (`-race`) the conversion is checked against all N elements (a three-index slice is
    checked against its capacity): past `b`'s allocation the runtime throws."""
    held = _element_address(file, operand)
    parent = conversion.parent
    while parent is not None and parent.type == "parenthesized_expression":
        parent = parent.parent
    if held is None or parent is None or parent.type != "slice_expression" or parent.child_by_field_name("capacity"):
        return None
    end = parent.child_by_field_name("end")
    if end is None or constant_value(package, file, end) is not None:
        return None  # `[:]`, `[:4]`: the code means the whole array
    shown = file.text(held)
    return Report(
        node=conversion,
        message=(
            f"`{file.text(conversion)}` views memory inside `{shown}` as {length} elements, then keeps "
            f"`{file.text(end)}` of them: with `-race` (checkptr) the conversion is checked against all {length}, "
            f"and the runtime throws when they run past `{shown}`'s allocation. Use "
            f"`unsafe.Slice({file.text(call_argument(unparen(operand)) or operand)}, {file.text(end)})`, or cut with "
            "three indexes (`[:n:n]`): only that much is checked."
        ),
        remediation=REMEDIATION,
    )


def check(file: GoFile) -> Iterator[Report]:
    package = package_of(file)
    for conversion in file.nodes("type_conversion_expression"):
        array = _array_type(conversion.child_by_field_name("type"))
        operand = conversion.child_by_field_name("operand")
        if array is None or operand is None or not is_pointer_expression(package, file, operand):
            continue
        length = constant_value(package, file, array.child_by_field_name("length"))
        if length is None or _own_size(package, file, conversion, operand):
            continue
        if length < THRESHOLD:
            report = _checked_whole(package, file, conversion, operand, length)
            if report is not None:
                yield report
            continue
        slicing = _slicing(package, file, conversion)
        element_node = array.child_by_field_name("element")
        if slicing is None or element_node is None:
            continue
        element = file.text(element_node)
        end = slicing.child_by_field_name("end")
        bound = file.text(end) if end is not None else "n"
        yield Report(
            node=conversion,
            message=(
                f"`{file.text(conversion)}` views `{file.text(operand)}` as an array of {length} elements (`{element}`) to make "
                f"a slice: bounds are checked against that fake length, not the real one. Use "
                f"`unsafe.Slice((*{element})({file.text(operand)}), {bound})`."
            ),
            remediation=REMEDIATION,
            fix=_suggestion(file, conversion, operand, slicing, element),
        )


RULE = Rule(
    id="GR308",
    name="oversized-array-cast",
    severity=Severity.WARNING,
    doc=__doc__,
    check=check,
    imports=("unsafe",),
)
