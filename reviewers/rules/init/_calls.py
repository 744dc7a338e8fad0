"""What `init` and package-level initializers run before `main`: the package call graph of GR4xx.

The code that runs while a package initializes is the body of each `func init()` and the
value of each package-level `var`. Inside it, a *region* is what runs synchronously: closures
called on the spot (`func() { ... }()`) are part of it, literals merely passed or stored
(handlers, callbacks) are not, and neither are the bodies of goroutines it starts.

A region's *steps*, in source order, are the blocking effects it has itself (network or
process I/O for GR401, waiting for GR402) and the calls it makes to functions of the same
package, found by name in every file of the package given to the engine. `chains` follows
those calls up to `MAX_DEPTH` functions deep and yields, for each step, the chain of names
that ends in an effect: `loadConfig → http.Get`.

Receivers are typed from their declarations only (a parameter, a local or a package-level
`var`, or the constructor that made them): `client.Do` is I/O when `client` is an
`*http.Client`, `wg.Wait` waiting when `wg` is a `sync.WaitGroup`. Method calls on other
values and calls into other packages are not followed.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property

from tree_sitter import Node

from ...gosource import GoFile, captures
from ...syntax import ancestors, callee, is_inside, qualified_name, top_level_specs, unparen

IO = "io"
WAIT = "wait"
MAX_DEPTH = 3  # package functions between the region and the effect

HTTP_REQUEST = "an HTTP request"
NETWORK_DIAL = "a network dial"

# Package functions that do network I/O, by import path.
IO_FUNCTIONS = {
    **{f"net/http.{name}": HTTP_REQUEST for name in ("Get", "Post", "Head", "PostForm")},
    **{f"net/http.{name}": "a server that runs until it stops" for name in ("ListenAndServe", "ListenAndServeTLS")},
    **{f"net.{name}": NETWORK_DIAL for name in ("Dial", "DialTimeout", "DialTCP", "DialUDP", "DialIP", "DialUnix")},
    **{
        f"net.{name}": "a DNS lookup"
        for name in (
            "LookupHost",
            "LookupIP",
            "LookupAddr",
            "LookupCNAME",
            "LookupMX",
            "LookupTXT",
            "LookupSRV",
            "LookupNS",
        )
    },
    **{f"crypto/tls.{name}": NETWORK_DIAL for name in ("Dial", "DialWithDialer")},
    **{f"net/rpc.{name}": NETWORK_DIAL for name in ("Dial", "DialHTTP", "DialHTTPPath")},
    "net/rpc/jsonrpc.Dial": NETWORK_DIAL,
    "net/smtp.Dial": NETWORK_DIAL,
    "net/smtp.SendMail": "an SMTP exchange",
}
GRPC_DIALS = frozenset({"google.golang.org/grpc.Dial", "google.golang.org/grpc.DialContext"})
GRPC_WITH_BLOCK = "google.golang.org/grpc.WithBlock"

# What a receiver of a known kind does when one of these methods is called.
KIND_METHODS = {
    "client": (IO, HTTP_REQUEST, frozenset({"Do", "Get", "Post", "Head", "PostForm"})),
    "db": (
        IO,
        "a database round trip",
        frozenset(
            {
                "Ping",
                "PingContext",
                "Query",
                "QueryContext",
                "QueryRow",
                "QueryRowContext",
                "Exec",
                "ExecContext",
                "Prepare",
                "PrepareContext",
                "Begin",
                "BeginTx",
                "Conn",
            }
        ),
    ),
    "cmd": (IO, "a child process", frozenset({"Run", "Output", "CombinedOutput", "Wait"})),
    "dialer": (IO, NETWORK_DIAL, frozenset({"Dial", "DialContext"})),
    "waitgroup": (WAIT, "a wait for other goroutines", frozenset({"Wait"})),
    "cond": (WAIT, "a `sync.Cond` wait", frozenset({"Wait"})),
}
CLIENT_PINGS = frozenset({"Ping", "PingContext"})  # a client's health check, whatever the client

KIND_OF_TYPE = {
    "net/http.Client": "client",
    "database/sql.DB": "db",
    "os/exec.Cmd": "cmd",
    "net.Dialer": "dialer",
    "sync.WaitGroup": "waitgroup",
    "golang.org/x/sync/errgroup.Group": "waitgroup",
    "sync.Cond": "cond",
}
KIND_OF_CALL = {
    "database/sql.Open": "db",
    "database/sql.OpenDB": "db",
    "os/exec.Command": "cmd",
    "os/exec.CommandContext": "cmd",
    "sync.NewCond": "cond",
    "golang.org/x/sync/errgroup.WithContext": "waitgroup",
}
# Channels: made unbuffered, made buffered, or declared (buffer unknown).
UNBUFFERED, BUFFERED, CHANNEL = "chan", "buffered chan", "chan var"


@dataclass(frozen=True)
class Effect:
    node: Node  # the call or statement that blocks
    what: str  # how the chain names it: `http.Get`, `client.Do`, `<-ready`, `wg.Wait`
    kind: str  # IO or WAIT
    detail: str  # "an HTTP request", "a channel receive"...


@dataclass(frozen=True)
class Step:
    node: Node
    effect: Effect | None = None
    function: str | None = None  # a package function called here


@dataclass(frozen=True)
class Chain:
    site: Node  # the node of the region to report: the effect itself or the call leading to it
    names: tuple[str, ...]  # ("loadConfig", "http.Get")
    effect: Effect

    def text(self, origin: str) -> str:
        return " → ".join((origin, *self.names))

    @property
    def direct(self) -> bool:
        return len(self.names) == 1


# -- the code that runs during initialization --------------------------------------------------
def package_name(file: GoFile) -> str | None:
    def build() -> str | None:
        clause = next((c for c in file.root.named_children if c.type == "package_clause"), None)
        return file.text(clause.named_children[0]) if clause is not None and clause.named_children else None

    return file.cached("init.package_name", build)


def _top_level_functions(file: GoFile) -> list[tuple[str, Node]]:
    """(name, declaration) of the file's functions (not methods), in source order."""
    return file.cached(
        "init.top_level_functions",
        lambda: [
            (file.text(node.child_by_field_name("name")), node)
            for node in file.root.named_children
            if node.type == "function_declaration"
        ],
    )


