"""Syntax helpers that several rules share: functions and their parameters, calls named by
import path, contexts in scope, handlers, loops, goroutines and select cases.

Everything here is syntactic: no types, no build. Names of packages are resolved through
the file's imports, so `ctxpkg.WithCancel` is `context.WithCancel` when the file says
`import ctxpkg "context"`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from tree_sitter import Node

from .gosource import GoFile, captures

FUNCTION_TYPES = ("function_declaration", "method_declaration", "func_literal")
LOOP_TYPES = ("for_statement",)


# -- tree walking -------------------------------------------------------------------------
def ancestors(node: Node, file: GoFile | None = None) -> Iterator[Node]:
    """The nodes around `node`, innermost first. Given the file, the walk costs the node's
    depth (`GoFile.ancestors`); without it each step searches down from the root, which only
    matters for code nested hundreds deep."""
    if file is not None:
        yield from file.ancestors(node)
        return
    parent = node.parent
    while parent is not None:
        yield parent
        parent = parent.parent


def descendants(node: Node, skip: tuple[str, ...] = ()) -> Iterator[Node]:
    """Named nodes under `node` in source order, not entering nodes whose type is in `skip`."""
    stack = list(reversed(node.named_children))
    while stack:
        current = stack.pop()
        yield current
        if current.type not in skip:
            stack.extend(reversed(current.named_children))


def field_of(node: Node, name: str) -> Node:
    """The child in a field the grammar requires of `node` (a call's `function`, a `for`'s
    `body`, a send's `channel`). tree-sitter never builds such a node without it, even from
    code with errors (recovery inserts a zero-width MISSING token or leaves an ERROR node
    instead), so its absence is a bug in the caller: asking a field the type does not have."""
    child = node.child_by_field_name(name)
    if child is None:
        raise ValueError(f"a {node.type} at line {node.start_point[0] + 1} has no {name!r} field")
    return child


def parent_of(node: Node) -> Node:
    """The node around one that the grammar never makes the root (a select case's `select`,
    a statement list's block)."""
    parent = node.parent
    if parent is None:
        raise ValueError(f"a {node.type} at line {node.start_point[0] + 1} has no parent")
    return parent


def scope_nodes(function: Node) -> Iterator[Node]:
    """Named nodes of a function's scope: its body and the closures in it, but not the bodies
    of goroutines it starts (those are scopes of their own)."""
    body = function.child_by_field_name("body")
    if body is None:
        return
    stack = list(reversed(body.named_children))
    while stack:
        current = stack.pop()
        yield current
        if current.type == "go_statement":
            call = current.named_children[0] if current.named_children else None
            if call is not None and call.type == "call_expression":
                # The arguments are evaluated by the starter; the literal's body is not.
                arguments = call.child_by_field_name("arguments")
                function_node = call.child_by_field_name("function")
                if arguments is not None:
                    stack.append(arguments)
                if function_node is not None and function_node.type != "func_literal":
                    stack.append(function_node)
            continue
        stack.extend(reversed(current.named_children))


def functions_in_order(file: GoFile) -> list[Node]:
    """Every function, method and function literal of the file, in source order."""
    return sorted(
        (f for function_type in FUNCTION_TYPES for f in file.nodes(function_type)), key=lambda f: f.start_byte
    )


def enclosing_function(node: Node, file: GoFile | None = None) -> Node | None:
    """The innermost function declaration, method or function literal around `node`."""
    return next((a for a in ancestors(node, file) if a.type in FUNCTION_TYPES), None)


def enclosing_declaration(node: Node, file: GoFile | None = None) -> Node | None:
    """The top-level declaration around `node` (function, method, var, const or type)."""
    if file is not None:
        return file.top_level(node)
    top = None
    for ancestor in ancestors(node, file):
        if ancestor.type == "source_file":
            return top
        top = ancestor
    return top


def owned_nodes(file: GoFile, node_types: tuple[str, ...]) -> dict[int, list[Node]]:
    """The nodes of these (indexed) types, grouped by the function whose body holds them
    directly (not through a function literal in it), keyed by the function's start byte; each
    list in source order, outer nodes first. One sweep over the file's node index instead of
    a walk of every function's body."""
    # Regions, nested as the tree nests them: a function's body belongs to the function; a
    # literal's signature belongs to no one (it is neither the literal's body nor its outer's).
    events: list[tuple[int, int, int, Node, int | None]] = []
    for node_type in FUNCTION_TYPES:
        for function in file.nodes(node_type):
            if function.type == "func_literal":
                events.append((function.start_byte, -function.end_byte, 0, function, None))
            body = function.child_by_field_name("body")
            if body is not None:
                events.append((body.start_byte, -body.end_byte, 0, body, function.start_byte))
    for node_type in node_types:
        events.extend((node.start_byte, -node.end_byte, 1, node, None) for node in file.nodes(node_type))
    # Sorted by (start, -end): a region comes before what it holds, a call `func(){...}()`
    # before the literal it starts with.
    events.sort(key=lambda event: event[:3])
    owned: dict[int, list[Node]] = {}
    regions: list[tuple[int, int | None]] = []  # (end byte, owner) of the regions around
    for start, _, is_node, node, owner in events:
        while regions and regions[-1][0] <= start:
            regions.pop()
        if not is_node:
            regions.append((node.end_byte, owner))
        elif regions and regions[-1][1] is not None:
            owned.setdefault(regions[-1][1], []).append(node)
    return owned


def own_nodes(file: GoFile, function: Node, node_types: tuple[str, ...]) -> list[Node]:
    """The function's nodes of these (indexed) types that no function literal in it holds,
    in source order (an outer node before those nested in it): what a walk of its body that
    does not enter nested functions would find, without the walk. The file's sweep is made
    once for each set of types and shared by every function asked about."""
    owned = file.cached(f"syntax.owned_nodes:{node_types}", lambda: owned_nodes(file, node_types))
    return owned.get(function.start_byte, [])


def top_level_specs(file: GoFile, kinds: tuple[str, ...] = ("var",)) -> list[Node]:
    """The specs of the file's top-level `var` (and, if asked, `const`) declarations, grouped
    in `( ... )` or not, in source order. Their values (often large tables) are not walked."""
    specs = file.cached(
        "syntax.top_level_specs",
        lambda: [
            spec
            for declaration in file.root.named_children
            if declaration.type in ("var_declaration", "const_declaration")
            for child in declaration.named_children
            for spec in (child.named_children if child.type.endswith("_spec_list") else [child])
            if spec.type in ("var_spec", "const_spec")
        ],
    )
    wanted = tuple(f"{kind}_spec" for kind in kinds)
    return [spec for spec in specs if spec.type in wanted]


def is_nil_comparison(file: GoFile, node: Node, name: str, operators: tuple[str, ...]) -> bool:
    """`name != nil` (or another of `operators`), either way round."""
    operator = node.child_by_field_name("operator") if node.type == "binary_expression" else None
    if operator is None or file.text(operator) not in operators:
        return False
    sides = {file.text(node.child_by_field_name(side) or node) for side in ("left", "right")}
    return sides == {name, "nil"}


def unparen(node: Node) -> Node:
    """The expression inside any parentheses around it."""
    while node.type == "parenthesized_expression" and node.named_children:
        node = node.named_children[0]
    return node


def root_operand(node: Node) -> Node:
    """The name a selector or index chain starts from: `s` of `s.conns[i].Close`."""
    node = unparen(node)
    while node.type in ("selector_expression", "index_expression"):
        node = unparen(field_of(node, "operand"))
    return node


def first_argument(call: Node) -> Node | None:
    arguments = call.child_by_field_name("arguments")
    items = [a for a in arguments.named_children if a.type != "comment"] if arguments is not None else []
    return items[0] if items else None


def expression_items(node: Node | None) -> list[Node]:
    """The expressions of an expression list (`a, b` in `x, y := a, b`), or the expression itself."""
    if node is None:
        return []
    if node.type == "expression_list":
        return [child for child in node.named_children if child.type != "comment"]
    return [node]


def is_inside(node: Node, container: Node) -> bool:
    return container.start_byte <= node.start_byte and node.end_byte <= container.end_byte


def surely_ran_before(file: GoFile, statement: Node | None, later: Node) -> bool:
    """Whether `statement` runs before `later` whenever `later` runs: `later` follows it in
    the statement list that holds it (a `goto` into the list is not considered)."""
    statements = file.parent(statement) if statement is not None else None
    return (
        statement is not None
        and statements is not None
        and statements.type in ("statement_list", "block", "source_file")
        and statement.end_byte <= later.start_byte
        and later.end_byte <= statements.end_byte
    )


# -- names --------------------------------------------------------------------------------
def receiver_type(file: GoFile, method: Node) -> str | None:
    """`T` for `func (t *T) M()` and `func (t T) M()`, generics stripped."""
    receiver = method.child_by_field_name("receiver")
    if receiver is None:
        return None
    for parameter in receiver.named_children:
        type_node = parameter.child_by_field_name("type")
        if type_node is None:
            continue
        if type_node.type == "pointer_type":
            type_node = type_node.named_children[0]
        if type_node.type == "generic_type":
            type_node = type_node.child_by_field_name("type")
        return file.text(type_node) if type_node is not None else None
    return None


def receiver_name(file: GoFile, method: Node) -> str | None:
    """`s` for `func (s *Server) Close()`; None for an unnamed or `_` receiver."""
    receiver = method.child_by_field_name("receiver")
    names = [
        file.text(n) for p in (receiver.named_children if receiver else []) for n in p.children_by_field_name("name")
    ]
    return names[0] if names and names[0] != "_" else None


def declaration_name(file: GoFile, declaration: Node | None) -> str:
    """A stable name for a top-level declaration: `Serve`, `(*Server).Close`, `var config`."""
    if declaration is None:
        return ""
    if declaration.type == "method_declaration":
        receiver = declaration.child_by_field_name("receiver")
        pointer = receiver is not None and "*" in file.text(receiver)
        name = function_name(file, declaration) or ""
        type_name = receiver_type(file, declaration) or "?"
        return f"({'*' if pointer else ''}{type_name}).{name}"
    if declaration.type == "function_declaration":
        return function_name(file, declaration) or ""
    names = [file.text(n) for n in descendants(declaration) if n.type in ("identifier", "type_identifier")][:1]
    return f"{declaration.type.split('_')[0]} {names[0] if names else ''}".strip()


def function_label(file: GoFile, function: Node) -> str:
    """How a message names a function: `Broker.loop`, `register`, `a closure in Broker.Start`."""
    if function.type != "func_literal":
        owner = receiver_type(file, function) if function.type == "method_declaration" else None
        return f"{owner + '.' if owner else ''}{function_name(file, function)}"
    outer = file.top_level(function)
    if outer is None or outer.type not in ("function_declaration", "method_declaration"):
        return "a function literal"
    return f"a closure in {function_label(file, outer)}"


def function_name(file: GoFile, function: Node) -> str | None:
    """The declared name of a function or method; None for a literal."""
    name = function.child_by_field_name("name") if function.type != "func_literal" else None
    return file.text(name) if name is not None else None


def callee(file: GoFile, call: Node) -> str:
    """The called name as written, without arguments: `wg.Done`, `http.Get`, `close`."""
    function = call.child_by_field_name("function")
    return file.text(function) if function is not None else ""


def call_method_name(file: GoFile, call: Node) -> str | None:
    """The last name of the callee: `Done` for `s.wg.Done()`, `close` for `close(ch)`."""
    function = call.child_by_field_name("function")
    if function is None:
        return None
    if function.type == "selector_expression":
        field = function.child_by_field_name("field")
        return file.text(field) if field is not None else None
    if function.type == "identifier":
        return file.text(function)
    return None


def qualified_name(file: GoFile, node: Node) -> str | None:
    """`context.WithCancel` for a selector `pkg.Name` (or a call of one) whose operand is an
    imported package, named by the import path: `net/http.Get`. Remembered per node: the
    rules ask it of the same calls many times over."""
    known = file.cached("syntax.qualified_names", dict)
    if node.id not in known:
        known[node.id] = _qualified_name(file, node)
    return known[node.id]


def _qualified_name(file: GoFile, node: Node) -> str | None:
    if node.type == "call_expression":
        function = node.child_by_field_name("function")
        if function is None:
            return None
        node = function
    if node.type == "qualified_type":
        package, name = node.child_by_field_name("package"), node.child_by_field_name("name")
    elif node.type == "selector_expression":
        package, name = node.child_by_field_name("operand"), node.child_by_field_name("field")
    else:
        return None
    if package is None or name is None or package.type not in ("identifier", "package_identifier"):
        return None
    import_path = file.package_path(file.text(package))
    return f"{import_path}.{file.text(name)}" if import_path else None


def calls_in(file: GoFile, node: Node) -> list[Node]:
    """Every call expression under `node`, in source order."""
    return file.nodes("call_expression", within=node)


def qualified_calls(file: GoFile, node: Node, names: set[str] | frozenset[str]) -> list[Node]:
    """Calls under `node` whose qualified name is one of `names` (`context.WithCancel`...)."""
    return [call for call in calls_in(file, node) if qualified_name(file, call) in names]


# -- functions, parameters, handlers, contexts -----------------------------------------------
@dataclass(frozen=True)
class Parameter:
    name: str  # "" for an unnamed parameter
    type_node: Node


def parameters(function: Node, file: GoFile) -> list[Parameter]:
    parameter_list = function.child_by_field_name("parameters")
    if parameter_list is None:
        return []
    result = []
    for declaration in parameter_list.named_children:
        if declaration.type not in ("parameter_declaration", "variadic_parameter_declaration"):
            continue
        type_node = declaration.child_by_field_name("type")
        if type_node is None:
            continue
        names = [file.text(child) for child in declaration.children_by_field_name("name")]
        for name in names or [""]:
            result.append(Parameter(name, type_node))
    return result


def type_is(file: GoFile, type_node: Node, qualified: str, pointer: bool = False) -> bool:
    """Whether a type node spells `qualified` (`net/http.Request`), through a pointer if asked."""
    if pointer:
        if type_node.type != "pointer_type":
            return False
        type_node = type_node.named_children[0]
    return qualified_name(file, type_node) == qualified


# Framework request contexts, by import path and type (a pointer where the framework uses one).
FRAMEWORK_CONTEXTS = (
    ("github.com/gin-gonic/gin.Context", True),
    ("github.com/labstack/echo/v4.Context", False),
    ("github.com/labstack/echo.Context", False),
    ("github.com/gofiber/fiber/v2.Ctx", True),
    ("github.com/gofiber/fiber/v3.Ctx", False),
)


def _framework_qualified(file: GoFile, type_node: Node, qualified: str, pointer: bool) -> bool:
    if pointer:
        if type_node.type != "pointer_type":
            return False
        type_node = type_node.named_children[0]
    if type_node.type != "qualified_type":
        return False
    package, name = type_node.child_by_field_name("package"), type_node.child_by_field_name("name")
    import_path = file.imports.get(file.text(package)) if package is not None else None
    return import_path is not None and name is not None and f"{import_path}.{file.text(name)}" == qualified


def request_parameters(file: GoFile, function: Node) -> list[str]:
    """Names of the function's `*http.Request` parameters."""
    return [
        p.name for p in parameters(function, file) if p.name and type_is(file, p.type_node, "net/http.Request", True)
    ]


def _literal_passed_as_handler(file: GoFile, literal: Node) -> bool:
    parent = literal.parent
    if parent is None or parent.type != "argument_list":
        return False
    call = parent.parent
    if call is None or call.type not in ("call_expression", "type_conversion_expression"):
        return False
    name = call_method_name(file, call) if call.type == "call_expression" else None
    if name in ("HandleFunc",):
        return True
    return qualified_name(file, call) == "net/http.HandlerFunc" or file.text(call).startswith("http.HandlerFunc(")


def is_handler(file: GoFile, function: Node) -> bool:
    """An HTTP handler: (http.ResponseWriter, *http.Request), a ServeHTTP method, a literal
    passed to HandleFunc/http.HandlerFunc, or a gin/echo/fiber handler."""
    params = parameters(function, file)
    types = [p.type_node for p in params]
    has_writer = any(type_is(file, t, "net/http.ResponseWriter") for t in types)
    has_request = any(type_is(file, t, "net/http.Request", True) for t in types)
    if has_writer and has_request:
        return True
    if function.type == "method_declaration" and function_name(file, function) == "ServeHTTP" and has_request:
        return True
    if function.type == "func_literal" and has_request and _literal_passed_as_handler(file, function):
        return True
    return any(_framework_qualified(file, t, q, ptr) for t in types for q, ptr in FRAMEWORK_CONTEXTS)


def is_goroutine_body(function: Node, file: GoFile | None = None) -> bool:
    """Whether a function literal is the one a `go` statement starts."""
    if function.type != "func_literal":
        return False
    around = ancestors(function, file)
    call, statement = next(around, None), next(around, None)
    return (
        call is not None
        and call.type == "call_expression"
        and statement is not None
        and statement.type == "go_statement"
    )


def enclosing_handler(file: GoFile, node: Node) -> Node | None:
    """The handler `node` is in, looking through closures but not out of a goroutine body
    (a goroutine is a scope of its own)."""
    for function in (a for a in ancestors(node, file) if a.type in FUNCTION_TYPES):
        if is_handler(file, function):
            return function
        if is_goroutine_body(function, file):
            return None
    return None


# How each framework's handler reaches its request context, by the parameter's type.
FRAMEWORK_REQUEST_CONTEXT = {
    "github.com/gin-gonic/gin.Context": "{}.Request.Context()",
    "github.com/labstack/echo/v4.Context": "{}.Request().Context()",
    "github.com/labstack/echo.Context": "{}.Request().Context()",
    "github.com/gofiber/fiber/v2.Ctx": "{}.UserContext()",
}


def request_context(file: GoFile, handler: Node) -> str | None:
    """The expression that gives a handler's request context: `r.Context()`,
    `c.Request.Context()`..."""
    requests = request_parameters(file, handler)
    if requests and requests[0] != "_":
        return f"{requests[0]}.Context()"
    for parameter in parameters(handler, file):
        type_node = parameter.type_node
        if type_node.type == "pointer_type":
            type_node = type_node.named_children[0]
        pattern = FRAMEWORK_REQUEST_CONTEXT.get(qualified_name(file, type_node) or "")
        if pattern and parameter.name and parameter.name != "_":
            return pattern.format(parameter.name)
    return None


# -- loops, goroutines, select ----------------------------------------------------------------
def guarded_once(file: GoFile, node: Node, within: Node) -> bool:
    """Whether `node` runs at most once however often the code around it does: it sits in an
    `if !started { started = true; ... }` (a flag the block itself sets), or an `if first {
    first = false; ... }` (a flag the block itself clears), inside `within`."""
    for ancestor in ancestors(node, file):
        if ancestor.id == within.id:
            return False
        if ancestor.type != "if_statement":
            continue
        condition = ancestor.child_by_field_name("condition")
        consequence = ancestor.child_by_field_name("consequence")
        if condition is None or consequence is None or not is_inside(node, consequence):
            continue
        negated = [
            file.text(field_of(n, "operand"))
            for n in descendants(condition)
            if n.type == "unary_expression" and file.text(n).startswith("!")
        ]
        plain = [file.text(unparen(condition))] if unparen(condition).type == "identifier" else []
        once = {f"{flag}=true" for flag in negated} | {f"{flag}=false" for flag in plain}
        for assignment in consequence.named_children[0].named_children if consequence.named_children else []:
            if assignment.type == "assignment_statement" and file.text(assignment).replace(" ", "") in once:
                return True
    return False


def receive_with_ok(receive: Node, file: GoFile | None = None) -> Node | None:
    """The statement `v, ok := <-ch` (or `=`, or a select case's `case v, ok := <-ch:`)
    around a receive, which sees the channel's close; None for a receive without `ok`."""
    around = ancestors(receive, file)
    holder = next(around, None)
    if holder is not None and holder.type == "expression_list":
        holder = next(around, None)
    if holder is None or holder.type not in ("receive_statement", "short_var_declaration", "assignment_statement"):
        return None
    left = holder.child_by_field_name("left")
    return holder if left is not None and len(left.named_children) == 2 else None


def enclosing_loops(node: Node, within: Node | None = None, file: GoFile | None = None) -> list[Node]:
    """The `for` statements around `node`, innermost first, stopping at `within` or at a
    function boundary."""
    loops = []
    for ancestor in ancestors(node, file):
        if ancestor is within or ancestor.type in FUNCTION_TYPES:
            break
        if ancestor.type in LOOP_TYPES:
            loops.append(ancestor)
    return loops


def _in_goroutine_scope(node: Node, body: Node, file: GoFile | None = None) -> bool:
    """Whether `scope_nodes` reaches `node` under `body`: no `go` statement between them
    hides it (only a `go` call's arguments and non-literal callee are the starter's)."""
    for ancestor in ancestors(node, file):
        if ancestor == body:
            return True
        if ancestor.type != "go_statement":
            continue
        call = ancestor.named_children[0] if ancestor.named_children else None
        if call is None or call.type != "call_expression":
            return False
        arguments = call.child_by_field_name("arguments")
        function_node = call.child_by_field_name("function")
        in_arguments = arguments is not None and is_inside(node, arguments)
        in_callee = (
            function_node is not None and function_node.type != "func_literal" and is_inside(node, function_node)
        )
        if not (in_arguments or in_callee):
            return False
    return True


def go_statements(function: Node, file: GoFile | None = None) -> list[Node]:
    """The `go` statements of a function's scope (not those nested in other goroutines);
    given the file, parents come from its index (linear on deep nesting)."""
    body = function.child_by_field_name("body")
    if body is None:
        return []
    # The file's index, else a query (in C: far cheaper than walking the scope in Python).
    found = (
        file.nodes("go_statement", within=body)
        if file is not None
        else captures("(go_statement) @go", body).get("go", [])
    )
    return [statement for statement in found if _in_goroutine_scope(statement, body, file)]


def select_cases(select: Node) -> list[Node]:
    return [c for c in select.named_children if c.type in ("communication_case", "default_case")]


def communication_case(node: Node, file: GoFile | None = None) -> Node | None:
    """The select case whose communication holds `node` (`case v := <-ch:`, `case ch <- v:`):
    there the `select` waits, not the operation alone."""
    for ancestor in ancestors(node, file):
        if ancestor.type == "communication_case":
            communication = ancestor.child_by_field_name("communication")
            return ancestor if communication is not None and is_inside(node, communication) else None
        if ancestor.type in ("statement_list", "block") or ancestor.type in FUNCTION_TYPES:
            return None
    return None


def has_default(select: Node) -> bool:
    return any(case.type == "default_case" for case in select_cases(select))


def is_done_receive(file: GoFile, node: Node) -> bool:
    """`<-ctx.Done()`, `<-done`-style receives of a `.Done()` call."""
    return any(
        child.type == "call_expression" and call_method_name(file, child) == "Done" for child in descendants(node)
    )
