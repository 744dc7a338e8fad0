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
No suggestion. A pool is recognised by its type (`sync.Pool`, `*sync.Pool`, a field of
one); the pooled type by what the pool's `New` function returns, the type assertions on its
`Get`, or the type of what is put. When an object taken from the pool leaves the
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
from ...semantics import Binding, Package, package_of
from ...syntax import ancestors, call_method_name, expression_items, is_inside, unparen
from ._helpers import arguments_of

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
def _is_pool(package: Package, file: GoFile, node: Node | None) -> bool:
    """A sync.Pool or a pointer to one, as far as the model knows."""
    found = package.type_of(file, node) if node is not None else None
    return found is not None and found.is_named("sync.Pool")


def _pool_literal(package: Package, file: GoFile, value: Node | None) -> Node | None:
    """The `sync.Pool{...}` of `sync.Pool{...}` or `&sync.Pool{...}`."""
    value = unparen(value) if value is not None else None
    if value is not None and value.type == "unary_expression":
        operand = value.child_by_field_name("operand")
        value = unparen(operand) if operand is not None else None
    if value is not None and value.type == "composite_literal" and _is_pool(package, file, value):
        return value
    return None


def pool_key(package: Package, file: GoFile, receiver: Node) -> str | None:
    """A name for the pool a `Get`/`Put` receiver is, or None when it is not visibly one:
    a variable or a field of type sync.Pool (or a pointer to one)."""
    receiver = unparen(receiver)
    if receiver.type == "identifier" and _is_pool(package, file, receiver):
        return file.text(receiver)
    field = receiver.child_by_field_name("field") if receiver.type == "selector_expression" else None
    if field is not None and _is_pool(package, file, receiver):
        return file.text(field)
    return None


def _pool_calls(package: Package, file: GoFile, method: str) -> list[tuple[Node, str]]:
    """The file's calls of `method` (`Get`, `Put`) on a pool, with the pool's key."""

    def build() -> list[tuple[Node, str]]:
        found = []
        name = method.encode()
        for call in file.nodes("call_expression"):
            if file.source.find(name, call.start_byte, call.end_byte) < 0:
                continue  # the method's name is in the call's text: spares reading most calls
            function = call.child_by_field_name("function")
            selector = function if function is not None and function.type == "selector_expression" else None
            operand = selector.child_by_field_name("operand") if selector is not None else None
            key = (
                pool_key(package, file, operand)
                if operand is not None and call_method_name(file, call) == method
                else None
            )
            if key is not None:
                found.append((call, key))
        return found

    return file.cached(f"unsafe.pool_calls:{method}", build)


def _type_name(package: Package, file: GoFile, node: Node) -> str | None:
    """`bytes.Buffer` for an expression of type `*bytes.Buffer`, `T` for a `*T` of the
    package, as far as the model knows."""
    found = package.type_of(file, node)
    return str(found.deref()) if found is not None else None


def _owner_names(file: GoFile, owner: Node) -> list[str]:
    """The names a declaration, assignment or keyed field gives its value: `p` in `var p =`,
    `pool` in `s.pool =` or `{pool: ...}`."""
    if owner.type == "var_spec":
        return [file.text(n) for n in owner.children_by_field_name("name")]
    if owner.type == "keyed_element":
        return [file.text(owner.named_children[0])]
    targets = expression_items(owner.child_by_field_name("left"))
    fields = [t.child_by_field_name("field") if t.type == "selector_expression" else t for t in targets]
    return [file.text(f) for f in fields if f is not None]


def _pool_literals(package: Package, file: GoFile) -> list[tuple[Node, list[str]]]:
    """The file's `sync.Pool{...}` literals, with the names they are given."""

    def build() -> list[tuple[Node, list[str]]]:
        found = []
        for literal in file.nodes("composite_literal"):
            type_node = literal.child_by_field_name("type")
            if type_node is None or b"Pool" not in file.source[type_node.start_byte : type_node.end_byte]:
                continue  # spares typing most literals
            owner = next(
                (
                    a
                    for a in ancestors(literal)
                    if a.type in ("var_spec", "short_var_declaration", "keyed_element", "assignment_statement")
                ),
                None,
            )
            if owner is not None and _pool_literal(package, file, literal) is not None:
                found.append((literal, _owner_names(file, owner)))
        return found

    return file.cached("unsafe.pool_literals", build)


def _pooled_types(package: Package, key: str) -> set[str]:
    """What a pool holds, from what its New function returns and the type assertions on its
    Get."""
    types: set[str] = set()
    for other in package.files:
        for literal, names in _pool_literals(package, other):
            if key not in names:
                continue
            for returned in captures("(return_statement (expression_list (_) @value))", literal).get("value", []):
                made = _type_name(package, other, returned)
                if made:
                    types.add(made)
        for call, found in _pool_calls(package, other, "Get"):
            parent = call.parent
            if found == key and parent is not None and parent.type == "type_assertion_expression":
                asserted = _type_name(package, other, parent)
                if asserted:
                    types.add(asserted)
    return types


# -- use after Put ---------------------------------------------------------------------------------
def _put_variable(file: GoFile, argument: Node) -> Node | None:
    """`x` for `Put(x)`, `Put(&x)`, `Put(x[:0])`."""
    argument = unparen(argument)
    for kind in ("unary_expression", "slice_expression"):
        operand = argument.child_by_field_name("operand") if argument.type == kind else None
        if operand is not None and (kind != "unary_expression" or file.text(argument).startswith("&")):
            argument = unparen(operand)
    return argument if argument.type == "identifier" else None