def init_functions(file: GoFile) -> list[Node]:
    return [node for name, node in _top_level_functions(file) if name == "init"]


@dataclass(frozen=True)
class Initializer:
    spec: Node  # the var_spec
    names: tuple[str, ...]
    value: Node  # the expression list after `=`


def package_initializers(file: GoFile) -> list[Initializer]:
    """The package-level `var` specs that have a value."""
    return [
        Initializer(spec, tuple(file.text(n) for n in spec.children_by_field_name("name")), value)
        for spec in top_level_specs(file)
        if (value := spec.child_by_field_name("value")) is not None
    ]


def runs_with(node: Node, root: Node) -> bool:
    """Whether `node` runs when the region under `root` runs: it is not inside a function
    literal that is only stored or passed on, nor the call or body of a started goroutine
    (its arguments are evaluated by the starter)."""
    current = node
    while current is not None and current.id != root.id:
        parent = current.parent
        if current.type == "func_literal" and not _called_on_the_spot(current):
            return False
        if parent is not None and parent.type == "go_statement":
            arguments = current.child_by_field_name("arguments") if current.type == "call_expression" else None
            if arguments is None or node.id == current.id or not is_inside(node, arguments):
                return False
        current = parent
    return True


def region_captures(pattern: str, root: Node) -> list[Node]:
    """The nodes a one-capture query finds under `root` (itself included) that run with it."""
    return [node for node in captures(pattern, root).get("node", []) if runs_with(node, root)]


def _called_on_the_spot(literal: Node) -> bool:
    parent = literal.parent
    function = (
        parent.child_by_field_name("function") if parent is not None and parent.type == "call_expression" else None
    )
    return function is not None and function.id == literal.id


# -- kinds of values ---------------------------------------------------------------------------
def kind_of_type(file: GoFile, type_node: Node | None) -> str | None:
    if type_node is None:
        return None
    if type_node.type == "pointer_type" and type_node.named_children:
        type_node = type_node.named_children[0]
    if type_node.type == "channel_type":
        return CHANNEL
    return KIND_OF_TYPE.get(qualified_name(file, type_node) or "")


