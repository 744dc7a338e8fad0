"""GR111 response-body-not-closed: an `*http.Response` whose Body is never closed.

## What it does
Flags an `*http.Response` — from `http.Get`, `Post`, `Head`, `PostForm`, a client's `Do`,
`Get`, `Post`, `Head`, `PostForm`, a `RoundTrip`, a function of the package that returns
a live one, or any call whose result's `Body` is then read or closed — whose `Body` is never
closed in the function and that is not returned, stored or handed to another function.
Reading the body with `io.ReadAll`, `io.Copy`, `json.NewDecoder` or `bufio.NewReader` is
not handing it on: they do not close it. A response thrown away (`http.Get(url)` as a
statement, or `_, err := http.Get(url)`) is flagged too, unless the code expects the call
to fail: `if _, err := http.Get(url); err == nil { t.Fatal("want an error") }`, or the same
check as the statement right after the call, ends the only path on which a response exists. So does a test's assertion, as a statement of its
own, that the call's error is set (`resp, err := c.Do(req)`, then `require.Error(t, err)`
or `assert.ErrorIs(t, err, context.DeadlineExceeded)`): a call that fails hands back no
response to close, and past the assertion one exists only in a test that has failed.

A function of the package returns a live response when every response it returns comes
from those library calls (or another such function) and is not closed in it: a helper that
closes the body on some path (`if o.NoResponse { resp.Body.Close() }`) may hand back a
closed one, so its callers are not blamed. In test code (a `_test.go` file, a `tests/`
directory) the finding is info
(annotated, not commented): the connection lives as long as the test process, and read on
real commits, a test suite's requests to its own server came by the dozen. There only a
call the review can type (the library's, or a function of the package) is followed: a call
of unknown type whose `Body` is read is mostly a framework's in-memory test harness
(`app.Test(req)`), whose response holds no connection. A test of a package whose tests declare a
stand-in transport (a `RoundTrip` that returns `&http.Response{Body: http.NoBody}`, itself
or through a helper, or a func adapter `return f(req)` in tests that build such responses) and that
calls `RoundTrip` on anything but an `*http.Transport` is exercising a wrapper around that
stand-in: its response holds no connection, and it is not flagged.

It is a warning when the body is closed or handed on along some paths, but an exit after
the error check skips that: a `return` on a bad status code placed before the
`defer resp.Body.Close()`, a `continue` in a loop that closes at the end of the iteration,
a `return` on the error of the `io.ReadAll` that reads the body (once `err` holds that
error, its check no longer means "there is no response").

A response from `http.ReadResponse` (directly or through a variable holding it) is read
from a reader the code owns, a buffer or a connection it dialed: it holds no transport's
connection, and is not flagged.

A file need not import net/http to hold a response: a `RoundTrip` on a transport field
declared in another file, or a function of the package that returns a live one, hands it
one all the same.

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

```go
resp, err := p.transport.RoundTrip(req)
if err != nil {
    return err
}
b, err := io.ReadAll(resp.Body)
if err != nil {
    return err // the body stays open
}
resp.Body.Close()
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
from dataclasses import replace

from tree_sitter import Node

from ...finding import Severity
from ...gosource import GoFile, occurrences
from ...rule import Report, Rule
from ...semantics import Binding, Package, package_of
from ...semantics.ownership import BODY_CLOSE, READERS, Owned, bound_results
from ...semantics.package import Declared
from ...syntax import call_method_name, own_nodes, qualified_name, unparen
from ._resources import defer_close_fix, describe_leak

REMEDIATION = """\
resp, err := client.Do(req)
if err != nil {
    return err
}
defer resp.Body.Close() // before any other return
if resp.StatusCode != http.StatusOK {
    return fmt.Errorf("fetch: %s", resp.Status)
}"""


def _returns_response(package: Package, file: GoFile, call: Node) -> bool | None:
    """True when the call's first result is a live `*http.Response`, False when it is known
    to be something else (an `httptest` recorder's, a value of another type), None when the
    package cannot tell."""
    called = package.type_of(file, call)
    if called is None:
        return None
    first = called.result(0) if called.kind == "tuple" else called
    return first is not None and first.kind == "pointer" and first.is_named("net/http.Response") and not first.detached


def _closes_body(package: Package, file: GoFile, binding: Binding) -> bool:
    """Whether the function closes `binding`'s Body somewhere (`resp.Body.Close()`)."""
    for reference in package.references(binding):
        selector = reference.parent
        outer = selector.parent if selector is not None else None
        if outer is not None and file.text(outer) == f"{binding.name}.Body.Close":
            return True
    return False


def _hands_back_live(package: Package, function: Declared, seen: frozenset[int] = frozenset()) -> bool:
    """Whether a function of the package returns a response whose body is still open: every
    response it returns comes from the library's calls (or from such a function of the
    package) and is not closed in it first. A helper that closes the body on some path
    (`if o.NoResponse { resp.Body.Close() }`), or passes on a response from a package the
    review cannot read, may return a closed one: its callers are not to blame."""
    if function.node.id in seen:
        return False
    seen = seen | {function.node.id}
    file = function.file
    returns = own_nodes(file, function.node, ("return_statement",))
    if not returns:
        return False
    for statement in returns:
        values = statement.named_children[0].named_children if statement.named_children else []
        value = unparen(values[0]) if values else None
        if value is None or value.type == "nil":
            continue
        if value.type == "call_expression":
            if not _live_from(package, file, value, seen):
                return False
            continue
        binding = package.binding(file, value) if value.type == "identifier" else None
        if binding is None or not binding.is_local or _closes_body(package, file, binding):
            return False
        for assignment in package.assignments(binding):
            made = unparen(assignment.value) if assignment.value is not None else None
            if made is None or made.type != "call_expression" or not _live_from(package, file, made, seen):
                return False
    return True


def _live_from(package: Package, file: GoFile, call: Node, seen: frozenset[int]) -> bool:
    declared = package.facts.callee(file, call)
    if declared is not None:
        return _hands_back_live(package, declared, seen)
    return call_method_name(file, call) in RESPONSE_CALLS and _returns_response(package, file, call) is True


def _body_is_read(owned: Owned) -> bool:
    """Whether the result's `Body` is later closed or read like a response's (`io.ReadAll`):
    what marks a call of unknown type as one that returns a response."""
    file = owned.file
    for reference in owned.references():
        selector = reference.parent
        if (
            selector is None
            or selector.type != "selector_expression"
            or file.text(selector) != f"{owned.binding.name}.Body"
        ):
            continue
        parent = selector.parent
        if parent is not None and parent.type == "selector_expression":
            field_node = parent.child_by_field_name("field")
            if field_node is not None and file.text(field_node) in ("Close", "Read"):
                return True
        call = parent.parent if parent is not None and parent.type == "argument_list" else None
        function = call.child_by_field_name("function") if call is not None else None
        if call is not None and function is not None and qualified_name(file, call) in READERS:
            return True
    return False


# Calls of the library that return a response, by the name called.
RESPONSE_CALLS = frozenset({"Get", "Post", "Head", "PostForm", "Do", "RoundTrip"})


def _response_candidates(package: Package, file: GoFile) -> list[Node]:
    """The file's calls worth typing, in source order: those of a name of the library that
    returns a response or of a function or method of the package whose results spell one,
    and every call in a declaration that reads some `Body` (the way a call of unknown type
    shows it returned a response). A name is found by its text: a call of it is one whose
    callee (`Get` or `c.Get`) ends where the name does."""
    names = RESPONSE_CALLS | _response_names(package)
    ends = {at + len(name) for name in names for at in occurrences(file.source, name.encode())}
    reading = _reading_bodies(file)

    def named(call: Node) -> bool:
        function = call.child_by_field_name("function")
        return function is not None and function.end_byte in ends and function.type in _NAMED_CALLEES

    def in_reading(call: Node) -> bool:
        top = file.top_level(call) if reading else None
        return top is not None and top.id in reading

    return [call for call in file.nodes("call_expression") if named(call) or in_reading(call)]


# The callees whose last name `call_method_name` gives: `Get`, `c.Get`.
_NAMED_CALLEES = ("identifier", "selector_expression")


def _reading_bodies(file: GoFile) -> set[int]:
    """The top-level declarations of the file that read some `.Body`, found once for the
    file (asking each call's declaration again would read it once per call)."""

    def build() -> set[int]:
        tops = (file.top_level_at(at, at + len(b".Body")) for at in occurrences(file.source, b".Body"))
        return {top.id for top in tops if top is not None}

    return file.cached("gr111.reading_bodies", build)


def _response_names(package: Package) -> frozenset[str]:
    """Names of the package's functions and methods whose results mention a `Response`."""

    def build() -> frozenset[str]:
        declared = [*package.functions.items(), *((name, d) for (_, name), d in package.methods.items())]
        found = set()
        for name, declaration in declared:
            result = declaration.node.child_by_field_name("result")
            if result is not None and b"Response" in declaration.file.source[result.start_byte : result.end_byte]:
                found.add(name)
        return frozenset(found)

    return package.files[0].package_cached("gr111.response_names", build)


def _reaches_without_import(package: Package, file: GoFile, call: Node) -> bool:
    """In a file that does not import net/http, the calls that can still hand it a response:
    a `RoundTrip` (the `http.RoundTripper` method, on a field or value declared in another
    file) and the package's own functions, which the facts follow."""
    return call_method_name(file, call) == "RoundTrip" or package.facts.callee(file, call) is not None


def check(file: GoFile) -> Iterator[Report]:
    imported = file.imports_path("net/http")
    if not imported and b"RoundTrip" not in file.source and b".Body" not in file.source:
        return  # no response can be named here
    package = package_of(file)
    testing = file.is_test
    for call in _response_candidates(package, file):
        if testing and _reaches_stand_in(package, file, call):
            continue
        if not imported and not _reaches_without_import(package, file, call):
            continue
        report = _check_call(package, file, call, testing)
        if report is not None and testing:
            report = replace(report, severity=Severity.INFO)
        if report is not None:
            yield report


def _reaches_stand_in(package: Package, file: GoFile, call: Node) -> bool:
    """Whether a `RoundTrip` of a test reaches the stand-in transport its package's tests
    declare: called on something not known to be a real `*http.Transport`."""
    if call_method_name(file, call) != "RoundTrip" or not package.facts.stubs_transport:
        return False
    function = call.child_by_field_name("function")
    operand = function.child_by_field_name("operand") if function is not None else None
    receiver = package.type_of(file, operand) if operand is not None else None
    return receiver is None or not receiver.is_named("net/http.Transport")


def _check_call(package: Package, file: GoFile, call: Node, testing: bool = False) -> Report | None:
    certain = _returns_response(package, file, call)
    if certain is False or (testing and certain is None and package.facts.callee(file, call) is None):
        return None  # in a test, a call of unknown type is mostly an in-memory harness (`app.Test(req)`)
    declared = package.facts.callee(file, call)
    if declared is not None and not _hands_back_live(package, declared):
        return None
    function = call.child_by_field_name("function")
    shown = file.text(function) if function is not None else "call"
    parent = file.parent(call)
    if certain and parent is not None and parent.type in ("expression_statement", "go_statement"):
        return Report(
            call,
            f"The response of `{shown}(...)` is discarded: its Body is never closed, so its connection leaks.",
            REMEDIATION,
        )
    bound = bound_results(package, file, call)
    if bound is None or not bound.results:
        return None  # returned, passed on, or part of a larger expression
    response = bound.results[0]
    if response.binding is None:
        if certain and file.text(response.target) == "_" and not bound.success_ends_path(package, file):
            return Report(
                call,
                f"The response of `{shown}(...)` is assigned to `_`: its Body is never closed, so its connection leaks.",
                REMEDIATION,
            )
        return None  # stored in a field, a map or a slice
    if not response.binding.is_local:
        return None  # a package variable: whoever reads it owns it
    error = bound.error()
    owned = Owned(package, response.binding, bound.statement, BODY_CLOSE.methods, BODY_CLOSE.through, error=error)
    if not certain and not _body_is_read(owned):
        return None
    leaks = owned.leaks()
    if not leaks:
        return None
    name = response.binding.name
    if owned.ever_released_or_moved():
        return Report(
            call,
            f"`{name}.Body` from `{shown}(...)` is closed on some paths only: {describe_leak(file, leaks[0])} "
            f"leaves it open. Close it right after the error check (`defer {name}.Body.Close()`).",
            REMEDIATION,
            severity=Severity.WARNING,
            names={"resp": name},
        )
    return Report(
        call,
        f"`{name}.Body` from `{shown}(...)` is never closed: its connection and the goroutines serving it leak. "
        f"Add `defer {name}.Body.Close()` after the error check.",
        REMEDIATION,
        fix=defer_close_fix(file, f"{name}.Body", error.name if error is not None else None, bound.statement),
        names={"resp": name},
    )


RULE = Rule(
    id="GR111",
    name="response-body-not-closed",
    severity=Severity.ERROR,
    doc=__doc__,
    check=check,
)
