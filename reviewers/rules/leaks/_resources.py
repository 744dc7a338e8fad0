"""Resources that must be closed: GR111 (an `*http.Response`'s Body) and GR120 (`*sql.Rows`,
`*sql.Stmt`) share this.

A resource is *released* on a path when the path closes it (`resp.Body.Close()`, deferred
or not, or inside a deferred closure), returns it, stores it (a field, a map, a slice, a
channel, a struct literal, another variable) or hands it to a function, which then owns
it. Reading it is not handing it on: `io.ReadAll`, `io.Copy`, `json.NewDecoder`,
`bufio.NewReader`... and `fmt`/`log` only read. `lifetime` walks the statements after the
one that obtains the resource, branch by branch, and lists the exits that leave it open:
a `return`, a `continue` to the next iteration, the end of a loop body or of the function.

Inside the error check (`if err != nil`) and a nil check (`if resp == nil`) there is
nothing to close, so those branches are not walked. A loop that releases the resource in
its body, and a `for rows.Next()` loop (Rows close themselves when Next returns false),
are taken to release it. A `goto`, or a new assignment to the variable, ends the walk
without a verdict.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from tree_sitter import Node

from ...gosource import GoFile, captures
from ...rule import Fix
from ...syntax import FUNCTION_TYPES, ancestors, call_method_name, enclosing_function, qualified_name, unparen

CLOSE, HAND, READ = "close", "hand", "read"

READERS = frozenset(
    {
        "io.ReadAll",
        "io/ioutil.ReadAll",
        "io.Copy",
        "io.CopyN",
        "io.CopyBuffer",
        "io.ReadFull",
        "io.ReadAtLeast",
        "io.LimitReader",
        "io.TeeReader",
        "io.MultiReader",
        "bufio.NewReader",
        "bufio.NewReaderSize",
        "bufio.NewScanner",
        "encoding/json.NewDecoder",
        "encoding/xml.NewDecoder",
        "encoding/csv.NewReader",
        "net/http/httputil.DumpResponse",
        "mime/multipart.NewReader",
    }
)
READING_PACKAGES = ("fmt.", "log.", "log/slog.", "errors.")
_CASES = ("expression_case", "default_case", "type_case", "communication_case")
_ENDING_CALLS = frozenset(
    {"Fatal", "Fatalf", "Fatalln", "Exit", "FailNow", "SkipNow", "Skip", "Skipf", "Panic", "Panicf", "Panicln"}
)


@dataclass(frozen=True)
class Resource:
    name: str  # the variable holding it: `resp`, `rows`
    error: str | None  # the error assigned with it: `err`
    field: str | None = None  # `Body`: what must be closed is `resp.Body`
    drained_by: str | None = None  # `Next`: `for rows.Next() {}` releases it at the end

    @property
    def closer(self) -> str:
        return f"{self.name}.{self.field}" if self.field else self.name


@dataclass
class Lifetime:
    released_somewhere: bool  # some statement after it closes or hands it on
    leaks: list[tuple[Node, str]] = field(default_factory=list)  # (exit, "return"/"continue"/...)


def use_of(file: GoFile, resource: Resource, identifier: Node) -> str:
    """CLOSE, HAND or READ for one occurrence of the resource's variable."""
    parent = identifier.parent
    if (
        parent is not None
        and parent.type == "selector_expression"
        and parent.child_by_field_name("operand") == identifier
    ):
        selected = file.text(parent.child_by_field_name("field"))
        if resource.field is None:
            return _close_or_value(file, resource, parent, identifier) if selected == "Close" else READ
        if selected != resource.field:
            return READ
        outer = parent.parent
        if outer is not None and outer.type == "selector_expression" and outer.child_by_field_name("operand") == parent:
            return (
                _close_or_value(file, resource, outer, parent)
                if file.text(outer.child_by_field_name("field")) == "Close"
                else READ
            )
        return _value_use(file, parent)
    return _value_use(file, identifier)


def _close_or_value(file: GoFile, resource: Resource, close_selector: Node, value: Node) -> str:
    call = close_selector.parent
    if call is not None and call.type == "call_expression" and call.child_by_field_name("function") == close_selector:
        return CLOSE
    return HAND  # a method value `resp.Body.Close` handed to someone


def _value_use(file: GoFile, expression: Node) -> str:
    node = expression
    while node.parent is not None and (
        node.parent.type == "parenthesized_expression"
        or (node.parent.type == "unary_expression" and file.text(node.parent).startswith("&"))
    ):
        node = node.parent
    parent = node.parent
    if parent is None:
        return READ
    if parent.type == "argument_list":
        call = parent.parent
        name = qualified_name(file, call) if call is not None and call.type == "call_expression" else None
        if name and (name in READERS or name.startswith(READING_PACKAGES)):
            return READ
        return HAND
    if parent.type in ("binary_expression", "type_assertion_expression", "index_expression", "expression_statement"):
        return READ
    if parent.type in ("var_spec", "parameter_declaration", "range_clause", "receive_statement"):
        return READ
    if (
        parent.type == "expression_list"
        and parent.parent is not None
        and parent.parent.child_by_field_name("left") == parent
    ):
        return READ  # assigned to: not a use of the value
    return HAND


