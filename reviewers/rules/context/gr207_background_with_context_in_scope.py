"""GR207 background-with-context-in-scope: a call is given `context.Background()` or `context.TODO()` while a context is in scope.

## What it does
Flags `context.Background()` and `context.TODO()` passed as an argument where a context is
in scope: a `context.Context` parameter, a context variable assigned before the call (not
itself a bare `Background()`), or an `*http.Request` parameter. In HTTP handlers GR201
reports instead.

## Why is this bad?
The caller's context carries its deadline and its cancellation; a fresh root carries
neither. The call below it runs on after the caller has given up — the chain
`f(ctx) → g() → h(ctx)` of the article, broken in the middle.

## Example
```go
func (s *Service) Refresh(ctx context.Context, id string) error {
    return s.store.Load(context.Background(), id)
}
```

## Use instead
```go
func (s *Service) Refresh(ctx context.Context, id string) error {
    return s.store.Load(ctx, id)
}
```

## Fix safety
The suggestion passes the context in scope: `ctx` when there is one, else another context
variable assigned before the call, else `r.Context()`. The rule stays silent where a fresh
context is usually deliberate: in a `defer` (cleanup that must run after cancellation), in
the arguments of a `go` statement and inside goroutine bodies (work detached on purpose;
GR202 covers handlers; a literal `time.AfterFunc` runs later is one too), after the function has waited on `<-ctx.Done()` (a shutdown needs
a context that is not already cancelled), where the call builds a new value for that very
context (`if ctx == nil { ctx, cancel = context.WithTimeout(context.Background(), d) }`),
where it roots a context whose cancel is kept or handed on (`&sub{ctx: c, cancel: cancel}`
stored in a map, `s.ctx, s.cancel = ...`: a lifetime of its own, ended by whoever holds the
cancel), where it puts back the default of something lent the caller's context earlier in
the function through the same one-argument call (`vm.SetContext(ctx)`, then `vm.SetContext(context.Background())` before the
`vm` returns to its pool: the caller's context must not stay behind), in a call that only
logs (`slog.InfoContext`, a `Log...` function such as `LogDebug`, a level method of a
logger such as `s.logger.Debugf`: it reads the context's values and never waits on it),
where the code found the context nil (`if parent == nil { return context.WithTimeout(
context.Background(), d) }`: there is none to pass), in a call that is given the context variable
in scope as well (`copyValues(context.TODO(), ctx)`: it hears of it, and the fresh root is
chosen to outlive its cancellation), and in test files.

It is info (annotated in the check run, not commented): read on real commits, a fresh root
passed where a context is in scope was most often deliberate (a durable write, a lookup that
never blocks) and never once the bug; the rules that see a wait ignore a context say so with
more certainty.
"""

from __future__ import annotations

from collections.abc import Iterator

from tree_sitter import Node

from ...finding import Severity
from ...gosource import GoFile, captures
from ...rule import Fix, Report, Rule
from ...semantics import Package, package_of
from ...semantics.contexts import DERIVING, FRESH_CONTEXTS, callers_contexts, logs_only, preferred
from ...semantics.ownership import bound_results
from ...semantics.package import Declared
from ...syntax import (
    FUNCTION_TYPES,
    ancestors,
    call_method_name,
    enclosing_function,
    enclosing_handler,
    field_of,
    is_done_receive,
    is_nil_comparison,
    qualified_calls,
    qualified_name,
    unparen,
)

REMEDIATION = """\
func (s *Service) Refresh(ctx context.Context, id string) error {
    return s.store.Load(ctx, id) // the caller's deadline and cancellation reach the store
}"""


# Methods that run a function literal on a goroutine of their own (`errgroup.Group.Go`,
# `conc.WaitGroup.Go`, `sync.WaitGroup.Go`): the literal may well outlive the caller.
GOROUTINE_STARTERS = frozenset({"Go", "TryGo"})


def _deliberate(file: GoFile, call: Node) -> bool:
    """Where a fresh context is usually chosen on purpose: in a deferred call, in code that
    runs on its own goroutine (a `go` statement, a literal handed to a `Go` method), or after
    the function waited for its context to end."""
    for ancestor in ancestors(call, file):
        if ancestor.type in ("defer_statement", "go_statement"):
            return True
        arguments = file.parent(ancestor) if ancestor.type == "func_literal" else None
        starter = file.parent(arguments) if arguments is not None and arguments.type == "argument_list" else None
        if (
            starter is not None
            and starter.type == "call_expression"
            and (
                call_method_name(file, starter) in GOROUTINE_STARTERS
                or qualified_name(file, starter) == "time.AfterFunc"
            )
        ):
            return True
    function = enclosing_function(call, file)
    if function is None:
        return True
    waits = captures('(unary_expression operator: "<-") @receive', function).get("receive", [])
    return any(r.end_byte <= call.start_byte and is_done_receive(file, r) for r in waits)


