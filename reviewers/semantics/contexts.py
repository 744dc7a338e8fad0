"""Contexts in scope: the one answer every rule gets to "which context could this code watch,
or pass on?".

A context in scope is a local binding of type `context.Context` (a parameter, a variable,
one a closure sees), or an `*http.Request` parameter (`r.Context()`). It *can be cancelled*
unless every value it is ever given comes from `context.Background()`/`TODO()` or
`context.WithoutCancel`, possibly through `WithValue`: such a context never fires `Done()`,
so telling code to watch it would be wrong. `watches_done` says whether a receive waits on
a `Done()` channel, called there or kept in a variable first, and `done_before` whether
every path to a statement has already received from one. `has_deadline` says whether a context surely
has a deadline, and `request_has_deadline` whether an HTTP request carries one.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from tree_sitter import Node

from ..gosource import GoFile
from ..syntax import (
    FUNCTION_TYPES,
    call_method_name,
    descendants,
    enclosing_function,
    first_argument,
    is_done_receive,
    is_goroutine_body,
    is_nil_comparison,
    qualified_name,
    receiver_name,
    receiver_type,
    surely_ran_before,
    type_is,
    unparen,
)
from .names import Binding
from .package import Assignment, Package

FRESH_CONTEXTS = frozenset({"context.Background", "context.TODO"})
DETACHING = "context.WithoutCancel"
NEVER_CANCELLED = FRESH_CONTEXTS | {DETACHING}
PASSING_ON = frozenset({"context.WithValue"})  # cancelled exactly when its parent is
REQUEST = "net/http.Request"
# Framework request contexts, by type, and how each reaches its context.
FRAMEWORK_CONTEXTS = {
    "github.com/gin-gonic/gin.Context": "{}.Request.Context()",
    "github.com/labstack/echo/v4.Context": "{}.Request().Context()",
    "github.com/labstack/echo.Context": "{}.Request().Context()",
    "github.com/gofiber/fiber/v2.Ctx": "{}.UserContext()",
}


@dataclass(frozen=True)
class ContextInScope:
    name: str  # the variable or parameter: `ctx`, `r`
    expression: str  # what to pass or watch: `ctx`, `r.Context()`
    binding: Binding
    cancellable: bool


# Calls that only log: a context gives them values (a trace id), never a wait. A function or
# method named `Log`, `Logf` or `Log<Level>...` (`LogAttrs`, `LogDebug`), slog's
# `<Level>Context`, or a level method or function (`Infof`, `Debug`) of a logger (`log`,
# `slog`, `klog`, `logrus`, `s.logger`, `requestLogger`).
_LOGGING = re.compile(r"Log(f|ln|Attrs|(Debug|Info|Warn|Error|Trace|Notice)\w*)?|(Debug|Info|Warn|Error)Context")
_LEVEL = re.compile(r"(Debug|Info|Warn|Warning|Error|Trace|Notice|Print)(f|w|ln|Context)?")
_LOGGERS = frozenset({"log", "slog", "klog", "glog", "zlog", "logx", "logr", "logrus", "logging"})


def logs_only(file: GoFile, call: Node) -> bool:
    """Whether a call only logs (`slog.InfoContext(ctx, ...)`, `errors.LogDebug(ctx, ...)`,
    `s.logger.Debugf(...)`): the context it is given carries values, nothing waits on it."""
    name = call_method_name(file, call) or ""
    if _LOGGING.fullmatch(name):
        return True
    function = call.child_by_field_name("function")
    operand = (
        function.child_by_field_name("operand")
        if function is not None and function.type == "selector_expression"
        else None
    )
    if operand is None or operand.type not in ("identifier", "selector_expression") or not _LEVEL.fullmatch(name):
        return False
    last = file.text(operand).rsplit(".", 1)[-1].lower()
    return last in _LOGGERS or last.endswith("logger")


def contexts_in_scope(
    package: Package, file: GoFile, node: Node, cross_goroutines: bool = True
) -> list[ContextInScope]:
    """The contexts `node` can reach. With `cross_goroutines=False`, those of the code that
    starts the goroutine `node` runs in are left out."""
    boundary = _goroutine_body(file, node) if not cross_goroutines else None
    found = []
    for binding in package.visible_bindings(file, node):
        if boundary is not None and binding.scope is not None and binding.scope.start_byte < boundary.start_byte:
            continue
        if binding.name == "_":
            continue
        declared = package.types_model.of_binding(binding)
        if declared is None:
            continue
        if declared.is_named("context.Context"):
            found.append(ContextInScope(binding.name, binding.name, binding, can_be_cancelled(package, binding)))
        elif declared.kind == "pointer" and declared.is_named(REQUEST) and binding.kind == "parameter":
            found.append(ContextInScope(binding.name, f"{binding.name}.Context()", binding, True))
        elif binding.kind == "parameter" and declared.deref().name in FRAMEWORK_CONTEXTS:
            expression = FRAMEWORK_CONTEXTS[declared.deref().name].format(binding.name)
            found.append(ContextInScope(binding.name, expression, binding, True))
    return found


def hands_out_context(package: Package, type_name: str, field: str) -> bool:
    """Whether a method of the type returns the context its field keeps (`func (s
    *serverStream) Context() context.Context { return s.ctx }`): the type carries a context
    for its users, as `http.Request` and `grpc.ServerStream` do."""
    return (type_name, field) in package.files[0].package_cached("contexts.carriers", lambda: _carriers(package))


def _carriers(package: Package) -> set[tuple[str, str]]:
    """(type, field) for each method of the package that returns `receiver.field` as its
    `context.Context`, found in one pass over the package's methods."""
    found = set()
    for file in package.files:
        for method in file.nodes("method_declaration"):
            result = method.child_by_field_name("result")
            receiver = receiver_name(file, method)
            if result is None or receiver is None or not type_is(file, result, "context.Context"):
                continue
            owner = receiver_type(file, method)
            for statement in file.nodes("return_statement", within=method):
                values = [v for v in statement.named_children if v.type == "expression_list"]
                returned = values[0].named_children if values else []
                text = file.text(unparen(returned[0])) if len(returned) == 1 else ""
                if owner is not None and text.startswith(f"{receiver}."):
                    found.add((owner, text.removeprefix(f"{receiver}.")))
    return found


