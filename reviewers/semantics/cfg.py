"""Control flow: a graph of basic blocks for each function and function literal.

Blocks hold *elements* in execution order: simple statements, and the header parts of
compound ones (an `if`'s initializer and condition, a `for` clause's parts, a `range` clause,
a `switch` value, a `case`'s values, a `select` case's communication). Edges out of an `if`
or `for` condition carry it and the branch taken, so a question can ignore the branch where
an error check says there is nothing to release. `return` and falling off the end lead to
`exit`; `panic`, `os.Exit`, `log.Fatal`, `t.FailNow`, `runtime.Goexit`, `select {}` and the
package's functions that never return lead to `abort` instead (no leak waits there).
`defer` and `go` statements are elements like others; the literal a `go` or `defer` starts
has a graph of its own.

Questions rules ask: `escapes(start, stops)` — the ways from just after `start` to the exit
that meet no element `stops` accepts (empty: it is reached on every path) — and `after(start)`,
what may run after an element.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from tree_sitter import Node

from ..gosource import GoFile
from ..syntax import FUNCTION_TYPES, expression_items, qualified_name, unparen
from .names import FUNCTION, IMPORT

if TYPE_CHECKING:
    from .package import Package

# The one list of calls that never return: by qualified name; logging packages' `Fatal` and
# `Panic` functions (log, klog, logrus, glog...); methods of those names on any value (loggers);
# a test's `FailNow`/`SkipNow`, and `Skip`/`Skipf` on a testing value.
NEVER_RETURNING_FUNCTIONS = frozenset({"os.Exit", "runtime.Goexit"})
FATAL_NAMES = frozenset({"Fatal", "Fatalf", "Fatalln", "Panic", "Panicf", "Panicln"})
NEVER_RETURNING_METHODS = FATAL_NAMES | {"FailNow", "SkipNow"}
TESTING_SKIPS = frozenset({"Skip", "Skipf"})
TESTING_TYPES = ("testing.T", "testing.B", "testing.F", "testing.TB")


@dataclass(frozen=True)
class Edge:
    target: Block
    condition: Node | None = None  # the `if`/`for` condition deciding this edge
    branch: bool = True  # the condition's value on this edge


@dataclass(eq=False)
class Block:
    index: int
    elements: list[Node] = field(default_factory=list)
    edges: list[Edge] = field(default_factory=list)

    predecessors: int = 0

    def link(self, target: Block, condition: Node | None = None, branch: bool = True) -> None:
        self.edges.append(Edge(target, condition, branch))
        target.predecessors += 1

    def __repr__(self) -> str:
        return f"Block({self.index}, {len(self.elements)} elements, -> {[e.target.index for e in self.edges]})"


@dataclass(frozen=True)
class Escape:
    """A way out found by `CFG.escapes`: through a `return` (its node), off the end of the
    function (the body), or around a loop back to the start (the `continue` that goes
    there, else the loop)."""

    kind: str  # "return", "end", "continue" or "loop"
    node: Node

    def described(self, file: GoFile) -> str:
        """How a message names this way out: `the `return` at line 12`."""
        if self.kind == "return":
            return f"the `return` at line {file.line(self.node)}"
        return f"the path that reaches the end of the function at line {file.end_line(self.node)}"


class CFG:
    """A function's graph. An *opaque* one (a function nested too deep to follow, as only
    generated or hostile code is) answers every question with silence."""

    def __init__(self, function: Node, file: GoFile, opaque: bool = False):
        self.function = function
        self.file = file
        self.opaque = opaque
        self.blocks: list[Block] = []
        self.entry = self.new_block()
        self.exit = self.new_block()
        self.abort = self.new_block()
        self.defers: list[Node] = []
        self._position: dict[int, tuple[Block, int]] = {}
        self._returns: dict[int, Node] = {}  # block index -> the `return` that ends it
        self._loop_heads: dict[int, Block] = {}  # for statement id -> the block that starts each round
        self._range_ends: dict[int, Block] = {}  # range loop id -> where it goes once the range is over

    def new_block(self) -> Block:
        block = Block(len(self.blocks))
        self.blocks.append(block)
        return block

    def add(self, block: Block, element: Node) -> None:
        self._position[element.id] = (block, len(block.elements))
        block.elements.append(element)

    # -- questions ----------------------------------------------------------------------------
    def element_of(self, node: Node) -> Node | None:
        """The element holding `node` (itself, or the statement or header part around it)."""
        current: Node | None = node
        while current is not None and current.id != self.function.id:
            if current.id in self._position:
                return current
            current = self.file.parent(current)
        return None

    def contains(self, node: Node) -> bool:
        return self.element_of(node) is not None

    def escapes(
        self,
        start: Node | None,
        stops: Callable[[Node], bool],
        prune: Callable[[Edge], bool] | None = None,
    ) -> list[Escape]:
        """The ways from just after `start`'s element (from the function's entry when
        `start` is None) to the function's exit on which no element satisfies `stops`: a
        `return`, the end of the body, or the loop that brings the path back to `start`
        (the value made there is then made again). `prune(edge)` drops edges a question
        knows cannot be taken (the error branch of a check)."""
        if self.opaque:
            return []
        if start is None:
            element, block, index = None, self.entry, -1
        else:
            element = self.element_of(start)
            if element is None:
                return []
            block, index = self._position[element.id]
        found: list[Escape] = []
        seen: set[int] = set()
        # (block, first element to look at, the last `continue` on the way)
        work: list[tuple[Block, int, Node | None]] = [(block, index + 1, None)]
        while work:
            current, position, jump = work.pop()
            stopped = False
            for candidate in current.elements[position:]:
                if element is not None and candidate.id == element.id:
                    found.append(
                        Escape("continue", jump) if jump is not None else Escape("loop", self._loop_around(element))
                    )
                    stopped = True
                    break
                if stops(candidate):
                    stopped = True
                    break
                if candidate.type == "continue_statement":
                    jump = candidate
            if stopped:
                continue
            for edge in current.edges:
                if prune is not None and prune(edge):
                    continue
                target = edge.target
                if target is self.exit:
                    found.append(self._exit_escape(current))
                    continue
                if target.index in seen:
                    if target is block and element is not None:
                        work.append((target, 0, jump))  # reach `start` again: a loop
                    continue
                seen.add(target.index)
                work.append((target, 0, jump))
        return _unique(found)

    def after(self, start: Node) -> Iterator[Node]:
        """The elements that may run after `start`'s element, each once."""
        element = self.element_of(start) if not self.opaque else None
        if element is None:
            return
        block, index = self._position[element.id]
        yield from block.elements[index + 1 :]
        seen = {block.index}
        work = [edge.target for edge in block.edges]
        while work:
            current = work.pop()
            if current.index in seen:
                continue
            seen.add(current.index)
            yield from current.elements
            work.extend(edge.target for edge in current.edges)

    def reaches(
        self,
        start: Node,
        target: Node,
        avoiding: Callable[[Node], bool],
        infeasible: Callable[[Edge], bool] | None = None,
        forgets: Callable[[Node], bool] | None = None,
    ) -> bool:
        """Whether some path from just after `start`'s element reaches `target`'s element
        with no element on the way satisfying `avoiding`. An opaque graph may reach anything.
        `infeasible` names edges no path from `start` can take until it passes an element
        that `forgets` what `start` established (a flag `start`'s branch set to true makes
        the flag's false branch impossible until the flag is assigned again)."""
        if self.opaque:
            return True
        element, goal = self.element_of(start), self.element_of(target)
        if element is None or goal is None:
            return True
        block, index = self._position[element.id]
        work: list[tuple[Block, int, bool]] = [(block, index + 1, infeasible is not None)]
        seen: set[tuple[int, bool]] = set()
        while work:
            current, position, knowing = work.pop()
            blocked = False
            for candidate in current.elements[position:]:
                if candidate.id == goal.id:
                    return True
                if avoiding(candidate):
                    blocked = True
                    break
                if knowing and forgets is not None and forgets(candidate):
                    knowing = False
            if blocked:
                continue
            for edge in current.edges:
                if knowing and infeasible is not None and infeasible(edge):
                    continue
                if (edge.target.index, knowing) not in seen:
                    seen.add((edge.target.index, knowing))
                    work.append((edge.target, 0, knowing))
        return False

    def can_leave(self, loop: Node, range_ends: bool = True, unless: Node | None = None, aborts: bool = True) -> bool:
        """Whether some path leaves a `for` loop: to a statement after it, out through a
        `return`, a `goto`, a `panic` or a call that never returns. With `range_ends=False`
        a range loop's range is taken never to end (a channel nobody closes, `time.Tick`);
        paths through `unless` (a branch taken once a channel is closed) are not counted;
        with `aborts=False` neither are a `panic`'s and an `os.Exit`'s, which end the
        process rather than the loop (what the loop holds is needed as long as it runs)."""
        head = self._loop_heads.get(loop.id)
        if head is None or self.opaque:
            return True  # not a loop of this function: nothing to say
        range_end = None if range_ends else self._range_ends.get(loop.id)
        seen = {head.index}
        work = [head]
        while work:
            block = work.pop()
            if unless is not None and any(
                unless.start_byte <= e.start_byte and e.end_byte <= unless.end_byte for e in block.elements
            ):
                continue
            if block is self.exit or (block is self.abort and aborts):
                return True
            if any(not (loop.start_byte <= e.start_byte and e.end_byte <= loop.end_byte) for e in block.elements):
                return True
            for edge in block.edges:
                if block is head and edge.target is range_end:
                    continue
                if edge.target.index not in seen:
                    seen.add(edge.target.index)
                    work.append(edge.target)
        return False

    def surely_after(
        self, node: Node, happens: Callable[[Node], bool], resets: Callable[[Node], bool] = lambda _: False
    ) -> bool:
        """Whether every path from the entry to `node`'s element passes an element where
        `happens`, with no element where `resets` after it (a new value given to what
        happened to)."""
        element = self.element_of(node)
        if element is None:
            return False

        def transfer(candidate: Node, state: frozenset) -> frozenset:
            if resets(candidate):
                return frozenset()
            return state | {True} if happens(candidate) else state

        return True in self.must_before(transfer).get(element.id, frozenset())

    def must_before(self, transfer: Callable[[Node, frozenset], frozenset]) -> dict[int, frozenset]:
        """What holds on every path from the entry to each element (by element id): facts
        start empty, each element turns the set before it into the set after it
        (`transfer`), and where paths meet only what all of them bring holds. An opaque
        graph knows nothing: an empty answer."""
        if self.opaque:
            return {}
        entering: dict[int, frozenset | None] = {block.index: None for block in self.blocks}
        entering[self.entry.index] = frozenset()
        before: dict[int, frozenset] = {}
        work = [self.entry]
        while work:
            block = work.pop()
            state = entering[block.index]
            assert state is not None
            for element in block.elements:
                before[element.id] = state
                state = transfer(element, state)
            for edge in block.edges:
                known = entering[edge.target.index]
                merged = state if known is None else known & state
                if merged != known:
                    entering[edge.target.index] = merged
                    work.append(edge.target)
        return before

    def reaches_exit(self) -> bool:
        """Whether some path from the entry returns (false for a function that always
        panics, exits or loops forever)."""
        if self.opaque:
            return True
        seen = {self.entry.index}
        work = [self.entry]
        while work:
            for edge in work.pop().edges:
                if edge.target is self.exit:
                    return True
                if edge.target.index not in seen:
                    seen.add(edge.target.index)
                    work.append(edge.target)
        return False

    def _exit_escape(self, block: Block) -> Escape:
        returned = self._returns.get(block.index)
        if returned is not None:
            return Escape("return", returned)
        return Escape("end", self.function.child_by_field_name("body") or self.function)

    def _loop_around(self, element: Node) -> Node:
        current = self.file.parent(element)
        while current is not None and current.type != "for_statement" and current.id != self.function.id:
            current = self.file.parent(current)
        return current if current is not None else element


