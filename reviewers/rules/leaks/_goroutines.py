"""Channels of a file and the ways out of loops, for the GR1xx rules.

Goroutines themselves (`Goroutine`, with the function each `go` statement runs) are
`reviewers.goroutines`, shared with the other rule classes.

A `Channel` is a channel made in scope (`ch := make(chan T)`, buffered or not) with every
send, receive, `range` and `close` of it, each tagged with the goroutine it runs in, and
whether it escapes: handed to code we cannot see (another call, a field, a return), where a
receiver or a `close` may hide.

`has_way_out(file, loop)` tells whether a `for` loop can end: a `return`, a `break` of that
loop, a `goto`, a `panic`/`os.Exit`/`log.Fatal`, a `.Done()` or done-channel receive, or a
`v, ok := <-ch` receive that sees the close.

Everything is built once per file (`GoFile.cached`) and shared by the rules.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from tree_sitter import Node

from ...goroutines import Goroutine, goroutines, node_key, running_goroutine
from ...gosource import GoFile, captures
from ...syntax import (
    FUNCTION_TYPES,
    ancestors,
    call_method_name,
    descendants,
    enclosing_function,
    is_inside,
    scope_nodes,
)

# Names that say a channel exists to tell a goroutine to stop.
DONE_NAME = re.compile(r"(?i)(done|quit|stop|exit|clos|shutdown|cancel|die|dying|term|kill|abort|finish)")
# Calls that end a goroutine or the process.
ENDING_CALLS = frozenset(
    {
        "panic",
        "Exit",
        "Goexit",
        "Fatal",
        "Fatalf",
        "Fatalln",
        "Panic",
        "Panicf",
        "Panicln",
        "FailNow",
        "Skip",
        "SkipNow",
        "Skipf",
    }
)
BREAKABLE = ("for_statement", "expression_switch_statement", "type_switch_statement", "select_statement")


# -- channels ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Operation:
    kind: str  # "send", "receive", "range" or "close"
    node: Node  # send_statement, unary_expression, for_statement or close call
    goroutine: Goroutine | None  # the goroutine it runs in; None: the channel's own scope


@dataclass
class Channel:
    name: str
    make: Node  # the make call
    buffered: bool
    scope: Node  # the function it is made in
    element: str  # `int` for `make(chan int)`
    operations: list[Operation] = field(default_factory=list)
    escapes: bool = False  # handed to code we cannot see

    def of(self, *kinds: str) -> list[Operation]:
        return [o for o in self.operations if o.kind in kinds]


def channel_expression(op: Node) -> Node | None:
    """The channel an operation node works on: `ch` in `ch <- v`, `<-ch`, `range ch`, `close(ch)`."""
    if op.type == "send_statement":
        return op.child_by_field_name("channel")
    if op.type == "unary_expression":
        return op.child_by_field_name("operand")
    if op.type == "for_statement":
        clause = next((c for c in op.named_children if c.type == "range_clause"), None)
        return clause.child_by_field_name("right") if clause is not None else None
    arguments = op.child_by_field_name("arguments")
    return arguments.named_children[0] if arguments is not None and arguments.named_children else None


# The operator of a unary expression and the callee of a call come first: a test of the
# node's first bytes spares reading the children of most nodes.
def _is_receive(file: GoFile, node: Node) -> bool:
    if not file.source.startswith(b"<-", node.start_byte):
        return False
    operator = node.child_by_field_name("operator")
    return operator is not None and file.text(operator) == "<-"


def _is_close(file: GoFile, call: Node) -> bool:
    if not file.source.startswith(b"close", call.start_byte):
        return False
    function, arguments = call.child_by_field_name("function"), call.child_by_field_name("arguments")
    return (
        function is not None
        and function.type == "identifier"
        and file.text(function) == "close"
        and arguments is not None
        and len(arguments.named_children) == 1
    )


def _operation_index(file: GoFile) -> dict[str, list[tuple[str, Node]]]:
    """Channel expression text -> (kind, operation node) over the file, from the node index."""

    def build():
        operations = (
            ("send", file.nodes("send_statement")),
            ("receive", [n for n in file.nodes("unary_expression") if _is_receive(file, n)]),
            ("range", file.nodes("for_statement")),
            ("close", [n for n in file.nodes("call_expression") if _is_close(file, n)]),
        )
        index: dict[str, list[tuple[str, Node]]] = {}
        for kind, nodes in operations:
            for op in nodes:
                channel = channel_expression(op)
                if channel is not None:
                    index.setdefault(file.text(channel), []).append((kind, op))
        return index

    return file.cached("goroutines.operations", build)


def operations_on(file: GoFile, name: str, within: Node) -> list[tuple[str, Node]]:
    """Sends, receives, ranges and closes of the channel expression `name` under `within`."""
    return [(kind, op) for kind, op in _operation_index(file).get(name, []) if is_inside(op, within)]


def _plain_use(file: GoFile, identifier: Node) -> bool:
    """A channel identifier used in place (sent on, received from, ranged over, closed,
    measured, declared), not handed on."""
    parent = identifier.parent
    if parent is None:
        return False
    if parent.type == "send_statement" and parent.child_by_field_name("channel") == identifier:
        return True
    if parent.type == "unary_expression" and file.text(parent).startswith("<-"):
        return True
    if parent.type == "range_clause" and parent.child_by_field_name("right") == identifier:
        return True
    if parent.type in ("var_spec", "parameter_declaration") and identifier in parent.children_by_field_name("name"):
        return True
    if parent.type == "argument_list" and parent.parent is not None and parent.parent.type == "call_expression":
        return file.text(parent.parent.child_by_field_name("function")) in ("close", "len", "cap")
    return False


def _started_with(file: GoFile, identifier: Node) -> Goroutine | None:
    """The goroutine whose `go` call takes `identifier` as an argument, when its body is known."""
    arguments = identifier.parent
    call = arguments.parent if arguments is not None and arguments.type == "argument_list" else None
    statement = call.parent if call is not None else None
    if statement is None or statement.type != "go_statement":
        return None
    return next((g for g in goroutines(file) if g.statement == statement and g.body is not None), None)


def _collect(file: GoFile, channel: Channel, name: str, within: Node, goroutine: Goroutine | None, depth: int) -> None:
    """Add the operations on `name` under `within` to the channel, and follow it into the
    bodies of the goroutines it is handed to (`go worker(ch)`)."""
    for kind, op in operations_on(file, name, within):
        runner = running_goroutine(file, op)
        if runner is None or not is_inside(runner.statement, within):
            runner = goroutine
        elif runner.inner(name) != name:
            continue  # another variable of that name
        channel.operations.append(Operation(kind, op, runner))
    declaration = channel.make.parent.parent if channel.make.parent is not None else None
    for identifier in captures("(identifier) @id", within).get("id", []):
        if file.text(identifier) != name or _plain_use(file, identifier):
            continue
        if (
            depth == 0
            and declaration is not None
            and is_inside(identifier, declaration)
            and not is_inside(identifier, channel.make)
        ):
            continue
        started = _started_with(file, identifier)
        inner = next((n for n, argument in started.bindings if argument == name), None) if started else None
        if inner is None or depth >= 2:
            channel.escapes = True
        elif not (started.is_closure and is_inside(started.body, within) and inner == name):
            _collect(file, channel, inner, started.body, started, depth + 1)


def _calls_make(file: GoFile, call: Node) -> bool:
    if not file.source.startswith(b"make", call.start_byte):
        return False
    function = call.child_by_field_name("function")
    return function is not None and function.type == "identifier" and file.text(function) == "make"


def _made_channel(file: GoFile, call: Node) -> Channel | None:
    arguments = call.child_by_field_name("arguments")
    values = arguments.named_children if arguments is not None else []
    if not values or values[0].type != "channel_type":
        return None
    values_list = call.parent
    declaration = values_list.parent if values_list is not None else None
    if values_list is None or values_list.type != "expression_list" or declaration is None:
        return None
    if declaration.type in ("short_var_declaration", "assignment_statement"):
        left = declaration.child_by_field_name("left")
        names = left.named_children if left is not None else []
    elif declaration.type == "var_spec":
        names = declaration.children_by_field_name("name")
    else:
        return None
    index = values_list.named_children.index(call)
    if len(names) != len(values_list.named_children) or names[index].type != "identifier":
        return None
    scope = enclosing_function(call)
    if scope is None or file.text(names[index]) == "_":
        return None
    buffered = len(values) > 1 and file.text(values[1]) != "0"
    element = values[0].child_by_field_name("value")
    return Channel(file.text(names[index]), call, buffered, scope, file.text(element) if element is not None else "T")


def channels(file: GoFile) -> list[Channel]:
    """Every channel made in a function of the file (`ch := make(chan T)`, buffered or not),
    with its operations. A name made twice in one function is left out: which make a use
    refers to is not syntax's business."""

    def build():
        if b"chan" not in file.source:
            return []  # `make(chan T)` spells it
        made = [
            c for call in file.nodes("call_expression") if _calls_make(file, call) and (c := _made_channel(file, call))
        ]
        counts: dict[tuple, int] = {}
        for channel in made:
            counts[(channel.name, node_key(channel.scope))] = counts.get((channel.name, node_key(channel.scope)), 0) + 1
        result = []
        for channel in made:
            if counts[(channel.name, node_key(channel.scope))] == 1:
                _collect(file, channel, channel.name, channel.scope, None, 0)
                result.append(channel)
        return result

    return file.cached("goroutines.channels", build)


