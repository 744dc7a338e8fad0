"""GR116 receive-after-stop: a receive from a timer's channel after `Stop()` that can block forever.

## What it does
Flags `<-t.C` (a bare receive, or a `select` whose only case it is) after `t.Stop()` on the
same timer or ticker when:
- the receive does not depend on Stop's result (`t.Stop(); <-t.C`), with no `Reset` between;
- or it does (`if !t.Stop() { <-t.C }`) but the same `for` loop also receives from `t.C`
  elsewhere, typically in its `select`, and some way from that receive to the drain passes
  no `t.Reset(...)`: when that case took the value, Stop returns false and the channel is
  empty (a `Reset` on every way arms the timer again; so does a flag that case sets,
  `expired = true`, when the drain sits where the flag is false, `if expired { ... } else {
  drain }`, until the flag is set anew). This holds in any Go version: since 1.23 (timer channels are
  synchronous) Stop discards a value nobody received and returns true, so it returns false
  only when the value was taken, as before.

## Why is this bad?
`Stop` sends nothing. A receive that waits for a value that will never come parks the
goroutine forever — in a timer-reset loop, that is the loop itself, and everything behind
it. The pre-1.23 idiom `if !t.Stop() { <-t.C }` is only right when nothing else can have
received the value; since Go 1.23 it is not needed at all (the drain never runs when nothing
else received the value).

## Example
```go
for {
    select {
    case <-t.C:
        flush()
    case item := <-items:
        add(item)
    }
    if !t.Stop() {
        <-t.C // blocks forever when the select above received the tick
    }
    t.Reset(interval)
}
```

## Use instead
```go
// before Go 1.23
if !t.Stop() {
    select {
    case <-t.C:
    default:
    }
}
t.Reset(interval)

// from Go 1.23: Stop and Reset discard any pending value, no drain at all
t.Reset(interval)
```

## Fix safety
Before Go 1.23 (and when the version is unknown) the suggestion replaces the receive by a
non-blocking drain, right in every version. From 1.23 the fix is to delete the drain,
which is left to the author. A `Reset` between Stop and the receive makes the receive wait
for the new deadline, and is not flagged.
"""

from __future__ import annotations

from collections.abc import Iterator

from tree_sitter import Node

from ...finding import Severity
from ...gosource import GoFile
from ...rule import Fix, Report, Rule
from ...semantics import package_of
from ...semantics.cfg import CFG, Edge
from ...syntax import (
    FUNCTION_TYPES,
    ancestors,
    enclosing_function,
    enclosing_loops,
    field_of,
    has_default,
    select_cases,
)

BEFORE_123 = """\
if !t.Stop() {
    select { // drain without blocking: the value may already be gone
    case <-t.C:
    default:
    }
}
t.Reset(d)"""
SINCE_123 = """\
t.Stop() // since Go 1.23 no stale value can be received after Stop or Reset
t.Reset(d)"""


def _timer_receives(file: GoFile, within: Node | None = None) -> list[Node]:
    """The receives `<-x.C` (from a field named C: a timer's or ticker's channel)."""
    receives = []
    for unary in file.nodes("unary_expression", within=within):
        operator, selector = unary.child_by_field_name("operator"), unary.child_by_field_name("operand")
        if operator is None or operator.type != "<-" or selector is None or selector.type != "selector_expression":
            continue
        if file.text(field_of(selector, "field")) == "C":
            receives.append(unary)
    return receives


def _since_123(file: GoFile) -> bool:
    return file.go_version is not None and file.go_version >= (1, 23)


def _blocking(receive: Node) -> Node | None:
    """The statement or select of a receive that can block: a bare receive, or a `select`
    whose only case it is. None for a receive in a select with another way out."""
    parent = receive.parent
    if parent is not None and parent.type == "receive_statement":
        parent = parent.parent
    if parent is not None and parent.type == "communication_case":
        select = parent.parent
        if select is None or has_default(select) or len(select_cases(select)) > 1:
            return None
        return select
    statement = receive
    while statement.parent is not None and not statement.type.endswith(("_statement", "_declaration")):
        statement = statement.parent
    return statement