def _unique(escapes: list[Escape]) -> list[Escape]:
    seen: set[tuple[str, int]] = set()
    result = []
    for escape in sorted(escapes, key=lambda e: e.node.start_byte):
        if (escape.kind, escape.node.id) not in seen:
            seen.add((escape.kind, escape.node.id))
            result.append(escape)
    return result


def statements_of(node: Node | None) -> list[Node]:
    """The statements of a block or a case clause, in order."""
    if node is None:
        return []
    if node.type == "statement_list":
        return [c for c in node.named_children if c.type != "comment"]
    found: list[Node] = []
    for child in node.named_children:
        if child.type == "statement_list":
            found.extend(c for c in child.named_children if c.type != "comment")
    return found


@dataclass
class _Target:
    label: str | None
    statement: Node
    breaks: Block | None  # where `break` goes
    continues: Block | None  # where `continue` goes (loops only)


# Deeper nesting than any hand-written function has: the graph is given up rather than
# followed recursively (Python's stack), and questions about it get silent answers.
MAX_NESTING = 150


class _TooDeep(Exception):
    pass


class _Builder:
    def __init__(self, package: Package | None, file: GoFile, function: Node):
        self.package = package
        self.file = file
        self.cfg = CFG(function, file)
        self.targets: list[_Target] = []
        self.labels: dict[str, Block] = {}
        self.depth = 0

    def build(self) -> CFG:
        body = self.cfg.function.child_by_field_name("body")
        end = self.sequence(statements_of(body), self.cfg.entry)
        if end is not None:
            end.link(self.cfg.exit)
        return self.cfg

    def sequence(self, statements: list[Node], current: Block | None) -> Block | None:
        for statement in statements:
            if current is None:
                if statement.type != "labeled_statement":
                    continue  # unreachable, unless a label makes it a goto target
                current = self.cfg.new_block()
            current = self.statement(statement, current)
        return current

    def _label_block(self, name: str) -> Block:
        if name not in self.labels:
            self.labels[name] = self.cfg.new_block()
        return self.labels[name]

    def statement(self, statement: Node, current: Block, label: str | None = None) -> Block | None:
        self.depth += 1
        try:
            if self.depth > MAX_NESTING:
                raise _TooDeep
            return self._statement(statement, current, label)
        finally:
            self.depth -= 1

    def _statement(self, statement: Node, current: Block, label: str | None = None) -> Block | None:
        kind = statement.type
        cfg = self.cfg
        if kind == "block":
            return self.sequence(statements_of(statement), current)
        if kind == "labeled_statement":
            name_node = statement.child_by_field_name("label")
            name = self.file.text(name_node) if name_node is not None else ""
            target = self._label_block(name)
            current.link(target)
            inner = [c for c in statement.named_children if c.type != "label_name"]
            return self.statement(inner[0], target, name) if inner else target
        if kind == "if_statement":
            return self._if(statement, current)
        if kind == "for_statement":
            return self._for(statement, current, label)
        if kind in ("expression_switch_statement", "type_switch_statement"):
            return self._switch(statement, current, label)
        if kind == "select_statement":
            return self._select(statement, current, label)
        if kind == "return_statement":
            cfg.add(current, statement)
            cfg._returns[current.index] = statement
            current.link(cfg.exit)
            return None
        if kind in ("break_statement", "continue_statement"):
            cfg.add(current, statement)
            jump = self._jump_target(statement)
            destination = None
            if jump is not None:
                destination = jump.breaks if kind == "break_statement" else jump.continues
            if destination is not None:
                current.link(destination)
            return None
        if kind == "goto_statement":
            cfg.add(current, statement)
            name_node = next((c for c in statement.named_children if c.type == "label_name"), None)
            if name_node is not None:
                current.link(self._label_block(self.file.text(name_node)))
            return None
        if kind in ("empty_statement", "fallthrough_statement", "comment"):
            return current
        cfg.add(current, statement)
        if kind == "defer_statement":
            cfg.defers.append(statement)
        if kind == "expression_statement" and self.never_returns(statement):
            current.link(cfg.abort)
            return None
        return current

    def _jump_target(self, statement: Node) -> _Target | None:
        label_node = next((c for c in statement.named_children if c.type == "label_name"), None)
        wanted = self.file.text(label_node) if label_node is not None else None
        for target in reversed(self.targets):
            if wanted is not None:
                if target.label == wanted:
                    return target
            elif statement.type == "break_statement" or target.continues is not None:
                return target
        return None

    def _if(self, statement: Node, current: Block) -> Block | None:
        cfg = self.cfg
        initializer = statement.child_by_field_name("initializer")
        condition = statement.child_by_field_name("condition")
        if initializer is not None:
            cfg.add(current, initializer)
        if condition is not None:
            cfg.add(current, condition)
        then_block = cfg.new_block()
        current.link(then_block, condition, True)
        ends = [self.sequence(statements_of(statement.child_by_field_name("consequence")), then_block)]
        alternative = statement.child_by_field_name("alternative")
        if alternative is not None:
            else_block = cfg.new_block()
            current.link(else_block, condition, False)
            ends.append(self.statement(alternative, else_block))
        join = cfg.new_block()
        if alternative is None:
            current.link(join, condition, False)
        for end in ends:
            if end is not None:
                end.link(join)
        return join if alternative is None or any(end is not None for end in ends) else None

    def _for(self, statement: Node, current: Block, label: str | None) -> Block | None:
        cfg = self.cfg
        header = next((c for c in statement.named_children if c.type not in ("block", "comment")), None)
        after = cfg.new_block()
        reachable_after = False
        body = cfg.new_block()
        if header is not None and header.type == "range_clause":
            loop_head = cfg.new_block()
            cfg._loop_heads[statement.id] = loop_head
            cfg.add(loop_head, header)
            current.link(loop_head)
            loop_head.link(body)
            loop_head.link(after)
            cfg._range_ends[statement.id] = after
            reachable_after = True
            continues = loop_head
        else:
            condition = header
            update = None
            if header is not None and header.type == "for_clause":
                initializer = header.child_by_field_name("initializer")
                if initializer is not None:
                    cfg.add(current, initializer)
                condition = header.child_by_field_name("condition")
                update = header.child_by_field_name("update")
            loop_head = cfg.new_block()
            cfg._loop_heads[statement.id] = loop_head
            current.link(loop_head)
            if condition is not None:
                cfg.add(loop_head, condition)
                loop_head.link(body, condition, True)
                loop_head.link(after, condition, False)
                reachable_after = True
            else:
                loop_head.link(body)
            continues = loop_head
            if update is not None:
                continues = cfg.new_block()
                cfg.add(continues, update)
                continues.link(loop_head)
        self.targets.append(_Target(label, statement, after, continues))
        end = self.sequence(statements_of(statement.child_by_field_name("body")), body)
        self.targets.pop()
        if end is not None:
            end.link(continues)
        return after if reachable_after or after.predecessors else None

    def _switch(self, statement: Node, current: Block, label: str | None) -> Block | None:
        cfg = self.cfg
        for name in ("initializer", "alias", "value"):
            part = statement.child_by_field_name(name)
            if part is not None:
                cfg.add(current, part)
        after = cfg.new_block()
        self.targets.append(_Target(label, statement, after, None))
        cases = [c for c in statement.named_children if c.type in ("expression_case", "type_case", "default_case")]
        blocks = [cfg.new_block() for _ in cases]
        for case, block in zip(cases, blocks):
            current.link(block)
            value = case.child_by_field_name("value")
            for item in expression_items(value) if case.type == "expression_case" else []:
                cfg.add(block, item)
        for position, (case, block) in enumerate(zip(cases, blocks)):
            statements = statements_of(case)
            end = self.sequence(statements, block)
            if end is None:
                continue
            falls = statements and statements[-1].type == "fallthrough_statement"
            end.link(blocks[position + 1] if falls and position + 1 < len(blocks) else after)
        self.targets.pop()
        if not any(case.type == "default_case" for case in cases):
            current.link(after)
        return after if after.predecessors else None

    def _select(self, statement: Node, current: Block, label: str | None) -> Block | None:
        cfg = self.cfg
        cases = [c for c in statement.named_children if c.type in ("communication_case", "default_case")]
        if not cases:
            current.link(cfg.abort)  # `select {}` blocks forever
            return None
        after = cfg.new_block()
        self.targets.append(_Target(label, statement, after, None))
        for case in cases:
            block = cfg.new_block()
            current.link(block)
            communication = case.child_by_field_name("communication")
            if communication is not None:
                cfg.add(block, communication)
            end = self.sequence(statements_of(case), block)
            if end is not None:
                end.link(after)
        self.targets.pop()
        return after if after.predecessors else None

    def never_returns(self, statement: Node) -> bool:
        call = unparen(statement.named_children[0]) if statement.named_children else None
        return call is not None and call.type == "call_expression" and never_returns(self.package, self.file, call)


