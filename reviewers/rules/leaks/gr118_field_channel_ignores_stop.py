"""GR118 field-channel-ignores-stop: a send or receive on a field channel that ignores the type's stop signal.

## What it does
In a type that has a stop signal — a channel field that some function of the file closes
(`close(s.done)`), a `context.Context` field, or a context in scope where the operation
is written — flags a send or receive on another channel field of the type that does not
watch it:
- outside any `select` (a case's body counts as outside);
- or as a case of a `select` without `default` whose other cases cannot stop it (they
  are operations on other non-stop channel fields).

A receive on the stop channel itself is what watching it means; timer channels are
GR116's business; a send on a field made with a buffer somewhere in the file is taken as
a notification with room, and is not flagged.

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

## Use instead
```go
func (w *Worker) emit(r Result) {
    select {
    case w.results <- r:
    case <-w.done:
    }
}
```

## Fix safety
No suggestion: which signal to watch, and what to do when it fires, is the author's call.
Only channel fields of struct types declared in the file are followed, through a method's
receiver or a variable of that type.
"""

from __future__ import annotations

from collections.abc import Iterator

from tree_sitter import Node

from ...finding import Severity
from ...gosource import GoFile
from ...rule import Report, Rule
from ...semantics import package_of
from ...semantics.contexts import cancellable_contexts, preferred
from ...syntax import ancestors, has_default, is_done_receive, qualified_name, select_cases
from ._types import CHAN, CONTEXT, TypeIndex, Unit, field_expression, type_index, unit_label

REMEDIATION = """\
select {
case w.results <- r:
case <-w.done: // the stop signal: give up instead of blocking forever
    return
}"""


def _stop_channels(index: TypeIndex, type_name: str) -> dict[str, Unit]:
    """Channel field key -> a unit that closes it."""
    closed: dict[str, Unit] = {}
    for unit in index.units.values():
        for op in unit.of("close"):
            if op.key.startswith(f"{type_name}.") and op.key not in closed:
                closed[op.key] = unit
    return closed


def _operations(unit: Unit) -> Iterator[tuple[Node, str, str]]:
    for op in unit.of("send", "receive"):
        if op.node.type != "range_clause":
            yield op.node, op.kind, op.key


def _communication_of(operation: Node) -> Node | None:
    """The `select` whose case this operation is, if it is one."""
    node = operation
    if node.parent is not None and node.parent.type == "receive_statement":
        node = node.parent
    case = node.parent
    if case is not None and case.type == "communication_case" and case.child_by_field_name("communication") == node:
        return case.parent
    return None


def _can_stop(file: GoFile, index: TypeIndex, case: Node, stops: set[str], fields: set[str]) -> bool:
    """Whether a select case can end the wait: a receive on a stop signal, a timeout, a
    channel that is not a field of the type (we cannot tell), or a default."""
    if case.type == "default_case":
        return True
    communication = case.child_by_field_name("communication")
    if communication is None:
        return True
    if is_done_receive(file, communication):
        return True
    channel = (
        communication.child_by_field_name("channel")
        if communication.type == "send_statement"
        else next(
            (
                n.child_by_field_name("operand")
                for n in [communication, *communication.named_children]
                if n.type == "unary_expression"
            ),
            None,
        )
    )
    if channel is None:
        return True
    if channel.type == "call_expression" and qualified_name(file, channel) in ("time.After", "time.Tick"):
        return True
    key = index.key(channel, CHAN)
    return key is None or key in stops or key not in fields


