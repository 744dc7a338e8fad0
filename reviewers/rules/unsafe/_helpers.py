"""Helpers of the unsafe.Pointer rules (GR3xx): the shapes of conversions and pointer
arithmetic, where a uintptr got its address, and the directives and packages that manage
memory by hand.

Names and types come from the semantic model (`reviewers/semantics`): a name declared
`p unsafe.Pointer` or `p := unsafe.Pointer(x)` is visibly an unsafe.Pointer, `u uintptr` or
`u := uintptr(unsafe.Pointer(x))` visibly a uintptr; anything the model does not know is
unknown, and the rules stay silent (or offer no suggestion) on unknowns.
"""

from __future__ import annotations

from tree_sitter import Node

from ...gosource import GoFile
from ...semantics import Package
from ...semantics.types import REFLECT_VALUE, UNSAFE_POINTER
from ...syntax import call_method_name, descendants, is_inside, qualified_name, unparen

ARITHMETIC = ("+", "-")


def call_argument(node: Node) -> Node | None:
    """The single argument of a call or conversion `f(x)`."""
    node = unparen(node)
    if node.type != "call_expression":
        return None
    arguments = node.child_by_field_name("arguments")
    if arguments is None:
        return None
    values = [a for a in arguments.named_children if a.type != "comment"]
    return values[0] if len(values) == 1 else None


def arguments_of(call: Node) -> list[Node]:
    arguments = call.child_by_field_name("arguments")
    return [a for a in arguments.named_children if a.type != "comment"] if arguments is not None else []


def is_unsafe_pointer_call(file: GoFile, node: Node) -> bool:
    """`unsafe.Pointer(x)`, whatever the local name of the package."""
    node = unparen(node)
    return (
        node.type == "call_expression"
        and qualified_name(file, node) == "unsafe.Pointer"
        and call_argument(node) is not None
    )


def unsafe_pointer_calls(file: GoFile, root: Node) -> list[Node]:
    """The `unsafe.Pointer(x)` calls under `root` (itself included), in source order."""

    def build() -> list[Node]:
        source = file.source
        # The callee's name `Pointer` is in the call's text: a cheap test before resolving it.
        return [
            call
            for call in file.nodes("call_expression")
            if source.find(b"Pointer", call.start_byte, call.end_byte) >= 0 and is_unsafe_pointer_call(file, call)
        ]

    calls = file.cached("unsafe.pointer_calls", build)
    return calls if root == file.root else [call for call in calls if is_inside(call, root)]


def is_uintptr_conversion(file: GoFile, node: Node) -> bool:
    """`uintptr(x)`."""
    node = unparen(node)
    if node.type != "call_expression" or call_argument(node) is None:
        return False
    function = node.child_by_field_name("function")
    return function is not None and function.type == "identifier" and file.text(function) == "uintptr"


def unsafe_local_name(file: GoFile) -> str:
    """The name the file gives the unsafe package (`unsafe` unless aliased)."""
    return next((name for name, path in file.imports.items() if path == "unsafe"), "unsafe")


# -- types, from the semantic model ---------------------------------------------------------------
def is_pointer_expression(package: Package, file: GoFile, node: Node) -> bool:
    """Visibly an unsafe.Pointer: a conversion to it, a call of unsafe.Add or
    atomic.LoadPointer, a name, field or result of that type."""
    return package.type_of(file, node) == UNSAFE_POINTER


def is_reflect_address(package: Package, file: GoFile, call: Node) -> bool:
    """`v.UnsafeAddr()` or `v.Pointer()` of a reflect.Value."""
    function = call.child_by_field_name("function")
    if call.type != "call_expression" or function is None or function.type != "selector_expression":
        return False
    operand = function.child_by_field_name("operand")
    if call_method_name(file, call) not in ("UnsafeAddr", "Pointer") or operand is None:
        return False
    owner = package.type_of(file, operand)
    return owner is not None and owner.deref() == REFLECT_VALUE


# -- where a uintptr comes from --------------------------------------------------------------------
def pointer_to_uintptr(package: Package, file: GoFile, node: Node) -> Node | None:
    """The first `uintptr(p)` under `node` (included) that turns a pointer into an integer:
    `p` is visibly an unsafe.Pointer, or the address of a reflect.Value (a function literal's
    body runs later: not looked into)."""
    candidates = [node, *descendants(node, skip=("func_literal",))] if node.type != "func_literal" else []
    for candidate in candidates:
        argument = call_argument(candidate) if is_uintptr_conversion(file, candidate) else None
        if argument is not None and is_pointer_expression(package, file, argument):
            return candidate
        if is_reflect_address(package, file, candidate):
            return candidate
    return None


def left_spine(
    file: GoFile, node: Node, operators: tuple[str, ...] = ARITHMETIC
) -> tuple[Node, list[tuple[str, Node]]]:
    """`base` and the `(operator, operand)` terms of `base op a op b ...` (left-associative)."""
    node = unparen(node)
    terms: list[tuple[str, Node]] = []
    while node.type == "binary_expression":
        operator, left, right = (node.child_by_field_name(f) for f in ("operator", "left", "right"))
        if operator is None or left is None or right is None or file.text(operator) not in operators:
            break
        terms.append((file.text(operator), right))
        node = unparen(left)
    return node, list(reversed(terms))


RUNTIME_INTERNALS = ("internal/runtime/", "runtime/internal/")


def manages_memory_by_hand(file: GoFile) -> bool:
    """The Go runtime and its internal packages: they convert uintptrs to pointers on memory
    the garbage collector does not manage (spans, stacks, persistent allocations), under
    rules no syntax can check."""
    package = next((n for n in file.root.named_children if n.type == "package_clause"), None)
    if package is not None and file.text(package).split()[-1] == "runtime":
        return True
    return any(path.startswith(RUNTIME_INTERNALS) for path in file.imports.values())


def has_directive(file: GoFile, function: Node, directives: tuple[str, ...]) -> bool:
    """Whether the comment block right above a declaration holds one of the `//go:`
    directives (`//go:nocheckptr`, `//go:uintptrescapes`...)."""
    previous = function.prev_sibling
    line = function.start_point[0]
    while previous is not None and previous.type == "comment" and previous.end_point[0] >= line - 1:
        if file.text(previous).startswith(directives):
            return True
        line = previous.start_point[0]
        previous = previous.prev_sibling
    return False
