"""Helpers of the context rules (GR2xx) that no other class needs: which contexts are visible
at a point of the code, the paths on which a cancel function is dropped (GR204), and which
context a goroutine started in a handler runs on (GR202, GR211).

Everything is syntactic, like `reviewers/syntax.py`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from tree_sitter import Node

from ...gosource import GoFile
from ...syntax import (
    FUNCTION_TYPES,
    ancestors,
    call_method_name,
    descendants,
    enclosing_handler,
    is_done_receive,
    is_goroutine_body,
    is_inside,
    parameters,
    qualified_name,
    request_context,
    request_parameters,
    scope_nodes,
    type_is,
)

FRESH_CONTEXTS = frozenset({"context.Background", "context.TODO"})
DETACHING = "context.WithoutCancel"
DERIVING = frozenset(
    f"context.{name}"
    for name in (
        "WithCancel",
        "WithTimeout",
        "WithDeadline",
        "WithValue",
        "WithCancelCause",
        "WithTimeoutCause",
        "WithDeadlineCause",
    )
)
CANCELLING = DERIVING - {"context.WithValue"}
ASSIGNMENT_TYPES = ("short_var_declaration", "assignment_statement", "var_spec")


def is_test_file(file: GoFile) -> bool:
    return file.path.endswith("_test.go")


def first_argument(call: Node) -> Node | None:
    arguments = call.child_by_field_name("arguments")
    if arguments is None or not arguments.named_children:
        return None
    return arguments.named_children[0]


def assigned_pairs(file: GoFile, statement: Node) -> list[tuple[Node, Node | None]]:
    """(name node, value node) of an assignment, `:=` or `var` spec; the value is None when
    one call gives several results (`ctx, cancel := context.WithCancel(p)` pairs `ctx` with
    the call and `cancel` with None)."""
    left = statement.child_by_field_name("left")
    names = left.named_children if left is not None else statement.children_by_field_name("name")
    right = statement.child_by_field_name("right") or statement.child_by_field_name("value")
    values = (
        right.named_children if right is not None and right.type == "expression_list" else ([right] if right else [])
    )
    if len(values) == len(names):
        return list(zip(names, values))
    return [(name, values[0] if index == 0 and values else None) for index, name in enumerate(names)]


@dataclass(frozen=True)
class CancelAssignment:
    """`ctx, cancel := context.WithTimeout(...)` (or `=`, or `var`): the statement, the call,
    the constructor's qualified name, and the two names it assigns."""

    statement: Node
    call: Node
    constructor: str
    context_name: Node
    cancel_name: Node


def cancel_assignments(file: GoFile) -> list[CancelAssignment]:
    """Every two-name assignment from a cancelling context constructor, in source order."""

    def build() -> list[CancelAssignment]:
        found = []
        for statement_type in ASSIGNMENT_TYPES:
            for statement in file.nodes(statement_type):
                pairs = assigned_pairs(file, statement)
                call = pairs[0][1] if len(pairs) == 2 else None
                if call is None or call.type != "call_expression" or pairs[1][1] is not None:
                    continue
                constructor = qualified_name(file, call)
                if constructor in CANCELLING:
                    found.append(CancelAssignment(statement, call, constructor, pairs[0][0], pairs[1][0]))
        return sorted(found, key=lambda a: a.statement.start_byte)

    return file.cached("context.cancel_assignments", build)


# -- contexts visible at a point ----------------------------------------------------------------
@dataclass(frozen=True)
class VisibleContext:
    name: str  # the variable, or the request parameter
    expression: str  # what to pass: `ctx`, `r.Context()`
    fresh: bool  # only ever assigned from Background()/TODO(): nothing cancels it


def _declaration_scope(statement: Node) -> Node:
    """The node a `:=`/`var` declaration is visible in: its block, or the if/for/switch whose
    header declares it."""
    scope = statement.parent
    while scope is not None and scope.type in ("expression_list", "var_declaration", "var_spec_list", "for_clause"):
        scope = scope.parent
    return scope if scope is not None else statement


