"""Effects: whether code blocks — does network, process or file I/O, dials, or waits for
another goroutine — itself or through the package's functions it calls.

A *region* is the code that runs synchronously when a function (or an expression, such as a
package-level `var`'s initializer) runs: function literals called on the spot (`func() {...}()`,
`defer func() {...}()`) are part of it; literals only stored or passed on (handlers,
callbacks) are not, nor are the goroutines it starts (`go f(x)` evaluates `x` in the region
and runs `f` outside it).

A region's *steps*, in source order, are its blocking effects — the library calls of
`FUNCTIONS` and `METHODS` (receivers typed by types.py), channel receives, sends on channels
not known to be buffered, ranges over channels, `select` without `default`, a mutex locked
again where the region surely holds it — and its calls of the package's functions
(`Facts.callee`: functions, methods, method values, local literals).
`Effects.chain` follows those calls `MAX_DEPTH` functions deep and gives the shortest chain
to an effect of the kinds asked: `loadConfig → fetch → http.Get`. Answers are memoised per
package and depth; each depth asks only the one below it, so call cycles end.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tree_sitter import Node

from ..gosource import GoFile
from ..syntax import call_method_name, callee, has_default, qualified_name, surely_ran_before, unparen
from .package import Declared
from .places import Place, place_of
from .types import MUTEXES

if TYPE_CHECKING:
    from .package import Package

# Kinds of effect.
NETWORK, DIAL, PROCESS, FILE, WAIT = "network", "dial", "process", "file", "wait"
# I/O that waits on another machine or process, for as long as it likes.
REMOTE = frozenset({NETWORK, DIAL, PROCESS})
MAX_DEPTH = 3  # package functions between a region and the effect it reaches

HTTP_REQUEST = "an HTTP request"
NETWORK_DIAL = "a network dial"
DATABASE = "a database round trip"
SERVING = "a server that runs until it stops"
GROUP_WAIT = "a wait for other goroutines"

# Library functions that block, by qualified name: (kind, how a message says it).
FUNCTIONS: dict[str, tuple[str, str]] = {
    **{f"net/http.{name}": (NETWORK, HTTP_REQUEST) for name in ("Get", "Post", "Head", "PostForm")},
    **{f"net/http.{name}": (NETWORK, SERVING) for name in ("ListenAndServe", "ListenAndServeTLS", "Serve")},
    **{f"net.{name}": (DIAL, NETWORK_DIAL) for name in ("Dial", "DialTimeout", "DialTCP", "DialUDP", "DialIP")},
    "net.DialUnix": (DIAL, NETWORK_DIAL),
    **{
        f"net.{name}": (NETWORK, "a DNS lookup")
        for name in ("LookupHost", "LookupIP", "LookupAddr", "LookupCNAME", "LookupMX", "LookupTXT", "LookupSRV")
    },
    "net.LookupNS": (NETWORK, "a DNS lookup"),
    **{f"crypto/tls.{name}": (DIAL, NETWORK_DIAL) for name in ("Dial", "DialWithDialer")},
    **{f"net/rpc.{name}": (DIAL, NETWORK_DIAL) for name in ("Dial", "DialHTTP", "DialHTTPPath")},
    "net/rpc/jsonrpc.Dial": (DIAL, NETWORK_DIAL),
    "net/smtp.Dial": (DIAL, NETWORK_DIAL),
    "net/smtp.SendMail": (NETWORK, "an SMTP exchange"),
    **{
        f"{package}.{name}": (FILE, "file I/O")
        for package in ("os", "io/ioutil")
        for name in ("ReadFile", "WriteFile", "ReadDir")
    },
    **{f"os.{name}": (FILE, "file I/O") for name in ("Open", "OpenFile", "Create")},
    "time.Sleep": (WAIT, "a `time.Sleep`"),
}
# gRPC dials only block with the `WithBlock` option.
GRPC_DIALS = frozenset({"google.golang.org/grpc.Dial", "google.golang.org/grpc.DialContext"})
GRPC_WITH_BLOCK = "google.golang.org/grpc.WithBlock"

_SQL_CALLS = frozenset(
    f"{verb}{suffix}" for verb in ("Query", "QueryRow", "Exec", "Prepare") for suffix in ("", "Context")
)
# Library methods that block, by (receiver type, method): (kind, how a message says it).
METHODS: dict[tuple[str, str], tuple[str, str]] = {
    **{("net/http.Client", name): (NETWORK, HTTP_REQUEST) for name in ("Do", "Get", "Post", "Head", "PostForm")},
    ("net/http.Transport", "RoundTrip"): (NETWORK, HTTP_REQUEST),
    ("net/http.RoundTripper", "RoundTrip"): (NETWORK, HTTP_REQUEST),
    **{
        ("net/http.Server", name): (NETWORK, SERVING)
        for name in ("ListenAndServe", "ListenAndServeTLS", "Serve", "ServeTLS")
    },
    **{(f"database/sql.{owner}", name): (NETWORK, DATABASE) for owner in ("DB", "Conn", "Tx") for name in _SQL_CALLS},
    **{
        ("database/sql.Stmt", name): (NETWORK, DATABASE)
        for name in ("Query", "QueryContext", "QueryRow", "QueryRowContext", "Exec", "ExecContext")
    },
    **{("database/sql.DB", name): (NETWORK, DATABASE) for name in ("Ping", "PingContext", "Begin", "BeginTx", "Conn")},
    **{("database/sql.Conn", name): (NETWORK, DATABASE) for name in ("PingContext", "BeginTx")},
    **{("database/sql.Tx", name): (NETWORK, DATABASE) for name in ("Commit", "Rollback")},
    **{("os/exec.Cmd", name): (PROCESS, "a child process") for name in ("Run", "Output", "CombinedOutput", "Wait")},
    **{("net.Dialer", name): (DIAL, NETWORK_DIAL) for name in ("Dial", "DialContext")},
    ("sync.WaitGroup", "Wait"): (WAIT, GROUP_WAIT),
    ("golang.org/x/sync/errgroup.Group", "Wait"): (WAIT, GROUP_WAIT),
    ("sync.Cond", "Wait"): (WAIT, "a `sync.Cond` wait"),
}
# A client's health check, whatever the client: its library is rarely in the package.
CLIENT_PINGS = frozenset({"Ping", "PingContext"})

_STEP_TYPES = ("call_expression", "unary_expression", "send_statement", "select_statement", "range_clause")


@dataclass(frozen=True)
class Effect:
    kind: str  # NETWORK, DIAL, PROCESS, FILE or WAIT
    detail: str  # how a message says it: "an HTTP request", "a channel receive"
    what: str  # how a chain names it: `http.Get`, `client.Do`, `<-ready`, `wg.Wait`
    node: Node  # the call or statement that blocks


@dataclass(frozen=True)
class Step:
    node: Node
    effect: Effect | None = None
    callee: Declared | None = None  # a function of the package called here
    name: str = ""  # the callee as the call spells it: `loadConfig`, `s.refresh`


@dataclass(frozen=True)
class Chain:
    site: Node  # the step of the region: the effect itself or the call that leads to it
    names: tuple[str, ...]  # ("loadConfig", "http.Get")
    effect: Effect

    def text(self, origin: str) -> str:
        return " → ".join((origin, *self.names))

    @property
    def direct(self) -> bool:
        return len(self.names) == 1


class Effects:
    def __init__(self, package: Package):
        self.package = package
        self._steps: dict[int, list[Step]] = {}
        self._within: dict[tuple[int, frozenset[str], int], Chain | None] = {}

    # -- what a function reaches -----------------------------------------------------------------
    def chain(self, declared: Declared, kinds: Collection[str], depth: int = MAX_DEPTH) -> Chain | None:
        """The shortest chain from inside the function to an effect of one of `kinds`,
        through at most `depth` calls of the package's functions; None when there is none."""
        wanted = frozenset(kinds)
        return next((c for d in range(depth + 1) if (c := self._reach(declared, wanted, d)) is not None), None)

    def region_chains(self, file: GoFile, root: Node, kinds: Collection[str], depth: int = MAX_DEPTH) -> list[Chain]:
        """For each step of the region under `root` that reaches an effect of one of `kinds`,
        the shortest chain to it, in source order."""
        wanted = frozenset(kinds)
        found = []
        for step in self.steps(file, root):
            depths = range(depth + 1) if step.callee is not None else (0,)
            chain = next((c for d in depths if (c := self._step_chain(step, wanted, d)) is not None), None)
            if chain is not None:
                found.append(chain)
        return found

    def _reach(self, declared: Declared, kinds: frozenset[str], depth: int) -> Chain | None:
        """The first step of the function that reaches an effect within `depth` calls."""
        key = (declared.node.id, kinds, depth)
        if key not in self._within:
            steps = self.steps(declared.file, declared.node)
            self._within[key] = next(
                (c for step in steps if (c := self._step_chain(step, kinds, depth)) is not None), None
            )
        return self._within[key]

    def _step_chain(self, step: Step, kinds: frozenset[str], depth: int) -> Chain | None:
        if step.effect is not None:
            return Chain(step.node, (step.effect.what,), step.effect) if step.effect.kind in kinds else None
        if step.callee is None or depth == 0:
            return None
        inner = self._reach(step.callee, kinds, depth - 1)
        return Chain(step.node, (step.name, *inner.names), inner.effect) if inner is not None else None

    # -- what a region does itself ---------------------------------------------------------------
    def steps(self, file: GoFile, root: Node) -> list[Step]:
        """The effects and package calls of the region under `root`, in source order."""
        if root.id not in self._steps:
            self._steps[root.id] = self._region_steps(file, root)
        return self._steps[root.id]

    def _region_steps(self, file: GoFile, root: Node) -> list[Step]:
        # A `select` case's send or receive is the select's to wait on, not its own.
        communications = [
            communication
            for case in file.nodes("communication_case", within=root)
            if (communication := case.child_by_field_name("communication")) is not None
        ]
        nodes = running_nodes(file, root, _STEP_TYPES)
        in_cases = _inside([n for n in nodes if n.type in ("unary_expression", "send_statement")], communications)
        steps = []
        locks = _HeldLocks(self.package, file)
        for node in nodes:
            if node.id in in_cases:
                continue
            effect = self._effect(file, node) or (locks.relock(node) if node.type == "call_expression" else None)
            if effect is not None:
                steps.append(Step(node, effect=effect))
                continue
            function = node.child_by_field_name("function") if node.type == "call_expression" else None
            if function is None or unparen(function).type == "func_literal":
                continue  # a literal called on the spot is part of the region
            called = self.package.facts.callee(file, node)
            if called is not None:
                steps.append(Step(node, callee=called, name=callee(file, node)))
                locks.held.clear()  # it may unlock them
        return steps

    def _effect(self, file: GoFile, node: Node) -> Effect | None:
        if node.type == "call_expression":
            return self._call_effect(file, node)
        if node.type == "select_statement":
            if has_default(node):
                return None
            cases = [c for c in node.named_children if c.type == "communication_case"]
            return Effect(WAIT, "a `select` without `default`", "select" if cases else "select {}", node)
        if node.type == "unary_expression":
            operator = node.child_by_field_name("operator")
            if operator is None or file.text(operator) != "<-":
                return None
            return Effect(WAIT, "a channel receive", file.text(node), node)
        if node.type == "send_statement":
            channel = node.child_by_field_name("channel")
            if channel is None or self.package.values.capacity(file, channel) not in (0, None):
                return None  # made buffered
            return Effect(WAIT, "a channel send", f"{file.text(channel)} <- ...", node)
        ranged = node.child_by_field_name("right")  # a range clause
        ranged_type = self.package.type_of(file, ranged) if ranged is not None else None
        if ranged is None or ranged_type is None or ranged_type.kind != "chan":
            return None
        return Effect(WAIT, "a range over a channel", f"range {file.text(ranged)}", node)

    def _call_effect(self, file: GoFile, call: Node) -> Effect | None:
        qualified = qualified_name(file, call)
        if qualified in FUNCTIONS:
            kind, detail = FUNCTIONS[qualified]
            return Effect(kind, detail, callee(file, call), call)
        if qualified in GRPC_DIALS:
            options = call.child_by_field_name("arguments")
            calls = file.nodes("call_expression", within=options) if options is not None else []
            if any(qualified_name(file, option) == GRPC_WITH_BLOCK for option in calls):
                return Effect(DIAL, "a blocking gRPC dial (`WithBlock`)", callee(file, call), call)
            return None
        function = call.child_by_field_name("function")
        function = unparen(function) if function is not None else None
        if function is None or function.type != "selector_expression" or qualified is not None:
            return None
        operand, field = function.child_by_field_name("operand"), function.child_by_field_name("field")
        if operand is None or field is None:
            return None
        method = file.text(field)
        owner = self.package.type_of(file, operand)
        known = METHODS.get((owner.deref().name, method)) if owner is not None else None
        if known is not None:
            return Effect(*known, _short(file, call), call)
        if method in CLIENT_PINGS:
            return Effect(NETWORK, "a client ping", _short(file, call), call)
        return None


