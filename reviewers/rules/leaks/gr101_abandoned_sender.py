"""GR101 abandoned-sender: a goroutine sends on an unbuffered channel its receiver can stop listening to.

## What it does
Flags the send of a goroutine on an unbuffered channel made in the same function when the
function may never take the value: nothing receives from the channel, the receive sits in a
`select` with another way out (`time.After`, `ctx.Done()`, another channel, `default`), or
the function can `return` between starting the goroutine and receiving. The goroutine may be
a literal, a closure assigned to a variable and started with `go f()`, or a function or
method of the same file (`go worker(ch)`); every send of the goroutine that waits is
reported where it is written (an error path's send as well as the result's). A loop whose
round starts the goroutine and then receives from the channel (start, wait, repeat) has one
sender per receive even when the channel is made before the loop, and is this rule's too.
Also flags a send the function itself makes on a channel that no goroutine receives from
(it waits for a receiver that cannot exist; a receive in a closure handed to other code, a
callback a framework may run on its own goroutine, counts as one) — including a channel it returns afterwards:
no caller holds it yet —, and, as a warning, the one send of a goroutine on an unbuffered
channel the function returns to its caller without receiving (a "future": a caller that
gives up on it leaves the goroutine blocked).

## Why is this bad?
A send on an unbuffered channel completes only when a receiver takes the value. Once the
receiver has timed out, been cancelled or returned early, nobody ever will: the goroutine
blocks forever, with its stack and everything it references. Under load these pile up by
the thousand (`runtime.NumGoroutine()` only grows) without a panic or an error.

## Example
```go
func leakByChannel() {
    ch := make(chan int) // unbuffered
    go func() { ch <- 42 }() // blocks forever: nobody receives
}

func fetch(ctx context.Context) (int, error) {
    ch := make(chan int)
    go func() { ch <- slowCall() }()
    select {
    case v := <-ch:
        return v, nil
    case <-ctx.Done():
        return 0, ctx.Err() // the sender is left behind
    }
}
```

## Use instead
```go
func fetch(ctx context.Context) (int, error) {
    ch := make(chan int, 1) // room for the one result: the send never blocks
    go func() { ch <- slowCall() }()
    select {
    case v := <-ch:
        return v, nil
    case <-ctx.Done():
        return 0, ctx.Err()
    }
}
```
or have the sender give up too: `select { case ch <- v: case <-ctx.Done(): }`.

## Fix safety
No suggestion: whether one slot suffices depends on how many values the goroutine sends.
Goroutines started in a loop that shares one channel, where more sends than receives can
happen, are GR113's; a channel made in each round of the loop, or received from in the
round that starts the sender, has one sender and is this rule's. The rule stays silent when the channel is handed to code it cannot see (another function, a
field, a return), where a receiver may hide, and when any receive elsewhere always waits.
"""

from __future__ import annotations

from collections.abc import Iterator

from tree_sitter import Node

from ...finding import Severity
from ...goroutines import Channel, Goroutine, channels, scope_goroutines
from ...goroutines import ChannelOperation as Operation
from ...gosource import GoFile
from ...rule import Report, Rule
from ...syntax import descendants, enclosing_function, enclosing_loops, is_inside, parent_of, select_cases
from ._goroutines import channel_expression, communication_case, returns_between

REMEDIATION = """\
ch := make(chan int, 1) // room for the one result: the send never blocks
go func() { ch <- compute() }()
select {
case v := <-ch:
    use(v)
case <-ctx.Done():
    return ctx.Err()
}"""


def _way_out(file: GoFile, receive: Operation, scope: Node) -> Node | None:
    """The other case of the `select` a receive sits in that stops the listening: any case
    when the select runs once, a case that leaves the loop when it runs in one."""
    case = communication_case(receive.node)
    if case is None:
        return None
    select = parent_of(case)
    in_loop = bool(enclosing_loops(select, file=file))
    for other in select_cases(select):
        if other == case:
            continue
        leaves = any(
            n.type in ("return_statement", "goto_statement") or (n.type == "break_statement" and n.named_children)
            for n in descendants(other, skip=("func_literal",))
        )
        if not in_loop or leaves:
            return other
    return None


def _bare_sends(channel: Channel, goroutine: Goroutine) -> list[Node]:
    """The goroutine's sends that wait for a receiver: not a case of a select with others."""
    sends = []
    for op in channel.of("send"):
        case = communication_case(op.node) if op.goroutine == goroutine else None
        if op.goroutine == goroutine and (case is None or len(select_cases(parent_of(case))) == 1):
            sends.append(op.node)
    return sends


