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
flagged, nor is `http.DefaultClient` in a file that sets `http.DefaultClient.Timeout`. Only `init` and package-level
initializers are looked at, not the functions they call: GR401 follows those.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from tree_sitter import Node

from ...finding import Severity
from ...gosource import GoFile
from ...rule import Report, Rule
from ...syntax import qualified_name
from ._calls import init_functions, package_initializers, region_captures

CANDIDATES = "[(composite_literal) (selector_expression) (call_expression)] @node"
DEFAULT_CLIENT_HELPERS = frozenset(f"net/http.{name}" for name in ("Get", "Post", "Head", "PostForm"))

REMEDIATION = """\
var client = &http.Client{Timeout: 10 * time.Second}

resp, err := client.Get(url)"""


def _regions(file: GoFile) -> Iterator[tuple[Node, str]]:
    for function in init_functions(file):
        body = function.child_by_field_name("body")
        if body is not None:
            yield body, "in `init`"
    for initializer in package_initializers(file):
        yield initializer.value, f"in the initializer of `var {', '.join(initializer.names)}`"


def _timeout_set_later(files: list[GoFile], name: str) -> bool:
    pattern = re.compile(rb"(?<!\w)" + re.escape(name.encode()) + rb"\.Timeout\s*=[^=]")
    return any(pattern.search(member.source) for member in files)


def _assigned_name(file: GoFile, literal: Node) -> str | None:
    """`client` in `client := &http.Client{}` / `var client = ...` / `client = ...`."""
    value = literal.parent if literal.parent is not None and literal.parent.type == "unary_expression" else literal
    values = value.parent
    statement = values.parent if values is not None and values.type == "expression_list" else None
    if statement is None or statement.type not in ("short_var_declaration", "assignment_statement", "var_spec"):
        return None
    left = statement.child_by_field_name("left")
    names = list(left.named_children) if left is not None else statement.children_by_field_name("name")
    index = [v.id for v in values.named_children].index(value.id)
    return file.text(names[index]) if index < len(names) else None


def _without_timeout(file: GoFile, node: Node) -> str | None:
    """What is wrong with `node`, if it is a client without a timeout (or the default one)."""
    if node.type == "composite_literal" and qualified_name(file, node.child_by_field_name("type")) == "net/http.Client":
        body = node.child_by_field_name("body")
        keys = [file.text(e.child_by_field_name("key")) for e in body.named_children if e.type == "keyed_element"]
        name = _assigned_name(file, node)
        if "Timeout" in keys or (name is not None and _timeout_set_later(file.package_files, name)):
            return None
        literal = f"`{name}`" if name else "an `http.Client`"
        return f"{literal} is built without a `Timeout`"
    if node.type == "selector_expression" and qualified_name(file, node) == "net/http.DefaultClient":
        problem = "`http.DefaultClient` (no timeout) is used"
    elif node.type == "call_expression" and qualified_name(file, node) in DEFAULT_CLIENT_HELPERS:
        problem = f"`{file.text(node.child_by_field_name('function'))}` goes through `http.DefaultClient`, which has no timeout,"
    else:
        return None
    # A file that bounds the default client itself is trusted; elsewhere in the package, not.
    bounded = file.cached("init.default_client_bounded", lambda: _timeout_set_later([file], "DefaultClient"))
    return None if bounded else problem


def check(file: GoFile) -> Iterator[Report]:
    for root, where in _regions(file):
        for node in region_captures(CANDIDATES, root):
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


RULE = Rule(
    id="GR404",
    name="client-without-timeout",
    severity=Severity.WARNING,
    doc=__doc__,
    check=check,
    imports=("net/http",),
)