def kind_of_value(file: GoFile, value: Node, package: Package | None = None) -> str | None:
    """The kind of a value from how it is made; with `package`, also from the declared result
    of the package function that returns it (`db := openDB()`)."""
    value = unparen(value)
    if value.type == "unary_expression" and file.text(value.child_by_field_name("operator")) == "&":
        value = unparen(value.child_by_field_name("operand"))
    if value.type == "composite_literal":
        return kind_of_type(file, value.child_by_field_name("type"))
    if value.type == "selector_expression":
        return "client" if qualified_name(file, value) == "net/http.DefaultClient" else None
    if value.type != "call_expression":
        return None
    function = value.child_by_field_name("function")
    arguments = [a for a in value.child_by_field_name("arguments").named_children if a.type != "comment"]
    if function is not None and function.type == "identifier" and arguments:
        if file.text(function) == "new":
            return kind_of_type(file, arguments[0])
        if file.text(function) == "make" and arguments[0].type == "channel_type":
            unbuffered = len(arguments) == 1 or file.text(arguments[1]) == "0"
            return UNBUFFERED if unbuffered else BUFFERED
    if function is not None and function.type == "identifier" and package is not None:
        return package.result_kind(file.text(function))
    return KIND_OF_CALL.get(qualified_name(file, value) or "")


DECLARATIONS = """
[(parameter_declaration) (variadic_parameter_declaration) (var_spec) (short_var_declaration)
 (range_clause) (const_spec)] @declaration
"""


def declared_kinds(
    file: GoFile, root: Node, top: bool = False, package: Package | None = None
) -> dict[str, str | None]:
    """Names declared under `root` (parameters and variables, closures included; with `top`,
    only `root` itself) with the kind their type or value gives; None where it is unknown."""
    kinds: dict[str, str | None] = {}
    for declaration in [root] if top else captures(DECLARATIONS, root).get("declaration", []):
        if declaration.type in ("short_var_declaration", "range_clause"):
            left, right = declaration.child_by_field_name("left"), declaration.child_by_field_name("right")
            names = list(left.named_children) if left is not None else []
            values = list(right.named_children) if right is not None and right.type == "expression_list" else []
            if declaration.type == "range_clause" and not any(c.type == ":=" for c in declaration.children):
                continue
        else:
            names = declaration.children_by_field_name("name")
            value = declaration.child_by_field_name("value")
            values = list(value.named_children) if value is not None else []
        type_kind = kind_of_type(file, declaration.child_by_field_name("type"))
        for index, name in enumerate(names):
            if name.type != "identifier":
                continue
            if len(values) == len(names):
                kind = kind_of_value(file, values[index], package) or type_kind
            elif index == 0 and len(values) == 1:
                kind = kind_of_value(file, values[0], package) or type_kind
            else:
                kind = type_kind
            kinds[file.text(name)] = kind
    return kinds


# -- the package ---------------------------------------------------------------------------------
@dataclass
class Package:
    """The package's functions and package-level variables by name, and memoized walks."""

    files: list[GoFile]
    functions: dict[str, list[tuple[GoFile, Node]]] = field(default_factory=dict)
    steps: dict[tuple[str, int], list[Step]] = field(default_factory=dict)
    reached: dict[tuple, tuple[tuple[str, ...], Effect] | None] = field(default_factory=dict)

    @cached_property
    def variables(self) -> dict[str, str | None]:
        """Package-level variables -> their kind. Built on first use: few regions have a
        method call, send or range on a name they do not declare."""
        variables: dict[str, str | None] = {}
        for member in self.files:
            for spec in top_level_specs(member):
                variables.update(declared_kinds(member, spec, top=True, package=self))
        return variables

    def result_kind(self, function_name: str) -> str | None:
        """The kind of the first result of a package function: `*sql.DB` for `openDB`."""
        for file, function in self.functions.get(function_name, [])[:1]:
            result = function.child_by_field_name("result")
            if result is not None and result.type == "parameter_list":
                first = result.named_children[0] if result.named_children else None
                result = first.child_by_field_name("type") if first is not None else None
            return kind_of_type(file, result)
        return None


def package_of(file: GoFile) -> Package:
    """The package index, built once for the package and shared by its files."""
    return file.cached("init.package", lambda: _shared_package(file))


