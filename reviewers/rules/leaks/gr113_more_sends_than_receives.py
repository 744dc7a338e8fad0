"""GR113 more-sends-than-receives: more sends can happen on an unbuffered channel than receives.

## What it does
Looks at the unbuffered channels made in a function (`ch := make(chan T)`) and flags a
send that can outnumber the receives:
- goroutines started in a loop each send, while the function receives once, or receives
  in a loop that returns (or breaks) on the first result or error — the "first answer
  wins" fan-out;
- several goroutines started one by one (`go serveA()`, `go serveB()`) each send, while
  the function receives fewer times than there are senders, outside any loop (the first
  server to stop wins, the others wait forever to report). Reported on the first send;
- one goroutine sends on two paths (`if err != nil { ch <- err }` then `ch <- result`,
  with the `return` missing) to a function that receives once. Reported on the first send,
  where the `return` is missing.

A send inside a `select` that has another way out (a `ctx.Done()` case, a `default`) is
not counted: that sender can give up. Nor is a send made only by the goroutine that counts
the last one down (under `if pending.Add(-1) == 0`, or `atomic.AddInt32(&n, -1) == 0`):
one goroutine sends, however many are started.

## Why is this bad?
Every send without a matching receive blocks its goroutine forever on an unbuffered
channel. The fan-out that returns on the first error leaves every other worker parked
with its result in hand, along with everything it references — one leak per request,
until the service runs out of memory.

## Example
```go
errc := make(chan error)
for _, u := range urls {
    go func() { errc <- fetch(u) }()
}
for range urls {
    if err := <-errc; err != nil {
        return err // the other senders block forever
    }
}
```

## Use instead
```go
errc := make(chan error, len(urls)) // a slot for every sender
for _, u := range urls {
    go func() { errc <- fetch(u) }()
}
for range urls {
    if err := <-errc; err != nil {
        return err
    }
}
```
or `errgroup.Group`, which collects the first error and waits for the rest. Likewise
`stopped := make(chan error, 2)` for two servers started one by one that report on
`stopped` while the function returns the first `<-stopped`.

## Fix safety
No suggestion: the buffer size depends on how many goroutines the loop starts. The rule
stays silent when the channel is handed to code it cannot see (another function, a field,
a return), where more receivers may hide, and when a receive ranges over the channel
without leaving the loop early.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

from tree_sitter import Node

from ...finding import Severity
from ...goroutines import Channel, Goroutine, channels
from ...goroutines import ChannelOperation as Operation
from ...gosource import GoFile
from ...rule import Report, Rule
from ...syntax import (
    FUNCTION_TYPES,
    ancestors,
    call_method_name,
    descendants,
    enclosing_loops,
    field_of,
    guarded_once,
    has_default,
    is_inside,
    parent_of,
    unparen,
)
from ._goroutines import communication_case

REMEDIATION = """\
errc := make(chan error, len(urls)) // one slot per sender: none blocks
for _, u := range urls {
    go func() { errc <- fetch(u) }()
}"""


def _blocking(send: Operation) -> bool:
    """A send that waits for a receiver: not a select case with another way out."""
    case = communication_case(send.node)
    if case is None:
        return True
    select = parent_of(case)
    return not has_default(select) and len([c for c in select.named_children if c.type.endswith("_case")]) == 1


COUNTDOWNS = ("Add", "AddInt32", "AddInt64", "AddUint32", "AddUint64")


def _last_one(file: GoFile, send: Operation) -> bool:
    """The send is made only by the goroutine that counts the last one down: under `if
    n.Add(-1) == 0` or `if atomic.AddInt32(&n, -1) == 0` (a condition of its `if` joined by
    `&&`). One goroutine sends, whatever the number started."""
    for ancestor in ancestors(send.node, file):
        if ancestor.type in FUNCTION_TYPES:
            return False
        if ancestor.type != "if_statement" or not is_inside(send.node, field_of(ancestor, "consequence")):
            continue
        if any(_counts_down_to_zero(file, part) for part in _conjuncts(field_of(ancestor, "condition"))):
            return True
    return False


def _conjuncts(condition: Node) -> list[Node]:
    condition = unparen(condition)
    if condition.type == "binary_expression" and field_of(condition, "operator").type == "&&":
        return _conjuncts(field_of(condition, "left")) + _conjuncts(field_of(condition, "right"))
    return [condition]


def _counts_down_to_zero(file: GoFile, comparison: Node) -> bool:
    if comparison.type != "binary_expression" or field_of(comparison, "operator").type != "==":
        return False
    sides = [unparen(field_of(comparison, "left")), unparen(field_of(comparison, "right"))]
    if not any(file.text(side) == "0" for side in sides):
        return False
    call = next((side for side in sides if side.type == "call_expression"), None)
    arguments = call.child_by_field_name("arguments") if call is not None else None
    return (
        call is not None
        and arguments is not None
        and call_method_name(file, call) in COUNTDOWNS
        and bool(arguments.named_children)
        and "".join(file.text(arguments.named_children[-1]).split()) == "-1"
    )


def _started_in_loop(file: GoFile, channel: Channel, goroutine: Goroutine) -> bool:
    """Started by each round of a loop of the channel's scope, not once behind a flag."""
    loops = [
        loop
        for loop in enclosing_loops(goroutine.statement, within=channel.scope.parent)
        if is_inside(loop, channel.scope)
    ]
    return bool(loops) and not guarded_once(file, goroutine.statement, loops[-1])


