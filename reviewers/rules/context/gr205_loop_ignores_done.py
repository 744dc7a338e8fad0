"""GR205 loop-ignores-done: a loop blocks on channels without watching the context in scope.

## What it does
In a function with a context in scope (a `context.Context` parameter or variable, or an
`*http.Request`), flags inside a `for` loop:
- a `select` with no `default` and no `.Done()` case (`<-ctx.Done()`, `<-s.ctx.Done()`, or a
  variable that holds one: `done := ctx.Done()` then `case <-done:`), and
  no other way out of the loop: a case that returns, `goto`s or breaks to a label, or a
  two-value receive `v, ok := <-ch` that notices a closed channel;
- a bare channel send or receive statement (`ch <- v`, `v := <-ch`, `<-ch`), unless it
  waits on the function's own work: a send on a channel made with a buffer (a semaphore
  such as `sem <- token{}`; not a channel parameter that carries values, `out chan Item`:
  the function then produces for a reader elsewhere, which may leave once the buffer is
  full, unless the send is its last word, right before a `return`: one result per call),
  a send on a reply channel that came in a request the loop received (`case req :=
  <-requests:` then `req.reply <- v`: the requester waits for that answer), a receive from
  a method's result (`<-q.Idle()`), a timer's drain (`if !t.Stop() { <-t.C }`: Stop said a
  value is due; whether another receive took it first is GR116's question), a receive
  from a channel that a goroutine started by the same function was given (collecting its
  result), a receive from a channel carried by the value just sent (`case tasks <- t:`
  then `<-t.done`: the peer that took it owes that answer), or a token given back:
  `<-slots` on its own, on a channel of empty structs, in the body of the case that took
  the pass's work from a `select` that also watches the context (the work's sender took
  the slot before handing it over, as a limiter does). Nor, on a channel the function makes and keeps to itself (every mention a
  send, a receive, a range, a `close`, `len` or `cap`), a send whose every receiver is a
  loop of the function (its body or its goroutines) that runs to its end with no way out
  of its own (a worker ranging over its jobs until they are closed, a collector taking one
  answer per item), nor a receive, or a `select` all of whose cases receive, in a loop over
  a fixed number of rounds that runs to its end (`for range items`, `for i := 0; i < n;
  i++`) from such a channel that only the function's literals send on (the goroutines it
  starts, the callbacks it hands to a helper): the function collecting the work it
  started. No one there stops listening whatever the context does; whether as many are
  taken as are sent is GR113's question.

`for v := range ch` is not flagged: it ends when the channel is closed. Nor is a wait that
every path reaches after `<-ctx.Done()` fired (a case body that waits for cleanup once
cancelled): watching the context again cannot release it; nor one in the branch where the
code checked that the context has no Done channel (`else` of `if ctx.Done() != nil`). A
context whose cancel function every path to the wait has already called (a per-attempt
`ctx, cancel := newContext()`, cancelled once its call returned) is not one to watch:
another context in scope is, if there is one.

## Why is this bad?
When the context is cancelled nothing wakes the loop: it stays blocked on its channel, and
the goroutine running it, with everything it holds, lives on after its caller gave up. This
is the article's `syncLoop`: "缺少 `case <-ctx.Done(): return` 分支".

## Example
```go
func syncLoop(ctx context.Context, ch <-chan Item) {
    for {
        select {
        case item := <-ch:
            process(item)
        }
    }
}
```

## Use instead
```go
func syncLoop(ctx context.Context, ch <-chan Item) error {
    for {
        select {
        case item := <-ch:
            process(item)
        case <-ctx.Done():
            return ctx.Err()
        }
    }
}
```

## Fix safety
No suggestion: what to do on cancellation (return an error, close an output channel) is
the author's call. Test files are not checked. Whether a channel is buffered, or which
stop channel a case watches, is beyond syntax: a case that leaves the loop counts as a way
out, whatever it receives from.
"""

from __future__ import annotations

from collections.abc import Iterator

from tree_sitter import Node

