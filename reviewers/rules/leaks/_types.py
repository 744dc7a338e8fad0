"""The types of a file and what their methods do with their channels, mutexes and WaitGroups.

GR114, GR117 and GR118 reason across the methods of a type: which fields are channels,
mutexes, WaitGroups or contexts, and which function locks, unlocks, sends on, receives
from, closes, waits on or `Add`s to which of them. `type_index(file)` builds that once per
file (`file.cached("leaks.types", ...)`) and the rules share it.

Everything a rule compares is a *key*: `Server.mu` for a field of a struct type declared in
the file (whatever the receiver or variable it is reached through), `var mu` for a
package-level variable, `<declaration offset>:mu` for a local variable (so a goroutine
literal and its starter share the key of the variable they both see). Keys are only given
to expressions whose kind the syntax shows: a field or variable declared as `sync.Mutex`,
`chan T`, `make(chan T)`, ...; anything else stays unresolved and the rules stay silent.

A *unit* is a function, a method or a function literal: a goroutine body is a unit of its
own, and so is a closure (what it does is not counted in the function around it).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property

from tree_sitter import Node

from ...gosource import GoFile, captures
from ...gosource import matches as _matches
from ...syntax import (
    FUNCTION_TYPES,
    ancestors,
    call_method_name,
    own_nodes,
    qualified_name,
    receiver_type,
    top_level_specs,
)

CHAN, MUTEX, WAITGROUP, CONTEXT, TIMER, OTHER = "chan", "mutex", "waitgroup", "context", "timer", "other"

_QUALIFIED_KINDS = {
    "sync.Mutex": MUTEX,
    "sync.RWMutex": MUTEX,
    "sync.WaitGroup": WAITGROUP,
    "context.Context": CONTEXT,
    "time.Timer": TIMER,
    "time.Ticker": TIMER,
}
LOCKS = frozenset({"Lock", "RLock"})
UNLOCKS = frozenset({"Unlock", "RUnlock"})
SHUTDOWN_METHODS = frozenset({"Close", "Stop", "Shutdown", "GracefulStop"})


@dataclass
class Op:
    """One operation of a unit on a keyed channel, mutex or WaitGroup."""

    kind: str  # lock unlock send receive close wait add done
    key: str
    node: Node  # the call, send statement, receive expression or range clause


@dataclass
class Unit:
    key: str  # `Server.Close`, `func helper`, `lit@1234`
    node: Node
    type_name: str | None  # the receiver's type (for a literal: that of its method)
    ops: list[Op] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)  # keys of units of the file it calls

    def keys(self, *kinds: str) -> set[str]:
        return {op.key for op in self.ops if op.kind in kinds}

    def family_keys(self, index: TypeIndex, *kinds: str) -> set[str]:
        """Keys the unit and the closures written in it use (`defer func() { ch <- v }()`)."""
        keys = self.keys(*kinds)
        for other in index.units.values():
            if other.node.type == "func_literal" and self.node.start_byte < other.node.start_byte < self.node.end_byte:
                keys |= other.keys(*kinds)
        return keys

    def of(self, *kinds: str) -> list[Op]:
        return [op for op in self.ops if op.kind in kinds]


@dataclass
class StructType:
    name: str
    fields: dict[str, Node]  # field name (an embedded field: its type's name) -> type node
    kinds: dict[str, str]  # field name -> CHAN, MUTEX, ...


class TypeIndex:
    def __init__(self, file: GoFile):
        self.file = file
        self.types: dict[str, StructType] = {}
        self._package_vars: dict[str, str] = {}
        self._declared: dict[tuple[int, int], dict] = {}
        self._package_specs: dict[str, tuple[Node | None, Node | None]] = {}
        self._buffered: set[str] | None = None
        self._constructors: dict[str, str] | None = None
        self._units_by_span: dict[tuple[int, int], Unit] = {}
        self._collect_types()
        self._collect_package_vars()

    # -- declarations ------------------------------------------------------------------------
    def kind_of_type(self, type_node: Node | None) -> str:
        """CHAN, MUTEX, WAITGROUP, CONTEXT, TIMER or OTHER for a type node (through a pointer)."""
        if type_node is None:
            return OTHER
        if type_node.type == "pointer_type" and type_node.named_children:
            type_node = type_node.named_children[0]
        if type_node.type == "channel_type":
            return CHAN
        return _QUALIFIED_KINDS.get(qualified_name(self.file, type_node) or "", OTHER)

    def kind_of_value(self, value: Node | None) -> str:
        """The kind of what `make(chan T)`, `sync.Mutex{}`, `&sync.WaitGroup{}`,
        `new(sync.Mutex)`, `time.NewTimer(d)` or `context.WithCancel(...)` makes."""
        if value is None:
            return OTHER
        if value.type == "unary_expression" and value.named_children:
            value = value.named_children[-1]
        if value.type == "composite_literal":
            return self.kind_of_type(value.child_by_field_name("type"))
        if value.type == "call_expression":
            function = value.child_by_field_name("function")
            arguments = value.child_by_field_name("arguments")
            first = arguments.named_children[0] if arguments is not None and arguments.named_children else None
            name = self.file.text(function) if function is not None else ""
            if name in ("make", "new") and first is not None:
                return self.kind_of_type(first)
            qualified = qualified_name(self.file, value) or ""
            if qualified in ("time.NewTimer", "time.NewTicker"):
                return TIMER
            if qualified.startswith("context.With") or qualified in ("context.Background", "context.TODO"):
                return CONTEXT
        return OTHER

    def _collect_types(self) -> None:
        for spec in self.file.nodes("type_spec"):
            type_name, struct_node = spec.child_by_field_name("name"), spec.child_by_field_name("type")
            if (
                type_name is None
                or type_name.type != "type_identifier"
                or struct_node is None
                or struct_node.type != "struct_type"
            ):
                continue
            fields: dict[str, Node] = {}
            for declaration in _field_declarations(struct_node):
                type_node = declaration.child_by_field_name("type")
                names = declaration.children_by_field_name("name")
                if names:
                    for name_node in names:
                        fields[self.file.text(name_node)] = type_node
                elif type_node is not None:  # embedded: sync.Mutex -> Mutex, *Base -> Base
                    inner = type_node.named_children[0] if type_node.type == "pointer_type" else type_node
                    short = inner.child_by_field_name("name") if inner.type == "qualified_type" else inner
                    fields[self.file.text(short or inner)] = type_node
            kinds = {name_: self.kind_of_type(type_node) for name_, type_node in fields.items()}
            name = self.file.text(type_name)
            self.types[name] = StructType(name, fields, kinds)

    def _collect_package_vars(self) -> None:
        for spec in top_level_specs(self.file):
            value = spec.child_by_field_name("value")
            values = value.named_children if value is not None and value.type == "expression_list" else [value]
            for position, name_node in enumerate(spec.children_by_field_name("name")):
                assigned = values[position] if position < len(values) else None
                kind = self.kind_of_type(spec.child_by_field_name("type"))
                if kind == OTHER:
                    kind = self.kind_of_value(assigned)
                self._package_vars[self.file.text(name_node)] = kind
                self._package_specs[self.file.text(name_node)] = (spec.child_by_field_name("type"), assigned)

    # -- resolving expressions ---------------------------------------------------------------
    def type_name_of(self, expression: Node) -> str | None:
        """The struct type (declared in this file) of `s`, `c.inner`, `(*s)`..."""
        if not self.types:
            return None  # the usual case, and every answer below is one of them
        if expression.type == "parenthesized_expression" and expression.named_children:
            return self.type_name_of(expression.named_children[0])
        if expression.type == "unary_expression" and expression.named_children:
            return self.type_name_of(expression.named_children[-1])
        if expression.type == "selector_expression":
            owner = self.type_name_of(expression.child_by_field_name("operand"))
            struct = self.types.get(owner or "")
            if struct is None:
                return None
            return self._struct_name(struct.fields.get(self.file.text(expression.child_by_field_name("field"))))
        if expression.type != "identifier":
            return None
        declared = self.declaration(expression)
        if declared is None:
            return None
        type_node, value = declared
        if type_node is not None:
            return self._struct_name(type_node)
        if value is not None:
            if value.type == "unary_expression" and value.named_children:
                value = value.named_children[-1]
            if value.type == "composite_literal":
                return self._struct_name(value.child_by_field_name("type"))
            if value.type == "call_expression" and self.file.text(value.child_by_field_name("function")) == "new":
                arguments = value.child_by_field_name("arguments")
                return (
                    self._struct_name(arguments.named_children[0]) if arguments and arguments.named_children else None
                )
            if value.type == "call_expression":  # `s := newServer(...)`, a constructor of the file
                return self._constructed().get(self.file.text(value.child_by_field_name("function")))
        return None

    def _constructed(self) -> dict[str, str]:
        """Function name -> the struct type of the file its first result is (`newServer`)."""
        if self._constructors is None:
            self._constructors = {}
            for function in self.file.root.named_children:
                result = function.child_by_field_name("result") if function.type == "function_declaration" else None
                if result is None:
                    continue
                first = (
                    result.named_children[0] if result.type == "parameter_list" and result.named_children else result
                )
                type_node = first.child_by_field_name("type") if first.type == "parameter_declaration" else first
                owner = self._struct_name(type_node)
                if owner:
                    self._constructors[self.file.text(function.child_by_field_name("name"))] = owner
        return self._constructors

    def declared_type(self, expression: Node) -> Node | None:
        """The type node an expression was declared with, as far as the file shows it: a
        parameter's or `var`'s type, a composite literal's type, a field's type."""
        if expression.type == "parenthesized_expression" and expression.named_children:
            return self.declared_type(expression.named_children[0])
        if expression.type == "selector_expression":
            struct = self.types.get(self.type_name_of(expression.child_by_field_name("operand")) or "")
            return struct.fields.get(self.file.text(expression.child_by_field_name("field"))) if struct else None
        if expression.type != "identifier":
            return None
        declared = self.declaration(expression)
        if declared is None:
            return None
        type_node, value = declared
        if type_node is not None:
            return type_node
        if value is not None and value.type == "unary_expression" and value.named_children:
            value = value.named_children[-1]
        if value is not None and value.type == "composite_literal":
            return value.child_by_field_name("type")
        return None

    def _struct_name(self, type_node: Node | None) -> str | None:
        if type_node is None:
            return None
        if type_node.type == "pointer_type" and type_node.named_children:
            type_node = type_node.named_children[0]
        if type_node.type == "generic_type":
            type_node = type_node.child_by_field_name("type")
        if type_node is None or type_node.type != "type_identifier":
            return None
        name = self.file.text(type_node)
        return name if name in self.types else None

    def declaration(self, identifier: Node) -> tuple[Node | None, Node | None] | None:
        """(type node, value) of the declaration an identifier refers to, looking in the
        enclosing functions (receivers, parameters, `var`, `:=`) then the package."""
        name = self.file.text(identifier)
        for function in functions_around(self.file, identifier):
            found = self._local(function, name, identifier)
            if found is not None:
                return found[1], found[2]
        return self._package_specs.get(name)

    def _local(self, function: Node, name: str, use: Node) -> tuple[Node, Node | None, Node | None] | None:
        """(function, type node, value) of the last declaration of `name` in `function`
        before `use`."""
        cache_key = (function.start_byte, function.end_byte)
        if cache_key not in self._declared:
            owned = own_nodes(self.file, function, _DECLARATION_TYPES)
            self._declared[cache_key] = _declarations(self.file, function, owned)
        before = [d for d in self._declared[cache_key].get(name, []) if d[0] <= use.start_byte]
        return (function, before[-1][1], before[-1][2]) if before else None

    def key(self, expression: Node, kind: str | None = None) -> str | None:
        """The key of a channel, mutex, WaitGroup... expression, when its declaration shows its
        kind (and it is `kind`, when given)."""
        if expression.type == "parenthesized_expression" and expression.named_children:
            return self.key(expression.named_children[0], kind)
        if (
            expression.type == "unary_expression"
            and self.file.text(expression).startswith("&")
            and expression.named_children
        ):
            return self.key(expression.named_children[-1], kind)
        if expression.type == "selector_expression":
            owner = self.type_name_of(expression.child_by_field_name("operand"))
            struct = self.types.get(owner or "")
            name = self.file.text(expression.child_by_field_name("field"))
            if struct is None or name not in struct.kinds:
                return None
            if kind is not None and struct.kinds[name] != kind:
                return None
            return f"{owner}.{name}"
        if expression.type != "identifier":
            return None
        name = self.file.text(expression)
        for function in functions_around(self.file, expression):
            found = self._local(function, name, expression)
            if found is not None:
                scope, type_node, value = found
                found_kind = self.kind_of_type(type_node) if type_node is not None else self.kind_of_value(value)
                if kind is not None and found_kind != kind:
                    return None
                return f"{scope.start_byte}:{name}" if found_kind != OTHER else None
        if name in self._package_vars and (kind is None or self._package_vars[name] == kind):
            return f"var {name}" if self._package_vars[name] != OTHER else None
        return None

    def buffered(self, key: str) -> bool:
        """Whether the file makes the channel with a buffer: `field: make(chan T, n)`,
        `s.field = make(chan T, n)`, `ch := make(chan T, n)` (n not 0)."""
        if self._buffered is None:
            self._buffered = set()
            pattern = '(call_expression function: (identifier) @f (#eq? @f "make") arguments: (argument_list (channel_type) (_) @size)) @call'
            for match in _matches(pattern, self.file.root):
                if self.file.text(match["size"]) == "0":
                    continue
                target = _assigned_to(self, match["call"])
                if target:
                    self._buffered.add(target)
            # `errc := make(chan error, 1)` then `T{errc: errc}` or `s.errc = errc`.
            for identifier in captures(
                "[(literal_element (identifier) @v) (expression_list (identifier) @v)]", self.file.root
            ).get("v", []):
                if self.key(identifier, CHAN) in self._buffered:
                    target = _assigned_to(self, identifier)
                    if target:
                        self._buffered.add(target)
        return key in self._buffered

    def embedded_key(self, receiver: Node, kind: str) -> str | None:
        """`T.Mutex` for `s.Lock()` when `s`'s struct type embeds a sync.Mutex."""
        owner = self.type_name_of(receiver)
        struct = self.types.get(owner or "")
        if struct is None:
            return None
        embedded = [name for name in ("Mutex", "RWMutex", "WaitGroup") if struct.kinds.get(name) == kind]
        return f"{owner}.{embedded[0]}" if embedded else None

    # -- units -------------------------------------------------------------------------------
    # Built on first use, one function at a time: the rules first check the file's types, and
    # most files have no type with a channel, mutex or WaitGroup field for them to look at;
    # GR117 needs only the units that lock something, unless it finds an operation to report.
    @cached_property
    def units(self) -> dict[str, Unit]:
        """Every unit of the file by key."""
        return {key: self.unit_of(function) for key, function in self._functions_by_key.items()}

    @cached_property
    def _functions_by_key(self) -> dict[str, Node]:
        """The file's functions by unit key, in source order (two functions may share a key,
        `func init`: the last one is kept, at the place of the first)."""
        return {self._unit_key(function): function for function in _function_nesting(self.file)[0]}

    def unit_of(self, function: Node) -> Unit:
        """The unit of a function, method or literal of the file: always the same object."""
        span = (function.start_byte, function.end_byte)
        if span not in self._units_by_span:
            self._units_by_span[span] = self._unit(function)
        return self._units_by_span[span]

    @cached_property
    def _method_names(self) -> frozenset[str]:
        return frozenset(self.file.text(m.child_by_field_name("name")) for m in self.file.nodes("method_declaration"))

    def locking_units(self) -> list[Unit]:
        """The units that lock a mutex, in source order. A lock is a `.Lock()` or `.RLock()`
        call in the unit's own text: the units of functions whose text has no "Lock" (most
        of a file's) are not built."""
        source = self.file.source
        candidates = (f for f in self._functions_by_key.values() if source.find(b"Lock", f.start_byte, f.end_byte) >= 0)
        return [unit for unit in map(self.unit_of, candidates) if unit.of("lock")]

    def methods(self, type_name: str) -> list[Unit]:
        return [u for u in self.units.values() if u.node.type == "method_declaration" and u.type_name == type_name]

    def unit_keys_called(self, unit: Unit) -> list[Unit]:
        return [self.units[k] for k in unit.calls if k in self.units]

    def reaches(self, unit: Unit, kind: str, key: str, depth: int = 1) -> bool:
        """Whether the unit does `kind` on `key` itself or through calls `depth` deep."""
        if any(op.kind == kind and op.key == key for op in unit.ops):
            return True
        return depth > 0 and any(self.reaches(callee, kind, key, depth - 1) for callee in self.unit_keys_called(unit))

    def _unit_key(self, function: Node) -> str:
        """`Server.Close`, `func helper` or `lit@1234`."""
        if function.type == "func_literal":
            return f"lit@{function.start_byte}"
        name = self.file.text(function.child_by_field_name("name"))
        if function.type == "method_declaration":
            return f"{receiver_type(self.file, function)}.{name}"
        return f"func {name}"

    def _unit(self, function: Node) -> Unit:
        file = self.file
        if function.type == "method_declaration":
            type_name = receiver_type(file, function)
        elif function.type == "function_declaration":
            type_name = None
        else:
            method = _enclosing_method(file, function)
            type_name = receiver_type(file, method) if method is not None else None
        unit = Unit(self._unit_key(function), function, type_name)
        for node in own_nodes(file, function, _OPERATION_TYPES):
            self._record(unit, node)
        return unit

    def _record(self, unit: Unit, node: Node) -> None:
        file = self.file
        if node.type == "call_expression":
            function = node.child_by_field_name("function")
            name = call_method_name(file, node)
            if function is None:
                return
            if function.type == "identifier":
                if name == "close":
                    arguments = node.child_by_field_name("arguments")
                    if arguments is not None and arguments.named_children:
                        key = self.key(arguments.named_children[0], CHAN)
                        if key:
                            unit.ops.append(Op("close", key, node))
                else:
                    unit.calls.append(f"func {name}")
                return
            if function.type != "selector_expression":
                return
            operand = function.child_by_field_name("operand")
            operation = {"Lock": "lock", "RLock": "lock", "Unlock": "unlock", "RUnlock": "unlock"}.get(name or "")
            if operation:
                key = self.key(operand, MUTEX) or self.embedded_key(operand, MUTEX)
                if key:
                    unit.ops.append(Op(operation, key, node))
                    return
            operation = {"Wait": "wait", "Add": "add", "Done": "done", "Go": "add"}.get(name or "")
            if operation:
                key = self.key(operand, WAITGROUP) or self.embedded_key(operand, WAITGROUP)
                if key:
                    unit.ops.append(Op(operation, key, node))
                    return
            # Only a call of a method of the file can be a unit's: no need to resolve others.
            owner = self.type_name_of(operand) if name in self._method_names else None
            if owner is not None:
                unit.calls.append(f"{owner}.{name}")
        elif node.type == "send_statement":
            key = self.key(node.child_by_field_name("channel"), CHAN)
            if key:
                unit.ops.append(Op("send", key, node))
        elif (
            node.type == "unary_expression"
            and node.child_by_field_name("operator") is not None
            and file.text(node.child_by_field_name("operator")) == "<-"
        ):
            key = self.key(node.child_by_field_name("operand"), CHAN)
            if key:
                unit.ops.append(Op("receive", key, node))
        elif node.type == "range_clause":
            ranged = node.child_by_field_name("right")
            key = self.key(ranged, CHAN) if ranged is not None else None
            if key:
                unit.ops.append(Op("receive", key, node))


