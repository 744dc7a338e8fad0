"""GR107 lock-copied: a `sync.WaitGroup`, `Mutex`, `RWMutex`, `Once` or `Cond` passed or copied by value.

## What it does
Flags a parameter or value receiver whose type is one of these `sync` types, or a struct
declared in the same package that holds one (directly or through another such struct, not
through a pointer); and a statement that copies such a value: `x := v` or `x := *p` from a
variable the function declares with that type, or `for _, v := range xs` over a slice, array
or map of them. The parameter or the copying statement is reported.

## Why is this bad?
These types must not be copied after first use. A copied `WaitGroup` counts on its own: the
callee's `Done` never reaches the caller's `Wait`, which blocks forever. A copied `Mutex`
locks nothing the original protects (or is copied while locked and deadlocks on first use).
`go vet`'s copylocks reports most of these; goreef catches them in review.

## Example
```go
func worker(id int, wg sync.WaitGroup) { // a copy: Done never reaches the caller
    defer wg.Done()
    process(id)
}
```

## Use instead
```go
func worker(id int, wg *sync.WaitGroup) {
    defer wg.Done()
    process(id)
}
```

## Fix safety
No suggestion: the callers must pass `&wg` as well. Types declared in other packages, and
values whose type syntax does not show (a field read through a call), are not followed.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from tree_sitter import Node

from ...finding import Severity
from ...gosource import GoFile
from ...rule import Report, Rule
from ...syntax import FUNCTION_TYPES, own_nodes, qualified_name

# Each lock type, and what working on a copy of it does.
CONSEQUENCES = {
    "sync.WaitGroup": "its `Done` never reaches the original's `Wait`",
    "sync.Mutex": "locking the copy protects nothing the original guards",
    "sync.RWMutex": "locking the copy protects nothing the original guards",
    "sync.Once": "the copy runs its function again",
    "sync.Cond": "signals on the copy never wake the original's waiters",
}
LOCKS = frozenset(CONSEQUENCES)

REMEDIATION = """\
func worker(id int, wg *sync.WaitGroup) { // a pointer: Done reaches the caller's Wait
    defer wg.Done()
    process(id)
}