from ...finding import Severity
from ...gosource import GoFile
from ...rule import Report, Rule
from ...semantics import Package, package_of
from ...semantics.contexts import (
    cancellable_contexts,
    cancelled_before,
    done_before,
    never_done_here,
    preferred,
    watches_done,
)
from ...semantics.names import PARAMETER, RANGE, RECEIVED
from ...syntax import (
    FUNCTION_TYPES,
    ancestors,
    communication_case,
    descendants,
    enclosing_function,
    enclosing_loops,
    field_of,
    has_default,
    parent_of,
    qualified_name,
    select_cases,
    unparen,
)

REMEDIATION = """\
for {
    select {
    case item := <-ch:
        process(item)
    case <-ctx.Done():
        return ctx.Err()
    }
}"""


def _leaves_loop(file: GoFile, case: Node) -> bool:
    """A case that ends the loop: a two-value receive, or a body with a `return`, a `goto`
    or a labelled `break` of its own."""
    communication = case.child_by_field_name("communication")
    if communication is not None and communication.type == "receive_statement":
        left = communication.child_by_field_name("left")
        if left is not None and len(left.named_children) == 2:
            return True
    for node in descendants(case, skip=FUNCTION_TYPES):
        if node.type in ("return_statement", "goto_statement"):
            return True
        if node.type == "break_statement" and node.named_children:
            return True
    return False


def _blocking_select(file: GoFile, select: Node) -> bool:
    if has_default(select):
        return False
    cases = select_cases(select)
    package = package_of(file)
    return (
        not any(watches_done(package, file, case.child_by_field_name("communication") or case) for case in cases)
        and not any(_leaves_loop(file, case) for case in cases)
        and not all(_collecting_case(package, file, case) for case in cases)
    )


def _collecting_case(package: Package, file: GoFile, case: Node) -> bool:
    """A case that receives from a channel the function's own literals send on, in a loop
    that collects a fixed number of results (`_collects`)."""
    communication = case.child_by_field_name("communication")
    if communication is None:
        return False
    receive = communication
    if communication.type == "receive_statement":
        receive = communication.child_by_field_name("right") or communication
    receive = unparen(receive)
    if receive.type != "unary_expression" or not file.text(receive).startswith("<-"):
        return False
    operand = receive.child_by_field_name("operand")
    return operand is not None and _collects(package, file, receive, operand)


def _receive_statement(file: GoFile, node: Node) -> bool:
    """`<-ch`, `v := <-ch` or `v = <-ch` as a statement of its own (not `v, ok := <-ch`, which
    notices a closed channel, and not a receive from `.Done()`)."""
    if not file.text(node).startswith("<-") or watches_done(package_of(file), file, node):
        return False
    parent = parent_of(node)
    if parent.type == "expression_statement":
        return True
    statement = parent.parent if parent.type == "expression_list" else None
    if statement is None or statement.type not in ("short_var_declaration", "assignment_statement"):
        return False
    return (
        parent == statement.child_by_field_name("right")
        and len(parent.named_children) == 1
        and len(field_of(statement, "left").named_children) == 1
    )


def _bounded(file: GoFile, node: Node, kind: str) -> bool:
    """A bare operation that waits on the function's own work, not on a stream from outside:
    a send on a channel made with a buffer (a semaphore), a receive that gives back a slot
    of such a channel that the loop took before it, a receive from a method's result
    (`<-q.Idle()`), or a receive from a channel a goroutine of the same function was given."""
    package = package_of(file)
    channel = node.child_by_field_name("channel" if kind == "send" else "operand")
    if channel is None:
        return False
    capacity = package.values.capacity(file, channel)
    buffered = capacity is not None and capacity != 0
    if kind == "send":
        last_word = _then_returns(node)  # a final result, sent once per call
        return (
            (buffered and (last_word or not _handed_stream(package, file, channel)))
            or _reply(package, file, channel)
            or _drained(package, file, node, channel)
        )
    if channel.type == "call_expression":
        return qualified_name(file, channel) is None
    if _timer_drain(package, file, node, channel):
        return True
    if buffered and _released_slot(package, file, node, channel):
        return True
    if _token_given_back(package, file, node, channel):
        return True
    if _collects(package, file, node, channel) or _answer_to_handoff(package, file, node, channel):
        return True
    root = _root(channel)
    binding = package.binding(file, root) if root is not None else None
    if binding is None or not binding.is_local:
        return False
    return any(_in_go_statement(reference) for reference in package.references(binding))


