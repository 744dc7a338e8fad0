"""GR302 reflect-header: a `reflect.SliceHeader` or `reflect.StringHeader` built, declared or cast from unsafe.Pointer.

## What it does
Flags `reflect.SliceHeader{...}` and `reflect.StringHeader{...}` literals, variables
declared with those types (`var h reflect.SliceHeader`, `new(reflect.StringHeader)`), and
conversions of an unsafe.Pointer to a pointer to one
(`(*reflect.SliceHeader)(unsafe.Pointer(&b))`), each on its own line. The conversion is
left alone in a module whose `go.mod` says `go 1.19` or older: until 1.20 there is no
`unsafe.SliceData` or `unsafe.StringData`, and a header seen through a pointer to a real
slice or string is the legal way to share their memory.

## Why is this bad?
The headers' `Data` field is a `uintptr`: a header built or declared by the program does
not keep its data alive, so the array it describes can be collected while the header still
names it, and a slice or string made from it reads freed memory. Through a pointer cast on
a real slice the form is legal, but one step away (copying the header, keeping it past the
slice) from the same bug, and it depends on a layout the language does not promise. Both
types are deprecated since Go 1.20 for these reasons.

## Example
```go
func SafeSliceHeader(data []byte) reflect.SliceHeader {
    return reflect.SliceHeader{
        Data: uintptr(unsafe.Pointer(&data[0])),
        Len:  len(data),
        Cap:  cap(data),
    }
}

hdr := (*reflect.StringHeader)(unsafe.Pointer(&s))
b := unsafe.Slice((*byte)(unsafe.Pointer(hdr.Data)), hdr.Len)
```

## Use instead
```go
p := unsafe.SliceData(data)             // *byte, keeps the array alive
b := unsafe.Slice(unsafe.StringData(s), len(s)) // read-only view of s
s := unsafe.String(p, n)
```

## Fix safety
No suggestion: what replaces the header depends on what the code does with it
(`unsafe.Slice` from Go 1.17, `unsafe.String`, `unsafe.StringData` and
`unsafe.SliceData` from Go 1.20).
"""

from __future__ import annotations

from collections.abc import Iterator

from tree_sitter import Node

from ...finding import Severity
from ...gosource import GoFile, matches
from ...rule import Report, Rule
from ...semantics import package_of
from ...syntax import qualified_name

HEADERS = frozenset({"reflect.SliceHeader", "reflect.StringHeader"})

REMEDIATION = """\
p := unsafe.SliceData(b)                        // instead of hdr.Data
view := unsafe.Slice(unsafe.StringData(s), len(s)) // read-only: never write to it
s := unsafe.String(p, n)                         // instead of a StringHeader literal"""

CANDIDATES = """
[(composite_literal type: (qualified_type) @type) @literal
 (var_spec type: (qualified_type) @type) @declaration
 (type_conversion_expression type: (_) @type) @conversion
 (call_expression function: (parenthesized_expression (unary_expression operand: (selector_expression) @type))) @conversion
 (call_expression function: (identifier) @new arguments: (argument_list (qualified_type) @type)) @allocation]
"""


def _header(file: GoFile, type_node: Node) -> str | None:
    return (
        qualified_name(file, type_node)
        if type_node.type == "qualified_type" and qualified_name(file, type_node) in HEADERS
        else None
    )


def _strip(type_node: Node) -> Node:
    while type_node.type == "parenthesized_type" and type_node.named_children:
        type_node = type_node.named_children[0]
    return type_node


def _converted_header(file: GoFile, conversion: Node, type_node: Node) -> str | None:
    """`reflect.SliceHeader` for `(*reflect.SliceHeader)(p)` (which tree-sitter reads as a
    call) and for the rarer parses as a type conversion."""
    if conversion.type == "call_expression":
        converted = package_of(file).type_of(file, conversion)
        target = converted.elem if converted is not None and converted.kind == "pointer" else None
        return target.name if target is not None and target.kind == "named" and target.name in HEADERS else None
    type_node = _strip(type_node)
    if type_node.type != "pointer_type":
        return None
    inner = _strip(type_node.named_children[0])
    if inner.type == "pointer_type":
        inner = _strip(inner.named_children[0])
    return _header(file, inner)


def _report(file: GoFile, kind: str, node: Node, type_node: Node) -> Report | None:
    if kind == "conversion":
        header = _converted_header(file, node, type_node)
        if header is None or (file.go_version is not None and file.go_version < (1, 20)):
            return None  # before 1.20 the pointer cast is the only way, and a legal one
        arguments = node.child_by_field_name("arguments")
        operand = file.text(
            node.child_by_field_name("operand")
            or (arguments.named_children[0] if arguments is not None and arguments.named_children else node)
        )
        message = (
            f"`{file.text(node)}` views `{operand}` through a {header}: its Data field is a uintptr the GC "
            "ignores, and the type is deprecated. Use unsafe.Slice/unsafe.String with unsafe.SliceData/StringData."
        )
        return Report(node=node, message=message, remediation=REMEDIATION)
    header = _header(file, type_node)
    if header is None:
        return None
    function = node.child_by_field_name("function")
    if kind == "allocation" and (function is None or file.text(function) != "new"):
        return None
    if kind == "declaration":
        names = ", ".join(f"`{file.text(n)}`" for n in node.children_by_field_name("name"))
        what = f"{names} is declared as a {header}"
    else:
        what = f"a {header} is built by hand"
    message = (
        f"{what}: its Data field is a uintptr, so nothing keeps the data it names alive. Use unsafe.Slice or "
        "unsafe.String with unsafe.SliceData/StringData instead."
    )
    return Report(node=node, message=message, remediation=REMEDIATION)


def _names_a_header(file: GoFile) -> bool:
    return b"SliceHeader" in file.source or b"StringHeader" in file.source


def check(file: GoFile) -> Iterator[Report]:
    if not file.package_cached("gr302.names_a_header", lambda: any(map(_names_a_header, file.package_files))):
        return  # none built, declared or converted to
    for match in matches(CANDIDATES, file.root):
        kind = next(k for k in ("literal", "declaration", "conversion", "allocation") if k in match)
        report = _report(file, kind, match[kind], match["type"])
        if report is not None:
            yield report


RULE = Rule(
    id="GR302",
    name="reflect-header",
    severity=Severity.ERROR,
    doc=__doc__,
    check=check,
    imports=("reflect",),
)
