"""GR117 blocking-under-lock: a channel operation, `select` or `wg.Wait()` while a mutex is held.

## What it does
Flags a channel send or receive, a `select` without `default`, or a `wg.Wait()` reached
while a `sync.Mutex`/`RWMutex` is held on every path to it — after its `Lock()`/`RLock()`
with no unlock between (a deferred unlock runs at the end), as the control-flow graph
shows — when another function of the package (another method of the type, a goroutine,
a closure) locks the same mutex: the same field of the same type, or the same variable.
A read lock contends only with functions that take the write lock.

It is an error when a function on the other side of that operation — one that sends on,
receives from or closes the same channel, or calls `Done` on the same WaitGroup — takes
that mutex too, directly or one call deep, other than after it has answered (`close(m.shutdown)`
then `m.mu.Lock()` releases the waiter first): each waits for the other, for good. A call,
under the lock, of a function of the package that waits on a shared channel or WaitGroup
(the package facts say so) is that error too when such a peer exists; without one, it is
a warning only when the callee sends on a channel that nothing in the package receives
from by that name (its receiver is out of sight). A channel of one element picked from a
collection (`for _, w := range p.workers { w.task <- nil }`, a method of `p.workers[n]`)
is not shown to wait for its peer: the goroutine that takes the lock may be another
element's (a worker that locks the pool to put itself back among the idle, then waits for
its next task). The wait under the lock is then info (annotated, not commented): the element
picked is mostly one known to be ready.

It is an error too when what waits — the operation itself, or the function a call under
the lock runs (a method, a function, or the one function the package keeps in an
unexported field: a callback) — waits on a receive or a `Wait` whose only ways out (the
sends and closes of that channel, under any name the package copies it to; the `Done`s of
that WaitGroup) are in functions that run only under the same lock: every call of them in
the package holds it. The waiter keeps out the very code that would release it.

A send on a channel made with a buffer of one element (a notification) is that error too,
itself or in a function the call under the lock runs, when the loop that receives from the
channel takes the same lock between its receives (in its body, itself or one call deep):
the buffer only puts the deadlock off. Once one value waits in the slot while the loop is
away taking the lock, the next send waits for the loop with the lock held. One call deep
includes a callback the loop calls through a field, with every function the package's own
code may put there: a method value (`onTick: s.purge`), or what an exported constructor is
handed by the package's own calls, a literal a function of the package returns included.

## Why is this bad?
A blocked channel operation holds the lock for as long as it waits, so every other user
of the mutex queues behind a peer that may never come. When the peer itself needs the
lock to get to its side of the channel, neither can move: the deadlock that dominates
real Go blocking bugs, and one the race detector does not see.

## Example
```go
func (b *Broker) Publish(e Event) {
    b.mu.Lock()
    defer b.mu.Unlock()
    b.events <- e // waits for the loop...
}

func (b *Broker) loop() {
    for e := range b.events {
        b.mu.Lock() // ...which waits for Publish's lock
        b.last = e
        b.mu.Unlock()
    }
}
```

```go
func (t *Banquet) Host() {
    t.mu.Lock()
    defer t.mu.Unlock()
    t.awaitGuest() // <-t.seated: only sit() sends, and sit() is only called under t.mu
}
```

```go
func (r *Registry) Add(name string) {
    r.mu.Lock()
    defer r.mu.Unlock()
    r.names[name] = true
    r.changed <- struct{}{} // make(chan struct{}, 1): full while the watcher waits for r.mu
}
```

## Use instead
```go
func (b *Broker) Publish(e Event) {
    b.mu.Lock()
    closed := b.closed // copy what is needed under the lock
    b.mu.Unlock()
    if !closed {
        b.events <- e
    }
}

func (r *Registry) Add(name string) {
    r.mu.Lock()
    defer r.mu.Unlock()
    r.names[name] = true
    select {
    case r.changed <- struct{}{}: // a nudge never waits: one is pending already
    default:
    }
}
```

## Fix safety
No suggestion: what must stay under the lock is the author's call. Only mutexes, channels
and WaitGroups whose type the package shows are followed. Left alone, because what they
wait for is not shown: a receive on a channel nothing in the package sends on or closes, a
`Wait` on a WaitGroup nothing in the package calls `Done` on (or starts with `Go`), and a call that may wait but has no peer that needs the lock (other than such a send). Not blocking, so not
flagged: a send on a channel made with a buffer (unless the function making it fills that
buffer at once with values, `ch := make(chan T, 1); ch <- first`: until the reader takes
one, the next send waits as on an unbuffered channel; or the buffer has one slot and its
receiving loop takes the lock, as above: a larger buffer is taken as sized for its
traffic, and one receive is released by the value it finds), a `select` with `default` or with a way
out of its own (`<-ctx.Done()`, `<-time.After(d)`, a ticker's `C`, or a deadline kept in
a variable, `deadline := time.After(limit)`), a channel the function both takes
from and gives back to (a token), a receive or `range` of a channel the function has just
closed (`close(s.idle)` then `for c := range s.idle`: it drains the buffer and ends), a
`sync.Cond`'s `Wait` (it releases its lock), and a
wait that joins code which never takes the mutex (the function's own literals, or
goroutines that close the channel or call `Done` as they finish, as those `wg.Go` starts
do), nor a goroutine that holds the lock for the function that starts it and waits on a
channel that function closes in a `defer` (a lock taken with a timeout: the helper holds it
until the call returns) when that function takes the lock only through the goroutines it
starts. A goroutine a peer starts does not make the peer take the lock. A lock held on some
paths only, or released by a function the code calls or handed to a goroutine that
unlocks it, is taken as not held. A signal counts as reached only under the lock when the
package shows all its calls: an exported function, one started as a goroutine or deferred,
or one used as a value is left alone, and so is a callback that signals before it waits.
"""