# -- a channel the function keeps to itself ---------------------------------------------------
SEND, RECEIVE, RANGE_OVER = "send", "receive", "range"


def _own_channel(package: Package, file: GoFile, channel: Node) -> list[tuple[str, Node]] | None:
    """The sends, receives and ranges of a channel the function makes (`ch := make(chan T)`)
    and keeps to itself: every mention of it, in its own body or its literals, is one of
    those, a `close`, a `len` or a `cap`. Each with the node that waits (the send statement,
    the receive, the `for` of a range). None when it may be handed on or given another value."""
    channel = unparen(channel)
    binding = package.binding(file, channel) if channel.type == "identifier" else None
    if binding is None or not binding.is_local or binding.value is None or binding.spread:
        return None
    made = unparen(binding.value)
    if made.type != "call_expression" or not file.text(made).startswith("make(chan"):
        return None
    if len(package.assignments(binding)) != 1:
        return None
    sites: list[tuple[str, Node]] = []
    for reference in package.references(binding):
        if reference.id == (binding.identifier.id if binding.identifier is not None else -1):
            continue
        parent = parent_of(reference)
        if parent.type == "send_statement" and parent.child_by_field_name("channel") == reference:
            sites.append((SEND, parent))
        elif parent.type == "unary_expression" and file.text(parent).startswith("<-"):
            sites.append((RECEIVE, parent))
        elif parent.type == "range_clause" and parent.child_by_field_name("right") == reference:
            sites.append((RANGE_OVER, parent_of(parent)))
        elif parent.type == "argument_list" and file.text(field_of(parent_of(parent), "function")) in (
            "close",
            "len",
            "cap",
        ):
            continue
        else:
            return None
    return sites


def _runs_to_the_end(file: GoFile, loop: Node) -> bool:
    """A loop with no way out of its own: no `return`, `goto` or labelled `break` in its body,
    and no `break` of it (its literals aside). It stops only when its range or its condition
    does."""
    body = loop.child_by_field_name("body")
    for node in descendants(body, skip=FUNCTION_TYPES) if body is not None else []:
        if node.type in ("return_statement", "goto_statement"):
            return False
        if node.type == "break_statement":
            if node.named_children:
                return False
            target = next(
                (a for a in ancestors(node, file) if a.type in ("for_statement", *BREAKABLE)),
                None,
            )
            if target is None or target.id == loop.id:
                return False
    return True


BREAKABLE = ("select_statement", "expression_switch_statement", "type_switch_statement")


def _drained(package: Package, file: GoFile, send: Node, channel: Node) -> bool:
    """A send on a channel the function keeps to itself, received only by loops of its own
    (its body or the goroutines it starts) that run to their end without leaving early: a
    worker ranging over its jobs until they are closed, a collector taking one result per
    item. They never stop listening, whatever the context does; whether they take as many
    as are sent is GR113's question."""
    sites = _own_channel(package, file, channel)
    if sites is None:
        return False
    receivers = [(kind, node) for kind, node in sites if kind != SEND]
    if not receivers:
        return False
    for kind, node in receivers:
        loop = node if kind == RANGE_OVER else next(iter(enclosing_loops(node, file=file)), None)
        if loop is None or not _runs_to_the_end(file, loop):
            return False
        case = node if kind == RANGE_OVER else communication_case(node, file)
        select = parent_of(case) if case is not None else None
        if (
            select is not None
            and select.type == "select_statement"
            and any(
                watches_done(package, file, c.child_by_field_name("communication") or c) for c in select_cases(select)
            )
        ):
            return False
    return True


def _collects(package: Package, file: GoFile, receive: Node, channel: Node) -> bool:
    """A receive, in a loop over a fixed number of rounds that runs to its end (`for range
    jobs`, `for i := 0; i < n; i++`), from a channel the function keeps to itself and that
    only its literals (the goroutines it starts, the callbacks it hands out) send on:
    collecting one result per piece of work it started."""
    sites = _own_channel(package, file, channel)
    function = enclosing_function(receive, file)
    if sites is None or function is None:
        return False
    sends = [node for kind, node in sites if kind == SEND]
    if not sends or any(enclosing_function(send, file) == function for send in sends):
        return False
    loop = next(iter(enclosing_loops(receive, file=file)), None)
    return loop is not None and _counted(file, loop) and _runs_to_the_end(file, loop)


