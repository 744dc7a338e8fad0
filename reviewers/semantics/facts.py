"""Package facts: what each function and method of the package does, as its callers need to
know it (in the spirit of go/analysis facts). Computed on first use, per function, following
calls inside the package; a call cycle is answered conservatively (as if the function
returned and did nothing)."""

from __future__ import annotations

from bisect import bisect_left
from functools import cached_property
from typing import TYPE_CHECKING

from tree_sitter import Node

from ..gosource import GoFile, occurrences
from ..syntax import (
    FUNCTION_TYPES,
    communication_case,
    enclosing_function,
    enclosing_loops,
    field_of,
    function_name,
    is_done_receive,
    is_inside,
    is_nil_comparison,
    own_nodes,
    receive_with_ok,
    receiver_name,
    receiver_type,
    surely_ran_before,
    unparen,
)
from .names import FUNCTION, PARAMETER, Binding
from .package import Declared
from .places import (
    FIELD,
    GLOBAL,
    LOCAL,
    Operation,
    Operations,
    Place,
    holds,
    operations,
    place_of,
)
from .types import WAITGROUP

if TYPE_CHECKING:
    from .ownership import Shape
    from .package import Package
    from .types import Type


class Facts:
    def __init__(self, package: Package):
        self.package = package
        self._never_returns: dict[int, bool] = {}
        self._keeps: dict[tuple[int, Shape], bool] = {}
        self._operations: dict[int, Operations] = {}
        self._performs: dict[tuple[int, str, Place], Node | None] = {}
        self._spelling: dict[bytes, list[Declared]] = {}
        self._waiting: dict[tuple[int, bool], list[tuple[Declared, Operation]]] = {}
        self._result_cancels: dict[int, tuple[Node, str] | None] = {}
        self._returned: dict[int, Place | None] = {}
        self._callees: dict[int, Declared | None] = {}
        self._call_sites: dict[tuple[int, bool, bool], list[tuple[Declared, Node]] | None] = {}

    def never_returns(self, file: GoFile, function: Node) -> bool:
        """Whether no path through the function returns (it always panics, exits or loops
        forever): a call of it ends its caller's path."""
        key = function.id
        if key not in self._never_returns:
            self._never_returns[key] = False  # a recursive call meanwhile: assume it returns
            self._never_returns[key] = not self.package.cfg(file, function).reaches_exit()
        return self._never_returns[key]

    # -- what a function does with its arguments --------------------------------------------------
    def callee(self, file: GoFile, call: Node) -> Declared | None:
        """The function of the package a call runs: a function by name, a method of one of
        the package's types, a function literal held by a local variable, or the one function
        an unexported field is given. Kept per call: most rules ask it of the calls they read."""
        key = call.id
        if key not in self._callees:
            self._callees[key] = self._callee(file, call)
        return self._callees[key]

    def _callee(self, file: GoFile, call: Node) -> Declared | None:
        function = call.child_by_field_name("function")
        if function is None:
            return None
        function = unparen(function)
        if function.type == "func_literal":
            return Declared(file, function)
        if function.type == "identifier":
            binding = self.package.binding(file, function)
            if binding is None:
                return None
            if binding.kind == FUNCTION and binding.declaration is not None:
                return Declared(binding.file, binding.declaration)
            if not binding.is_local:
                return None
            # `f := func() {...}`, `f := s.loop`: a local given one function value only.
            assignments = self.package.assignments(binding)
            values = {a.value.id: a.value for a in assignments if a.value is not None and not a.spread}
            if len(assignments) != 1 or len(values) != 1:
                return None
            value = unparen(next(iter(values.values())))
            if value.type == "func_literal":
                return Declared(binding.file, value)
            return self._method_value(binding.file, value) if value.type == "selector_expression" else None
        if function.type == "selector_expression":
            return self._method_value(file, function) or self._field_function(file, function)
        return None

    def _field_function(self, file: GoFile, selector: Node) -> Declared | None:
        """The function an unexported field of the package's types holds, when the package
        gives it one function only (`rc.release()` runs the literal of `rcs[i].release =
        func() {...}`; a function or a method value, `onTick: s.purge`, likewise); an
        exported field may be set outside the package."""
        field = selector.child_by_field_name("field")
        if field is None or not file.text(field)[:1].islower():
            return None
        stored = self.package.values.sources(file, selector)
        if not stored or len({(s.file.path, s.value.start_byte) for s in stored}) != 1:
            return None
        value = unparen(stored[0].value)
        if value.type == "func_literal":
            return Declared(stored[0].file, value)
        if value.type == "selector_expression":
            return self._method_value(stored[0].file, value)  # `onTick: s.purge`
        binding = self.package.binding(stored[0].file, value) if value.type == "identifier" else None
        if binding is not None and binding.kind == FUNCTION and binding.declaration is not None:
            return Declared(binding.file, binding.declaration)
        return None

    def functions_given(self, file: GoFile, value: Node, depth: int = 3) -> list[Declared]:
        """The functions of the package a function value may hold, as the package's own code
        shows them: a "may" answer, for questions such as "can this callback take that lock?",
        never "what does it surely run". A literal, a function or a method named
        (`s.purge`), what a field or a local is given, what the package's own calls hand a
        parameter (an exported function's too), and the literals a function of the package
        returns (`newPurger(s)` whose body is `return func(k string) {...}`). Empty when
        nothing is shown."""
        value = unparen(value)
        if depth < 0:
            return []
        if value.type == "func_literal":
            return [Declared(file, value)]
        if value.type == "call_expression":
            factory = self.callee(file, value)
            if factory is None or factory.node.type == "func_literal":
                return []
            found: list[Declared] = []
            for statement in own_nodes(factory.file, factory.node, ("return_statement",)):
                for returned in statement.named_children:
                    for item in returned.named_children if returned.type == "expression_list" else [returned]:
                        if unparen(item).type == "func_literal":
                            found.append(Declared(factory.file, unparen(item)))
            return found
        if value.type == "selector_expression":
            method = self._method_value(file, value)
            if method is not None:
                return [method]
        if value.type not in ("identifier", "selector_expression"):
            return []
        binding = self.package.binding(file, value) if value.type == "identifier" else None
        if binding is not None and binding.kind == FUNCTION and binding.declaration is not None:
            return [Declared(binding.file, binding.declaration)]
        values = self.package.values
        stored = values.arguments(binding, own=True) if binding is not None and binding.kind == PARAMETER else None
        if stored is None and (binding is None or binding.kind != PARAMETER):
            stored = values.sources(file, value)
        return [d for s in stored or [] for d in self.functions_given(s.file, s.value, depth - 1)]

    def callbacks(self, declared: Declared) -> list[tuple[Node, list[Declared]]]:
        """The calls the function makes itself of a function value that `callee` cannot pin
        to one function (a field or a parameter the package gives several functions, or
        through an exported constructor), each with the functions the package's own code
        may have put there (`functions_given`): "may", never "does"."""
        file, found = declared.file, []
        for call in own_nodes(file, declared.node, ("call_expression",)):
            function = call.child_by_field_name("function")
            function = unparen(function) if function is not None else None
            if function is None or function.type not in ("identifier", "selector_expression"):
                continue
            if self.callee(file, call) is not None:
                continue
            given = self.functions_given(file, function)
            if given:
                found.append((call, given))
        return found

    def _method_value(self, file: GoFile, selector: Node) -> Declared | None:
        """The method `x.m` names, when `x` is a value of one of the package's types."""
        operand, field = selector.child_by_field_name("operand"), selector.child_by_field_name("field")
        if field is None or file.text(field) not in self.package.method_names:
            return None  # no type of the package has the method: `x` need not be typed
        owner = self.package.type_of(file, operand) if operand is not None else None
        if owner is None:
            return None
        target = owner.deref()
        return self.package.method(target.name, file.text(field)) if target.kind == "named" else None

    def parameters(self, declared: Declared) -> list[Binding | None]:
        """The bindings of a function's parameters in order (None for `_` or unnamed ones)."""
        parameter_list = declared.node.child_by_field_name("parameters")
        found: list[Binding | None] = []
        for declaration in parameter_list.named_children if parameter_list is not None else []:
            if declaration.type not in ("parameter_declaration", "variadic_parameter_declaration"):
                continue
            names = declaration.children_by_field_name("name")
            if not names:
                found.append(None)
            for name in names:
                found.append(self.package.binding(declared.file, name))
        return found

    def parameter_types(self, declared: Declared) -> list[Type | None]:
        """The declared types of a function's parameters in order (one per name)."""
        parameter_list = declared.node.child_by_field_name("parameters")
        found: list[Type | None] = []
        for declaration in parameter_list.named_children if parameter_list is not None else []:
            if declaration.type not in ("parameter_declaration", "variadic_parameter_declaration"):
                continue
            declared_type = self.package.types_model.from_node(declared.file, declaration.child_by_field_name("type"))
            found.extend([declared_type] * max(1, len(declaration.children_by_field_name("name"))))
        return found

    def keeps_argument(self, file: GoFile, call: Node, position: int, shape: Shape) -> bool:
        """Whether a call may release or keep the argument at `position` (released as
        `shape` says): true for a function outside the package (its code is not here), and
        for one of the package whose parameter is released, stored, returned or handed on."""
        callee = self.callee(file, call)
        if callee is None:
            return True
        parameters = self.parameters(callee)
        if not parameters:
            return True
        parameter = parameters[min(position, len(parameters) - 1)]
        if parameter is None:
            return False  # `func(_ io.Closer)`: it cannot touch it
        key = (id(parameter), shape)
        if key not in self._keeps:
            self._keeps[key] = True  # a recursive call meanwhile: assume it keeps it
            from .ownership import MOVE, RELEASE, Owned

            owned = Owned(self.package, parameter, callee.node, shape.methods, shape.through, shape.call_releases)
            self._keeps[key] = any(owned.use(r) in (RELEASE, MOVE) for r in self.package.references(parameter))
        return self._keeps[key]

    def result_keeps_cancel(self, declared: Declared) -> tuple[Node, str] | None:
        """The `context.With*` call (and its name) whose cancel function the function gives
        its caller through its results only: returned itself (`return ctx, cancel`), or kept
        by a struct it makes and returns (`tx := &Tx{cancel: cancel}; return tx`) whose
        methods it calls do not touch that field or hand the struct on. A caller that drops
        the results drops the only way to cancel. None when anything else may call or keep it."""
        key = declared.node.id
        if key not in self._result_cancels:
            self._result_cancels[key] = None
            self._result_cancels[key] = self._result_keeps_cancel(declared)
        return self._result_cancels[key]

    @cached_property
    def cancel_deriving_names(self) -> frozenset[str] | None:
        """The names of the package's functions and methods that derive a context with a
        cancel function: the only ones whose results can keep it (`result_keeps_cancel`), so
        a call by another name need not be resolved. None when a function literal derives
        one: reached through a field or a variable, its calls do not name it."""
        from .ownership import cancel_results

        names = set()
        for file in self.package.files:
            if not file.imports_path("context"):
                continue  # it derives none
            for call, _, _ in cancel_results(self.package, file):
                function = enclosing_function(call, file)
                if function is None:
                    continue
                if function.type == "func_literal":
                    return None
                name = function.child_by_field_name("name")
                if name is not None:
                    names.add(file.text(name))
        return frozenset(names)

    def _result_keeps_cancel(self, declared: Declared) -> tuple[Node, str] | None:
        from .ownership import CANCEL, MOVE, RELEASE, cancel_results

        file, function = declared.file, declared.node
        for call, constructor, bound in cancel_results(self.package, file):
            if enclosing_function(call, file) != function:
                continue
            cancel = next((r for r in bound.results if r.shape is CANCEL and r.binding is not None), None)
            if cancel is None or cancel.binding is None or not cancel.binding.is_local:
                continue
            owned = bound.owned(self.package, cancel)
            uses = [(r, owned.use(r)) for r in owned.references() if r.start_byte > bound.statement.start_byte]
            moves = [r for r, kind in uses if kind == MOVE]
            released = any(kind == RELEASE for _, kind in uses)
            if moves and not released and all(self._given_back(file, r) for r in moves):
                return call, constructor
        return None

    def _given_back(self, file: GoFile, value: Node) -> bool:
        """Whether `value` only reaches the caller: it is returned, or is an element of a
        struct literal that is returned, directly or through a variable that is returned
        and otherwise only read field by field (its methods included)."""
        holder = file.parent(value)
        if holder is not None and holder.type == "expression_list":
            holder = file.parent(holder)
        if holder is not None and holder.type == "return_statement":
            return True
        element = holder if holder is not None and holder.type == "literal_element" else value
        keyed = file.parent(element)
        literal_value = file.parent(keyed) if keyed is not None and keyed.type == "keyed_element" else keyed
        literal = file.parent(literal_value) if literal_value is not None else None
        if literal is None or literal.type != "composite_literal":
            return False
        outer = file.parent(literal)
        if outer is not None and outer.type == "unary_expression":
            literal, outer = outer, file.parent(outer)
        if outer is not None and outer.type == "expression_list":
            outer = file.parent(outer)
        if outer is None:
            return False
        if outer.type == "return_statement":
            return True
        if outer.type != "short_var_declaration":
            return False
        left = outer.child_by_field_name("left")
        names = left.named_children if left is not None else []
        if len(names) != 1:
            return False
        variable = self.package.binding(file, names[0])
        if variable is None:
            return False
        returned = False
        for reference in self.package.references(variable):
            if reference.start_byte <= literal.start_byte:
                continue
            parent = file.parent(reference)
            if parent is not None and parent.type == "expression_list":
                parent = file.parent(parent)
            if parent is not None and parent.type == "return_statement":
                returned = True
            elif not self._read_by_field(file, reference):
                return False
        return returned

    def _read_by_field(self, file: GoFile, reference: Node) -> bool:
        """`tx.id`, or `tx.watch()` where the method only reads fields of its receiver other
        than function fields (it cannot call a cancel function or hand the struct on)."""
        selector = file.parent(reference)
        if selector is None or selector.type != "selector_expression":
            return False
        call = file.parent(selector)
        if call is None or call.type != "call_expression" or call.child_by_field_name("function") != selector:
            value_type = self.package.type_of(file, selector)
            return value_type is not None and value_type.kind != "func"
        method = self._method_value(file, selector)
        if method is None or method.node.type != "method_declaration":
            return False
        receiver = method.node.child_by_field_name("receiver")
        names = [
            n
            for d in (receiver.named_children if receiver is not None else [])
            for n in d.children_by_field_name("name")
        ]
        binding = self.package.binding(method.file, names[0]) if names else None
        if binding is None:
            return not names  # `func (*T) m()`: it cannot touch its receiver
        for use in self.package.references(binding):
            selected = method.file.parent(use)
            if selected is None or selected.type != "selector_expression":
                return False  # the receiver itself is handed on
            above = method.file.parent(selected)
            if (
                above is not None
                and above.type == "call_expression"
                and above.child_by_field_name("function") == selected
            ):
                return False  # `t.m()`, `t.cancel()`: a call through the receiver
            value_type = self.package.type_of(method.file, selected)
            if value_type is None or value_type.kind == "func":
                return False
        return True

    # -- what a function does to channels, locks, WaitGroups... ---------------------------------
    def operations(self, declared: Declared) -> Operations:
        """What the function does itself (places.py)."""
        key = declared.node.id
        if key not in self._operations:
            self._operations[key] = operations(self.package, declared.file, declared.node)
        return self._operations[key]

    def performs(self, declared: Declared, kind: str, place: Place, depth: int = 3) -> Node | None:
        """Where the function does `kind` (`Done`, `close`, `Unlock`...) on `place` (named as
        the function sees it), itself or through the package's functions it calls, closures
        called on the spot and goroutines it starts included, `depth` calls deep: the
        operation or the call that leads to it; None when it does not."""
        key = (declared.node.id, kind, place)
        if key in self._performs:
            return self._performs[key]
        self._performs[key] = None  # a recursive call meanwhile: not through this one
        found = self._performs_now(declared, kind, place, depth)
        self._performs[key] = found
        return found

    def _performs_now(self, declared: Declared, kind: str, place: Place, depth: int) -> Node | None:
        found = self.performing(declared, kind, place, depth)
        return found[0] if found else None

    def performing(self, declared: Declared, kind: str, place: Place, depth: int = 3) -> list[Node]:
        """Every node of the function itself that does `kind` on `place`: the operation, or
        the call of a function (a closure called on the spot included) that does it."""
        done = self.operations(declared)
        found = [op.node for op in done.of(kind) if op.place == place]
        if depth > 0:
            for call, callee, handed in done.calls:
                inner = self.place_in(callee, place, handed)
                if inner is not None and self.performs(callee, kind, inner, depth - 1) is not None:
                    found.append(call)
        return sorted(found, key=lambda n: n.start_byte)

    def place_in(self, callee: Declared, place: Place, handed: list[Place | None]) -> Place | None:
        """How `callee` names `place`: the same place when it can see it (a field, a package
        variable, a local its literal captures), its parameter when it is handed as an
        argument; None when it cannot reach it. A literal's parameter of the place's own name
        (`go func(name string, wg *sync.WaitGroup) {...}(name, &wg)`) hides the captured one."""
        parameters = self.parameters(callee)
        if place.kind != LOCAL or (
            callee.node.type == "func_literal"
            and _encloses_place(callee, place)
            and not any(p is not None and p.name == place.name for p in parameters)
        ):
            return place
        for position, argument in enumerate(handed):
            if argument == place and position < len(parameters):
                parameter = parameters[min(position, len(parameters) - 1)]
                if parameter is not None and parameter.identifier is not None:
                    return place_of(self.package, parameter.file, parameter.identifier)
        return None

    # -- every function of the package ------------------------------------------------------------
    @cached_property
    def functions(self) -> list[Declared]:
        """Every function, method and function literal of the package, file by file in
        source order."""
        found: list[Declared] = []
        for file in self.package.files:
            nodes = [n for node_type in FUNCTION_TYPES for n in file.nodes(node_type)]
            found.extend(Declared(file, n) for n in sorted(nodes, key=lambda n: n.start_byte))
        return found

    def users(self, place: Place, *kinds: str) -> list[tuple[Declared, Operation]]:
        """Every function of the package (literals included) that does one of `kinds` to
        `place` itself, with the operation. Only functions whose text spells the operation
        are looked at: most of a package's do not."""
        found: list[tuple[Declared, Operation]] = []
        naming: set[int] | None = None
        if set(kinds) <= _NAMING_OPERATIONS and place.name:
            naming = {d.node.id for d in self.spelling(place.name.encode())}
        for word in sorted({_SPELLED.get(kind, kind.encode()) for kind in kinds}):
            for declared in self.spelling(word):
                if naming is not None and declared.node.id not in naming:
                    continue
                found.extend((declared, op) for op in self.operations(declared).of(*kinds) if op.place == place)
        unique = {(d.node.id, op.node.id, op.kind): (d, op) for d, op in found}
        return sorted(unique.values(), key=lambda pair: (pair[0].file.path, pair[1].node.start_byte))

    def spelling(self, word: bytes) -> list[Declared]:
        """The functions (literals included) whose text holds `word`: the only ones that can
        do what it spells (`<-` for a send or receive, `close`, a method's name)."""
        if word not in self._spelling:
            self._spelling[word] = self._spelling_functions(word)
        return self._spelling[word]

    def _spelling_functions(self, word: bytes) -> list[Declared]:
        """Each file is searched once and a function is looked up among its matches (by
        position): searching each function's own text would read a literal's text again for
        every function around it."""
        found: list[Declared] = []
        for file, functions in self._functions_by_file:
            starts = occurrences(file.source, word)
            if not starts:
                continue  # most words are in few files
            for declared in functions:
                first = bisect_left(starts, declared.node.start_byte)
                # The word lies inside the function when it also ends there.
                if first < len(starts) and starts[first] + len(word) <= declared.node.end_byte:
                    found.append(declared)
        return found

    @cached_property
    def _functions_by_file(self) -> list[tuple[GoFile, list[Declared]]]:
        by_file: dict[int, tuple[GoFile, list[Declared]]] = {}
        for declared in self.functions:
            by_file.setdefault(id(declared.file), (declared.file, []))[1].append(declared)
        return list(by_file.values())

    def stops_listening(self, place: Place) -> tuple[Declared, Node] | None:
        """Where the receivers of a channel place give up: when every receive of it in the
        package is a case of a `select` (without `default`) beside a case that returns on
        `<-ctx.Done()`, the first such case, with its function. None when some receiver
        always waits (a bare receive, a `range`) or nothing receives."""
        from .cfg import statements_of

        receivers = self.users(place, "receive", "range")
        found: tuple[Declared, Node] | None = None
        for declared, op in receivers:
            case = communication_case(op.node, declared.file) if op.kind == "receive" else None
            select = declared.file.parent(case) if case is not None else None
            if case is None or select is None:
                return None
            exits = [
                other
                for other in select.named_children
                if other.type == "communication_case"
                and other.id != case.id
                and is_done_receive(declared.file, other.child_by_field_name("communication") or other)
                and any(s.type == "return_statement" for s in statements_of(other))
            ]
            if not exits:
                return None
            found = found or (declared, exits[0])
        return found

    def never_answered(self, place: Place, kind: str) -> bool:
        """Whether nothing can ever answer a `kind` ("receive" or "send") on a channel field:
        the field is unexported, every value the package stores in it is a fresh `make`, the
        package never does the other side to it (sends or closes it, for a receive; receives
        or ranges over it, for a send), and it goes nowhere else — each mention of it is an
        operation of that kind, the `make` stored in it, or the result of a getter that hands
        it back only for that (`<-chan T` for receives, which its callers cannot close)."""
        owner, _, name = place.key.partition(".")
        if place.kind != FIELD or not name[:1].islower():
            return False
        stored = self.package.values.field_values(owner, name)
        if not stored or not all(_is_make(s.file, s.value) for s in stored):
            return False
        for file in self.package.files:
            for selector in _selectors_by_field(file).get(name, []):
                if place_of(self.package, file, selector) == place and not self._keeps_field(
                    file, selector, stored, kind
                ):
                    return False
        # Last, as the dearest: it reads what every function that spells the other side does.
        answers = ("send", "close") if kind == "receive" else ("receive", "range", "close")
        return not self.users(place, *answers)

    def _keeps_field(self, file: GoFile, selector: Node, stored: list, kind: str) -> bool:
        """Whether a mention of a channel field leaves it where it is (see `never_answered`)."""
        holder = file.parent(selector)
        while holder is not None and holder.type == "parenthesized_expression":
            holder = file.parent(holder)
        if holder is None:
            return False
        if kind == "receive" and holder.type == "unary_expression" and file.text(holder).startswith("<-"):
            return True
        if kind == "send" and holder.type == "send_statement" and holder.child_by_field_name("channel") == selector:
            return True
        if holder.type == "expression_list":
            statement = file.parent(holder)
            if statement is not None and statement.type == "assignment_statement":
                right = statement.child_by_field_name("right")
                return right is not None and any(s.value.parent is not None and s.value.parent == right for s in stored)
            if statement is not None and statement.type == "return_statement":
                holder = statement
        if holder.type == "return_statement":
            method = enclosing_function(holder, file)
            result = method.child_by_field_name("result") if method is not None else None
            returned = self.package.types_model.from_node(file, result) if result is not None else None
            return returned is not None and returned.kind == "chan" and returned.direction == kind
        return False

    @cached_property
    def _started(self) -> frozenset[int]:
        found = set()
        for file in self.package.files:
            for go in file.nodes("go_statement"):
                call = go.named_children[0] if go.named_children else None
                callee = self.callee(file, call) if call is not None and call.type == "call_expression" else None
                if callee is not None:
                    found.add(callee.node.id)
        return frozenset(found)

    def is_goroutine(self, declared: Declared) -> bool:
        """Whether some `go` statement of the package runs this function or literal, or
        the function around this literal (`defer func() { close(done) }()` in one)."""
        node: Node | None = declared.node
        while node is not None and node.id not in self._started and node.type == "func_literal":
            node = enclosing_function(node, declared.file)
        return node is not None and node.id in self._started

    def owner_type(self, declared: Declared) -> str | None:
        """The type whose method this is, or holds this literal: `Server` for
        `func (s *Server) Close()` and the closures in it."""
        method = declared.node if declared.node.type == "method_declaration" else declared.file.top_level(declared.node)
        return (
            receiver_type(declared.file, method) if method is not None and method.type == "method_declaration" else None
        )

    def reached(self, declared: Declared, depth: int = 1) -> list[Declared]:
        """The function and the package's functions it calls, `depth` calls deep."""
        found = [declared]
        if depth > 0:
            for _, callee, _ in self.operations(declared).calls:
                found.extend(self.reached(callee, depth - 1))
        return found

    def within(self, declared: Declared, *kinds: str) -> list[Operation]:
        """What the function and the literals written in it do, each itself: the operations
        of these kinds."""
        literals = [n for n in declared.file.nodes("func_literal", within=declared.node) if n.id != declared.node.id]
        found = self.operations(declared).of(*kinds)
        for literal in literals:
            found.extend(self.operations(Declared(declared.file, literal)).of(*kinds))
        return found

    def waiting(
        self, declared: Declared, depth: int = 2, *, buffered: bool = False
    ) -> list[tuple[Declared, Operation]]:
        """The operations the function may wait on for another goroutine, itself or in the
        package's functions it calls (`depth` deep; not in the goroutines or deferred calls it
        starts), each with the function that does it: a receive or a `range` on a channel, a
        send on a channel not made with a buffer (`send_waits`), the cases of a `select`
        without `default`, a WaitGroup's `Wait` — on a field, a package variable or a variable
        a literal captures, which other functions share (a channel of its own is its own
        business), but not a receive from one it has closed just before. With `buffered`, a
        send on a channel made with a buffer too: it waits once the buffer is full."""
        key = (declared.node.id, buffered)
        if key in self._waiting:
            return self._waiting[key]
        self._waiting[key] = []  # a recursive call meanwhile: not through this one
        found = self._waiting_now(declared, depth, buffered)
        self._waiting[key] = found
        return found

    def closed_before(self, declared: Declared, op: Operation) -> bool:
        """Whether the function has surely closed the channel before this receive or `range`
        of it (`close(c.queue)` then `for v := range c.queue`): it takes what is left in the
        buffer, then sees the close; it never waits for another goroutine."""
        if op.kind not in ("receive", "range"):
            return False
        file = declared.file
        return any(
            other.place == op.place and surely_ran_before(file, other.statement(file), op.node)
            for other in self.operations(declared).of("close")
        )

    def received_until_closed(self, channel: Place, in_test: bool = False) -> bool:
        """Whether the package closes the channel and every receive of it is in a loop that
        only that close ends: a range over it, or `v, ok := <-ch` whose `if !ok` branch is the
        loop's one way out. While the channel is open its receivers stay, so their leaving
        never strands a sender (after the close a send panics: another trap). What the
        package's tests do counts only for a test (`in_test`): a test that reads a value or
        two straight from the field stands where a user of its getter would, and says nothing
        of the package's own receivers."""

        def counted(users: list[tuple[Declared, Operation]]) -> list[tuple[Declared, Operation]]:
            return users if in_test else [(d, op) for d, op in users if not d.file.is_test]

        if not counted(self.users(channel, "close")):
            return False  # never closed: its receivers never end (GR102's business)
        receivers = counted(self.users(channel, "receive", "range"))
        for declared, op in receivers:
            file = declared.file
            loops = enclosing_loops(op.node, file=file)
            if not loops:
                return False
            cfg = self.package.cfg(file, declared.node)
            if op.kind == "range":
                if file.parent(op.node) != loops[0] or cfg.can_leave(loops[0], range_ends=False):
                    return False
                continue
            closed = _closed_branch(file, op.node)
            if closed is None or cfg.can_leave(loops[0], unless=closed):
                return False
        return bool(receivers)

    def answered_on_exit(self, channel: Place) -> bool:
        """Whether every send on the channel in the package is a goroutine's last word: a
        statement of its own of a closure the goroutine defers (`defer func() { ...;
        u.outcome <- err }()`), not under an `if`, a loop or a `select`. Whoever started it
        is answered however it ends, so a receive of the channel never outlives its peer."""
        senders = self.users(channel, "send")
        for declared, op in senders:
            file, literal = declared.file, declared.node
            call = file.parent(literal)
            if literal.type != "func_literal" or call is None or call.type != "call_expression":
                return False
            deferred = file.parent(call)
            if deferred is None or deferred.type != "defer_statement" or not self.is_goroutine(declared):
                return False
            body = literal.child_by_field_name("body")
            statement = op.statement(file)
            holder = file.parent(statement) if statement is not None else None
            if holder is not None and holder.type == "statement_list":
                holder = file.parent(holder)
            if body is None or holder is None or holder.id != body.id:
                return False
        return bool(senders)

    def _waiting_now(self, declared: Declared, depth: int, buffered: bool) -> list[tuple[Declared, Operation]]:
        file = declared.file
        done = self.operations(declared)
        found: list[tuple[Declared, Operation]] = []
        for op in done.of("receive", "range", "send", "Wait"):
            if op.place.kind not in (FIELD, GLOBAL) and not (
                declared.node.type == "func_literal" and _encloses_place(declared, op.place)
            ):
                continue  # a channel of its own: a literal's captured ones are shared
            case = communication_case(op.node, file)
            if case is not None:
                select = file.parent(case)
                if select is None or any(c.type == "default_case" for c in select.named_children):
                    continue
            if self.closed_before(declared, op):
                continue  # drains a channel it has closed: never waits
            if (
                op.kind in ("receive", "range")
                or (op.kind == "send" and (buffered or self.send_waits(file, op.node, op.place)))
                or (op.kind == "Wait" and holds(self.package, op.place, WAITGROUP))
            ):
                found.append((declared, op))
        if depth > 0:
            for call, callee, _ in done.calls:
                statement = file.parent(call)
                if statement is None or statement.type not in ("go_statement", "defer_statement"):
                    found.extend(self.waiting(callee, depth - 1, buffered=buffered))
        return found

    @cached_property
    def _read_fields(self) -> frozenset[str]:
        """The names of the fields some code of the package reads, calls or hands on: every
        selector that is not the target of an assignment."""
        found = set()
        for file in self.package.files:
            for selector in file.nodes("selector_expression"):
                field_node = selector.child_by_field_name("field")
                if field_node is not None and not _assigned(file, selector):
                    found.add(file.text(field_node))
        return frozenset(found)

    def field_never_read(self, place: Place) -> bool:
        """Whether the package only ever stores into an unexported field (`Rows.cancel`):
        nothing calls, reads or hands on what is kept there. Any read of a field of that name,
        whatever it is reached through, counts; an exported field may be read elsewhere."""
        if place.kind != FIELD:
            return False
        return place.name[:1].islower() and place.name not in self._read_fields

    def returned_place(self, declared: Declared) -> Place | None:
        """The field or package variable every non-nil `return` of the function hands back
        (`func (s *Stopper) ShouldStop() <-chan struct{} { return s.stopper }`): a call of
        it names that place."""
        key = declared.node.id
        if key not in self._returned:
            found: set[Place | None] = set()
            for statement in own_nodes(declared.file, declared.node, ("return_statement",)):
                values = statement.named_children[0].named_children if statement.named_children else []
                if len(values) != 1:
                    found.add(None)
                elif unparen(values[0]).type != "nil":
                    place = place_of(self.package, declared.file, values[0])
                    found.add(place if place is not None and place.kind in (FIELD, GLOBAL) else None)
            self._returned[key] = found.pop() if len(found) == 1 else None
        return self._returned[key]

    def channel_place(self, file: GoFile, expression: Node) -> Place | None:
        """The place a channel expression names: `s.done`, or `s.stopper.ShouldStop()` when
        that method of the package returns a field (`returned_place`)."""
        expression = unparen(expression)
        if expression.type != "call_expression":
            return place_of(self.package, file, expression)
        arguments = expression.child_by_field_name("arguments")
        callee = self.callee(file, expression) if arguments is not None and not arguments.named_children else None
        return self.returned_place(callee) if callee is not None else None

    def channel_aliases(self, place: Place) -> list[Place]:
        """The place and, for a local variable that only ever copies another channel
        variable (`rcNextc = nextc`), that one too: the same channel under two names."""
        binding = place.binding if place.kind == LOCAL else None
        if binding is None:
            return [place]
        copied = set()
        for assignment in self.package.assignments(binding):
            value = unparen(assignment.value) if assignment.value is not None else None
            if value is None:
                if assignment.statement is not None and assignment.statement.type == "var_spec":
                    continue  # `var ch chan T`: the zero value, replaced before use
                return [place]
            other = place_of(self.package, binding.file, value) if value.type == "identifier" else None
            if other is None:
                return [place]
            copied.add(other)
        return [place, *sorted(copied - {place}, key=lambda p: p.key)]

    def call_sites(
        self, declared: Declared, *, started: bool = False, own: bool = False
    ) -> list[tuple[Declared, Node]] | None:
        """Every call of an unexported function, method or field-held function of the
        package, with the function that makes it; None when it may also run otherwise: its
        name is exported, it is used as a value (a method value, a function handed on), or it
        is started as a goroutine or deferred — unless `started`, where those calls are
        sites too (what matters is what they are handed, not when they run). With `own`, an
        exported one's calls in the package are answered too (other packages may make more)."""
        key = (declared.node.id, started, own)
        if key not in self._call_sites:
            self._call_sites[key] = self._find_call_sites(declared, started, own)
        return self._call_sites[key]

    def _find_call_sites(self, declared: Declared, started: bool, own: bool) -> list[tuple[Declared, Node]] | None:
        name = self._called_name(declared)
        if name is None or (not name[:1].islower() and not own):
            return None
        sites: list[tuple[Declared, Node]] = []
        for file in self.package.files:
            if name.encode() not in file.source:
                continue
            mentions = sorted(
                [*_selectors_by_field(file).get(name, []), *_identifiers_named(file, name)],
                key=lambda node: node.start_byte,
            )
            others = []  # the mentions that are not a call of the function
            for mention in mentions:
                call = file.parent(mention)
                function = call.child_by_field_name("function") if call is not None else None
                if call is None or call.type != "call_expression" or function is None or function.id != mention.id:
                    others.append(mention)
                    continue
                called = self.callee(file, call)
                if called is None or called.node.id != declared.node.id:
                    others.append(mention)
                    continue
                starter = file.parent(call)
                if starter is not None and starter.type in ("go_statement", "defer_statement") and not started:
                    return None
                caller = enclosing_function(call, file)
                if caller is None:
                    return None
                sites.append((Declared(file, caller), call))
            if any(not _names_itself(file, n, declared) and self._may_name(file, n, declared) for n in others):
                return None  # used as a value somewhere
        return sites

    def _may_name(self, file: GoFile, mention: Node, declared: Declared) -> bool:
        """Whether a mention of the function's name may be the function: not when it names
        a member of another type or another binding."""
        if mention.type == "identifier":
            binding = self.package.binding(file, mention)
            return binding is None or binding.declaration is None or binding.declaration.id == declared.node.id
        operand = mention.child_by_field_name("operand")
        if operand is None or self.package.type_of(file, operand) is None:
            return True  # of a type the package cannot tell
        found = self._method_value(file, mention) or self._field_function(file, mention)
        return found is not None and found.node.id == declared.node.id

    def _called_name(self, declared: Declared) -> str | None:
        """The name calls use: the function's, or the field's that holds a literal."""
        if declared.node.type != "func_literal":
            return function_name(declared.file, declared.node)
        holder = declared.file.parent(declared.node)
        if holder is not None and holder.type == "expression_list":
            statement = declared.file.parent(holder)
            if statement is None or statement.type != "assignment_statement":
                return None
            targets = statement.child_by_field_name("left")
            index = holder.named_children.index(declared.node) if declared.node in holder.named_children else -1
            items = targets.named_children if targets is not None else []
            target = items[index] if 0 <= index < len(items) else None
            return _field_text(declared.file, target) if target is not None else None
        if holder is not None and holder.type == "literal_element":
            keyed = declared.file.parent(holder)
            key = keyed.child_by_field_name("key") if keyed is not None and keyed.type == "keyed_element" else None
            return declared.file.text(key) if key is not None else None
        return None

    def buffered(self, file: GoFile, channel: Node) -> bool:
        """Whether a channel expression holds a channel made with a buffer, as far as the
        package shows every `make` of it."""
        capacity = self.package.values.capacity(file, channel)
        return capacity is not None and capacity != 0

    def send_waits(self, file: GoFile, send: Node, place: Place) -> bool:
        """Whether a send may wait for its receiver: its channel is made without a buffer,
        or with one its maker fills at once (`Values.full_at_birth`, for a field or package
        variable), or is a field or package variable whose `make` the package does not show (a local
        channel the package cannot follow, a range variable over a slice of them, is
        left alone)."""
        channel = send.child_by_field_name("channel")
        capacity = self.package.values.capacity(file, channel) if channel is not None else None
        if capacity is not None and capacity > 0 and channel is not None:
            return place.kind in (FIELD, GLOBAL) and self.package.values.full_at_birth(file, channel)
        return capacity == 0 or (capacity is None and place.kind in (FIELD, GLOBAL))

    def place_outside(self, callee: Declared, place: Place, handed: list[Place | None]) -> Place | None:
        """How the caller names a place the callee uses (the inverse of `place_in`): the
        same place for a field, a package variable or a local a literal captures; the
        argument for a parameter; None for the callee's own locals."""
        if place.kind != LOCAL or (callee.node.type == "func_literal" and _encloses_place(callee, place)):
            return place
        for position, parameter in enumerate(self.parameters(callee)):
            if parameter is not None and place.binding is parameter and position < len(handed):
                return handed[position]
        return None

    def tolerates_nil(self, declared: Declared, position: int) -> bool:
        """Whether the function copes with `nil` for its parameter at `position`: every use
        of it is the test `p != nil` (or `p == nil`) or sits in the branch of an
        `if p != nil { ... }` (`if ctx != nil { span = tracer.Start(ctx, ...) }`)."""
        parameters = self.parameters(declared)
        parameter = parameters[position] if position < len(parameters) else None
        if parameter is None:
            return False
        file = declared.file
        tested = False
        for reference in self.package.references(parameter):
            if not (declared.node.start_byte <= reference.start_byte < declared.node.end_byte):
                continue
            if reference == parameter.identifier:
                continue
            comparison = file.parent(reference)
            if comparison is not None and is_nil_comparison(file, comparison, parameter.name, ("!=", "==")):
                tested = True
                continue
            if not any(
                ancestor.type == "if_statement"
                and is_nil_comparison(
                    file, unparen(ancestor.child_by_field_name("condition") or ancestor), parameter.name, ("!=",)
                )
                and is_inside(reference, ancestor.child_by_field_name("consequence") or ancestor)
                for ancestor in file.ancestors(reference)
            ):
                return False
        return tested

    # -- stand-ins of the tests ------------------------------------------------------------------
    @cached_property
    def stubs_transport(self) -> bool:
        """Whether the package's `_test.go` files declare a stand-in `http.RoundTripper`: a
        `RoundTrip` method that returns only responses it builds itself
        (`return &http.Response{StatusCode: 200, Body: http.NoBody}, nil`, or through a test
        helper that builds one), or an adapter of a func type (`func (f rtFunc)
        RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }`) in tests that
        build such responses. Such a response holds no connection, and a test of that package
        that calls `RoundTrip` exercises a transport wrapped around the stand-in."""
        for (_, name), method in self.package.methods.items():
            if name != "RoundTrip" or not method.file.is_test:
                continue
            if self._builds_responses(method) or (self._calls_its_receiver(method) and self._tests_build_responses):
                return True
        return False

    @cached_property
    def _tests_build_responses(self) -> bool:
        """Some function or literal of the package's tests builds the responses it returns."""
        return any(declared.file.is_test and self._builds_responses(declared) for declared in self.functions)

    def _builds_responses(self, function: Declared, depth: int = 1) -> bool:
        """Every non-nil `return` of the function gives back an `http.Response` it builds,
        itself or through a function of the package that does."""
        built = False
        for statement in own_nodes(function.file, function.node, ("return_statement",)):
            values = statement.named_children[0].named_children if statement.named_children else []
            value = unparen(values[0]) if values else None
            if value is None or value.type == "nil":
                continue
            literal = value.named_children[0] if value.type == "unary_expression" and value.named_children else value
            value_type = self.package.type_of(function.file, value)
            if value_type is None or not value_type.is_named("net/http.Response"):
                return False
            if literal.type != "composite_literal":
                helper = self.callee(function.file, value) if value.type == "call_expression" and depth else None
                if helper is None or not self._builds_responses(helper, depth - 1):
                    return False
            built = True
        return built

    def _calls_its_receiver(self, method: Declared) -> bool:
        """`return f(r)` in a method of a func type: an adapter (`http.HandlerFunc`'s kind)."""
        receiver = receiver_name(method.file, method.node)
        returns = list(own_nodes(method.file, method.node, ("return_statement",)))
        for statement in returns:
            values = statement.named_children[0].named_children if statement.named_children else []
            call = unparen(values[0]) if len(values) == 1 else None
            function = (
                call.child_by_field_name("function") if call is not None and call.type == "call_expression" else None
            )
            if function is None or method.file.text(function) != receiver:
                return False
        return bool(returns) and bool(receiver)

    # -- what outlives the call ----------------------------------------------------------------------
    def hands_to_goroutine(self, callee: Declared, position: int, depth: int = 2) -> bool:
        """Whether the function gives its parameter at `position` to a goroutine it starts
        (directly, in a `go` statement or the literal one runs, or through functions of the
        package it hands it to): a value meant to outlive the call."""
        parameters = self.parameters(callee)
        if not parameters:
            return False
        parameter = parameters[min(position, len(parameters) - 1)]
        return parameter is not None and self.binding_reaches_goroutine(parameter, callee, depth)

    def binding_reaches_goroutine(self, binding: Binding, within: Declared, depth: int = 2) -> bool:
        """Whether a local binding is used in a `go` statement inside `within`, or handed to
        a function of the package that gives it to one."""
        file = within.file
        for reference in self.package.references(binding):
            if not (within.node.start_byte <= reference.start_byte < within.node.end_byte):
                continue
            around = []
            for ancestor in file.ancestors(reference):
                if ancestor.id == within.node.id:
                    break
                around.append(ancestor)
            if any(a.type == "go_statement" for a in around):
                return True
            if depth == 0 or len(around) < 2 or around[0].type != "argument_list":
                continue
            arguments, call = around[0], around[1]
            callee = self.callee(file, call)
            position = next((i for i, a in enumerate(arguments.named_children) if a.id == reference.id), None)
            if callee is not None and position is not None and self.hands_to_goroutine(callee, position, depth - 1):
                return True
        return False