from __future__ import annotations

from collections.abc import Iterator

from tree_sitter import Node

from ...finding import Severity
from ...gosource import GoFile
from ...rule import Report, Rule
from ...semantics import package_of
from ...semantics.package import Declared, Package
from ...semantics.places import CHANNEL_OPERATIONS, Operation, Place, holds
from ...semantics.types import LOCKS, MUTEXES, UNLOCKS, WAITGROUP
from ...syntax import (
    communication_case,
    enclosing_loops,
    field_of,
    first_argument,
    function_label,
    functions_in_order,
    has_default,
    is_done_receive,
    own_nodes,
    select_cases,
    surely_ran_before,
    unparen,
)

REMEDIATION = """\
b.mu.Lock()
closed := b.closed // copy what is needed under the lock
b.mu.Unlock()
if !closed {
    b.events <- e // block without the lock
}"""

# What holds before an element: (the mutex, "Lock" or "RLock", the lock call).
Held = tuple[Place, str, Node]


def _now(file: GoFile, node: Node, function: Node) -> bool:
    """Whether a node runs when its function reaches it: not in a `defer` or `go` statement."""
    for ancestor in file.ancestors(node):
        if ancestor.id == function.id:
            return True
        if ancestor.type in ("defer_statement", "go_statement"):
            return False
    return True


class _Function:
    """One function that locks a mutex: what is held before each element of its graph."""

    def __init__(self, package: Package, declared: Declared):
        self.package, self.declared, self.file = package, declared, declared.file
        facts = package.facts
        self.done = facts.operations(declared)
        self.cfg = package.cfg(declared.file, declared.node)
        self.changes: dict[int, list[Operation]] = {}
        for op in self.done.of(*LOCKS, *UNLOCKS):
            if self._now(op.node) and holds(package, op.place, *MUTEXES):
                element = self.cfg.element_of(op.node)
                if element is not None:
                    self.changes.setdefault(element.id, []).append(op)
        self.calls: dict[int, list[tuple[Declared, list[Place | None]]]] = {}
        for call, callee, handed in self.done.calls:
            element = self.cfg.element_of(call)
            if element is not None and self._now(call):
                self.calls.setdefault(element.id, []).append((callee, handed))
        self.before = self.cfg.must_before(self._transfer)

    def _now(self, node: Node) -> bool:
        return _now(self.file, node, self.declared.node)

    def _transfer(self, element: Node, held: frozenset) -> frozenset:
        for op in sorted(self.changes.get(element.id, []), key=lambda o: o.node.start_byte):
            if op.kind in LOCKS:
                held = held | {(op.place, op.kind, op.node)}
            else:
                held = frozenset(h for h in held if h[0] != op.place)
        for callee, handed in self.calls.get(element.id, []):
            held = frozenset(h for h in held if not self.unlocks(callee, handed, h[0]))
        return held

    def unlocks(self, callee: Declared, handed: list[Place | None], mutex: Place) -> bool:
        """Whether a call releases the mutex (a helper that unlocks, or waits like a Cond)."""
        facts = self.package.facts
        inner = facts.place_in(callee, mutex, handed)
        return inner is not None and any(facts.performs(callee, kind, inner, 2) is not None for kind in UNLOCKS)

    def held_at(self, node: Node) -> list[Held]:
        element = self.cfg.element_of(node)
        return sorted(self.before.get(element.id, frozenset()) if element is not None else (), key=_order)