def uses(file: GoFile, resource: Resource, node: Node) -> Iterator[tuple[Node, str]]:
    for identifier in captures("(identifier) @id", node).get("id", []):
        if file.text(identifier) == resource.name:
            yield identifier, use_of(file, resource, identifier)


def releases(file: GoFile, resource: Resource, node: Node) -> bool:
    return any(use in (CLOSE, HAND) for _, use in uses(file, resource, node))


def lifetime(file: GoFile, resource: Resource, statement: Node) -> Lifetime:
    """Which exits after `statement` (which obtains the resource) leave it open."""
    function = enclosing_function(statement)
    released = False
    if function is not None:
        released = any(
            use in (CLOSE, HAND)
            for identifier, use in uses(file, resource, function)
            if identifier.start_byte > statement.end_byte
        )
    walk = _Walk(file, resource, statement)
    walk.after(statement)
    return Lifetime(released, walk.leaks)


def _key(node: Node) -> tuple[int, int, str]:
    return (node.start_byte, node.end_byte, node.type)


class _Walk:
    def __init__(self, file: GoFile, resource: Resource, start: Node):
        self.file = file
        self.resource = resource
        self.start = start
        self.leaks: list[tuple[Node, str]] = []
        self._resumed: set[tuple[int, int, str]] = set()
        self._entered: set[tuple[int, int, str]] = set()
        self._broken: set[tuple[int, int, str]] = set()
        # Whether the error variable still holds the error of the call, on the current path.
        self._error_is_ours = True

    # -- where the path goes once a statement is done -----------------------------------------
    def after(self, statement: Node) -> None:
        """Go on, with the resource open, after `statement`."""
        if _key(statement) in self._resumed:
            return
        self._resumed.add(_key(statement))
        parent = statement.parent
        if parent is None:
            return
        if parent.type in (
            "if_statement",
            "expression_switch_statement",
            "type_switch_statement",
        ) and statement != parent.child_by_field_name("consequence"):
            if parent.child_by_field_name("initializer") == statement:
                # `if resp, err := f(); ...`: the variable lives in the statement only.
                if self._statement(parent, outer=True):
                    self.leaks.append((parent, "end of the `if`"))
                return
            self.after(parent)  # an `else if`
            return
        if parent.type == "labeled_statement":
            self.after(parent)
            return
        if parent.type != "statement_list":
            return
        siblings = parent.named_children
        rest = siblings[siblings.index(statement) + 1 :]
        if self._sequence(rest):
            self._fall_off(parent)

    def _fall_off(self, statements: Node) -> None:
        holder = statements.parent
        if holder is None:
            return
        if holder.type in _CASES:
            self.after(holder.parent)
            return
        if holder.type != "block" or holder.parent is None:
            return
        owner = holder.parent
        if owner.type in FUNCTION_TYPES:
            self.leaks.append((holder, "end of the function"))
        elif owner.type == "for_statement":
            self.leaks.append((holder, "end of the loop body"))
        elif owner.type in ("if_statement", "statement_list", "labeled_statement"):
            self.after(holder if owner.type == "statement_list" else owner)

    # -- statements -------------------------------------------------------------------------
    def _sequence(self, statements: list[Node]) -> bool:
        """Walk statements in order; whether the path falls through with the resource open."""
        return all(self._statement(statement) for statement in statements)

    def _block(self, block: Node | None) -> bool:
        if block is None:
            return True
        statements = next((c for c in block.named_children if c.type == "statement_list"), None)
        return self._sequence(statements.named_children) if statements is not None else True

    def _covers(self, node: Node | None) -> bool:
        return node is not None and releases(self.file, self.resource, node)

    def _statement(self, statement: Node, outer: bool = False) -> bool:
        kind = statement.type
        if kind == "return_statement":
            if not self._covers(statement):
                self.leaks.append((statement, "return"))
            return False
        if kind in ("continue_statement", "break_statement", "goto_statement"):
            return self._jump(statement)
        if kind == "labeled_statement":
            inner = [c for c in statement.named_children if c.type != "label_name"]
            return self._statement(inner[0]) if inner else True
        if kind == "block":
            return self._block(statement)
        if kind == "if_statement":
            return self._if(statement, outer)
        if kind == "for_statement":
            return self._loop(statement)
        if kind in ("expression_switch_statement", "type_switch_statement", "select_statement"):
            return self._switch(statement)
        if self._reassigns(statement):
            return False
        if self._covers(statement):
            return False
        if self._assigns_error(statement):
            self._error_is_ours = False
        return not self._ends_program(statement)

    def _paths(self, branches: list) -> bool:
        """Walk alternative branches from the same state; whether any falls through with the
        resource open (the error state goes on as the branches that fall through leave it)."""
        saved = self._error_is_ours
        falls = []
        for branch in branches:
            self._error_is_ours = saved
            if branch():
                falls.append(self._error_is_ours)
        self._error_is_ours = all(falls) if falls else saved
        return bool(falls)

    def _assigns_error(self, statement: Node | None) -> bool:
        if statement is None or statement.type not in ("assignment_statement", "short_var_declaration"):
            return False
        left = statement.child_by_field_name("left")
        return left is not None and any(self.file.text(n) == self.resource.error for n in left.named_children)

    def _if(self, statement: Node, outer: bool = False) -> bool:
        initializer = statement.child_by_field_name("initializer")
        if not outer and self._covers(initializer):
            return False
        if self._assigns_error(initializer):
            self._error_is_ours = False  # `if err := rows.Scan(&v); err != nil` tests another error
        condition = statement.child_by_field_name("condition")
        if self._covers(condition):
            return False
        then_open, else_open = self._branch_states(condition)
        consequence = statement.child_by_field_name("consequence")
        alternative = statement.child_by_field_name("alternative")
        branches = [lambda: then_open and self._block(consequence)]
        if else_open and alternative is None:
            branches.append(lambda: True)
        elif else_open and alternative.type == "if_statement":
            branches.append(lambda: self._if(alternative))
        elif else_open:
            branches.append(lambda: self._block(alternative))
        return self._paths(branches)

    def _branch_states(self, condition: Node | None) -> tuple[bool, bool]:
        """Whether the resource can be open in the `then` and `else` branches: not in the
        `then` of `err != nil` or `resp == nil`, not in the `else` of `err == nil` or
        `resp != nil && resp.Body != nil`."""
        if condition is None:
            return True, True
        if all(self._nil_test(part) == "present" for part in _conjuncts(condition, "&&")):
            return True, False
        if all(self._nil_test(part) == "absent" for part in _conjuncts(condition, "||")):
            return False, True
        return True, True

    def _nil_test(self, part: Node) -> str | None:
        """ "present" for `resp != nil`/`err == nil`, "absent" for `resp == nil`/`err != nil`."""
        text = self.file.text
        if part.type != "binary_expression" or text(part.child_by_field_name("right")) != "nil":
            return None
        left, operator = text(part.child_by_field_name("left")), text(part.child_by_field_name("operator"))
        if left in (self.resource.name, self.resource.closer):
            return {"!=": "present", "==": "absent"}.get(operator)
        if left == self.resource.error and self._error_is_ours:
            return {"==": "present", "!=": "absent"}.get(operator)
        return None

    def _loop(self, statement: Node) -> bool:
        body = statement.child_by_field_name("body")
        header = [c for c in statement.named_children if c != body]
        if any(self._covers(part) for part in header):
            return False
        self._entered.add(_key(statement))
        saved = self._error_is_ours
        self._paths([lambda: self._block(body)])
        self._error_is_ours = saved and not any(
            self._assigns_error(n)
            for n in captures("[(assignment_statement) (short_var_declaration)] @s", body).get("s", [])
        )
        if body is not None and self._covers(body):
            return False  # released in the loop: assume every path through it does
        drained = self.resource.drained_by
        if drained and any(self.file.text(part) == f"{self.resource.name}.{drained}()" for part in header):
            return _key(statement) in self._broken
        return True

    def _switch(self, statement: Node) -> bool:
        cases = [c for c in statement.named_children if c.type in _CASES]
        header = [c for c in statement.named_children if c.type not in _CASES]
        if any(self._covers(part) for part in header):
            return False
        self._entered.add(_key(statement))
        exhaustive = statement.type == "select_statement" or any(c.type == "default_case" for c in cases)
        branches = [lambda case=case: self._case(case) for case in cases]
        if not exhaustive:
            branches.append(lambda: True)
        falls = self._paths(branches)
        return falls or _key(statement) in self._broken

    def _case(self, case: Node) -> bool:
        communication = case.child_by_field_name("communication")
        if communication is not None and self._covers(communication):
            return False
        statements = next((c for c in case.named_children if c.type == "statement_list"), None)
        return self._sequence(statements.named_children) if statements is not None else True

    def _jump(self, statement: Node) -> bool:
        target = _jump_target(self.file, statement)
        if target is None:
            return False  # goto, or a target we cannot see: no verdict
        if _key(target) in self._entered:
            if statement.type == "break_statement":
                self._broken.add(_key(target))
            return False
        if statement.type == "continue_statement":
            self.leaks.append((statement, "continue"))
        elif (
            target.type == "for_statement"
            or target.type.endswith("switch_statement")
            or target.type == "select_statement"
        ):
            self.after(target)
        return False

    def _reassigns(self, statement: Node) -> bool:
        if statement.type not in ("assignment_statement", "short_var_declaration") or statement == self.start:
            return False
        left = statement.child_by_field_name("left")
        return left is not None and any(self.file.text(n) == self.resource.name for n in left.named_children)

    def _ends_program(self, statement: Node) -> bool:
        if statement.type != "expression_statement" or not statement.named_children:
            return False
        call = statement.named_children[0]
        if call.type != "call_expression":
            return False
        name = call_method_name(self.file, call)
        return name == "panic" or name in _ENDING_CALLS