# The text an operation of each kind needs: most functions lack it.
_SPELLED = {"send": b"<-", "receive": b"<-", "range": b"range", "close": b"close"}
# Operations that name their channel themselves (`close(s.done)`, `ch <- v`): only a function
# that spells the place's name can do them (a receive may go through a method that returns it).
_NAMING_OPERATIONS = frozenset({"send", "close"})


def _assigned(file: GoFile, node: Node) -> bool:
    """`node` is one of the targets of an assignment (`x.f = v`, `a, x.f = g()`)."""
    holder = file.parent(node)
    statement = file.parent(holder) if holder is not None and holder.type == "expression_list" else None
    return (
        statement is not None
        and statement.type == "assignment_statement"
        and statement.child_by_field_name("left") == holder
        and file.text(statement.child_by_field_name("operator") or statement)[:1] == "="
    )


def _encloses_place(literal: Declared, place: Place) -> bool:
    """Whether a local place is declared outside the literal, in its file: the literal then
    captures it rather than declaring its own."""
    return place.key.startswith(f"{literal.file.path}:") and not (
        literal.node.start_byte <= place.declared_at < literal.node.end_byte
    )


def _selectors_by_field(file: GoFile) -> dict[str, list[Node]]:
    """The file's selectors (`x.f`) by the name they select, in source order: built once per
    file for the package-wide questions that look at every mention of a field or method
    (each would otherwise read every selector of the package again)."""

    def build() -> dict[str, list[Node]]:
        found: dict[str, list[Node]] = {}
        for selector in file.nodes("selector_expression"):
            field = selector.child_by_field_name("field")
            if field is not None:
                found.setdefault(file.text(field), []).append(selector)
        return found

    return file.cached("facts.selectors_by_field", build)