def _stop_guard(file: GoFile, receive: Node, timer: str) -> Node | None:
    """The `if !t.Stop()` whose consequence holds the receive."""
    for ancestor in ancestors(receive, file):
        if ancestor.type in FUNCTION_TYPES:
            return None
        if ancestor.type == "if_statement" and file.text(field_of(ancestor, "condition")) == f"!{timer}.Stop()":
            consequence = ancestor.child_by_field_name("consequence")
            if consequence is not None and consequence.start_byte <= receive.start_byte < consequence.end_byte:
                return ancestor
    return None


def _ignored_stop(file: GoFile, receive: Node, timer: str) -> Node | None:
    """A `t.Stop()` statement before the receive in one of its enclosing blocks, with no
    `Reset` of the timer or new assignment to it in between."""
    function = enclosing_function(receive, file)
    node = receive
    for ancestor in ancestors(receive, file):
        if ancestor is function or ancestor.type in FUNCTION_TYPES:
            return None
        if ancestor.type == "statement_list":
            before = ancestor.named_children[: ancestor.named_children.index(node)]
            for statement in reversed(before):
                text = file.text(statement)
                if f"{timer}.Reset(" in text or text.startswith((f"{timer} =", f"{timer} :=")):
                    return None
                if statement.type == "expression_statement" and text == f"{timer}.Stop()":
                    between = file.source[statement.end_byte : receive.start_byte].decode("utf-8", "replace")
                    return None if f"{timer}.Reset(" in between else statement
        node = ancestor
    return None


def _other_receive_in_loop(file: GoFile, guard: Node, receive: Node, timer: str) -> Node | None:
    """Another receive from the timer's channel in the loop around the guard that may have
    taken its value. When the loop makes a new timer each round before the guard
    (`t := time.NewTimer(backoff)`), only a receive of the same round counts: one before
    the guard and not in another case of a `select` the guard is in (the select took the
    guard's case, not that one)."""
    loops = enclosing_loops(guard, file=file)
    if not loops:
        return None
    fresh = _made_each_round(file, loops[0], guard, timer)
    function = enclosing_function(guard, file)
    cfg = package_of(file).cfg(file, function) if function is not None else None
    for match in _timer_receives(file, within=loops[0]):
        if (
            match != receive
            and file.text(match) == f"<-{timer}.C"
            and not (guard.start_byte <= match.start_byte < guard.end_byte)
            and not (fresh and (match.start_byte > guard.start_byte or _other_case(file, match, guard)))
            # A `Reset` on every way from that receive to the drain arms the timer again; a
            # flag that receive's case sets (`expired = true`) rules out the drain's branch
            # (`if expired { ... } else { drain }`) until the flag is set anew.
            and (cfg is None or _reaches_drain(file, cfg, match, receive, timer))
        ):
            return match
    return None


def _reaches_drain(file: GoFile, cfg: CFG, match: Node, receive: Node, timer: str) -> bool:
    flags = _flags_set(file, match)

    def infeasible(edge: Edge) -> bool:
        condition = file.text(edge.condition) if edge.condition is not None else ""
        return (condition in flags and not edge.branch) or (
            condition.startswith("!") and condition[1:] in flags and edge.branch
        )

    def forgets(element: Node) -> bool:
        text = "".join(file.text(element).split())
        return any(
            text.startswith((f"{flag}=", f"{flag}:=", f"var{flag}")) and text != f"{flag}=true" for flag in flags
        )

    return cfg.reaches(
        match,
        receive,
        lambda element: f"{timer}.Reset(" in file.text(element),
        infeasible if flags else None,
        forgets,
    )