def _replaced_at(file: GoFile, identifier: Node) -> Node | None:
    """The statement that gives the variable a whole new value (`x = ...`, `x, err := ...`)
    at this identifier, if it is one."""
    left = identifier.parent
    statement = left.parent if left is not None and left.type == "expression_list" else None
    if statement is None or statement.type not in ("assignment_statement", "short_var_declaration"):
        return None
    if statement.child_by_field_name("left") != left:
        return None
    operator = statement.child_by_field_name("operator")
    if statement.type == "assignment_statement" and (operator is None or file.text(operator) != "="):
        return None
    return statement


def _use_after(package: Package, file: GoFile, put_statement: Node, variable: Binding) -> Node | None:
    """The first statement after the Put, in its block, that reads the variable before any
    assignment replaces it."""
    later = [r for r in package.references(variable) if r.start_byte >= put_statement.end_byte]
    statement = put_statement.next_named_sibling
    while statement is not None:
        inside = [r for r in later if is_inside(r, statement)]
        replacing = [r for r in inside if _replaced_at(file, r) is not None]
        if any(_replaced_at(file, r) == statement for r in replacing):
            right = statement.child_by_field_name("right")
            read = right is not None and any(is_inside(r, right) for r in inside)
            return statement if read else None  # `x = f(x)` reads it; `x = nil` drops it
        if any(not package.is_write(file, r) for r in inside):
            return statement
        if replacing:
            return None
        statement = statement.next_named_sibling
    return None


# -- Put without Reset -------------------------------------------------------------------------------
def _resets(package: Package, file: GoFile, variable: Binding, before: Node | None = None) -> bool:
    """`x.Reset()` (or `Truncate`) in the variable's function, before `before` if given."""
    for reference in package.references(variable):
        selector = reference.parent
        call = selector.parent if selector is not None and selector.type == "selector_expression" else None
        if call is None or call.type != "call_expression" or call_method_name(file, call) not in RESETS:
            continue
        if before is None or call.start_byte <= before.start_byte:
            return True
    return False


def _returned(package: Package, variable: Binding) -> bool:
    return any(
        any(a.type == "return_statement" for a in ancestors(reference)) for reference in package.references(variable)
    )


def _got(package: Package, file: GoFile, get: Node) -> Binding | None:
    """The variable a Get's result is given to: `b` in `b := pool.Get().(*T)`."""
    return _assigned_from(package, file, get)


def _assigned_from(package: Package, file: GoFile, value: Node) -> Binding | None:
    """The variable `value` (or its type assertion, `value.(*T)`) is given to."""
    node = value.parent if value.parent is not None and value.parent.type == "type_assertion_expression" else value
    statement = node.parent.parent if node.parent is not None and node.parent.type == "expression_list" else None
    if statement is None or statement.type not in ("short_var_declaration", "assignment_statement", "var_spec"):
        return None
    names = expression_items(statement.child_by_field_name("left")) or statement.children_by_field_name("name")
    return package.binding(file, names[0]) if names and names[0].type == "identifier" else None


def _reset_after_get(package: Package, key: str) -> bool:
    """Some Get of the pool is reset in its function, or leaves it (returned, handed on):
    for an object put back by a function that did not take it, that is all one can tell."""
    for other in package.files:
        for call, found in _pool_calls(package, other, "Get"):
            if found != key:
                continue
            variable = _got(package, other, call)
            if variable is None or not variable.is_local:
                return True  # returned or handed on: the receiver may reset it
            # `if v := pool.Get(); v != nil { e := v.(*Event); e.Reset() }`: the asserted copy
            asserted = [_assigned_from(package, other, r) for r in package.references(variable)]
            for held in (variable, *filter(None, asserted)):
                if _resets(package, other, held) or _returned(package, held):
                    return True
    return False


def _got_here(package: Package, file: GoFile, variable: Binding, key: str) -> bool:
    """The variable was taken from the pool in its own function: only a Reset there counts."""
    return any(
        found == key and _got(package, file, call) is variable for call, found in _pool_calls(package, file, "Get")
    )


def _put_type(package: Package, file: GoFile, variable: Node, key: str) -> str | None:
    declared = _type_name(package, file, variable)
    pooled = _pooled_types(package, key) | ({declared} if declared else set())
    return pooled.pop() if len(pooled) == 1 else None


def check(file: GoFile) -> Iterator[Report]:
    package = package_of(file)
    reset_types = {owner for owner, method in package.methods if method == "Reset"}
    for call, key in _pool_calls(package, file, "Put"):
        arguments = arguments_of(call)
        variable = _put_variable(file, arguments[0]) if len(arguments) == 1 else None
        binding = package.binding(file, variable) if variable is not None else None
        if variable is None or binding is None or not binding.is_local:
            continue
        name = file.text(variable)
        statement = call.parent
        if statement is not None and statement.type == "expression_statement":
            use = _use_after(package, file, statement, binding)
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
        pooled = _put_type(package, file, variable, key)
        if pooled is None or (pooled not in BUFFER_TYPES and pooled not in reset_types):
            continue
        got_here = _got_here(package, file, binding, key)  # then a Reset anywhere after Get counts
        if _resets(package, file, binding, before=None if got_here else call):
            continue
        if not got_here and _reset_after_get(package, key):
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
