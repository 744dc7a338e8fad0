"""GR103 endless-goroutine: a goroutine loops forever with no way out, or a bare `select {}` outside `main`.

## What it does
Flags a goroutine whose body is a `for { ... }` loop that cannot end: no `return`, no `break`
of that loop, no `goto`, no `panic`/`os.Exit`/`log.Fatal`, no `<-ctx.Done()` or done-channel
(`done`, `quit`, `stop`...) receive and no `v, ok := <-ch` receive that sees a close. The
goroutine may be a literal, a closure started through a variable, or a function or method of
the same file (`go s.loop()`); the `for` line is reported. Goroutines started once for the
life of the process by construction are left alone: in `func init` or `func main`, in a
package-level initializer, in a function a `sync.Once` (`once.Do`, `sync.OnceFunc`) runs, or in
an unexported function or method that only such code calls, outside loops
(`func main() { if err := run(); ... }`, a library's `init` calling `table.startJanitor()`),
and a loop that waits on the process's signals (it receives from a channel the file hands to
`signal.Notify`): the signals are how the process ends. In `package main` the loop is info
(annotated, not commented): a command's background loops usually live as long as the
process by design (read on real commits, they were), while a library's callers cannot stop
them. Also flags a bare `select {}` anywhere but in `func main`: an error in a goroutine's body, a warning
elsewhere, where parking the caller for good may be deliberate (a debug flag, a fatal
state).

## Why is this bad?
Such a goroutine lives as long as the process: nothing can stop it. Started once per
request, per connection or per test, they accumulate; even started once, they keep running
after the component that owns them is closed, holding its memory, connections and timers.
`select {}` blocks forever: in `main` it parks the process on purpose, anywhere else it
leaks the goroutine that runs it.

## Example
```go
go func() {
    for {
        item := <-queue
        process(item)
    }
}()
```

## Use instead
```go
go func() {
    for {
        select {
        case item := <-queue:
            process(item)
        case <-ctx.Done():
            return
        }
    }
}()
```

## Fix safety
No suggestion. Any call that can end the goroutine (a `return` after a failed `Accept`, a
labeled `break`, a stop-channel receive recognised by its name) counts as a way out, so the
rule is silent on loops whose exit syntax cannot see only when there is truly none.
"""

from __future__ import annotations

from collections.abc import Iterator

from tree_sitter import Node

from ...finding import Severity
from ...goroutines import goroutines, running_goroutine, started_once
from ...gosource import GoFile
from ...rule import Report, Rule
from ...semantics.package import package_clause
from ...syntax import declaration_name, enclosing_declaration, is_inside, qualified_name, select_cases
from ._goroutines import has_way_out

REMEDIATION = """\
go func() {
    for {
        select {
        case item := <-queue:
            process(item)
        case <-ctx.Done():
            return // the owner can stop it
        }
    }
}()"""


def _top_level_statements(function):
    body = function.child_by_field_name("body")
    statements = (
        next((c for c in body.named_children if c.type == "statement_list"), None) if body is not None else None
    )
    return statements.named_children if statements is not None else []


def _serves_signals(file: GoFile, loop: Node) -> bool:
    """Whether the loop waits on the process's signals: it receives from a channel that the
    file hands to `signal.Notify` (`signal.Notify(srv.sigChan, syscall.SIGTERM)`, then
    `sig := <-srv.sigChan`). Such a handler lives as long as the process by design: the
    signals it waits for are how the process ends."""
    notified = {
        file.text(arguments.named_children[0])
        for call in file.nodes("call_expression")
        if qualified_name(file, call) == "os/signal.Notify"
        and (arguments := call.child_by_field_name("arguments")) is not None
        and arguments.named_children
    }
    if not notified:
        return False
    for receive in file.nodes("unary_expression", within=loop):
        operator, operand = receive.child_by_field_name("operator"), receive.child_by_field_name("operand")
        if operator is not None and operator.type == "<-" and operand is not None and file.text(operand) in notified:
            return True
    return False


def check(file: GoFile) -> Iterator[Report]:
    seen = set()
    # In a command (`package main`) a background loop usually lives as long as the process
    # by design: info there, an error in a library, whose callers cannot stop it.
    severity = Severity.INFO if package_clause(file) == "main" else None
    for goroutine in goroutines(file):
        if goroutine.body is None:
            continue
        endless = [
            statement
            for statement in _top_level_statements(goroutine.body)
            if statement.type == "for_statement"
            and statement not in seen
            and not has_way_out(file, statement)
            and not _serves_signals(file, statement)
        ]
        if not endless or started_once(file, goroutine.statement):  # asked last: it reads the package
            continue
        for statement in endless:
            seen.add(statement)
            yield Report(
                node=statement,
                message=(
                    f"The goroutine started at line {file.line(goroutine.statement)} loops forever: this `for` has no "
                    "`return`, `break`, `<-ctx.Done()` case or close-aware receive, so nothing can stop it. Exit on "
                    "`<-ctx.Done()` or a done channel."
                ),
                remediation=REMEDIATION,
                severity=severity,
            )
    for select in file.nodes("select_statement"):
        if select_cases(select) or declaration_name(file, enclosing_declaration(select, file)) == "main":
            continue
        in_goroutine = running_goroutine(file, select) is not None or any(
            g.body is not None and is_inside(select, g.body) for g in goroutines(file)
        )
        yield Report(
            node=select,
            message=(
                "`select {}` blocks forever: outside `main` the goroutine that runs it can never be stopped. Wait "
                "on `<-ctx.Done()` instead."
            ),
            remediation="<-ctx.Done() // instead of select {}: returns when the owner cancels",
            severity=None if in_goroutine else Severity.WARNING,
        )


RULE = Rule(
    id="GR103",
    name="endless-goroutine",
    severity=Severity.ERROR,
    doc=__doc__,
    check=check,
    in_tests=False,
)
