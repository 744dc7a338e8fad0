"""Ownership: who must release a value — a cancel func, a ticker or timer, a response body,
rows, a statement — and on which paths nobody does.

Each use of a binding is one of:
- *release*: it is called (`cancel()`), or its release method is (`t.Stop()`,
  `resp.Body.Close()`, `rows.Close()`), directly, deferred, or in a closure;
- *move*: ownership goes elsewhere, and the new owner's duty is not this code's to check —
  returned, stored (a field, a package variable, a map, a slice, a struct literal, another
  variable, a channel), passed to a function that is not known to leave it alone (a function
  of the package whose facts show it releases or keeps the argument, or any function outside
  the package), handed to a goroutine it starts (`go e.sweep(ctx, t)`: that goroutine owns
  it now, and releasing it here would pull it from under it), captured by a closure that is
  itself handed on;
- *read*: anything else (`resp.StatusCode`, `io.ReadAll(resp.Body)`, `err != nil`, a log
  line, `_ = cancel`).

`Owned.leaks()` then follows the control-flow graph from where the value is made to every
exit and returns the ways out that meet neither a release nor a move; the branch of an
error check on the call that made it (`if err != nil`, while `err` still holds that call's
error: not after `b, err := io.ReadAll(resp.Body)`) and of a nil check on it is not
followed: there is nothing to release there. Nor is the way on from a test's assertion,
as a statement of its own, that this error is set (`require.Error(t, err)`): the test
expects the call to fail.
A deferred closure that releases the value only under `if err != nil` (`err` a named
result of the function) releases it on the returns that set that error only: a `return`
giving back `nil` there, reached through that `defer`, is a way out.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tree_sitter import Node

from ..gosource import GoFile
from ..syntax import (
    FUNCTION_TYPES,
    LOOP_TYPES,
    enclosing_function,
    expression_items,
    field_of,
    is_nil_comparison,
    qualified_name,
    surely_ran_before,
    unparen,
)
from .cfg import Edge, Escape, never_returns
from .names import RESULT, VARIABLE, Binding
from .package import Package
from .types import LIBRARY, Type

RELEASE, MOVE, READ, OVERWRITE = "release", "move", "read", "overwrite"

# Calls that read what they are given and keep nothing: passing a value to them is a read.
READERS = frozenset(
    {
        "io.ReadAll",
        "io/ioutil.ReadAll",
        "io.Copy",
        "io.CopyN",
        "io.CopyBuffer",
        "io.ReadFull",
        "encoding/json.NewDecoder",
        "encoding/xml.NewDecoder",
        "bufio.NewReader",
        "bufio.NewScanner",
        "mime/multipart.NewReader",
        "net/http/httputil.DumpResponse",
    }
)
# testify's assertions, which report an error check's outcome as a boolean.
TESTIFY_ASSERT = "github.com/stretchr/testify/assert."
TESTIFY_REQUIRE = "github.com/stretchr/testify/require."
# testify's assertions, as statements of their own, that an error is set: a test that makes
# them expects the call to fail (`resp, err := c.Do(req); require.Error(t, err)`).
ASSERTS_FAILURE = frozenset(
    name + suffix
    for name in ("Error", "NotNil", "ErrorIs", "ErrorAs", "ErrorContains", "EqualError")
    for suffix in ("", "f")
)

READING_PACKAGES = ("fmt.", "log.", "log/slog.", "errors.", "strings.", "bytes.", "strconv.", "reflect.")


@dataclass(frozen=True)
class Shape:
    """How a value is released: by calling it, or by one of `methods` on the part reached
    through the field path `through` (`Body` of a response)."""

    methods: frozenset[str] = frozenset()
    through: str = ""
    call_releases: bool = False
    drained_by: str = ""  # a method whose false result releases it (`rows.Next()` closes rows)


@dataclass
class Owned:
    """A value bound to `binding` at `made` (the statement that obtains it), released by
    calling it (`call_releases`) or by one of `methods` on it (through `through`, a field
    path like `Body`)."""

    package: Package
    binding: Binding
    made: Node
    methods: frozenset[str] = frozenset()
    through: str = ""
    call_releases: bool = False
    error: Binding | None = None  # the error result of the call that made it
    drained_by: str = ""
    holder: bool = False  # a struct that keeps the value in a field: its own methods may release it
    _uses: dict[int, str] = field(default_factory=dict)

    @property
    def file(self) -> GoFile:
        return self.binding.file

    # -- uses ------------------------------------------------------------------------------------
    def use(self, identifier: Node) -> str:
        """How one reference of the binding uses the value."""
        if identifier.id not in self._uses:
            self._uses[identifier.id] = self._classify(identifier)
        return self._uses[identifier.id]

    def references(self) -> list[Node]:
        return self.package.references(self.binding)

    def uses_in(self, node: Node) -> list[tuple[Node, str]]:
        """The uses of the binding inside `node` (closures in it included)."""
        return [
            (r, self.use(r))
            for r in self.references()
            if node.start_byte <= r.start_byte and r.end_byte <= node.end_byte
        ]

    def released_or_moved_in(self, node: Node) -> bool:
        return any(kind in (RELEASE, MOVE) for _, kind in self.uses_in(node))

    def ever_released_or_moved(self) -> bool:
        """Whether some use after the value is made releases or hands it on: one written
        later, one earlier in a loop around `made`, which the next pass reaches (`t.Stop();
        t = time.NewTicker(d)` at the end of an iteration stops each ticker on the next), or
        one in a `defer` the function registered before, which runs when it returns."""
        loop = self._outer_loop()
        deferred = self._deferred_before()

        def reached(reference: Node) -> bool:
            if reference.start_byte > self.made.start_byte:
                return True
            if any(d.start_byte <= reference.start_byte < d.end_byte for d in deferred):
                return True
            return loop is not None and loop.start_byte <= reference.start_byte < self.made.start_byte

        return any(self.use(r) in (RELEASE, MOVE) for r in self.references() if reached(r))

    def _deferred_before(self) -> list[Node]:
        """The `defer` statements of the function around `made` that surely ran before it:
        what they defer runs at every return after `made`."""
        function = enclosing_function(self.made, self.file)
        if function is None:
            return []
        cfg = self.package.cfg(self.file, function)
        return [d for d in cfg.defers if surely_ran_before(self.file, d, self.made)]

    def _outer_loop(self) -> Node | None:
        """The outermost loop of the function around `made`, if any."""
        outer = None
        for ancestor in self.file.ancestors(self.made):
            if ancestor.type in FUNCTION_TYPES:
                break
            if ancestor.type in LOOP_TYPES:
                outer = ancestor
        return outer

    def _classify(self, identifier: Node) -> str:
        file = self.file
        if self.package.is_write(file, identifier):
            return OVERWRITE
        node = identifier
        path = ""
        # Climb the selector chain: `resp.Body.Close` from `resp`.
        while (
            node.parent is not None
            and node.parent.type == "selector_expression"
            and node.parent.child_by_field_name("operand") == node
        ):
            field_node = node.parent.child_by_field_name("field")
            selected = file.text(field_node) if field_node is not None else ""
            node = node.parent
            parent = node.parent
            if (
                parent is not None
                and parent.type == "call_expression"
                and parent.child_by_field_name("function") == node
            ):
                if path == self.through and selected in self.methods:
                    return RELEASE
                if self.holder and not path:
                    return MOVE  # `s.Close()` may call `s.cancel()`: the struct's business now
                return READ  # a method call on it, or on a part of it, that is not the release
            path = f"{path}.{selected}" if path else selected
            if not (self.through == path or self.through.startswith(path + ".")):
                return READ  # `resp.StatusCode`: reading another field
        remaining = self.through[len(path) :].lstrip(".")
        return self._context_use(node, remaining)

    def _context_use(self, node: Node, through: str) -> str:
        """How the expression `node` (the value, or the part of it on the way to what is
        released: `through` is what remains of that way) is used by what holds it."""
        file = self.file
        parent = file.parent(node)
        while parent is not None and parent.type in ("parenthesized_expression", "unary_expression"):
            if parent.type == "unary_expression" and file.text(parent).startswith("*"):
                break
            node, parent = parent, file.parent(parent)
        if parent is None:
            return READ
        kind = parent.type
        if kind == "call_expression" and parent.child_by_field_name("function") == node:
            return RELEASE if self.call_releases and not through else READ
        if kind == "argument_list":
            return self._argument_use(parent, node, through)
        if kind == "expression_list":
            holder = file.parent(parent)
            if holder is None:
                return READ
            if holder.type == "return_statement":
                return MOVE
            if holder.type in ("assignment_statement", "short_var_declaration", "var_spec"):
                right = holder.child_by_field_name("right") or holder.child_by_field_name("value")
                if right is not None and right.id == parent.id:
                    return READ if _all_blank(file, holder) else MOVE
            return READ
        if kind == "return_statement":
            return MOVE
        if kind in ("literal_element", "keyed_element"):
            return MOVE
        if kind == "send_statement":
            return MOVE if parent.child_by_field_name("value") == node else READ
        return READ

    def _argument_use(self, arguments: Node, argument: Node, through: str) -> str:
        call = self.file.parent(arguments)
        if call is None or call.type != "call_expression":
            return MOVE
        started = self.file.parent(call)
        if started is not None and started.type == "go_statement":
            return MOVE  # handed to a goroutine of its own: releasing it here would pull it from under it
        name = qualified_name(self.file, call)
        if name is not None and (name in READERS or name.startswith(READING_PACKAGES)):
            return READ
        function = call.child_by_field_name("function")
        if (
            function is not None
            and function.type == "identifier"
            and self.file.text(function) in ("len", "cap", "print", "println")
        ):
            return READ
        position = next((i for i, a in enumerate(arguments.named_children) if a.id == argument.id), 0)
        shape = Shape(self.methods, through, self.call_releases)
        return MOVE if self.package.facts.keeps_argument(self.file, call, position, shape) else READ

    # -- paths -----------------------------------------------------------------------------------
    def leaks(self) -> list[Escape]:
        """The ways out from `made` on which the value is neither released nor moved, nor
        overwritten first (an overwrite is a way out too: the value is lost there)."""
        function = enclosing_function(self.made, self.file)
        if function is None:
            return []
        cfg = self.package.cfg(self.file, function)
        lost: list[Escape] = []

        def stops(element: Node) -> bool:
            uses = [kind for _, kind in self.uses_in(element)]
            if RELEASE in uses or MOVE in uses or self._asserts_failed(element):
                return True
            if OVERWRITE in uses and element.id != self.made.id:
                lost.append(Escape("overwrite", element))
                return True
            return False

        found = cfg.escapes(self.made, stops, self._prunes)
        if any(
            RELEASE in (kind for _, kind in self.uses_in(d)) and self._released_on_error_only(d, function) is None
            for d in self._deferred_before()
        ):
            # A release deferred before the value was made runs at every return after it.
            found = [e for e in found if e.kind not in ("return", "end")]
        guards = {d.id: g for d in cfg.defers if (g := self._released_on_error_only(d, function)) is not None}
        if guards:
            # Through such a defer the value is released only when the error result is set:
            # the returns that give back a nil error are ways out too.
            seen = {(e.kind, e.node.id) for e in found}
            through = cfg.escapes(self.made, lambda e: e.id not in guards and stops(e), self._prunes)
            found += [
                e
                for e in through
                if (e.kind, e.node.id) not in seen
                and any(_returns_nil(self.file, e.node, function, guard) for guard in guards.values())
            ]
        lost = list({e.node.id: e for e in lost}.values())
        return sorted(found + lost, key=lambda e: e.node.start_byte)

    def _released_on_error_only(self, statement: Node, function: Node) -> Binding | None:
        """`defer func() { if err != nil { cancel() } }()`: a deferred closure that releases
        the value only under a check that the function's named error result is set; that
        result's binding."""
        call = statement.named_children[0] if statement.named_children else None
        literal = call.child_by_field_name("function") if call is not None and call.type == "call_expression" else None
        uses = self.uses_in(statement)
        if literal is None or literal.type != "func_literal" or not uses:
            return None
        if any(kind != RELEASE for _, kind in uses if kind != READ) or all(kind != RELEASE for _, kind in uses):
            return None
        guards = {self._error_guard(reference, literal, function) for reference, kind in uses if kind == RELEASE}
        if len(guards) != 1:
            return None
        return guards.pop()

    def _error_guard(self, reference: Node, literal: Node, function: Node) -> Binding | None:
        """The named error result `err` of `function` when `reference` runs only inside an
        `if err != nil` of the closure `literal`."""
        for ancestor in self.file.ancestors(reference):
            if ancestor.id == literal.id:
                return None
            parent = self.file.parent(ancestor)
            if parent is None or parent.type != "if_statement" or parent.child_by_field_name("consequence") != ancestor:
                continue
            condition = parent.child_by_field_name("condition")
            for part in _split(condition, "&&") if condition is not None else []:
                left, operator = part.child_by_field_name("left"), part.child_by_field_name("operator")
                right = part.child_by_field_name("right")
                if part.type != "binary_expression" or left is None or left.type != "identifier":
                    continue
                if (
                    operator is None
                    or self.file.text(operator) != "!="
                    or right is None
                    or self.file.text(right) != "nil"
                ):
                    continue
                binding = self.package.binding(self.file, left)
                if binding is not None and binding.kind == RESULT and binding.function == function:
                    return binding
        return None

    def _prunes(self, edge: Edge) -> bool:
        """The edge only taken when there is nothing to release: the error of the call that
        made the value is non-nil, or the value itself (or the part released, `resp.Body`)
        is nil. Taken, a condition holds each part of an `&&`, and one part at least of an
        `||`; not taken, the reverse: `if err == nil && resp.Body != nil { close }` is left,
        by its false edge, only when one of them says there is nothing to close."""
        condition = edge.condition
        if condition is None:
            return False
        if self.drained_by and not edge.branch and self._drains(condition):
            return True
        each, either = ("&&", "||") if edge.branch else ("||", "&&")
        if any(self._says_nothing_to_release(part, edge.branch) for part in _split(condition, each)):
            return True
        alternatives = _split(condition, either)
        return len(alternatives) > 1 and all(self._says_nothing_to_release(part, edge.branch) for part in alternatives)

    def _says_nothing_to_release(self, part: Node, holds: bool) -> bool:
        """Whether a comparison with nil (or a testify assertion on the error), true (`holds`)
        or false, means there is nothing to release: the error of the call that made the value
        is set, or the value (or the part released) is nil."""
        part = unparen(part)
        if self._asserts_error(part, holds):
            return True
        if part.type != "binary_expression":
            return False
        left, right = part.child_by_field_name("left"), part.child_by_field_name("right")
        operator = part.child_by_field_name("operator")
        if left is None or right is None or operator is None or self.file.text(right) != "nil":
            return False
        if left.type == "selector_expression" and self.through:
            # `resp.Body != nil`: a nil Body is nothing to close.
            operand, field_node = left.child_by_field_name("operand"), left.child_by_field_name("field")
            if field_node is None or self.file.text(field_node) != self.through or operand is None:
                return False
            left = operand
        if left.type != "identifier":
            return False
        binding = self.package.binding(self.file, left)
        text = self.file.text(operator)
        if binding is self.error and self.error is not None and text == ("!=" if holds else "=="):
            return self._error_of_made(part)
        return binding is self.binding and text == ("==" if holds else "!=")

    def _asserts_error(self, part: Node, value: bool) -> bool:
        """Whether `part` of a condition, being `value` on the edge, says the error of the call
        that made the value is non-nil: testify's `assert.NoError(t, err)` and `assert.Nil(t,
        err)` are true when it is nil, `assert.Error` and `assert.NotNil` when it is not."""
        part = unparen(part)
        if part.type == "unary_expression" and self.file.text(field_of(part, "operator")) == "!":
            part, value = unparen(field_of(part, "operand")), not value
        if part.type != "call_expression" or self.error is None:
            return False
        name = qualified_name(self.file, part) or ""
        says_failed = {"NoError": False, "Nil": False, "Error": True, "NotNil": True}.get(name.rsplit(".", 1)[-1])
        arguments = [a for a in field_of(part, "arguments").named_children if a.type != "comment"]
        return (
            name.startswith(TESTIFY_ASSERT)
            and says_failed is not None
            and value == says_failed
            and len(arguments) >= 2
            and arguments[1].type == "identifier"
            and self.package.binding(self.file, arguments[1]) is self.error
            and self._error_of_made(part)
        )

    def _asserts_failed(self, element: Node) -> bool:
        """Whether `element` is a statement of its own asserting that the call which made the
        value failed (`assert.Error(t, err)`, `require.ErrorIs(t, err, target)`): the test
        expects no value, and a call that fails hands back none to release — past the
        assertion a value exists only in a test that has already failed."""
        if self.error is None or element.type != "expression_statement" or not element.named_children:
            return False
        call = unparen(element.named_children[0])
        if call.type != "call_expression":
            return False
        name = qualified_name(self.file, call) or ""
        if not name.startswith((TESTIFY_ASSERT, TESTIFY_REQUIRE)) or name.rsplit(".", 1)[-1] not in ASSERTS_FAILURE:
            return False
        arguments = [a for a in field_of(call, "arguments").named_children if a.type != "comment"]
        return (
            len(arguments) >= 2
            and arguments[1].type == "identifier"
            and self.package.binding(self.file, arguments[1]) is self.error
            and self._error_of_made(call)
        )

    def _error_of_made(self, check: Node) -> bool:
        """Whether the error variable may still hold the error of the call that made the
        value where `check` reads it: not when an assignment that surely ran in between gave
        it another error (`b, err := io.ReadAll(resp.Body)`), whose check says nothing about
        the value."""
        error, made = self.error, self.made
        assert error is not None
        before = [a for a in self.package.assignments(error) if a.target.start_byte < check.start_byte]
        for assignment in reversed(before):
            statement = assignment.statement
            if statement is None or statement.start_byte <= made.start_byte:
                return True
            if surely_ran_before(self.file, statement, check):
                return False
        return True

    def _drains(self, condition: Node) -> bool:
        """`rows.Next()`: when it is false the value released itself."""
        condition = unparen(condition)
        function = condition.child_by_field_name("function") if condition.type == "call_expression" else None
        if function is None or function.type != "selector_expression":
            return False
        operand, field_node = function.child_by_field_name("operand"), function.child_by_field_name("field")
        return (
            operand is not None
            and field_node is not None
            and operand.type == "identifier"
            and self.file.text(field_node) == self.drained_by
            and self.package.binding(self.file, operand) is self.binding
        )