def cancellable_contexts(
    package: Package, file: GoFile, node: Node, cross_goroutines: bool = True
) -> list[ContextInScope]:
    return [c for c in contexts_in_scope(package, file, node, cross_goroutines) if c.cancellable]


def callers_contexts(package: Package, file: GoFile, node: Node, cross_goroutines: bool = True) -> list[ContextInScope]:
    """The cancellable contexts in scope that come from outside the function: a parameter, the
    request, or one derived from those — not one the function rooted in `Background()` itself
    (a per-attempt `context.WithTimeout(context.Background(), d)` is its own business), nor
    one whose cancel function every path has already called (`cancelled_before`)."""
    found = []
    for context in cancellable_contexts(package, file, node, cross_goroutines):
        identifier = context.binding.identifier
        if identifier is not None and origins(package, context.binding.file, identifier) == {FRESH}:
            continue
        if _rooted_here_before(package, context.binding, node):
            continue
        if cancelled_before(package, context.binding, node):
            continue  # already done here: nothing left to watch or pass on
        found.append(context)
    return found


def _rooted_here_before(package: Package, binding: Binding, node: Node) -> bool:
    """Whether the variable surely holds, at `node`, a context the function rooted in
    `Background()` itself: `ctx, cancel := context.WithCancel(context.Background())` over a
    `ctx` parameter, in a statement that surely ran before."""
    last = _surely_last(package, binding, node)
    if last is None or last.value is None or (last.spread and last.index != 0):
        return False
    return origins(package, binding.file, last.value) == {FRESH}


def preferred(contexts: list[ContextInScope]) -> ContextInScope | None:
    """What to pass instead of a fresh context: `ctx` first, then another context variable,
    then a request's `Context()`."""
    ranked = sorted(contexts, key=lambda c: (c.expression != c.name, c.name != "ctx", c.name))
    return ranked[0] if ranked else None


def can_be_cancelled(package: Package, binding: Binding, seen: frozenset[int] = frozenset()) -> bool:
    """Whether something can cancel the context a binding holds: a parameter can (its
    caller's), a variable can when one of the values it is given can."""
    if binding.kind in ("parameter", "receiver") or binding.function is None:
        return True
    if id(binding) in seen:
        return False
    for assignment in package.assignments(binding):
        if assignment.value is None:
            return True  # `var ctx context.Context` assigned elsewhere: unknown
        if expression_can_be_cancelled(package, binding.file, assignment.value, seen | {id(binding)}):
            return True
    return False


