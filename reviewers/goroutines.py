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
from dataclasses import dataclass, field

from tree_sitter import Node

from .gosource import GoFile
from .semantics import Binding, Package, package_of
from .semantics.ownership import bound_results
from .semantics.package import Declared
from .semantics.places import Place, handed_places, place_of
from .syntax import (
    LOOP_TYPES,
    ancestors,
    call_method_name,
    declaration_name,
    enclosing_declaration,
    field_of,
    is_inside,
    own_nodes,
    parameters,
    qualified_name,
    receiver_name,
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
    function = unparen(field_of(call, "function"))
    if function.type == "identifier":
        binding = package_of(file).binding(file, function)
        function = unparen(binding.value) if binding is not None and binding.value is not None else function
    operand = function.child_by_field_name("operand") if function.type == "selector_expression" else None
    return callee.node, file.text(operand) if operand is not None else None


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
        bound = receiver_name(file, body)
        if bound:
            bindings.append((bound, receiver))
            names.append(bound)
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
        lambda: {node_key(g.body): g for g in goroutines(file) if g.body is not None and g.is_closure},
    )


def scope_goroutines(file: GoFile, function: Node) -> list[Goroutine]:
    """The goroutines a function's scope starts, closures included (not those its goroutines
    start in turn)."""
    result = []
    for goroutine in goroutines(file):
        if not is_inside(goroutine.statement, function):
            continue
        runner = running_goroutine(file, goroutine.statement)
        if runner is None or runner.body is None or runner.body == function or not is_inside(runner.body, function):
            result.append(goroutine)
    return result


def running_goroutine(file: GoFile, node: Node) -> Goroutine | None:
    """The goroutine whose literal body holds `node` (innermost), None outside any."""
    bodies = goroutine_of_body(file)
    for function in (a for a in ancestors(node, file) if a.type == "func_literal"):
        if node_key(function) in bodies:
            return bodies[node_key(function)]
    return None


ONCE_CALLS = frozenset({"sync.OnceFunc", "sync.OnceValue", "sync.OnceValues"})


def _run_once(file: GoFile) -> list[Node]:
    """The function literals of the file that run once for the life of the process: those
    handed to `sync.OnceFunc` and its kin, or to a `sync.Once`'s `Do`."""
    package = package_of(file)
    found = []
    for call in file.nodes("call_expression"):
        arguments = call.child_by_field_name("arguments")
        literal = arguments.named_child(0) if arguments is not None and arguments.named_child_count else None
        if literal is None or literal.type != "func_literal":
            continue
        if qualified_name(file, call) in ONCE_CALLS:
            found.append(literal)
            continue
        function = call.child_by_field_name("function")
        operand = (
            function.child_by_field_name("operand") if function and function.type == "selector_expression" else None
        )
        receiver = package.type_of(file, operand) if operand is not None else None
        if call_method_name(file, call) == "Do" and receiver is not None and receiver.is_named("sync.Once"):
            found.append(literal)
    return found


def started_once(file: GoFile, statement: Node, depth: int = 2) -> bool:
    """Whether a statement (a `go` statement) runs once for the life of the process, by
    construction: in `init` or `main`, in a package-level initializer, in a function literal
    that a `sync.Once` runs, or in an unexported function or method that only such code
    calls, outside loops (`func main() { if err := run(); ... }`, a library's `init` calling
    `table.startJanitor()`). A goroutine started there ends with the process."""
    declaration = enclosing_declaration(statement, file)
    if declaration is None or declaration.type in ("var_declaration", "const_declaration"):
        return True
    name = declaration_name(file, declaration)
    if name in ("init", "main"):
        return True
    if any(is_inside(statement, literal) for literal in file.cached("goroutines.run_once", lambda: _run_once(file))):
        return True
    own = declaration.child_by_field_name("name")  # a method's own, without its receiver
    if depth == 0 or own is None or not file.text(own)[:1].islower() or _in_loop(statement, file):
        return False
    callers = package_of(file).facts.call_sites(Declared(file, declaration), started=True)
    return bool(callers) and all(
        not _in_loop(call, caller.file) and started_once(caller.file, call, depth - 1) for caller, call in callers or ()
    )


def _in_loop(node: Node, file: GoFile) -> bool:
    """Inside a loop of its function (a literal's loops count). The answer is kept for each
    node on the way up, so that code nested thousands deep costs its size."""
    known: dict[int, bool] = file.cached("goroutines.in_loop", dict)
    passed = []
    found = False
    for ancestor in ancestors(node, file):
        if ancestor.id in known:
            found = known[ancestor.id]
            break
        if ancestor.type in LOOP_TYPES:
            found = True
            break
        if ancestor.type in ("function_declaration", "method_declaration"):
            break
        passed.append(ancestor.id)
    for passed_id in passed:
        known[passed_id] = found
    return found


def body_nodes(goroutine: Goroutine) -> Iterator[Node]:
    """The body's own scope: not the goroutines it starts in turn."""
    return scope_nodes(goroutine.body) if goroutine.body is not None else iter(())


# -- channels made in a function, and what every goroutine does with them ----------------------
@dataclass(frozen=True)
class ChannelOperation:
    kind: str  # "send", "receive", "range" or "close"
    node: Node  # send_statement, unary_expression, for_statement or close call
    goroutine: Goroutine | None  # the goroutine it runs in; None: the channel's own scope