def _shared_package(file: GoFile) -> Package:
    name = package_name(file)
    # A file rebuilt from diff hunks may not show its package clause: it is given the benefit.
    files = [f for f in file.package_files if f is file or package_name(f) in (name, None)] or [file]

    def build() -> Package:
        package = Package(files)
        for member in files:
            # A file's functions by name (the last of a name wins), `init` aside: it is not called.
            by_name = {
                function_name: node for function_name, node in _top_level_functions(member) if function_name != "init"
            }
            for function_name, node in by_name.items():
                package.functions.setdefault(function_name, []).append((member, node))
        return package

    # The files of one package clause are the same for each of them: the key says which.
    return file.package_cached(f"init.package.{name}", build)


# -- effects -----------------------------------------------------------------------------------------
def _is_case_communication(node: Node) -> bool:
    """Whether `node` is (part of) the send or receive of a `select` case: the select blocks,
    not the case."""
    for ancestor in ancestors(node):
        if ancestor.type == "communication_case":
            communication = ancestor.child_by_field_name("communication")
            return communication is not None and is_inside(node, communication)
        if ancestor.type in ("block", "statement_list", "func_literal"):
            return False
    return False


def _short(file: GoFile, node: Node) -> str:
    """A call's callee for a chain: `client.Do`, `exec.Command(...).Run`."""
    function = unparen(node.child_by_field_name("function"))
    if function.type == "selector_expression":
        operand = unparen(function.child_by_field_name("operand"))
        field_name = file.text(function.child_by_field_name("field"))
        if operand.type == "call_expression":
            return f"{_short(file, operand)}(...).{field_name}"
        if operand.type in ("identifier", "selector_expression"):
            return f"{file.text(operand)}.{field_name}"
        return f"(...).{field_name}"
    return callee(file, node)


class _Kinds:
    """Kinds of names in a region: its own declarations first, then the package's variables."""

    def __init__(self, local: dict[str, str | None], package: Package):
        self.local = local
        self.package = package

    def declared_locally(self, name: str) -> bool:
        return name in self.local

    def of(self, file: GoFile, operand: Node) -> str | None:
        operand = unparen(operand)
        if operand.type == "identifier":
            name = file.text(operand)
            return self.local[name] if name in self.local else self.package.variables.get(name)
        return kind_of_value(file, operand)


def _call_effect(file: GoFile, call: Node, kinds: _Kinds) -> Effect | None:
    qualified = qualified_name(file, call)
    if qualified in IO_FUNCTIONS:
        return Effect(call, callee(file, call), IO, IO_FUNCTIONS[qualified])
    if qualified in GRPC_DIALS:
        options = call.child_by_field_name("arguments")
        if any(
            qualified_name(file, c) == GRPC_WITH_BLOCK for c in captures("(call_expression) @c", options).get("c", [])
        ):
            return Effect(call, callee(file, call), IO, "a blocking gRPC dial (`WithBlock`)")
        return None
    if qualified == "time.Sleep":
        return Effect(call, callee(file, call), WAIT, "a `time.Sleep`")
    function = unparen(call.child_by_field_name("function"))
    if function.type != "selector_expression" or qualified is not None:
        return None
    method = file.text(function.child_by_field_name("field"))
    kind = kinds.of(file, function.child_by_field_name("operand"))
    if kind in KIND_METHODS and method in KIND_METHODS[kind][2]:
        effect_kind, detail, _ = KIND_METHODS[kind]
        return Effect(call, _short(file, call), effect_kind, detail)
    if method in CLIENT_PINGS:
        return Effect(call, _short(file, call), IO, "a client ping")
    return None


def _effect(file: GoFile, node: Node, kinds: _Kinds) -> Effect | None:
    if node.type == "call_expression":
        return _call_effect(file, node, kinds)
    if node.type == "select_statement":
        cases = [c for c in node.named_children if c.type in ("communication_case", "default_case")]
        if any(c.type == "default_case" for c in cases):
            return None
        return Effect(node, "select {}" if not cases else "select", WAIT, "a `select` without `default`")
    if node.type == "unary_expression" and file.text(node.child_by_field_name("operator")) == "<-":
        if _is_case_communication(node):
            return None
        return Effect(node, file.text(node), WAIT, "a channel receive")
    if node.type == "send_statement":
        channel = node.child_by_field_name("channel")
        if _is_case_communication(node) or kinds.of(file, channel) == BUFFERED:
            return None
        return Effect(node, f"{file.text(channel)} <- ...", WAIT, "a channel send")
    if node.type == "for_statement":
        clause = next((c for c in node.named_children if c.type == "range_clause"), None)
        ranged = clause.child_by_field_name("right") if clause is not None else None
        if ranged is not None and kinds.of(file, ranged) in (UNBUFFERED, BUFFERED, CHANNEL):
            return Effect(node, f"range {file.text(ranged)}", WAIT, "a range over a channel")
    return None