# What a unit records: its operations and calls; the declarations its names resolve to.
_OPERATION_TYPES = ("call_expression", "send_statement", "unary_expression", "range_clause")
_DECLARATION_TYPES = ("var_spec", "short_var_declaration", "range_clause", "receive_statement")


def functions_around(file: GoFile, node: Node) -> Iterator[Node]:
    """The functions, methods and literals around a node that is not one, innermost first
    (as `ancestors` would find them, without walking up the tree)."""
    functions, starts, parents = _function_nesting(file)
    position = bisect_right(starts, node.start_byte) - 1
    # The last function starting before the node holds it, or is nested in the one that does.
    while position >= 0:
        if node.end_byte <= functions[position].end_byte:
            yield functions[position]
        position = parents[position]


def _function_nesting(file: GoFile) -> tuple[list[Node], list[int], list[int]]:
    """The file's functions in source order, their start bytes, and the position of the
    function each is nested in (-1: none)."""

    def build() -> tuple[list[Node], list[int], list[int]]:
        functions = sorted(
            (f for node_type in FUNCTION_TYPES for f in file.nodes(node_type)), key=lambda f: f.start_byte
        )
        parents: list[int] = []
        around: list[int] = []  # positions of the functions open at the current one
        for position, function in enumerate(functions):
            while around and functions[around[-1]].end_byte <= function.start_byte:
                around.pop()
            parents.append(around[-1] if around else -1)
            around.append(position)
        return functions, [f.start_byte for f in functions], parents

    return file.cached("leaks.function_nesting", build)


