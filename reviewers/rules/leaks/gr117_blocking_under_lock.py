"""GR117 blocking-under-lock: a channel operation, `select` or `wg.Wait()` while a mutex is held.

## What it does
Flags a channel send or receive, a `select` without `default`, or a `wg.Wait()` reached
while a `sync.Mutex`/`RWMutex` is held — after its `Lock()`/`RLock()` and before the
matching unlock, or anywhere after it under a deferred unlock — when another function of
the file (another method of the type, a goroutine, a closure) locks the same mutex: the
same field of the same type, or the same variable.

It is an error when a function on the other side of that operation — one that sends on,
receives from or closes the same channel, or calls `Done` on the same WaitGroup — takes
that mutex too, directly or one call deep: each waits for the other, for good.

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
```

## Fix safety
No suggestion: what must stay under the lock is the author's call. Only mutexes, channels
and WaitGroups the file declares (a field of a struct of the file, a variable made with
`make(chan ...)` or declared `sync.Mutex`) are followed; a lock taken in another file of
the package is not seen. A `sync.Cond`'s `Wait` releases its lock and is not flagged.
"""

from __future__ import annotations

from collections.abc import Iterator

from tree_sitter import Node

from ...finding import Severity
from ...gosource import GoFile
from ...rule import Report, Rule
from ...syntax import call_method_name, has_default
from ._types import CHAN, MUTEX, WAITGROUP, TypeIndex, Unit, type_index, unit_label

REMEDIATION = """\
b.mu.Lock()
closed := b.closed // copy what is needed under the lock
b.mu.Unlock()
if !closed {
    b.events <- e // block without the lock
}"""

_CASES = ("expression_case", "default_case", "type_case", "communication_case")
_SKIPPED = ("func_literal", "go_statement", "defer_statement")
_COMPOUND = (
    "if_statement",
    "for_statement",
    "expression_switch_statement",
    "type_switch_statement",
    "labeled_statement",
)


def _lock_call(file: GoFile, index: TypeIndex, statement: Node) -> tuple[str, str] | None:
    """("lock"|"unlock"|"deferred", key) for `mu.Lock()`, `s.mu.Unlock()`, `defer mu.Unlock()`."""
    deferred = statement.type == "defer_statement"
    if statement.type not in ("expression_statement", "defer_statement") or not statement.named_children:
        return None
    call = statement.named_children[0]
    if call.type != "call_expression":
        return None
    function = call.child_by_field_name("function")
    if function is None or function.type != "selector_expression":
        return None
    name = call_method_name(file, call)
    operand = function.child_by_field_name("operand")
    if name not in ("Lock", "RLock", "Unlock", "RUnlock"):
        return None
    key = index.key(operand, MUTEX) or index.embedded_key(operand, MUTEX)
    if key is None:
        return None
    if name in ("Lock", "RLock"):
        return None if deferred else ("lock", key)
    return ("deferred" if deferred else "unlock", key)


class _Held:
    """Walks a unit's statements knowing which mutexes are held, and collects the blocking
    operations reached while one is."""

    def __init__(self, file: GoFile, index: TypeIndex):
        self.file, self.index = file, index
        self.found: list[tuple[Node, str, dict[str, Node]]] = []  # (operation, kind, held)

    def statements(self, statements: list[Node], held: dict[str, Node]) -> None:
        for statement in statements:
            lock = _lock_call(self.file, self.index, statement)
            if lock is not None:
                kind, key = lock
                if kind == "lock":
                    held[key] = statement
                elif kind == "unlock":
                    held.pop(key, None)
                continue
            self.statement(statement, held)

    def statement(self, statement: Node, held: dict[str, Node]) -> None:
        if statement.type in _SKIPPED:
            return
        if statement.type == "block":
            self.block(statement, held)
            return
        if statement.type == "select_statement":
            if held and not has_default(statement):
                self.found.append((statement, "select", dict(held)))
            for case in statement.named_children:
                self.case(case, held)
            return
        compound = statement.type in _COMPOUND
        for child in statement.named_children if compound else []:
            if child.type == "block":
                self.block(child, held)
            elif child.type in _CASES:
                self.case(child, held)
            elif child.type in _COMPOUND or child.type == "block":
                self.statement(child, dict(held))  # `else if`, a labelled statement
            elif held:
                self.expression(child, held)  # a header: initializer, condition, range
        if not compound and held:
            self.expression(statement, held)

    def block(self, block: Node, held: dict[str, Node]) -> None:
        statements = next((c for c in block.named_children if c.type == "statement_list"), None)
        if statements is not None:
            self.statements(statements.named_children, dict(held))

    def case(self, case: Node, held: dict[str, Node]) -> None:
        statements = next((c for c in case.named_children if c.type == "statement_list"), None)
        if statements is not None:
            self.statements(statements.named_children, dict(held))

    def expression(self, node: Node, held: dict[str, Node]) -> None:
        """Blocking operations in a simple statement or a header (not in literals)."""
        stack = [node]
        while stack:
            current = stack.pop()
            if current.type in _SKIPPED:
                continue
            if current.type == "send_statement":
                self.found.append((current, "send", dict(held)))
            elif current.type == "unary_expression" and self.file.text(current).startswith("<-"):
                self.found.append((current, "receive", dict(held)))
            elif current.type == "range_clause":
                ranged = current.child_by_field_name("right")
                if ranged is not None and self.index.key(ranged, CHAN):
                    self.found.append((current, "receive", dict(held)))
            elif current.type == "call_expression" and call_method_name(self.file, current) == "Wait":
                operand = current.child_by_field_name("function").child_by_field_name("operand")
                if operand is not None and (
                    self.index.key(operand, WAITGROUP) or self.index.embedded_key(operand, WAITGROUP)
                ):
                    self.found.append((current, "wait", dict(held)))
            stack.extend(current.named_children)