def _order(held: Held) -> tuple[int, str]:
    return held[2].start_byte, held[0].key


# What waits, and in which function.
Waiting = list[tuple[Declared, Operation]]


def _blocking(package: Package, function: _Function) -> Iterator[tuple[Node, Waiting, Node]]:
    """(the operation, what in it waits: itself, the cases of a `select`, or what a called
    function of the package waits on, where to read what is held) for each operation of
    the function that can wait for another goroutine while a mutex is held. Where nothing
    is held, what waits is not worked out (for a call, that means following the callee)."""
    file, facts, declared = function.file, package.facts, function.declared
    within = facts.within(declared, "send", "receive", "range")
    tokens = {op.place for op in within if op.kind == "send"} & {
        op.place for op in within if op.kind in ("receive", "range")
    }
    for op in function.done.of(*_SIDES):
        if not function._now(op.node) or communication_case(op.node, file) is not None or op.place in tokens:
            continue
        if not function.held_at(op.node):
            continue
        answers = (*_SIDES[op.kind], "Go") if op.kind == "Wait" else _SIDES.get(op.kind, ())  # `wg.Go` counts
        if op.kind in ("receive", "range", "Wait") and not facts.users(op.place, *answers):
            continue  # nothing in the package sends, closes or calls Done: what it waits for is not shown
        if facts.closed_before(declared, op):
            continue  # drains a channel it has just closed: nothing to wait for
        if (
            op.kind in ("receive", "range")
            # with a buffer, only a receiving loop that needs the lock makes a send wait (_report)
            or (op.kind == "send" and (op.node.type == "send_statement" or facts.send_waits(file, op.node, op.place)))
            or (op.kind == "Wait" and holds(package, op.place, WAITGROUP))
        ):
            yield op.node, [(declared, op)], op.node
    for select in own_nodes(file, declared.node, ("select_statement",)):
        if has_default(select) or _times_out(package, file, select) or not function._now(select):
            continue
        cases = [
            op
            for op in function.done.of(*CHANNEL_OPERATIONS)
            if select.start_byte <= op.node.start_byte < select.end_byte
            and communication_case(op.node, file) is not None
        ]
        if not cases or not function.held_at(cases[0].node):
            continue
        waiting = [
            (declared, op)
            for op in cases
            if op.place not in tokens and not (op.kind == "send" and not facts.send_waits(file, op.node, op.place))
        ]
        if waiting:
            yield select, waiting, cases[0].node
    for call, callee, _ in function.done.calls:
        if not function._now(call) or not function.held_at(call):
            continue
        inner = facts.waiting(callee) or [
            (d, op) for d, op in facts.waiting(callee, buffered=True) if _fills(package, d, op)
        ]
        if inner:
            yield call, inner, call


def _fills(package: Package, waiter: Declared, op: Operation) -> bool:
    """Whether a send waits only once its channel's buffer is full."""
    channel = op.node.child_by_field_name("channel") if op.node.type == "send_statement" else None
    return channel is not None and not package.facts.send_waits(waiter.file, op.node, op.place)


def _times_out(package: Package, file: GoFile, select: Node) -> bool:
    """Whether a `select` has a way out that no peer has to give: a context's `Done()`, a
    timer (`time.After(d)`, a ticker's `C`, or a deadline kept in a variable)."""
    for case in select_cases(select):
        communication = case.child_by_field_name("communication")
        if communication is None:
            continue
        if is_done_receive(file, communication) or any(
            n.type == "unary_expression"
            and file.text(n).startswith("<-")
            and package.values.timer_channel(file, field_of(n, "operand"))
            for n in file.nodes("unary_expression", within=communication)
        ):
            return True
    return False


