"""GR304 string-bytes-written: a `[]byte` that unsafe made from a string is written to.

## What it does
Finds `[]byte` views of a string made through unsafe — `unsafe.Slice(unsafe.StringData(s),
len(s))`, `*(*[]byte)(unsafe.Pointer(&s))` for a string `s`, or a call of a function of the
package that returns one of those — and flags every write through them: an index
assignment (`b[i] = x`, `b[i]++`), `copy(b, ...)`, `append(b, ...)`, `clear(b)`, or handing
`b` to a function that fills its argument (`Read`, `io.ReadFull`, `Decode`, `Encode`,
`XORKeyStream`, `PutUint32`, `slices.Sort`...). It is reported on the write. `append(b,
...)` on an `unsafe.Slice` view is not a write (its capacity equals its length, so append
copies); `append(b[:0], ...)` is, and so is any append on a header cast, whose capacity is
whatever follows the string header in memory.

## Why is this bad?
Go strings are immutable, and the compiler and runtime rely on it: string literals live in
read-only memory (writing faults the whole process), equal strings may share their bytes,
and a string used as a map key changes under the map. The zero-copy view is fine while it
is only read.

## Example
```go
b := unsafe.Slice(unsafe.StringData(s), len(s))
b[0] = 'H' // s changed, or a fault if s is a literal
```

## Use instead
```go
b := []byte(s) // a copy: free to write
b[0] = 'H'
```

## Fix safety
No suggestion: the copy costs an allocation the author chose to avoid, and the right
place for it depends on the code. A view of `s` is recognised only when `s` is visibly a
string (or `unsafe.StringData` says so); writes through other aliases are not followed.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from tree_sitter import Node

from ...finding import Severity
from ...gosource import GoFile
from ...rule import Report, Rule
from ...semantics import Binding, Package, package_of
from ...semantics.names import FUNCTION
from ...semantics.types import STRING
from ...syntax import call_method_name, descendants, enclosing_function, expression_items, qualified_name, unparen
from ._helpers import arguments_of, call_argument, is_unsafe_pointer_call

REMEDIATION = """\
b := []byte(s) // copy before writing: strings are immutable
b[0] = 'H'"""

# Functions and methods that write into an argument, by name -> index of that argument.
FILLERS = {
    "copy": 0,
    "append": 0,
    "clear": 0,
    "Read": 0,
    "ReadAt": 0,
    "ReadFull": 1,
    "ReadAtLeast": 1,
    "Decode": 0,
    "Encode": 0,
    "XORKeyStream": 0,
    "CryptBlocks": 0,
    "Seal": 0,
    "Open": 0,
    "PutUint16": 0,
    "PutUint32": 0,
    "PutUint64": 0,
    "PutUvarint": 0,
    "PutVarint": 0,
    "Sort": 0,
    "SortFunc": 0,
    "SortStableFunc": 0,
    "Reverse": 0,
}


@dataclass(frozen=True)
class View:
    string: str  # the string's text
    made: Node  # the expression that made the view
    capacity_known: bool  # unsafe.Slice: cap == len, so a plain append copies


def _string_view(package: Package, file: GoFile, node: Node) -> View | None:
    """`unsafe.Slice(unsafe.StringData(s), n)` or `*(*[]byte)(unsafe.Pointer(&s))`."""
    node = unparen(node)
    if node.type == "call_expression" and qualified_name(file, node) == "unsafe.Slice":
        arguments = arguments_of(node)
        data = (
            next(
                (
                    c
                    for c in [arguments[0], *descendants(arguments[0])]
                    if c.type == "call_expression" and qualified_name(file, c) == "unsafe.StringData"
                ),
                None,
            )
            if arguments
            else None
        )
        string = call_argument(data) if data is not None else None
        if string is not None:
            return View(file.text(string), node, True)
    if node.type == "type_conversion_expression" and _is_bytes_deref(file, node.child_by_field_name("type")):
        operand = node.child_by_field_name("operand")
        address = (
            call_argument(unparen(operand)) if operand is not None and is_unsafe_pointer_call(file, operand) else None
        )
        if address is not None and unparen(address).type == "unary_expression" and file.text(address).startswith("&"):
            target = unparen(address).child_by_field_name("operand")
            if target is not None and package.type_of(file, target) == STRING:
                return View(file.text(target), node, False)
    return None


def _is_bytes_deref(file: GoFile, type_node: Node | None) -> bool:
    """`*(*[]byte)` as tree-sitter reads it: a pointer type around `(*[]byte)`."""
    if type_node is None or type_node.type != "pointer_type":
        return False
    inner = type_node.named_children[0]
    while inner.type == "parenthesized_type":
        inner = inner.named_children[0]
    return inner.type == "pointer_type" and file.text(inner.named_children[0]).replace(" ", "") in ("[]byte", "[]uint8")


def _makes_views(file: GoFile) -> bool:
    """Whether `_string_view` can find a view anywhere in the file: `unsafe.StringData` is
    spelled with that name whatever the package's alias, and a header cast is a conversion
    of the node index. Most files importing unsafe have neither."""
    if b"StringData" in file.source:
        return True
    return any(_is_bytes_deref(file, c.child_by_field_name("type")) for c in file.nodes("type_conversion_expression"))


def _view_functions(package: Package, file: GoFile) -> dict[str, View]:
    """Functions of the package whose every return value is a string view: `s2b(s)`."""

    def build() -> dict[str, View]:
        found: dict[str, View] = {}
        for other in package.files:
            if other.imports_path("unsafe") and _makes_views(other):
                found.update(_declared_view_functions(package, other))
        return found

    return file.package_cached("unsafe.view_functions", build)


def _declared_view_functions(package: Package, file: GoFile) -> dict[str, View]:
    found: dict[str, View] = {}
    for function in file.nodes("function_declaration"):
        returns = [r for r in file.nodes("return_statement", within=function) if enclosing_function(r) == function]
        values = [expression_items(r.named_children[0]) for r in returns if r.named_children]
        views = [_string_view(package, file, v[0]) if len(v) == 1 else None for v in values]
        name = function.child_by_field_name("name")
        first = views[0] if views else None
        if first is not None and name is not None and len(views) == len(returns) and all(views):
            found[file.text(name)] = first
    return found


def _view_of(package: Package, file: GoFile, node: Node, helpers: dict[str, View]) -> View | None:
    view = _string_view(package, file, node)
    node = unparen(node)
    function = node.child_by_field_name("function") if node.type == "call_expression" else None
    if view is not None or function is None or function.type != "identifier" or file.text(function) not in helpers:
        return view
    binding = package.binding(file, function)
    if binding is None or binding.kind != FUNCTION:
        return None  # a local function value shadows the helper
    helper, arguments = helpers[file.text(function)], arguments_of(node)
    return View(file.text(arguments[0]) if arguments else helper.string, node, helper.capacity_known)


def _views(package: Package, file: GoFile, helpers: dict[str, View]) -> dict[Binding, View]:
    """The local variables holding a view: `b := view`, `b = view`, and `c := b[i:]` reslices
    of such a variable."""
    held: dict[Binding, View] = {}
    assignments = [
        n for node_type in ("short_var_declaration", "assignment_statement", "var_spec") for n in file.nodes(node_type)
    ]
    for node in sorted(assignments, key=lambda n: n.start_byte):
        left = node.child_by_field_name("left")
        names = list(left.named_children) if left is not None else node.children_by_field_name("name")
        values = expression_items(node.child_by_field_name("right") or node.child_by_field_name("value"))
        if len(names) != len(values):
            continue
        for name, value in zip(names, values):
            view = _view_of(package, file, value, helpers)
            if view is None and unparen(value).type == "slice_expression":
                operand = unparen(value).child_by_field_name("operand")
                view = _held(package, file, operand, held) or (
                    _view_of(package, file, operand, helpers) if operand is not None else None
                )
            binding = package.binding(file, name) if view is not None and name.type == "identifier" else None
            if view is not None and binding is not None and binding.is_local:
                held[binding] = view
    return held


def _held(package: Package, file: GoFile, node: Node | None, held: dict[Binding, View]) -> View | None:
    binding = package.binding(file, unparen(node)) if node is not None else None
    return held.get(binding) if binding is not None else None


def _written(file: GoFile, node: Node) -> Node | None:
    """The slice a statement or call writes into, if any."""
    if node.type == "assignment_statement":
        targets = expression_items(node.child_by_field_name("left"))
        target = next((t for t in targets if unparen(t).type == "index_expression"), None)
        return unparen(target).child_by_field_name("operand") if target is not None else None
    if node.type in ("inc_statement", "dec_statement"):
        target = unparen(node.named_children[0])
        return target.child_by_field_name("operand") if target.type == "index_expression" else None
    if node.type == "call_expression":
        index = FILLERS.get(call_method_name(file, node) or "")
        arguments = arguments_of(node)
        if index is not None and index < len(arguments):
            return arguments[index]
    return None


def _through(
    package: Package, file: GoFile, target: Node, held: dict[Binding, View], helpers: dict[str, View]
) -> tuple[str, View] | None:
    """The view a written slice is (a variable holding one, a reslice of it, or the view)."""
    target = unparen(target)
    operand = target.child_by_field_name("operand") if target.type == "slice_expression" else None
    while operand is not None:
        target = unparen(operand)
        operand = target.child_by_field_name("operand") if target.type == "slice_expression" else None
    if target.type == "identifier":
        view = _held(package, file, target, held)
    else:
        view = _view_of(package, file, target, helpers)
    return (file.text(target), view) if view is not None else None


def check(file: GoFile) -> Iterator[Report]:
    package = package_of(file)
    helpers = _view_functions(package, file)
    if not helpers and not _makes_views(file):
        return  # no view to write through
    held = _views(package, file, helpers)
    writes = [
        n
        for node_type in ("assignment_statement", "inc_statement", "dec_statement", "call_expression")
        for n in file.nodes(node_type)
    ]
    for node in sorted(writes, key=lambda n: n.start_byte):
        target = _written(file, node)
        if target is None:
            continue
        found = _through(package, file, target, held, helpers)
        if found is None:
            continue
        name, view = found
        if (
            view.capacity_known
            and call_method_name(file, node) == "append"
            and unparen(target).type != "slice_expression"
        ):
            continue  # cap == len: append copies to a new array
        origin = "" if view.made.start_point[0] == node.start_point[0] else f" (line {file.line(view.made)})"
        yield Report(
            node=node,
            message=(
                f"`{file.text(node)}` writes into `{name}`, which shares the bytes of the string `{view.string}` "
                f"through unsafe{origin}: strings are immutable (literals sit in read-only memory). "
                f"Copy first: `[]byte({view.string})`."
            ),
            remediation=REMEDIATION,
        )


RULE = Rule(
    id="GR304",
    name="string-bytes-written",
    severity=Severity.ERROR,
    doc=__doc__,
    check=check,
    imports=("unsafe",),
)
