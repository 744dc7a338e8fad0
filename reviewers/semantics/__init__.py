"""The semantic model every rule reads: names and types, control flow, package facts and
ownership, computed once per package on first use (see DESIGN.md, "parse, understand, then
judge"). Rules ask it questions; none keeps a resolver, walker or list of its own."""

from .names import Binding
from .package import Package, package_of
from .types import Type

__all__ = ["Binding", "Package", "Type", "package_of"]