def _abandonment(file: GoFile, channel: Channel, goroutine: Goroutine) -> str | None:
    """Why the value may never be taken, or None when something always receives."""
    receives = [op for op in channel.of("receive", "range") if op.goroutine != goroutine]
    if not receives:
        return f"nothing receives from `{channel.name}`"
    ways_out = [_way_out(file, op, channel.scope) for op in receives]
    waiting = [op for op, way_out in zip(receives, ways_out) if way_out is None]
    case = ways_out[0]
    if not waiting and case is not None:
        head = file.text(case).split(":", 1)[0].strip() if case.type == "communication_case" else "default"
        return f"the `select` at line {file.line(parent_of(case))} stops listening on `{head}`"
    if any(op.goroutine is not None for op in waiting):
        return None
    first = min(waiting, key=lambda op: op.node.start_byte)
    early = returns_between(channel.scope, goroutine.statement.end_byte, first.node.start_byte)
    if early:
        return f"the function returns at line {file.line(early[0])} before receiving at line {file.line(first.node)}"
    return None


def _started_per_value(file: GoFile, channel: Channel, goroutine: Goroutine) -> bool:
    """Started in a loop that does not also make the channel: several senders share it
    (GR113's). A channel made in each round has one sender, this one; so has a round that
    starts the goroutine and then receives from the channel itself (start, wait, repeat)."""
    loops = enclosing_loops(goroutine.statement, within=channel.scope, file=file)
    shared = [loop for loop in loops if not is_inside(channel.make, loop)]
    return bool(shared) and not _paired_in_round(file, channel, goroutine, shared[0])


def _paired_in_round(file: GoFile, channel: Channel, goroutine: Goroutine, loop: Node) -> bool:
    """Whether the function receives from the channel in the same round of `loop` that
    starts the goroutine, after starting it in the same block (not in another branch or
    `select` case): one sender per receive."""
    block = file.parent(goroutine.statement)
    return block is not None and any(
        op.goroutine is None
        and op.node.start_byte > goroutine.statement.end_byte
        and is_inside(op.node, block)
        and next(iter(enclosing_loops(op.node, within=channel.scope, file=file)), None) == loop
        for op in channel.of("receive")
    )


def _blocks_in_scope(file: GoFile, channel: Channel) -> Node | None:
    """A send the function itself makes, outside a select, on a channel no goroutine
    receives from: the function waits for a receiver that cannot exist. A receive in a
    closure handed to other code (a callback a framework runs) may be on another goroutine."""
    if any(
        op.goroutine is not None or enclosing_function(op.node, file) != channel.scope
        for op in channel.of("receive", "range")
    ):
        return None
    for op in channel.of("send"):
        if op.goroutine is not None or enclosing_function(op.node, file) != channel.scope:
            continue  # a closure handed to other code may run on another goroutine
        case = communication_case(op.node)
        if case is None or len(select_cases(parent_of(case))) == 1:
            return op.node
    return None


def _report(file: GoFile, channel: Channel, send: Node, reason: str, severity: Severity | None = None) -> Report:
    sent_on = file.text(channel_expression(send))
    return Report(
        node=send,
        message=(
            f"This send on unbuffered `{sent_on}` (made at line {file.line(channel.make)}) blocks forever when "
            f"{reason}: the goroutine leaks. Use `make(chan {channel.element}, 1)`, or select on `ctx.Done()` in the "
            "sender."
        ),
        remediation=REMEDIATION,
        severity=severity,
        names={"ch": sent_on, "int": channel.element},
    )


def check(file: GoFile) -> Iterator[Report]:
    for channel in channels(file):
        if channel.buffered:
            continue
        if channel.escapes and not channel.returned:
            continue
        send = _blocks_in_scope(file, channel)
        if send is not None:
            yield _report(
                file,
                channel,
                send,
                "the function returns it only after this send, so no caller can receive yet"
                if channel.returned
                else "no goroutine receives from it while the function itself waits to send",
            )
            continue
        if channel.returned:
            yield from _future(file, channel)
            continue
        for goroutine in scope_goroutines(file, channel.scope):
            if _started_per_value(file, channel, goroutine):
                continue  # senders started in a loop: GR113
            sends = _bare_sends(channel, goroutine)
            reason = _abandonment(file, channel, goroutine) if sends else None
            if reason is not None:
                for bare in sends:  # each path that sends waits on its own
                    yield _report(file, channel, bare, reason)


def _future(file: GoFile, channel: Channel) -> Iterator[Report]:
    """A channel returned to the caller that a goroutine of the function sends one value on:
    a caller that gives up on it (a timeout, an error on another path) leaves the goroutine
    blocked. A warning: the caller may well always receive."""
    if channel.of("receive", "range", "close"):
        return
    for goroutine in scope_goroutines(file, channel.scope):
        sends = _bare_sends(channel, goroutine)
        if len(sends) == 1 and not _started_per_value(file, channel, goroutine):
            yield _report(
                file, channel, sends[0], "the caller this channel is returned to stops waiting for it", Severity.WARNING
            )


RULE = Rule(
    id="GR101",
    name="abandoned-sender",
    severity=Severity.ERROR,
    doc=__doc__,
    check=check,
    in_tests=False,
)
