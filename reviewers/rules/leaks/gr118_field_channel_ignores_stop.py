"""GR118 field-channel-ignores-stop: a send or receive on a field channel that ignores the type's stop signal.

## What it does
In a type that has a stop signal — a channel field that some function of the package
closes (`close(s.done)`) and none sends on (a stream its producer closes at the end is
not a signal), a `context.Context` field, a context in scope where the operation is
written, the stop channel of another type it holds that its own code watches
(`case <-s.life.Halted():`, a method returning a field that some function closes), or for
a send, receivers that give up (every receive of the field in the package is a `select`
case beside one that returns on `<-ctx.Done()`: once they return, nobody takes the value)
— flags a send or receive on another channel field of the type, in one of its methods, or a
send on a channel the method is handed as a parameter (`errc chan<- error`) when the type
has a stop channel or a context field (in a loop with a context in scope that send is
GR205's), that does not watch it:
- outside any `select` (a case's body counts as outside);
- or as a case of a `select` without `default` whose other cases cannot stop it (they
  are operations on other non-stop channel fields).

Also flags, in any function, a receive (alone, or the one case of a `select`) on an
unexported channel field that nothing can ever release: every value the package stores
in it is a fresh `make`, nothing in the package sends on it or closes it, and it goes
nowhere but to receives and to getters that hand it back receive-only (`<-chan T`, which
callers cannot close) — a receive through such a getter, `<-s.stopper.ShouldQuiesce()`,
is one on the field. It is the stop signal nobody ever fires. Likewise a send on such a
field, unbuffered or with a buffer sized at run time, that nothing in the package ever
receives from: it blocks once the buffer is full.

A receive on the stop channel itself is what watching it means, and so is a `select`
case whose body returns (`case <-s.stopped: return`); timer channels are GR116's business.
An operation in the body of a `select` case is guarded by that `select` when it watches
the stop signal, unless the body fires the signal itself first (`s.cancel()`,
`close(s.done)`): the peers that watch it then leave.

Not flagged either: an operation that every path reaches after receiving from a `Done()`
channel (the context already fired: watching it again cannot help); a send on a field made
with a buffer of a constant size, or of empty values (as the package shows it), a
notification with room — a stream whose buffer is sized at run time
(`make(chan Event, size)`) fills up once its reader is gone and is flagged; a receive on a
field that some function closes, and a send on one that the function firing the stop signal
closes too (`Close` closes `requests` with `stopped`: a blocked sender is released — by a
panic, another trap), or on one that some function drains after it waits for the stop
signal (`<-c.flushed`, then a loop receiving `c.acks`: a cleanup takes what senders still
hold), or whose every receiver is a loop that only the channel's close ends (a range over
it, or `v, ok := <-c.jobs` with `if !ok` its one way out: they stay while senders can
send; a test that reads a value straight from the field, as a user of its getter would,
is not one of the package's receivers); a receive on a field whose every send is a goroutine's last word, a statement of
the closure it defers (`defer func() { u.outcome <- err }()`: it answers however it ends);
a send by a goroutine counted in a WaitGroup that the receiving
side waits on (it drains the channel, then joins the senders); an operation in the
owner's own loop (a function that closes the stop channel, itself or through a call); an
operation in a loop that polls a stop flag each round (a `bool` or `sync/atomic` field,
checked with a `return` or `break`); and one on a channel the same method has just made
and stored in the field: a fresh channel of its own, not a protocol with another
goroutine.

## Why is this bad?
A goroutine blocked on a field channel is only released by its peer. After `Stop` or
`Close` (or once the context is cancelled) the peer is gone, and the goroutine — with
everything it references — stays parked forever: the leak that shows up as a slowly
growing goroutine count in long-running services, and as hangs in shutdown.

## Example
```go
func (w *Worker) emit(r Result) {
    w.results <- r // blocks forever once nobody reads results after Stop
}

func (w *Worker) Stop() { close(w.done) }
```

```go
func (s *sampler) run() {
    for {
        select {
        case <-s.life.Halted(): // polled...
            return
        default:
            s.out <- sample() // ...but not while it blocks here
        }
    }
}
```

## Use instead
```go
func (w *Worker) emit(r Result) {
    select {
    case w.results <- r:
    case <-w.done:
    }
}

func (s *sampler) run() {
    for {
        select {
        case <-s.life.Halted():
            return
        case s.out <- sample():
        }
    }
}
```
and for a signal nobody fires, fire it where its owner stops (`close(q.drained)` once
the queue is empty), or stop waiting on it.

A channel handed in is no better: `func (s *scraper) report(errc chan<- error)` that does
`errc <- err` while `s.ctx` is cancelled waits for a reader that has gone.

## Fix safety
No suggestion: which signal to watch, and what to do when it fires, is the author's call.
Only channel fields of struct types declared in the package are followed, through a
method's receiver or a variable of that type. Another type's stop channel counts only
when the type reaches it through one of its fields and watches it somewhere itself.
"""

