"""GR307 pool-misuse: a `sync.Pool` object used after `Put`, or a buffer put back never reset.

## What it does
Two mistakes with `sync.Pool`:
- a variable handed to `pool.Put(x)` is used again later in the same block, before being
  assigned anew — reported on the statement that uses it;
- a buffer-like object (`bytes.Buffer`, `strings.Builder`, `bufio.Reader`/`Writer`, a
  gzip or flate stream, or a type of the package with a `Reset` method) is put back while
  it is reset neither after `Get` (in the function that takes it from the pool) nor before
  `Put` (in the function that returns it) — reported on the `Put`.

## Why is this bad?
After `Put`, the pool owns the object: another goroutine can `Get` it at once and write
into it while this one still reads — a data race that mixes two requests' data. An object
put back with its old content is handed out as is: the next user appends to the previous
request's bytes or reads its leftovers (the article's "Pool object reused without being
cleared").

## Example
```go
buf := bufPool.Get().(*bytes.Buffer)
buf.WriteString(payload)
bufPool.Put(buf)
w.Write(buf.Bytes()) // buf may already be someone else's
```

## Use instead
```go
buf := bufPool.Get().(*bytes.Buffer)
buf.Reset()
buf.WriteString(payload)
w.Write(buf.Bytes())
bufPool.Put(buf) // last
```

## Fix safety
No suggestion. A pool is recognised by its declared type (`sync.Pool`, `*sync.Pool`, a
field of one); the pooled type by the pool's `New` function, the type assertions on its
`Get`, or the declared type of what is put. When an object taken from the pool leaves the
function that took it (returned by a `getBuffer()` helper), whoever receives it may reset
it, so no `Reset` finding is made. `defer pool.Put(x)` runs last and is never a use after
`Put`.
"""

from __future__ import annotations

from collections.abc import Iterator

from tree_sitter import Node

from ...finding import Severity
from ...gosource import GoFile, captures
from ...rule import Report, Rule
from ...syntax import FUNCTION_TYPES, ancestors, call_method_name, descendants, qualified_name, receiver_type, unparen
from ._helpers import arguments_of, bindings, field_types, type_name

BUFFER_TYPES = frozenset(
    {
        "bytes.Buffer",
        "strings.Builder",
        "bufio.Reader",
        "bufio.Writer",
        "compress/gzip.Reader",
        "compress/gzip.Writer",
        "compress/flate.Writer",
        "compress/zlib.Writer",
    }
)
RESETS = ("Reset", "Truncate")

REMEDIATION = """\
buf := bufPool.Get().(*bytes.Buffer)
buf.Reset() // no leftovers from the previous user
// ... use buf ...
bufPool.Put(buf) // last: after Put, buf belongs to the pool"""


# -- pools and what they hold ----------------------------------------------------------------------
def _is_pool_type(file: GoFile, type_node: Node | None) -> bool:
    if type_node is None:
        return False
    if type_node.type == "pointer_type":
        type_node = type_node.named_children[0]
    return type_node.type == "qualified_type" and qualified_name(file, type_node) == "sync.Pool"


def _pool_literal(file: GoFile, value: Node | None) -> Node | None:
    """The `sync.Pool{...}` of `sync.Pool{...}` or `&sync.Pool{...}`."""
    if value is None:
        return None
    value = unparen(value)
    if value.type == "unary_expression":
        value = unparen(value.child_by_field_name("operand"))
    if value.type == "composite_literal" and _is_pool_type(file, value.child_by_field_name("type")):
        return value
    return None


def pool_key(file: GoFile, receiver: Node) -> str | None:
    """A name for the pool a `Get`/`Put` receiver is, or None when it is not visibly one:
    a variable declared as (or with) a sync.Pool, or a field the package declares so."""
    receiver = unparen(receiver)
    if receiver.type == "identifier":
        found = bindings(file, receiver)
        if found and all(_is_pool_type(file, b.type_node) or _pool_literal(file, b.value) is not None for b in found):
            return file.text(receiver)
    if receiver.type == "selector_expression" and qualified_name(file, receiver) is None:
        field = file.text(receiver.child_by_field_name("field"))
        types = field_types(file, field)
        if types and all(t.lstrip("*") == "sync.Pool" for t in types):
            return field
    return None


def _pool_calls(file: GoFile, method: str) -> list[tuple[Node, str]]:
    found = []
    name = method.encode()
    for call in file.nodes("call_expression"):
        if file.source.find(name, call.start_byte, call.end_byte) < 0:
            continue  # the method's name is in the call's text: spares reading most calls
        function = call.child_by_field_name("function")
        if function is None or function.type != "selector_expression" or call_method_name(file, call) != method:
            continue
        key = pool_key(file, function.child_by_field_name("operand"))
        if key is not None:
            found.append((call, key))
    return found