def _returns_nil(file: GoFile, statement: Node, function: Node, result: Binding) -> bool:
    """`return conn, nil` where `result` is the function's named result given `nil`."""
    if statement.type != "return_statement" or result.identifier is None:
        return False
    names = [
        name
        for declaration in (function.child_by_field_name("result") or statement).named_children
        if declaration.type == "parameter_declaration"
        for name in (declaration.children_by_field_name("name") or [declaration])
    ]
    position = next((i for i, name in enumerate(names) if name.id == result.identifier.id), None)
    values = expression_items(statement.named_children[0]) if statement.named_children else []
    return position is not None and len(values) == len(names) and file.text(values[position]) == "nil"


def _split(condition: Node, operator: str) -> list[Node]:
    condition = unparen(condition)
    found_operator = condition.child_by_field_name("operator") if condition.type == "binary_expression" else None
    if found_operator is not None and found_operator.type == operator:
        left, right = condition.child_by_field_name("left"), condition.child_by_field_name("right")
        return [*(_split(left, operator) if left else []), *(_split(right, operator) if right else [])]
    return [condition]


def _all_blank(file: GoFile, statement: Node) -> bool:
    left = statement.child_by_field_name("left")
    names = left.named_children if left is not None else statement.children_by_field_name("name")
    return bool(names) and all(file.text(n) == "_" for n in names)