def _receives_fewer(file: GoFile, channel: Channel) -> Node | None:
    """The receive of the function that can stop before every sender is served: one
    outside any loop, or one in a loop that leaves on a result. None when a range or a
    loop that always receives drains the channel."""
    own = [op for op in channel.of("receive", "range") if op.goroutine is None]
    if not own or any(op.kind == "range" and not _leaves_early(op.node, op.node, file) for op in own):
        return None
    for receive in own:
        if receive.kind != "receive":
            continue
        loops = enclosing_loops(receive.node, file=file)
        if not loops or _leaves_early(loops[0], receive.node, file):
            return receive.node
    return None


def _leaves_early(loop: Node, receive: Node, file: GoFile | None = None) -> bool:
    """Whether the loop can stop on what it just received: a `return` or `break` after the
    receive, on its path (its select case, if any), unconditional or under a condition
    that tests the received value (`if err := <-errc; err != nil { return err }`). A
    counting exit (`if active == 0 { return }`) waits for everyone and does not count."""
    body = loop.child_by_field_name("body")
    if body is None:
        return False
    case = communication_case(receive)
    region = case if case is not None else body
    names = _received_names(file, receive) if file is not None else set()
    for node in descendants(region, skip=("func_literal",)):
        if node.type not in ("return_statement", "break_statement") or node.start_byte < receive.start_byte:
            continue
        conditions = [a for a in ancestors(node, file) if a.type == "if_statement" and is_inside(a, region)]
        if not conditions or file is None:
            return True
        if any(_mentions(file, a, names) for a in conditions):
            return True
    return False


def _received_names(file: GoFile, receive: Node) -> set[str]:
    holder = receive.parent
    if holder is not None and holder.type == "expression_list":
        holder = holder.parent
    left = holder.child_by_field_name("left") if holder is not None else None
    return {file.text(n) for n in left.named_children} - {"_"} if left is not None else set()


def _mentions(file: GoFile, statement: Node, names: set[str]) -> bool:
    header = [statement.child_by_field_name("initializer"), statement.child_by_field_name("condition")]
    for part in header:
        if part is None:
            continue
        if any(file.text(n) in names for n in descendants(part) if n.type == "identifier"):
            return True
        if any(n.type == "unary_expression" and file.text(n).startswith("<-") for n in (part, *descendants(part))):
            return True  # `if err := <-errc; err != nil`
    return False


def _times(count: int) -> str:
    return "once" if count == 1 else f"only {count} times"


def _one_shot_senders(file: GoFile, channel: Channel) -> list[Operation]:
    """The first waiting send of each goroutine started once (not in a loop) by the
    channel's scope, in the order they are started; none when another goroutine receives."""
    if any(op.goroutine is not None for op in channel.of("receive", "range")):
        return []
    first: dict[int, Operation] = {}
    for send in channel.of("send"):
        if send.goroutine is None or not _blocking(send) or enclosing_loops(send.node, file=file):
            continue
        if enclosing_loops(send.goroutine.statement, within=channel.scope, file=file):
            continue
        first.setdefault(send.goroutine.statement.start_byte, send)
    return [first[start] for start in sorted(first)]