def _closed_branch(file: GoFile, receive: Node) -> Node | None:
    """The body of the `if !ok` right after `v, ok := <-ch` (or `=`): where the code goes
    once the channel is closed."""
    statement = receive_with_ok(receive, file)
    if statement is None or statement.type == "receive_statement":
        return None  # none, or a select case's: its body is what follows
    names = field_of(statement, "left").named_children
    following = statement.next_named_sibling
    while following is not None and following.type == "comment":
        following = following.next_named_sibling
    if following is None or following.type != "if_statement":
        return None
    condition = following.child_by_field_name("condition")
    if condition is None or file.text(condition).replace(" ", "") != f"!{file.text(names[1])}":
        return None
    return following.child_by_field_name("consequence")


def _identifiers_named(file: GoFile, name: str) -> list[Node]:
    """The file's identifiers spelled `name`, in source order: looked up where the name's
    text lies, not by reading every identifier of the file."""
    spelled = name.encode()
    found = []
    for at in occurrences(file.source, spelled):
        node = file.root.named_descendant_for_byte_range(at, at + len(spelled))
        if (
            node is not None
            and node.type == "identifier"
            and (node.start_byte, node.end_byte) == (at, at + len(spelled))
        ):
            found.append(node)
    return found


def _field_text(file: GoFile, selector: Node) -> str | None:
    """`f` for `x.f`; None for anything but a selector."""
    field = selector.child_by_field_name("field") if selector.type == "selector_expression" else None
    return file.text(field) if field is not None else None


def _names_itself(file: GoFile, mention: Node, declared: Declared) -> bool:
    """A mention of a function's name that is not a use of it: its declaration's name, the
    target that stores the literal, a key of a struct literal, the field of a selector
    already counted."""
    parent = file.parent(mention)
    if parent is None:
        return False
    if parent.id == declared.node.id or parent.type in ("keyed_element", "literal_element"):
        return True
    if parent.type == "expression_list":
        statement = file.parent(parent)
        left = statement.child_by_field_name("left") if statement is not None else None
        return left is not None and left.id == parent.id
    return False


def _is_make(file: GoFile, value: Node) -> bool:
    """`make(chan T)` or `make(chan T, n)`."""
    function = value.child_by_field_name("function") if value.type == "call_expression" else None
    return function is not None and file.text(function) == "make"