def shape_of(value_type: Type | None) -> Shape | None:
    """How a value of this type is released, when it must be."""
    if value_type is None:
        return None
    if value_type.kind == "named" and value_type.name in ("context.CancelFunc", "context.CancelCauseFunc"):
        return CANCEL
    if value_type.kind != "pointer":
        return None
    if value_type.is_named("time.Ticker", "time.Timer"):
        return STOP
    if value_type.is_named("net/http.Response") and not value_type.detached:
        return BODY_CLOSE
    if value_type.is_named("database/sql.Rows"):
        return ROWS_CLOSE
    if value_type.is_named("database/sql.Stmt"):
        return CLOSE
    return None


CANCEL = Shape(call_releases=True)
STOP = Shape(frozenset({"Stop"}))
CLOSE = Shape(frozenset({"Close"}))
BODY_CLOSE = Shape(frozenset({"Close"}), "Body")
ROWS_CLOSE = Shape(frozenset({"Close"}), drained_by="Next")


@dataclass(frozen=True)
class Result:
    """One result of a call, as the statement that calls it binds it."""

    index: int
    target: Node  # what it is assigned to: a name, `_`, a field
    binding: Binding | None  # the variable (None for `_` or a field)
    type: Type | None
    shape: Shape | None  # how it must be released, if it must


