"""GR102 unclosed-range: a goroutine ranges over a channel that nothing ever closes.

## What it does
Flags a goroutine that ranges over a channel made in the starting function (`for v := range
ch`), or loops on `v, ok := <-ch` waiting for the close, when nothing in that function — its
closures and the goroutines it starts included — ever closes the channel. The goroutine may
be a literal, a closure started through a variable or a function of the same file
(`go leakyWorker(ch)`); the `range` or receive line is reported, where it is written. Also
flags a receive that waits (bare, or the only case of a `select`) on such a channel that
nothing sends on either — say a done channel handed to a goroutine that never signals it:
whoever receives waits forever — and, as a warning, such a done channel (closed, never
sent on) that the one goroutine closing it closes on some paths only while the function
waits on it alone: a `return` or the end of the goroutine that skips the `close` (the
"signal the first success" watcher that never succeeds) leaves the function waiting; the
`close` is reported. And flags `for range t.C` over a `time.Ticker` or `Timer`
that the package stops somewhere: `Stop` does not close `C`, so a loop meant to end with the
ticker waits forever instead.

## Why is this bad?
`range` over a channel ends only when the channel is closed. When the senders are done and
nobody closes it, the receiving goroutine waits forever in `chan receive`: it is never
collected, nor is anything it references. Worker pools fed this way leak one goroutine per
worker each time the function runs.

## Example
```go
func leakyWorker(ch <-chan int) {
    for range ch { // never ends: nobody closes ch
        process()
    }
}

func run(items []int) {
    ch := make(chan int)
    go leakyWorker(ch)
    for _, it := range items {
        ch <- it
    }
}
```

## Use instead
```go
func run(items []int) {
    ch := make(chan int)
    go leakyWorker(ch)
    defer close(ch) // the owner closes: the worker's range ends
    for _, it := range items {
        ch <- it
    }
}
```

For the done channel: `defer close(done)` first in the goroutine, so every path signals.

## Fix safety
No suggestion: who owns the close (the sender, after the last send) is a design decision.
The rule stays silent when the channel is handed to code it cannot see (another function, a
field, a return), which may close it.
"""

from __future__ import annotations

from collections.abc import Iterator

from tree_sitter import Node

from ...finding import Severity
from ...goroutines import Channel, channels
from ...goroutines import ChannelOperation as Operation
from ...gosource import GoFile
from ...rule import Report, Rule
from ...semantics import package_of
from ...semantics.places import place_of
from ...syntax import (
    call_method_name,
    enclosing_function,
    enclosing_loops,
    field_of,
    function_name,
    is_inside,
    parent_of,
    receive_with_ok,
    select_cases,
    unparen,
)
from ._goroutines import channel_expression, communication_case

REMEDIATION = """\
ch := make(chan int)
go worker(ch) // for v := range ch { ... }
defer close(ch) // the owner closes when it is done sending: the range ends
for _, it := range items {
    ch <- it
}"""


def _waits_for_close(op: Operation) -> bool:
    """A `range`, or a `v, ok := <-ch` in a loop that is the only thing the goroutine waits on."""
    if op.kind == "range":
        return True
    case = communication_case(op.node)
    alone = case is None or len(select_cases(parent_of(case))) == 1
    return receive_with_ok(op.node) is not None and alone and bool(enclosing_loops(op.node))


def _blocking_receive(op: Operation) -> bool:
    """A receive that waits for a value: a bare one, a range, or the only case of a select."""
    if op.kind == "range":
        return True
    case = communication_case(op.node)
    return case is None or len(select_cases(parent_of(case))) == 1


def _closed_on_some_paths(file: GoFile, channel: Channel) -> Iterator[Report]:
    """A done channel (closed, never sent on) that one goroutine closes while the function
    waits on it, when a path through that goroutine skips the close."""
    closes = channel.of("close")
    goroutine = closes[0].goroutine
    if goroutine is None or goroutine.body is None or channel.of("send"):
        return
    if any(op.goroutine != goroutine for op in closes):
        return
    waiting = next(
        (
            op
            for op in channel.of("receive")
            if op.goroutine is None
            and _blocking_receive(op)
            and op.node.start_byte > goroutine.statement.end_byte
            and enclosing_function(op.node, file) == channel.scope
        ),
        None,
    )
    if waiting is None:
        return
    escapes = (
        package_of(file)
        .cfg(file, goroutine.body)
        .escapes(None, lambda element: any(is_inside(op.node, element) for op in closes))
    )
    if not escapes:
        return
    name = file.text(channel_expression(closes[0].node))
    yield Report(
        node=closes[0].node,
        message=(
            f"This goroutine closes `{name}` on some paths only: {escapes[0].described(file)} skips it, and "
            f"`{file.text(waiting.node)}` (line {file.line(waiting.node)}) waits forever then. Close it in a "
            f"`defer` first (`defer close({name})`)."
        ),
        remediation=SOME_PATHS_REMEDIATION,
        severity=Severity.WARNING,
    )


