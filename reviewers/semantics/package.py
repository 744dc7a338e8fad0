"""The package: its top-level declarations across files, and the entry point of the model.

`Package` is built once per Go package (the files of one directory that share a package
clause) and is what rules ask: `binding(identifier)`, `references(binding)`, `type_of(expr)`
(see `types.py`), `cfg(function)` (see `cfg.py`), `facts` (see `facts.py`) and `effects`
(see `effects.py`). Each part is computed the first time it is asked for, one top-level
declaration at a time.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

from tree_sitter import Node

from ..gosource import GoFile
from ..syntax import expression_items, field_of, receiver_type, top_level_specs
from .names import CONSTANT, FUNCTION, IMPORT, TYPE, VARIABLE, Binding, Resolution, resolve_declaration

if TYPE_CHECKING:
    from .cfg import CFG
    from .effects import Effects
    from .facts import Facts
    from .types import Types
    from .values import Values


@dataclass(frozen=True)
class Assignment:
    """One value given to a binding: `target` is the identifier written, `statement` the
    declaration or assignment, `value` the expression (for a spread, the multi-valued one
    with `index`); `value` is None for `x++`, `x += 1` or a bare `var x T`."""

    target: Node
    statement: Node | None
    value: Node | None
    index: int = 0
    spread: bool = False


def _assigned_value(file: GoFile, identifier: Node) -> tuple[Node | None, Node | None, int, bool]:
    """(statement, value, index, spread) of the assignment that writes `identifier`."""
    side = file.parent(identifier)
    statement = file.parent(side) if side is not None and side.type == "expression_list" else side
    if statement is None or statement.type not in (
        "assignment_statement",
        "short_var_declaration",
        "range_clause",
        "receive_statement",
    ):
        return statement, None, 0, False
    left = statement.child_by_field_name("left")
    names = left.named_children if left is not None else []
    position = next((i for i, n in enumerate(names) if n.id == identifier.id), 0)
    operator = next((c for c in statement.children if not c.is_named and c.type.endswith("=")), None)
    if operator is not None and operator.type not in ("=", ":="):
        return statement, None, position, False  # `x += 1`
    values = expression_items(statement.child_by_field_name("right"))
    if statement.type in ("range_clause", "receive_statement"):
        return statement, values[0] if values else None, position, True
    if len(values) == 1 and len(names) > 1:
        return statement, values[0], position, True
    return statement, values[position] if position < len(values) else None, position, False


@dataclass(frozen=True)
class Declared:
    """A top-level function, method or type of the package, with the file it is in."""

    file: GoFile
    node: Node


def package_clause(file: GoFile) -> str | None:
    """The package name the file declares (read once per file)."""

    def read() -> str | None:
        for node in file.root.named_children:
            if node.type == "package_clause":
                name = node.named_children[0] if node.named_children else None
                return file.text(name) if name is not None else None
        return None

    return file.cached("semantics.package_clause", read)


class Package:
    def __init__(self, files: list[GoFile]):
        self.files = files
        self._resolutions: dict[int, Resolution] = {}
        self._imports: dict[tuple[str, str], Binding | None] = {}
        self._cfgs: dict[int, CFG] = {}

    # -- top-level declarations --------------------------------------------------------------
    @cached_property
    def functions(self) -> dict[str, Declared]:
        """Top-level functions by name (`init` and `_` left out: they cannot be called)."""
        found: dict[str, Declared] = {}
        for file in self.files:
            for node in file.root.named_children:
                if node.type == "function_declaration":
                    name = file.text(field_of(node, "name"))
                    if name not in ("init", "_"):
                        found.setdefault(name, Declared(file, node))
        return found

    @cached_property
    def methods(self) -> dict[tuple[str, str], Declared]:
        """Methods by (receiver type, name): `("Server", "Close")`."""
        found: dict[tuple[str, str], Declared] = {}
        for file in self.files:
            for node in file.root.named_children:
                if node.type == "method_declaration":
                    owner = receiver_type(file, node)
                    name = node.child_by_field_name("name")
                    if owner and name is not None:
                        found.setdefault((owner, file.text(name)), Declared(file, node))
        return found

    @cached_property
    def method_names(self) -> frozenset[str]:
        return frozenset(name for _, name in self.methods)

    @cached_property
    def types(self) -> dict[str, Declared]:
        """Top-level type specs by name (the `type_spec`, or `type_alias`)."""
        found: dict[str, Declared] = {}
        for file in self.files:
            for node in file.root.named_children:
                if node.type != "type_declaration":
                    continue
                for spec in node.named_children:
                    name = spec.child_by_field_name("name")
                    if spec.type in ("type_spec", "type_alias") and name is not None:
                        found.setdefault(file.text(name), Declared(file, spec))
        return found

    @cached_property
    def variables(self) -> dict[str, Binding]:
        """Package-level variables and constants by name."""
        found: dict[str, Binding] = {}
        for file in self.files:
            for spec in top_level_specs(file, ("var", "const")):
                names = spec.children_by_field_name("name")
                values = expression_items(spec.child_by_field_name("value"))
                spread = len(values) == 1 and len(names) > 1
                kind = CONSTANT if spec.type == "const_spec" else VARIABLE
                for position, identifier in enumerate(names):
                    name = file.text(identifier)
                    if name == "_" or name in found:
                        continue
                    value = values[0] if spread else values[position] if position < len(values) else None
                    found[name] = Binding(
                        name, kind, file, identifier, spec, spec.child_by_field_name("type"), value, position, spread
                    )
        return found

    def function(self, name: str) -> Declared | None:
        return self.functions.get(name)

    def method(self, type_name: str, name: str) -> Declared | None:
        return self.methods.get((type_name, name))

    # -- names -------------------------------------------------------------------------------------
    @cached_property
    def _package_bindings(self) -> dict[str, Binding]:
        found = dict(self.variables)
        for name, declared in self.functions.items():
            found.setdefault(
                name, Binding(name, FUNCTION, declared.file, declared.node.child_by_field_name("name"), declared.node)
            )
        for name, declared in self.types.items():
            spec = declared.node
            found.setdefault(
                name,
                Binding(
                    name, TYPE, declared.file, spec.child_by_field_name("name"), spec, spec.child_by_field_name("type")
                ),
            )
        return found

    def lookup(self, file: GoFile, name: str) -> Binding | None:
        """What `name` means at package level in `file`: a declaration of the package, else
        one of the file's imports."""
        binding = self._package_bindings.get(name)
        if binding is not None:
            return binding
        key = (file.path, name)
        if key not in self._imports:
            path = file.package_path(name)  # a partial file assumes the conventional names
            self._imports[key] = Binding(name, IMPORT, file, None, None, import_path=path) if path else None
        return self._imports[key]

    def resolution(self, file: GoFile, node: Node) -> Resolution | None:
        """The names of the top-level declaration holding `node`."""
        top = file.top_level(node) or (node if file.parent(node) == file.root else None)
        if top is None:
            return None
        if top.id not in self._resolutions:
            self._resolutions[top.id] = resolve_declaration(file, top, self.lookup)
        return self._resolutions[top.id]

    def binding(self, file: GoFile, identifier: Node) -> Binding | None:
        """The binding an identifier refers to (or declares); None for a predeclared name
        (`nil`, `len`), a struct field key, or a name the package does not show."""
        if identifier.type != "identifier":
            return None
        resolution = self.resolution(file, identifier)
        if resolution is None or identifier.id in resolution.field_keys:
            return None
        return resolution.binding(identifier)

    def references(self, binding: Binding) -> list[Node]:
        """Uses of a local binding in its function (closures included), in source order;
        writes (`x = ...`) included, the declaring identifier not."""
        if binding.function is None or binding.identifier is None:
            return []
        resolution = self.resolution(binding.file, binding.identifier)
        if resolution is None:
            return []
        return [n for n in resolution.references(binding) if n.id not in resolution.field_keys]

    def assignments(self, binding: Binding) -> list[Assignment]:
        """What a local binding is given: its declaration's value, then every `=` to it, in
        source order (`x, err = f()` gives `x` the call with index 0, spread)."""
        found = []
        if binding.identifier is not None:
            found.append(
                Assignment(binding.identifier, binding.declaration, binding.value, binding.index, binding.spread)
            )
        for identifier in self.references(binding):
            if not self.is_write(binding.file, identifier):
                continue
            statement, value, index, spread = _assigned_value(binding.file, identifier)
            found.append(Assignment(identifier, statement, value, index, spread))
        return found

    def package_assignments(self, binding: Binding) -> list[tuple[GoFile, Assignment]]:
        """What a package-level variable is given anywhere in the package, with the file of
        each: its declaration's value, then every `=` to it, file by file in source order.
        It resolves every top-level declaration that spells the name: for rare questions."""
        found = []
        if binding.identifier is not None:
            assignment = Assignment(
                binding.identifier, binding.declaration, binding.value, binding.index, binding.spread
            )
            found.append((binding.file, assignment))
        for file, identifier in self.package_references(binding):
            if self.is_write(file, identifier):
                statement, value, index, spread = _assigned_value(file, identifier)
                found.append((file, Assignment(identifier, statement, value, index, spread)))
        return found

    def package_references(self, binding: Binding) -> list[tuple[GoFile, Node]]:
        """Uses of a package-level variable anywhere in the package, writes included, the
        declaring identifier not, file by file in source order. It resolves every top-level
        declaration that spells the name: for rare questions."""
        found: list[tuple[GoFile, Node]] = []
        name = binding.name.encode()
        for file in self.files:
            for top in file.root.named_children:
                if file.source.find(name, top.start_byte, top.end_byte) < 0:
                    continue
                resolution = self.resolution(file, top)
                if resolution is None:
                    continue
                for identifier in resolution.references(binding):
                    if binding.identifier is None or identifier.id != binding.identifier.id:
                        found.append((file, identifier))
        return found

    def visible_bindings(self, file: GoFile, node: Node) -> list[Binding]:
        """The local bindings visible at `node` (declared before it in a scope around it),
        innermost first; a name shadowed by an inner one is left out."""
        resolution = self.resolution(file, node)
        if resolution is None:
            return []
        found: dict[str, Binding] = {}
        candidates = [
            b
            for b in resolution.locals
            if b.scope is not None
            and b.start <= node.start_byte
            and node.end_byte <= b.scope.end_byte
            and b.scope.start_byte <= node.start_byte
        ]
        for binding in sorted(candidates, key=lambda b: -b.start):
            found.setdefault(binding.name, binding)
        return list(found.values())

    def is_write(self, file: GoFile, identifier: Node) -> bool:
        resolution = self.resolution(file, identifier)
        return resolution is not None and resolution.is_write(identifier)

    # -- the other parts of the model -----------------------------------------------------------
    @cached_property
    def types_model(self) -> Types:
        from .types import Types

        return Types(self)

    def type_of(self, file: GoFile, expression: Node):
        return self.types_model.of(file, expression)

    def cfg(self, file: GoFile, function: Node) -> CFG:
        from .cfg import build_cfg

        if function.id not in self._cfgs:
            self._cfgs[function.id] = build_cfg(self, file, function)
        return self._cfgs[function.id]

    @cached_property
    def values(self) -> Values:
        from .values import Values

        return Values(self)

    @cached_property
    def facts(self) -> Facts:
        from .facts import Facts

        return Facts(self)

    @cached_property
    def effects(self) -> Effects:
        from .effects import Effects

        return Effects(self)

    def release(self) -> None:
        """Let go of the model once the package is analysed: its parts (facts, types,
        graphs) refer back to it, so without this only the cycle collector would free
        them, walking every one of them first."""
        self.__dict__.clear()


def package_of(file: GoFile) -> Package:
    """The model of `file`'s package, built once and shared by every file of it."""

    def build() -> Package:
        name = package_clause(file)
        files = [other for other in file.package_files if other is file or package_clause(other) == name]
        return Package(files)

    return file.package_cached(f"semantics.package:{package_clause(file)}", build)