def _context_value(file: GoFile, value: Node | None) -> str | None:
    """'fresh' for Background()/TODO(), 'derived' for another constructor or a `.Context()`."""
    if value is None or value.type != "call_expression":
        return None
    name = qualified_name(file, value)
    if name in FRESH_CONTEXTS:
        return "fresh"
    if name in DERIVING or name == DETACHING or call_method_name(file, value) == "Context":
        return "derived"
    return None


def _declared_contexts(file: GoFile, function: Node, at: Node) -> dict[str, bool]:
    """Context variables of `function` assigned before `at` and visible there: name -> fresh."""
    found: dict[str, bool] = {}
    for statement in scope_nodes(function):
        if statement.type not in ASSIGNMENT_TYPES or statement.end_byte > at.start_byte:
            continue
        # Visible when its block holds `at` (an assignment in a nested block may not reach
        # it: the variable could be declared there).
        if not is_inside(at, _declaration_scope(statement)):
            continue
        declared_type = statement.child_by_field_name("type")
        for name_node, value in assigned_pairs(file, statement)[:1]:
            kind = _context_value(file, value)
            if kind is None and declared_type is not None and type_is(file, declared_type, "context.Context"):
                kind = "derived" if value is not None else None
            name = file.text(name_node)
            if kind is None or name_node.type != "identifier" or name == "_":
                continue
            found[name] = found.get(name, True) and kind == "fresh"
    return found


def visible_contexts(file: GoFile, node: Node, cross_goroutines: bool = True) -> list[VisibleContext]:
    """The contexts `node` can reach: context parameters, context variables assigned before it
    and `*http.Request` parameters, of its function and of the functions a closure sees.
    With `cross_goroutines=False`, the search stops at the body of a goroutine."""
    result: dict[str, VisibleContext] = {}
    for function in (a for a in ancestors(node) if a.type in FUNCTION_TYPES):
        for parameter in parameters(function, file):
            if parameter.name and parameter.name != "_" and type_is(file, parameter.type_node, "context.Context"):
                result.setdefault(parameter.name, VisibleContext(parameter.name, parameter.name, False))
        for request in request_parameters(file, function):
            if request != "_":
                result.setdefault(request, VisibleContext(request, f"{request}.Context()", False))
        for name, fresh in _declared_contexts(file, function, node).items():
            result.setdefault(name, VisibleContext(name, name, fresh))
        if function.type != "func_literal" or (not cross_goroutines and is_goroutine_body(function)):
            break
    return list(result.values())


def cancellable_contexts(file: GoFile, node: Node, cross_goroutines: bool = True) -> list[VisibleContext]:
    """The visible contexts something can cancel (not a bare Background()/TODO())."""
    return [c for c in visible_contexts(file, node, cross_goroutines) if not c.fresh]


def preferred_context(contexts: list[VisibleContext]) -> VisibleContext | None:
    """What to pass instead of a fresh context: `ctx` first, then another variable, then a
    request's `Context()`."""
    variables = sorted((c for c in contexts if c.expression == c.name), key=lambda c: (c.name != "ctx", c.name))
    requests = sorted((c for c in contexts if c.expression != c.name), key=lambda c: c.name)
    return (variables + requests)[0] if variables or requests else None


def inside_goroutine(node: Node) -> bool:
    """Whether `node` is in the body of a function literal started by `go` (at any depth)."""
    return any(is_goroutine_body(a) for a in ancestors(node) if a.type == "func_literal")


# -- cancel functions (GR204) ------------------------------------------------------------------
TERMINATING_CALLS = frozenset({"panic", "os.Exit", "log.Fatal", "log.Fatalf", "log.Fatalln", "log.Panic", "log.Panicf"})
TERMINATING_METHODS = frozenset({"Fatal", "Fatalf", "FailNow", "Skip", "Skipf", "SkipNow"})


def _statements(node: Node | None) -> list[Node]:
    """The statements of a block or of a case clause."""
    if node is None:
        return []
    if node.type == "statement_list":
        return list(node.named_children)
    lists = [c for c in node.named_children if c.type == "statement_list"]
    return list(lists[0].named_children) if lists else []


