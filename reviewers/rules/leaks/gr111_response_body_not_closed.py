"""GR111 response-body-not-closed: an `*http.Response` whose Body is never closed.

## What it does
Flags an `*http.Response` — from `http.Get`, `Post`, `Head`, `PostForm`, a client's `Do`,
`Get`, `Post`, `Head`, `PostForm`, a `RoundTrip`, a function of the package that returns
one, or any call whose result's `Body` is then read or closed — whose `Body` is never
closed in the function and that is not returned, stored or handed to another function.
Reading the body with `io.ReadAll`, `io.Copy`, `json.NewDecoder` or `bufio.NewReader` is
not handing it on: they do not close it. A response thrown away (`http.Get(url)` as a
statement, or `_, err := http.Get(url)`) is flagged too.

It is a warning when the body is closed or handed on along some paths, but an exit after
the error check skips that: a `return` on a bad status code placed before the
`defer resp.Body.Close()`, a `continue` in a loop that closes at the end of the iteration.

## Why is this bad?
Until its body is closed, a response holds its connection: the transport can neither reuse
it nor free it, and the goroutines that read and write it (two per connection) stay
parked. A service that leaks one body per failed request runs out of file descriptors or
ports under load, and its goroutine count climbs with every error.

## Example
```go
resp, err := client.Do(req)
if err != nil {
    return err
}
if resp.StatusCode != http.StatusOK {
    return fmt.Errorf("fetch: %s", resp.Status) // the body is never closed on this path
}
defer resp.Body.Close()
```

## Use instead
```go
resp, err := client.Do(req)
if err != nil {
    return err
}
defer resp.Body.Close()
if resp.StatusCode != http.StatusOK {
    return fmt.Errorf("fetch: %s", resp.Status)
}
```

## Fix safety
When the body is never closed and the call is followed by `if err != nil { ... return }`
outside any loop, the suggestion adds `defer resp.Body.Close()` after that check. A
response passed to another function (`decode(resp)`), returned or stored is that code's
business, and the rule stays silent: syntax cannot tell whether the callee closes it. A
`Do`, `Get` or `Post` method counts only when its receiver is declared as an
`*http.Client`, `http.RoundTripper` or `*http.Transport`, or the response's body is read
or closed: other clients have methods of those names.
"""

from __future__ import annotations

from collections.abc import Iterator

from tree_sitter import Node

from ...finding import Severity
from ...gosource import GoFile, captures
from ...rule import Report, Rule
from ...syntax import call_method_name, calls_in, qualified_name, receiver_type
from ._resources import READERS, Resource, assigned_names, declared_as, defer_close_fix, describe_leak, lifetime
from ._types import type_index

HTTP_FUNCTIONS = frozenset({"net/http.Get", "net/http.Post", "net/http.Head", "net/http.PostForm"})
CLIENT_METHODS = frozenset({"Do", "Get", "Post", "Head", "PostForm"})
HTTP_CLIENTS = frozenset({"net/http.Client", "net/http.Transport", "net/http.RoundTripper"})
DEFAULT_CLIENTS = frozenset({"net/http.DefaultClient", "net/http.DefaultTransport"})

REMEDIATION = """\
resp, err := client.Do(req)
if err != nil {
    return err
}
defer resp.Body.Close() // before any other return
if resp.StatusCode != http.StatusOK {
    return fmt.Errorf("fetch: %s", resp.Status)
}"""


def _response_functions(file: GoFile) -> frozenset[str]:
    """The package's functions (`fetch`) and methods (`Client.get`) whose first result is an
    *http.Response."""

    def build() -> frozenset[str]:
        names = set()
        for other in file.package_files:
            if b"*http.Response" not in other.source:
                continue  # what the result's type must read
            for function in other.nodes("function_declaration") + other.nodes("method_declaration"):
                result = function.child_by_field_name("result")
                if result is None:
                    continue
                first = (
                    result.named_children[0] if result.type == "parameter_list" and result.named_children else result
                )
                type_node = first.child_by_field_name("type") if first.type == "parameter_declaration" else first
                if type_node is None or other.text(type_node) != "*http.Response":
                    continue
                name = other.text(function.child_by_field_name("name"))
                owner = receiver_type(other, function) if function.type == "method_declaration" else None
                names.add(f"{owner}.{name}" if owner else name)
        return frozenset(names)

    return file.package_cached("leaks.response_functions", build)