def never_returns(package: Package | None, file: GoFile, call: Node) -> bool:
    """Whether a call never returns: `panic`, `os.Exit`, a logger's `Fatal`, a test's
    `FailNow`, or a function of the package whose every path ends in one of those."""
    function = call.child_by_field_name("function")
    if function is None:
        return False
    function = unparen(function)
    binding = package.binding(file, function) if package is not None and function.type == "identifier" else None
    if function.type == "identifier":
        if file.text(function) == "panic":
            return binding is None
        if package is None or binding is None or binding.kind != FUNCTION or binding.declaration is None:
            return False
        return package.facts.never_returns(binding.file, binding.declaration)
    if function.type != "selector_expression":
        return False
    operand = function.child_by_field_name("operand")
    field_node = function.child_by_field_name("field")
    name = file.text(field_node) if field_node is not None else ""
    if operand is not None and _is_import(package, file, operand):
        return qualified_name(file, call) in NEVER_RETURNING_FUNCTIONS or name in FATAL_NAMES
    if name in NEVER_RETURNING_METHODS:
        return True
    if name in TESTING_SKIPS and package is not None and operand is not None:
        receiver = package.type_of(file, operand)
        return receiver is not None and receiver.is_named(*TESTING_TYPES)
    return False


def _is_import(package: Package | None, file: GoFile, operand: Node) -> bool:
    if operand.type != "identifier":
        return False
    if package is None:
        return file.text(operand) in file.imports
    binding = package.binding(file, operand)
    return binding is not None and binding.kind == IMPORT


def build_cfg(package: Package | None, file: GoFile, function: Node) -> CFG:
    assert function.type in FUNCTION_TYPES
    try:
        return _Builder(package, file, function).build()
    except _TooDeep:
        return CFG(function, file, opaque=True)
