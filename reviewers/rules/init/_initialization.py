"""What runs while a package initializes, for the GR4xx rules: the body of each `func init()`
and the value of each package-level `var`, and (through the model's effects, see
semantics/effects.py) the package's functions they call."""

from __future__ import annotations

from collections.abc import Collection, Iterator
from dataclasses import dataclass

from tree_sitter import Node

from ...gosource import GoFile
from ...semantics import package_of
from ...semantics.effects import Chain
from ...syntax import calls_in, qualified_name, top_level_specs


@dataclass(frozen=True)
class Initializer:
    spec: Node  # the var_spec
    names: tuple[str, ...]
    value: Node  # the expression list after `=`

    @property
    def label(self) -> str:
        """`var a, b` as a message names it."""
        return "var " + (", ".join(n for n in self.names if n != "_") or "_")


def init_functions(file: GoFile) -> list[Node]:
    """The file's `func init()`s, but for those that return at once unless the environment
    says this process is a helper the program re-executed (`if os.Getenv("X") == "" {
    return }`): there `init` is that helper's entry point, meant to block."""
    return [
        node
        for node in file.root.named_children
        if node.type == "function_declaration"
        and (name := node.child_by_field_name("name"))
        and file.text(name) == "init"
        and not _entry_point_of_a_helper(file, node)
    ]


ENVIRONMENT = frozenset({"os.Getenv", "os.LookupEnv"})


def _entry_point_of_a_helper(file: GoFile, function: Node) -> bool:
    body = function.child_by_field_name("body")
    statements = body.named_children[0].named_children if body is not None and body.named_children else []
    first = next((s for s in statements if s.type != "comment"), None)
    if first is None or first.type != "if_statement":
        return False
    condition, consequence = first.child_by_field_name("condition"), first.child_by_field_name("consequence")
    if condition is None or consequence is None or first.child_by_field_name("alternative") is not None:
        return False
    returns_only = [
        s.type for block in consequence.named_children for s in block.named_children if s.type != "comment"
    ] == ["return_statement"]
    asks_environment = any(qualified_name(file, call) in ENVIRONMENT for call in calls_in(file, condition))
    return returns_only and asks_environment


def package_initializers(file: GoFile) -> list[Initializer]:
    """The package-level `var` specs that have a value."""
    return [
        Initializer(spec, tuple(file.text(n) for n in spec.children_by_field_name("name")), value)
        for spec in top_level_specs(file)
        if (value := spec.child_by_field_name("value")) is not None
    ]


def regions(file: GoFile) -> Iterator[tuple[Node, str]]:
    """The code that runs at initialization, with where a message places it."""
    for function in init_functions(file):
        yield function, "in `init`"
    for initializer in package_initializers(file):
        yield initializer.value, f"in the initializer of `var {', '.join(initializer.names)}`"


def init_chains(file: GoFile, kinds: Collection[str]) -> Iterator[Chain]:
    """The steps of every `func init()` of the file that reach an effect of `kinds`."""
    for function in init_functions(file):
        yield from package_of(file).effects.region_chains(file, function, kinds)


def initializer_chains(file: GoFile, kinds: Collection[str]) -> Iterator[tuple[Initializer, Chain]]:
    """For each package-level `var` whose value reaches an effect of `kinds`, its first chain."""
    for initializer in package_initializers(file):
        chains = package_of(file).effects.region_chains(file, initializer.value, kinds)
        if chains:
            yield initializer, chains[0]


def reached_through(chain: Chain) -> str:
    """`` through `loadConfig()` `` for a chain that goes through a package function, else ""."""
    return "" if chain.direct else f" through `{chain.names[0]}()`"
