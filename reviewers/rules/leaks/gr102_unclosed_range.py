"""GR102 unclosed-range: a goroutine ranges over a channel that nothing ever closes.

## What it does
Flags a goroutine that ranges over a channel made in the starting function (`for v := range
ch`), or loops on `v, ok := <-ch` waiting for the close, when nothing in that function — its
closures and the goroutines it starts included — ever closes the channel. The goroutine may
be a literal, a closure started through a variable or a function of the same file
(`go leakyWorker(ch)`); the `range` or receive line is reported, where it is written. Also
flags a receive that waits (bare, or the only case of a `select`) on such a channel that
nothing sends on either — say a done channel handed to a goroutine that never signals it:
whoever receives waits forever.

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

## Fix safety
No suggestion: who owns the close (the sender, after the last send) is a design decision.
The rule stays silent when the channel is handed to code it cannot see (another function, a
field, a return), which may close it.
"""

from __future__ import annotations

from collections.abc import Iterator

from ...finding import Severity
from ...goroutines import ChannelOperation as Operation
from ...goroutines import channels
from ...gosource import GoFile
from ...rule import Report, Rule
from ...syntax import enclosing_loops, function_name, parent_of, select_cases
from ._goroutines import channel_expression, communication_case, sees_close

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
    return sees_close(op.node) and alone and bool(enclosing_loops(op.node))


def _blocking_receive(op: Operation) -> bool:
    """A receive that waits for a value: a bare one, a range, or the only case of a select."""
    if op.kind == "range":
        return True
    case = communication_case(op.node)
    return case is None or len(select_cases(parent_of(case))) == 1


def check(file: GoFile) -> Iterator[Report]:
    for channel in channels(file):
        if channel.escapes or channel.of("close"):
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