def _enclosing_method(file: GoFile, node: Node) -> Node | None:
    """The method declaration around `node` (methods do not nest: the last one starting
    before it, if it ends after it)."""
    methods = file.nodes("method_declaration")
    position = bisect_right(methods, node.start_byte, key=lambda m: m.start_byte)
    method = methods[position - 1] if position else None
    return method if method is not None and node.end_byte <= method.end_byte else None


def _field_declarations(struct: Node) -> list[Node]:
    """The struct type's own field declarations (not those of nested struct types)."""
    fields = next((c for c in struct.named_children if c.type == "field_declaration_list"), None)
    return [c for c in fields.named_children if c.type == "field_declaration"] if fields is not None else []


def _declarations(
    file: GoFile, function: Node, owned: list[Node]
) -> dict[str, list[tuple[int, Node | None, Node | None]]]:
    """Name -> [(offset, type node, value)] of what `function` declares: its receiver and
    parameters (offset -1), its `var`s and `:=` (not those of nested literals, which are not
    in `owned`, the function's own nodes)."""
    found: dict[str, list[tuple[int, Node | None, Node | None]]] = {}
    for list_name in ("receiver", "parameters"):
        parameter_list = function.child_by_field_name(list_name)
        for declaration in parameter_list.named_children if parameter_list is not None else []:
            for name_node in declaration.children_by_field_name("name"):
                found.setdefault(file.text(name_node), []).append((-1, declaration.child_by_field_name("type"), None))
    for node in owned:
        if node.type == "var_spec":
            names = node.children_by_field_name("name")
            value = node.child_by_field_name("value")
            values = value.named_children if value is not None and value.type == "expression_list" else [value]
            for position, name_node in enumerate(names):
                assigned = values[position] if position < len(values) else None
                found.setdefault(file.text(name_node), []).append(
                    (node.start_byte, node.child_by_field_name("type"), assigned)
                )
        elif (
            node.type in ("short_var_declaration", "range_clause", "receive_statement")
            and node.child_by_field_name("left") is not None
        ):
            names = node.child_by_field_name("left").named_children
            right = node.child_by_field_name("right")
            values = right.named_children if right is not None and node.type == "short_var_declaration" else []
            for position, name_node in enumerate(names):
                if len(values) == len(names):
                    assigned = values[position]
                else:  # `ctx, cancel := context.WithCancel(...)`: the call makes the first
                    assigned = values[0] if values and position == 0 else None
                found.setdefault(file.text(name_node), []).append((node.start_byte, None, assigned))
    return found


