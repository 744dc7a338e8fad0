"""GR402 wait-in-init: `func init()` sleeps or waits, directly or through the package's functions.

## What it does
Flags, in `func init()`, `time.Sleep`, a channel receive (`<-ch`, `range ch`), a send on a
channel not known to be buffered, a `select` without `default`, `Wait` on a
`sync.WaitGroup`, `sync.Cond` or `errgroup.Group`, and a mutex locked again where `init`
surely holds it (`RLock` then `Lock`: a deadlock). Calls from `init` into the package's
functions, methods and local function literals are followed three functions deep; the
finding is placed on the call in `init` that leads to the wait, with the chain in the
message: `init → waitForDB → time.Sleep`.

## Why is this bad?
Nothing can cancel `init`: a wait for a signal that never comes (a goroutine that fails,
a peer that is down) freezes the process before `main`, and a sleep delays every start —
of the service, and of every test binary that imports the package.

## Example
```go
func init() {
    go warmUp(ready)
    <-ready // init cannot time out
}
```

## Use instead
```go
func main() {
    ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
    defer cancel()
    go warmUp(ready)
    select {
    case <-ready:
    case <-ctx.Done():
        log.Fatal("warm-up timed out")
    }
}
```

## Fix safety
No suggestion. A goroutine that `init` starts may wait as it likes: it does not block `init`
(it is GR1xx's business whether it leaks). A `select` with a `default` case and a send on a
channel made buffered (`make(chan T, n)`) are not waits, nor is a lock taken again after
an unlock, on another branch, or after a call of the package's that may release it.
Receivers are typed by the semantic model; calls into other packages are not followed.
"""

from __future__ import annotations

from collections.abc import Iterator

from ...finding import Severity
from ...gosource import GoFile
from ...rule import Report, Rule
from ...semantics.effects import WAIT
from ._initialization import init_chains, reached_through

REMEDIATION = """\
func main() {
    ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
    defer cancel()
    select {
    case <-ready:
    case <-ctx.Done():
        log.Fatal("not ready after 5s")
    }
}"""


def check(file: GoFile) -> Iterator[Report]:
    for chain in init_chains(file, (WAIT,)):
        yield Report(
            node=chain.site,
            message=(
                f"`init` blocks on {chain.effect.detail}{reached_through(chain)} ({chain.text('init')}): nothing can "
                "cancel `init`, so the process stalls before `main` until it returns. Wait in `main`, with a "
                "timeout (`context.WithTimeout(ctx, 5*time.Second)`)."
            ),
            remediation=REMEDIATION,
        )


RULE = Rule(
    id="GR402",
    name="wait-in-init",
    severity=Severity.ERROR,
    doc=__doc__,
    check=check,
    in_tests=False,
)
