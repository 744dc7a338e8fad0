"""GR120 rows-not-closed: `*sql.Rows` or a `*sql.Stmt` that is never closed.

## What it does
Flags the `*sql.Rows` of a `Query`/`QueryContext` and the `*sql.Stmt` of a database's
`Prepare`/`PrepareContext` that are never closed in the function and are not returned,
stored or handed to another function, and those closed on some paths only (a `return`
after the error check that comes before the `defer rows.Close()`, a `return` from inside
the `for rows.Next()` loop when nothing closes the rows). A `Query` thrown away
(`db.Query("UPDATE ...")`, `_, err := db.Query(...)`) is flagged too: that is what `Exec`
is for.

## Why is this bad?
Open rows hold their connection: it does not go back to the pool, and the driver keeps a
goroutine watching the query's context. Leak a few and every other query of the service
waits for a connection that never comes back. A prepared statement holds a statement on
every connection it was used on until it is closed.

## Example
```go
rows, err := db.QueryContext(ctx, "SELECT id FROM users")
if err != nil {
    return nil, err
}
for rows.Next() {
    var id int
    if err := rows.Scan(&id); err != nil {
        return nil, err // the rows stay open
    }
    ids = append(ids, id)
}
```

## Use instead
```go
rows, err := db.QueryContext(ctx, "SELECT id FROM users")
if err != nil {
    return nil, err
}
defer rows.Close()
for rows.Next() {
    var id int
    if err := rows.Scan(&id); err != nil {
        return nil, err
    }
    ids = append(ids, id)
}
return ids, rows.Err()
```

## Fix safety
When the rows are never closed and the query is followed by `if err != nil { ... return }`
outside any loop, the suggestion adds `defer rows.Close()` after that check. Rows read to
the end by `for rows.Next()` close themselves, so a loop without an early exit is taken as
closing them. A transaction's statements (`tx.Prepare`) close with the transaction and are
not flagged. A `Query` method counts only when its receiver is declared as a `*sql.DB`,
`*sql.Tx`, `*sql.Conn` or `*sql.Stmt`, or the rows are then iterated with `Next`/`Scan`;
a `Prepare` only when the statement is then executed: other packages have methods of
those names.
"""

from __future__ import annotations

from collections.abc import Iterator

from tree_sitter import Node

from ...finding import Severity
from ...gosource import GoFile
from ...rule import Report, Rule
from ...semantics import Package, package_of
from ...semantics.ownership import ROWS_CLOSE, Owned, bound_results
from ._resources import defer_close_fix, describe_leak

QUERIES = frozenset({"Query", "QueryContext"})
PREPARES = frozenset({"Prepare", "PrepareContext"})
# What code does with rows and statements: evidence that a query of unknown type made them.
ROWS_USES = ("Next", "Scan")
STATEMENT_USES = ("Exec", "ExecContext", "Query", "QueryContext", "QueryRow", "QueryRowContext")

REMEDIATION = """\
rows, err := db.QueryContext(ctx, query)
if err != nil {
    return err
}
defer rows.Close()
for rows.Next() {
    // rows.Scan(...)
}
return rows.Err()"""


def _receiver(call: Node) -> Node | None:
    function = call.child_by_field_name("function")
    return (
        function.child_by_field_name("operand")
        if function is not None and function.type == "selector_expression"
        else None
    )


def _method(file: GoFile, call: Node) -> str:
    function = call.child_by_field_name("function")
    field_node = function.child_by_field_name("field") if function is not None else None
    return file.text(field_node) if field_node is not None else ""


def _made(package: Package, file: GoFile, call: Node) -> str | None:
    """'rows' or 'statement' for a query or prepare whose result must be closed: known by
    the receiver's type (`*sql.DB`, `*sql.Conn`, `*sql.Stmt`; a transaction's statements
    close with it), or of unknown type when the result is then used like rows or a
    statement; None otherwise."""
    method = _method(file, call)
    if method not in QUERIES and method not in PREPARES:
        return None
    receiver = _receiver(call)
    receiver_type = package.type_of(file, receiver) if receiver is not None else None
    if method in PREPARES and receiver_type is not None and receiver_type.is_named("database/sql.Tx"):
        return None
    return "rows" if method in QUERIES else "statement"


def _used_as(owned: Owned, methods: tuple[str, ...]) -> bool:
    file = owned.file
    for reference in owned.references():
        selector = reference.parent
        field_node = (
            selector.child_by_field_name("field")
            if selector is not None and selector.type == "selector_expression"
            else None
        )
        if field_node is not None and file.text(field_node) in methods:
            return True
    return False


def check(file: GoFile) -> Iterator[Report]:
    package = package_of(file)
    for call in file.nodes("call_expression"):
        what = _made(package, file, call)
        if what is not None:
            report = _check_call(package, file, call, what)
            if report is not None:
                yield report


def _check_call(package: Package, file: GoFile, call: Node, what: str) -> Report | None:
    called = package.type_of(file, call)
    first = called.result(0) if called is not None and called.kind == "tuple" else called
    certain = first is not None and first.is_named("database/sql.Rows", "database/sql.Stmt")
    if first is not None and not certain:
        return None  # a method of that name on another type
    function = call.child_by_field_name("function")
    shown = file.text(function) if function is not None else "call"
    parent = call.parent
    if certain and what == "rows" and parent is not None and parent.type == "expression_statement":
        return Report(
            call,
            f"The rows of `{shown}(...)` are discarded and never closed: the connection stays busy. Use `Exec` for statements that return no rows.",
            REMEDIATION,
        )
    bound = bound_results(package, file, call)
    if bound is None or not bound.results:
        return None
    result = bound.results[0]
    if result.binding is None:
        if certain and what == "rows" and file.text(result.target) == "_":
            return Report(
                call,
                f"The rows of `{shown}(...)` are assigned to `_` and never closed: the connection stays busy. Use `Exec` for statements that return no rows.",
                REMEDIATION,
            )
        return None
    if not result.binding.is_local:
        return None
    drained = ROWS_CLOSE.drained_by if what == "rows" else ""
    owned = Owned(package, result.binding, bound.statement, ROWS_CLOSE.methods, error=bound.error(), drained_by=drained)
    if not certain and not _used_as(owned, ROWS_USES if what == "rows" else STATEMENT_USES):
        return None
    leaks = owned.leaks()
    if not leaks:
        return None
    name = result.binding.name
    if owned.ever_released_or_moved():
        return Report(
            call,
            f"`{name}` from `{shown}(...)` is closed on some paths only: {describe_leak(file, leaks[0])} leaves the "
            f"{what} open and its connection busy. `defer {name}.Close()` right after the error check.",
            REMEDIATION,
            names={"rows": name},
        )
    error = bound.error()
    return Report(
        call,
        f"`{name}` from `{shown}(...)` is never closed: the {what} keeps its connection (and the driver's goroutine) "
        f"busy. `defer {name}.Close()` after the error check.",
        REMEDIATION,
        fix=defer_close_fix(file, name, error.name if error is not None else None, bound.statement),
        names={"rows": name},
    )


RULE = Rule(
    id="GR120",
    name="rows-not-closed",
    severity=Severity.WARNING,
    doc=__doc__,
    check=check,
    imports=("database/sql",),
)