def expression_can_be_cancelled(
    package: Package, file: GoFile, value: Node, seen: frozenset[int] = frozenset()
) -> bool:
    value = unparen(value)
    if value.type == "identifier":
        binding = package.binding(file, value)
        return binding is None or can_be_cancelled(package, binding, seen)
    if value.type != "call_expression":
        return True
    name = qualified_name(file, value)
    if name in NEVER_CANCELLED:
        return False
    if name in PASSING_ON:
        arguments = value.child_by_field_name("arguments")
        parent = arguments.named_children[0] if arguments is not None and arguments.named_children else None
        return parent is None or expression_can_be_cancelled(package, file, parent, seen)
    return True


def _goroutine_body(file: GoFile, node: Node) -> Node | None:
    return next((a for a in file.ancestors(node) if a.type in FUNCTION_TYPES and is_goroutine_body(a, file)), None)


# -- where a context comes from ------------------------------------------------------------------
REQUEST_ORIGIN, DETACHED, FRESH, UNKNOWN = "request", "detached", "fresh", "unknown"
DERIVING = frozenset(
    f"context.{name}"
    for name in (
        "WithCancel",
        "WithTimeout",
        "WithDeadline",
        "WithValue",
        "WithCancelCause",
        "WithTimeoutCause",
        "WithDeadlineCause",
    )
)


def watches_done(package: Package, file: GoFile, node: Node) -> bool:
    """`<-ctx.Done()`, or a receive from a local variable every value of which is a `Done()`
    channel (`done := ctx.Done()` before a loop, then `case <-done:`)."""
    if is_done_receive(file, node):
        return True
    for receive in (node, *descendants(node)):
        operand = receive.child_by_field_name("operand") if receive.type == "unary_expression" else None
        if operand is None or operand.type != "identifier" or not file.text(receive).startswith("<-"):
            continue
        binding = package.binding(file, operand)
        if binding is None or not binding.is_local:
            continue
        assignments = package.assignments(binding)
        if assignments and all(
            a.value is not None
            and not a.spread
            and unparen(a.value).type == "call_expression"
            and call_method_name(binding.file, unparen(a.value)) == "Done"
            for a in assignments
        ):
            return True
    return False


def never_done_here(file: GoFile, node: Node, context: str) -> bool:
    """Whether `node` sits where the code has checked that `context` can never be cancelled:
    the `else` of `if ctx.Done() != nil`, or the body of `if ctx.Done() == nil` (a
    `Background()` context has no Done channel: there is nothing to watch)."""
    done = f"{context}.Done()"
    child = node
    for ancestor in file.ancestors(node):
        if ancestor.type in FUNCTION_TYPES:
            return False
        if ancestor.type == "if_statement":
            condition = unparen(ancestor.child_by_field_name("condition") or ancestor)
            for operator, branch in (("!=", "alternative"), ("==", "consequence")):
                taken = ancestor.child_by_field_name(branch)
                if is_nil_comparison(file, condition, done, (operator,)) and taken is not None and taken.id == child.id:
                    return True
        child = ancestor
    return False


def done_before(package: Package, file: GoFile, node: Node) -> bool:
    """Whether every path through its function to `node` has already received from a
    `Done()` channel (`select { case out <- v: return; case <-ctx.Done(): }` then `out <- err`):
    the context has fired, so watching it again cannot release the operation."""
    function = enclosing_function(node, file)
    if function is None:
        return False

    def receives_done(candidate: Node) -> bool:
        wait = candidate.named_children[0] if candidate.type == "expression_statement" else candidate
        receives = wait.type == "receive_statement" or (
            wait.type == "unary_expression" and file.text(wait).startswith("<-")
        )
        return receives and watches_done(package, file, wait)

    return package.cfg(file, function).surely_after(node, receives_done)


def cancelled_before(package: Package, binding: Binding, node: Node) -> bool:
    """Whether every path through its function to `node` has already called the cancel
    function of the context the variable holds there (`ctx, cancel := context.WithTimeout(parent,
    d)`, then `cancel()` before a pause at the end of a loop's iteration): that context is
    done, so watching it would return at once and passing it would fail the call. A deferred
    `cancel()` has not run yet; a new value given to the variable starts over."""
    file = binding.file
    function = enclosing_function(node, file)
    if function is None or not binding.is_local:
        return False
    assignments = package.assignments(binding)
    made = {a.value.id for a in assignments if a.value is not None and a.spread and a.index == 0}
    if not made:
        return False
    rebinds = {a.statement.id for a in assignments if a.statement is not None}

    def cancels(statement: Node) -> bool:
        call = statement.named_children[0] if statement.type == "expression_statement" else None
        if call is None or call.type != "call_expression":
            return False
        callee, arguments = call.child_by_field_name("function"), call.child_by_field_name("arguments")
        if callee is None or callee.type != "identifier" or arguments is None or arguments.named_children:
            return False
        cancel = package.binding(file, callee)
        return cancel is not None and any(
            a.value is not None and a.spread and a.index == 1 and a.value.id in made
            for a in package.assignments(cancel)
        )

    return package.cfg(file, function).surely_after(node, cancels, lambda candidate: candidate.id in rebinds)


