"""GR404 client-without-timeout: an HTTP client with no `Timeout` used or built while the package initializes.

## What it does
Flags, in `func init()` and in package-level `var` initializers, an `http.Client{...}`
literal without a `Timeout` field, and uses of `http.DefaultClient` or of the helpers that go
through it (`http.Get`, `Post`, `Head`, `PostForm`). Closures called on the spot are looked
into; function literals that are only stored and goroutine bodies are not.

## Why is this bad?
`http.DefaultClient` and a `Client` without `Timeout` wait for a response forever. During
initialization nothing else bounds the call, so one unresponsive server is enough to hang
the process before `main`; a package-level client without a timeout carries the same trap
into every request made with it later.

## Example
```go
var client = &http.Client{Transport: transport}

func init() {
    resp, _ := http.Get("http://config-service/config.json")
    json.NewDecoder(resp.Body).Decode(&globalConfig)
}
```

## Use instead
```go
var client = &http.Client{Transport: transport, Timeout: 10 * time.Second}
```

## Fix safety
No suggestion: the right timeout depends on the calls, and `time` may not be imported. A
client whose `Timeout` is set elsewhere in the package (`client.Timeout = ...`) is not
flagged, nor is `http.DefaultClient` in a file that sets `http.DefaultClient.Timeout`, nor a
client whose `Do` is given a request whose context has a deadline
(`http.NewRequestWithContext(ctx, ...)` with `ctx` from `context.WithTimeout`, here or in
every caller in the package that passes it down), directly or kept in a variable (a test
hook: `var httpClient = http.DefaultClient`) every use of which does so, tests that keep it
to put it back aside: the deadline bounds each request. Only `init` and package-level initializers are
looked at, not the functions they call: GR401 follows those.
"""

from __future__ import annotations

from collections.abc import Iterator

from tree_sitter import Node

from ...finding import Severity
from ...gosource import GoFile
from ...rule import Report, Rule
from ...semantics import Binding, Package, package_of
from ...semantics.contexts import request_has_deadline
from ...semantics.effects import running_nodes
from ...syntax import call_method_name, expression_items, first_argument, qualified_name, unparen
from ._initialization import regions

CANDIDATES = ("composite_literal", "selector_expression", "call_expression")
DEFAULT_CLIENT = "net/http.DefaultClient"
DEFAULT_CLIENT_HELPERS = frozenset(f"net/http.{name}" for name in ("Get", "Post", "Head", "PostForm"))

REMEDIATION = """\
var client = &http.Client{Timeout: 10 * time.Second}

resp, err := client.Get(url)"""


def check(file: GoFile) -> Iterator[Report]:
    for root, where in regions(file):
        for node in running_nodes(file, root, CANDIDATES):
            problem = _without_timeout(file, node)
            if problem is None:
                continue
            yield Report(
                node=node,
                message=(
                    f"{problem} {where}: a server that never answers keeps the request waiting forever. Use a "
                    "client with a `Timeout` (`&http.Client{Timeout: 10 * time.Second}`) or a request context "
                    "with a deadline."
                ),
                remediation=REMEDIATION,
            )


def _without_timeout(file: GoFile, node: Node) -> str | None:
    """What is wrong with `node`, if it is a client without a timeout (or the default one)."""
    if node.type == "call_expression":
        if qualified_name(file, node) not in DEFAULT_CLIENT_HELPERS or _bounds_default_client(file):
            return None
        function = node.child_by_field_name("function")
        spelled = file.text(function) if function is not None else "http.Get"
        return f"`{spelled}` goes through `http.DefaultClient`, which has no timeout,"
    if node.type == "selector_expression":
        if qualified_name(file, node) != DEFAULT_CLIENT or _bounds_default_client(file):
            return None
        problem = "`http.DefaultClient` (no timeout) is used"
    else:
        built = package_of(file).type_of(file, node)
        if built is None or not built.is_named("net/http.Client") or _sets_timeout(file, node):
            return None
        problem = "an `http.Client` is built without a `Timeout`"
    package = package_of(file)
    if _sends_bounded_request(package, file, node):
        return None  # `http.DefaultClient.Do(req)`
    holder = _holder(package, file, node)
    if holder is not None and (_timeout_assigned(package, holder) or _every_request_bounded(package, holder)):
        return None
    if node.type == "composite_literal" and holder is not None:
        return f"`{holder.name}` is built without a `Timeout`"
    return problem


