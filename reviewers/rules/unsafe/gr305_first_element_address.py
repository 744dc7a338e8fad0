"""GR305 first-element-address: `unsafe.Pointer(&b[0])` with no length check in scope.

## What it does
Flags `&b[0]` handed to unsafe code — `unsafe.Pointer(&b[0])`, `unsafe.Slice(&b[0], n)`,
`unsafe.String(&b[0], n)` — when `b` is a slice parameter of the function (or of a
function around the closure) and nothing there looks at its length: no `len(b)` or
`cap(b)`, no `if n > 0` (or `!= 0`) around the conversion. A parameter is where an empty
slice comes from: the caller decides.

## Why is this bad?
`&b[0]` indexes the slice: for an empty or nil slice it panics with "index out of range".
Code that passes a buffer to a syscall or a C function usually meets its first empty input
in production (an empty file, an empty request body), where the panic takes the
goroutine — or the process — down.

## Example
```go
func write(fd int, b []byte) (int, error) {
    n, _, errno := syscall.Syscall(syscall.SYS_WRITE, uintptr(fd), uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)))
    ...
}
```

## Use instead
```go
func write(fd int, b []byte) (int, error) {
    p := unsafe.Pointer(unsafe.SliceData(b)) // no panic on an empty slice
    n, _, errno := syscall.Syscall(syscall.SYS_WRITE, uintptr(fd), uintptr(p), uintptr(len(b)))
    ...
}
```

## Fix safety
No suggestion: `unsafe.SliceData` (Go 1.20) does not panic, but returns nil or a pointer to
no element for an empty slice, and the code after it must cope with that. Any `len(b)` or
`cap(b)` of that parameter in its function counts as a check, wherever it is: the rule
cannot follow the control flow that makes it one; so does a guard `if n > 0` around the
conversion, since such a count usually says how much of the slice is used. A function
marked `//go:nocheckptr` has opted out of pointer checks on purpose and is left alone, and so
is an unexported function that the package only ever hands a whole array (`buf[:]`) or a
`make` of a constant positive length for that parameter. Only
parameters declared as slices are looked at: a slice made in scope (`make([]byte, n)`) is
sized by the code beside it, a field or a call result follows invariants the syntax cannot
see, and an array is never empty.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from tree_sitter import Node

from ...finding import Severity
from ...gosource import GoFile
from ...rule import Report, Rule
from ...semantics import Binding, Package, package_of
from ...semantics.names import PARAMETER
from ...syntax import FUNCTION_TYPES, ancestors, qualified_name, unparen
from ._helpers import arguments_of, has_directive

POSITIVE = re.compile(r"(>|!=)\s*0\b|>=\s*1\b")
UNSAFE_TAKERS = frozenset({"unsafe.Pointer", "unsafe.Slice", "unsafe.String"})

REMEDIATION = """\
if len(b) == 0 {
    return 0, nil
}
p := unsafe.Pointer(&b[0])
// or, from Go 1.20: p := unsafe.Pointer(unsafe.SliceData(b))"""


def _first_element(file: GoFile, node: Node) -> Node | None:
    """`b` for `&b[0]`."""
    node = unparen(node)
    operand = node.child_by_field_name("operand") if node.type == "unary_expression" else None
    if operand is None or not file.text(node).startswith("&"):
        return None
    index = unparen(operand)
    position = index.child_by_field_name("index") if index.type == "index_expression" else None
    if position is None or file.text(position) != "0":
        return None
    return index.child_by_field_name("operand")


def _slice_parameter(package: Package, file: GoFile, slice_node: Node) -> Binding | None:
    """The parameter `b` is, when it is declared as a slice (`b []byte`, `b ...T`)."""
    binding = package.binding(file, slice_node) if slice_node.type == "identifier" else None
    if binding is None or binding.kind != PARAMETER:
        return None
    declared = package.type_of(file, slice_node)
    return binding if declared is not None and declared.kind == "slice" else None


def _guarded(file: GoFile, at: Node) -> bool:
    """Inside an `if` whose condition tests a count against zero (`if n > 0`): the count
    usually says how much of the slice is used."""
    for ancestor in ancestors(at):
        if ancestor.type in FUNCTION_TYPES:
            return False
        condition = ancestor.child_by_field_name("condition") if ancestor.type == "if_statement" else None
        if condition is not None and POSITIVE.search(file.text(condition)):
            return True
    return False


def _length_checked(package: Package, file: GoFile, parameter: Binding, at: Node) -> bool:
    if _guarded(file, at):
        return True
    declared = next((a for a in ancestors(at) if a.type in FUNCTION_TYPES[:2]), None)
    if declared is not None and has_directive(file, declared, ("//go:nocheckptr",)):
        return True
    if package.values.never_empty_parameter(parameter):
        return True
    return any(_measured(file, reference) for reference in package.references(parameter))


def _measured(file: GoFile, reference: Node) -> bool:
    """`len(b)` or `cap(b)`."""
    arguments = reference.parent
    call = arguments.parent if arguments is not None and arguments.type == "argument_list" else None
    callee = call.child_by_field_name("function") if call is not None else None
    return (
        call is not None and callee is not None and file.text(callee) in ("len", "cap") and len(arguments_of(call)) == 1
    )


def check(file: GoFile) -> Iterator[Report]:
    package = package_of(file)
    source = file.source
    for call in file.nodes("call_expression"):
        if source.find(b"&", call.start_byte, call.end_byte) < 0:
            continue  # no `&b[0]` in its text: spares resolving the callee of most calls
        taker = qualified_name(file, call)
        arguments = arguments_of(call)
        if taker not in UNSAFE_TAKERS or not arguments:
            continue
        slice_node = _first_element(file, arguments[0])
        parameter = _slice_parameter(package, file, slice_node) if slice_node is not None else None
        if slice_node is None or parameter is None or _length_checked(package, file, parameter, call):
            continue
        name = file.text(slice_node)
        yield Report(
            node=call,
            message=(
                f"`&{name}[0]` panics when `{name}` is empty, and nothing in scope checks `len({name})`: "
                f"check it first, or use `unsafe.SliceData({name})` (Go 1.20)."
            ),
            remediation=REMEDIATION,
        )


RULE = Rule(
    id="GR305",
    name="first-element-address",
    severity=Severity.WARNING,
    doc=__doc__,
    check=check,
    imports=("unsafe",),
)
