"""GR206 call-without-context: a network or database call that cannot be cancelled, while a context is in scope.

## What it does
Flags `http.Get`, `http.Post`, `http.Head`, `http.PostForm`, `http.NewRequest`, `net.Dial`,
and `Query`, `Exec`, `QueryRow`, `Ping` on a `database/sql` handle (`*sql.DB`, `*sql.Tx`,
`*sql.Stmt`, `*sql.Conn`), written where a context is in scope: a `context.Context`
parameter or variable (not a bare `Background()`), or an `*http.Request` parameter. An
`http.NewRequest` whose request is never sent (only its URL, headers or cookies are read,
or a function of the package that sends nothing fills them in) is left alone: it describes
a request for other code, nothing a context could cancel.

## Why is this bad?
These forms run on `context.Background()` inside: the caller's deadline and cancellation
never reach them. A slow backend or a lost connection keeps the call — and the goroutine,
connection and request behind it — waiting long after the caller gave up.

## Example
```go
func fetch(ctx context.Context, url string) (*http.Response, error) {
    req, err := http.NewRequest("GET", url, nil)
    if err != nil {
        return nil, err
    }
    return http.DefaultClient.Do(req)
}
```

## Use instead
```go
func fetch(ctx context.Context, url string) (*http.Response, error) {
    req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
    if err != nil {
        return nil, err
    }
    return http.DefaultClient.Do(req)
}
```

## Fix safety
The suggestion, for `http.NewRequest` only, passes the context in scope (`ctx` first, else
another context variable assigned before the call, else `r.Context()`) to
`http.NewRequestWithContext`: same request, now cancellable. The other forms need a new
call shape (`(&net.Dialer{}).DialContext`, `db.QueryContext`, a request plus `Do`) and get
none. A database handle is recognised only by a declared type or `sql.Open`; test files
are not checked.
"""

from __future__ import annotations

from collections.abc import Iterator

from tree_sitter import Node

from ...finding import Severity
from ...gosource import GoFile
from ...rule import Fix, Report, Rule
from ...semantics import Package, package_of
from ...semantics.contexts import cancellable_contexts, preferred
from ...semantics.ownership import bound_results
from ...syntax import call_method_name, calls_in, field_of, parameters, qualified_name

CONTEXT_FORMS = {
    "net/http.Get": '`http.NewRequestWithContext(ctx, "GET", url, nil)` and `Do`',
    "net/http.Post": '`http.NewRequestWithContext(ctx, "POST", url, body)` and `Do`',
    "net/http.Head": '`http.NewRequestWithContext(ctx, "HEAD", url, nil)` and `Do`',
    "net/http.PostForm": "`http.NewRequestWithContext` and `Do`",
    "net/http.NewRequest": "`http.NewRequestWithContext`",
    "net.Dial": "`(&net.Dialer{}).DialContext`",
}
SQL_METHODS = {"Query": "QueryContext", "Exec": "ExecContext", "QueryRow": "QueryRowContext", "Ping": "PingContext"}
SQL_HANDLES = frozenset(f"database/sql.{t}" for t in ("DB", "Tx", "Stmt", "Conn"))

REMEDIATION = """\
req, err := http.NewRequestWithContext(ctx, "GET", url, nil) // cancelled with ctx
rows, err := db.QueryContext(ctx, query, args...)
conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)"""


def _instead(file: GoFile, call: Node) -> tuple[str, str] | None:
    """(the call as named in the message, its context form) for a flagged call."""
    name = qualified_name(file, call)
    if name in CONTEXT_FORMS:
        return name.rsplit("/", 1)[-1], CONTEXT_FORMS[name]
    method = call_method_name(file, call)
    function = call.child_by_field_name("function")
    if method not in SQL_METHODS or function is None or function.type != "selector_expression":
        return None
    receiver = function.child_by_field_name("operand")
    receiver_type = package_of(file).type_of(file, receiver) if receiver is not None else None
    if receiver is None or receiver_type is None or not receiver_type.is_named(*SQL_HANDLES):
        return None
    arguments = "(ctx)" if method == "Ping" else "(ctx, ...)"
    return f"{file.text(receiver)}.{method}", f"`{file.text(receiver)}.{SQL_METHODS[method]}{arguments}`"


def _suggestion(file: GoFile, call: Node, context: str) -> Fix | None:
    if qualified_name(file, call) != "net/http.NewRequest":
        return None
    function, arguments = field_of(call, "function"), field_of(call, "arguments")
    if len([a for a in arguments.named_children if a.type != "comment"]) != 3:
        return None
    new_text = f"{file.text(function)}WithContext({context}, {file.text(arguments)[1:].lstrip()}"
    return Fix.replace(file, call, new_text)


