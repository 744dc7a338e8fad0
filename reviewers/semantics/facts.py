"""Package facts: what each function and method of the package does, as its callers need to
know it (in the spirit of go/analysis facts). Computed on first use, per function, following
calls inside the package; a call cycle is answered conservatively (as if the function
returned and did nothing)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tree_sitter import Node

from ..gosource import GoFile

if TYPE_CHECKING:
    from .package import Package


class Facts:
    def __init__(self, package: Package):
        self.package = package
        self._never_returns: dict[int, bool] = {}

    def never_returns(self, file: GoFile, function: Node) -> bool:
        """Whether no path through the function returns (it always panics, exits or loops
        forever): a call of it ends its caller's path."""
        key = function.id
        if key not in self._never_returns:
            self._never_returns[key] = False  # a recursive call meanwhile: assume it returns
            self._never_returns[key] = not self.package.cfg(file, function).reaches_exit()
        return self._never_returns[key]