class CancelPaths:
    """Follows the paths from the statement that binds a cancel function to the function's
    exits, statement by statement: a path is released by any use of the name (a call, a
    `defer`, a `return`, an assignment to a field, an argument, a closure that captures it)
    and escapes through a `return` (or the end of the block) reached without one, or an
    assignment that overwrites it first."""

    def __init__(self, file: GoFile, name: str):
        self.file = file
        self.name = name
        self.escapes: list[Node] = []
        self.released = False

    # A use is any mention of the name but the left side of an assignment and `_ = cancel`.
    def uses(self, node: Node) -> bool:
        candidates = [node] if node.type == "identifier" else []
        candidates += [n for n in descendants(node) if n.type == "identifier"]
        return any(self.file.text(n) == self.name and not self._is_assigned_or_blank(n) for n in candidates)

    def _is_assigned_or_blank(self, identifier: Node) -> bool:
        side = identifier.parent
        statement = side.parent if side is not None and side.type == "expression_list" else side
        if statement is None or statement.type not in ("assignment_statement", "short_var_declaration"):
            return False
        left = statement.child_by_field_name("left")
        if side == left:
            return True
        return left is not None and all(self.file.text(n) == "_" for n in left.named_children)

    def _overwrites(self, statement: Node) -> bool:
        left = statement.child_by_field_name("left")
        return left is not None and any(
            n.type == "identifier" and self.file.text(n) == self.name for n in left.named_children
        )

    def _terminates(self, statement: Node) -> bool:
        if statement.type != "expression_statement" or not statement.named_children:
            return False
        call = statement.named_children[0]
        if call.type != "call_expression":
            return False
        function = call.child_by_field_name("function")
        name = qualified_name(self.file, call) or (self.file.text(function) if function is not None else "")
        return name in TERMINATING_CALLS or call_method_name(self.file, call) in TERMINATING_METHODS

    def walk(self, statements: list[Node]) -> bool:
        """Follow `statements` in order; True when a path falls off their end unreleased."""
        for statement in statements:
            kind = statement.type
            if kind == "return_statement":
                if self.uses(statement):
                    self.released = True
                else:
                    self.escapes.append(statement)
                return False
            if kind in ("break_statement", "continue_statement", "goto_statement") or self._terminates(statement):
                return False
            compound = self._compound(statement)
            if compound is not None:
                if not compound:
                    return False
                continue
            if self.uses(statement):
                self.released = True
                return False
            if kind in ("assignment_statement", "short_var_declaration") and self._overwrites(statement):
                self.escapes.append(statement)
                return False
        return True

    def _header_uses(self, statement: Node, fields: tuple[str, ...]) -> bool:
        if any((part := statement.child_by_field_name(f)) is not None and self.uses(part) for f in fields):
            self.released = True
            return True
        return False

    def _compound(self, statement: Node) -> bool | None:
        """For a compound statement, whether a path leaves it unreleased; None otherwise."""
        kind = statement.type
        if kind == "block":
            return self.walk(_statements(statement))
        if kind == "labeled_statement":
            inner = [c for c in statement.named_children if c.type != "label_name"]
            return self.walk(inner)
        if kind == "if_statement":
            if self._header_uses(statement, ("initializer", "condition")):
                return False
            through = self.walk(_statements(statement.child_by_field_name("consequence")))
            alternative = statement.child_by_field_name("alternative")
            if alternative is None:
                return True  # the condition may be false
            return self.walk([alternative]) or through
        if kind == "for_statement":
            header = [c for c in statement.named_children if c.type != "block"]
            if any(self.uses(part) for part in header):
                self.released = True
                return False
            self.walk(_statements(statement.child_by_field_name("body")))
            endless = not header
            return not endless or _breaks_out(self.file, statement)
        if kind in ("expression_switch_statement", "type_switch_statement", "select_statement"):
            if self._header_uses(statement, ("initializer", "value")):
                return False
            cases = [c for c in statement.named_children if c.type.endswith("_case")]
            through = False
            for case in cases:
                communication = case.child_by_field_name("communication")
                if communication is not None and self.uses(communication):
                    self.released = True
                    continue
                through = self.walk(_statements(case)) or through
            has_default = any(c.type == "default_case" for c in cases)
            return through or (not has_default and kind != "select_statement")
        return None


BREAKABLE = ("for_statement", "expression_switch_statement", "type_switch_statement", "select_statement")