def _channel_keys(file: GoFile, index: TypeIndex, operation: Node, kind: str) -> set[str]:
    if kind == "send":
        key = index.key(operation.child_by_field_name("channel"), CHAN)
        return {key} if key else set()
    if kind == "receive":
        target = (
            operation.child_by_field_name("operand")
            if operation.type == "unary_expression"
            else operation.child_by_field_name("right")
        )
        key = index.key(target, CHAN) if target is not None else None
        return {key} if key else set()
    if kind == "wait":
        operand = operation.child_by_field_name("function").child_by_field_name("operand")
        key = index.key(operand, WAITGROUP) or index.embedded_key(operand, WAITGROUP)
        return {key} if key else set()
    keys = set()  # a select: the channels of its cases
    for case in operation.named_children:
        communication = case.child_by_field_name("communication") if case.type == "communication_case" else None
        if communication is None:
            continue
        for node in [communication, *communication.named_children]:
            if node.type == "send_statement":
                keys |= _channel_keys(file, index, node, "send")
            elif node.type == "unary_expression":
                keys |= _channel_keys(file, index, node, "receive")
    return keys


def _peer(index: TypeIndex, unit: Unit, mutex: str, channels: set[str], kind: str) -> Unit | None:
    """Another unit on the other side of the operation that takes the same mutex."""
    sides = ("done",) if kind == "wait" else ("send", "receive", "close")
    for other in index.units.values():
        if other is unit or not index.reaches(other, "lock", mutex):
            continue
        if any(op.kind in sides and op.key in channels for op in other.ops):
            return other
    return None


def _name(file: GoFile, operation: Node, kind: str) -> str:
    if kind == "select":
        return "`select`"
    text = file.text(operation).split("\n", 1)[0]
    return f"`{text}`"


def check(file: GoFile) -> Iterator[Report]:
    if b"Lock" not in file.source:
        return  # no `Lock()` or `RLock()` anywhere: nothing is ever held
    index = type_index(file)
    locking = index.locking_units()
    lockers: dict[str, list[Unit]] = {}
    for unit in locking:
        for key in unit.keys("lock"):
            lockers.setdefault(key, []).append(unit)
    for unit in locking:
        body = unit.node.child_by_field_name("body")
        if body is None:
            continue
        walk = _Held(file, index)
        walk.block(body, {})
        for operation, kind, held in walk.found:
            report = _report(file, index, unit, operation, kind, held, lockers)
            if report is not None:
                yield report


def _report(file, index, unit, operation, kind, held, lockers) -> Report | None:
    contended = [(key, lock) for key, lock in held.items() if any(other is not unit for other in lockers.get(key, []))]
    if not contended:
        return None
    channels = _channel_keys(file, index, operation, kind)
    if kind != "wait":
        # Only channels the file declares; a buffered send has room, and a channel the same
        # function both takes from and gives back to is a token (a lock of its own).
        channels -= unit.family_keys(index, "send") & unit.family_keys(index, "receive")
        if kind == "send":
            channels = {c for c in channels if not index.buffered(c)}
        if not channels:
            return None
    shown = _name(file, operation, kind)
    unbuffered = {c for c in channels if not index.buffered(c)}
    for key, lock in contended:
        peer = _peer(index, unit, key, unbuffered, kind)
        if peer is not None:
            mutex = file.text(lock.named_children[0].child_by_field_name("function").child_by_field_name("operand"))
            side = "calls Done on it" if kind == "wait" else "uses the same channel"
            return Report(
                operation,
                f"{shown} blocks while `{mutex}` is held (locked on line {file.line(lock)}), and `{unit_label(file, peer)}`, which "
                f"{side}, takes `{mutex}` too: each can wait for the other forever. Release the lock before blocking.",
                REMEDIATION,
                severity=Severity.ERROR,
            )
    key, lock = contended[0]
    mutex = file.text(lock.named_children[0].child_by_field_name("function").child_by_field_name("operand"))
    others = sorted({f"`{unit_label(file, u)}`" for u in lockers[key] if u is not unit})
    return Report(
        operation,
        f"{shown} can block while `{mutex}` is held (locked on line {file.line(lock)}): {', '.join(others[:3])} "
        f"wait{'s' if len(others) == 1 else ''} for that lock meanwhile. Release the lock before blocking, or make the "
        "operation non-blocking.",
        REMEDIATION,
    )


RULE = Rule(
    id="GR117",
    name="blocking-under-lock",
    severity=Severity.WARNING,
    doc=__doc__,
    check=check,
    imports=("sync",),
)