def type_index(file: GoFile) -> TypeIndex:
    """The file's index, built once and shared by the rules."""
    return file.cached("leaks.types", lambda: TypeIndex(file))


def _assigned_to(index: TypeIndex, value: Node) -> str | None:
    """The key of what a value is assigned to: `T.field` for `T{field: v}` or `s.field = v`,
    the variable's key for `ch := v` / `var ch = v`."""
    holder = value.parent
    if holder is not None and holder.type == "literal_element":
        keyed = holder.parent
        literal = keyed.parent.parent if keyed is not None and keyed.parent is not None else None
        if (
            keyed is not None
            and keyed.type == "keyed_element"
            and literal is not None
            and literal.type == "composite_literal"
        ):
            owner = index._struct_name(literal.child_by_field_name("type"))
            return f"{owner}.{index.file.text(keyed.named_children[0])}" if owner else None
        return None
    if holder is None or holder.type != "expression_list" or len(holder.named_children) != 1:
        return None
    statement = holder.parent
    if statement is None:
        return None
    if statement.type in ("assignment_statement", "short_var_declaration"):
        left = statement.child_by_field_name("left")
        if left is not None and len(left.named_children) == 1:
            return index.key(left.named_children[0], CHAN)
    if statement.type == "var_spec":
        names = statement.children_by_field_name("name")
        return index.key(names[0], CHAN) if len(names) == 1 else None
    return None