def _counted(file: GoFile, loop: Node) -> bool:
    """`for range items`, `for range n`, `for i := 0; i < n; i++`: not a channel's range, not
    `for {}`."""
    clause = next((c for c in loop.named_children if c.type in ("range_clause", "for_clause")), None)
    if clause is None:
        return False
    if clause.type == "for_clause":
        return clause.child_by_field_name("condition") is not None
    ranged = package_of(file).type_of(file, field_of(clause, "right"))
    return ranged is not None and ranged.kind != "chan"


def _answer_to_handoff(package: Package, file: GoFile, receive: Node, channel: Node) -> bool:
    """A receive from a channel carried by the value the function has just sent
    (`case pickers <- o:` then `<-o.filled`, or `pickers <- o` as the statement before): the
    peer that took the value owes it that answer, as a request's reply channel is owed one."""
    root = _root(channel)
    binding = package.binding(file, root) if root is not None and root is not channel else None
    if binding is None:
        return False
    statement = receive
    while statement.parent is not None and statement.parent.type not in ("statement_list", "communication_case"):
        statement = statement.parent
    holder = statement.parent
    if holder is None:
        return False
    previous = statement.prev_named_sibling
    while previous is not None and previous.type == "comment":
        previous = previous.prev_named_sibling
    if previous is None and holder.type == "statement_list":
        case = holder.parent
        previous = (
            case.child_by_field_name("communication")
            if case is not None and case.type == "communication_case"
            else None
        )
    elif holder.type == "communication_case":
        previous = holder.child_by_field_name("communication") if previous is not None else None
    if previous is None or previous.type != "send_statement":
        return False
    value = unparen(field_of(previous, "value"))
    return value.type == "identifier" and package.binding(file, value) is binding


def _then_returns(statement: Node) -> bool:
    """The statement right after this one, in its block, is a `return`."""
    following = statement.next_named_sibling
    while following is not None and following.type == "comment":
        following = following.next_named_sibling
    return following is not None and following.type == "return_statement"


def _timer_drain(package: Package, file: GoFile, receive: Node, channel: Node) -> bool:
    """`if !t.Stop() { <-t.C }`: Stop said a value is due, so the drain takes it at once
    (whether another receive may have taken it first is GR116's question)."""
    channel = unparen(channel)
    if channel.type != "selector_expression" or file.text(field_of(channel, "field")) != "C":
        return False
    timer = field_of(channel, "operand")
    timer_type = package.type_of(file, timer)
    if timer_type is None or not timer_type.is_named("time.Timer"):
        return False
    guard = next((a for a in ancestors(receive, file) if a.type == "if_statement"), None)
    return (
        guard is not None and "".join(file.text(field_of(guard, "condition")).split()) == f"!{file.text(timer)}.Stop()"
    )


def _reply(package: Package, file: GoFile, channel: Node) -> bool:
    """A channel that came in a request the loop received (`case req := <-requests:` then
    `req.reply <- v`, or `case reply := <-waiters:` then `reply <- v`): the requester handed
    it over to wait for this answer. Whether the requester may stop waiting is its own
    question (GR101's when it gives up in a `select`), not a stream this loop should watch."""
    root = _root(channel)
    binding = package.binding(file, root) if root is not None else None
    if binding is None or not binding.is_local:
        return False
    if binding.kind == RECEIVED:
        return True
    if binding.kind == RANGE:
        ranged = package.type_of(file, binding.value) if binding.value is not None else None
        return ranged is not None and ranged.kind == "chan"
    values = [unparen(a.value) for a in package.assignments(binding) if a.value is not None]
    return bool(values) and all(v.type == "unary_expression" and file.text(v).startswith("<-") for v in values)


def _handed_stream(package: Package, file: GoFile, channel: Node) -> bool:
    """A channel parameter that carries values (not `chan struct{}` tokens): the function
    produces for a receiver elsewhere, which may stop receiving whatever the buffer holds."""
    if channel.type != "identifier":
        return False
    binding = package.binding(file, channel)
    if binding is None or binding.kind != PARAMETER:
        return False
    channel_type = package.type_of(file, channel)
    element = channel_type.elem if channel_type is not None and channel_type.kind == "chan" else None
    return element is not None and element.kind != "struct"


