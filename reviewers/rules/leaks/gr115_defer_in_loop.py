"""GR115 defer-in-loop: a deferred `Stop`, `cancel`, `Close` or `Unlock` inside a loop that goes on.

## What it does
Flags a `defer` of a `Stop`, `Close`, `Unlock`/`RUnlock` or cancel function (a call of a
name containing `cancel`, or a deferred closure making such a call) written in the body of
a `for` loop, when the iteration does not return (or leave the loop) right after it. A
`Stop`, `Close` or cancel counts only when what it releases was acquired in the loop (a
call's result assigned in its body): deferring the `Close` of each element of an existing
collection, to close them all on return, is deliberate.

## Why is this bad?
A deferred call runs when the *function* returns, not at the end of the iteration. Each
pass of the loop adds one more: files and connections stay open, timers and tickers keep
running, contexts keep their timers and their parent's references, and a deferred
`Unlock` in a loop deadlocks on the second `Lock`. In a long-lived loop (a consumer, an
accept loop, a retry loop) they are never released at all.

## Example
```go
for _, name := range names {
    f, err := os.Open(name)
    if err != nil {
        return err
    }
    defer f.Close() // every file stays open until the function returns
    process(f)
}
```

## Use instead
```go
for _, name := range names {
    if err := processFile(name); err != nil { // the defer runs at the end of each call
        return err
    }
}

func processFile(name string) error {
    f, err := os.Open(name)
    if err != nil {
        return err
    }
    defer f.Close()
    return process(f)
}
```

## Fix safety
No suggestion: the body has to move into a function (or the call to the end of each
iteration, on every path), which is a change of structure. A `defer` in a function literal
called inside the loop runs at the end of that call and is not flagged, nor is one followed
by nothing but a `return` or a `break`: that loop runs it once; nor is one behind a flag
its block clears or sets (`if first { first = false; ...; defer t.Stop() }`), which runs on
one round only. Nor is the release of what the loop keeps past its iteration on purpose:
appended to a collection (`open = append(open, s)`, read after the loop) or handed to a
function literal that may run later (a goroutine, `g.Go(func() error { ... })`): closing
it at the end of the iteration would close it while still in use.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from tree_sitter import Node

from ...finding import Severity
from ...gosource import GoFile, captures
from ...rule import Report, Rule
from ...semantics import Package, package_of
from ...semantics.types import UNLOCKS
from ...syntax import (
    ancestors,
    call_method_name,
    calls_in,
    enclosing_loops,
    field_of,
    guarded_once,
    is_inside,
    parent_of,
    root_operand,
    unparen,
)

RELEASES = frozenset({"Stop", "Close", *UNLOCKS})
CANCEL = re.compile(r"cancel", re.IGNORECASE)
ENDINGS = ("return_statement", "break_statement")

REMEDIATION = """\
for _, name := range names {
    func() {
        f, err := os.Open(name)
        if err != nil {
            return
        }
        defer f.Close() // runs at the end of this iteration
        process(f)
    }()
}"""


def _released(file: GoFile, deferred: Node) -> Node | None:
    """The deferred call that releases something: `f.Close()`, `cancel()`; None if none does."""
    call = deferred.named_children[0] if deferred.named_children else None
    if call is None or call.type != "call_expression":
        return None
    function = call.child_by_field_name("function")
    candidates = calls_in(file, function) if function is not None and function.type == "func_literal" else [call]
    for candidate in candidates:
        name = call_method_name(file, candidate) or ""
        if name in RELEASES or (field_of(candidate, "function").type == "identifier" and CANCEL.search(name)):
            return candidate
    return None


def _acquired_in(package: Package, file: GoFile, release: Node, loop: Node) -> bool:
    """Whether what `release` releases is acquired in `loop`: its root name is given a call's
    result by a statement in the loop's body (each iteration makes a new one)."""
    if call_method_name(file, release) in UNLOCKS:
        return True  # a lock taken again on the next iteration deadlocks, wherever it lives
    root = root_operand(field_of(release, "function"))
    binding = package.binding(file, root) if root.type == "identifier" else None
    body = loop.child_by_field_name("body")
    if binding is None or body is None:
        return False
    return any(
        assignment.value is not None
        and unparen(assignment.value).type == "call_expression"
        and assignment.statement is not None
        and is_inside(assignment.statement, body)
        for assignment in package.assignments(binding)
    )


