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
values whose type the package does not show, are not followed.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator

from tree_sitter import Node

from ...finding import Severity
from ...gosource import GoFile, occurrences
from ...rule import Report, Rule
from ...semantics import package_of
from ...semantics.package import Package
from ...semantics.types import SYNC_METHODS, Type
from ...syntax import expression_items, functions_in_order, own_nodes

# Each lock type, and what working on a copy of it does.
CONSEQUENCES = {
    "sync.WaitGroup": "its `Done` never reaches the original's `Wait`",
    "sync.Mutex": "locking the copy protects nothing the original guards",
    "sync.RWMutex": "locking the copy protects nothing the original guards",
    "sync.Once": "the copy runs its function again",
    "sync.Cond": "signals on the copy never wake the original's waiters",
}
assert set(CONSEQUENCES) == set(SYNC_METHODS)

REMEDIATION = """\
func worker(id int, wg *sync.WaitGroup) { // a pointer: Done reaches the caller's Wait
    defer wg.Done()
    process(id)
}

wg.Add(1)
go worker(1, &wg)"""


def _lock(package: Package, value_type: Type | None) -> tuple[str, str] | None:
    """(how a message names what a value of this type copies, the consequence):
    `sync.WaitGroup`, or `Config` (it holds a `sync.Mutex`)."""
    lock = package.types_model.held_lock(value_type)
    if lock is None or value_type is None:
        return None
    shown = f"`{lock}`" if value_type.name == lock else f"`{value_type}` (it holds a `{lock}`)"
    return shown, CONSEQUENCES[lock]


def _element(value_type: Type | None) -> Type | None:
    """What ranging over a value of this type gives as its second variable."""
    if value_type is None:
        return None
    target = value_type.deref() if value_type.kind == "pointer" and value_type.deref().kind == "array" else value_type
    return target.elem if target.kind in ("slice", "array", "map") else None


def _parameters(package: Package, file: GoFile, function: Node) -> Iterator[Report]:
    for field_name in ("receiver", "parameters"):
        parameter_list = function.child_by_field_name(field_name)
        for declaration in parameter_list.named_children if parameter_list is not None else []:
            type_node = declaration.child_by_field_name("type")
            lock = _lock(package, package.types_model.from_node(file, type_node))
            names = [file.text(n) for n in declaration.children_by_field_name("name")]
            if lock is None or type_node is None or names == ["_"]:
                continue
            role = "value receiver" if field_name == "receiver" else "parameter"
            name = f"`{names[0]}`" if names else "an unnamed parameter"
            yield Report(
                node=declaration,
                message=(
                    f"The {role} {name} is a {lock[0]} passed by value: {lock[1]}. "
                    f"Take a pointer (`*{file.text(type_node)}`)."
                ),
                remediation=REMEDIATION,
            )


def _copied(package: Package, file: GoFile, value: Node) -> tuple[str, str] | None:
    """What a value that copies a variable (`v` or `*p`) copies, when it holds a lock."""
    if value.type == "identifier" or (value.type == "unary_expression" and file.text(value).startswith("*")):
        return _lock(package, package.type_of(file, value))
    return None


STATEMENTS = ("assignment_statement", "range_clause", "short_var_declaration", "var_spec")


def _copies(package: Package, file: GoFile, function: Node) -> Iterator[Report]:
    for node in own_nodes(file, function, STATEMENTS):
        if node.type == "range_clause":
            left, right = node.child_by_field_name("left"), node.child_by_field_name("right")
            names = left.named_children if left is not None else []
            if right is None or len(names) != 2 or file.text(names[1]) == "_":
                continue  # no element copied into a variable
            lock = _lock(package, _element(package.type_of(file, right)))
            if lock:
                yield Report(
                    node=file.parent(node) or node,
                    message=(
                        f"`range {file.text(right)}` copies each {lock[0]} into `{file.text(names[1])}`: "
                        f"{lock[1]}. Range over the index and use `&{file.text(right)}[i]`."
                    ),
                    remediation=REMEDIATION,
                )
            continue
        left = node.child_by_field_name("left")
        names = left.named_children if left is not None else node.children_by_field_name("name")
        values = expression_items(node.child_by_field_name("right") or node.child_by_field_name("value"))
        if len(names) != len(values):
            continue
        for target, value in zip(names, values):
            copied = _copied(package, file, value) if file.text(target) != "_" else None
            if copied:
                yield Report(
                    node=node,
                    message=(
                        f"`{file.text(target)} = {file.text(value)}` copies a {copied[0]}: {copied[1]}. Use a pointer."
                    ),
                    remediation=REMEDIATION,
                )


def _lock_spellings(package: Package, file: GoFile) -> list[str]:
    """How this file can write a type that holds a lock: `sync.Mutex` (through the import's
    local name) or the name of a type of the package that holds one. A function whose text
    has none of them declares no lock and copies none."""
    sync_names = [local for local, path in file.imports.items() if path == "sync"]
    if file.partial and not file.imports:
        sync_names.append("sync")
    locks = [f"{local}.{lock.split('.')[1]}" for local in sync_names for lock in CONSEQUENCES]
    return [*locks, *package.types_model.lock_holders]


def check(file: GoFile) -> Iterator[Report]:
    package = package_of(file)
    # Where the file spells one: a function is read only when one lies in it.
    spelled = sorted(at for word in _lock_spellings(package, file) for at in occurrences(file.source, word.encode()))
    if not spelled:
        return
    for function in functions_in_order(file):
        first = bisect_left(spelled, function.start_byte)
        if first == len(spelled) or spelled[first] >= function.end_byte:
            continue
        yield from _parameters(package, file, function)
        yield from _copies(package, file, function)


RULE = Rule(
    id="GR107",
    name="lock-copied",
    severity=Severity.ERROR,
    doc=__doc__,
    check=check,
)