def _outlives_the_caller(package: Package, file: GoFile, call: Node) -> bool:
    """The fresh context is handed to a goroutine, on purpose: the argument of a function
    of the package that starts one with it (`startExitMonitor(context.Background(), ...)`),
    or the root of a context that is (`exitCtx, stop := context.WithCancel(
    context.Background())` then `go watch(exitCtx)`)."""
    arguments = file.parent(call)
    receiver = file.parent(arguments) if arguments is not None and arguments.type == "argument_list" else None
    if arguments is None or receiver is None:
        return False
    position = next((i for i, a in enumerate(arguments.named_children) if a.id == call.id), 0)
    callee = package.facts.callee(file, receiver)
    if callee is not None and package.facts.hands_to_goroutine(callee, position):
        return True
    if qualified_name(file, receiver) not in DERIVING:
        return False
    bound = bound_results(package, file, receiver)
    derived = bound.results[0].binding if bound is not None and bound.results else None
    function = enclosing_function(call, file)
    if bound is None or function is None:
        return False
    if derived is not None and package.facts.binding_reaches_goroutine(derived, Declared(file, function)):
        return True
    return bound.cancel_kept_elsewhere(package)  # kept state with a lifetime of its own


def _replaces(file: GoFile, call: Node, name: str) -> bool:
    """Whether the call builds a new value for the context itself (`if ctx == nil { ctx, cancel
    = context.WithTimeout(context.Background(), d) }`): that context cannot be passed."""
    statement = next(
        (a for a in ancestors(call, file) if a.type in ("assignment_statement", "short_var_declaration")), None
    )
    left = statement.child_by_field_name("left") if statement is not None else None
    return left is not None and any(file.text(n) == name for n in left.named_children)


def _restores(file: GoFile, call: Node) -> bool:
    """The fresh context puts back the default of something that was lent the caller's
    context earlier in the function, through the same one-argument setter
    (`vm.SetContext(ctx)`, run, then
    `vm.SetContext(context.Background())` before it goes back to its pool): passing the
    caller's context there would leave it behind."""
    arguments = file.parent(call)
    setter = file.parent(arguments) if arguments is not None else None
    function = enclosing_function(call, file)
    if setter is None or setter.type != "call_expression" or function is None or len(_arguments(setter)) != 1:
        return False
    callee = file.text(field_of(setter, "function"))
    return any(
        earlier.end_byte <= setter.start_byte
        and file.text(field_of(earlier, "function")) == callee
        and len(_arguments(earlier)) == 1
        and qualified_name(file, _arguments(earlier)[0]) not in FRESH_CONTEXTS
        for earlier in file.nodes("call_expression", within=function)
    )


def _known_nil(file: GoFile, call: Node, name: str) -> bool:
    """The call sits where the code found the context nil (`if parent == nil { ... }`, the
    `else` of `if parent != nil`): there is no context to pass."""
    child = call
    for ancestor in ancestors(call, file):
        if ancestor.type in FUNCTION_TYPES:
            return False
        if ancestor.type == "if_statement":
            condition = ancestor.child_by_field_name("condition")
            for operator, branch in (("==", "consequence"), ("!=", "alternative")):
                taken = ancestor.child_by_field_name(branch)
                if (
                    condition is not None
                    and taken is not None
                    and taken.id == child.id
                    and is_nil_comparison(file, unparen(condition), name, (operator,))
                ):
                    return True
        child = ancestor
    return False


def _given_too(file: GoFile, given: Node | None, name: str) -> bool:
    """The call the fresh context goes to is given the context variable in scope as well
    (`copyValues(context.TODO(), ctx)`; not a request it might read one from): it hears of
    it, and the fresh root is chosen to outlive its cancellation."""
    if given is None or given.type != "call_expression":
        return False
    return any(file.text(argument) == name for argument in _arguments(given))


def _arguments(call: Node) -> list[Node]:
    arguments = call.child_by_field_name("arguments")
    return [a for a in arguments.named_children if a.type != "comment"] if arguments is not None else []


def check(file: GoFile) -> Iterator[Report]:
    for call in qualified_calls(file, file.root, FRESH_CONTEXTS):
        if call.parent is None or call.parent.type != "argument_list":
            continue
        if enclosing_handler(file, call) is not None or _deliberate(file, call) or _restores(file, call):
            continue
        given = file.parent(call.parent)  # the call the fresh context is passed to
        if given is not None and logs_only(file, given):
            continue  # a logger reads the context's values; it never waits on it
        context = preferred(callers_contexts(package_of(file), file, call, cross_goroutines=False))
        if context is None or _replaces(file, call, context.name):
            continue
        if _known_nil(file, call, context.name) or (
            context.expression == context.name and _given_too(file, given, context.name)
        ):
            continue  # no context to pass, or the call hears of it anyway
        if _outlives_the_caller(package_of(file), file, call):
            continue  # asked last: it reads the package's facts
        yield Report(
            node=call,
            message=(
                f"`{file.text(call)}` is passed while `{context.expression}` is in scope: the callee never "
                f"hears of its deadline or cancellation. Pass `{context.expression}`."
            ),
            remediation=REMEDIATION,
            context=context.binding,
            fix=Fix.replace(file, call, context.expression),
        )


RULE = Rule(
    id="GR207",
    name="background-with-context-in-scope",
    severity=Severity.INFO,
    doc=__doc__,
    check=check,
    imports=("context",),
    in_tests=False,
)
