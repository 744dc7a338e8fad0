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

import re
from collections.abc import Iterator

from tree_sitter import Node

from ...finding import Severity
from ...gosource import GoFile
from ...rule import Report, Rule
from ...syntax import call_method_name, calls_in, enclosing_function
from ._resources import Resource, assigned_names, declared_as, defer_close_fix, describe_leak, lifetime
from ._types import type_index

QUERIES = frozenset({"Query", "QueryContext"})
PREPARES = frozenset({"Prepare", "PrepareContext"})
SQL_HANDLES = frozenset({"database/sql.DB", "database/sql.Tx", "database/sql.Conn", "database/sql.Stmt"})
TRANSACTION = re.compile(r"(^|\.)(tx|txn|trans|transaction)$|Tx$", re.IGNORECASE)

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


def _is_transaction(file: GoFile, receiver: Node) -> bool:
    """`tx`, a `*sql.Tx`, or a variable assigned from `Begin`/`BeginTx`."""
    index = type_index(file)
    if declared_as(file, index.declared_type(receiver), {"database/sql.Tx"}) or TRANSACTION.search(file.text(receiver)):
        return True
    declared = index.declaration(receiver) if receiver.type == "identifier" else None
    value = declared[1] if declared else None
    return (
        value is not None and value.type == "call_expression" and call_method_name(file, value) in ("Begin", "BeginTx")
    )


def _used_as(file: GoFile, function: Node, name: str, after: int, methods: tuple[str, ...]) -> bool:
    text = file.text(function)[after - function.start_byte :]
    return any(f"{name}.{method}(" in text for method in methods)


def check(file: GoFile) -> Iterator[Report]:
    for call in calls_in(file, file.root):
        name = call_method_name(file, call)
        receiver = _receiver(call)
        if receiver is None or (name not in QUERIES and name not in PREPARES):
            continue
        report = _check_call(file, call, receiver, name in QUERIES)
        if report is not None:
            yield report


def _check_call(file: GoFile, call: Node, receiver: Node, query: bool) -> Report | None:
    if not query and _is_transaction(file, receiver):
        return None
    certain = declared_as(file, type_index(file).declared_type(receiver), SQL_HANDLES)
    what = "rows" if query else "statement"
    shown = file.text(call.child_by_field_name("function"))
    parent = call.parent
    if parent is not None and parent.type == "expression_statement" and certain and query:
        return Report(
            call,
            f"The rows of `{shown}(...)` are discarded and never closed: the connection stays busy. Use `Exec` for statements that return no rows.",
            REMEDIATION,
        )
    assigned = assigned_names(file, call)
    if assigned is None:
        return None
    statement, names = assigned
    if not names or names[0].type != "identifier":
        return None
    name = file.text(names[0])
    if name == "_":
        if certain and query:
            return Report(
                call,
                f"The rows of `{shown}(...)` are assigned to `_` and never closed: the connection stays busy. Use `Exec` for statements that return no rows.",
                REMEDIATION,
            )
        return None
    function = enclosing_function(statement)
    if function is None:
        return None
    uses = (
        ("Next", "Scan") if query else ("Exec", "ExecContext", "Query", "QueryContext", "QueryRow", "QueryRowContext")
    )
    if not certain and not _used_as(file, function, name, statement.end_byte, uses):
        return None
    error = file.text(names[1]) if len(names) > 1 and names[1].type == "identifier" else None
    resource = Resource(name, error, drained_by="Next" if query else None)
    life = lifetime(file, resource, statement)
    if not life.leaks:
        return None
    if life.released_somewhere:
        return Report(
            call,
            f"`{name}` from `{shown}(...)` is closed on some paths only: {describe_leak(file, life.leaks[0])} leaves the "
            f"{what} open and its connection busy. `defer {name}.Close()` right after the error check.",
            REMEDIATION,
        )
    return Report(
        call,
        f"`{name}` from `{shown}(...)` is never closed: the {what} keeps its connection (and the driver's goroutine) "
        f"busy. `defer {name}.Close()` after the error check.",
        REMEDIATION,
        fix=defer_close_fix(file, resource, statement),
    )


RULE = Rule(
    id="GR120",
    name="rows-not-closed",
    severity=Severity.WARNING,
    doc=__doc__,
    check=check,
    imports=("database/sql",),
)
