"""GR109 unstopped-ticker: a `time.NewTicker`/`NewTimer` never stopped, or `time.Tick` outside `main` (before Go 1.23).

## What it does
When the module's `go.mod` says `go 1.22` or older, flags `t := time.NewTicker(d)` and
`t := time.NewTimer(d)` whose variable is never stopped (`t.Stop()`, deferred or not) in the
function, its closures and goroutines included, and is not returned, stored or handed on
(any use other than `t.C`, `t.Reset`...). Also flags `time.Tick` outside `func main`.
Silent from Go 1.23, and when the version is unknown.

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
from ...gosource import GoFile, captures
from ...rule import Report, Rule
from ...syntax import declaration_name, enclosing_declaration, enclosing_function, qualified_calls

CONSTRUCTORS = frozenset({"time.NewTicker", "time.NewTimer"})

REMEDIATION = """\
t := time.NewTicker(time.Second)
defer t.Stop() // before Go 1.23 an unstopped ticker is never freed"""


def _assigned_name(file: GoFile, call: Node) -> str | None:
    """`t` for `t := time.NewTicker(d)` (or `=`, `var t = ...`); None when stored elsewhere."""
    values = call.parent
    statement = values.parent if values is not None and values.type == "expression_list" else None
    if statement is None or len(values.named_children) != 1:
        return None
    names = (
        statement.child_by_field_name("left").named_children
        if statement.type in ("short_var_declaration", "assignment_statement")
        else statement.children_by_field_name("name")
        if statement.type == "var_spec"
        else []
    )
    return (
        file.text(names[0])
        if len(names) == 1 and names[0].type == "identifier" and file.text(names[0]) != "_"
        else None
    )


def _released(file: GoFile, name: str, function: Node) -> bool:
    """Stopped, returned, stored or handed on: any use of `t` other than `t.C`, `t.Reset(...)`."""
    for identifier in captures("(identifier) @id", function).get("id", []):
        if file.text(identifier) != name:
            continue
        parent = identifier.parent
        if parent.type == "var_spec":
            continue  # its declaration
        if parent.type == "selector_expression" and parent.child_by_field_name("operand") == identifier:
            if file.text(parent.child_by_field_name("field")) == "Stop":
                return True
            continue
        if (
            parent.type == "expression_list"
            and parent.parent is not None
            and parent.parent.type in ("short_var_declaration", "assignment_statement")
            and parent == parent.parent.child_by_field_name("left")
        ):
            continue  # assigned again
        return True
    return False


def check(file: GoFile) -> Iterator[Report]:
    if file.go_version is None or file.go_version >= (1, 23):
        return
    version = ".".join(map(str, file.go_version))
    for call in qualified_calls(file, file.root, CONSTRUCTORS | {"time.Tick"}):
        if file.text(call.child_by_field_name("function")).endswith("Tick"):
            if declaration_name(file, enclosing_declaration(call)) != "main":
                yield Report(
                    node=call,
                    message=(
                        f"`{file.text(call)}` makes a ticker that can never be stopped: with `go {version}` in go.mod it "
                        "lives for the rest of the process. Use `time.NewTicker` and `defer t.Stop()`."
                    ),
                    remediation=REMEDIATION,
                )
            continue
        name = _assigned_name(file, call)
        function = enclosing_function(call)
        if name is None or function is None or _released(file, name, function):
            continue
        kind = "ticker" if "Ticker" in file.text(call.child_by_field_name("function")) else "timer"
        yield Report(
            node=call,
            message=(
                f"The {kind} `{name}` is never stopped, returned or stored: with `go {version}` in go.mod the runtime "
                f"keeps it {'firing ' if kind == 'ticker' else ''}until it is stopped. Add `defer {name}.Stop()`."
            ),
            remediation=REMEDIATION,
        )


RULE = Rule(
    id="GR109",
    name="unstopped-ticker",
    severity=Severity.WARNING,
    doc=__doc__,
    check=check,
    imports=("time",),
)