def _kept_past_iteration(package: Package, file: GoFile, release: Node, loop: Node) -> bool:
    """What is released outlives its iteration on purpose: the loop appends it to a
    collection (`open = append(open, s)`, read after the loop), or hands it to a function
    literal that may run later (a goroutine, `g.Go(func() error { ... })`). Closing it at the
    end of the iteration would close it while still in use."""
    root = root_operand(field_of(release, "function"))
    binding = package.binding(file, root) if root.type == "identifier" else None
    body = loop.child_by_field_name("body")
    if binding is None or body is None:
        return False
    for reference in package.references(binding):
        if not is_inside(reference, body) or package.is_write(file, reference):
            continue
        for ancestor in ancestors(reference, file):
            if ancestor == body:
                break
            parent = file.parent(ancestor)
            if (
                ancestor.type == "func_literal"
                and parent is not None
                and parent.type in ("argument_list", "call_expression")
            ):
                call = parent if parent.type == "call_expression" else file.parent(parent)
                starter = file.parent(call) if call is not None else None
                if call is not None and (
                    parent.type == "argument_list" or (starter is not None and starter.type == "go_statement")
                ):
                    return True
            if (
                ancestor.type == "argument_list"
                and parent is not None
                and file.text(field_of(parent, "function")) == "append"
            ):
                arguments = ancestor.named_children
                if arguments and not is_inside(reference, arguments[0]):
                    return True
    return False


def _leaves_right_after(defer: Node, loop: Node) -> bool:
    """Whether every block from the defer up to the loop body ends with a `return` (or a
    `break` of the loop) after it, with no `continue` on the way: the loop runs it once."""
    node: Node | None = defer
    while node is not None and node != loop:
        statements = node.parent
        if statements is None or statements.type != "statement_list":
            return False
        last = statements.named_children[-1]
        rest = statements.named_children[statements.named_children.index(node) + 1 :]
        if any(captures("(continue_statement) @c", n).get("c") for n in rest):
            return False
        if last.type in ENDINGS and last != node:
            return True
        node = parent_of(statements).parent  # the statement that holds this block
        if node is not None and node.type == "for_statement":
            return False
    return False


def _once_per_loop(package: Package, file: GoFile, defer: Node, loop: Node) -> bool:
    """The defer sits in a `select` case of the loop that can fire only once while it runs:
    a receive from a one-shot timer (`case <-t.C:` never re-armed after it fired,
    `case <-timeout:` of a `time.After` made before the loop)."""
    for ancestor in ancestors(defer, file):
        if ancestor == loop:
            return False
        if ancestor.type != "communication_case":
            continue
        communication = field_of(ancestor, "communication")
        receive = communication.child_by_field_name("right") if communication.type == "receive_statement" else None
        operand = receive.child_by_field_name("operand") if receive is not None else None
        return (
            operand is not None
            and receive is not None
            and receive.type == "unary_expression"
            and package.values.fires_once(file, operand, loop)
        )
    return False


def check(file: GoFile) -> Iterator[Report]:
    package = package_of(file)
    for defer in file.nodes("defer_statement"):
        loops = enclosing_loops(defer, file=file)
        if not loops:
            continue
        released = _released(file, defer)
        if released is None or _leaves_right_after(defer, loops[0]):
            continue
        if not _acquired_in(package, file, released, loops[0]) or _once_per_loop(package, file, defer, loops[0]):
            continue
        if guarded_once(file, defer, loops[0]) or _kept_past_iteration(package, file, released, loops[0]):
            continue  # armed on one round only, or kept open past its iteration on purpose
        yield Report(
            defer,
            f"`defer {file.text(released)}` inside a loop runs only when the function returns: one more piles up on every "
            "iteration. Call it at the end of the iteration, or move the loop body into a function.",
            REMEDIATION,
        )


RULE = Rule(
    id="GR115",
    name="defer-in-loop",
    severity=Severity.WARNING,
    doc=__doc__,
    check=check,
    in_tests=False,
)