def _contenders(package: Package, function: _Function, held: Held) -> list[Declared]:
    """The other functions that take the mutex in a way that waits for this hold; none when
    a literal (a goroutine, a callback) releases it without taking it: the lock is handed
    over to it."""
    facts = package.facts
    kinds = ("Lock",) if held[1] == "RLock" else LOCKS
    takers = facts.users(held[0], *LOCKS)
    releasers = {d.node.id for d, _ in facts.users(held[0], *UNLOCKS) if d.node.type == "func_literal"}
    if releasers - {d.node.id for d, _ in takers}:
        return []
    return [d for d, op in takers if op.kind in kinds and d.node.id != function.declared.node.id]


def _joins(package: Package, function: _Function, held: Held, waiting: Waiting) -> bool:
    """Whether the wait only joins code that never takes the mutex: everything on its other
    side is a literal the function itself writes, or a goroutine that closes the channel
    or calls `Done` as it finishes — a literal started by `wg.Go(...)` does. The wait then
    ends without the lock."""
    facts, node = package.facts, function.declared.node
    others = [
        (d, side) for _, op in waiting for d, side in facts.users(op.place, *_SIDES[op.kind]) if d.node.id != node.id
    ]
    started = [_started_by_go(d, go) for _, op in waiting if op.kind == "Wait" for d, go in facts.users(op.place, "Go")]
    if None in started:
        return False  # `wg.Go(run)`: what `run` does is not followed
    return (
        bool(others or started)
        and all(
            (
                not any(facts.performs(d, lock, held[0], 2) is not None for lock in LOCKS)
                and (
                    (d.node.type == "func_literal" and node.start_byte < d.node.start_byte < node.end_byte)
                    or (side.kind in ("close", "Done") and facts.is_goroutine(d))
                )
            )
            or _releases_on_return(package, function, held, d, side)
            for d, side in others
        )
        and all(
            literal is not None and not any(facts.performs(literal, lock, held[0], 2) is not None for lock in LOCKS)
            for literal in started
        )
    )


def _releases_on_return(package: Package, function: _Function, held: Held, starter: Declared, side: Operation) -> bool:
    """The goroutine holding the lock was started by `starter`, which closes the channel in a
    `defer` (on every return) and takes the lock nowhere but through the goroutines it starts:
    a helper that holds the lock for the starter's call (`go func() { mu.Lock(); defer
    mu.Unlock(); <-release }()`, then `defer close(release)`), so that the call can give up
    waiting for it. The wait lasts as long as that call, like any lock it held itself."""
    node, facts = function.declared.node, package.facts
    if side.kind != "close" or not (starter.node.start_byte < node.start_byte < starter.node.end_byte):
        return False
    statement = side.statement(starter.file)
    if statement is None or statement.type != "defer_statement":
        return False
    takes = [n for lock in LOCKS for n in facts.performing(starter, lock, held[0], 2)]
    return all(_starts_goroutine(starter.file, n) for n in takes)


def _starts_goroutine(file: GoFile, node: Node) -> bool:
    parent = file.parent(node)
    return parent is not None and parent.type == "go_statement"


def _started_by_go(starter: Declared, go: Operation) -> Declared | None:
    """The literal `wg.Go(func() { ... })` runs as a goroutine that calls `Done` at its end."""
    argument = first_argument(go.node) if go.node.type == "call_expression" else None
    return Declared(starter.file, argument) if argument is not None and argument.type == "func_literal" else None


# The other side of each waiting operation.
_SIDES = {"receive": ("send", "close"), "range": ("send", "close"), "send": ("receive", "range"), "Wait": ("Done",)}


