"""GR112 unbounded-goroutines: a goroutine per item of a loop, with no bound, where a request or context is in play.

## What it does
Flags a `go` statement in the body of a loop over items (`for _, item := range items`, or
`for i := 0; i < len(items); i++`: one goroutine per item) in an HTTP
handler or a function with a context in scope, when nothing bounds how many run at once:
no semaphore (a channel send or receive, or an `Acquire`, in the loop before the `go`),
no `errgroup` `SetLimit`, no worker pool.

## Why is this bad?
The number of goroutines follows the input: a request with ten thousand ids starts ten
thousand goroutines, each with its own connection to the database or the downstream
service. Under load that exhausts connection pools, file descriptors and memory, and the
downstream sees a burst it never agreed to. It is information, not a bug by itself: small
inputs are fine.

## Example
```go
func handler(w http.ResponseWriter, r *http.Request) {
    for _, id := range ids {
        go load(r.Context(), id)
    }
}
```

## Use instead
```go
g, ctx := errgroup.WithContext(r.Context())
g.SetLimit(8) // at most 8 at a time
for _, id := range ids {
    g.Go(func() error { return load(ctx, id) })
}
err := g.Wait()
```

## Fix safety
No suggestion. A `range` over an integer (`for range 8`, `for range workers`,
`runtime.NumCPU()`) is a pool, not a goroutine per item, and is not flagged; nor is a
`range` over a field of the receiver or a package variable (`s.listeners`), or over a copy
of one taken to start the goroutines outside its lock (`maps.Clone(s.peers)`, or a local
made empty and filled only by `maps.Copy(snap, s.peers)`, `copy` or an `append` for each
of its items): one long-lived goroutine per configured resource is bounded by the
configuration, not by the input; nor a `range` over items written in the code
(`[]string{"tcp", "udp"}`). A copy that also takes the caller's items, or is handed to a
call that may add to it, is the input's and is flagged.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from tree_sitter import Node

from ...finding import Severity
from ...gosource import GoFile
from ...rule import Report, Rule
from ...semantics import package_of
from ...semantics.contexts import cancellable_contexts, preferred
from ...syntax import (
    call_method_name,
    calls_in,
    descendants,
    enclosing_function,
    enclosing_handler,
    enclosing_loops,
    field_of,
    first_argument,
    unparen,
)

COUNTS = re.compile(r"(?i)(worker|num|count|size|limit|concurren|parallel|procs|cpu|^n$|^\d+$)")

REMEDIATION = """\
g, ctx := errgroup.WithContext(ctx)
g.SetLimit(8) // at most 8 at a time
for _, item := range items {
    g.Go(func() error { return process(ctx, item) })
}
return g.Wait()"""


def _items_of(file: GoFile, loop: Node) -> Node | None:
    """What the loop goes through one item at a time: the operand of its `range`, or `items`
    in `for i := 0; i < len(items); i++` (the same loop, written the older way)."""
    clause = next((c for c in loop.named_children if c.type in ("range_clause", "for_clause")), None)
    if clause is None:
        return None
    if clause.type == "range_clause":
        return clause.child_by_field_name("right")
    condition = clause.child_by_field_name("condition")
    if condition is None or unparen(condition).type != "binary_expression":
        return None
    condition = unparen(condition)
    if file.text(field_of(condition, "operator")) not in ("<", "<="):
        return None
    bound = unparen(field_of(condition, "right"))
    if bound.type != "call_expression" or file.text(field_of(bound, "function")) != "len":
        return None
    return first_argument(bound)


def _per_item(file: GoFile, loop: Node) -> bool:
    """A loop over items (a slice, a map, a channel); a range over an integer counts, and
    so does a range over something named like a count when the package cannot tell."""
    ranged = _items_of(file, loop)
    if ranged is None or _configured(file, ranged):
        return False
    ranged_type = package_of(file).type_of(file, ranged)
    if ranged_type is not None:
        return ranged_type.deref().kind in ("slice", "array", "map", "chan")
    return not COUNTS.search(file.text(ranged).rsplit(".", 1)[-1].split("(")[0])


def _configured(file: GoFile, ranged: Node, depth: int = 0) -> bool:
    """A field of the receiver or a package variable (`s.listeners`, `backends`), a local
    snapshot of one taken without arguments (`snap := s.blocks.Load()`; `snap.walBlocks`)
    or copied out of it (`maps.Clone(s.peers)`, `maps.Copy(snap, s.peers)`, an `append` a
    pass of `range s.peers`: see `Values.copied_from`), or items written in the code
    (`[]string{"tcp", "udp"}`, or a variable given only that): the program's configuration
    or its text, not the request's input, sets how many there are."""
    package = package_of(file)
    if ranged.type == "composite_literal":
        return True
    if depth > 3:
        return False
    copied = package.values.copied_from(file, ranged)
    if copied is not None:  # a copy holds as many as what it was copied from
        return all(_configured(stored.file, unparen(stored.value), depth + 1) for stored in copied)
    root = ranged
    while root.type in ("selector_expression", "index_expression", "call_expression"):
        if root.type == "call_expression" and first_argument(root) is not None:
            return False  # `s.parse(r)`: what it is given may decide how many
        root = unparen(field_of(root, "function" if root.type == "call_expression" else "operand"))
    binding = package.binding(file, root) if root.type == "identifier" else None
    if binding is None:
        return False
    if binding.kind == "variable" and binding.is_local and binding.value is not None and depth < 2:
        if binding.value.type == "composite_literal":  # its items, unless something appends or replaces them
            return len(package.assignments(binding)) == 1
        return binding.value.type != "identifier" and _configured(binding.file, binding.value, depth + 1)
    return (binding.kind == "receiver" and root is not ranged) or (binding.kind == "variable" and not binding.is_local)


def _bounded(file: GoFile, function: Node, loop: Node, go: Node) -> bool:
    if any(call_method_name(file, c) == "SetLimit" for c in calls_in(file, function)):
        return True
    body = loop.child_by_field_name("body")
    for node in descendants(body, skip=("func_literal",)) if body is not None else []:
        if node.start_byte >= go.start_byte:
            break
        if node.type == "send_statement" or (node.type == "unary_expression" and file.text(node).startswith("<-")):
            return True  # a semaphore taken before the start
        if node.type == "call_expression" and call_method_name(file, node) in ("Acquire", "Wait", "Lock"):
            return True
    return False


def check(file: GoFile) -> Iterator[Report]:
    for go in file.nodes("go_statement"):
        function = enclosing_function(go, file)
        loops = enclosing_loops(go, file=file)
        if function is None or not loops or not _per_item(file, loops[0]):
            continue
        handler = enclosing_handler(file, go)
        context = preferred(cancellable_contexts(package_of(file), file, go)) if handler is None else None
        if handler is None and context is None:
            continue
        if _bounded(file, function, loops[0], go):
            continue
        where = "an HTTP handler" if handler is not None else "a function with a context in scope"
        yield Report(
            go,
            f"One goroutine per item of this loop in {where}, with no bound: the input decides how many run at "
            "once. Bound them (errgroup `SetLimit`, a semaphore, a worker pool).",
            REMEDIATION,
            # What makes it this rule's: a change that only gave the function that context did
            # not start the goroutines.
            context=context.binding if context is not None else None,
        )


RULE = Rule(
    id="GR112",
    name="unbounded-goroutines",
    severity=Severity.INFO,
    doc=__doc__,
    check=check,
    in_tests=False,
)
