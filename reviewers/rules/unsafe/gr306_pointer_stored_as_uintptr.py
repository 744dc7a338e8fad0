"""GR306 pointer-stored-as-uintptr: a pointer kept only as a uintptr in a struct field or package variable.

## What it does
Flags a store of `uintptr(unsafe.Pointer(p))` (possibly with an offset added) into a
struct field (`s.addr = ...`, `T{addr: ...}`) or a package-level variable, when nothing
keeps `p` alive as a pointer afterwards: the variable the pointer came from is not used
again in the function (no later read, no `runtime.KeepAlive`). Reported on the assignment
(or the keyed field) that stores it. A `reflect.SliceHeader`/`StringHeader` literal is
GR302's.

## Why is this bad?
The garbage collector traces pointers, not integers. Once the only reference to an object
is a uintptr in a field or a global, the object can be freed and its memory reused while
the program still holds its address; a stack object can move when its goroutine's stack
grows. Whatever later turns the uintptr back into a pointer reads garbage — a bug that
shows only under GC pressure, far from the store.

## Example
```go
type node struct {
    next uintptr
}

func link(a, b *node) {
    a.next = uintptr(unsafe.Pointer(b))
}
```

## Use instead
```go
type node struct {
    next unsafe.Pointer // or *node: the GC sees it
}

func link(a, b *node) {
    a.next = unsafe.Pointer(b)
}
```

## Fix safety
No suggestion: the field's type changes, and so does every use of it. A store whose
pointer is used again later in the function is not reported: the pointer is alive at
least until then, which is how syscall argument structures are filled (the kernel reads
them during the call). The Go runtime, which manages its own memory, is not looked at.
"""

from __future__ import annotations

from collections.abc import Iterator

from tree_sitter import Node

from ...finding import Severity
from ...gosource import GoFile
from ...rule import Report, Rule
from ...semantics import Package, package_of
from ...semantics.names import VARIABLE
from ...syntax import ancestors, enclosing_function, expression_items, qualified_name, top_level_specs, unparen
from ._helpers import call_argument, is_reflect_address, left_spine, manages_memory_by_hand, pointer_to_uintptr

REMEDIATION = """\
type node struct {
    next unsafe.Pointer // a pointer the GC traces, not a uintptr
}
a.next = unsafe.Pointer(b)"""

HEADER_TYPES = frozenset({"reflect.SliceHeader", "reflect.StringHeader"})


def _stores(package: Package, file: GoFile) -> Iterator[tuple[Node, Node, str]]:
    """(reported node, value, what) for each store into a field or package variable."""
    # Package variables: the specs of a top-level `var` that are not in a `( ... )` group
    # (taken from the file's top level: asking every spec of the file for its parent is slow).
    package_specs = [spec for spec in top_level_specs(file) if _parent_type(spec) == "var_declaration"]
    stores = [
        n for node_type in ("assignment_statement", "keyed_element") for n in file.nodes(node_type)
    ] + package_specs
    for node in sorted(stores, key=lambda n: n.start_byte):
        if node.type == "keyed_element":
            key, value = [
                c.named_children[0] if c.type == "literal_element" and c.named_children else c
                for c in node.named_children[:2]
            ]
            if not _may_hold_an_address(file, value) or key.type not in ("identifier", "field_identifier"):
                continue
            literal = node.parent.parent if node.parent is not None else None
            literal_type = package.type_of(file, literal) if literal is not None else None
            if literal_type is None or not literal_type.is_named(*HEADER_TYPES):
                yield node, value, f"the field `{file.text(key)}`"
        elif node.type == "var_spec":
            names, values = node.children_by_field_name("name"), expression_items(node.child_by_field_name("value"))
            for name, value in zip(names, values if len(values) == len(names) else []):
                if _may_hold_an_address(file, value):
                    yield node, value, f"the package variable `{file.text(name)}`"
        else:
            targets = expression_items(node.child_by_field_name("left"))
            values = expression_items(node.child_by_field_name("right"))
            for target, value in zip(targets, values if len(values) == len(targets) else []):
                if not _may_hold_an_address(file, value):
                    continue  # spares the binding look-up below on most assignments
                if target.type == "selector_expression" and qualified_name(file, target) is None:
                    yield node, value, f"the field `{file.text(target)}`"
                elif target.type == "identifier" and _is_package_variable(package, file, target):
                    yield node, value, f"the package variable `{file.text(target)}`"


def _parent_type(node: Node) -> str | None:
    return node.parent.type if node.parent is not None else None


def _may_hold_an_address(file: GoFile, value: Node) -> bool:
    """Whether the value's text can hold `uintptr(p)` or a reflect address (`.Pointer()`,
    `.UnsafeAddr()`): what `pointer_to_uintptr` looks for. Every store `check` reports
    passes it, so `_stores` yields only those."""
    text = file.source[value.start_byte : value.end_byte]
    return b"uintptr" in text or b"Pointer" in text or b"UnsafeAddr" in text


def _is_package_variable(package: Package, file: GoFile, identifier: Node) -> bool:
    binding = package.binding(file, identifier)
    return binding is not None and binding.kind == VARIABLE and not binding.is_local


def _root_variable(package: Package, file: GoFile, conversion: Node) -> Node | None:
    """`x` in `uintptr(unsafe.Pointer(&x.f[0]))` or `reflect.ValueOf(x).Pointer()`: the
    variable that holds the object."""
    node: Node | None = conversion
    while node is not None:
        node = unparen(node)
        function = node.child_by_field_name("function") if node.type == "call_expression" else None
        if node.type == "identifier":
            return node
        if function is not None and call_argument(node) is not None:
            node = call_argument(node)  # a conversion or `reflect.ValueOf(x)`
        elif function is not None and is_reflect_address(package, file, node):
            node = function.child_by_field_name("operand")  # `v.Pointer()`
        elif node.type in ("unary_expression", "selector_expression", "index_expression", "slice_expression"):
            node = node.child_by_field_name("operand")
        else:
            return None
    return None


def _alive_after(package: Package, file: GoFile, store: Node, variable: Node) -> bool:
    """The variable keeps the object alive after the store: it is read again later in the
    function, or it is a package variable (or one the model does not know)."""
    binding = package.binding(file, variable)
    if enclosing_function(store) is None or binding is None or not binding.is_local:
        return True  # a package-level initialiser, or a global: it outlives the store
    statement = next(
        (a for a in [store, *ancestors(store)] if a.type.endswith("_statement") or a.type == "short_var_declaration"),
        store,
    )
    return any(reference.start_byte >= statement.end_byte for reference in package.references(binding))


def check(file: GoFile) -> Iterator[Report]:
    if manages_memory_by_hand(file):
        return
    package = package_of(file)
    for node, value, what in _stores(package, file):
        base = left_spine(file, value, ("+", "-", "&^"))[0]
        conversion = pointer_to_uintptr(package, file, base)
        if conversion is None or conversion != base:
            continue
        variable = _root_variable(package, file, conversion)
        if variable is not None and _alive_after(package, file, node, variable):
            continue
        held = f"`{file.text(variable)}`" if variable is not None else "the object"
        yield Report(
            node=node,
            message=(
                f"`{file.text(conversion)}` is kept only as a uintptr in {what}: the GC does not see it, so "
                f"{held} can be freed (or moved with its stack) while the address is still held. Store an "
                "unsafe.Pointer (or a typed pointer) instead."
            ),
            remediation=REMEDIATION,
        )


RULE = Rule(
    id="GR306",
    name="pointer-stored-as-uintptr",
    severity=Severity.WARNING,
    doc=__doc__,
    check=check,
    imports=("unsafe",),
)
