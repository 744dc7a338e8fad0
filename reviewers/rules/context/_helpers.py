"""Helpers of the context rules (GR2xx) that no other class needs: which context a goroutine
started in a handler runs on and whether the handler waits for it (GR202, GR211), and which
channels are made with a buffer (GR205). What contexts are in scope, where they come from and
who cancels them is the semantic model's (`reviewers/semantics/contexts.py`)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from tree_sitter import Node

from ...gosource import GoFile
from ...semantics import package_of
from ...semantics.contexts import DETACHED, FRESH, REQUEST_ORIGIN, UNKNOWN, cancelled_context, origins
from ...semantics.types import CANCEL, CANCEL_CAUSE
from ...syntax import (
    ancestors,
    call_method_name,
    descendants,
    enclosing_handler,
    field_of,
    is_done_receive,
    is_goroutine_body,
    request_context,
    scope_nodes,
)


def inside_goroutine(node: Node, file: GoFile | None = None) -> bool:
    """Whether `node` is in the body of a function literal started by `go` (at any depth)."""
    return any(is_goroutine_body(a, file) for a in ancestors(node, file) if a.type == "func_literal")


@dataclass(frozen=True)
class GoroutineContext:
    """Which context a goroutine runs on: 'request' (the request's context or one derived
    from it), 'detached' (`context.WithoutCancel`), 'fresh' (Background/TODO), 'none', or
    'unknown' (another context, or the request itself handed on)."""

    kind: str
    evidence: str = ""  # the expression that decided it


class HandlerContexts:
    """A handler and what the goroutines it starts run on."""

    def __init__(self, file: GoFile, handler: Node):
        self.file = file
        self.handler = handler
        self.package = package_of(file)
        self.request_expression = request_context(file, handler)

    def of_goroutine(self, go_statement: Node) -> GoroutineContext:
        """The context a goroutine runs on, by what its code (the `go` statement and a
        literal it starts) mentions: a context, a cancel function (it lives as long as its
        context), or the request itself handed on."""
        found: dict[str, tuple[bool, str]] = {}  # kind -> (shown by a cancel function, evidence)
        stack = [go_statement]
        while stack:
            node = stack.pop()
            kinds = self._kinds(node)
            if kinds is None:
                stack.extend(reversed(node.named_children))
                continue
            evidence = (self._is_cancel(node), self.file.text(node))
            for kind in kinds:
                if kind not in found or (found[kind][0] and not evidence[0]):
                    found[kind] = evidence  # a context names it better than its cancel function
        for kind in (DETACHED, REQUEST_ORIGIN, UNKNOWN, FRESH):
            if kind in found:
                return GoroutineContext(kind, found[kind][1])
        return GoroutineContext("none")

    def _is_cancel(self, node: Node) -> bool:
        return node.type == "identifier" and self.package.type_of(self.file, node) in (CANCEL, CANCEL_CAUSE)

    def _kinds(self, node: Node) -> set[str] | None:
        """The origins of the context `node` is or holds; None when it is none of those
        (its parts may be)."""
        package, file = self.package, self.file
        if node.type == "call_expression":
            kinds = origins(package, file, node)
            return kinds if kinds != {UNKNOWN} else None
        if node.type != "identifier":
            return None
        binding = package.binding(file, node)
        if binding is None or binding.kind in ("function", "import", "type"):
            return None
        declared = package.types_model.of_binding(binding)
        if declared is None:
            return None
        if declared.is_named("context.Context") and declared.kind == "named":
            return origins(package, file, node)
        if declared in (CANCEL, CANCEL_CAUSE):
            # Whoever holds it lives as long as its context: a fresh one's is fresh, another's
            # ties it to a context whose use it does not show.
            cancelled = cancelled_context(package, binding)
            fresh = cancelled is not None and origins(package, binding.file, cancelled) == {FRESH}
            return {FRESH} if fresh else {UNKNOWN}
        if declared.kind == "pointer" and declared.is_named("net/http.Request"):
            return {UNKNOWN}  # the request handed on: what it does with it is unknown
        return None

    def waits_for(self, go_statement: Node) -> bool:
        """Whether the handler waits for the goroutine after starting it: a `Wait()` call, or
        a receive from (or a range over) a channel the goroutine mentions."""
        mentioned = {
            self.file.text(n) for n in descendants(go_statement) if n.type in ("identifier", "selector_expression")
        }
        for node in scope_nodes(self.handler):
            if node.start_byte < go_statement.end_byte:
                continue
            if node.type == "call_expression" and call_method_name(self.file, node) == "Wait":
                return True
            if node.type == "unary_expression" and self.file.text(node).startswith("<-"):
                operand = node.child_by_field_name("operand")
                if operand is not None and self.file.text(operand) in mentioned:
                    return True
            if node.type == "range_clause":
                right = node.child_by_field_name("right")
                if right is not None and self.file.text(right) in mentioned:
                    return True
        return False

    def blocks_until_done(self, go_statement: Node) -> bool:
        """Whether the handler, after the `go`, waits on a `.Done()` channel (a streaming
        handler that returns only when the client leaves)."""
        return any(
            node.start_byte > go_statement.end_byte
            and node.type == "unary_expression"
            and self.file.text(node).startswith("<-")
            and is_done_receive(self.file, node)
            for node in scope_nodes(self.handler)
        )

    def owned_elsewhere(self, go_statement: Node) -> bool:
        """Whether the goroutine reports to a WaitGroup field (`s.wg.Done()`): it belongs to
        a long-lived owner whose shutdown waits for it, not to the request."""
        for call in self.file.nodes("call_expression", within=go_statement):
            function = field_of(call, "function")
            statement = call.parent
            if (
                call_method_name(self.file, call) == "Done"
                and function.type == "selector_expression"
                and field_of(function, "operand").type == "selector_expression"
                and statement is not None
                and statement.type in ("expression_statement", "defer_statement")
            ):
                return True
        return False

    def watches_done(self, code: Node) -> bool:
        """Whether the code (a `go` statement or the body it runs) selects on `<-ctx.Done()`:
        it is written to stop when the context is cancelled."""
        return any(
            n.type == "communication_case"
            and (comm := n.child_by_field_name("communication")) is not None
            and "Done()" in self.file.text(comm)
            for n in descendants(code)
        )


def handler_goroutines(file: GoFile) -> Iterator[tuple[HandlerContexts, Node]]:
    """(the handler's contexts, go statement) for each goroutine a handler starts, in its own
    body or in a closure of it (not in another goroutine)."""
    by_handler: dict[int, HandlerContexts] = {}
    for go_statement in file.nodes("go_statement"):
        handler = enclosing_handler(file, go_statement)
        if handler is None:
            continue
        if handler.id not in by_handler:
            by_handler[handler.id] = HandlerContexts(file, handler)
        yield by_handler[handler.id], go_statement