def _named_like_an_error(name: str) -> bool:
    """`err`, `rerr`, `doErr`: what Go code calls the error result it checks."""
    return name == "err" or name.endswith("Err") or (name.endswith("err") and name != "stderr")


@dataclass(frozen=True)
class Bound:
    statement: Node  # the `:=`, `=` or `var` spec
    results: list[Result]

    def error(self) -> Binding | None:
        """The binding of the error result: by its type, else (a call whose type the package
        does not show) the last result when it is named or declared as an error."""
        typed = next((r for r in self.results if r.type is not None and r.type.name == "error"), None)
        if typed is not None:
            return typed.binding
        last = self.results[-1] if len(self.results) > 1 else None
        if last is None or last.binding is None or last.type is not None:
            return None
        if _named_like_an_error(last.binding.name) or (
            last.binding.type_node is not None and last.binding.file.text(last.binding.type_node) == "error"
        ):
            return last.binding
        return None

    def success_ends_path(self, package: Package, file: GoFile) -> bool:
        """Whether the code expects the call to fail: the statement is the initializer of
        `if _, err := f(); err == nil { t.Fatal(...) }`, or is followed right away by `if
        err == nil { t.Fatal(...) }`, whose branch for a success never returns, so no result
        of a success is ever used or owed."""
        error = self.error()
        if error is None:
            return False
        around = file.parent(self.statement)
        if around is not None and around.type == "if_statement":
            check = around if around.child_by_field_name("initializer") == self.statement else None
        else:
            check = self.statement.next_named_sibling
            while check is not None and check.type == "comment":
                check = check.next_named_sibling
            if check is not None and (check.type != "if_statement" or check.child_by_field_name("initializer")):
                check = None
        if check is None:
            return False
        condition = unparen(check.child_by_field_name("condition") or self.statement)
        if not is_nil_comparison(file, condition, error.name, ("==",)):
            return False
        consequence = check.child_by_field_name("consequence")
        statements = consequence.named_children if consequence is not None else []
        if statements and statements[0].type == "statement_list":
            statements = statements[0].named_children
        return any(
            s.type == "expression_statement"
            and s.named_children
            and unparen(s.named_children[0]).type == "call_expression"
            and never_returns(package, file, unparen(s.named_children[0]))
            for s in statements
        )

    def cancel_kept_elsewhere(self, package: Package) -> bool:
        """For `c, cancel := context.WithCancel(parent)`: whether the cancel is stored
        (`&sub{ctx: c, cancel: cancel}` kept in a map or a field), handed on, or assigned
        straight to a field (`s.ctx, s.cancel = ...`) — the context has a lifetime of its own,
        ended by whoever holds the cancel."""
        cancel = self.results[1] if len(self.results) > 1 else None
        if cancel is None:
            return False
        if cancel.binding is None:
            return cancel.target.type in ("selector_expression", "index_expression")
        if cancel.shape is None:
            return False
        owned = self.owned(package, cancel)
        return any(owned.use(reference) == MOVE for reference in owned.references())

    def owned(self, package: Package, result: Result) -> Owned:
        assert result.binding is not None and result.shape is not None
        shape = result.shape
        return Owned(
            package, result.binding, self.statement, shape.methods, shape.through, shape.call_releases, self.error()
        )

    def owned_in_field(self, package: Package, file: GoFile, result: Result) -> Owned | None:
        """A result stored into a field of a struct this function made and has not handed
        on yet (`s := &stream{...}; s.ctx, s.cancel = context.WithCancel(parent)`): the
        struct owns it until it is returned, stored or passed on, or one of its methods is
        called (which may call the field), and calling the field (`s.cancel()`) releases it."""
        target = result.target
        operand, field_node = target.child_by_field_name("operand"), target.child_by_field_name("field")
        if target.type != "selector_expression" or operand is None or field_node is None:
            return None
        if operand.type != "identifier" or result.shape is not CANCEL:
            return None
        holder = package.binding(file, operand)
        if holder is None or not holder.is_local or holder.kind != VARIABLE or not _made_here(holder):
            return None
        owned = Owned(
            package, holder, self.statement, frozenset({file.text(field_node)}), error=self.error(), holder=True
        )
        before = [r for r in owned.references() if r.start_byte < self.statement.start_byte]
        if any(owned.use(r) == MOVE for r in before):
            return None  # handed on before: whoever holds it may cancel
        return owned