def _conjuncts(condition: Node, operator: str) -> list[Node]:
    """`a && b && c` -> [a, b, c] (through parentheses)."""
    condition = unparen(condition)
    op = condition.child_by_field_name("operator")
    if condition.type == "binary_expression" and op is not None and op.type == operator:
        return _conjuncts(condition.child_by_field_name("left"), operator) + _conjuncts(
            condition.child_by_field_name("right"), operator
        )
    return [condition]


def _jump_target(file: GoFile, statement: Node) -> Node | None:
    """The loop, switch or select a `break`/`continue` leaves or restarts."""
    if statement.type == "goto_statement":
        return None
    label = next((c for c in statement.named_children if c.type == "label_name"), None)
    for ancestor in ancestors(statement):
        if ancestor.type in FUNCTION_TYPES:
            return None
        if label is not None:
            if ancestor.type == "labeled_statement" and file.text(ancestor.named_children[0]) == file.text(label):
                inner = [c for c in ancestor.named_children if c.type != "label_name"]
                return inner[0] if inner else None
            continue
        if ancestor.type == "for_statement":
            return ancestor
        if statement.type == "break_statement" and ancestor.type in (
            "expression_switch_statement",
            "type_switch_statement",
            "select_statement",
        ):
            return ancestor
    return None