def _peer(
    package: Package, function: _Function, held: Held, waiting: Waiting, *, filled: bool = False
) -> tuple[Declared, Operation] | None:
    """A function on the other side of a waiting operation that takes the same mutex,
    itself or one call deep (a function the package may give the callback it calls
    included), with the operation it answers: each then waits for the other. A channel
    made with a buffer is left out: what its receiver waits for may already be there —
    unless `filled`: a send whose receiver is a loop that takes the lock between its
    receives fills the buffer in time."""
    facts = package.facts
    locks = ("Lock",) if held[1] == "RLock" else LOCKS
    for waiter, op in waiting:
        channel = op.node.child_by_field_name("channel" if op.kind == "send" else "operand")
        if op.kind != "Wait" and (channel is None or (facts.buffered(waiter.file, channel) and not filled)):
            continue
        for other, side in facts.users(op.place, *_SIDES[op.kind]):
            if other.node.id in (function.declared.node.id, waiter.node.id):
                continue
            loops = enclosing_loops(side.node, file=other.file) if filled else []
            if filled and not loops:
                continue  # one receive: a buffer keeps what it is sent
            takes = [node for lock in locks for node in facts.performing(other, lock, held[0], 1)] + [
                call
                for call, callbacks in facts.callbacks(other)
                if any(facts.performs(given, lock, held[0], 0) is not None for given in callbacks for lock in locks)
            ]
            # A goroutine the peer starts takes the lock on its own time (it may be the very
            # waiter, a helper holding the lock for the call): the peer goes on to answer.
            takes = [node for node in takes if not _starts_goroutine(other.file, node)]
            if filled:  # the loop itself takes the lock between its receives
                takes = [node for node in takes if loops[0].start_byte <= node.start_byte < loops[0].end_byte]
            # A lock taken only after the peer has answered (`close(m.shutdown)`, then
            # `m.mu.Lock()`) does not keep it from answering; a deferred answer comes last.
            answered = side.statement(other.file)
            if answered is not None and answered.type != "defer_statement":
                takes = [node for node in takes if not surely_ran_before(other.file, answered, node)]
            if takes:
                return other, op
    return None


def check(file: GoFile) -> Iterator[Report]:
    if b"Lock" not in file.source:
        return  # no `Lock()` or `RLock()` anywhere: nothing is ever held
    package = package_of(file)
    functions = functions_in_order(file)
    for node in functions:
        if not any(file.source.find(call, node.start_byte, node.end_byte) >= 0 for call in (b".Lock(", b".RLock(")):
            continue  # takes no lock (an `Unlock` alone holds none)
        declared = Declared(file, node)
        done = package.facts.operations(declared)
        if not done.of(*LOCKS):
            continue
        if not done.of(*_SIDES) and not done.calls:
            continue  # nothing in it waits for another goroutine: what it holds is not worked out
        function = _Function(package, declared)
        for operation, waiting, where in _blocking(package, function):
            report = _report(package, function, operation, waiting, function.held_at(where))
            if report is not None:
                yield report


def _guarded_peer(
    package: Package, function: _Function, held: Held, waiting: Waiting
) -> tuple[Declared, Operation, Node] | None:
    """For a receive that a called function waits on: a function that closes or sends on
    that channel (under any name the package copies it to) and runs only where the same
    mutex is held — every call of it in the package is made under the lock — with what it
    does and the receive it answers. The caller holds the lock its peer needs to get there:
    neither moves (the callback that waits for the leader, who needs the lock to signal)."""
    facts, mutex = package.facts, held[0]
    callers: dict[int, _Function] = {}
    for waiter, op in waiting:
        if op.kind not in _SIDES or op.kind == "send":
            continue
        for channel in facts.channel_aliases(op.place):
            for other, side in facts.users(channel, *_SIDES[op.kind]):
                given = side.statement(waiter.file)
                if other.node.id == waiter.node.id and surely_ran_before(waiter.file, given, op.node):
                    continue  # its own signal, given before it waits
                sites = facts.call_sites(other)
                if not sites:
                    continue
                if all(
                    any(
                        h[0] == mutex and "Lock" in (h[1], held[1])
                        for h in callers.setdefault(caller.node.id, _Function(package, caller)).held_at(call)
                    )
                    for caller, call in sites
                ):
                    return other, side, op.node
    return None