class _HeldLocks:
    """The mutexes a region holds as its nodes run in source order: locking one again where
    the first lock surely ran, with no unlock in between, waits for ever."""

    def __init__(self, package: Package, file: GoFile):
        self.package, self.file = package, file
        self.held: dict[Place, Node] = {}  # the mutex -> the call that locked it

    def relock(self, call: Node) -> Effect | None:
        file = self.file
        function = call.child_by_field_name("function")
        operand = function.child_by_field_name("operand") if function is not None else None
        method = call_method_name(file, call)
        if operand is None or method not in ("Lock", "RLock", "Unlock", "RUnlock"):
            return None
        mutex = self.package.type_of(file, operand)
        place = place_of(self.package, file, operand) if mutex is not None and mutex.is_named(*MUTEXES) else None
        if place is None:
            return None
        if method in ("Unlock", "RUnlock"):
            statement = file.parent(call)
            if statement is None or statement.type != "defer_statement":  # a deferred one runs at the end
                self.held.pop(place, None)
            return None
        first = self.held.get(place)
        self.held[place] = call
        if first is None or (method == "RLock" and call_method_name(file, first) == "RLock"):
            return None
        if not surely_ran_before(file, file.parent(first), call):
            return None
        return Effect(WAIT, "a lock it already holds", _short(file, call), call)