from __future__ import annotations

from collections.abc import Iterator

from tree_sitter import Node

from ...finding import Severity
from ...gosource import GoFile
from ...rule import Report, Rule
from ...semantics import package_of
from ...semantics.cfg import statements_of
from ...semantics.contexts import cancellable_contexts, done_before, preferred
from ...semantics.names import PARAMETER
from ...semantics.package import Declared, Package
from ...semantics.places import FIELD, LOCAL, Operation, Place, holds, place_of, spelling
from ...semantics.types import CANCEL, CONTEXT, WAITGROUP, Field
from ...semantics.values import BUFFERED
from ...syntax import (
    FUNCTION_TYPES,
    ancestors,
    communication_case,
    descendants,
    enclosing_loops,
    function_label,
    functions_in_order,
    has_default,
    is_done_receive,
    qualified_name,
    select_cases,
    surely_ran_before,
    unparen,
)

REMEDIATION = """\
select {
case w.results <- r:
case <-w.done: // the stop signal: give up instead of blocking forever
    return
}"""


class _Type:
    """A type of the package with channel fields, and its stop signals."""

    def __init__(self, package: Package, name: str):
        self.name = name
        fields = package.types_model.fields(name)
        self.channels = {_place(name, f): f for f in fields if f.type is not None and f.type.kind == "chan"}
        self.contexts = sorted(  # the type's own `ctx` first
            (f.name for f in fields if f.type is not None and f.type == CONTEXT), key=lambda name: name != "ctx"
        )
        self.cancels = {_place(name, f) for f in fields if f.type is not None and f.type == CANCEL}
        self.closed: dict[Place, Declared] = {}  # a channel field -> a function that closes it
        for place in self.channels:
            closers = package.facts.users(place, "close")
            if closers:
                self.closed[place] = closers[0][0]
        # closed and never sent on: a stop signal, not a stream its producer closes at the end
        self.stops = {p: closer for p, closer in self.closed.items() if not package.facts.users(p, "send")}
        # Stop channels of another type the type holds, that its own code watches: how it
        # receives from one (`<-t.stopper.ShouldStop()`).
        self.watched: dict[Place, str] = {}
        if self.channels:
            self._watched_elsewhere(package)

    def _watched_elsewhere(self, package: Package) -> None:
        facts = package.facts
        for declared in facts.spelling(b"<-"):  # a receive is spelled so
            if facts.owner_type(declared) != self.name:
                continue
            for op in facts.operations(declared).of("receive"):
                if op.place.kind != FIELD or op.place in self.channels:
                    continue
                holder = _holder(declared.file, op.node)
                held = place_of(package, declared.file, holder) if holder is not None else None
                if held is None or held.kind != FIELD or not held.key.startswith(f"{self.name}."):
                    continue  # not reached through a field of this type
                closers = facts.users(op.place, "close")
                if closers and op.place not in self.closed:
                    self.closed[op.place] = self.stops[op.place] = closers[0][0]
                    operand = op.node.child_by_field_name("operand")
                    self.watched[op.place] = declared.file.text(operand) if operand is not None else op.place.label


