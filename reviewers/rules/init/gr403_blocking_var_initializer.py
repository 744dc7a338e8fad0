"""GR403 blocking-var-initializer: a package-level `var` whose initializer does I/O or waits.

## What it does
Flags a package-level `var x = f()` whose value does what GR401 or GR402 flag in `init`
(an HTTP request, a dial, a database round trip, a child process, a sleep, a channel wait),
directly or through the package's functions and methods, followed three functions deep. The
finding is placed on the `var` and names the chain: `var config → loadConfig → http.Get`.

## Why is this bad?
Package-level initializers run before `init` and `main`, exactly like `init`: no context,
no deadline, no error to return. A peer that does not answer hangs the process before it
logs anything, and every binary importing the package — tests included — pays for it.

## Example
```go
var config = loadConfig() // loadConfig calls http.Get
```

## Use instead
```go
var config = sync.OnceValues(func() (*Config, error) {
    ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
    defer cancel()
    return loadConfig(ctx)
})
```

## Fix safety
No suggestion: the variable's users must change too. A function literal stored in the
variable (`var load = func() {...}`) is not run by the initializer and is not flagged, nor
is building a client (`&http.Client{...}`, `sql.Open`). Receivers are typed by the semantic
model; calls into other packages are not followed.
"""

from __future__ import annotations

from collections.abc import Iterator

from ...finding import Severity
from ...gosource import GoFile
from ...rule import Report, Rule
from ...semantics.effects import REMOTE, WAIT
from ._initialization import initializer_chains, reached_through

REMEDIATION = """\
var config = sync.OnceValues(func() (*Config, error) {
    ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
    defer cancel()
    return loadConfig(ctx) // runs on first use, with a deadline
})"""


def check(file: GoFile) -> Iterator[Report]:
    for initializer, chain in initializer_chains(file, REMOTE | {WAIT}):
        yield Report(
            node=initializer.spec,
            message=(
                f"Package-level `{initializer.label}` is initialized with {chain.effect.detail}"
                f"{reached_through(chain)} ({chain.text(initializer.label)}): it runs before `main` with no deadline "
                "and no error to return. "
                "Initialize it lazily (`sync.OnceValues`) or in `main` with a timeout."
            ),
            remediation=REMEDIATION,
        )


RULE = Rule(
    id="GR403",
    name="blocking-var-initializer",
    severity=Severity.ERROR,
    doc=__doc__,
    check=check,
    in_tests=False,
)