STEP_CANDIDATES = """
[(call_expression) (unary_expression operator: "<-") (send_statement) (select_statement)
 (for_statement (range_clause))] @node
"""


def region_steps(file: GoFile, root: Node, declarations: Node | None = None) -> list[Step]:
    """The effects and package calls of the region under `root`, in source order.
    `declarations` is where its local names are declared (the function, by default `root`)."""
    candidates = region_captures(STEP_CANDIDATES, root)
    if not candidates:
        return []
    package = package_of(file)
    kinds = _Kinds(declared_kinds(file, declarations or root, package=package), package)
    steps = []
    for node in candidates:
        effect = _effect(file, node, kinds)
        if effect is not None:
            steps.append(Step(node, effect=effect))
            continue
        function = node.child_by_field_name("function") if node.type == "call_expression" else None
        if function is not None and function.type == "identifier":
            name = file.text(function)
            if name in package.functions and not kinds.declared_locally(name):
                steps.append(Step(node, function=name))
    return steps


def _function_steps(package: Package, file: GoFile, function: Node) -> list[Step]:
    key = (file.path, function.start_byte)
    if key not in package.steps:
        body = function.child_by_field_name("body")
        package.steps[key] = region_steps(file, body, function) if body is not None else []
    return package.steps[key]


Found = tuple[tuple[str, ...], Effect]


def _reach(
    package: Package, file: GoFile, function: Node, wanted: tuple[str, ...], depth: int, visiting: frozenset
) -> Found | None:
    """The first chain from inside `function` to a `wanted` effect, `depth` calls deep at most."""
    key = (file.path, function.start_byte, wanted, depth)
    if key not in package.reached:
        steps = _function_steps(package, file, function)
        inner = visiting | {key[:2]}
        package.reached[key] = next(
            (found for step in steps if (found := _step_chain(package, step, wanted, depth, inner)) is not None), None
        )
    return package.reached[key]


def _step_chain(package: Package, step: Step, wanted: tuple[str, ...], depth: int, visiting: frozenset) -> Found | None:
    if step.effect is not None:
        return ((step.effect.what,), step.effect) if step.effect.kind in wanted else None
    if depth <= 0 or step.function is None:
        return None
    for member, target in package.functions.get(step.function, []):
        if (member.path, target.start_byte) in visiting:
            continue
        tail = _reach(package, member, target, wanted, depth - 1, visiting)
        if tail is not None:
            return (step.function, *tail[0]), tail[1]
    return None


def chains(file: GoFile, root: Node, wanted: tuple[str, ...], declarations: Node | None = None) -> Iterator[Chain]:
    """For each step of the region under `root` that blocks (an effect of a `wanted` kind, or a call
    of a package function that leads to one within MAX_DEPTH calls), the chain to it."""
    steps = region_steps(file, root, declarations)
    if not steps:
        return  # spares building the package's index
    package = package_of(file)
    for step in steps:
        # Deepening one level at a time gives the shortest chain.
        depths = range(MAX_DEPTH + 1) if step.function is not None else (0,)
        found = next((f for d in depths if (f := _step_chain(package, step, wanted, d, frozenset())) is not None), None)
        if found is not None:
            yield Chain(step.node, *found)


def init_chains(file: GoFile, kind: str) -> Iterator[Chain]:
    """The blocking chains of `kind` (IO or WAIT) from every `func init()` of the file."""
    for function in init_functions(file):
        body = function.child_by_field_name("body")
        if body is not None:
            yield from chains(file, body, (kind,), function)


def initializer_chains(file: GoFile) -> Iterator[tuple[Initializer, Chain]]:
    """For each package-level `var` whose value blocks (I/O or waiting), its first chain."""
    for initializer in package_initializers(file):
        found = next(chains(file, initializer.value, (IO, WAIT), initializer.value), None)
        if found is not None:
            yield initializer, found


def reached_through(chain: Chain) -> str:
    """`` through `loadConfig()` `` for a chain that goes through a package function, else ""."""
    return "" if chain.direct else f" through `{chain.names[0]}()`"
