"""Places and the operations functions perform on them.

A *place* is where a channel, a mutex, a WaitGroup, a timer or a context lives, named the
same way in every function that can reach it: a local variable (its binding: a closure and
its starter share it), a package variable, or a field of one of the package's types
(`Server.wg`, whatever receiver or variable it is reached through, `s.wg` or `&s.wg`).

`operations(file, function)` lists what a function or literal does itself (not its
closures, which are functions of their own): method calls on places (`s.mu.Lock()`,
`wg.Done()`), channel sends, receives, ranges and closes, and its calls to functions of the
package with the places it hands them. `Facts.performs` (facts.py) follows those calls. A
receive from a method that returns a field (`<-s.stopper.ShouldStop()`) receives from that
field (`Facts.channel_place`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from tree_sitter import Node

from ..gosource import GoFile
from ..syntax import FUNCTION_TYPES, own_nodes, receiver_name, receiver_type, unparen
from .types import Type, named

if TYPE_CHECKING:
    from .names import Binding
    from .package import Declared, Package

LOCAL, GLOBAL, FIELD = "local", "global", "field"


@dataclass(frozen=True)
class Place:
    kind: str  # LOCAL, GLOBAL or FIELD
    key: str  # LOCAL: the file and offset of the binding's declaration; GLOBAL: the name; FIELD: `Type.field`
    label: str = field(compare=False)  # how a message names it here: `wg`, `s.wg`
    declared_at: int = field(default=-1, compare=False)  # LOCAL: the declaring identifier's offset
    binding: Binding | None = field(default=None, compare=False)  # LOCAL and GLOBAL

    @property
    def name(self) -> str:
        """The name code spells to reach the place: a field's own (`wg` for `Server.wg`), a
        variable's."""
        if self.kind == FIELD:
            return self.key.rpartition(".")[2]
        return self.binding.name if self.binding is not None else self.label


@dataclass(frozen=True)
class Operation:
    """`kind` is a method name called on the place (`Lock`, `Done`, `Wait`, `Stop`...) or one
    of send, receive, range, close."""

    kind: str
    place: Place
    node: Node  # the call, send statement, receive expression or range clause

    def statement(self, file: GoFile) -> Node | None:
        """The send statement itself, else the node around the operation: the expression
        statement of `close(ch)` or `<-done` written on their own, a `defer`'s, a `for`'s."""
        return self.node if self.node.type == "send_statement" else file.parent(self.node)


class _MethodCall:
    """A method called on something (`x.f.Lock()`) whose place is not worked out yet: the
    place of the operand costs the most of a function's operations, and is needed only for
    the names a question asks about (`Lock`, `Done`...), a few of all the methods called."""

    __slots__ = ("call", "method", "name", "operand")

    def __init__(self, name: str, operand: Node, method: Node, call: Node):
        self.name, self.operand, self.method, self.call = name, operand, method, call

    def operation(self, package: Package, file: GoFile) -> Operation | None:
        place = place_of(package, file, self.operand)
        if place is None:
            return None
        return Operation(self.name, _promoted(package, file, self.operand, self.method, place), self.call)


class Operations:
    """What a function does itself, in source order (`of` the kinds asked, or everything it
    `performed`), and the calls it makes of the package's functions, found the first time
    they are asked for: working out each call's callee and the places it is handed costs
    more than the function's own operations, and most questions (who closes this channel?
    does it lock?) need only those. A method call's place is worked out the first time its
    method's name is asked for."""

    def __init__(self, package: Package, file: GoFile, function: Node):
        self.function = function
        self._done: list[Operation | _MethodCall | None] = []  # None: a method call on no place
        self._package, self._file = package, file
        self._call_nodes: list[Node] = []  # the calls whose callees are not worked out yet
        self._calls: list[tuple[Node, Declared, list[Place | None]]] = []
        self._methods: list[tuple[Node, Declared]] = []

    def of(self, *kinds: str) -> list[Operation]:
        """The operations of these kinds (send, receive, range, close, or a method's name)."""
        found = []
        for index, done in enumerate(self._done):
            if isinstance(done, _MethodCall) and done.name in kinds:
                done = self._done[index] = done.operation(self._package, self._file)
            if isinstance(done, Operation) and done.kind in kinds:
                found.append(done)
        return found

    @property
    def performed(self) -> list[Operation]:
        """Every operation, each method call's place worked out."""
        kinds = {done.name if isinstance(done, _MethodCall) else done.kind for done in self._done if done is not None}
        return self.of(*kinds)

    @property
    def calls(self) -> list[tuple[Node, Declared, list[Place | None]]]:
        """Calls of the package's functions: (the call, the callee, the place handed as each argument)."""
        self._follow_calls()
        return self._calls

    @property
    def methods(self) -> list[tuple[Node, Declared]]:
        """Method calls on a value of one of the package's types: (the call, the method)."""
        self._follow_calls()
        return self._methods

    def follow_later(self, call: Node) -> None:
        """A call that may run a function of the package: worked out when `calls` is asked."""
        self._call_nodes.append(call)

    def _follow_calls(self) -> None:
        pending, self._call_nodes = self._call_nodes, []
        package, file = self._package, self._file
        for call in pending:
            function = call.child_by_field_name("function")
            callee = package.facts.callee(file, call) if function is not None else None
            if function is None or callee is None:
                continue
            if unparen(function).type == "selector_expression" and callee.node.type == "method_declaration":
                self._methods.append((call, callee))
            self._calls.append((call, callee, handed_places(package, file, call)))


