"""GR303 uintptr-arithmetic: `unsafe.Pointer(uintptr(p) + off)` where `unsafe.Add(p, off)` says the same.

## What it does
Flags pointer arithmetic written as a round trip through `uintptr` in one expression:
`unsafe.Pointer(uintptr(p) + off)`, `unsafe.Pointer(uintptr(p) - off)` (and chains of `+`
and `-`, or `off + uintptr(p)`), and the offset-free `unsafe.Pointer(uintptr(p))`. It is
information only: the form is legal.

## Why is this bad?
The round trip is valid only while it stays in one expression: split it across two
statements to name the intermediate value (a refactoring as innocent as extracting a
variable) and the GC no longer sees the pointer (GR301). `unsafe.Add` (Go 1.17) keeps the
value an `unsafe.Pointer` all the way, says what it does, and is checked by
`-d=checkptr` like any pointer.

## Example
```go
next := (*byte)(unsafe.Pointer(uintptr(p) + 1))
prev := (*byte)(unsafe.Pointer(uintptr(unsafe.Pointer(b)) - 8))
```

## Use instead
```go
next := (*byte)(unsafe.Add(p, 1))
prev := (*byte)(unsafe.Add(unsafe.Pointer(b), -8))
```

## Fix safety
The suggestion replaces the conversion by `unsafe.Add(p, off)` (`unsafe.Add(p, -off)` for a
subtraction; `p` alone without an offset). It is offered only when it surely compiles:
the module's Go version is 1.17
or later (or unknown). A subtracted typed constant cannot be negated as is
(`-unsafe.Sizeof(x)` overflows uintptr at compile time): unless the offset starts with a
variable or is made of literals alone, each term is converted to int
(`unsafe.Add(p, -int(unsafe.Sizeof(x)))`), which gives the same address. The rule itself reports only
when `p` is visibly an `unsafe.Pointer` (a call of `unsafe.Pointer`, `unsafe.Add` or
`atomic.LoadPointer`, a name, a field or a function result the package declares with that
type): `uintptr(x)` of a value whose type the package does not show may well be an integer
from a syscall structure, which is not pointer arithmetic. Rounding with `&^` has no
`unsafe.Add` form and is not reported.
"""

from __future__ import annotations

from collections.abc import Iterator

from tree_sitter import Node

from ...finding import Severity
from ...gosource import GoFile
from ...rule import Fix, Report, Rule
from ...semantics import Package, package_of
from ...semantics.names import CONSTANT, FUNCTION, IMPORT, TYPE
from ...syntax import qualified_name, unparen
from ._helpers import (
    call_argument,
    is_pointer_expression,
    is_uintptr_conversion,
    left_spine,
    unsafe_local_name,
    unsafe_pointer_calls,
)

REMEDIATION = """\
next := (*byte)(unsafe.Add(p, 1))   // was unsafe.Pointer(uintptr(p) + 1)
prev := (*byte)(unsafe.Add(p, -8))  // was unsafe.Pointer(uintptr(p) - 8)"""

CONSTANT_FUNCTIONS = frozenset({"unsafe.Sizeof", "unsafe.Offsetof", "unsafe.Alignof"})
SIMPLE_OPERANDS = (
    "identifier",
    "int_literal",
    "call_expression",
    "selector_expression",
    "index_expression",
    "parenthesized_expression",
)


def _round_trip(package: Package, file: GoFile, argument: Node) -> tuple[Node, list[tuple[str, Node]]] | None:
    """`p` and the offset terms of `uintptr(p) ± a ± b` (or `off + uintptr(p)`), where `p`
    is not itself a uintptr."""
    base, terms = left_spine(file, argument)
    if not is_uintptr_conversion(file, base):
        if len(terms) == 1 and terms[0][0] == "+" and is_uintptr_conversion(file, terms[0][1]):
            base, terms = terms[0][1], [("+", base)]  # off + uintptr(p)
        else:
            return None
    pointer = call_argument(base)
    if pointer is None or not is_pointer_expression(package, file, pointer):
        return None  # an integer made a pointer, or a type the package does not show
    return unparen(pointer), terms


