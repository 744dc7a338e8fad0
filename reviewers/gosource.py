"""A parsed Go file: one tree-sitter-go parser for the process, each file parsed once.

`GoFile` is what every rule receives. It knows the file's imports (so that rules name
calls by import path, whatever the local alias), the module's `go` version, and keeps a
per-file cache for the indexes that several rules share, and a per-package cache for the
indexes built over every file of its package.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterator
from functools import cached_property
from operator import attrgetter
from typing import TypeVar

import tree_sitter_go
from tree_sitter import Language, Node, Parser, Query, QueryCursor, Tree

GO = Language(tree_sitter_go.language())
_PARSER = Parser(GO)
_QUERIES: dict[str, Query] = {}

T = TypeVar("T")


# Go 1.26 lets `new` take an expression (`new(42)`, `new(make(chan T))`); the grammar parses
# only a type there. A file that fails to parse and calls `new` is parsed again with `new`
# spelled as a plain function of the same length, whose arguments are expressions; the node
# texts that rules read come from the real source.
_NEW_CALL = re.compile(rb"\bnew(?=\s*\()")


def parse(source: bytes) -> Tree:
    tree = _PARSER.parse(source)
    if tree.root_node.has_error and _NEW_CALL.search(source):
        expressions = _PARSER.parse(_NEW_CALL.sub(b"nex", source))
        if not expressions.root_node.has_error:
            return expressions
    return tree


def query(pattern: str) -> Query:
    """A compiled tree-sitter query, compiled once per process."""
    compiled = _QUERIES.get(pattern)
    if compiled is None:
        compiled = _QUERIES[pattern] = Query(GO, pattern)
    return compiled


_START = attrgetter("start_byte")


def captures(pattern: str, node: Node) -> dict[str, list[Node]]:
    """The captures of `pattern` under `node`, each list in source order."""
    found = QueryCursor(query(pattern)).captures(node)
    return {name: sorted(nodes, key=_START) for name, nodes in found.items()}


def occurrences(source: bytes, word: bytes, start: int = 0, end: int | None = None) -> list[int]:
    """Where `word` starts in `source` (from byte `start`, ending by byte `end`), in order,
    not inside a longer name: at each end of `word` that is a letter, digit or `_`, the byte
    beyond is not one (`close` is not in `closed`, `sync.Mutex` is not in `async.MutexSet`;
    `<-` and `.Body` start anywhere). Those are the ends a `\\b` regular expression tests,
    many times quicker."""
    open_start, open_end = _is_word_byte(word, 0), _is_word_byte(word, len(word) - 1)
    end = len(source) if end is None else end
    found: list[int] = []
    at = source.find(word, start, end)
    while at >= 0:
        if not (open_start and _is_word_byte(source, at - 1)) and not (
            open_end and _is_word_byte(source, at + len(word))
        ):
            found.append(at)
        at = source.find(word, at + 1, end)
    return found


def _is_word_byte(source: bytes, at: int) -> bool:
    """Whether the byte at `at` (if inside `source`) continues a name: a letter, digit or `_`."""
    byte = source[at : at + 1] if at >= 0 else b""
    return byte == b"_" or byte.isalnum()


# Node types that rules look for across a whole file. One query finds them all in a single
# pass over the tree (a query's cost is the walk, not the number of patterns), so rules ask
# `GoFile.nodes(type)` instead of walking the tree again each.
INDEXED_TYPES = (
    "assignment_statement",
    "call_expression",
    "communication_case",
    "composite_literal",
    "dec_statement",
    "defer_statement",
    "expression_case",
    "expression_statement",
    "field_declaration",
    "for_statement",
    "func_literal",
    "function_declaration",
    "go_statement",
    "if_statement",
    "inc_statement",
    "keyed_element",
    "method_declaration",
    "parameter_declaration",
    "range_clause",
    "receive_statement",
    "return_statement",
    "select_statement",
    "selector_expression",
    "send_statement",
    "short_var_declaration",
    "type_conversion_expression",
    "type_spec",
    "unary_expression",
    "var_spec",
)
_INDEX_PATTERN = " ".join(f"({node_type}) @{node_type}" for node_type in INDEXED_TYPES)


def matches(pattern: str, node: Node) -> list[dict[str, Node]]:
    """One dict per match of `pattern` under `node` (capture name -> its first node), in
    source order: for patterns whose captures belong together."""
    found = QueryCursor(query(pattern)).matches(node)
    result = [{name: nodes[0] for name, nodes in groups.items()} for _, groups in found]
    return sorted(result, key=lambda groups: min(n.start_byte for n in groups.values()))


_UNKNOWN = object()


# Packages that are another package under an older name: since Go 1.9 golang.org/x/net/context
# forwards to context (its Context is an alias), so code written against it has the same traps.
_SAME_PACKAGE = {"golang.org/x/net/context": "context"}
# Vendoring roots: what follows is the vendored package's own import path.
_VENDORED = re.compile(r"^(?:.*/)?(?:vendor|Godeps/_workspace/src)/")


def canonical_import(import_path: str) -> str:
    """The import path a package is known by: vendored copies and forwarding packages are
    the package they copy or forward to."""
    unvendored = _VENDORED.sub("", import_path)
    return _SAME_PACKAGE.get(unvendored, unvendored)


def _default_package_name(import_path: str) -> str:
    last = import_path.rstrip("/").rsplit("/", 1)[-1]
    # gopkg.in/yaml.v3 -> yaml; github.com/x/y/v2 -> y
    if re.fullmatch(r"v\d+", last) and "/" in import_path:
        last = import_path.rstrip("/").rsplit("/", 2)[-2]
    return re.sub(r"\.v\d+$", "", last).replace("-", "_")


# Go's convention for generated files (`go help generate`): a line of this form before the
# package clause. Nobody reviews what a generator wrote; its input is what a change edits.
_GENERATED = re.compile(rb"^// Code generated .* DO NOT EDIT\.\r?$", re.MULTILINE)


def is_generated(source: bytes) -> bool:
    package = re.search(rb"^package\s", source, re.MULTILINE)
    return _GENERATED.search(source, 0, package.start() if package else len(source)) is not None


_GO_DIRECTIVE = re.compile(rb"^go\s+(\d+)\.(\d+)", re.MULTILINE)


# Directories whose Go files are tests and their helpers, by the convention of Go projects.
TEST_DIRECTORIES = frozenset({"test", "tests", "e2e", "testutil", "testutils", "testhelper", "testhelpers", "testing"})

# A tree with no go.mod at all is code of before modules, built in GOPATH mode
# (GO111MODULE=off), which gets the runtime defaults (GODEBUG) of Go 1.20 whatever the
# toolchain: cmd/go's defaultGODEBUGGoVersion. (A lone `go run x.go` outside any module gets
# the toolchain's; a module importing such a package, its own go line's.)
GOPATH_RUNTIME = (1, 20)


def go_version_of(go_mod: bytes | None) -> tuple[int, int] | None:
    """The `go` directive of a go.mod file, e.g. (1, 22); None when absent."""
    if not go_mod:
        return None
    match = _GO_DIRECTIVE.search(go_mod)
    return (int(match.group(1)), int(match.group(2))) if match else None


class GoFile:
    def __init__(
        self,
        path: str,
        source: bytes,
        go_version: tuple[int, int] | None = None,
        partial: bool = False,
        package_files: Callable[[], list[GoFile]] | None = None,
        gopath: bool = False,
    ):
        self.path = path
        self.source = source
        self.go_version = go_version  # the `go` line of the module's go.mod
        # partial: rebuilt from diff hunks alone, so imports and other code may be missing.
        self.partial = partial
        # gopath: the tree around the file was read and holds no go.mod at all.
        self.gopath = gopath and not partial
        self.tree = parse(source)
        self.root = self.tree.root_node
        self._package_files = package_files
        self._cache: dict[str, object] = {}
        self._package_cache: dict[str, object] = {}
        self._starts: dict[str, list[int]] = {}  # start bytes of the indexed nodes, by type
        self._other: dict[str, list[Node]] = {}  # whole-file nodes of types not indexed
        self._chain: list[Node] = [self.root]  # the last path walked down from the root
        self._parents: dict[int, Node | None] = {self.root.id: None}

    def __repr__(self) -> str:
        return f"GoFile({self.path!r})"

    @cached_property
    def is_test(self) -> bool:
        """Test code: a `_test.go` file (built by `go test` alone), or a file of a directory
        that by convention holds tests and their helpers (`tests/integration/suite.go`,
        `test/e2e/framework.go`, `internal/testutil/fake.go`) in a repository-relative path."""
        if self.path.endswith("_test.go"):
            return True
        return not self.path.startswith("/") and any(part in TEST_DIRECTORIES for part in self.path.split("/")[:-1])

    @property
    def runtime_version(self) -> tuple[int, int] | None:
        """The Go version whose runtime behaviour the code gets (timers before 1.23 are never
        collected unstopped): go.mod's `go` line; Go 1.20's defaults in GOPATH mode; None
        when unknown. The language version (loop variables, `unsafe.Add`) is `go_version`."""
        if self.go_version is not None:
            return self.go_version
        return GOPATH_RUNTIME if self.gopath else None

    def runtime_reason(self) -> str:
        """Why the runtime is that old, for a message: "with `go 1.21` in go.mod"."""
        if self.go_version is None and self.gopath:
            return "in GOPATH mode (no go.mod: Go 1.20's runtime defaults)"
        version = self.runtime_version or (0, 0)
        return f"with `go {version[0]}.{version[1]}` in go.mod"

    # -- text and positions --------------------------------------------------------------
    def text(self, node: Node) -> str:
        return self.source[node.start_byte : node.end_byte].decode("utf-8", "replace")

    @staticmethod
    def line(node: Node) -> int:
        return node.start_point[0] + 1

    @staticmethod
    def end_line(node: Node) -> int:
        return node.end_point[0] + 1

    @cached_property
    def lines(self) -> list[bytes]:
        return self.source.split(b"\n")

    @property
    def has_errors(self) -> bool:
        return self.root.has_error

    def error_lines(self) -> list[tuple[int, int]]:
        """The 1-based line ranges the parser could not read (its ERROR and missing nodes),
        merged, in order. Only the branches that hold an error are walked."""
        ranges: list[tuple[int, int]] = []
        pending = [self.root]
        while pending:
            node = pending.pop()
            if node.is_error or node.is_missing:
                ranges.append((node.start_point[0] + 1, node.end_point[0] + 1))
            elif node.has_error:
                pending.extend(node.children)
        merged: list[tuple[int, int]] = []
        for start, end in sorted(ranges):
            if merged and start <= merged[-1][1] + 1:
                merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
            else:
                merged.append((start, end))
        return merged

    # -- imports ---------------------------------------------------------------------------
    @cached_property
    def imports(self) -> dict[str, str]:
        """Local package name -> import path. Dot and blank imports are left out."""
        names: dict[str, str] = {}
        # Imports are top-level declarations: no need to search the whole tree.
        declarations = [node for node in self.root.named_children if node.type == "import_declaration"]
        specs = [
            spec
            for declaration in declarations
            for spec in captures("(import_spec) @spec", declaration).get("spec", [])
        ]
        for spec in specs:
            path_node = spec.child_by_field_name("path")
            if path_node is None:
                continue
            import_path = canonical_import(self.text(path_node).strip('"`'))
            name_node = spec.child_by_field_name("name")
            if name_node is None:
                names[_default_package_name(import_path)] = import_path
            elif name_node.type == "package_identifier":
                names[self.text(name_node)] = import_path
        return names

    @cached_property
    def _imported(self) -> frozenset[str]:
        return frozenset(self.imports.values())

    def imports_path(self, import_path: str) -> bool:
        """Whether the file imports the package; a partial file with no import
        declaration in view is given the benefit of the doubt."""
        if import_path in self._imported:
            return True
        return self.partial and not self.imports

    def package_path(self, local_name: str) -> str | None:
        """The import path a local package name refers to."""
        if local_name in self.imports:
            return self.imports[local_name]
        if self.partial and not self.imports:
            # Only hunks are known: assume the conventional name.
            return {"http": "net/http", "exec": "os/exec", "sql": "database/sql", "atomic": "sync/atomic"}.get(
                local_name, local_name
            )
        return None

    # -- nodes by type -------------------------------------------------------------------------
    @cached_property
    def _index(self) -> dict[str, list[Node]]:
        return captures(_INDEX_PATTERN, self.root)

    def nodes(self, node_type: str, within: Node | None = None) -> list[Node]:
        """Nodes of one type in source order, in the whole file or under `within` (itself
        included, as a query would)."""
        if node_type not in INDEXED_TYPES:
            if within is not None:
                return captures(f"({node_type}) @node", within).get("node", [])
            # A whole-file search of another type is kept: the package-wide facts ask each
            # file for its selectors or identifiers once per field or function they look at.
            if node_type not in self._other:
                self._other[node_type] = captures(f"({node_type}) @node", self.root).get("node", [])
            return self._other[node_type]
        everywhere = self._index.get(node_type, [])
        if within is None:
            return everywhere
        starts = self._starts.get(node_type)
        if starts is None:
            starts = self._starts[node_type] = [n.start_byte for n in everywhere]
        first = bisect_left(starts, within.start_byte)
        last = bisect_right(starts, within.end_byte, first)
        return [n for n in everywhere[first:last] if n.end_byte <= within.end_byte]

    # -- ancestors -------------------------------------------------------------------------------
    def parent(self, node: Node) -> Node | None:
        """The node around `node`. tree-sitter keeps no parent pointers (`node.parent`
        searches down from the root, at a cost that grows with the depth), so parents are
        found by walking down from the root, from the part of the last path walked that still
        holds `node`, and remembered: code nested thousands deep costs about its size."""
        known = self._parents.get(node.id, _UNKNOWN)
        if known is not _UNKNOWN:
            return known  # type: ignore[return-value]
        chain = self._chain
        while len(chain) > 1 and not (
            chain[-1].start_byte <= node.start_byte and node.end_byte <= chain[-1].end_byte and chain[-1].id != node.id
        ):
            chain.pop()
        while chain[-1].id != node.id:
            child = chain[-1].child_with_descendant(node)
            if child is None or child.id == chain[-1].id:
                return node.parent  # not a node of this file's tree
            self._parents[child.id] = chain[-1]
            chain.append(child)
        return self._parents.get(node.id)

    def top_level(self, node: Node) -> Node | None:
        """The top-level declaration holding `node` (found by position, not by walking up)."""
        top = self.top_level_at(node.start_byte, node.end_byte)
        return None if top is None or top.id == node.id else top

    def top_level_at(self, start: int, end: int) -> Node | None:
        """The top-level declaration whose text holds bytes `start` to `end`."""
        tops = self.cached("gosource.tops", lambda: list(self.root.named_children))
        starts = self.cached("gosource.top_starts", lambda: [n.start_byte for n in tops])
        position = bisect_right(starts, start) - 1
        if position < 0 or tops[position].end_byte < end:
            return None
        return tops[position]

    def ancestors(self, node: Node) -> Iterator[Node]:
        """The nodes around `node`, innermost first."""
        parent = self.parent(node)
        while parent is not None:
            yield parent
            parent = self.parent(parent)

    # -- the package -------------------------------------------------------------------------
    @property
    def package_files(self) -> list[GoFile]:
        """The Go files of the same package known to this run, this one included."""
        return self._package_files() if self._package_files else [self]

    def cached(self, key: str, build: Callable[[], T]) -> T:
        """A per-file index built once and shared between rules."""
        if key not in self._cache:
            self._cache[key] = build()
        return self._cache[key]  # type: ignore[return-value]

    def release(self) -> None:
        """Drop the caches and the link to the package once the package is analyzed: they
        refer back to the files, so without this only the cycle collector would free the
        trees, and their memory (tree-sitter's) does not hasten it."""
        self._cache.clear()
        for shared in self._package_cache.values():
            if hasattr(shared, "release"):
                shared.release()  # the package's model, whose parts refer back to it
        self._package_cache.clear()
        self._starts.clear()
        self._other.clear()
        self._package_files = None
        self._chain = [self.root]
        self._parents = {self.root.id: None}

    def package_cached(self, key: str, build: Callable[[], T]) -> T:
        """A package-wide index (`build` reads `package_files`), built once and shared by
        every file of the package: without it, each file would rebuild it, and the work
        would grow with the square of the package's size."""
        # Every file of the package lists the same files, in the same order: the first one
        # keeps the package's cache.
        cache = self.package_files[0]._package_cache
        if key not in cache:
            cache[key] = build()
        return cache[key]  # type: ignore[return-value]