CHANNEL_OPERATIONS = ("send", "receive", "range", "close")
_NODE_TYPES = ("call_expression", "send_statement", "unary_expression", "range_clause")


def place_of(package: Package, file: GoFile, expression: Node | None) -> Place | None:
    """The place an expression names: `wg`, `&wg`, `s.wg`, `(*s).wg`; None for anything
    else (an index, a call's result, a field of another package's type)."""
    if expression is None:
        return None
    expression = unparen(expression)
    if expression.type == "unary_expression" and file.text(expression)[:1] in "&*":
        return place_of(package, file, expression.child_by_field_name("operand"))
    if expression.type == "identifier":
        binding = package.binding(file, expression)
        if binding is None or binding.kind in ("import", "function", "type", "constant"):
            return None
        name = binding.name
        if not binding.is_local:
            return Place(GLOBAL, name, name, binding=binding)
        offset = binding.identifier.start_byte if binding.identifier is not None else 0
        return Place(LOCAL, f"{binding.file.path}:{offset}", name, offset, binding)
    if expression.type == "selector_expression":
        operand, field_node = expression.child_by_field_name("operand"), expression.child_by_field_name("field")
        owner = package.type_of(file, operand) if operand is not None else None
        if owner is None or field_node is None:
            return None
        target = owner.deref()
        if target.kind != "named" or target.name not in package.types:
            return None
        return Place(FIELD, f"{target.name}.{file.text(field_node)}", file.text(expression))
    return None


def _promoted(package: Package, file: GoFile, operand: Node, method: Node, place: Place) -> Place:
    """The embedded `sync` field a method call reaches (`s.Lock()` locks `Server.Mutex`),
    else the place the call is made on."""
    owner = package.type_of(file, operand)
    field_ = package.types_model.promoted(owner, file.text(method)) if owner is not None else None
    if owner is None or field_ is None:
        return place
    return Place(FIELD, f"{owner.deref().name}.{field_.name}", file.text(operand))


def place_type(package: Package, place: Place) -> Type | None:
    """The declared type of what a place holds."""
    if place.kind == FIELD:
        owner, _, name = place.key.partition(".")
        return package.types_model.field_type(named(owner), name)
    return package.types_model.of_binding(place.binding) if place.binding is not None else None


def spelling(file: GoFile, function: Node, place: Place) -> str:
    """How code in `function` (a method, or a literal written in one) names a place: a field
    of the method's own type through its receiver (`s.wg`), any other field by its key
    (`Server.wg`), a variable by its name."""
    if place.kind != FIELD:
        return place.key if place.kind == GLOBAL else place.label
    method = function if function.type == "method_declaration" else file.top_level(function)
    owner, _, name = place.key.partition(".")
    if method is not None and method.type == "method_declaration" and receiver_type(file, method) == owner:
        receiver = receiver_name(file, method)
        if receiver:
            return f"{receiver}.{name}"
    return place.key


def holds(package: Package, place: Place, *names: str) -> bool:
    """Whether a place holds one of the named types (or a pointer to one): `sync.WaitGroup`."""
    held = place_type(package, place)
    return held is not None and held.is_named(*names)


def operations(package: Package, file: GoFile, function: Node) -> Operations:
    """What `function` does itself (see the module docstring)."""
    assert function.type in FUNCTION_TYPES
    found = Operations(package, file, function)
    for node in own_nodes(file, function, _NODE_TYPES):
        if node.type == "send_statement":
            _add(found, "send", place_of(package, file, node.child_by_field_name("channel")), node)
        elif node.type == "unary_expression":
            operator = node.child_by_field_name("operator")
            operand = node.child_by_field_name("operand")
            if operator is not None and file.text(operator) == "<-" and operand is not None:
                _add(found, "receive", package.facts.channel_place(file, operand), node)
        elif node.type == "range_clause":
            ranged = node.child_by_field_name("right")
            ranged_type = package.type_of(file, ranged) if ranged is not None else None
            if ranged is not None and ranged_type is not None and ranged_type.kind == "chan":
                _add(found, "range", package.facts.channel_place(file, ranged), node)
        else:
            _call(package, file, node, found)
    return found


def _add(found: Operations, kind: str, place: Place | None, node: Node) -> None:
    if place is not None:
        found._done.append(Operation(kind, place, node))


def handed_places(package: Package, file: GoFile, call: Node) -> list[Place | None]:
    """The place a call hands as each argument (None for an argument that names none)."""
    return [place_of(package, file, item) for item in _arguments(call)]


def _arguments(call: Node) -> list[Node]:
    arguments = call.child_by_field_name("arguments")
    return [a for a in arguments.named_children if a.type != "comment"] if arguments is not None else []


def _call(package: Package, file: GoFile, call: Node, found: Operations) -> None:
    function = call.child_by_field_name("function")
    if function is None:
        return
    function = unparen(function)
    if function.type == "identifier" and file.text(function) == "close" and package.binding(file, function) is None:
        items = _arguments(call)
        _add(found, "close", place_of(package, file, items[0]) if items else None, call)
        return
    if function.type == "selector_expression":
        operand, field_node = function.child_by_field_name("operand"), function.child_by_field_name("field")
        if operand is not None and field_node is not None:
            found._done.append(_MethodCall(file.text(field_node), operand, field_node, call))
    found.follow_later(call)