def _spelled(file: GoFile, type_node: Node | None) -> str | None:
    """`bytes.Buffer` for `*bytes.Buffer`, `T` for a local `*T`."""
    if type_node is None:
        return None
    if type_node.type == "pointer_type":
        type_node = type_node.named_children[0]
    return type_name(file, type_node)


def _made_type(file: GoFile, value: Node) -> str | None:
    """The type `new(T)`, `&T{}` or `T{}` makes."""
    value = unparen(value)
    if value.type == "call_expression" and file.text(value.child_by_field_name("function")) == "new":
        arguments = value.child_by_field_name("arguments")
        return (
            _spelled(file, arguments.named_children[0]) if arguments is not None and arguments.named_children else None
        )
    if value.type == "unary_expression":
        value = unparen(value.child_by_field_name("operand"))
    if value.type == "composite_literal":
        return _spelled(file, value.child_by_field_name("type"))
    return None


def _owner_names(file: GoFile, owner: Node) -> list[str]:
    """The names a declaration, assignment or keyed field gives its value: `p` in `var p =`,
    `pool` in `s.pool =` or `{pool: ...}`."""
    if owner.type == "var_spec":
        return [file.text(n) for n in owner.children_by_field_name("name")]
    if owner.type == "keyed_element":
        return [file.text(owner.named_children[0])]
    left = owner.child_by_field_name("left")
    targets = left.named_children if left is not None else []
    return [file.text(t.child_by_field_name("field") if t.type == "selector_expression" else t) for t in targets]


def _pooled_types(file: GoFile, key: str) -> set[str]:
    """What a pool holds, from its New function and the type assertions on its Get."""
    types: set[str] = set()
    for other in file.package_files:
        for literal in other.nodes("composite_literal"):
            if _pool_literal(other, literal) is None:
                continue
            owner = next(
                (
                    a
                    for a in ancestors(literal)
                    if a.type in ("var_spec", "short_var_declaration", "keyed_element", "assignment_statement")
                ),
                None,
            )
            if owner is None or key not in _owner_names(other, owner):
                continue
            for returned in captures("(return_statement (expression_list (_) @value))", literal).get("value", []):
                made = _made_type(other, returned)
                if made:
                    types.add(made)
        for call, found in _pool_calls(other, "Get"):
            parent = call.parent
            if found == key and parent is not None and parent.type == "type_assertion_expression":
                spelled = _spelled(other, parent.child_by_field_name("type"))
                if spelled:
                    types.add(spelled)
    return types


def _reset_types(file: GoFile) -> set[str]:
    """Types of the package with a `Reset` method."""
    found = set()
    for other in file.package_files:
        for method in other.nodes("method_declaration"):
            if other.text(method.child_by_field_name("name")) == "Reset":
                found.add(receiver_type(other, method))
    return found


# -- use after Put ---------------------------------------------------------------------------------
def _put_variable(file: GoFile, argument: Node) -> Node | None:
    """`x` for `Put(x)`, `Put(&x)`, `Put(x[:0])`."""
    argument = unparen(argument)
    if argument.type == "unary_expression" and file.text(argument).startswith("&"):
        argument = unparen(argument.child_by_field_name("operand"))
    if argument.type == "slice_expression":
        argument = unparen(argument.child_by_field_name("operand"))
    return argument if argument.type == "identifier" else None


def _assigned_in(file: GoFile, statement: Node, name: str) -> bool:
    """`x = ...` / `x := ...` replaces the variable as a whole."""
    if statement.type not in ("assignment_statement", "short_var_declaration"):
        return False
    if statement.type == "assignment_statement" and file.text(statement.child_by_field_name("operator")) != "=":
        return False
    left = statement.child_by_field_name("left")
    return any(t.type == "identifier" and file.text(t) == name for t in left.named_children)


def _use_after(file: GoFile, put_statement: Node, name: str) -> Node | None:
    """The first statement after the Put, in its block, that reads `name` before any
    assignment replaces it."""
    statement = put_statement.next_named_sibling
    while statement is not None:
        right = statement.child_by_field_name("right") if _assigned_in(file, statement, name) else statement
        uses = [n for n in [right, *descendants(right)] if n.type == "identifier" and file.text(n) == name]
        if uses:
            return statement
        if right is not statement:
            return None
        if any(_assigned_in(file, n, name) for n in descendants(statement)):
            return None
        statement = statement.next_named_sibling
    return None