def _holder(file: GoFile, receive: Node) -> Node | None:
    """What holds the channel received from: `t.stopper` in `<-t.stopper.done` and in
    `<-t.stopper.ShouldStop()`."""
    operand = receive.child_by_field_name("operand")
    operand = unparen(operand) if operand is not None else None
    if operand is not None and operand.type == "call_expression":
        operand = operand.child_by_field_name("function")
    return (
        operand.child_by_field_name("operand")
        if operand is not None and operand.type == "selector_expression"
        else None
    )


def _place(type_name: str, field: Field) -> Place:
    return Place(FIELD, f"{type_name}.{field.name}", field.name)


def _skipped(package: Package, declared: Declared, op: Operation, owner: _Type) -> bool:
    """The shapes that are not a forgotten stop signal."""
    facts, file = package.facts, declared.file
    if op.place in owner.stops or (op.kind == "receive" and op.place in owner.closed):
        return True  # the stop channel itself, or a receive that a close releases
    if any(facts.performs(declared, "close", closed, 2) is not None for closed in owner.closed):
        return True  # the owner's own loop: it is the one that stops
    case = communication_case(op.node, file)
    if op.kind == "receive" and case is not None and _exits(case):
        return True  # a way out itself: its case returns
    within = facts.within(declared, "send", "receive", "Done")
    if op.kind == "send" and _joined(package, within, op.place):
        return True
    if any(o.kind == "send" and o.place == op.place for o in within) and any(
        o.kind == "receive" and o.place == op.place for o in within
    ):
        return True  # a token passed back and forth: a channel used as a lock
    if op.kind == "receive" and not facts.users(op.place, "send"):
        return True  # nobody in the package sends: it is released by a close we may not see
    if op.kind == "receive" and facts.answered_on_exit(op.place):
        return True  # every sender is a goroutine that sends as it ends, however it ends
    if op.kind == "send" and _closed_on_stop(package, op.place, owner):
        return True  # the stop closes this channel too: a blocked sender is released (by a panic)
    capacity = _capacity(package, file, op)
    field = owner.channels.get(op.place)  # None for a channel the method is handed
    if capacity not in (None, 0) and (
        (field is not None and _element_is_empty(field)) or (op.kind == "send" and capacity != BUFFERED)
    ):
        return True  # a notification with room, a slot for a known number of values, or a semaphore
    if _made_here(package, declared, op.place):
        return True  # a channel this method made: not a protocol the type keeps
    if done_before(package, file, op.node):
        return True  # the context already fired on every path here: watching it cannot help
    if _inside_watching_select(package, file, op.node, owner) or _polls_flag(package, file, op.node):
        return True
    # Package-wide questions about the channel's receivers, asked last.
    if op.kind == "send" and _drained_after_stop(package, op.place, owner):
        return True  # once the type stops, a cleanup takes what senders still hold
    # its receivers stay until it is closed
    return op.kind == "send" and facts.received_until_closed(op.place, in_test=file.is_test)


def _closed_on_stop(package: Package, channel: Place, owner: _Type) -> bool:
    """Whether a function that fires a stop signal of the type also closes `channel`
    (`Close` closes `requests` and `stopped` together): once the type stops, a sender blocked
    on the channel does not stay parked — it panics, which is not this trap."""
    stoppers = {closer.node.id for closer in owner.stops.values()}
    return any(closer.node.id in stoppers for closer, _ in package.facts.users(channel, "close"))


def _drained_after_stop(package: Package, channel: Place, owner: _Type) -> bool:
    """Whether a function of the package receives from `channel` after it has waited for a
    stop signal of the type (`<-c.flushed`, then a loop on `<-c.acks`): a cleanup that
    drains what senders still hold once the type stops."""
    facts = package.facts
    for drainer, receive in facts.users(channel, "receive", "range"):
        file = drainer.file
        for stop in facts.operations(drainer).of("receive"):
            waited = stop.statement(file)
            if (
                stop.place in owner.stops
                and waited is not None
                and waited.type == "expression_statement"
                and surely_ran_before(file, waited, receive.node)
            ):
                return True
    return False


