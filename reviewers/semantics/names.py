"""Names: every identifier of a function resolved to the binding it refers to.

A *binding* is what a name was declared as: a parameter, receiver or named result, a local
`:=`/`var`/`const`, a range or select-case variable, a type-switch alias, or a package-level
function, variable, constant or type in any file of the package, or an import. Go's scoping
is followed exactly as far as the syntax decides it: blocks, `if`/`for`/`switch` headers,
case clauses, function literals (a closure sees its starter's names), shadowing, and the rule
that a `:=` declares only the names new in its scope (`v, err := ...` reuses an `err`
declared before in the same block).

Each top-level function or method is resolved in one sweep over its identifiers and scopes,
in source order with a stack of bindings per name, the first time a rule asks about it: the
cost is linear in the function's size, whatever its nesting.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field
from operator import itemgetter

from tree_sitter import Node

from ..gosource import GoFile, captures
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


@dataclass
class Resolution:
    """The names of one top-level declaration: each identifier's binding, and the references
    (uses, declaring identifiers excepted) of each local binding, in source order."""

    bindings: dict[int, Binding] = field(default_factory=dict)  # identifier id -> binding
    references: dict[int, list[Node]] = field(default_factory=dict)  # id(binding) -> identifiers
    locals: list[Binding] = field(default_factory=list)  # every local binding, in source order
    writes: set[int] = field(default_factory=set)  # identifier ids assigned to (`x = ...`, `x++`, `x, err := ...`)
    field_keys: set[int] = field(default_factory=set)  # identifier ids of struct field keys (`T{name: v}`)


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
    + " (identifier) @identifier"
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
        self.package_lookup = package_lookup
        self.result = Resolution()
        # Declaring identifiers (resolved when their binding takes effect), and identifiers
        # that assignments write.
        self.declaring: dict[int, Binding] = {}
        self.written: set[int] = set()
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
        for identifier in found.get("identifier", []):
            events.append((identifier.start_byte, _USE, 0, identifier))
        self.result.field_keys = {i.id for i in found.get("element", []) if is_field_key(self.file, i)}
        events.sort(key=itemgetter(0, 1, 2))
        visible: dict[str, list[Binding]] = {}
        open_scopes: list[tuple[Node, list[Binding]]] = []
        # A use, the most frequent event, is resolved inline with what it reads held locally.
        source, lookup, file = self.file.source, self.package_lookup, self.file
        declaring, written, result = self.declaring, self.written, self.result
        bindings, references, writes = result.bindings, result.references, result.writes
        for _, kind, _, item in events:
            if kind == _USE:
                identifier = item.id  # type: ignore[attr-defined]
                if identifier in declaring:
                    continue
                name = source[item.start_byte : item.end_byte].decode("utf-8", "replace")  # type: ignore[attr-defined]
                stack = visible.get(name)
                binding = stack[-1] if stack else lookup(file, name)
                if binding is not None:
                    bindings[identifier] = binding
                    references.setdefault(id(binding), []).append(item)  # type: ignore[arg-type]
                    if identifier in written:
                        writes.add(identifier)
            elif kind == _OPEN:
                open_scopes.append((item, []))  # type: ignore[arg-type]
            elif kind == _CLOSE:
                if open_scopes and open_scopes[-1][0].id == item.id:  # type: ignore[attr-defined]
                    for binding in open_scopes.pop()[1]:
                        visible[binding.name].pop()
            elif open_scopes:  # _ACTIVATE
                self._activate(item, open_scopes, visible)  # type: ignore[arg-type]
        return self.result

    def _activate(
        self, binding: Binding, open_scopes: list[tuple[Node, list[Binding]]], visible: dict[str, list[Binding]]
    ) -> None:
        identifier = binding.identifier
        assert identifier is not None
        if binding.declaration is not None and binding.declaration.type == "short_var_declaration":
            reused = self._declared_in_current_scope(binding.name, open_scopes)
            if reused is not None:  # `v, err := ...` with `err` already in this block: an assignment
                self.result.bindings[identifier.id] = reused
                self.result.references.setdefault(id(reused), []).append(identifier)
                self.result.writes.add(identifier.id)
                return
        self.result.bindings[identifier.id] = binding
        binding.scope = open_scopes[-1][0]
        binding.start = self._start_of(binding)
        visible.setdefault(binding.name, []).append(binding)
        open_scopes[-1][1].append(binding)
        self.result.locals.append(binding)

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
        self.declaring[identifier.id] = binding
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
                self.written.add(target.id)


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
