"""Helpers of the unsafe.Pointer rules (GR3xx): conversions, the declared type of a name as
far as the syntax shows it, and where a uintptr came from.

Types are never inferred beyond what the source spells: a name declared `p unsafe.Pointer`
or `p := unsafe.Pointer(x)` is visibly an unsafe.Pointer, `u uintptr` or
`u := uintptr(unsafe.Pointer(x))` visibly a uintptr; anything else is unknown, and the
rules stay silent (or offer no suggestion) on unknowns.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from tree_sitter import Node

from ...gosource import GoFile
from ...syntax import FUNCTION_TYPES, ancestors, descendants, is_inside, qualified_name, top_level_specs, unparen

UNSAFE_POINTER = "unsafe.Pointer"
UINTPTR = "uintptr"
ARITHMETIC = ("+", "-")
# Calls whose result is an unsafe.Pointer.
POINTER_RESULTS = frozenset(
    {
        "unsafe.Pointer",
        "unsafe.Add",
        "sync/atomic.LoadPointer",
        "sync/atomic.SwapPointer",
    }
)


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
        and qualified_name(file, node) == UNSAFE_POINTER
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
    return function is not None and function.type == "identifier" and file.text(function) == UINTPTR


def unsafe_local_name(file: GoFile) -> str:
    """The name the file gives the unsafe package (`unsafe` unless aliased)."""
    return next((name for name, path in file.imports.items() if path == "unsafe"), "unsafe")


def type_name(file: GoFile, type_node: Node | None) -> str | None:
    """A type spelled canonically: `unsafe.Pointer` for `u.Pointer` when `u` is unsafe."""
    if type_node is None:
        return None
    if type_node.type == "qualified_type":
        return qualified_name(file, type_node) or file.text(type_node)
    return file.text(type_node)


# -- declarations --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Binding:
    """One declaration of a name: its spelled type, or the value it was declared with."""

    name: Node
    type_node: Node | None
    value: Node | None
    kind: str  # "parameter", "result", "variable", "constant", "range", "package"


def _values_for(names: list[Node], values: Node | None) -> list[Node | None]:
    if values is None:
        return [None] * len(names)
    items = values.named_children if values.type == "expression_list" else [values]
    return list(items) if len(items) == len(names) else [None] * len(names)


def _declared_in(file: GoFile, node: Node, name: str, kind: str) -> Iterator[Binding]:
    """Bindings of `name` made by one declaration node."""
    if node.type in ("parameter_declaration", "variadic_parameter_declaration"):
        for identifier in node.children_by_field_name("name"):
            if file.text(identifier) == name:
                yield Binding(identifier, node.child_by_field_name("type"), None, "parameter")
    elif node.type in ("var_spec", "const_spec"):
        names = node.children_by_field_name("name")
        values = _values_for(names, node.child_by_field_name("value"))
        for identifier, value in zip(names, values):
            if file.text(identifier) == name:
                declared = "constant" if node.type == "const_spec" else kind
                yield Binding(identifier, node.child_by_field_name("type"), value, declared)
    elif node.type == "short_var_declaration":
        left = node.child_by_field_name("left")
        names = list(left.named_children) if left is not None else []
        for identifier, value in zip(names, _values_for(names, node.child_by_field_name("right"))):
            if file.text(identifier) == name:
                yield Binding(identifier, None, value, "variable")
    elif node.type == "range_clause":
        left = node.child_by_field_name("left")
        for identifier in left.named_children if left is not None else []:
            if file.text(identifier) == name:
                yield Binding(identifier, None, None, "range")


DECLARATIONS = ("var_spec", "const_spec", "short_var_declaration", "range_clause")


def _function_bindings(file: GoFile, function: Node, name: str, at: Node) -> list[Binding]:
    found: list[Binding] = []
    for field in ("receiver", "parameters", "result"):
        part = function.child_by_field_name(field)
        if part is not None and part.type == "parameter_list":
            for declaration in part.named_children:
                found.extend(
                    Binding(b.name, b.type_node, b.value, "result" if field == "result" else b.kind)
                    for b in _declared_in(file, declaration, name, "parameter")
                )
    body = function.child_by_field_name("body")
    if body is None:
        return found
    declarations = [d for d in _declarations_of(file).get(name, []) if is_inside(d, body) and _visible(d, function, at)]
    for declaration in declarations:
        found.extend(_declared_in(file, declaration, name, "variable"))
    return found


def _visible(declaration: Node, function: Node, at: Node) -> bool:
    """A declaration of `function` seen from `at`: a closure's own names are not visible
    outside it."""
    for ancestor in ancestors(declaration):
        if ancestor == function:
            return True
        if ancestor.type == "func_literal" and not (ancestor.start_byte <= at.start_byte < ancestor.end_byte):
            return False
    return True


def _declarations_of(file: GoFile) -> dict[str, list[Node]]:
    """Name -> the declarations (`var`, `const`, `:=`, `range`) of the file that declare it,
    innermost and last first (the order in which bindings have always been listed)."""

    def build() -> dict[str, list[Node]]:
        declarations = sorted(
            (node for node_type in DECLARATIONS for node in file.nodes(node_type)),
            key=lambda node: (-node.end_byte, node.start_byte),
        )
        index: dict[str, list[Node]] = {}
        for declaration in declarations:
            for declared in dict.fromkeys(file.text(identifier) for identifier in _declared_names(declaration)):
                index.setdefault(declared, []).append(declaration)
        return index

    return file.cached("unsafe.declarations", build)


def _declared_names(declaration: Node) -> list[Node]:
    if declaration.type in ("var_spec", "const_spec"):
        return declaration.children_by_field_name("name")
    left = declaration.child_by_field_name("left")
    return list(left.named_children) if left is not None else []


def package_bindings(file: GoFile, name: str) -> list[Binding]:
    """Top-level `var` and `const` declarations of `name` in the package's known files."""
    specs = file.package_cached("unsafe.package_specs", lambda: _package_specs(file))
    return [b for other, spec in specs.get(name, []) for b in _declared_in(other, spec, name, "package")]


