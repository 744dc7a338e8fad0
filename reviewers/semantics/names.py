"""Names: every identifier of a function resolved to the binding it refers to.

A *binding* is what a name was declared as: a parameter, receiver or named result, a local
`:=`/`var`/`const`, a range or select-case variable, a type-switch alias, or a package-level
function, variable, constant or type in any file of the package, or an import. Go's scoping
is followed exactly as far as the syntax decides it: blocks, `if`/`for`/`switch` headers,
case clauses, function literals (a closure sees its starter's names), shadowing, and the rule
that a `:=` declares only the names new in its scope (`v, err := ...` reuses an `err`
declared before in the same block).

Each top-level function or method is swept once, the first time a rule asks about it: its
scopes and declarations in source order, each binding taking effect in the scope open where
it is declared. An identifier is resolved when first asked (most never are): to the binding
of its name that took effect last before it in a scope still open there, as a stack of
bindings per name would have it, else to the package's. The uses of a binding are its
name's occurrences in its scope that resolve to it. The cost is linear in the function's
size, whatever its nesting.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from operator import itemgetter

from tree_sitter import Node

from ..gosource import GoFile, captures, occurrences
from ..syntax import FUNCTION_TYPES, expression_items

# What a binding was declared as.
PARAMETER, RECEIVER, RESULT = "parameter", "receiver", "result"
VARIABLE, CONSTANT, TYPE, FUNCTION, IMPORT = "variable", "constant", "type", "function", "import"
RANGE, RECEIVED, ALIAS = "range", "received", "alias"  # `for k, v := range`, `case v := <-ch`, `switch v := x.(type)`


@dataclass(eq=False)
class Binding:
    """A declared name. `value` is what the declaration assigned it (for `a, b := f()`, both
    names have the call as `value` with `index` 0 and 1 and `spread` set); `type_node` the
    type it spelled, if any. `function` is the function or literal whose scope declares it
    (None at package level)."""

    name: str
    kind: str
    file: GoFile
    identifier: Node | None  # the declaring identifier (None for imports)
    declaration: Node | None  # parameter_declaration, short_var_declaration, var_spec, function_declaration...
    type_node: Node | None = None
    value: Node | None = None
    index: int = 0
    spread: bool = False  # one multi-valued `value` assigns every name of the declaration
    function: Node | None = None
    import_path: str | None = None
    # Where a local binding is visible: from byte `start` to the end of node `scope`.
    scope: Node | None = None
    start: int = 0

    @property
    def is_local(self) -> bool:
        return self.function is not None

    def __repr__(self) -> str:
        return f"Binding({self.kind} {self.name})"


_UNRESOLVED = object()


class Resolution:
    """The names of one top-level declaration: its local bindings (`locals`, in the order
    they take effect), and what each of its identifiers refers to, worked out when asked."""

    def __init__(self, file: GoFile, top: Node, package_lookup):
        self.file, self.top, self.package_lookup = file, top, package_lookup
        self.locals: list[Binding] = []
        self.field_keys: set[int] = set()  # identifier ids of struct field keys (`T{name: v}`)
        # Declaring identifiers, with the binding each declares, or reuses (`v, err := ...`
        # with `err` declared before in the same block: an assignment to it).
        self.declaring: dict[int, Binding | None] = {}
        self.reused: list[tuple[int, Node, Binding]] = []  # (where it takes effect, identifier, binding)
        self.written: set[int] = set()  # identifier ids assignments write (`x = ...`, `x++`)
        self._by_name: dict[str, list[Binding]] = {}
        self._resolved: dict[int, Binding | None] = {}
        self._references: dict[int, list[Node]] = {}

    def took_effect(self, binding: Binding) -> None:
        self.locals.append(binding)
        self._by_name.setdefault(binding.name, []).append(binding)

    def binding(self, identifier: Node) -> Binding | None:
        """What an identifier of the declaration refers to (or declares)."""
        known = self._resolved.get(identifier.id, _UNRESOLVED)
        if known is not _UNRESOLVED:
            return known  # type: ignore[return-value]
        if identifier.id in self.declaring:
            found = self.declaring[identifier.id]
        else:
            name = self.file.text(identifier)
            at = identifier.start_byte
            found = None
            for binding in self._by_name.get(name, ()):
                assert binding.scope is not None
                if binding.start <= at < binding.scope.end_byte:
                    found = binding  # the latest to take effect of those visible: the innermost
            if found is None:
                found = self.package_lookup(self.file, name)
        self._resolved[identifier.id] = found
        return found

    def references(self, binding: Binding) -> list[Node]:
        """The identifiers of the declaration that refer to `binding` (uses, writes and the
        names a `:=` reuses; the declaring identifier not), in the order they take effect."""
        known = self._references.get(id(binding))
        if known is not None:
            return known
        if binding.function is not None and binding.scope is not None:  # a local: uses lie in its scope
            start, end = binding.start, binding.scope.end_byte
        else:
            start, end = self.top.start_byte, self.top.end_byte
        word = binding.name.encode()
        found = []
        for at in occurrences(self.file.source, word, start, end):
            node = self.top.descendant_for_byte_range(at, at + len(word))
            if (
                node is not None
                and node.type == "identifier"
                and node.id not in self.declaring
                and self.binding(node) is binding
            ):
                found.append((at, _USE, node))
        found += [(at, _ACTIVATE, node) for at, node, reused in self.reused if reused is binding]
        self._references[id(binding)] = [node for _, _, node in sorted(found, key=itemgetter(0, 1))]
        return self._references[id(binding)]

    def is_write(self, identifier: Node) -> bool:
        """Whether an assignment (or a `:=` reusing the name) writes the identifier."""
        if identifier.id in self.declaring:
            return any(node.id == identifier.id for _, node, _ in self.reused)
        return identifier.id in self.written and self.binding(identifier) is not None


_SCOPES = (
    "block",
    "if_statement",
    "for_statement",
    "expression_switch_statement",
    "type_switch_statement",
    "expression_case",
    "type_case",
    "default_case",
    "communication_case",
    "func_literal",
)
_DECLARATIONS = (
    "parameter_declaration",
    "variadic_parameter_declaration",
    "short_var_declaration",
    "var_spec",
    "const_spec",
    "range_clause",
    "receive_statement",
    "type_switch_statement",
    "type_spec",
    "assignment_statement",
    "inc_statement",
    "dec_statement",
)
_PATTERN = (
    " ".join(f"({t}) @scope" for t in _SCOPES)
    + " "
    + " ".join(f"({t}) @declaration" for t in _DECLARATIONS)
    + " (literal_element (identifier) @element)"
)

# Sweep events at one byte: a scope closes before a binding there takes effect, which comes
# before a scope opening and before an identifier using it.
_CLOSE, _ACTIVATE, _OPEN, _USE = 0, 1, 2, 3


class _Sweep:
    """Resolves one top-level declaration (see the module docstring)."""

    def __init__(self, file: GoFile, top: Node, package_lookup):
        self.file = file
        self.top = top
        self.result = Resolution(file, top, package_lookup)
        # The functions and literals of the declaration in source order, each with the
        # position of the innermost one around it (-1: none): see `_function`.
        self.functions: list[Node] = []
        self.function_starts: list[int] = []
        self.bodies: set[int] = set()  # the blocks that are a function's body
        self.outer: list[int] = []

    def run(self) -> Resolution:
        found = captures(_PATTERN, self.top)
        self._nest_functions([s for s in found.get("scope", []) if s.type == "func_literal"])
        events: list[tuple[int, int, int, object]] = []
        for scope in found.get("scope", []):
            events.append((scope.start_byte, _OPEN, -scope.end_byte, scope))
            events.append((scope.end_byte, _CLOSE, -scope.start_byte, scope))
        if self.top.type in FUNCTION_TYPES[:2]:
            events.append((self.top.start_byte, _OPEN, -self.top.end_byte - 1, self.top))
            events.append((self.top.end_byte, _CLOSE, -self.top.start_byte + 1, self.top))
        for declaration in found.get("declaration", []):
            for binding, start in self._bindings_of(declaration):
                events.append((start, _ACTIVATE, 0, binding))
        self.result.field_keys = {i.id for i in found.get("element", []) if is_field_key(self.file, i)}
        events.sort(key=itemgetter(0, 1, 2))
        open_scopes: list[tuple[Node, list[Binding]]] = []
        for at, kind, _, item in events:
            if kind == _OPEN:
                open_scopes.append((item, []))  # type: ignore[arg-type]
            elif kind == _CLOSE:
                if open_scopes and open_scopes[-1][0].id == item.id:  # type: ignore[attr-defined]
                    open_scopes.pop()
            elif open_scopes:  # _ACTIVATE
                self._activate(item, at, open_scopes)  # type: ignore[arg-type]
        return self.result

    def _activate(self, binding: Binding, at: int, open_scopes: list[tuple[Node, list[Binding]]]) -> None:
        identifier = binding.identifier
        assert identifier is not None
        if binding.declaration is not None and binding.declaration.type == "short_var_declaration":
            reused = self._declared_in_current_scope(binding.name, open_scopes)
            if reused is not None:  # `v, err := ...` with `err` already in this block: an assignment
                self.result.declaring[identifier.id] = reused
                self.result.reused.append((at, identifier, reused))
                return
        self.result.declaring[identifier.id] = binding
        binding.scope = open_scopes[-1][0]
        binding.start = self._start_of(binding)
        open_scopes[-1][1].append(binding)
        self.result.took_effect(binding)

    @staticmethod
    def _start_of(binding: Binding) -> int:
        declaration = binding.declaration
        assert declaration is not None
        if binding.kind in (PARAMETER, RECEIVER, RESULT) and binding.function is not None:
            body = binding.function.child_by_field_name("body")
            return body.start_byte if body is not None else declaration.end_byte
        if binding.kind == TYPE:
            return declaration.start_byte
        if binding.kind == ALIAS and binding.value is not None:
            return binding.value.end_byte
        return declaration.end_byte

    def _declared_in_current_scope(self, name: str, open_scopes: list[tuple[Node, list[Binding]]]) -> Binding | None:
        """A binding of `name` in the innermost scope; a function body shares its scope with
        the function's parameters and results."""
        scope, bindings = open_scopes[-1]
        candidates = list(bindings)
        if scope.id in self.bodies and len(open_scopes) > 1:
            candidates += open_scopes[-2][1]
        return next((b for b in reversed(candidates) if b.name == name), None)

    # -- what each declaration binds, and where the bindings take effect --------------------
    def _bindings_of(self, declaration: Node) -> list[tuple[Binding, int]]:
        kind = declaration.type
        if kind in ("parameter_declaration", "variadic_parameter_declaration"):
            return self._parameters(declaration)
        if kind in ("var_spec", "const_spec"):
            return self._specs(declaration)
        if kind == "short_var_declaration":
            return self._short(declaration)
        if kind in ("range_clause", "receive_statement"):
            return self._short(declaration, RANGE if kind == "range_clause" else RECEIVED)
        if kind == "type_switch_statement":
            return self._alias(declaration)
        if kind == "type_spec":
            return self._local_type(declaration)
        self._mark_writes(declaration)
        return []

    def _nest_functions(self, literals: list[Node]) -> None:
        self.functions = [self.top, *literals] if self.top.type in FUNCTION_TYPES[:2] else literals
        self.function_starts = [f.start_byte for f in self.functions]
        self.bodies = {body.id for f in self.functions if (body := f.child_by_field_name("body")) is not None}
        around: list[int] = []
        for position, function in enumerate(self.functions):
            while around and self.functions[around[-1]].end_byte <= function.start_byte:
                around.pop()
            self.outer.append(around[-1] if around else -1)
            around.append(position)

    def _function(self, node: Node) -> Node | None:
        """The innermost function or literal around `node`: among those that start before
        it, the last one, or the first one around that one that also ends after it (no walk
        up the tree)."""
        position = bisect_right(self.function_starts, node.start_byte) - 1
        while position >= 0 and self.functions[position].end_byte < node.end_byte:
            position = self.outer[position]
        return self.functions[position] if position >= 0 else None

    def _signature(self, declaration: Node) -> tuple[Node, str] | None:
        """The function or literal whose receiver, parameter or result list holds a parameter
        declaration, and which list; None for one of a function type or an interface method
        (no binding)."""
        owner = self._function(declaration)
        if owner is None:
            return None
        for kind, field_name in ((RECEIVER, "receiver"), (RESULT, "result"), (PARAMETER, "parameters")):
            holder = owner.child_by_field_name(field_name)
            if holder is not None and holder.start_byte <= declaration.start_byte < holder.end_byte:
                return (owner, kind) if any(c.id == declaration.id for c in holder.named_children) else None
        return None

    def _declare(self, identifier: Node, binding: Binding, start: int) -> tuple[Binding, int] | None:
        if self.file.text(identifier) == "_":
            return None
        self.result.declaring[identifier.id] = None  # until it takes effect
        return binding, start

    def _parameters(self, declaration: Node) -> list[tuple[Binding, int]]:
        signature = self._signature(declaration)
        if signature is None:
            return []
        owner, kind = signature
        body = owner.child_by_field_name("body")
        if body is None:
            return []
        type_node = declaration.child_by_field_name("type")
        declared = []
        for identifier in declaration.children_by_field_name("name"):
            binding = Binding(
                self.file.text(identifier), kind, self.file, identifier, declaration, type_node, function=owner
            )
            declared.append(self._declare(identifier, binding, body.start_byte))
        return [d for d in declared if d is not None]

    def _specs(self, spec: Node) -> list[tuple[Binding, int]]:
        function = self._function(spec)
        if function is None:
            return []  # package level: the package's own table
        kind = CONSTANT if spec.type == "const_spec" else VARIABLE
        names = spec.children_by_field_name("name")
        values = expression_items(spec.child_by_field_name("value"))
        spread = len(values) == 1 and len(names) > 1
        declared = []
        for position, identifier in enumerate(names):
            value = values[0] if spread else (values[position] if position < len(values) else None)
            binding = Binding(
                self.file.text(identifier),
                kind,
                self.file,
                identifier,
                spec,
                spec.child_by_field_name("type"),
                value,
                position,
                spread,
                function,
            )
            declared.append(self._declare(identifier, binding, spec.end_byte))
        return [d for d in declared if d is not None]

    def _short(self, statement: Node, kind: str = VARIABLE) -> list[tuple[Binding, int]]:
        left = statement.child_by_field_name("left")
        if left is None:
            return []
        if statement.type != "short_var_declaration" and not self._declares(statement):
            self._mark_writes(statement)
            return []  # `for k, v = range m`, `case v = <-ch`: assignments
        function = self._function(statement)
        names = [n for n in left.named_children if n.type == "identifier"]
        right = statement.child_by_field_name("right")
        values = expression_items(right) if statement.type == "short_var_declaration" else [right] if right else []
        spread = len(values) == 1 and len(names) > 1
        found = []
        for position, identifier in enumerate(names):
            name = self.file.text(identifier)
            value = values[0] if spread or kind != VARIABLE else (values[position] if position < len(values) else None)
            binding = Binding(
                name,
                kind,
                self.file,
                identifier,
                statement,
                None,
                value,
                position,
                spread or kind != VARIABLE,
                function,
            )
            found.append(self._declare(identifier, binding, statement.end_byte))
        return [d for d in found if d is not None]

    def _declares(self, statement: Node) -> bool:
        """Whether a range clause or a receive statement declares (`:=`) rather than assigns."""
        return any(child.type == ":=" for child in statement.children)

    def _alias(self, switch: Node) -> list[tuple[Binding, int]]:
        alias = switch.child_by_field_name("alias")
        value = switch.child_by_field_name("value")
        if alias is None or value is None:
            return []
        function = self._function(switch)
        found = []
        for identifier in (n for n in alias.named_children if n.type == "identifier"):
            binding = Binding(
                self.file.text(identifier), ALIAS, self.file, identifier, switch, None, value, function=function
            )
            found.append(self._declare(identifier, binding, value.end_byte))
        return [d for d in found if d is not None]

    def _local_type(self, spec: Node) -> list[tuple[Binding, int]]:
        function = self._function(spec)
        name = spec.child_by_field_name("name")
        if function is None or name is None:
            return []
        binding = Binding(
            self.file.text(name), TYPE, self.file, name, spec, spec.child_by_field_name("type"), None, function=function
        )
        return [(binding, spec.start_byte)]

    def _mark_writes(self, statement: Node) -> None:
        """Identifiers an assignment or `x++` writes: resolved like any use, and remembered."""
        if statement.type in ("inc_statement", "dec_statement"):
            targets = statement.named_children[:1]
        else:
            left = statement.child_by_field_name("left")
            targets = left.named_children if left is not None else []
        for target in targets:
            if target.type == "identifier":
                self.result.written.add(target.id)


def resolve_declaration(file: GoFile, top: Node, package_lookup) -> Resolution:
    """The resolution of one top-level declaration (a function, method, or `var` block)."""
    return _Sweep(file, top, package_lookup).run()


def is_field_key(file: GoFile, identifier: Node) -> bool:
    """`name` in `T{name: v}`: a struct field's name, not a reference (a map literal's keys,
    `map[K]V{k: v}`, are references)."""
    element = file.parent(identifier)
    keyed = file.parent(element) if element is not None else None
    if element is None or element.type != "literal_element" or keyed is None or keyed.type != "keyed_element":
        return False
    if keyed.named_children[0] != element:
        return False
    literal_value = file.parent(keyed)
    literal = file.parent(literal_value) if literal_value is not None else None
    literal_type = (
        literal.child_by_field_name("type") if literal is not None and literal.type == "composite_literal" else None
    )
    return literal_type is None or literal_type.type != "map_type"