def _given_a_context_later(package: Package, file: GoFile, call: Node) -> bool:
    """`req, err := http.NewRequest(...)` whose request gets a context before it is sent:
    `req.WithContext(ctx)`, sent by a call that also takes a context (`Do(ctx, client,
    req)`), or stored or returned for code that does."""
    if qualified_name(file, call) != "net/http.NewRequest":
        return False
    bound = bound_results(package, file, call)
    request = bound.results[0].binding if bound is not None and bound.results else None
    if request is None:
        return True  # stored in a field or elsewhere: whoever sends it gives it its context
    for reference in package.references(request):
        parent = file.parent(reference)
        if parent is None:
            continue
        if parent.type == "selector_expression":
            field_node = parent.child_by_field_name("field")
            if field_node is not None and file.text(field_node) in ("WithContext", "Clone"):
                return True
            continue
        holder = file.parent(parent) if parent.type in ("argument_list", "expression_list") else None
        if parent.type == "argument_list" and holder is not None and _takes_a_context(package, file, parent):
            return True
        if (
            parent.type == "expression_list"
            and holder is not None
            and holder.type in ("return_statement", "assignment_statement")
        ):
            return True  # handed back, or stored: its context is set where it is sent
    return False


# What sends a request: a client's or transport's method, or the request writing itself out.
SENDS = frozenset({"Do", "RoundTrip", "Send", "Write", "WriteProxy"})


def _never_sent(package: Package, file: GoFile, call: Node) -> bool:
    """`req, err := http.NewRequest(...)` used only to describe a request (its URL, headers
    and cookies read, or filled in by a function of the package that sends nothing) and never
    sent: no context could cancel anything."""
    if qualified_name(file, call) != "net/http.NewRequest":
        return False
    bound = bound_results(package, file, call)
    request = bound.results[0].binding if bound is not None and bound.results else None
    if bound is None or request is None:
        return False
    for reference in package.references(request):
        parent = file.parent(reference)
        holder = file.parent(parent) if parent is not None else None
        if parent is None or holder is None:
            return False
        if parent.type == "selector_expression":
            if file.text(field_of(parent, "field")) in SENDS:
                return False
            continue  # a part of it read or filled in: req.URL, req.Header.Set(...)
        if parent.type == "expression_list" and holder == bound.statement:
            continue  # the statement that makes it
        if parent.type != "argument_list" or holder.type != "call_expression":
            return False  # returned, stored, assigned: sent elsewhere, maybe
        if _may_send(package, file, holder, reference, depth=3):
            return False
    return True


def _may_send(package: Package, file: GoFile, call: Node, argument: Node, depth: int) -> bool:
    """Whether a call given the request may send it: a call outside the package, or a
    function of it that sends anything, keeps the request (returned, stored) or hands it to
    a call that may send it, a few calls deep."""
    callee = package.facts.callee(file, call)
    if callee is None or depth == 0:
        return True
    body = callee.node.child_by_field_name("body")
    if body is None or any(call_method_name(callee.file, c) in SENDS for c in calls_in(callee.file, body)):
        return True
    arguments = [a for a in field_of(call, "arguments").named_children if a.type != "comment"]
    position = next((i for i, a in enumerate(arguments) if a.id == argument.id), None)
    names = [p.name for p in parameters(callee.node, callee.file)]
    if position is None or position >= len(names) or not names[position] or names[position] == "_":
        return True
    name = names[position]
    for use in callee.file.nodes("identifier", within=body):
        if callee.file.text(use) != name:
            continue
        parent = callee.file.parent(use)
        holder = callee.file.parent(parent) if parent is not None else None
        if parent is None or holder is None or parent.type in ("selector_expression", "binary_expression"):
            continue  # a part of it read or filled in, or compared (`req == nil`)
        if parent.type == "argument_list" and holder.type == "call_expression":
            if _may_send(package, callee.file, holder, use, depth - 1):
                return True
            continue
        return True  # kept: returned, stored, assigned
    return False


def _takes_a_context(package: Package, file: GoFile, arguments: Node) -> bool:
    for argument in arguments.named_children:
        argument_type = package.type_of(file, argument)
        if argument_type is not None and argument_type.is_named("context.Context"):
            return True
    return False


def check(file: GoFile) -> Iterator[Report]:
    package = package_of(file)
    for call in file.nodes("call_expression"):
        named = _instead(file, call)
        if named is None or _given_a_context_later(package, file, call) or _never_sent(package, file, call):
            continue
        context = preferred(cancellable_contexts(package, file, call))
        if context is None:
            continue
        called, instead = named
        yield Report(
            node=call,
            message=(
                f"`{called}` cannot be cancelled: `{context.expression}` is in scope but never reaches it. "
                f"Use {instead.replace('(ctx', '(' + context.expression)}."
            ),
            remediation=REMEDIATION,
            context=context.binding,
            fix=_suggestion(file, call, context.expression),
        )


RULE = Rule(
    id="GR206",
    name="call-without-context",
    severity=Severity.WARNING,
    doc=__doc__,
    check=check,
    imports=("context", "net/http"),
    in_tests=False,
)
