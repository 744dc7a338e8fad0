"""GR109 unstopped-ticker: a `time.NewTicker`/`NewTimer` never stopped, or `time.Tick` outside `main` (before Go 1.23).

## What it does
When the module's `go.mod` says `go 1.22` or older, flags `t := time.NewTicker(d)` and
`t := time.NewTimer(d)` whose variable is never stopped (`t.Stop()`, deferred or not) in the
function, its closures and goroutines included, and is not returned, stored or handed on
(any use other than `t.C`, `t.Reset`...; handed to a goroutine the function starts, `go
e.sweep(ctx, t)`, it is that goroutine's to stop). Also flags `time.Tick` outside `func main`, unless
it drives a `for range` loop that nothing leaves (a `panic` or `log.Fatal` in it ends the
process, not the loop), or its function never returns (a `for { select { ... } }` poller
whose `break` only leaves the `select`): its ticker lives exactly as long as the loop.
Silent from Go 1.23, and when the version is unknown. A tree with no go.mod at all builds
in GOPATH mode, which keeps Go 1.20's runtime defaults: the rule speaks there too. A timer is
info (annotated, not commented): it is freed once it fires, so it holds its memory for one
delay, where a ticker holds it for good; and a timer whose creation is followed at once by a
wait for it (`<-t.C`, or a `select` with that one case) is not flagged: it has fired by then.

## Why is this bad?
Before Go 1.23 the runtime keeps every active timer and ticker until it is stopped: an
unstopped ticker is never collected, nor is the goroutine blocked on it, and it keeps firing
— each call of the function adds one for the life of the process. `time.Tick` cannot be
stopped at all. Since Go 1.23 the garbage collector frees unreferenced timers and tickers,
which is why the rule reads the module's `go` directive.

## Example
```go
func poll(ctx context.Context) {
    t := time.NewTicker(time.Second)
    for {
        select {
        case <-t.C:
            refresh()
        case <-ctx.Done():
            return // the ticker keeps running
        }
    }
}
```

## Use instead
```go
func poll(ctx context.Context) {
    t := time.NewTicker(time.Second)
    defer t.Stop()
    ...
}
```

## Fix safety
No suggestion: where to stop depends on who owns the ticker. A ticker assigned to a field or
handed to another function is left alone: its owner may stop it.
"""

from __future__ import annotations

from collections.abc import Iterator

from tree_sitter import Node

from ...finding import Severity
from ...gosource import GoFile
from ...rule import Report, Rule
from ...semantics import package_of
from ...semantics.ownership import STOP, bound_results
from ...syntax import declaration_name, enclosing_declaration, enclosing_function, qualified_calls, select_cases

CONSTRUCTORS = frozenset({"time.NewTicker", "time.NewTimer"})

REMEDIATION = """\
t := time.NewTicker(time.Second)
defer t.Stop() // before Go 1.23 an unstopped ticker is never freed"""


def _ticks_forever(file: GoFile, call: Node) -> bool:
    """`for range time.Tick(d)` in a loop nothing else leaves (a `panic` or `log.Fatal` in it
    ends the process, not the loop), or a `time.Tick` in a function that never returns
    (`for { select { case <-tick: ... } }`): the ticker lives exactly as long as the loop,
    which is meant to run for the life of the process."""
    function = enclosing_function(call, file)
    if function is None:
        return False
    cfg = package_of(file).cfg(file, function)
    if not cfg.reaches_exit():
        return True
    clause = file.parent(call)
    loop = file.parent(clause) if clause is not None and clause.type == "range_clause" else None
    return loop is not None and not cfg.can_leave(loop, range_ends=False, aborts=False)


def _awaited_at_once(file: GoFile, statement: Node, name: str) -> bool:
    """Whether the statement after the timer's creation waits for it to fire: a bare
    `<-t.C`, or a `select` whose one case receives from it. The timer has fired by then,
    and the runtime holds nothing more."""
    following = statement.next_named_sibling
    while following is not None and following.type == "comment":
        following = following.next_named_sibling
    if following is None:
        return False
    wanted = f"<-{name}.C"
    if following.type == "expression_statement":
        return file.text(following).strip() == wanted
    if following.type == "select_statement":
        cases = select_cases(following)
        communication = cases[0].child_by_field_name("communication") if len(cases) == 1 else None
        return communication is not None and file.text(communication).strip() == wanted
    return False


def check(file: GoFile) -> Iterator[Report]:
    if file.runtime_version is None or file.runtime_version >= (1, 23):
        return
    reason = file.runtime_reason()
    package = package_of(file)
    for call in qualified_calls(file, file.root, CONSTRUCTORS | {"time.Tick"}):
        function = call.child_by_field_name("function")
        if function is not None and file.text(function).endswith("Tick"):
            if declaration_name(file, enclosing_declaration(call, file)) != "main" and not _ticks_forever(file, call):
                yield Report(
                    node=call,
                    message=(
                        f"`{file.text(call)}` makes a ticker that can never be stopped: {reason} it "
                        "lives for the rest of the process. Use `time.NewTicker` and `defer t.Stop()`."
                    ),
                    remediation=REMEDIATION,
                )
            continue
        bound = bound_results(package, file, call)
        result = bound.results[0] if bound is not None and len(bound.results) == 1 else None
        if bound is None or result is None or result.binding is None or result.shape is not STOP:
            continue  # stored in a field, returned or passed on: its holder stops it
        if not result.binding.is_local or bound.owned(package, result).ever_released_or_moved():
            continue
        name = result.binding.name
        kind = "ticker" if function is not None and "Ticker" in file.text(function) else "timer"
        if kind == "timer" and _awaited_at_once(file, bound.statement, name):
            continue
        # A timer is freed once it fires: it holds its memory for one delay, a ticker forever.
        keeps = "firing until it is stopped" if kind == "ticker" else "until it fires"
        yield Report(
            node=call,
            message=(
                f"The {kind} `{name}` is never stopped, returned or stored: {reason} the runtime "
                f"keeps it {keeps}. Add `defer {name}.Stop()`."
            ),
            remediation=REMEDIATION,
            severity=None if kind == "ticker" else Severity.INFO,
            names={"t": name},
        )


RULE = Rule(
    id="GR109",
    name="unstopped-ticker",
    severity=Severity.WARNING,
    doc=__doc__,
    check=check,
    imports=("time",),
    in_tests=False,
)