def _breaks_out(file: GoFile, loop: Node) -> bool:
    """Whether a `break` leaves `loop`: an unlabelled one whose innermost breakable statement
    is the loop, or one naming the loop's label."""
    label = None
    if loop.parent is not None and loop.parent.type == "labeled_statement":
        label = file.text(loop.parent.child_by_field_name("label"))
    for node in descendants(loop, skip=FUNCTION_TYPES):
        if node.type != "break_statement":
            continue
        target = [c for c in node.named_children if c.type == "label_name"]
        if target:
            if file.text(target[0]) == label:
                return True
        elif next((a for a in ancestors(node) if a.type in BREAKABLE), None) == loop:
            return True
    return False


def dropped_cancel(file: GoFile, statement: Node, name: str) -> CancelPaths | None:
    """The paths from `statement` (which binds the cancel function `name`) that leave without
    using it; None when the statement is not one syntax can follow (an `if` header...)."""
    paths = CancelPaths(file, name)
    container = statement.parent
    if statement.type == "var_spec":
        while container is not None and container.type in ("var_spec_list", "var_declaration"):
            statement, container = container, container.parent
    if container is None or container.type != "statement_list":
        return None
    declares = statement.type != "assignment_statement"
    current = statement
    while True:
        rest = [s for s in current.parent.named_children if s.start_byte > current.start_byte]
        if not paths.walk(rest):
            return paths
        block = current.parent.parent  # statement_list -> block
        enclosing = _enclosing_statement(block)
        if enclosing is None and block.parent is not None and block.parent.child_by_field_name("result") is not None:
            # A function with results cannot fall off its end: what syntax missed is not a path.
            return paths
        if declares or enclosing is None:
            # The variable goes out of scope, or the function ends: nothing can call it now.
            paths.escapes.append(block)
            return paths
        current = enclosing


def _enclosing_statement(block: Node) -> Node | None:
    """The statement, sitting in a statement list, that contains `block`; None at the
    function's body."""
    for ancestor in ancestors(block):
        if ancestor.type in FUNCTION_TYPES:
            return None
        if ancestor.parent is not None and ancestor.parent.type == "statement_list":
            return ancestor
    return None


# -- goroutines started in handlers (GR202, GR211) ------------------------------------------------
@dataclass(frozen=True)
class GoroutineContext:
    """Which context a goroutine runs on: 'request' (the request's context or one derived
    from it), 'detached' (`context.WithoutCancel`), 'fresh' (Background/TODO), 'none', or
    'unknown' (another context, or the request itself handed on)."""

    kind: str
    evidence: str = ""  # the expression that decided it