def _is_response_call(file: GoFile, call: Node) -> bool:
    """A call that certainly returns an *http.Response."""
    if qualified_name(file, call) in HTTP_FUNCTIONS:
        return True
    name = call_method_name(file, call)
    function = call.child_by_field_name("function")
    if function.type == "identifier":
        return name in _response_functions(file)  # a wrapper of the package: `fetch(ctx, url)`
    if function.type != "selector_expression":
        return False
    if name == "RoundTrip":
        return True
    operand = function.child_by_field_name("operand")
    owner = type_index(file).type_name_of(operand)
    if owner is not None:
        return f"{owner}.{name}" in _response_functions(file)  # a method of a wrapper type
    if name in CLIENT_METHODS:
        if qualified_name(file, operand) in DEFAULT_CLIENTS:
            return True
        return declared_as(file, type_index(file).declared_type(operand), HTTP_CLIENTS)
    return False


def _body_is_a_reader(file: GoFile, function: Node, name: str, after: int) -> bool:
    """Whether `name.Body` is later closed, read, or handed to a reader like io.ReadAll."""
    for selector in captures(
        "(selector_expression operand: (identifier) @v field: (field_identifier) @f) @s", function
    ).get("s", []):
        if selector.start_byte < after or file.text(selector) != f"{name}.Body":
            continue
        parent = selector.parent
        if parent.type == "selector_expression" and file.text(parent.child_by_field_name("field")) in ("Close", "Read"):
            return True
        if parent.type == "argument_list" and qualified_name(file, parent.parent) in READERS:
            return True
    return False


def check(file: GoFile) -> Iterator[Report]:
    for call in calls_in(file, file.root):
        report = _check_call(file, call)
        if report is not None:
            yield report


def _check_call(file: GoFile, call: Node) -> Report | None:
    certain = _is_response_call(file, call)
    shown = file.text(call.child_by_field_name("function"))
    parent = call.parent
    if parent is not None and parent.type in ("expression_statement", "go_statement") and certain:
        return Report(
            call,
            f"The response of `{shown}(...)` is discarded: its Body is never closed, so its connection leaks.",
            REMEDIATION,
        )
    assigned = assigned_names(file, call)
    if assigned is None:
        return None  # returned, passed on, or part of a larger expression
    statement, names = assigned
    if not names or names[0].type != "identifier":
        return None  # stored in a field, a map or a slice
    name = file.text(names[0])
    if name == "_":
        if certain:
            return Report(
                call,
                f"The response of `{shown}(...)` is assigned to `_`: its Body is never closed, so its connection leaks.",
                REMEDIATION,
            )
        return None
    function = statement
    while function is not None and function.type not in ("function_declaration", "method_declaration", "func_literal"):
        function = function.parent
    if function is None:
        return None
    if not certain and not (
        f"{name}.Body" in file.text(function) and _body_is_a_reader(file, function, name, statement.end_byte)
    ):
        return None
    error = file.text(names[1]) if len(names) > 1 and names[1].type == "identifier" else None
    resource = Resource(name, error, field="Body")
    life = lifetime(file, resource, statement)
    if not life.leaks:
        return None
    if life.released_somewhere:
        return Report(
            call,
            f"`{name}.Body` from `{shown}(...)` is closed on some paths only: {describe_leak(file, life.leaks[0])} "
            f"leaves it open. Close it right after the error check (`defer {name}.Body.Close()`).",
            REMEDIATION,
            severity=Severity.WARNING,
        )
    return Report(
        call,
        f"`{name}.Body` from `{shown}(...)` is never closed: its connection and the goroutines serving it leak. "
        f"Add `defer {name}.Body.Close()` after the error check.",
        REMEDIATION,
        fix=defer_close_fix(file, resource, statement),
    )


RULE = Rule(
    id="GR111",
    name="response-body-not-closed",
    severity=Severity.ERROR,
    doc=__doc__,
    check=check,
    imports=("net/http",),
)