def _made_here(binding: Binding) -> bool:
    """A variable declared with a composite literal (`s := &T{...}`, `var s = T{}`)."""
    value = unparen(binding.value) if binding.value is not None and not binding.spread else None
    if value is not None and value.type == "unary_expression" and binding.file.text(value).startswith("&"):
        value = value.child_by_field_name("operand")
    return value is not None and value.type == "composite_literal"


def bound_results(package: Package, file: GoFile, call: Node) -> Bound | None:
    """For a call whose results a `:=`, `=` or `var` binds (`resp, err := c.Do(req)`), each
    result with its target, type and release shape; None when the results go anywhere else
    (returned, passed on, discarded by an expression statement)."""
    holder = file.parent(call)
    while holder is not None and holder.type == "parenthesized_expression":
        holder = file.parent(holder)
    if holder is None or holder.type != "expression_list" or len(holder.named_children) != 1:
        return None
    statement = file.parent(holder)
    if statement is None or statement.type not in ("short_var_declaration", "assignment_statement", "var_spec"):
        return None
    right = statement.child_by_field_name("right") or statement.child_by_field_name("value")
    if right is None or right.id != holder.id:
        return None
    left = statement.child_by_field_name("left")
    targets = list(left.named_children) if left is not None else statement.children_by_field_name("name")
    call_type = package.type_of(file, call)
    results = []
    for index, target in enumerate(targets):
        if call_type is None:
            result_type = None
        elif call_type.kind == "tuple":
            result_type = call_type.result(index)
        else:
            result_type = call_type if index == 0 else None
        binding = package.binding(file, target) if target.type == "identifier" and file.text(target) != "_" else None
        results.append(Result(index, target, binding, result_type, shape_of(result_type)))
    return Bound(statement, results)


def cancel_results(package: Package, file: GoFile) -> list[tuple[Node, str, Bound]]:
    """Every call of the file that returns a cancel function with a binding statement:
    (call, its qualified name, the bound results)."""

    def build() -> list[tuple[Node, str, Bound]]:
        found = []
        for call in file.nodes("call_expression"):
            name = qualified_name(file, call)
            if name is None or name not in CANCEL_CONSTRUCTORS:
                continue
            bound = bound_results(package, file, call)
            if bound is not None:
                found.append((call, name, bound))
        return found

    return file.cached("semantics.cancel_results", build)


CANCEL_CONSTRUCTORS = frozenset(
    name for name, value in LIBRARY.items() if any(shape_of(item) is CANCEL for item in value.items)
)