def running_nodes(file: GoFile, root: Node, node_types: tuple[str, ...]) -> list[Node]:
    """The nodes of these (indexed) types under `root` that run when it runs, in source order:
    not inside a function literal only stored or passed on, nor the call a `go` statement
    starts (its arguments are evaluated by the starter)."""
    skipped = [
        literal
        for literal in file.nodes("func_literal", within=root)
        if literal.id != root.id and not _called_on_the_spot(file, literal)
    ]
    started = {call.id for go in file.nodes("go_statement", within=root) for call in go.named_children}
    found = [node for node_type in node_types for node in file.nodes(node_type, within=root)]
    found.sort(key=lambda n: (n.start_byte, -n.end_byte))
    left_out = started | _inside(found, skipped)
    return [node for node in found if node.id not in left_out]


def _called_on_the_spot(file: GoFile, literal: Node) -> bool:
    """`func() {...}()` or `defer func() {...}()`, not `go func() {...}()`."""
    call = file.parent(literal)
    if call is None or call.type != "call_expression":
        return False
    function = call.child_by_field_name("function")
    starter = file.parent(call)
    return function is not None and function.id == literal.id and (starter is None or starter.type != "go_statement")


def _inside(nodes: list[Node], containers: list[Node]) -> set[int]:
    """The ids of the nodes (in source order) that one of the containers holds: one sweep
    over both, so a region with many literals costs its size, not a product."""
    spans: list[tuple[int, int]] = []
    for container in sorted(containers, key=lambda c: c.start_byte):
        if not spans or container.end_byte > spans[-1][1]:  # not nested in the last one
            spans.append((container.start_byte, container.end_byte))
    found, index = set(), 0
    for node in nodes:
        while index < len(spans) and spans[index][1] <= node.start_byte:
            index += 1
        if index < len(spans) and spans[index][0] <= node.start_byte and node.end_byte <= spans[index][1]:
            found.add(node.id)
    return found


def _short(file: GoFile, call: Node) -> str:
    """A method call as a chain names it: `client.Do`, `exec.Command(...).Run`."""
    function = call.child_by_field_name("function")
    function = unparen(function) if function is not None else None
    if function is None or function.type != "selector_expression":
        return callee(file, call)
    operand, field = function.child_by_field_name("operand"), function.child_by_field_name("field")
    name = file.text(field) if field is not None else ""
    operand = unparen(operand) if operand is not None else None
    if operand is not None and operand.type == "call_expression":
        return f"{_short(file, operand)}(...).{name}"
    if operand is not None and operand.type in ("identifier", "selector_expression"):
        return f"{file.text(operand)}.{name}"
    return f"(...).{name}"