def origins(package: Package, file: GoFile, value: Node, seen: frozenset[int] = frozenset()) -> set[str]:
    """Where the context an expression evaluates to comes from: the request (`r.Context()`,
    or derived from it), detached from it (`context.WithoutCancel`), fresh
    (`Background`/`TODO`), or unknown (a parameter, another function's result). A variable
    gives the origins of every value it is given (`ctx := context.Background(); if r != nil
    { ctx = r.Context() }` is both fresh and the request's)."""
    value = unparen(value)
    if value.type == "identifier":
        binding = package.binding(file, value)
        argument = argument_of(binding) if binding is not None else None
        if argument is not None and binding is not None and id(binding) not in seen:
            return origins(package, binding.file, argument, seen | {id(binding)})
        if id(binding) in seen:
            return set()  # `ctx = wrap(ctx)`: what the variable held before, counted already
        if binding is None or not binding.is_local or binding.kind in ("parameter", "receiver"):
            return {UNKNOWN}
        found: set[str] = set()
        for assignment in package.assignments(binding):
            if assignment.value is None or (assignment.spread and assignment.index != 0):
                found.add(UNKNOWN)
            else:
                found |= origins(package, binding.file, assignment.value, seen | {id(binding)})
        return found or {UNKNOWN}
    if value.type != "call_expression":
        return {UNKNOWN}
    name = qualified_name(file, value)
    if name == DETACHING:
        return {DETACHED}
    if name in FRESH_CONTEXTS:
        return {FRESH}
    if name in DERIVING:
        arguments = value.child_by_field_name("arguments")
        parent = arguments.named_children[0] if arguments is not None and arguments.named_children else None
        return origins(package, file, parent, seen) if parent is not None else {UNKNOWN}
    if is_request_context(package, file, value):
        return {REQUEST_ORIGIN}
    parent = first_argument(value)
    if parent is not None and package.facts.callee(file, value) is None:
        parent_type = package.type_of(file, parent)
        if parent_type is not None and parent_type.is_named("context.Context"):
            # A library call handed a context that gives one back derives it
            # (`metadata.NewOutgoingContext(ctx, md)`, `client.NewClientWithContext(ctx, opts)`).
            return origins(package, file, parent, seen)
    return {UNKNOWN}


def is_request_context(package: Package, file: GoFile, call: Node) -> bool:
    """`r.Context()` on an `*http.Request`, or a framework's request context
    (`c.Request.Context()`, `c.UserContext()`)."""
    function = call.child_by_field_name("function")
    if function is None or function.type != "selector_expression":
        return False
    operand = function.child_by_field_name("operand")
    field_node = function.child_by_field_name("field")
    if operand is None or field_node is None:
        return False
    if file.text(field_node) == "Context":
        operand_type = package.type_of(file, operand)
        if operand_type is not None and operand_type.kind == "pointer" and operand_type.is_named(REQUEST):
            return True
    root = operand
    while root.type in ("selector_expression", "call_expression"):
        inner = root.child_by_field_name("operand") or root.child_by_field_name("function")
        if inner is None:
            break
        root = inner
    if root.type != "identifier":
        return False
    root_type = package.type_of(file, root)
    pattern = FRAMEWORK_CONTEXTS.get(root_type.deref().name) if root_type is not None else None
    return pattern is not None and file.text(call) == pattern.format(file.text(root))


def cancelled_context(package: Package, binding: Binding) -> Node | None:
    """The context value a cancel function cancels: `ctx` in `ctx, cancel := With...(p)`
    gives the call, whose origin the cancel shares."""
    if binding.value is not None and binding.spread and binding.index == 1:
        return binding.value
    return None