def _exits(case: Node) -> bool:
    """Whether a select case's body returns: receiving there is a way out."""
    return any(s.type == "return_statement" for s in statements_of(case))


def _joined(package: Package, within: list[Operation], channel: Place) -> bool:
    """Whether the sender is counted in a WaitGroup that a receiver of the channel waits
    on: the receiving side drains the channel before it waits for the senders (a join)."""
    facts = package.facts
    groups = {o.place for o in within if o.kind == "Done" and holds(package, o.place, WAITGROUP)}
    return bool(groups) and any(
        facts.performs(receiver, "Wait", group, 1) is not None
        for receiver, _ in facts.users(channel, "receive", "range")
        for group in groups
    )


def _capacity(package: Package, file: GoFile, op: Operation) -> int | None:
    """The buffer the channel is made with (values.py: `BUFFERED` for a computed size)."""
    channel = op.node.child_by_field_name("channel" if op.kind == "send" else "operand")
    return package.values.capacity(file, channel) if channel is not None else None


def _element_is_empty(field: Field) -> bool:
    element = field.type.elem if field.type is not None else None
    return element is not None and element.kind == "struct"


def _made_here(package: Package, declared: Declared, place: Place) -> bool:
    """Whether the method (around a literal: the method holding it) stores a new channel in
    the field itself."""
    method = declared.file.top_level(declared.node) or declared.node
    owner, _, name = place.key.partition(".")
    return any(
        stored.file is declared.file
        and method.start_byte <= stored.value.start_byte < method.end_byte
        and stored.value.type == "call_expression"
        and stored.file.text(stored.value.child_by_field_name("function") or stored.value) == "make"
        for stored in package.values.field_values(owner, name)
    )


def _inside_watching_select(package: Package, file: GoFile, operation: Node, owner: _Type) -> bool:
    """Whether the operation is in the body of a case of a `select` that watches the stop
    signal: a handshake that the select already guards (not its `default:`)."""
    for ancestor in ancestors(operation, file):
        if ancestor.type in FUNCTION_TYPES:
            return False
        select = file.parent(ancestor) if ancestor.type == "communication_case" else None
        if select is not None and any(_watches_stop(package, file, case, owner) for case in select_cases(select)):
            return not _fires_stop_first(package, file, ancestor, operation, owner)
    return False


def _fires_stop_first(package: Package, file: GoFile, case: Node, operation: Node, owner: _Type) -> bool:
    """Whether the case body, before the operation, fires the type's own stop signal (calls
    its cancel field, `s.cancel()`, or closes its stop channel): the peers that watch it leave,
    and the select no longer guards what follows."""
    for call in descendants(case, skip=FUNCTION_TYPES):
        if call.type != "call_expression" or call.start_byte >= operation.start_byte:
            continue
        function = call.child_by_field_name("function")
        if function is not None and place_of(package, file, function) in owner.cancels:
            return True
        if function is not None and file.text(function) == "close":
            arguments = call.child_by_field_name("arguments")
            closed = arguments.named_children[0] if arguments is not None and arguments.named_children else None
            if place_of(package, file, closed) in owner.stops:
                return True
    return False


def _watches_stop(package: Package, file: GoFile, case: Node, owner: _Type) -> bool:
    """A case receiving from a `Done()` channel or from one of the type's stop channels."""
    communication = case.child_by_field_name("communication") if case.type == "communication_case" else None
    if communication is None:
        return False
    if is_done_receive(file, communication):
        return True
    return any(
        node.type == "unary_expression"
        and (operand := node.child_by_field_name("operand")) is not None
        and package.facts.channel_place(file, operand) in owner.closed
        for node in (communication, *communication.named_children)
    )