def _skipped(
    file: GoFile, index: TypeIndex, unit: Unit, operation: Node, kind: str, key: str, stops: dict[str, Unit]
) -> bool:
    """The shapes that are not a forgotten stop signal."""
    if key in stops:
        return True  # the stop channel itself
    if any(closer is unit for closer in stops.values()):
        return True  # the owner's own loop: it is the one that stops
    if unit.family_keys(index, "send") & unit.family_keys(index, "receive") & {key}:
        return True  # a token passed back and forth: a channel used as a lock
    sent = any(op.kind == "send" and op.key == key for other in index.units.values() for op in other.ops)
    if kind == "receive" and not sent:
        return True  # nobody in the file sends: it is released by a close we may not see
    if index.buffered(key) and (kind == "send" or _element_is_empty(file, index, key)):
        return True  # a notification with room, or a semaphore
    return _inside_watching_select(file, index, operation, set(stops))


def _element_is_empty(file: GoFile, index: TypeIndex, key: str) -> bool:
    type_name, _, field_name = key.partition(".")
    type_node = index.types[type_name].fields.get(field_name)
    return type_node is not None and file.text(type_node).replace(" ", "").endswith("struct{}")


def _inside_watching_select(file: GoFile, index: TypeIndex, operation: Node, stops: set[str]) -> bool:
    """Whether the operation is in the body of a case of a `select` that watches the stop
    signal: a handshake that the select already guards (not its `default:`)."""
    for ancestor in ancestors(operation, file):
        if ancestor.type in ("func_literal", "function_declaration", "method_declaration"):
            return False
        if ancestor.type == "communication_case" and ancestor.parent is not None:
            for case in select_cases(ancestor.parent):
                communication = case.child_by_field_name("communication") if case.type == "communication_case" else None
                if communication is None:
                    continue
                if is_done_receive(file, communication):
                    return True
                for node in [communication, *communication.named_children]:
                    if (
                        node.type == "unary_expression"
                        and index.key(node.child_by_field_name("operand"), CHAN) in stops
                    ):
                        return True
    return False


def check(file: GoFile) -> Iterator[Report]:
    if b"chan" not in file.source:
        return  # no channel type: no channel field
    index = type_index(file)
    for type_name, struct in index.types.items():
        fields = {f"{type_name}.{name}" for name, kind in struct.kinds.items() if kind == CHAN}
        if not fields:
            continue
        stops = _stop_channels(index, type_name)
        contexts = [name for name, kind in struct.kinds.items() if kind == CONTEXT]
        for unit in index.units.values():
            if unit.type_name != type_name:
                continue
            for operation, kind, key in _operations(unit):
                if key not in fields or _skipped(file, index, unit, operation, kind, key, stops):
                    continue
                select = _communication_of(operation)
                if select is not None and (
                    has_default(select)
                    or any(
                        _can_stop(file, index, case, set(stops), fields)
                        for case in select_cases(select)
                        if not _holds(case, operation)
                    )
                ):
                    continue
                signal = _signal(file, unit, operation, stops, contexts)
                if signal is None:
                    continue
                shown = file.text(operation).split("\n", 1)[0]
                yield Report(
                    operation,
                    f"`{shown}` ignores the stop signal: {signal}, but this {kind} does not watch it and blocks forever "
                    f"once its peer is gone. `select` on the stop signal alongside it.",
                    REMEDIATION,
                )


def _holds(case: Node, operation: Node) -> bool:
    return case.start_byte <= operation.start_byte < case.end_byte


def _signal(file: GoFile, unit: Unit, operation: Node, stops: dict[str, Unit], contexts: list[str]) -> str | None:
    """How the type stops, in words: `s.done` is closed in `Stop`, `ctx` is in scope..."""
    if stops:
        key, closer = sorted(stops.items())[0]
        where = unit_label(file, closer)
        return f"`{field_expression(file, unit, key)}` is closed in `{where}`"
    if contexts:
        return f"the type holds a context (`{field_expression(file, unit, unit.type_name + '.' + contexts[0])}`)"
    context = preferred(cancellable_contexts(package_of(file), file, operation))
    if context is not None:
        return f"`{context.expression}` is in scope"
    return None


RULE = Rule(
    id="GR118",
    name="field-channel-ignores-stop",
    severity=Severity.WARNING,
    doc=__doc__,
    check=check,
)