def _sets_timeout(file: GoFile, literal: Node) -> bool:
    body = literal.child_by_field_name("body")
    keys = [e.child_by_field_name("key") for e in body.named_children if e.type == "keyed_element"] if body else []
    return any(key is not None and file.text(key) == "Timeout" for key in keys)


def _bounds_default_client(file: GoFile) -> bool:
    """Whether the file sets `http.DefaultClient.Timeout`: it is trusted to do so before its
    initialization uses the client; elsewhere in the package, it is not."""

    def build() -> bool:
        for statement in file.nodes("assignment_statement"):
            for target in expression_items(statement.child_by_field_name("left")):
                operand = target.child_by_field_name("operand") if target.type == "selector_expression" else None
                field = target.child_by_field_name("field")
                timeout = field is not None and file.text(field) == "Timeout"
                if timeout and operand is not None and qualified_name(file, operand) == DEFAULT_CLIENT:
                    return True
        return False

    return file.cached("init.default_client_bounded", build)


def _holder(package: Package, file: GoFile, client: Node) -> Binding | None:
    """The variable a client is stored in: `client` in `client := &http.Client{}`,
    `var client = ...` or `client = ...`."""
    value = file.parent(client)
    if value is None or not (value.type == "unary_expression" and file.text(value).startswith("&")):
        value = client
    values = file.parent(value)
    statement = file.parent(values) if values is not None and values.type == "expression_list" else None
    if values is None or statement is None:
        return None
    if statement.type == "var_spec":
        names = statement.children_by_field_name("name")
    elif statement.type in ("short_var_declaration", "assignment_statement"):
        names = expression_items(statement.child_by_field_name("left"))
    else:
        return None
    position = next((i for i, v in enumerate(expression_items(values)) if v.id == value.id), len(names))
    if position >= len(names) or names[position].type != "identifier":
        return None
    return package.binding(file, names[position])


def _uses(package: Package, holder: Binding) -> list[tuple[GoFile, Node]]:
    if holder.is_local:
        return [(holder.file, reference) for reference in package.references(holder)]
    return package.package_references(holder)


def _timeout_assigned(package: Package, holder: Binding) -> bool:
    """`client.Timeout = ...` anywhere the variable is seen."""
    for file, reference in _uses(package, holder):
        selector = file.parent(reference)
        if selector is None or selector.type != "selector_expression":
            continue
        field = selector.child_by_field_name("field")
        targets = file.parent(selector)
        statement = file.parent(targets) if targets is not None and targets.type == "expression_list" else None
        if targets is None or statement is None or statement.type != "assignment_statement" or field is None:
            continue
        left = statement.child_by_field_name("left")
        if left is not None and left.id == targets.id and file.text(field) == "Timeout":
            return True
    return False


def _every_request_bounded(package: Package, holder: Binding) -> bool:
    """Whether the variable is read, and only to send requests whose context has a deadline;
    what replaces it (a test's fake client) and a test keeping it to put back do not count."""
    reads = [
        (file, reference)
        for file, reference in _uses(package, holder)
        if not package.is_write(file, reference) and not file.is_test
    ]
    return bool(reads) and all(_sends_bounded_request(package, file, reference) for file, reference in reads)


def _sends_bounded_request(package: Package, file: GoFile, client: Node) -> bool:
    """`client.Do(req)` where `req` carries a context with a deadline: the deadline bounds the
    request whatever the client's timeout."""
    selector = file.parent(client)
    call = file.parent(selector) if selector is not None and selector.type == "selector_expression" else None
    function = call.child_by_field_name("function") if call is not None else None
    if call is None or function is None or selector is None or unparen(function).id != selector.id:
        return False  # handed on or stored: its requests are not seen
    request = first_argument(call)
    return call_method_name(file, call) == "Do" and request is not None and request_has_deadline(package, file, request)


RULE = Rule(
    id="GR404",
    name="client-without-timeout",
    severity=Severity.WARNING,
    doc=__doc__,
    check=check,
    imports=("net/http",),
    in_tests=False,
)