def assigned_names(file: GoFile, call: Node) -> tuple[Node, list[Node]] | None:
    """(statement, left-hand nodes) when `call` is the single value of an assignment,
    `:=` or `var`; None otherwise."""
    values = call.parent
    if values is None or values.type != "expression_list" or len(values.named_children) != 1:
        return None
    statement = values.parent
    if statement is None:
        return None
    if (
        statement.type in ("short_var_declaration", "assignment_statement")
        and statement.child_by_field_name("right") == values
    ):
        left = statement.child_by_field_name("left")
        return statement, list(left.named_children) if left is not None else []
    if statement.type == "var_spec":
        return statement, list(statement.children_by_field_name("name"))
    return None


def declared_as(file: GoFile, type_node: Node | None, qualified: set[str] | frozenset[str]) -> bool:
    """Whether a type node (through a pointer) names one of `qualified` (`net/http.Client`)."""
    if type_node is None:
        return False
    if type_node.type == "pointer_type" and type_node.named_children:
        type_node = type_node.named_children[0]
    return qualified_name(file, type_node) in qualified


def defer_close_fix(file: GoFile, resource: Resource, statement: Node) -> Fix | None:
    """`defer resp.Body.Close()` right after the error check that follows the statement:
    offered when that check is `if err != nil { ...; return }` and no loop is around (a
    defer in a loop piles up: GR115)."""
    from ...syntax import enclosing_loops

    if statement.parent is None or statement.parent.type != "statement_list" or enclosing_loops(statement):
        return None
    siblings = statement.parent.named_children
    position = siblings.index(statement)
    check = siblings[position + 1] if position + 1 < len(siblings) else None
    if check is None or check.type != "if_statement" or check.child_by_field_name("alternative") is not None:
        return None
    if (
        check.child_by_field_name("initializer") is not None
        or file.text(check.child_by_field_name("condition")) != f"{resource.error} != nil"
    ):
        return None
    consequence = check.child_by_field_name("consequence")
    body = next((c for c in consequence.named_children if c.type == "statement_list"), None) if consequence else None
    if body is None or not body.named_children or body.named_children[-1].type != "return_statement":
        return None
    first, last = statement.start_point[0], check.end_point[0]
    lines = file.source.split(b"\n")[first : last + 1]
    indent = lines[0][: len(lines[0]) - len(lines[0].lstrip())].decode()
    text = b"\n".join(lines).decode("utf-8", "replace") + f"\n{indent}defer {resource.closer}.Close()"
    return Fix(first + 1, last + 1, text)


def describe_leak(file: GoFile, leak: tuple[Node, str]) -> str:
    node, what = leak
    if what in ("return", "continue"):
        return f"the `{what}` on line {file.line(node)}"
    return f"the {what} (line {file.end_line(node)})"
