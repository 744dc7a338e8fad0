"""Values: what a variable or a field of the package's types is given, wherever in the package
it is given it, and the buffer capacity of the channels made for it.

`field_values("Server", "jobs")` lists every value stored in that field: keyed struct literals
(`Server{jobs: make(chan Job, 8)}`, `&Server{...}`) and assignments to it through any value
of type `Server` or `*Server` (`s.jobs = ...`), in any file of the package.
`capacity(file, expr)` follows a channel expression (a local, a package variable, a field, a
call of a package function that returns a new channel) to the `make` calls that create it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from tree_sitter import Node

from ..gosource import GoFile
from ..syntax import ancestors, enclosing_loops, field_of, first_argument, is_inside, qualified_name, unparen
from .names import CONSTANT, RANGE, RECEIVED, VARIABLE
from .package import Declared
from .places import place_of

if TYPE_CHECKING:
    from .names import Binding
    from .package import Assignment, Package

# A channel made with a buffer whose size the code computes (`make(chan T, n)`).
BUFFERED = -1

# A pause this short ends about when a cancellation would be noticed anyway.
SHORT_PAUSE = 1.0  # seconds
_UNITS = {"Nanosecond": 1e-9, "Microsecond": 1e-6, "Millisecond": 1e-3, "Second": 1.0, "Minute": 60.0, "Hour": 3600.0}

# The integer limits of package math that size buffers (`make(chan sig, math.MaxInt32)`).
MATH_LIMITS = {
    f"math.{name}": value
    for name, value in {
        "MaxInt8": 2**7 - 1,
        "MaxInt16": 2**15 - 1,
        "MaxInt32": 2**31 - 1,
        "MaxInt64": 2**63 - 1,
        "MaxInt": 2**63 - 1,
        "MaxUint8": 2**8 - 1,
        "MaxUint16": 2**16 - 1,
        "MaxUint32": 2**32 - 1,
    }.items()
}

_ARITHMETIC = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "/": lambda a, b: a // b,
    "%": lambda a, b: a % b,
    "<<": lambda a, b: a << min(b, 64),
}


# Calls that give the items of their first argument and nothing else: a copy (`maps.Clone`,
# `slices.Clone`), or its keys or values (`slices.Collect(maps.Keys(m))`).
COPIES = frozenset(
    f"{package}.{name}"
    for package in ("maps", "slices", "golang.org/x/exp/maps", "golang.org/x/exp/slices")
    for name in ("Clone", "Keys", "Values", "All", "Collect", "Sorted", "SortedFunc", "SortedStableFunc")
)
# Calls that read a collection without adding to it, and the expressions that read it.
_READS = frozenset({"len", "cap", "delete", "clear"})
_READ_BY = frozenset({"range_clause", "slice_expression", "binary_expression", "variadic_argument"})


@dataclass(frozen=True)
class Stored:
    file: GoFile
    value: Node
    index: int = 0  # which of a call's results: `ch, err := newQueue()` stores the first


class Values:
    def __init__(self, package: Package):
        self.package = package
        self._by_field: dict[str, list[tuple[GoFile, Node, Node]]] | None = None

    def _index(self) -> dict[str, list[tuple[GoFile, Node, Node]]]:
        """Field name -> (file, holder, value): a holder is the composite literal of a keyed
        element, or the operand of an assignment `x.f = v`."""
        if self._by_field is None:
            index: dict[str, list[tuple[GoFile, Node, Node]]] = {}
            for file in self.package.files:
                for keyed in file.nodes("keyed_element"):
                    key, value = keyed.child_by_field_name("key"), keyed.child_by_field_name("value")
                    element_list = file.parent(keyed)
                    literal = file.parent(element_list) if element_list is not None else None
                    if key is None or value is None or literal is None or literal.type != "composite_literal":
                        continue
                    index.setdefault(file.text(key), []).append((file, literal, _element(value)))
                for statement in file.nodes("assignment_statement"):
                    left, right = statement.child_by_field_name("left"), statement.child_by_field_name("right")
                    targets = left.named_children if left is not None else []
                    values = right.named_children if right is not None else []
                    if len(targets) != len(values):
                        continue
                    for target, value in zip(targets, values):
                        field_node = (
                            target.child_by_field_name("field") if target.type == "selector_expression" else None
                        )
                        operand = target.child_by_field_name("operand")
                        if field_node is not None and operand is not None:
                            index.setdefault(file.text(field_node), []).append((file, operand, value))
            self._by_field = index
        return self._by_field

    def field_values(self, type_name: str, field: str) -> list[Stored]:
        """Every value the package stores in field `field` of its type `type_name`."""
        found = []
        for file, holder, value in self._index().get(field, []):
            holder_type = (
                self.package.types_model.from_node(file, holder.child_by_field_name("type"))
                if holder.type == "composite_literal"
                else self.package.type_of(file, holder)
            )
            if (
                holder_type is not None
                and holder_type.deref().kind == "named"
                and holder_type.deref().name == type_name
            ):
                found.append(Stored(file, value))
        return found

    def sources(self, file: GoFile, expression: Node, *, results: bool = False) -> list[Stored] | None:
        """The values a variable or field expression may hold, as far as the package shows
        them; None when it cannot tell (a parameter, a field of another package's type).
        What the package's tests store in a field counts only for a test. With `results`,
        one of several results a call gives (`ch, err := newQueue()`) is answered too, as
        the call and the result's index."""
        expression = unparen(expression)
        if expression.type == "identifier":
            binding = self.package.binding(file, expression)
            if binding is None or binding.kind in ("receiver", "import", "function", "type"):
                return None
            if binding.kind == "parameter":
                return self.arguments(binding)
            if not binding.is_local:
                return [Stored(binding.file, binding.value)] if binding.value is not None else None
            assignments = self.package.assignments(binding)
            # `var ch chan T` gives the zero value, which the code must replace before use.
            given = [
                a
                for a in assignments
                if not (a.value is None and a.statement is not None and a.statement.type == "var_spec")
            ]
            if not given or any(
                a.value is None or (a.spread and not _received(a) and not (results and _a_call_result(a)))
                for a in given
            ):
                return None
            return [
                Stored(binding.file, a.value, a.index if _a_call_result(a) else 0) for a in given if a.value is not None
            ]
        if expression.type == "selector_expression":
            operand, field_node = expression.child_by_field_name("operand"), expression.child_by_field_name("field")
            owner = self.package.type_of(file, operand) if operand is not None else None
            if owner is None or field_node is None or owner.deref().kind != "named":
                return None
            if owner.deref().name not in self.package.types:
                return None
            stored = self.field_values(owner.deref().name, file.text(field_node))
            if not file.is_test:  # a test stores what its user would: not what the code does itself
                stored = [s for s in stored if not s.file.is_test]
            return stored or None
        return None

    def arguments(self, parameter: Binding, *, own: bool = False) -> list[Stored] | None:
        """What the package passes for a parameter: the argument of a function literal
        called on the spot, or of every call of an unexported function or method (an
        exported one may be called from other packages, with anything: with `own`, the
        package's own calls of it are answered, some of what it may be handed); None when
        it cannot tell."""
        function = parameter.function
        if function is None or parameter.identifier is None:
            return None
        position = self._position(function, parameter.identifier)
        if position is None:
            return None
        if function.type == "func_literal":
            call = parameter.file.parent(function)
            if call is None or call.type != "call_expression" or call.child_by_field_name("function") != function:
                return None
            items = _arguments(call)
            return [Stored(parameter.file, items[position])] if position < len(items) else None
        name_node = function.child_by_field_name("name")
        name = parameter.file.text(name_node) if name_node is not None else ""
        if not name or (name[0].isupper() and not own) or name == "main":
            return None
        sites = self.package.facts.call_sites(Declared(parameter.file, function), started=True, own=own)
        if sites is None:
            return None  # handed on as a value: called elsewhere with anything
        found = []
        for caller, call in sites:
            items = _arguments(call)
            if position >= len(items):
                return None
            found.append(Stored(caller.file, items[position]))
        return found or None

    def copied_from(self, file: GoFile, expression: Node) -> list[Stored] | None:
        """The collections a slice or map holds copies of, when it holds nothing else (a
        snapshot, typically taken under a lock to work on the items without it): the
        argument of a copying call (`maps.Clone(s.peers)`, `slices.Clone`, `maps.Keys`), or
        what a local made empty or written in the code (`make(map[K]V)`, `make([]T, 0,
        n)`, `[]T{}`, `var snap []T`) is given by `maps.Copy(snap, src)`, `copy(snap,
        src)`, `snap = append(snap, src...)`, or one item a pass of a `for ... range src`
        loop (`snap = append(snap, v)`, `snap[k] = v`). None when anything else may put
        items in it: another value, a call it is handed to, its address taken."""
        expression = unparen(expression)
        if expression.type == "call_expression":
            source = first_argument(expression)
            return [Stored(file, source)] if source is not None and qualified_name(file, expression) in COPIES else None
        binding = self.package.binding(file, expression) if expression.type == "identifier" else None
        if binding is None or not binding.is_local or binding.kind != VARIABLE:
            return None
        found: list[Stored] = []
        for assignment in self.package.assignments(binding):
            value = unparen(assignment.value) if assignment.value is not None and not assignment.spread else None
            if value is None:
                if assignment.statement is not None and assignment.statement.type == "var_spec":
                    continue  # `var snap []T`: empty
                return None
            given = self._copied_into(file, value, binding, assignment.statement)
            if given is None:
                return None
            found += given
        for reference in self.package.references(binding):
            if self.package.is_write(file, reference):
                continue  # an assignment, read above
            holder = file.parent(reference)
            if holder is None:
                return None
            if holder.type == "index_expression" and holder.child_by_field_name("operand") == reference:
                statement = _written_by(file, holder)
                if statement is None:
                    continue  # `snap[k]` read
                sources = _ranged_once(file, statement, binding)
                if sources is None:
                    return None
                found += [Stored(file, source) for source in sources]
                continue
            if holder.type in _READ_BY:
                continue  # ranged, sliced, compared, appended elsewhere
            call = file.parent(holder) if holder.type == "argument_list" else None
            if call is None:
                return None  # kept elsewhere (`alias := snap`), a method called on it, its address taken
            arguments = _arguments(call)
            name = qualified_name(file, call) or file.text(field_of(call, "function"))
            if name in _READS or name in COPIES or (name == "append" and arguments[0] != reference):
                continue  # `len(snap)`, `maps.Clone(snap)`, `append(other, snap...)`
            if name in ("maps.Copy", "copy") and len(arguments) == 2:
                if arguments[1] == reference:
                    continue  # copied from
                found.append(Stored(file, arguments[1]))
                continue
            if name == "append" and _assigned_to(file, call, binding):
                continue  # `snap = append(snap, ...)`, read with the assignment
            return None  # handed to a call that may fill it
        return found

    def _copied_into(self, file: GoFile, value: Node, binding: Binding, statement: Node | None) -> list[Stored] | None:
        """What one value given to a snapshot brings into it (see `copied_from`)."""
        if value.type == "nil" or value.type == "composite_literal":
            return []  # nothing, or items written in the code
        if value.type != "call_expression":
            return None
        if qualified_name(file, value) in COPIES:
            source = first_argument(value)
            return [Stored(file, source)] if source is not None else None
        function = file.text(field_of(value, "function"))
        arguments = _arguments(value)
        if function == "make" and arguments:
            if len(arguments) == 1 or arguments[0].type == "map_type" or self.constant(file, arguments[1]) is not None:
                return []
            length = unparen(arguments[1])
            if length.type == "call_expression" and file.text(field_of(length, "function")) == "len":
                source = first_argument(length)
                return [Stored(file, source)] if source is not None else None  # `copy` fills it
            return None
        if function != "append" or not arguments or statement is None:
            return None
        base = unparen(arguments[0])
        if not (
            (base.type == "identifier" and self.package.binding(file, base) is binding)
            or base.type in ("nil", "composite_literal")
            or (base.type == "type_conversion_expression" and unparen(field_of(base, "operand")).type == "nil")
        ):
            return None
        items = arguments[1:]
        if items and items[-1].type == "variadic_argument":  # `append(snap, src...)`
            return [Stored(file, items[-1].named_children[0])] if len(items) == 1 else None
        if not items:
            return []
        sources = _ranged_once(file, statement, binding)
        return [Stored(file, source) for source in sources] if sources is not None and len(items) == 1 else None

    def seconds(self, file: GoFile, expression: Node, depth: int = 0) -> float | None:
        """The value of a constant duration: `100 * time.Millisecond`, `2 * time.Second`,
        `time.Millisecond * 500`, or a constant declared so (`const flushDelay = 100 *
        time.Millisecond`); None for anything computed."""
        expression = unparen(expression)
        if expression.type == "identifier":
            binding = self.package.binding(file, expression)
            if binding is None or binding.kind != CONSTANT or binding.value is None or depth > 3:
                return None
            return self.seconds(binding.file, binding.value, depth + 1)
        factor, _, unit = "".join(file.text(expression).split()).rpartition("*")
        unit = unit.removeprefix("time.")
        if unit not in _UNITS and factor.removeprefix("time.") in _UNITS:
            factor, unit = unit, factor.removeprefix("time.")  # `time.Millisecond * 500`
        if unit not in _UNITS:
            return None
        try:
            return (float(factor) if factor else 1.0) * _UNITS[unit]
        except ValueError:
            return None

    def short_pause(self, file: GoFile, duration: Node | None) -> bool:
        """A constant pause under a second (`time.Sleep(100 * time.Millisecond)`)."""
        seconds = self.seconds(file, duration) if duration is not None else None
        return seconds is not None and seconds < SHORT_PAUSE

    def never_empty(self, file: GoFile, expression: Node, depth: int = 0) -> bool:
        """Whether a slice expression surely has an element: the whole of an array
        (`buf[:]` of `var buf [64]byte`; an array of no element is never written so), a
        `make` of a constant positive length, or a local only ever given those."""
        expression = unparen(expression)
        if expression.type == "identifier":
            binding = self.package.binding(file, expression)
            stored = self.sources(file, expression) if binding is not None and binding.is_local else None
            return (
                depth < 3 and stored is not None and all(self.never_empty(s.file, s.value, depth + 1) for s in stored)
            )
        if expression.type == "slice_expression":
            operand = expression.child_by_field_name("operand")
            bounds = [expression.child_by_field_name(f) for f in ("start", "end")]
            operand_type = self.package.type_of(file, operand) if operand is not None else None
            return all(b is None for b in bounds) and operand_type is not None and operand_type.deref().kind == "array"
        function = expression.child_by_field_name("function") if expression.type == "call_expression" else None
        items = _arguments(expression) if function is not None and file.text(function) == "make" else []
        return len(items) >= 2 and file.text(items[1]).isdigit() and int(file.text(items[1])) > 0

    def never_empty_parameter(self, parameter: Binding) -> bool:
        """Whether every argument the package passes for a slice parameter is never empty."""
        handed = self.arguments(parameter)
        return handed is not None and all(self.never_empty(stored.file, stored.value) for stored in handed)

    @staticmethod
    def _position(function: Node, identifier: Node) -> int | None:
        parameter_list = function.child_by_field_name("parameters")
        names = (
            [n for d in parameter_list.named_children for n in d.children_by_field_name("name")]
            if parameter_list
            else []
        )
        return next((i for i, n in enumerate(names) if n.id == identifier.id), None)

    def capacity(self, file: GoFile, expression: Node, depth: int = 0, index: int = 0) -> int | None:
        """The buffer of the channel an expression holds: 0 unbuffered, n > 0 a constant
        size, `BUFFERED` a computed size; None when the package does not show every `make`
        that could have made it, or they disagree."""
        expression = unparen(expression)
        made = self._made(file, expression, depth, index)
        if made is not None or depth > 3 or index:
            return made
        stored = self.sources(file, expression, results=True)
        if not stored:
            return None
        capacities = {self.capacity(s.file, s.value, depth + 1, s.index) for s in stored}
        if None in capacities or len(capacities) != 1:
            if capacities and None not in capacities and all(c != 0 for c in capacities):
                return BUFFERED  # buffered everywhere, with sizes that differ
            return None
        return capacities.pop()

    def timer_channel(self, file: GoFile, expression: Node, depth: int = 0) -> bool:
        """Whether a channel is one a timer fills: `time.After(d)` or `time.Tick(d)` itself,
        the `C` of a `*time.Timer` or `*time.Ticker`, or a local given only those
        (`deadline := time.After(limit)`). A receive from it waits for the timer, not for
        another goroutine."""
        expression = unparen(expression)
        if expression.type == "call_expression":
            return qualified_name(file, expression) in ("time.After", "time.Tick")
        if expression.type == "selector_expression" and file.text(field_of(expression, "field")) == "C":
            holder = self.package.type_of(file, field_of(expression, "operand"))
            return holder is not None and holder.is_named("time.Timer", "time.Ticker")
        binding = self.package.binding(file, expression) if expression.type == "identifier" else None
        if binding is None or not binding.is_local or depth > 3:
            return False
        assignments = self.package.assignments(binding)
        return bool(assignments) and all(
            a.value is not None and not a.spread and self.timer_channel(file, a.value, depth + 1) for a in assignments
        )

    def fires_once(self, file: GoFile, channel: Node, loop: Node) -> bool:
        """Whether a channel delivers at most one value however often `loop` goes round: the
        `C` of a local `*time.Timer`, or a local given only `time.After(d)`, that the loop
        does not assign again, and that it re-arms (`t.Reset(d)`) only where `t.Stop()`
        returned true (the timer had not fired: the Reset adds no value)."""
        channel = unparen(channel)
        timer = None
        if channel.type == "selector_expression" and file.text(field_of(channel, "field")) == "C":
            timer = unparen(field_of(channel, "operand"))
            timer_type = self.package.type_of(file, timer)
            if timer_type is None or not timer_type.is_named("time.Timer"):
                return False
        variable = timer if timer is not None else channel
        binding = self.package.binding(file, variable) if variable.type == "identifier" else None
        if binding is None or not binding.is_local:
            return False
        assignments = self.package.assignments(binding)
        if any(a.statement is None or is_inside(a.statement, loop) for a in assignments):
            return False
        if timer is None:
            return bool(assignments) and all(
                a.value is not None and qualified_name(file, unparen(a.value)) == "time.After" for a in assignments
            )
        name = file.text(timer)
        return all(
            _after_stop(file, call, name, loop)
            for call in file.nodes("call_expression", within=loop)
            if file.text(field_of(call, "function")) == f"{name}.Reset"
        )

    def constant(self, file: GoFile, expression: Node, depth: int = 0) -> int | None:
        """The value of an integer constant expression: a literal (`64`, `1_000`, `0x10`), a
        constant of the package or of the function (`const queueSize = 128`), one of `math`'s
        limits (`math.MaxInt32`), or arithmetic on them (`4 << 10`, `2 * workers`); None for
        anything computed at run time (`len(jobs)`, a parameter, a variable) or `iota`."""
        expression = unparen(expression)
        if depth > 5:
            return None
        if expression.type == "int_literal":
            digits = file.text(expression).replace("_", "")
            if len(digits) > 1 and digits.isdigit() and digits.startswith("0"):
                return int(digits, 8)  # Go's old octal spelling, `0755`
            try:
                return int(digits, 0)
            except ValueError:
                return None
        if expression.type == "selector_expression":
            return MATH_LIMITS.get(qualified_name(file, expression) or "")
        if expression.type == "identifier":
            binding = self.package.binding(file, expression) or self.package.variables.get(file.text(expression))
            if binding is None or binding.kind != CONSTANT or binding.value is None or binding.spread:
                return None
            return self.constant(binding.file, binding.value, depth + 1)
        if expression.type == "binary_expression":
            left, right = expression.child_by_field_name("left"), expression.child_by_field_name("right")
            operator = expression.child_by_field_name("operator")
            a = self.constant(file, left, depth + 1) if left is not None else None
            b = self.constant(file, right, depth + 1) if right is not None else None
            if a is None or b is None or operator is None:
                return None
            operate = _ARITHMETIC.get(file.text(operator))
            if operate is None or (b == 0 and file.text(operator) in ("/", "%")) or not 0 <= b < 2**32:
                return None
            return operate(a, b)
        return None

    def one_of_many(self, file: GoFile, expression: Node) -> bool:
        """Whether an expression names one element of a collection the code picks from, not
        one object it holds: an index (`p.workers[n]`), a range variable (`for _, w := range
        p.workers`), a value received from a channel of them (`w := <-idle`), or a local given
        nothing but those (`var w *Worker` then `w = idle[n]`). A field or a channel reached
        through it belongs to whichever element was picked: another goroutine doing the same
        with its own element does not touch this one."""
        expression = unparen(expression)
        if expression.type == "index_expression":
            return True
        if expression.type != "identifier":
            return False
        binding = self.package.binding(file, expression)
        if binding is None or not binding.is_local:
            return False
        if binding.kind in (RANGE, RECEIVED):
            return True
        given = [a.value for a in self.package.assignments(binding) if a.value is not None]
        return bool(given) and all(
            unparen(v).type == "index_expression"
            or (unparen(v).type == "unary_expression" and file.text(v).lstrip("(").startswith("<-"))
            for v in given
        )

    def full_at_birth(self, file: GoFile, expression: Node, depth: int = 0) -> bool:
        """Whether every channel an expression may hold is made with a constant buffer of
        values (not `struct{}` tokens) that the function making it fills before anything
        else sees it (`ch := make(chan T, 1); ch <- initial`): until a receiver takes one,
        the next send waits, as on an unbuffered channel."""
        expression = unparen(expression)
        if expression.type == "call_expression":
            return self._filled(file, expression)
        stored = self.sources(file, expression) if depth <= 3 else None
        return bool(stored) and all(self.full_at_birth(s.file, s.value, depth + 1) for s in stored or [])

    def _filled(self, file: GoFile, make: Node) -> bool:
        capacity = self._made(file, make, 0)
        items = _arguments(make)
        element = items[0].child_by_field_name("value") if items and items[0].type == "channel_type" else None
        if capacity is None or capacity <= 0 or element is None or file.text(element) == "struct{}":
            return False
        declaration = file.parent(file.parent(make) or make)
        if declaration is None or declaration.type != "short_var_declaration":
            return False
        names = declaration.child_by_field_name("left")
        target = names.named_children[0] if names is not None and len(names.named_children) == 1 else None
        binding = self.package.binding(file, target) if target is not None else None
        if binding is None or target is None:
            return False
        sends = 0
        for reference in self.package.references(binding):
            if reference.start_byte <= target.start_byte:
                continue
            holder = file.parent(reference)
            if holder is None or holder.type != "send_statement" or holder.child_by_field_name("channel") != reference:
                break  # it goes elsewhere: from here on a receiver may see it
            if file.parent(holder) is None or file.parent(holder) != file.parent(declaration):
                break  # not a plain statement of the same block (a loop, a branch, a closure)
            sends += 1
        return sends >= capacity

    def _made(self, file: GoFile, value: Node, depth: int, index: int = 0) -> int | None:
        """The capacity of the channel a `make` call, or a package function returning one
        (as its result `index`), creates, or that a receive from a channel of channels hands
        over (the channels sent on it anywhere in the package); None for anything else. A
        `nil` returned beside an error is no channel anyone uses."""
        if value.type == "unary_expression" and file.text(value).startswith("<-") and not index:
            return self._handed_over(file, value, depth)
        if value.type != "call_expression":
            return None
        function = value.child_by_field_name("function")
        arguments = value.child_by_field_name("arguments")
        items = [a for a in arguments.named_children if a.type != "comment"] if arguments is not None else []
        if function is not None and function.type == "identifier" and file.text(function) == "make" and not index:
            if not items or items[0].type != "channel_type":
                return None
            if len(items) == 1:
                return 0
            size = self.constant(file, items[1])
            return size if size is not None and size >= 0 else BUFFERED
        callee = self.package.facts.callee(file, value)
        if callee is None or depth > 3:
            return None
        returned = [
            r
            for r in callee.file.nodes("return_statement", within=callee.node)
            if _function_of(callee.file, r) == callee.node
        ]
        capacities = set()
        for statement in returned:
            results = [c for c in statement.named_children if c.type != "comment"]
            listed = results[0].named_children if results and results[0].type == "expression_list" else results
            result = listed[index] if index < len(listed) and (index == 0 or len(listed) > 1) else None
            if result is not None and result.type == "nil":
                continue
            capacities.add(self.capacity(callee.file, result, depth + 1) if result is not None else None)
        return capacities.pop() if len(capacities) == 1 else None

    def _handed_over(self, file: GoFile, receive: Node, depth: int) -> int | None:
        """The capacity shared by every channel the package sends on the channel `receive`
        reads (`replies <- make(chan error, 1)` for `reply := <-replies`)."""
        source = place_of(self.package, file, receive.child_by_field_name("operand"))
        if source is None or depth > 3:
            return None
        capacities = set()
        for other in self.package.files:
            for send in other.nodes("send_statement"):
                if place_of(self.package, other, send.child_by_field_name("channel")) != source:
                    continue
                value = send.child_by_field_name("value")
                capacities.add(self.capacity(other, value, depth + 1) if value is not None else None)
        return capacities.pop() if len(capacities) == 1 else None


def _after_stop(file: GoFile, call: Node, timer: str, loop: Node) -> bool:
    """`call` runs only where `timer.Stop()` returned true: in the body of an `if` whose
    condition is that call or a `&&` chain holding it."""
    for ancestor in ancestors(call, file):
        if ancestor == loop:
            return False
        consequence = ancestor.child_by_field_name("consequence") if ancestor.type == "if_statement" else None
        if consequence is None or not is_inside(call, consequence):
            continue
        conjuncts = [field_of(ancestor, "condition")]
        while conjuncts:
            condition = unparen(conjuncts.pop())
            if condition.type == "binary_expression" and file.text(field_of(condition, "operator")) == "&&":
                conjuncts += [field_of(condition, "left"), field_of(condition, "right")]
            elif file.text(condition) == f"{timer}.Stop()":
                return True
    return False


def _ranged_once(file: GoFile, statement: Node, binding: Binding) -> list[Node] | None:
    """The collections whose `range` loops run `statement` once a pass: the operands of
    the loops around it inside the binding's scope (nested ones multiply); None when one
    of them is not a `range`, or none is."""
    loops = [
        loop
        for loop in enclosing_loops(statement, file=file)
        if binding.scope is None or is_inside(loop, binding.scope)
    ]
    clauses = [next((c for c in loop.named_children if c.type == "range_clause"), None) for loop in loops]
    operands = [clause.child_by_field_name("right") if clause is not None else None for clause in clauses]
    if not operands or any(operand is None for operand in operands):
        return None
    return [operand for operand in operands if operand is not None]


def _written_by(file: GoFile, target: Node) -> Node | None:
    """The statement that writes `target` (`snap[k] = v`, `snap[k]++`); None where it is read."""
    holder = file.parent(target)
    if holder is not None and holder.type in ("inc_statement", "dec_statement"):
        return holder
    statement = file.parent(holder) if holder is not None and holder.type == "expression_list" else None
    if statement is None or statement.type != "assignment_statement" or statement.child_by_field_name("left") != holder:
        return None
    return statement


def _assigned_to(file: GoFile, call: Node, binding: Binding) -> bool:
    """`call` is the whole value of an assignment to `binding` (`snap = append(snap, v)`)."""
    side = file.parent(call)
    statement = file.parent(side) if side is not None and side.type == "expression_list" else side
    left = statement.child_by_field_name("left") if statement is not None else None
    targets = left.named_children if left is not None else []
    return (
        statement is not None
        and statement.type in ("assignment_statement", "short_var_declaration")
        and len(targets) == 1
        and targets[0].type == "identifier"
        and targets[0].text == binding.name.encode()
    )


def _a_call_result(assignment: Assignment) -> bool:
    """`ch` of `ch, err := newQueue()`: one of the results a call gives."""
    return assignment.spread and assignment.value is not None and unparen(assignment.value).type == "call_expression"


def _received(assignment: Assignment) -> bool:
    """`v = <-ch` or the `v` of `v, ok = <-ch`: the value received, not a tuple's part."""
    return (
        assignment.index == 0 and assignment.statement is not None and assignment.statement.type == "receive_statement"
    )


def _arguments(call: Node) -> list[Node]:
    arguments = call.child_by_field_name("arguments")
    return [a for a in arguments.named_children if a.type != "comment"] if arguments is not None else []


def _element(value: Node) -> Node:
    """The expression of a literal element."""
    return value.named_children[0] if value.type == "literal_element" and value.named_children else value


def _function_of(file: GoFile, node: Node) -> Node | None:
    return next(
        (a for a in file.ancestors(node) if a.type in ("function_declaration", "method_declaration", "func_literal")),
        None,
    )
