"""GR401 io-in-init: network or process I/O in `func init()`, directly or through the package's functions.

## What it does
Flags, in `func init()`, HTTP requests (`http.Get/Post/Head/PostForm`, a client's
`Do/Get/Post/Head/PostForm`), dials (`net.Dial*`, `tls.Dial`, `rpc.Dial*`, a `net.Dialer`'s
`Dial`), DNS lookups (`net.Lookup*`), `sql.DB` pings, queries, statements and transactions,
`grpc.Dial` with `grpc.WithBlock()`, `exec.Command(...).Run/Output/CombinedOutput`, and any
client's `Ping`. Calls from `init` into the package's functions (in the files given to the
engine) are followed three functions deep — methods of its types, method values and local
function literals included; the finding is placed on the call in `init` that leads to the
I/O, and its message gives the chain: `init → loadConfig → http.Get`.

## Why is this bad?
`init` runs before `main`, in package dependency order, with no context, no deadline and no
way to report an error except `panic`. A config service that does not answer leaves the
process "started" but blocked in `runtime.main` forever: no listener, no health check, no
log line saying why. A panic there crashes every binary that imports the package, tests
included.

## Example
```go
func init() {
    resp, _ := http.Get("http://config-service/config.json") // may hang forever
    json.NewDecoder(resp.Body).Decode(&globalConfig)
}
```

## Use instead
```go
func main() {
    ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
    defer cancel()
    req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://config-service/config.json", nil)
    if err != nil {
        log.Fatal(err)
    }
    resp, err := http.DefaultClient.Do(req)
    if err != nil {
        log.Fatalf("load config: %v", err)
    }
    defer resp.Body.Close()
    if err := json.NewDecoder(resp.Body).Decode(&globalConfig); err != nil {
        log.Fatalf("decode config: %v", err)
    }
}
```

## Fix safety
No suggestion: moving work out of `init` changes the program's order of initialization.
Registering handlers or flags, building requests and clients (`http.NewRequest`,
`&http.Client{...}`, `sql.Open`, `grpc.Dial` without `WithBlock`, `exec.Command` alone) are not
I/O and are not flagged, nor is anything inside a goroutine `init` starts or a function
literal it only stores or passes on, nor local file I/O (`os.Open`, `os.ReadFile`: a file
answers or fails at once). Receivers are typed by the semantic model (declared types,
constructors, the results of the package's functions); calls into other packages, through
interfaces or through function values it cannot see are not followed.
"""

from __future__ import annotations

from collections.abc import Iterator

from ...finding import Severity
from ...gosource import GoFile
from ...rule import Report, Rule
from ...semantics.effects import REMOTE
from ._initialization import init_chains, reached_through

REMEDIATION = """\
func main() {
    ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
    defer cancel()
    cfg, err := loadConfig(ctx) // a request built with http.NewRequestWithContext
    if err != nil {
        log.Fatalf("load config: %v", err)
    }
    run(cfg)
}"""


def check(file: GoFile) -> Iterator[Report]:
    for chain in init_chains(file, REMOTE):
        yield Report(
            node=chain.site,
            message=(
                f"`init` waits for {chain.effect.detail}{reached_through(chain)} ({chain.text('init')}): it runs before "
                "`main` with no deadline and no way to return an error, so a slow peer hangs the whole process at "
                "start. Do it in `main` under `context.WithTimeout(ctx, 5*time.Second)` and handle the error."
            ),
            remediation=REMEDIATION,
        )


RULE = Rule(
    id="GR401",
    name="io-in-init",
    severity=Severity.ERROR,
    doc=__doc__,
    check=check,
    in_tests=False,
)