def _released_slot(package: Package, file: GoFile, receive: Node, channel: Node) -> bool:
    """`sem <- token` earlier in the same loop body: this receive hands the slot back."""
    loop = enclosing_loops(receive, file=file)[0]
    for send in file.nodes("send_statement", within=loop):
        if send.start_byte >= receive.start_byte:
            break
        sent_on = send.child_by_field_name("channel")
        if sent_on is not None and _same_place(package, file, sent_on, channel):
            return True
    return False


def _token_given_back(package: Package, file: GoFile, receive: Node, channel: Node) -> bool:
    """`<-slots` on its own, in the body of the case that took this pass's work from a
    `select` that also watches the context, on a channel of empty-struct tokens: the work's
    sender took a slot before handing it over (`case l.slots <- struct{}{}: l.tasks <- t`),
    and this gives it back. The loop waits for its work and its context together; the
    token it returns was put there for it."""
    if parent_of(receive).type != "expression_statement":
        return False  # its value is read: a result, not a token
    channel_type = package.type_of(file, channel)
    element = channel_type.elem if channel_type is not None and channel_type.kind == "chan" else None
    if element is None or element.kind != "struct":
        return False
    case = next(
        (a for a in ancestors(receive, file) if a.type == "communication_case" or a.type in FUNCTION_TYPES), None
    )
    taken = case.child_by_field_name("communication") if case is not None else None
    if case is None or taken is None or watches_done(package, file, taken):
        return False
    return any(
        watches_done(package, file, other.child_by_field_name("communication") or other)
        for other in select_cases(parent_of(case))
        if other.id != case.id
    )


def _same_place(package: Package, file: GoFile, first: Node, second: Node) -> bool:
    """The same variable, or the same field path from the same variable."""
    if file.text(first) != file.text(second):
        return False
    roots = _root(first), _root(second)
    if roots[0] is None or roots[1] is None:
        return False
    return package.binding(file, roots[0]) is package.binding(file, roots[1])


def _root(expression: Node) -> Node | None:
    """`s` for `s.sem`, `chans` for `chans[i]`."""
    while expression.type in ("selector_expression", "index_expression", "parenthesized_expression"):
        inner = expression.child_by_field_name("operand") or (
            expression.named_children[0] if expression.named_children else None
        )
        if inner is None:
            return None
        expression = inner
    return expression if expression.type == "identifier" else None


def _in_go_statement(node: Node) -> bool:
    current = node.parent
    while current is not None and current.type not in ("function_declaration", "method_declaration"):
        if current.type == "go_statement":
            return True
        current = current.parent
    return False


def check(file: GoFile) -> Iterator[Report]:
    operations = [(n, "select") for n in file.nodes("select_statement")]
    operations += [(n, "send") for n in file.nodes("send_statement") if parent_of(n).type != "communication_case"]
    operations += [(n, "receive") for n in file.nodes("unary_expression") if _receive_statement(file, n)]
    for node, kind in sorted(operations, key=lambda pair: pair[0].start_byte):
        if not enclosing_loops(node, file=file):
            continue
        if kind == "select" and not _blocking_select(file, node):
            continue
        if kind != "select" and _bounded(file, node, kind):
            continue
        package = package_of(file)
        context = preferred(
            [c for c in cancellable_contexts(package, file, node) if not cancelled_before(package, c.binding, node)]
        )
        if context is None or done_before(package_of(file), file, node):
            continue  # no context to watch, or it has already fired on every path here
        if never_done_here(file, node, context.expression):
            continue  # the code checked that this context has no Done channel
        if kind == "select":
            what = "This `select` in a loop has no `default` and no `.Done()` case"
        else:
            what = f"`{file.text(node)}` in a loop blocks without a `select`"
        yield Report(
            node=node,
            message=(
                f"{what}: when `{context.expression}` is cancelled the loop keeps waiting. Add "
                f"`case <-{context.expression}.Done(): return`."
            ),
            remediation=REMEDIATION,
            names={"ctx": context.expression},
            context=context.binding,
        )


RULE = Rule(
    id="GR205",
    name="loop-ignores-done",
    severity=Severity.WARNING,
    doc=__doc__,
    check=check,
    imports=("context", "net/http"),
    in_tests=False,
)
