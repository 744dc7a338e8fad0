"""Unit tests for the helpers the context rules (GR2xx) added: `has_declared_type` in
`reviewers/syntax.py`, and the class-local ones in `reviewers/rules/context/_helpers.py`."""

from __future__ import annotations

from reviewers.gosource import GoFile, captures
from reviewers.rules.context._helpers import (
    HandlerContexts,
)
from reviewers.syntax import has_declared_type

SQL = frozenset({"database/sql.DB", "database/sql.Tx"})


def parse(source: str, path: str = "x.go") -> GoFile:
    return GoFile(path, source.encode())


def nodes(file: GoFile, pattern: str, name: str = "n"):
    return captures(pattern, file.root).get(name, [])


def test_has_declared_type_parameters_locals_package_vars_and_fields():
    file = parse(
        """package p
import dbsql "database/sql"
var pool *dbsql.DB
type store struct{ db *dbsql.DB; name string }
func f(tx *dbsql.Tx, s *store, other *store) {
    db, _ := dbsql.Open("x", "y")
    var local *dbsql.DB
    tx.Exec(); s.db.Exec(); pool.Exec(); db.Exec(); local.Exec(); s.name.Exec(); other.Exec()
}
"""
    )
    receivers = [
        c.child_by_field_name("function").child_by_field_name("operand") for c in nodes(file, "(call_expression) @n")
    ]
    found = {file.text(r): has_declared_type(file, r, SQL, frozenset({"database/sql.Open"})) for r in receivers}
    assert found == {
        "tx": True,
        "s.db": True,
        "pool": True,
        "db": True,
        "local": True,
        "s.name": False,
        "other": False,
        "dbsql": False,
    }


def test_has_declared_type_parameter_shadows_package_variable():
    file = parse(
        """package p
import "database/sql"
var db *sql.DB
func f(db string) { db.Exec() }
"""
    )
    call = nodes(file, "(call_expression) @n")[0]
    operand = call.child_by_field_name("function").child_by_field_name("operand")
    assert not has_declared_type(file, operand, SQL)


def test_handler_goroutine_classification():
    file = parse(
        """package p
import ("context"; "net/http")
func h(w http.ResponseWriter, r *http.Request) {
    ctx, cancel := context.WithTimeout(r.Context(), 1)
    detached := context.WithoutCancel(r.Context())
    bg := context.Background()
    go work(ctx)
    go work(detached)
    go work(bg)
    go work(context.WithTimeout(context.WithoutCancel(r.Context()), 1))
    go func(ctx context.Context) { work(ctx) }(bg)
    go func() { cancel() }()
    go other()
}
"""
    )
    function = nodes(file, "(function_declaration) @n")[0]
    handler = HandlerContexts(file, function)
    kinds = [handler.of_goroutine(g).kind for g in nodes(file, "(go_statement) @n")]
    assert kinds == ["request", "detached", "fresh", "detached", "fresh", "unknown", "none"]