wg.Add(1)
go worker(1, &wg)"""


def _fields(file: GoFile) -> dict[str, list[str]]:
    """Struct types of the file -> what their value fields are: a `sync.X` or a type name."""

    def build():
        found: dict[str, list[str]] = {}
        for match in file.nodes("type_spec"):
            name, struct = match.child_by_field_name("name"), match.child_by_field_name("type")
            if name is None or name.type != "type_identifier" or struct is None or struct.type != "struct_type":
                continue
            fields = []
            for declaration in file.nodes("field_declaration", within=struct):
                type_node = declaration.child_by_field_name("type")
                while type_node is not None and type_node.type == "array_type":
                    type_node = type_node.child_by_field_name("element")
                embedded_pointer = any(c.type == "*" for c in declaration.children)
                if type_node is None or embedded_pointer or type_node.type in ("pointer_type", "struct_type"):
                    continue
                qualified = qualified_name(file, type_node)
                fields.append(
                    qualified
                    if qualified in LOCKS
                    else file.text(type_node)
                    if type_node.type == "type_identifier"
                    else ""
                )
            found[file.text(name)] = fields
        return found

    return file.cached("gr107.fields", build)


def _holders(file: GoFile) -> dict[str, str]:
    """Struct types of the package that hold a lock by value -> the lock (`sync.Mutex`)."""

    def build():
        fields: dict[str, list[str]] = {}
        for other in file.package_files:
            fields.update(_fields(other))
        holders: dict[str, str] = {}
        changed = True
        while changed:
            changed = False
            for name, kinds in fields.items():
                lock = next((k if k in LOCKS else holders[k] for k in kinds if k in LOCKS or k in holders), None)
                if lock and name not in holders:
                    holders[name] = lock
                    changed = True
        return holders

    return file.package_cached("gr107.holders", build)


def _consequence(lock: str) -> str:
    return next(text for name, text in CONSEQUENCES.items() if f"`{name}`" in lock)


def _lock(file: GoFile, type_node: Node | None) -> str | None:
    """What a value of this type copies, for a message: `sync.WaitGroup`, or `Config` (it holds a `sync.Mutex`)."""
    if type_node is None:
        return None
    qualified = qualified_name(file, type_node)
    if qualified in LOCKS:
        return f"`{qualified}`"
    if type_node.type == "type_identifier" and file.text(type_node) in _holders(file):
        return f"`{file.text(type_node)}` (it holds a `{_holders(file)[file.text(type_node)]}`)"
    return None


def _element(type_node: Node | None) -> Node | None:
    if type_node is None:
        return None
    if type_node.type in ("slice_type", "array_type"):
        return type_node.child_by_field_name("element")
    if type_node.type == "map_type":
        return type_node.child_by_field_name("value")
    return None


STATEMENTS = ("assignment_statement", "range_clause", "short_var_declaration", "var_spec")


def _statements(file: GoFile, function: Node) -> list[Node]:
    """The declarations, assignments and range clauses of a function, not of the literals in it."""
    return own_nodes(file, function, STATEMENTS)


def _declared_types(file: GoFile, function: Node, statements: list[Node]) -> dict[str, Node]:
    """Variables of a function (parameters, receiver, `var x T`) -> their declared type."""
    types: dict[str, Node] = {}
    for field_name in ("receiver", "parameters"):
        parameter_list = function.child_by_field_name(field_name)
        for declaration in parameter_list.named_children if parameter_list is not None else []:
            for name in declaration.children_by_field_name("name"):
                types[file.text(name)] = declaration.child_by_field_name("type")
    for node in statements:
        if node.type == "var_spec" and node.child_by_field_name("type") is not None:
            for name in node.children_by_field_name("name"):
                types[file.text(name)] = node.child_by_field_name("type")
    return types


def _copied(file: GoFile, value: Node, types: dict[str, Node]) -> tuple[str, str] | None:
    """(`v`, what it copies) for a value that copies a lock: `v` or `*p`."""
    if value.type == "identifier":
        lock = _lock(file, types.get(file.text(value)))
        return (file.text(value), lock) if lock else None
    if value.type == "unary_expression" and file.text(value).startswith("*"):
        operand = value.child_by_field_name("operand")
        declared = types.get(file.text(operand)) if operand is not None else None
        if declared is not None and declared.type == "pointer_type":
            lock = _lock(file, declared.named_children[0])
            return (file.text(value), lock) if lock else None
    return None


def _parameters(file: GoFile, function: Node) -> Iterator[Report]:
    for field_name in ("receiver", "parameters"):
        parameter_list = function.child_by_field_name(field_name)
        for declaration in parameter_list.named_children if parameter_list is not None else []:
            lock = _lock(file, declaration.child_by_field_name("type"))
            names = [file.text(n) for n in declaration.children_by_field_name("name")]
            if lock is None or names == ["_"]:
                continue
            role = "value receiver" if field_name == "receiver" else "parameter"
            name = f"`{names[0]}`" if names else "an unnamed parameter"
            yield Report(
                node=declaration,
                message=(
                    f"The {role} {name} is a {lock} passed by value: {_consequence(lock)}. "
                    f"Take a pointer (`*{file.text(declaration.child_by_field_name('type'))}`)."
                ),
                remediation=REMEDIATION,
            )


def _copies(file: GoFile, function: Node) -> Iterator[Report]:
    statements = _statements(file, function)
    types = _declared_types(file, function, statements)
    for node in statements:
        if node.type in ("short_var_declaration", "assignment_statement", "var_spec"):
            left = node.child_by_field_name("left")
            names = left.named_children if left is not None else node.children_by_field_name("name")
            right = node.child_by_field_name("right") or node.child_by_field_name("value")
            values = (
                right.named_children
                if right is not None and right.type == "expression_list"
                else [right]
                if right
                else []
            )
            for target, value in zip(names, values):
                copied = _copied(file, value, types) if file.text(target) != "_" else None
                if copied:
                    yield Report(
                        node=node,
                        message=(
                            f"`{file.text(target)} = {copied[0]}` copies a {copied[1]}: {_consequence(copied[1])}. "
                            "Use a pointer."
                        ),
                        remediation=REMEDIATION,
                    )
        elif node.type == "range_clause":
            left, right = node.child_by_field_name("left"), node.child_by_field_name("right")
            names = left.named_children if left is not None else []
            declared = types.get(file.text(right)) if right is not None and right.type == "identifier" else None
            lock = _lock(file, _element(declared))
            if lock and len(names) == 2 and file.text(names[1]) != "_":
                yield Report(
                    node=node.parent,
                    message=(
                        f"`range {file.text(right)}` copies each {lock} into `{file.text(names[1])}`: "
                        f"{_consequence(lock)}. Range over the index and use `&{file.text(right)}[i]`."
                    ),
                    remediation=REMEDIATION,
                )


def _lock_spellings(file: GoFile) -> re.Pattern | None:
    """How this file can write a type that holds a lock: `sync.Mutex` (through the import's
    local name) or the name of a holder type of the package. A function whose text has none
    of them declares no lock and copies none."""
    sync_names = [local for local, path in file.imports.items() if path == "sync"]
    if file.partial and not file.imports:
        sync_names.append("sync")
    locks = [f"{re.escape(local)}\\.{lock.split('.')[1]}" for local in sync_names for lock in LOCKS]
    words = locks + [re.escape(name) for name in _holders(file)]
    return re.compile(rb"\b(?:" + "|".join(words).encode() + rb")\b") if words else None


def check(file: GoFile) -> Iterator[Report]:
    spellings = _lock_spellings(file)
    if spellings is None or not spellings.search(file.source):
        return
    functions = sorted(
        (f for function_type in FUNCTION_TYPES for f in file.nodes(function_type)), key=lambda f: f.start_byte
    )
    for function in functions:
        if not spellings.search(file.source, function.start_byte, function.end_byte):
            continue
        yield from _parameters(file, function)
        yield from _copies(file, function)


RULE = Rule(
    id="GR107",
    name="lock-copied",
    severity=Severity.ERROR,
    doc=__doc__,
    check=check,
)