class HandlerContexts:
    """The context variables of a handler, classified by where they come from."""

    def __init__(self, file: GoFile, handler: Node):
        self.file = file
        self.handler = handler
        self.requests = {r for r in request_parameters(file, handler) if r != "_"}
        self.request_expression = request_context(file, handler)
        self.others = {
            p.name for p in parameters(handler, file) if p.name and type_is(file, p.type_node, "context.Context")
        }
        self.variables: dict[str, str] = {}
        self.cancels: set[str] = set()  # named only when nothing better shows the context
        body = handler.child_by_field_name("body")
        for statement in descendants(body) if body is not None else []:
            if statement.type not in ASSIGNMENT_TYPES:
                continue
            pairs = assigned_pairs(file, statement)
            for name_node, value in pairs[:1]:
                kind = self.classify(value) if value is not None else None
                if kind is not None and name_node.type == "identifier":
                    self.variables.setdefault(file.text(name_node), kind)
                    # Its cancel function ties whoever holds it to that context's life: a
                    # fresh one's is still fresh, another's is left undecided.
                    cancels = {file.text(n) for n, _ in pairs[1:2] if n.type == "identifier"} - {"_"}
                    if kind == "fresh":
                        self.variables.update(dict.fromkeys(cancels, "fresh"))
                        self.cancels |= cancels
                    else:
                        self.others |= cancels

    def classify(self, node: Node) -> str | None:
        """'request', 'detached' or 'fresh' for an expression that is a context; None when it
        is not one we know."""
        if node.type == "identifier":
            return self.variables.get(self.file.text(node))
        if node.type == "parenthesized_expression" and node.named_children:
            return self.classify(node.named_children[0])
        if node.type != "call_expression":
            return None
        name = qualified_name(self.file, node)
        if name == DETACHING:
            return "detached"
        if name in FRESH_CONTEXTS:
            return "fresh"
        if name in DERIVING:
            parent = first_argument(node)
            return self.classify(parent) if parent is not None else None
        if self.file.text(node) == self.request_expression:
            return "request"
        function = node.child_by_field_name("function")
        if (
            call_method_name(self.file, node) == "Context"
            and function is not None
            and function.type == "selector_expression"
        ):
            operand = function.child_by_field_name("operand")
            if operand is not None and self.file.text(operand) in self.requests:
                return "request"
        return None

    def of_goroutine(self, go_statement: Node) -> GoroutineContext:
        found: dict[str, str] = {}
        self._visit(go_statement, frozenset(), found)
        for kind in ("detached", "request", "unknown", "fresh"):
            if kind in found:
                return GoroutineContext(kind, found[kind])
        return GoroutineContext("none")

    def _visit(self, node: Node, shadowed: frozenset[str], found: dict[str, str]) -> None:
        text = self.file.text(node)
        if node.type == "identifier" and text in shadowed:
            return
        kind = self.classify(node)
        if kind is not None:
            if found.get(kind, text) == text or found[kind] in self.cancels:
                found[kind] = text
            return
        if node.type == "identifier" and (text in self.requests or text in self.others):
            found.setdefault("unknown", text)
            return
        if node.type == "func_literal":
            shadowed = shadowed | {p.name for p in parameters(node, self.file)}
        for child in node.named_children:
            self._visit(child, shadowed, found)

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
            function = call.child_by_field_name("function")
            statement = call.parent
            if (
                call_method_name(self.file, call) == "Done"
                and function.type == "selector_expression"
                and function.child_by_field_name("operand").type == "selector_expression"
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


# -- channels (GR205) ---------------------------------------------------------------------------
def _channel_key(file: GoFile, node: Node) -> str | None:
    """`ch` for `ch`, `sem` for `s.sem`: the name a channel is known by across the package."""
    if node.type == "identifier":
        return file.text(node)
    if node.type == "selector_expression":
        return file.text(node.child_by_field_name("field"))
    return None


def _buffered_names(file: GoFile) -> frozenset[str]:
    names: set[str] = set()
    for other in file.package_files:
        for call in other.nodes("call_expression"):
            if call.child_by_field_name("function").type != "identifier":
                continue
            arguments = call.child_by_field_name("arguments")
            values = [a for a in arguments.named_children if a.type != "comment"] if arguments is not None else []
            if other.text(call.child_by_field_name("function")) != "make" or len(values) != 2:
                continue
            if values[0].type != "channel_type" or other.text(values[1]) == "0":
                continue
            target = call.parent
            if target is not None and target.type == "expression_list":
                statement = target.parent
                left = statement.child_by_field_name("left") if statement is not None else None
                index = target.named_children.index(call) if call in target.named_children else -1
                if left is not None and 0 <= index < len(left.named_children):
                    key = _channel_key(other, left.named_children[index])
                    names |= {key} if key else set()
            elif target is not None and target.type == "keyed_element":
                names.add(other.text(target.named_children[0]))
    return frozenset(names)


def is_buffered_channel(file: GoFile, channel: Node) -> bool:
    """Whether a channel (`ch`, `s.sem`) is known, by its name in the package, to be made
    with a buffer: `make(chan T, n)` assigned to that variable or field."""
    key = _channel_key(file, channel)
    # A package index: built once, on the package's first file.
    names = file.package_cached("gr2xx-buffered-channels", lambda: _buffered_names(file))
    return key is not None and key in names


def root_identifier(file: GoFile, node: Node) -> str | None:
    """`f` for `f.signal`, `ch` for `ch`, `chans` for `chans[i]`."""
    while node.type in ("selector_expression", "index_expression", "parenthesized_expression"):
        node = node.named_children[0]
    return file.text(node) if node.type == "identifier" else None
