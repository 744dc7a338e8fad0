"""Goroutines of a file: each `go` statement with the function it runs, when the file shows it.

A `Goroutine` is a `go` statement with its body: a literal (`go func() {...}()`), a closure
assigned to a variable and then started (`f := func() {...}; go f()`), a function of the
file (`go worker(ch)`) or a method value (`go s.loop()`, `f := s.loop; go f()`). Its
`inner`/`outer` translate names between the starter and the body (`go worker(ch)` runs
`worker(in chan int)`: the starter's `ch` is the body's `in`). Shared by the rule classes:
leaks follow channels and WaitGroups into goroutines, context rules ask what a goroutine
started in a handler runs.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from tree_sitter import Node

from .gosource import GoFile
from .semantics import package_of
from .syntax import (
    FUNCTION_TYPES,
    ancestors,
    is_goroutine_body,
    is_inside,
    parameters,
    scope_nodes,
    unparen,
)


@dataclass(frozen=True)
class Goroutine:
    statement: Node  # the `go` statement
    body: Node | None  # the function it runs, when this file shows it
    bindings: tuple[tuple[str, str], ...] = ()  # body parameter or receiver -> starter's expression
    hidden: frozenset[str] = frozenset()  # body names that are not the starter's (parameters)

    @property
    def is_closure(self) -> bool:
        """The body is a literal: it sees the starter's variables by name."""
        return self.body is not None and self.body.type == "func_literal"

    def inner(self, expression: str) -> str | None:
        """The body's name for the starter's `expression` (`ch`, `s.wg`), None when the body
        cannot reach it."""
        for name, argument in self.bindings:
            if argument == expression:
                return name
            if expression.startswith(argument + "."):
                return name + expression[len(argument) :]
        root = expression.split(".", 1)[0]
        return expression if self.is_closure and root not in self.hidden else None

    def outer(self, expression: str) -> str | None:
        """The starter's name for the body's `expression`."""
        root, dot, rest = expression.partition(".")
        for name, argument in self.bindings:
            if name == root:
                return argument + dot + rest
        return expression if self.is_closure and root not in self.hidden else None


def node_key(node: Node) -> tuple[int, int, str]:
    return (node.start_byte, node.end_byte, node.type)


def _target(file: GoFile, call: Node) -> tuple[Node | None, str | None]:
    """The function of this file a `go` call runs, as the semantic model resolves the
    callee (a literal, a function, a method of the package's types, a local holding one of
    those), and the receiver expression of a method."""
    callee = package_of(file).facts.callee(file, call)
    if callee is None or callee.file is not file:
        return None, None
    if callee.node.type != "method_declaration":
        return callee.node, None
    function = unparen(call.child_by_field_name("function"))  # type: ignore[arg-type]
    if function.type == "identifier":
        binding = package_of(file).binding(file, function)
        function = unparen(binding.value) if binding is not None and binding.value is not None else function
    operand = function.child_by_field_name("operand") if function.type == "selector_expression" else None
    return callee.node, file.text(operand) if operand is not None else None


def _receiver_name(file: GoFile, method: Node) -> str | None:
    receiver = method.child_by_field_name("receiver")
    names = [
        file.text(n) for p in (receiver.named_children if receiver else []) for n in p.children_by_field_name("name")
    ]
    return names[0] if names and names[0] != "_" else None


def _argument_text(file: GoFile, argument: Node) -> str:
    text = file.text(argument)
    return text[1:] if text.startswith("&") else text


def _goroutine(file: GoFile, statement: Node) -> Goroutine:
    call = statement.named_children[0] if statement.named_children else None
    if call is None or call.type != "call_expression":
        return Goroutine(statement, None)
    body, receiver = _target(file, call)
    if body is None:
        return Goroutine(statement, None)
    arguments = call.child_by_field_name("arguments")
    values = [a for a in arguments.named_children if a.type != "comment"] if arguments is not None else []
    names = [p.name for p in parameters(body, file)]
    bindings = [(n, _argument_text(file, v)) for n, v in zip(names, values) if n and n != "_"]
    if receiver is not None and body.type == "method_declaration":
        receiver_name = _receiver_name(file, body)
        if receiver_name:
            bindings.append((receiver_name, receiver))
            names.append(receiver_name)
    return Goroutine(statement, body, tuple(bindings), frozenset(n for n in names if n))


def goroutines(file: GoFile) -> list[Goroutine]:
    """Every `go` statement of the file, in source order, with its body resolved."""

    def build():
        return [_goroutine(file, s) for s in file.nodes("go_statement")]

    return file.cached("goroutines.all", build)


def goroutine_at(file: GoFile, statement: Node) -> Goroutine:
    """The goroutine a `go` statement starts."""
    return next(g for g in goroutines(file) if g.statement == statement)


def goroutine_of_body(file: GoFile) -> dict[tuple, Goroutine]:
    """Literal goroutine bodies (started directly or through a variable) -> their goroutine."""
    return file.cached(
        "goroutines.by_body",
        lambda: {node_key(g.body): g for g in goroutines(file) if g.is_closure},
    )


def scope_goroutines(file: GoFile, function: Node) -> list[Goroutine]:
    """The goroutines a function's scope starts, closures included (not those its goroutines
    start in turn)."""
    result = []
    for goroutine in goroutines(file):
        if not is_inside(goroutine.statement, function):
            continue
        runner = running_goroutine(file, goroutine.statement)
        if runner is None or runner.body == function or not is_inside(runner.body, function):
            result.append(goroutine)
    return result


def scope_root(file: GoFile, node: Node) -> Node | None:
    """The function whose scope `node` belongs to: the innermost declaration or goroutine body
    around it, looking through plain closures."""
    bodies = goroutine_of_body(file)
    last = None
    for function in (a for a in ancestors(node) if a.type in FUNCTION_TYPES):
        last = function
        if function.type != "func_literal" or is_goroutine_body(function) or node_key(function) in bodies:
            return function
    return last


def running_goroutine(file: GoFile, node: Node) -> Goroutine | None:
    """The goroutine whose literal body holds `node` (innermost), None outside any."""
    bodies = goroutine_of_body(file)
    for function in (a for a in ancestors(node) if a.type == "func_literal"):
        if node_key(function) in bodies:
            return bodies[node_key(function)]
    return None


def body_nodes(goroutine: Goroutine) -> Iterator[Node]:
    """The body's own scope: not the goroutines it starts in turn."""
    return scope_nodes(goroutine.body) if goroutine.body is not None else iter(())