def _report(
    package: Package, function: _Function, operation: Node, waiting: Waiting, held: list[Held]
) -> Report | None:
    file = function.file
    if all(_fills(package, d, op) for d, op in waiting):
        return _filled_report(package, function, operation, waiting, held)
    for mutex, mode, lock in held:
        guarded = _guarded_peer(package, function, (mutex, mode, lock), waiting)
        if guarded is None:
            continue
        peer, signal, receive = guarded
        waiter = next(d for d, o in waiting if o.node.id == receive.id)
        spelled, peer_file = _spelled(file, lock), peer.file
        shown = "`select`" if operation.type == "select_statement" else f"`{file.text(operation).split(chr(10), 1)[0]}`"
        if waiter.node.id != function.declared.node.id:
            shown += (
                f" waits on `{waiter.file.text(receive).split(chr(10), 1)[0]}` (in "
                f"`{function_label(waiter.file, waiter.node)}`, line {waiter.file.line(receive)})"
            )
        else:
            shown += " waits"
        return Report(
            operation,
            f"{shown} while `{spelled}` is held (locked on line {file.line(lock)}), and what would end that "
            f"wait, `{peer_file.text(signal.node).split(chr(10), 1)[0]}` (line {peer_file.line(signal.node)}), is "
            f"only reached under `{spelled}` too: each waits for the other forever. Release the lock before blocking.",
            REMEDIATION,
            severity=Severity.ERROR,
        )
    contended = [(h, others) for h in held for others in [_contenders(package, function, h)] if others]
    if not contended:
        return None
    shown = "`select`" if operation.type == "select_statement" else f"`{file.text(operation).split(chr(10), 1)[0]}`"
    called = operation.type == "call_expression" and all(
        op.kind != "Wait" or op.node.id != operation.id for _, op in waiting
    )
    for (mutex, mode, lock), _ in contended:
        if called:
            callee = package.facts.callee(file, operation)
            if callee is None or function.unlocks(callee, _handed(function, operation), mutex):
                continue  # it releases the lock before it waits
        found = _peer(package, function, (mutex, mode, lock), waiting)
        if found is None or _picked(package, file, operation):
            continue
        peer, op = found
        side = "calls Done on it" if op.kind == "Wait" else "uses the same channel"
        blocks = "blocks"
        if called:
            waiter = next(d for d, o in waiting if o is op)
            blocks = (
                f"waits on `{waiter.file.text(op.node).split(chr(10), 1)[0]}` (in "
                f"`{function_label(waiter.file, waiter.node)}`, line {waiter.file.line(op.node)})"
            )
        return Report(
            operation,
            f"{shown} {blocks} while `{_spelled(file, lock)}` is held (locked on line {file.line(lock)}), and "
            f"`{function_label(peer.file, peer.node)}`, which {side}, takes `{_spelled(file, lock)}` too: each can "
            "wait for the other forever. Release the lock before blocking.",
            REMEDIATION,
            severity=Severity.ERROR,
        )
    (mutex, mode, lock), others = contended[0]
    if called:
        # With no peer that needs the lock, only a plain send in the callee on a channel no
        # function of the package receives from by that name is said: its receiver is out
        # of sight, and may be gone or need the lock (a receive or a Wait there mostly
        # waits for work to finish).
        sends = [
            (d, op)
            for d, op in waiting
            if op.kind == "send"
            and communication_case(op.node, d.file) is None
            and not package.facts.users(op.place, *_SIDES["send"])
        ]
        if not sends:
            return None
        waiter, op = sends[0]
        return Report(
            operation,
            f"{shown} can block while `{_spelled(file, lock)}` is held (locked on line {file.line(lock)}): "
            f"`{function_label(waiter.file, waiter.node)}` sends on `{waiter.file.text(op.node).split(chr(10), 1)[0]}` "
            f"(line {waiter.file.line(op.node)}) with no receiver in sight, and {_listed(others)} "
            f"wait{'s' if len(_names(others)) == 1 else ''} for that lock meanwhile. Release the lock before the call.",
            REMEDIATION,
        )
    if _joins(package, function, (mutex, mode, lock), waiting):
        return None
    return Report(
        operation,
        f"{shown} can block while `{_spelled(file, lock)}` is held (locked on line {file.line(lock)}): {_listed(others)} "
        f"wait{'s' if len(_names(others)) == 1 else ''} for that lock meanwhile. Release the lock before blocking, or "
        "make the operation non-blocking.",
        REMEDIATION,
        # One element picked from a collection may well be ready for it (an idle worker at its
        # receive): read on real commits, those waits were never the hang. Annotated only.
        severity=Severity.INFO if _picked(package, file, operation) else None,
    )