def receiver_name(file: GoFile, method: Node) -> str | None:
    """`s` for `func (s *Server) Close()`; None for an unnamed receiver."""
    receiver = method.child_by_field_name("receiver")
    for parameter in receiver.named_children if receiver is not None else []:
        names = parameter.children_by_field_name("name")
        if names:
            return file.text(names[0])
    return None


def started_unit(index: TypeIndex, go_statement: Node) -> Unit | None:
    """The unit a `go` statement runs: its literal, `s.loop` (a method of a type of the
    file) or `worker` (a function of the file)."""
    call = go_statement.named_children[0] if go_statement.named_children else None
    if call is None or call.type != "call_expression":
        return None
    function = call.child_by_field_name("function")
    if function is None:
        return None
    if function.type == "func_literal":
        return index.unit_of(function)
    if function.type == "identifier":
        return index.units.get(f"func {index.file.text(function)}")
    if function.type == "selector_expression":
        owner = index.type_name_of(function.child_by_field_name("operand"))
        return index.units.get(f"{owner}.{index.file.text(function.child_by_field_name('field'))}") if owner else None
    return None


def field_expression(file: GoFile, unit: Unit, key: str) -> str:
    """How code of `unit` spells a field key: `s.wg` for `Server.wg` in a method of Server
    with receiver `s`; the key itself otherwise."""
    type_name, _, field_name = key.partition(".")
    method = (
        unit.node
        if unit.node.type == "method_declaration"
        else next((a for a in ancestors(unit.node) if a.type == "method_declaration"), None)
    )
    if method is not None and unit.type_name == type_name:
        name = receiver_name(file, method)
        if name:
            return f"{name}.{field_name}"
    return key


def unit_label(file: GoFile, unit: Unit) -> str:
    """How a message names a unit: `Broker.loop`, `register`, `a closure in Broker.Start`."""
    if unit.node.type != "func_literal":
        return unit.key.removeprefix("func ")
    outer = next((a for a in ancestors(unit.node) if a.type in ("function_declaration", "method_declaration")), None)
    if outer is None:
        return "a function literal"
    owner = receiver_type(file, outer) if outer.type == "method_declaration" else None
    name = file.text(outer.child_by_field_name("name"))
    return f"a closure in {owner + '.' if owner else ''}{name}"