def _flags_set(file: GoFile, match: Node) -> frozenset[str]:
    """The booleans a receive's `select` case sets to true in its body's own statements (so on
    every path through it): `case <-t.C: expired = true`."""
    case = next((a for a in ancestors(match, file) if a.type == "communication_case"), None)
    if case is None:
        return frozenset()
    flags = set()
    for body in (c for c in case.named_children if c.type == "statement_list"):
        for statement in body.named_children:
            text = "".join(file.text(statement).split())
            if statement.type == "assignment_statement" and text.endswith("=true") and text[:-5].isidentifier():
                flags.add(text[:-5])
    return frozenset(flags)


def _made_each_round(file: GoFile, loop: Node, guard: Node, timer: str) -> bool:
    """Whether the loop gives the timer a new value each round before the guard: a `t :=` or
    `t =` statement of a block around the guard, inside the loop's body (`if backoff > 0 {
    t := time.NewTimer(backoff); select { ... } }`)."""
    for block in ancestors(guard, file):
        if block.id == loop.id:
            return False
        if block.type not in ("statement_list", "block"):
            continue
        for statement in block.named_children:
            if statement.start_byte >= guard.start_byte:
                break
            if statement.type in ("short_var_declaration", "assignment_statement") and file.text(statement).startswith(
                (f"{timer} :=", f"{timer} =")
            ):
                return True
    return False


def _other_case(file: GoFile, node: Node, guard: Node) -> bool:
    """Whether `node` is in a case of a `select` whose other case holds the guard."""
    for ancestor in ancestors(guard, file):
        if ancestor.type in FUNCTION_TYPES:
            return False
        if ancestor.type == "select_statement":
            cases = select_cases(ancestor)
            own = next((c for c in cases if c.start_byte <= guard.start_byte < c.end_byte), None)
            return any(
                c.id != (own.id if own is not None else None) and c.start_byte <= node.start_byte < c.end_byte
                for c in cases
            )
    return False


def _drain_fix(file: GoFile, statement: Node, timer: str) -> Fix | None:
    if _since_123(file) or statement.type != "expression_statement":
        return None
    line_start = file.source.rfind(b"\n", 0, statement.start_byte) + 1
    indent = file.source[line_start : statement.start_byte].decode()
    if indent.strip():
        return None
    drain = f"select {{\n{indent}case <-{timer}.C:\n{indent}default:\n{indent}}}"
    return Fix.replace(file, statement, drain)


def check(file: GoFile) -> Iterator[Report]:
    since_123 = _since_123(file)
    remediation = SINCE_123 if since_123 else BEFORE_123
    for receive in _timer_receives(file):
        timer = file.text(field_of(field_of(receive, "operand"), "operand"))
        blocking = _blocking(receive)
        if blocking is None:
            continue
        shown = f"<-{timer}.C"
        guard = _stop_guard(file, receive, timer)
        if guard is not None:
            other = _other_receive_in_loop(file, guard, receive, timer)
            if other is None:
                continue
            message = (
                f"`{shown}` after `!{timer}.Stop()` blocks forever when this loop already received the value "
                f"(line {file.line(other)}): Stop then returns false with the channel empty. "
                + (
                    "Since Go 1.23 Stop and Reset discard a pending value: delete the drain."
                    if since_123
                    else "Drain without blocking."
                )
            )
            yield Report(receive, message, remediation, fix=_drain_fix(file, blocking, timer))
            continue
        stop = _ignored_stop(file, receive, timer)
        if stop is None:
            continue
        always = " — and always since Go 1.23" if since_123 else ""
        yield Report(
            receive,
            f"`{shown}` after `{timer}.Stop()` (line {file.line(stop)}) blocks forever when the timer had not fired or "
            f"its value was already received: Stop sends nothing{always}. "
            + (
                "Delete the receive."
                if since_123
                else f"Use `if !{timer}.Stop() {{ select {{ case <-{timer}.C: default: }} }}`."
            ),
            remediation,
            fix=_drain_fix(file, blocking, timer),
        )


RULE = Rule(
    id="GR116",
    name="receive-after-stop",
    severity=Severity.ERROR,
    doc=__doc__,
    check=check,
    imports=("time",),
)