def _package_specs(file: GoFile) -> dict[str, list[tuple[GoFile, Node]]]:
    index: dict[str, list[tuple[GoFile, Node]]] = {}
    for other in file.package_files:
        for name, specs in _top_level_specs(other).items():
            index.setdefault(name, []).extend((other, spec) for spec in specs)
    return index


def _top_level_specs(file: GoFile) -> dict[str, list[Node]]:
    index: dict[str, list[Node]] = {}
    for spec in top_level_specs(file, ("var", "const")):
        for identifier in spec.children_by_field_name("name"):
            index.setdefault(file.text(identifier), []).append(spec)
    return index


def bindings(file: GoFile, identifier: Node) -> list[Binding]:
    """The declarations `identifier` may refer to: those of the innermost enclosing function
    that declares the name, else the package's."""
    name = file.text(identifier)
    for function in (a for a in ancestors(identifier) if a.type in FUNCTION_TYPES):
        found = _function_bindings(file, function, name, identifier)
        if found:
            return found
    return package_bindings(file, name)


def is_variable(file: GoFile, identifier: Node) -> bool:
    """A name visibly declared as a variable or parameter (so an expression using it is not
    a constant)."""
    found = bindings(file, identifier)
    return bool(found) and all(b.kind != "constant" for b in found)


# -- types as the source spells them ----------------------------------------------------------
def expression_type(file: GoFile, node: Node, depth: int = 0) -> str | None:
    """`unsafe.Pointer`, `uintptr`, `string` or another spelled type when the expression
    visibly has it; None when the syntax does not tell."""
    node = unparen(node)
    if depth > 6:
        return None
    if node.type == "identifier":
        types = {_binding_type(file, b, depth) for b in bindings(file, node)}
        return types.pop() if len(types) == 1 else None
    if node.type in ("interpreted_string_literal", "raw_string_literal"):
        return "string"
    if node.type == "call_expression":
        name = qualified_name(file, node)
        if name in POINTER_RESULTS:
            return UNSAFE_POINTER
        if name == "unsafe.String":
            return "string"
        function = node.child_by_field_name("function")
        if function is not None and function.type == "identifier" and file.text(function) in (UINTPTR, "string"):
            return file.text(function)
        if _is_reflect_address(file, node):
            return UINTPTR
        return None
    if node.type == "binary_expression" and file.text(node.child_by_field_name("operator")) in (
        "+",
        "-",
        "&^",
        "&",
        "|",
        "*",
        "/",
        "%",
        "^",
    ):
        sides = [expression_type(file, node.child_by_field_name(f), depth + 1) for f in ("left", "right")]
        return UINTPTR if UINTPTR in sides else None
    if node.type == "type_conversion_expression":
        return type_name(file, node.child_by_field_name("type"))
    if node.type == "selector_expression" and qualified_name(file, node) is None:
        types = field_types(file, file.text(node.child_by_field_name("field")))
        return types[0] if len(types) == 1 else None
    return None