# -- Put without Reset -------------------------------------------------------------------------------
def _resets(file: GoFile, scope: Node, name: str, before: Node | None = None) -> bool:
    for call in file.nodes("call_expression", within=scope):
        function = call.child_by_field_name("function")
        if before is not None and call.start_byte > before.start_byte:
            continue
        if (
            function is not None
            and function.type == "selector_expression"
            and call_method_name(file, call) in RESETS
            and file.text(function.child_by_field_name("operand")) == name
        ):
            return True
    return False


def _reset_after_get(file: GoFile, key: str) -> bool:
    """Some Get of the pool is reset in its function, or leaves it (returned, handed on):
    for an object put back by a function that did not take it, that is all one can tell."""
    for other in file.package_files:
        for call, found in _pool_calls(other, "Get"):
            if found != key:
                continue
            node = call.parent if call.parent is not None and call.parent.type == "type_assertion_expression" else call
            statement = (
                node.parent.parent if node.parent is not None and node.parent.type == "expression_list" else None
            )
            if statement is None or statement.type not in ("short_var_declaration", "assignment_statement", "var_spec"):
                return True  # returned or handed on: the receiver may reset it
            left = statement.child_by_field_name("left")
            names = left.named_children if left is not None else statement.children_by_field_name("name")
            function = next((a for a in ancestors(call) if a.type in FUNCTION_TYPES), None)
            if function is None or not names:
                return True
            name = other.text(names[0])
            if _resets(other, function, name) or _returned(other, function, name):
                return True
    return False


def _got_here(file: GoFile, function: Node, name: str, key: str) -> bool:
    """`name` was taken from the pool in this very function: only a Reset here counts."""
    for call, found in _pool_calls(file, "Get"):
        if found != key or next((a for a in ancestors(call) if a.type in FUNCTION_TYPES), None) != function:
            continue
        node = call.parent if call.parent is not None and call.parent.type == "type_assertion_expression" else call
        statement = node.parent.parent if node.parent is not None and node.parent.type == "expression_list" else None
        left = statement.child_by_field_name("left") if statement is not None else None
        if left is not None and left.named_children and file.text(left.named_children[0]) == name:
            return True
    return False


def _returned(file: GoFile, function: Node, name: str) -> bool:
    return any(
        file.text(n) == name
        for r in captures("(return_statement) @r", function).get("r", [])
        for n in descendants(r)
        if n.type == "identifier"
    )


def _put_type(file: GoFile, variable: Node, key: str) -> str | None:
    declared = {_spelled(file, b.type_node) for b in bindings(file, variable) if b.type_node is not None}
    pooled = _pooled_types(file, key) | {d for d in declared if d}
    return pooled.pop() if len(pooled) == 1 else None


def check(file: GoFile) -> Iterator[Report]:
    reset_types = None
    for call, key in _pool_calls(file, "Put"):
        arguments = arguments_of(call)
        variable = _put_variable(file, arguments[0]) if len(arguments) == 1 else None
        if variable is None:
            continue
        name = file.text(variable)
        statement = call.parent
        if statement is not None and statement.type == "expression_statement":
            use = _use_after(file, statement, name)
            if use is not None:
                yield Report(
                    node=use,
                    message=(
                        f"`{name}` is used after `{file.text(call)}`: the pool may already have handed it to another "
                        f"goroutine. Finish with `{name}` first and put it back last."
                    ),
                    remediation=REMEDIATION,
                )
                continue
        pooled = _put_type(file, variable, key)
        if reset_types is None:
            reset_types = _reset_types(file)
        if pooled is None or (pooled not in BUFFER_TYPES and pooled not in reset_types):
            continue
        function = next((a for a in ancestors(call) if a.type in FUNCTION_TYPES), None)
        if function is None:
            continue
        got_here = _got_here(file, function, name, key)  # then a Reset anywhere after Get counts
        if _resets(file, function, name, before=None if got_here else call):
            continue
        if not got_here and _reset_after_get(file, key):
            continue
        yield Report(
            node=call,
            message=(
                f"`{name}` ({pooled}) goes back to the pool without `{name}.Reset()`, and no `Get` of it resets it: "
                "the next user gets this one's leftovers. Reset before Put (or right after Get)."
            ),
            remediation=REMEDIATION,
        )


RULE = Rule(
    id="GR307",
    name="pool-misuse",
    severity=Severity.WARNING,
    doc=__doc__,
    check=check,
    imports=("sync",),
)