def _polls_flag(package: Package, file: GoFile, operation: Node) -> bool:
    """Whether the loop around the operation checks a stop flag each round: its condition,
    or an `if` of its body that returns or breaks, reads a `bool` or `sync/atomic` field
    (`s.closed`, `s.stopped.Load()`, `atomic.LoadInt32(&s.state)`)."""
    loops = enclosing_loops(operation, file=file)
    if not loops:
        return False
    loop = loops[0]
    checks = [c for c in loop.named_children if c.type not in ("block", "comment")]
    body = loop.child_by_field_name("body")
    for statement in body.named_children if body is not None else []:
        for inner in [statement, *(s for s in statement.named_children if s.type == "statement_list")]:
            for candidate in [inner, *inner.named_children]:
                if candidate.type == "if_statement" and any(
                    n.type in ("return_statement", "break_statement")
                    for n in descendants(candidate.child_by_field_name("consequence") or candidate)
                ):
                    checks.append(candidate.child_by_field_name("condition") or candidate)
    return any(_reads_flag(package, file, check) for check in checks)


def _reads_flag(package: Package, file: GoFile, condition: Node) -> bool:
    for node in (condition, *descendants(condition)):
        if node.type == "call_expression" and (qualified_name(file, node) or "").startswith("sync/atomic.Load"):
            return True
        if node.type == "selector_expression":
            value = package.type_of(file, node)
            if value is not None and (
                (value.kind == "basic" and value.name == "bool")
                or (value.deref().kind == "named" and value.deref().name.startswith("sync/atomic."))
            ):
                return True
    return False


def _can_stop(package: Package, file: GoFile, case: Node, owner: _Type) -> bool:
    """Whether a select case can end the wait: a receive on a stop signal, a timeout, a
    channel that is not a field of the type (we cannot tell), or a default."""
    if case.type == "default_case":
        return True
    communication = case.child_by_field_name("communication")
    if communication is None or is_done_receive(file, communication):
        return True
    channel = (
        communication.child_by_field_name("channel")
        if communication.type == "send_statement"
        else next(
            (
                n.child_by_field_name("operand")
                for n in (communication, *communication.named_children)
                if n.type == "unary_expression"
            ),
            None,
        )
    )
    if channel is None:
        return True
    if channel.type == "call_expression" and qualified_name(file, channel) in ("time.After", "time.Tick"):
        return True
    if communication.type != "send_statement" and _exits(case):
        return True
    place = package.facts.channel_place(file, channel)
    return place is None or place in owner.closed or place not in owner.channels


def _select_of(file: GoFile, operation: Node) -> Node | None:
    """The `select` whose case this operation is the communication of."""
    if communication_case(operation, file) is None:
        return None
    return next((a for a in ancestors(operation, file) if a.type == "select_statement"), None)


def check(file: GoFile) -> Iterator[Report]:
    if b"<-" not in file.source:
        return  # no channel operation
    package = package_of(file)
    facts = package.facts
    types: dict[str, _Type] = {}
    functions = [n for n in functions_in_order(file) if file.source.find(b"<-", n.start_byte, n.end_byte) >= 0]
    yield from _never_answered(package, file, functions)
    for node in functions:
        declared = Declared(file, node)
        type_name = facts.owner_type(declared)
        if type_name is None:
            continue
        if type_name not in types:
            types[type_name] = _Type(package, type_name)
        owner = types[type_name]
        if not owner.channels and not owner.contexts:
            continue
        for op in facts.operations(declared).of("send", "receive"):
            if op.place not in owner.channels and not _handed_in(package, declared, op, owner):
                continue
            if _skipped(package, declared, op, owner):
                continue
            select = _select_of(file, op.node)
            if select is not None and (
                has_default(select)
                or any(
                    _can_stop(package, file, case, owner)
                    for case in select_cases(select)
                    if not (case.start_byte <= op.node.start_byte < case.end_byte)
                )
            ):
                continue
            signal = _signal(package, declared, op, owner)
            if signal is None:
                continue
            shown = file.text(op.node).split("\n", 1)[0]
            yield Report(
                op.node,
                f"`{shown}` ignores the stop signal: {signal}, but this {op.kind} does not watch it and blocks forever "
                f"once its peer is gone. `select` on the stop signal alongside it.",
                REMEDIATION,
            )