def field_types(file: GoFile, field: str) -> list[str]:
    """The spelled types of every struct field of that name declared in the package: one
    entry means the name alone tells which field a selector reaches (as far as the package
    knows: a field of an imported type is not seen)."""
    return file.package_cached("unsafe.fields", lambda: _package_fields(file)).get(field, [])


def _package_fields(file: GoFile) -> dict[str, list[str]]:
    index: dict[str, list[str]] = {}
    for other in file.package_files:
        for declaration in other.nodes("field_declaration"):
            spelled = type_name(other, declaration.child_by_field_name("type"))
            for name in declaration.children_by_field_name("name"):
                index.setdefault(other.text(name), []).append(spelled or "")
    return index


def _binding_type(file: GoFile, binding: Binding, depth: int) -> str | None:
    if binding.type_node is not None:
        return type_name(file, binding.type_node)
    if binding.value is not None:
        return expression_type(file, binding.value, depth + 1)
    return None


def _is_reflect_address(file: GoFile, call: Node) -> bool:
    """`v.UnsafeAddr()` or `v.Pointer()` of a reflect.Value (the file imports reflect)."""
    function = call.child_by_field_name("function")
    if function is None or function.type != "selector_expression" or arguments_of(call):
        return False
    method = file.text(function.child_by_field_name("field"))
    return file.imports_path("reflect") and method in ("UnsafeAddr", "Pointer") and qualified_name(file, call) is None


def is_pointer_expression(file: GoFile, node: Node) -> bool:
    """Visibly an unsafe.Pointer: a call of unsafe.Pointer/unsafe.Add/atomic.LoadPointer or
    a name declared with that type."""
    return expression_type(file, node) == UNSAFE_POINTER


# -- where a uintptr comes from --------------------------------------------------------------------
def pointer_to_uintptr(file: GoFile, node: Node) -> Node | None:
    """The first `uintptr(p)` under `node` (included) that turns a pointer into an integer:
    `p` is visibly an unsafe.Pointer, or the address of a reflect.Value."""
    for candidate in [node, *descendants(node)]:
        if candidate.type == "func_literal":
            continue
        if is_uintptr_conversion(file, candidate) and is_pointer_expression(file, call_argument(candidate)):
            return candidate
        if candidate.type == "call_expression" and _is_reflect_address(file, candidate):
            return candidate
    return None


def left_spine(
    file: GoFile, node: Node, operators: tuple[str, ...] = ARITHMETIC
) -> tuple[Node, list[tuple[str, Node]]]:
    """`base` and the `(operator, operand)` terms of `base op a op b ...` (left-associative)."""
    node = unparen(node)
    terms: list[tuple[str, Node]] = []
    while node.type == "binary_expression" and file.text(node.child_by_field_name("operator")) in operators:
        terms.append((file.text(node.child_by_field_name("operator")), node.child_by_field_name("right")))
        node = unparen(node.child_by_field_name("left"))
    return node, list(reversed(terms))


def assigned_values(file: GoFile, function: Node, name: str) -> list[Node]:
    """Every value given to the local name `name` in the function (declarations, `=`, `+=`)."""
    values = []
    for node in descendants(function):
        if node.type in ("short_var_declaration", "assignment_statement", "var_spec"):
            left = node.child_by_field_name("left")
            names = list(left.named_children) if left is not None else node.children_by_field_name("name")
            right = node.child_by_field_name("right") or node.child_by_field_name("value")
            for target, value in zip(names, _values_for(names, right)):
                if file.text(target) == name and value is not None:
                    values.append(value)
    return values


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


def pointer_conversion_type(node: Node) -> Node | None:
    """`pkg.T` in `(*pkg.T)(x)`: tree-sitter reads a conversion to a pointer to a named type
    as a call of a parenthesized dereference. Returns the type's expression node."""
    node = unparen(node)
    if node.type != "call_expression":
        return None
    function = node.child_by_field_name("function")
    if function is None or function.type != "parenthesized_expression" or not function.named_children:
        return None
    inner = function.named_children[0]
    if inner.type != "unary_expression" or inner.child(0) is None or inner.child(0).type != "*":
        return None
    target = inner.child_by_field_name("operand")
    return target if target is not None and target.type in ("identifier", "selector_expression") else None