def _double_send(channel: Channel) -> tuple[Operation, Operation] | None:
    """(first, second): a goroutine that sends in an `if` without returning, then again."""
    by_goroutine: dict[int, list[Operation]] = {}
    for send in channel.of("send"):
        if send.goroutine is not None and _blocking(send):
            by_goroutine.setdefault(send.goroutine.statement.start_byte, []).append(send)
    for sends in by_goroutine.values():
        sends.sort(key=lambda s: s.node.start_byte)
        for first, second in itertools.pairwise(sends):
            if enclosing_loops(first.node) or enclosing_loops(second.node):
                continue
            block = first.node.parent
            if block is None or block.type != "statement_list" or block.parent is None or block.parent.type != "block":
                continue
            holder = block.parent.parent
            if holder is None or holder.type != "if_statement" or is_inside(second.node, holder):
                continue
            rest = block.named_children[block.named_children.index(first.node) + 1 :]
            if any(
                s.type in ("return_statement", "break_statement", "continue_statement", "goto_statement") for s in rest
            ):
                continue
            return first, second
    return None


def check(file: GoFile) -> Iterator[Report]:
    if not file.nodes("go_statement") or not file.nodes("send_statement"):
        return  # no goroutine sends: the file's channels need not be looked at
    for channel in channels(file):
        if channel.buffered or channel.escapes:
            continue
        receive = _receives_fewer(file, channel)
        if receive is None:
            continue
        snippet_names = {"errc": channel.name, "error": channel.element}
        looped = [
            (s, s.goroutine)
            for s in channel.of("send")
            if s.goroutine is not None
            and _started_in_loop(file, channel, s.goroutine)
            and _blocking(s)
            and not _last_one(file, s)
        ]
        if looped:
            send, goroutine = looped[0]
            yield Report(
                send.node,
                f"`{channel.name}` is unbuffered and goroutines started in a loop each send on it (line "
                f"{goroutine.statement.start_point[0] + 1}), but the function stops receiving after the first "
                f"(line {receive.start_point[0] + 1}): every other sender blocks forever. Buffer it for every sender "
                f"(`make(chan {channel.element}, n)`) or use errgroup.",
                REMEDIATION,
                names=snippet_names,
            )
            continue
        if any(
            op.kind == "receive" and op.goroutine is None and enclosing_loops(op.node, file=file)
            for op in channel.operations
        ):
            continue
        senders = _one_shot_senders(file, channel)
        own = [op for op in channel.of("receive", "range") if op.goroutine is None]
        if len(senders) > len(own) and all(op.kind == "receive" for op in own):
            first, *others = senders
            lines = ", ".join(str(s.goroutine.statement.start_point[0] + 1) for s in others if s.goroutine)
            yield Report(
                first.node,
                f"`{channel.name}` is unbuffered and {len(senders)} goroutines send on it (this one and those started "
                f"at lines {lines}), but the function receives {_times(len(own))} (line "
                f"{receive.start_point[0] + 1}): the senders it does not wait for block forever. Buffer it for every "
                f"sender (`make(chan {channel.element}, {len(senders)})`) or use errgroup.",
                REMEDIATION,
                names=snippet_names,
            )
            continue
        pair = _double_send(channel)
        if pair is not None:
            first, second = pair
            yield Report(
                first.node,
                f"The goroutine sends on `{channel.name}` here and again on line {second.node.start_point[0] + 1}, but "
                f"the function receives once (line {receive.start_point[0] + 1}): a `return` is missing after this "
                "send, and the second send blocks forever.",
                "if err != nil {\n    ch <- result{err: err}\n    return // one send per goroutine\n}\nch <- result{v: v}",
                names={"ch": channel.name},
            )


RULE = Rule(
    id="GR113",
    name="more-sends-than-receives",
    severity=Severity.ERROR,
    doc=__doc__,
    check=check,
    in_tests=False,
)
