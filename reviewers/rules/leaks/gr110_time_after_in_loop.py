"""GR110 time-after-in-loop: `time.After` in a `select` inside a loop (before Go 1.23).

## What it does
When the module's `go.mod` says `go 1.22` or older, flags `case <-time.After(d):` in a
`select` that runs inside a `for` loop, when another case of that `select` (or its
`default`) lets the loop go round again before the timer fires. Silent when the timer is
the only case (the loop then waits for it each time, like a sleep) or when every other case
leaves the loop (`case <-stop: return`): each timer has fired before the next is made.
Silent from Go 1.23, and when the version is unknown. A tree with no go.mod at all builds
in GOPATH mode, which keeps Go 1.20's runtime defaults: the rule speaks there too.

## Why is this bad?
Each `time.After` call makes a new timer, and before Go 1.23 a timer is not freed until it
fires. A loop whose other cases fire often (a busy channel, every message of a stream)
creates one timer per iteration, each held for the whole duration: memory grows with the
message rate times the timeout. Since Go 1.23 unreferenced timers are collected at once.

## Example
```go
for {
    select {
    case msg := <-messages:
        handle(msg)
    case <-time.After(time.Minute): // a new timer on every message
        return
    }
}
```

## Use instead
```go
timer := time.NewTimer(time.Minute)
defer timer.Stop()
for {
    timer.Reset(time.Minute)
    select {
    case msg := <-messages:
        handle(msg)
    case <-timer.C:
        return
    }
}
```

## Fix safety
No suggestion: the reset has to be placed with care (before 1.23 a fired timer must be
drained before `Reset`, see GR116).
"""

from __future__ import annotations

from collections.abc import Iterator

from tree_sitter import Node

from ...finding import Severity
from ...gosource import GoFile
from ...rule import Report, Rule
from ...semantics import Package, package_of
from ...syntax import enclosing_function, enclosing_loops, qualified_calls, select_cases
from ._goroutines import communication_case

REMEDIATION = """\
timer := time.NewTimer(time.Minute)
defer timer.Stop()
for {
    timer.Reset(time.Minute) // one timer, reused
    select {
    case msg := <-messages:
        handle(msg)
    case <-timer.C:
        return
    }
}"""


def _iterates_without_firing(package: Package, file: GoFile, case: Node) -> bool:
    """Whether another case of the select (or its default) can lead back to it: only then can
    the loop go round before this timer fires, leaving it pending. When every other case
    leaves the loop (`case <-stop: return`), each timer fires before the next is made."""
    function = enclosing_function(case, file)
    timer = case.child_by_field_name("communication")
    if function is None or timer is None:
        return True
    cfg = package.cfg(file, function)
    for other in select_cases(case.parent) if case.parent is not None else []:
        if other.id == case.id:
            continue
        start = other.child_by_field_name("communication")
        if start is None:
            return True  # `default:` goes round without waiting
        if any(element.id == timer.id for element in cfg.after(start)):
            return True
    return False


def check(file: GoFile) -> Iterator[Report]:
    if file.runtime_version is None or file.runtime_version >= (1, 23):
        return
    reason = file.runtime_reason()
    package = package_of(file)
    for call in qualified_calls(file, file.root, {"time.After"}):
        case = communication_case(call)
        loops = enclosing_loops(case.parent, file=file) if case is not None and case.parent is not None else []
        if case is None or not loops or not _iterates_without_firing(package, file, case):
            continue
        yield Report(
            node=call,
            message=(
                f"`{file.text(call)}` in a `select` inside the loop at line {file.line(loops[0])} makes a new timer "
                f"per iteration, and {reason} none is freed before it fires. Reuse one "
                "`time.NewTimer` and `Reset` it each iteration."
            ),
            remediation=REMEDIATION,
        )


RULE = Rule(
    id="GR110",
    name="time-after-in-loop",
    severity=Severity.WARNING,
    doc=__doc__,
    check=check,
    imports=("time",),
    in_tests=False,
)