# -- selects and loops ------------------------------------------------------------------------
def communication_case(node: Node) -> Node | None:
    """The select case whose communication holds `node` (`case v := <-ch:`, `case ch <- v:`)."""
    for ancestor in ancestors(node):
        if ancestor.type == "communication_case":
            communication = ancestor.child_by_field_name("communication")
            return ancestor if communication is not None and is_inside(node, communication) else None
        if ancestor.type in ("statement_list", "block") or ancestor.type in FUNCTION_TYPES:
            return None
    return None


def _receive_operand(file: GoFile, node: Node) -> Node | None:
    receive = next(
        (n for n in (node, *descendants(node)) if n.type == "unary_expression" and file.text(n).startswith("<-")), None
    )
    return receive.child_by_field_name("operand") if receive is not None else None


def is_stop_receive(file: GoFile, node: Node) -> bool:
    """A receive (under `node`) of `ctx.Done()` or of a channel named like a stop signal
    (`done`, `quit`, `stopCh`, `s.closing`)."""
    operand = _receive_operand(file, node)
    if operand is None:
        return False
    if operand.type == "call_expression":
        return call_method_name(file, operand) == "Done"
    return bool(DONE_NAME.search(file.text(operand).rsplit(".", 1)[-1]))


def is_done_case(file: GoFile, case: Node) -> bool:
    """`case <-ctx.Done():` or a case receiving from a stop channel."""
    communication = case.child_by_field_name("communication")
    return communication is not None and is_stop_receive(file, communication)