def _handed_in(package: Package, declared: Declared, op: Operation, owner: _Type) -> bool:
    """A send on a channel parameter of the method (`errc chan<- error`) in a type whose
    own stop signal it ignores; in a loop with a context in scope it is GR205's."""
    binding = op.place.binding
    if op.kind != "send" or op.place.kind != LOCAL or binding is None or binding.kind != PARAMETER:
        return False
    if binding.function != declared.node or not (owner.stops or owner.contexts):
        return False
    return not (enclosing_loops(op.node, file=declared.file) and cancellable_contexts(package, declared.file, op.node))


def _never_answered(package: Package, file: GoFile, functions: list[Node]) -> Iterator[Report]:
    """A receive or send — alone, or the one case of a `select` — on a channel field that
    nothing in the package can ever answer (`Facts.never_answered`): nothing sends on or
    closes it, or nothing receives from it (a send on a buffer of a constant size aside:
    it may never fill)."""
    facts = package.facts
    for node in functions:
        for op in facts.operations(Declared(file, node)).of("receive", "send"):
            if op.place.kind != FIELD:
                continue
            select = _select_of(file, op.node)
            if select is not None and len(select_cases(select)) > 1:
                continue
            if op.kind == "send" and _capacity(package, file, op) not in (0, BUFFERED):
                continue
            if not facts.never_answered(op.place, op.kind):
                continue
            shown = file.text(op.node).split("\n", 1)[0]
            yield Report(
                op.node,
                f"`{shown}` waits on `{op.place.key}`, which nothing in the package "
                + (
                    "sends on or closes: it blocks forever."
                    if op.kind == "receive"
                    else "receives from: it blocks forever once the buffer, if any, is full."
                )
                + " Give the channel its other side (close it where its owner stops, or drain it), or do not wait "
                "on it.",
                "close(s.done) // in the method that ends what the receivers wait for"
                if op.kind == "receive"
                else "for v := range s.events { // the reader the channel lacks, until its owner closes it\n    handle(v)\n}",
            )


def _signal(package: Package, declared: Declared, op: Operation, owner: _Type) -> str | None:
    """How the type stops, in words: `s.done` is closed in `Stop`, `ctx` is in scope, the
    receivers give up on `ctx.Done()`..."""
    stops = sorted(owner.stops.items(), key=lambda item: (item[0] in owner.watched, item[0].key))
    # A stop channel closed by the very function that calls this one is a poor one to name.
    outside = [item for item in stops if declared not in package.facts.reached(item[1], 2)]
    if stops and (outside or not owner.contexts):
        place, closer = (outside or stops)[0]
        where = function_label(closer.file, closer.node)
        shown = owner.watched.get(place) or spelling(declared.file, declared.node, place)
        return f"`{shown}` is closed in `{where}`"
    if owner.contexts:
        context = Place(FIELD, f"{owner.name}.{owner.contexts[0]}", owner.contexts[0])
        return f"the type holds a context (`{spelling(declared.file, declared.node, context)}`)"
    in_scope = preferred(cancellable_contexts(package, declared.file, op.node))
    if in_scope is not None:
        return f"`{in_scope.expression}` is in scope"
    gives_up = package.facts.stops_listening(op.place) if op.kind == "send" else None
    if gives_up is not None:
        receiver, case = gives_up
        head = receiver.file.text(case).split(":", 1)[0].strip()
        return f"its receiver in `{function_label(receiver.file, receiver.node)}` stops listening on `{head}`"
    return None


RULE = Rule(
    id="GR118",
    name="field-channel-ignores-stop",
    severity=Severity.WARNING,
    doc=__doc__,
    check=check,
    in_tests=False,
)