def _filled_report(
    package: Package, function: _Function, operation: Node, waiting: Waiting, held: list[Held]
) -> Report | None:
    """A send on a channel made with a buffer, under the lock, whose receiver — a loop —
    takes the same lock itself or one call deep (a callback the package gives it included):
    once the loop is away taking the lock with the buffer full, the send waits for a receive
    that waits for the lock."""
    file = function.file
    waiting = [(d, op) for d, op in waiting if _one_slot(package, d, op)]
    for mutex, mode, lock in held:
        if not waiting or not _contenders(package, function, (mutex, mode, lock)):
            continue
        found = _peer(package, function, (mutex, mode, lock), waiting, filled=True)
        if found is None or _picked(package, file, operation):
            continue
        if operation.type == "call_expression":
            callee = package.facts.callee(file, operation)
            if callee is None or function.unlocks(callee, _handed(function, operation), mutex):
                continue  # it releases the lock before it waits
        peer, op = found
        waiter = next(d for d, o in waiting if o is op)
        spelled = _spelled(file, lock)
        shown = f"`{file.text(operation).split(chr(10), 1)[0]}`"
        if waiter.node.id != function.declared.node.id:
            shown += (
                f" sends on `{waiter.file.text(op.node).split(chr(10), 1)[0]}` (in "
                f"`{function_label(waiter.file, waiter.node)}`, line {waiter.file.line(op.node)})"
            )
        return Report(
            operation,
            f"{shown} while `{spelled}` is held (locked on line {file.line(lock)}), and the loop that receives "
            f"from that channel, `{function_label(peer.file, peer.node)}`, takes `{spelled}` too: the buffer only "
            "puts it off. Once it is full while the loop waits for the lock, the send waits for the loop and the "
            "loop for the lock, forever. Release the lock before sending, or send without blocking.",
            REMEDIATION,
            severity=Severity.ERROR,
        )
    return None


def _one_slot(package: Package, waiter: Declared, op: Operation) -> bool:
    """Whether the send's channel is made with a buffer of one element everywhere (a
    notification): one value the loop has not taken yet fills it. A larger buffer is taken
    as sized for its traffic (one slot per job, a queue of a million requests)."""
    channel = op.node.child_by_field_name("channel")
    return channel is not None and package.values.capacity(waiter.file, channel) == 1


def _picked(package: Package, file: GoFile, operation: Node) -> bool:
    """Whether the channel waited on, or the object whose method waits, is one element picked
    from a collection (`for _, w := range p.workers { w.task <- nil }`, `p.workers[n].stop()`):
    the peer that takes the lock may be another element's goroutine, not the one this waits
    for (a worker that takes the pool's lock to put itself back among the idle, then waits
    for its next task), so the two are not shown to wait for each other."""
    if operation.type == "send_statement":
        channel = operation.child_by_field_name("channel")
    elif operation.type == "unary_expression":
        channel = operation.child_by_field_name("operand")
    elif operation.type == "call_expression":
        channel = operation.child_by_field_name("function")
    else:
        return False
    channel = unparen(channel) if channel is not None else None
    owner = (
        channel.child_by_field_name("operand")
        if channel is not None and channel.type == "selector_expression"
        else None
    )
    return owner is not None and package.values.one_of_many(file, owner)


def _handed(function: _Function, call: Node) -> list[Place | None]:
    return next(handed for c, _, handed in function.done.calls if c.id == call.id)


def _spelled(file: GoFile, lock: Node) -> str:
    """`b.mu` for `b.mu.Lock()`."""
    selector = lock.child_by_field_name("function")
    operand = selector.child_by_field_name("operand") if selector is not None else None
    return file.text(operand) if operand is not None else file.text(lock)


def _names(functions: list[Declared]) -> list[str]:
    return sorted({function_label(d.file, d.node) for d in functions})


def _listed(functions: list[Declared]) -> str:
    return ", ".join(f"`{name}`" for name in _names(functions)[:3])


RULE = Rule(
    id="GR117",
    name="blocking-under-lock",
    severity=Severity.WARNING,
    doc=__doc__,
    check=check,
    imports=("sync",),
    in_tests=False,
)