@dataclass
class Channel:
    """A channel made in a function (`ch := make(chan T)`, buffered or not) with every send,
    receive, `range` and `close` of it — in the function, its closures and the goroutines it
    starts (through their parameters: `go worker(ch)`) — each tagged with the goroutine it runs
    in, and whether it escapes: stored, returned or handed to code the package does not show,
    where another receiver or a `close` may hide."""

    name: str
    make: Node
    buffered: bool
    scope: Node  # the function it is made in
    element: str  # `int` for `make(chan int)`
    operations: list[ChannelOperation] = field(default_factory=list)
    escapes: bool = False
    returned: bool = False  # handed back to the caller (and not otherwise escaping)

    def of(self, *kinds: str) -> list[ChannelOperation]:
        return [o for o in self.operations if o.kind in kinds]


def channels(file: GoFile) -> list[Channel]:
    """Every channel made by `:=`, `=` or `var` from a `make` in a function of the file."""

    def build() -> list[Channel]:
        if b"chan" not in file.source:
            return []  # `make(chan T)` spells it
        package = package_of(file)
        found = []
        for call in file.nodes("call_expression"):
            channel = _made_channel(package, file, call)
            if channel is not None:
                found.append(channel)
        return found

    return file.cached("goroutines.channels", build)


_FOLLOWED = {"send": "send", "receive": "receive", "range": "range", "close": "close"}


def _made_channel(package: Package, file: GoFile, call: Node) -> Channel | None:
    if not file.source.startswith(b"make", call.start_byte):
        return None
    arguments = call.child_by_field_name("arguments")
    values = [a for a in arguments.named_children if a.type != "comment"] if arguments is not None else []
    if not values or values[0].type != "channel_type" or package.binding(file, field_of(call, "function")) is not None:
        return None
    bound = bound_results(package, file, call)
    result = bound.results[0] if bound is not None and len(bound.results) == 1 else None
    binding = result.binding if result is not None else None
    scope = binding.function if binding is not None else None
    if binding is None or scope is None or binding.identifier is None:
        return None
    if len(package.assignments(binding)) != 1:
        return None  # made more than once: which make an operation sees is not syntax's business
    place = place_of(package, file, binding.identifier)
    element = values[0].child_by_field_name("value")
    capacity = package.values.capacity(file, call)
    channel = Channel(binding.name, call, capacity != 0, scope, file.text(element) if element is not None else "T")
    if place is None:
        return None
    _collect(package, file, channel, Declared(file, scope), place, None, 0)
    # The scope's own operations first, then those of the goroutines it starts, in source order.
    channel.operations.sort(key=lambda op: (not is_inside(op.node, scope), op.node.start_byte))
    escapes = _escapes(package, file, channel, binding)
    channel.returned = escapes == "returned" and not channel.escapes
    channel.escapes = channel.escapes or escapes is not None
    return channel


def _collect(
    package: Package,
    file: GoFile,
    channel: Channel,
    function: Declared,
    place: Place,
    goroutine: Goroutine | None,
    depth: int,
) -> None:
    """Add the operations `function` and the literals in it perform on `place`, and follow it
    into the functions of this file that goroutines run with it (`go worker(ch)`)."""
    literals = [function.node] + [
        n for n in file.nodes("func_literal", within=function.node) if n.id != function.node.id
    ]
    bodies = goroutine_of_body(file)
    for node in literals:
        runner = None
        if node.type == "func_literal":
            runner = bodies.get(node_key(node)) or running_goroutine(file, node)
        if runner is None or not is_inside(runner.statement, function.node):
            runner = goroutine
        done = package.facts.operations(Declared(file, node))
        for operation in done.of(*_FOLLOWED):
            if operation.place == place:
                # A range is known by its loop.
                node_of = operation.node.parent if operation.kind == "range" else operation.node
                if node_of is not None:
                    channel.operations.append(ChannelOperation(operation.kind, node_of, runner))
        # A plain call of a package function is left to its facts (below): only the
        # goroutines started with the channel are followed here.
        for statement in own_nodes(file, node, ("go_statement",)):
            call = next((c for c in statement.named_children if c.type == "call_expression"), None)
            callee = package.facts.callee(file, call) if call is not None else None
            if call is None or callee is None or callee.node.type == "func_literal":
                continue
            handed = handed_places(package, file, call)
            if place not in handed:
                continue
            inner = package.facts.place_in(callee, place, handed)
            if callee.file is not file or inner is None or depth >= 2:
                channel.escapes = True
                continue
            _collect(package, file, channel, callee, inner, goroutine_at(file, statement), depth + 1)


def _escapes(package: Package, file: GoFile, channel: Channel, binding: Binding) -> str | None:
    """How the channel leaves the code that can be seen: "returned" to the caller only, or
    "elsewhere" (stored, assigned to another variable, handed to a call that is not a
    goroutine this file shows: its code may receive or close); None when it does not."""
    how = None
    for reference in package.references(binding):
        parent = reference.parent
        if parent is None:
            continue
        if parent.type == "send_statement" and parent.child_by_field_name("channel") == reference:
            continue
        if parent.type == "unary_expression" and file.text(parent).startswith("<-"):
            continue
        if parent.type == "range_clause" and parent.child_by_field_name("right") == reference:
            continue
        if parent.type == "argument_list" and parent.parent is not None:
            call = parent.parent
            function = call.child_by_field_name("function")
            if (
                function is not None
                and function.type == "identifier"
                and file.text(function) in ("close", "len", "cap")
                and package.binding(file, function) is None
            ):
                continue
            statement = call.parent
            callee = package.facts.callee(file, call)
            if statement is not None and statement.type == "go_statement" and callee is not None:
                continue  # followed into the goroutine by `_collect`, which marks what it cannot follow
        holder = file.parent(parent) if parent.type == "expression_list" else parent
        if holder is not None and holder.type == "return_statement":
            how = how or "returned"
            continue
        return "elsewhere"
    return how