def argument_of(binding: Binding) -> Node | None:
    """For a parameter of a function literal called on the spot (`go func(ctx
    context.Context) {...}(parent)`), the argument it is given."""
    literal = binding.function
    if binding.kind != "parameter" or literal is None or literal.type != "func_literal" or binding.declaration is None:
        return None
    call = binding.file.parent(literal)
    if call is None or call.type != "call_expression" or call.child_by_field_name("function") != literal:
        return None
    parameter_list = literal.child_by_field_name("parameters")
    names = (
        [n for d in parameter_list.named_children for n in d.children_by_field_name("name")] if parameter_list else []
    )
    position = next(
        (i for i, n in enumerate(names) if n.id == (binding.identifier.id if binding.identifier else -1)), -1
    )
    arguments = call.child_by_field_name("arguments")
    values = [a for a in arguments.named_children if a.type != "comment"] if arguments is not None else []
    return values[position] if 0 <= position < len(values) else None


# -- deadlines -------------------------------------------------------------------------------------
WITH_DEADLINE = frozenset(
    f"context.{name}" for name in ("WithTimeout", "WithDeadline", "WithTimeoutCause", "WithDeadlineCause")
)
KEEPING_DEADLINE = frozenset({"context.WithCancel", "context.WithCancelCause", "context.WithValue"})


def has_deadline(package: Package, file: GoFile, value: Node, seen: frozenset[int] = frozenset()) -> bool:
    """Whether the context an expression evaluates to surely has a deadline: made by
    `context.WithTimeout`/`WithDeadline`, or derived from such a context by `WithCancel` or
    `WithValue`; a variable has one when every value it is given has. A parameter or another
    function's result is not known to."""
    value = unparen(value)
    if value.type == "identifier":
        return _every_value(package, file, value, has_deadline, seen)
    if value.type != "call_expression":
        return False
    name = qualified_name(file, value)
    if name in WITH_DEADLINE:
        return True
    parent = first_argument(value) if name in KEEPING_DEADLINE else None
    return parent is not None and has_deadline(package, file, parent, seen)


def request_has_deadline(package: Package, file: GoFile, request: Node, seen: frozenset[int] = frozenset()) -> bool:
    """Whether an `*http.Request` expression surely carries a context with a deadline: built by
    `http.NewRequestWithContext(ctx, ...)`, `req.WithContext(ctx)` or `req.Clone(ctx)` with
    such a `ctx`; a variable does when every value it is given does."""
    request = unparen(request)
    if request.type == "identifier":
        return _every_value(package, file, request, request_has_deadline, seen)
    if request.type != "call_expression":
        return False
    context = first_argument(request)
    if context is None:
        return False
    if qualified_name(file, request) == "net/http.NewRequestWithContext":
        return has_deadline(package, file, context, seen)
    function = request.child_by_field_name("function")
    if function is None or function.type != "selector_expression":
        return False
    operand, field = function.child_by_field_name("operand"), function.child_by_field_name("field")
    operand_type = package.type_of(file, operand) if operand is not None else None
    return (
        field is not None
        and file.text(field) in ("WithContext", "Clone")
        and operand_type is not None
        and operand_type.is_named(REQUEST)
        and has_deadline(package, file, context, seen)
    )


def _surely_last(package: Package, binding: Binding, node: Node) -> Assignment | None:
    """The last value given to a local variable before `node`, when its statement surely ran
    before `node` does: what the variable holds there."""
    before = [a for a in package.assignments(binding) if a.target.start_byte < node.start_byte]
    return before[-1] if before and surely_ran_before(binding.file, before[-1].statement, node) else None


def _every_value(
    package: Package,
    file: GoFile,
    identifier: Node,
    holds: Callable[[Package, GoFile, Node, frozenset[int]], bool],
    seen: frozenset[int],
) -> bool:
    """Whether every value a local variable can hold where `identifier` reads it `holds`:
    the last value given to it before, in a statement that surely ran (`ctx, cancel :=
    context.WithTimeout(ctx, d)` overwrites a parameter), else every value it is ever given,
    a parameter's being what every call of its (unexported) function in the package passes.
    The first result of a multi-valued call counts as the call."""
    binding = package.binding(file, identifier)
    if binding is None or not binding.is_local or id(binding) in seen:
        return False
    seen = seen | {id(binding)}
    last = _surely_last(package, binding, identifier)
    assignments = [last] if last is not None else package.assignments(binding)
    if last is None and binding.kind in ("parameter", "receiver"):
        handed = package.values.arguments(binding) if binding.kind == "parameter" else None
        if not handed or not all(holds(package, stored.file, stored.value, seen) for stored in handed):
            return False  # the caller's value, which the package does not show
        assignments = [a for a in assignments if a.target != binding.identifier]  # not the declaration
    elif not assignments:
        return False
    return all(
        a.value is not None and (not a.spread or a.index == 0) and holds(package, binding.file, a.value, seen)
        for a in assignments
    )