SOME_PATHS_REMEDIATION = """\
go func() {
    defer close(done) // on every path, the failed ones too
    if err := connect(); err != nil {
        return
    }
}()
<-done"""


def _stopped_timer_ranges(file: GoFile) -> Iterator[Report]:
    """`for range t.C` over a ticker or timer that the package stops somewhere."""
    package = package_of(file)
    for loop in file.nodes("for_statement"):
        clause = next((c for c in loop.named_children if c.type == "range_clause"), None)
        ranged = unparen(field_of(clause, "right")) if clause is not None else None
        if ranged is None or ranged.type != "selector_expression" or file.text(field_of(ranged, "field")) != "C":
            continue
        holder = field_of(ranged, "operand")
        holder_type = package.type_of(file, holder)
        place = place_of(package, file, holder)
        if holder_type is None or place is None or not holder_type.deref().is_named("time.Ticker", "time.Timer"):
            continue
        looping = enclosing_function(loop, file)
        stop = next(
            (
                (other, call)
                for other in package.files
                for call in other.nodes("call_expression")
                if call_method_name(other, call) == "Stop"
                and (function := call.child_by_field_name("function")) is not None
                and function.type == "selector_expression"
                and place_of(package, other, field_of(function, "operand")) == place
                and _stops_from_elsewhere(other, call, looping)
            ),
            None,
        )
        if stop is None:
            continue  # never stopped, or only as clean-up after the loop: it runs for good
        other, call = stop
        where = f"line {other.line(call)}" if other is file else f"{other.path}:{other.line(call)}"
        yield Report(
            node=loop,
            message=(
                f"`for range {file.text(ranged)}` never ends: `{other.text(call)}` ({where}) stops the "
                f"{'ticker' if holder_type.deref().is_named('time.Ticker') else 'timer'} but does not close its "
                "channel, so this loop waits forever once it stops. Select on a done channel that the stopper "
                "closes as well."
            ),
            remediation=STOPPED_REMEDIATION,
        )


def _stops_from_elsewhere(file: GoFile, stop: Node, looping: Node | None) -> bool:
    """A `Stop` meant to end the loop: called, not deferred, from another function than the
    one that loops (a `defer t.Stop()` beside the loop is clean-up once it is over)."""
    statement = file.parent(stop)
    deferred = statement is not None and statement.type == "defer_statement"
    return not deferred and (looping is None or enclosing_function(stop, file) != looping)


STOPPED_REMEDIATION = """for {
    select {
    case <-done: // closed by whoever stops the ticker
        return
    case <-ticker.C:
        flush()
    }
}"""


def check(file: GoFile) -> Iterator[Report]:
    if b".C" in file.source:
        yield from _stopped_timer_ranges(file)
    for channel in channels(file):
        if channel.escapes:
            continue
        if channel.of("close"):
            yield from _closed_on_some_paths(file, channel)
            continue
        owner = function_name(file, channel.scope) or "the function literal"
        if not channel.of("send"):
            waiting = next((op for op in channel.of("range", "receive") if _blocking_receive(op)), None)
            if waiting is not None:
                yield Report(
                    node=waiting.node,
                    message=(
                        f"Nothing sends on or closes `{channel.name}` (made at line {file.line(channel.make)} in "
                        f"`{owner}`): this receive waits forever. Close it where the work it waits for ends "
                        f"(`defer close({channel.name})`)."
                    ),
                    remediation=REMEDIATION,
                )
            continue
        for op in channel.of("range", "receive"):
            if op.goroutine is None or not _waits_for_close(op):
                continue
            how = "ranges over" if op.kind == "range" else "loops receiving from"
            name = file.text(channel_expression(op.node))
            yield Report(
                node=op.node,
                message=(
                    f"This goroutine {how} `{name}` (made at line {file.line(channel.make)} in `{owner}`), which "
                    f"nothing closes: once the senders are done it waits forever. Close `{channel.name}` where "
                    f"the sending ends (`defer close({channel.name})`)."
                ),
                remediation=REMEDIATION,
            )


RULE = Rule(
    id="GR102",
    name="unclosed-range",
    severity=Severity.ERROR,
    doc=__doc__,
    check=check,
    in_tests=False,
)