def _is_nonconstant(package: Package, file: GoFile, node: Node | None) -> bool:
    """The expression visibly uses a variable, so negating it cannot overflow at compile time."""
    if node is None:
        return False
    node = unparen(node)
    if node.type == "identifier":
        binding = package.binding(file, node)
        return binding is not None and binding.kind not in (CONSTANT, TYPE, FUNCTION, IMPORT)
    if node.type == "index_expression":
        return True  # an element is never a constant
    if node.type == "selector_expression":
        # `pkg.Name` may be a typed constant; `x.f` of a variable is not one
        return qualified_name(file, node) is None and _is_nonconstant(
            package, file, node.child_by_field_name("operand")
        )
    if node.type == "call_expression":
        if qualified_name(file, node) in CONSTANT_FUNCTIONS:
            return False
        arguments = node.child_by_field_name("arguments")
        return arguments is not None and any(_is_nonconstant(package, file, a) for a in arguments.named_children)
    if node.type in ("binary_expression", "unary_expression"):
        return any(_is_nonconstant(package, file, child) for child in node.named_children)
    return False


def _offset(package: Package, file: GoFile, terms: list[tuple[str, Node]]) -> str:
    """The `unsafe.Add` offset for the terms. A typed constant such as `unsafe.Sizeof(x)`
    cannot go below zero (`-unsafe.Sizeof(x)` overflows uintptr at compile time), so unless
    the offset starts with a variable (every prefix is then computed at run time) or is made
    of untyped literals alone, each term is converted to int: `-int(unsafe.Sizeof(x))`."""
    if any(operator == "-" for operator, _ in terms):
        literals = all(operand.type == "int_literal" for _, operand in terms)
        if not literals and not _is_nonconstant(package, file, terms[0][1]):
            return _offset_text(file, terms, as_int=True)
    return _offset_text(file, terms)


def _offset_text(file: GoFile, terms: list[tuple[str, Node]], as_int: bool = False) -> str:
    parts = []
    for index, (operator, operand) in enumerate(terms):
        text = file.text(operand)
        if as_int and operand.type != "int_literal":
            text = f"int({text})"
        simple = as_int or operand.type in SIMPLE_OPERANDS
        if index > 0:
            parts.append(f" {operator} {text}")
        elif operator == "+":
            parts.append(text)
        else:
            parts.append(f"-{text}" if simple else f"-({text})")
    return "".join(parts)


def _suggestion(package: Package, file: GoFile, call: Node, pointer: Node, terms: list[tuple[str, Node]]) -> Fix | None:
    if file.go_version is not None and file.go_version < (1, 17):
        return None
    if not terms:
        return Fix.replace(file, call, file.text(pointer))
    offset = _offset(package, file, terms)
    return Fix.replace(file, call, f"{unsafe_local_name(file)}.Add({file.text(pointer)}, {offset})")


def check(file: GoFile) -> Iterator[Report]:
    package = package_of(file)
    for call in unsafe_pointer_calls(file, file.root):
        argument = call_argument(call)
        found = _round_trip(package, file, unparen(argument)) if argument is not None else None
        if found is None:
            continue
        pointer, terms = found
        fix = _suggestion(package, file, call, pointer, terms)
        name = file.text(pointer)
        if terms:
            offset = _offset(package, file, terms)
            message = (
                f"`{file.text(call)}` does pointer arithmetic through a uintptr: legal only while it stays in one "
                f"expression. Write `unsafe.Add({name}, {offset})`, which keeps `{name}` a pointer."
            )
        else:
            message = f"`{file.text(call)}` converts `{name}` to uintptr and straight back: use `{name}` itself."
        yield Report(node=call, message=message, remediation=REMEDIATION, fix=fix)


RULE = Rule(
    id="GR303",
    name="uintptr-arithmetic",
    severity=Severity.INFO,
    doc=__doc__,
    check=check,
    imports=("unsafe",),
)