def _breaks_loop(file: GoFile, statement: Node, loop: Node) -> bool:
    """Whether a `break` ends `loop`: unlabeled and innermost, or labeled with it or with a
    statement around it."""
    if statement.named_children:
        label = file.text(statement.named_children[0])
        target = next(
            (
                a
                for a in ancestors(statement)
                if a.type == "labeled_statement" and file.text(a.child_by_field_name("label")) == label
            ),
            None,
        )
        return target is None or is_inside(loop, target)
    return next((a for a in ancestors(statement) if a.type in BREAKABLE), None) == loop


def sees_close(receive: Node) -> bool:
    """`v, ok := <-ch` (or `=`, or a select case's `case v, ok := <-ch:`)."""
    holder = receive.parent
    if holder is not None and holder.type == "expression_list":
        holder = holder.parent
    if holder is None or holder.type not in ("receive_statement", "short_var_declaration", "assignment_statement"):
        return False
    left = holder.child_by_field_name("left")
    return left is not None and len(left.named_children) == 2


def has_way_out(file: GoFile, loop: Node) -> bool:
    """Whether a `for` loop can end: a condition or range, return, break, goto, a labeled
    continue of an outer loop, panic/exit, a `.Done()` or stop-channel receive, or a
    `v, ok := <-ch` receive that sees the close."""
    if any(c.type not in ("block", "comment") for c in loop.named_children):
        return True
    for node in descendants(loop, skip=("func_literal",)):
        if node.type in ("return_statement", "goto_statement"):
            return True
        if node.type == "break_statement" and _breaks_loop(file, node, loop):
            return True
        if node.type == "continue_statement" and node.named_children:
            own = loop.parent.child_by_field_name("label") if loop.parent.type == "labeled_statement" else None
            if own is None or file.text(own) != file.text(node.named_children[0]):
                return True
        if node.type == "call_expression" and call_method_name(file, node) in ENDING_CALLS:
            return True
        if node.type == "unary_expression" and file.text(node).startswith("<-"):
            if is_stop_receive(file, node):
                return True
            if sees_close(node):
                return True  # v, ok := <-ch: ends on close
    return False


def returns_between(function: Node, start: int, end: int) -> list[Node]:
    """`return` statements of `function` itself (not of literals in it) between two offsets."""
    return [
        node
        for node in scope_nodes(function)
        if node.type == "return_statement"
        and start <= node.start_byte
        and node.end_byte <= end
        and enclosing_function(node) == function
    ]


# -- WaitGroups ---------------------------------------------------------------------------------
def method_calls(file: GoFile, nodes, receiver: str, method: str) -> list[Node]:
    """Calls `receiver.method(...)` among `nodes` (`wg.Done()`, `s.wg.Add(1)`)."""
    found = []
    for node in nodes:
        function = node.child_by_field_name("function") if node.type == "call_expression" else None
        if function is None or function.type != "selector_expression":
            continue
        operand, field_node = function.child_by_field_name("operand"), function.child_by_field_name("field")
        if file.text(field_node) == method and file.text(operand).lstrip("&") == receiver:
            found.append(node)
    return found


def call_receiver(file: GoFile, call: Node) -> str | None:
    """`s.wg` for `s.wg.Add(1)`."""
    function = call.child_by_field_name("function")
    if function is None or function.type != "selector_expression":
        return None
    return file.text(function.child_by_field_name("operand"))


def preceding_add(file: GoFile, statement: Node) -> Node | None:
    """The `x.Add(n)` statement just before a `go` statement, looking out through the blocks
    and loops around it (`wg.Add(len(items))` before the loop that starts them), with no
    other `go` in between."""
    node = statement
    while node is not None and node.type not in FUNCTION_TYPES:
        sibling = node.prev_named_sibling
        while sibling is not None:
            if sibling.type == "go_statement" or any(
                n.type == "go_statement" for n in descendants(sibling, skip=("func_literal",))
            ):
                return None
            call = (
                sibling.named_children[0] if sibling.type == "expression_statement" and sibling.named_children else None
            )
            if (
                call is not None
                and call.type == "call_expression"
                and call_method_name(file, call) == "Add"
                and call_receiver(file, call)
            ):
                return call
            sibling = sibling.prev_named_sibling
        node = node.parent
    return None
