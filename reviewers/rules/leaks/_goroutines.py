"""Select cases and the ways out of loops, for the GR1xx rules.

Goroutines and the channels made in a function (`Goroutine`, `Channel`) are
`reviewers.goroutines`, shared with the other rule classes.

`has_way_out(file, loop)` tells whether a `for` loop can end: a `return`, a `break` of that
loop, a `goto`, a `panic`/`os.Exit`/`log.Fatal`, a `.Done()` or done-channel receive, or a
`v, ok := <-ch` receive that sees the close.

Everything is built once per file (`GoFile.cached`) and shared by the rules.
"""

from __future__ import annotations

import re

from tree_sitter import Node

from ...gosource import GoFile
from ...semantics import package_of
from ...syntax import (
    FUNCTION_TYPES,
    call_method_name,
    descendants,
    enclosing_function,
    field_of,
    receive_with_ok,
    scope_nodes,
)
from ...syntax import communication_case as communication_case  # the select helper lives in syntax.py

# Names that say a channel exists to tell a goroutine to stop.
DONE_NAME = re.compile(r"(?i)(done|quit|stop|exit|clos|shutdown|cancel|die|dying|term|kill|abort|finish)")


def channel_expression(op: Node) -> Node:
    """The channel the node of a `ChannelOperation` works on: `ch` in `ch <- v`, `<-ch`,
    `for range ch`, `close(ch)`."""
    if op.type == "send_statement":
        return field_of(op, "channel")
    if op.type == "unary_expression":
        return field_of(op, "operand")
    if op.type == "for_statement":
        clause = next((c for c in op.named_children if c.type == "range_clause"), None)
        if clause is not None:
            return field_of(clause, "right")
    elif op.type == "call_expression":
        arguments = field_of(op, "arguments").named_children
        if arguments:
            return arguments[0]
    raise ValueError(f"a {op.type} at line {op.start_point[0] + 1} is no channel operation")


# -- selects and loops ------------------------------------------------------------------------
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


def has_way_out(file: GoFile, loop: Node) -> bool:
    """Whether a `for` loop can end: a path of the control-flow graph leaves it (a condition
    or range that ends, a `break` of it, a `return`, a `goto`, a `panic` or a call that never
    returns), or it waits on a stop signal (`<-ctx.Done()`, a done channel) or on a
    `v, ok := <-ch` receive that sees the close (what it does next is given the benefit of
    the doubt)."""
    function = enclosing_function(loop, file)
    if function is None or package_of(file).cfg(file, function).can_leave(loop):
        return True
    receives = (
        n
        for n in descendants(loop, skip=("func_literal",))
        if n.type == "unary_expression" and file.text(n).startswith("<-")
    )
    return any(is_stop_receive(file, n) or receive_with_ok(n) is not None for n in receives)


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
def call_receiver(file: GoFile, call: Node) -> str | None:
    """`s.wg` for `s.wg.Add(1)`."""
    function = call.child_by_field_name("function")
    operand = function.child_by_field_name("operand") if function is not None else None
    if function is None or function.type != "selector_expression" or operand is None:
        return None
    return file.text(field_of(function, "operand"))


def preceding_add(file: GoFile, statement: Node) -> Node | None:
    """The `x.Add(n)` statement just before a `go` statement, looking out through the blocks
    and loops around it (`wg.Add(len(items))` before the loop that starts them), with no
    other `go` in between."""
    node: Node | None = statement
    while node is not None and node.type not in FUNCTION_TYPES:
        holder = file.parent(node)
        siblings = holder.named_children if holder is not None else []
        position = next((i for i, s in enumerate(siblings) if s.id == node.id), 0)
        for sibling in reversed(siblings[:position]):
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
        node = holder
    return None
