"""Unit tests for the class-local helpers of the context rules (GR2xx),
`reviewers/rules/context/_helpers.py`."""

from __future__ import annotations

from reviewers.gosource import GoFile, captures
from reviewers.rules.context._helpers import (
    HandlerContexts,
)


def parse(source: str, path: str = "x.go") -> GoFile:
    return GoFile(path, source.encode())


def nodes(file: GoFile, pattern: str, name: str = "n"):
    return captures(pattern, file.root).get(name, [])


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
