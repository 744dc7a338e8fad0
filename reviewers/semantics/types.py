"""Types: a best-effort static type for an expression, as far as the package shows it.

Declared types (parameters, `items ...T` as a `[]T`, `var x T`, struct fields, results of the
package's functions and methods), composite literals, `make`, `new`, conversions (`(*T)(p)`
included), `&`/`*`, `<-ch`, indexing, type assertions, arithmetic (an untyped constant takes
the other operand's type: `off + uintptr(p)` is a uintptr), and the results of the
standard-library calls goreef's rules are about (`LIBRARY` below, `unsafe` and the addresses
`reflect` gives included). Package names are spelled by import path (`net/http.Response`), the package's own
types by their bare name (`Server`). Anything else is unknown (`None`), and a rule that
needs a type stays quiet on an unknown.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import cached_property
from typing import TYPE_CHECKING

from tree_sitter import Node

from ..gosource import GoFile
from ..syntax import unparen
from .names import ALIAS, CONSTANT, FUNCTION, IMPORT, RANGE, RECEIVED, TYPE, Binding

if TYPE_CHECKING:
    from .package import Package


@dataclass(frozen=True)
class Type:
    """A Go type: `kind` is named, basic, pointer, slice, array, map, chan, func, tuple,
    struct, interface or package (an import's name). `detached` marks an `*http.Response`
    that holds no connection (`httptest.ResponseRecorder.Result()`)."""

    kind: str
    name: str = ""  # named: `net/http.Response` or `Server`; basic: `int`, `uintptr`...
    elem: Type | None = None  # pointer, slice, array, chan: the element; map: the value
    key: Type | None = None  # map
    direction: str = ""  # chan: "" (both), "send" or "receive"
    items: tuple[Type | None, ...] = ()  # tuple members; func results
    detached: bool = False

    def deref(self) -> Type:
        return self.elem if self.kind == "pointer" and self.elem is not None else self

    def is_named(self, *names: str) -> bool:
        """Whether the type, or what it points to, is one of the named types."""
        target = self.deref()
        return target.kind == "named" and target.name in names

    def result(self, index: int = 0) -> Type | None:
        """A function type's result, or a tuple's member."""
        items = self.items if self.kind in ("tuple", "func") else (self,)
        return items[index] if index < len(items) else None

    def __str__(self) -> str:
        if self.kind in ("named", "basic", "package"):
            return self.name
        if self.kind == "pointer":
            return f"*{self.elem}"
        if self.kind == "slice":
            return f"[]{self.elem}"
        if self.kind == "array":
            return f"[{self.name}]{self.elem}"
        if self.kind == "map":
            return f"map[{self.key}]{self.elem}"
        if self.kind == "chan":
            return {"send": "chan<- ", "receive": "<-chan "}.get(self.direction, "chan ") + str(self.elem)
        if self.kind == "func":
            return "func(...)" + (f" ({', '.join(map(str, self.items))})" if self.items else "")
        if self.kind == "tuple":
            return "(" + ", ".join(map(str, self.items)) + ")"
        return self.kind


def named(name: str) -> Type:
    return Type("named", name)


def pointer(to: Type) -> Type:
    return Type("pointer", elem=to)


def results(*items: Type | None) -> Type:
    return Type("func", items=tuple(items))


BASIC = frozenset(
    [
        "bool",
        "byte",
        "complex64",
        "complex128",
        "error",
        "float32",
        "float64",
        "int",
        "int8",
        "int16",
        "int32",
        "int64",
        "rune",
        "string",
        "uint",
        "uint8",
        "uint16",
        "uint32",
        "uint64",
        "uintptr",
        "any",
        "comparable",
    ]
)
ERROR = Type("basic", "error")
BOOL = Type("basic", "bool")
INT = Type("basic", "int")
STRING = Type("basic", "string")
UINTPTR = Type("basic", "uintptr")
UNSAFE_POINTER = named("unsafe.Pointer")
REFLECT_VALUE = named("reflect.Value")
CONTEXT = named("context.Context")
CANCEL = named("context.CancelFunc")
CANCEL_CAUSE = named("context.CancelCauseFunc")
RESPONSE = pointer(named("net/http.Response"))
ROWS = pointer(named("database/sql.Rows"))
STMT = pointer(named("database/sql.Stmt"))
TICKER = pointer(named("time.Ticker"))
TIMER = pointer(named("time.Timer"))
TIME_CHANNEL = Type("chan", elem=named("time.Time"), direction="receive")
MUTEXES = ("sync.Mutex", "sync.RWMutex")
LOCKS, UNLOCKS = ("Lock", "RLock"), ("Unlock", "RUnlock")  # their methods that take and release
WAITGROUP = "sync.WaitGroup"
# The `sync` types that must not be copied, and the method sets a struct that embeds one of
# them gets from it (`s.Lock()` locks the embedded `s.Mutex`).
SYNC_METHODS: dict[str, frozenset[str]] = {
    "sync.Mutex": frozenset({"Lock", "Unlock", "TryLock"}),
    "sync.RWMutex": frozenset({"Lock", "Unlock", "TryLock", "RLock", "RUnlock", "TryRLock", "RLocker"}),
    "sync.WaitGroup": frozenset({"Add", "Done", "Wait", "Go"}),
    "sync.Once": frozenset({"Do"}),
    "sync.Cond": frozenset({"Wait", "Signal", "Broadcast"}),
}

# Results of the library calls the rules care about: qualified function, or
# `(receiver type).Method` with the receiver named by import path.
_RESPONSE_AND_ERROR = results(RESPONSE, ERROR)
_QUERIES = {
    f"(*database/sql.{owner}).{method}"
    for owner in ("DB", "Tx", "Conn", "Stmt")
    for method in ("Query", "QueryContext")
}
LIBRARY: dict[str, Type] = {
    **{f"net/http.{name}": _RESPONSE_AND_ERROR for name in ("Get", "Post", "Head", "PostForm")},
    **{f"(*net/http.Client).{name}": _RESPONSE_AND_ERROR for name in ("Do", "Get", "Post", "Head", "PostForm")},
    "(*net/http.Transport).RoundTrip": _RESPONSE_AND_ERROR,
    "(net/http.RoundTripper).RoundTrip": _RESPONSE_AND_ERROR,
    "(*net/http.Request).Context": results(CONTEXT),
    "(*net/http.Request).WithContext": results(pointer(named("net/http.Request"))),
    "net/http.NewRequest": results(pointer(named("net/http.Request")), ERROR),
    "net/http.NewRequestWithContext": results(pointer(named("net/http.Request")), ERROR),
    "net/http/httptest.NewRecorder": results(pointer(named("net/http/httptest.ResponseRecorder"))),
    "(*net/http/httptest.ResponseRecorder).Result": results(replace(RESPONSE, detached=True)),
    # Read from a reader its caller owns (a connection it dialed, a buffer): no transport's
    # connection waits for its Body to be closed.
    "net/http.ReadResponse": results(replace(RESPONSE, detached=True), ERROR),
    "net/http/httptest.NewRequest": results(pointer(named("net/http.Request"))),
    **{query: results(ROWS, ERROR) for query in _QUERIES},
    **{
        f"(*database/sql.{owner}).{method}": results(STMT, ERROR)
        for owner in ("DB", "Tx", "Conn")
        for method in ("Prepare", "PrepareContext")
    },
    "database/sql.Open": results(pointer(named("database/sql.DB")), ERROR),
    "database/sql.OpenDB": results(pointer(named("database/sql.DB"))),
    **{
        f"(*database/sql.{owner}).{method}": results(pointer(named("database/sql.Tx")), ERROR)
        for owner in ("DB", "Conn")
        for method in ("Begin", "BeginTx")
    },
    **{f"os/exec.{name}": results(pointer(named("os/exec.Cmd"))) for name in ("Command", "CommandContext")},
    "sync.NewCond": results(pointer(named("sync.Cond"))),
    "context.Background": results(CONTEXT),
    "context.TODO": results(CONTEXT),
    "context.WithValue": results(CONTEXT),
    "context.WithoutCancel": results(CONTEXT),
    "context.WithCancel": results(CONTEXT, CANCEL),
    "context.WithTimeout": results(CONTEXT, CANCEL),
    "context.WithDeadline": results(CONTEXT, CANCEL),
    "context.WithCancelCause": results(CONTEXT, CANCEL_CAUSE),
    "context.WithTimeoutCause": results(CONTEXT, CANCEL),
    "context.WithDeadlineCause": results(CONTEXT, CANCEL),
    "os/signal.NotifyContext": results(CONTEXT, CANCEL),
    "golang.org/x/sync/errgroup.WithContext": results(pointer(named("golang.org/x/sync/errgroup.Group")), CONTEXT),
    "time.NewTicker": results(TICKER),
    "time.NewTimer": results(TIMER),
    "time.AfterFunc": results(TIMER),
    "time.After": results(TIME_CHANNEL),
    "time.Tick": results(TIME_CHANNEL),
    "(*time.Ticker).C": TIME_CHANNEL,
    "(*time.Timer).C": TIME_CHANNEL,
    "(*net/http.Response).Body": named("io.ReadCloser"),
    "(*net/http.Request).Body": named("io.ReadCloser"),
    # Pointers and the integers that hold addresses (`unsafe.Pointer(x)` is a conversion).
    **{f"unsafe.{name}": results(UNSAFE_POINTER) for name in ("Pointer", "Add")},
    **{f"unsafe.{name}": results(UINTPTR) for name in ("Sizeof", "Offsetof", "Alignof")},
    "unsafe.String": results(STRING),
    "unsafe.StringData": results(pointer(Type("basic", "byte"))),
    **{f"sync/atomic.{name}": results(UNSAFE_POINTER) for name in ("LoadPointer", "SwapPointer")},
    **{f"reflect.{name}": results(REFLECT_VALUE) for name in ("ValueOf", "Indirect")},
    **{f"(reflect.Value).{name}": results(REFLECT_VALUE) for name in ("Elem", "Field", "Index", "Addr")},
    **{f"(reflect.Value).{name}": results(UINTPTR) for name in ("Pointer", "UnsafeAddr")},
    "(reflect.Value).UnsafePointer": results(UNSAFE_POINTER),
}
# Library functions whose result's type is made from their first argument's.
LIBRARY_GENERIC: dict[str, Callable[[Type], Type | None]] = {
    "unsafe.Slice": lambda p: Type("slice", elem=p.elem) if p.kind == "pointer" else None,
    "unsafe.SliceData": lambda s: pointer(s.elem) if s.kind == "slice" and s.elem is not None else None,
}
# Package-level variables of the library.
LIBRARY_VARIABLES: dict[str, Type] = {
    "net/http.DefaultClient": pointer(named("net/http.Client")),
    "net/http.DefaultTransport": named("net/http.RoundTripper"),
}


def _member(owner: Type, name: str) -> str | None:
    """`(*net/http.Client).Do`: how LIBRARY names a method or field of a library type."""
    target = owner.deref()
    if target.kind != "named" or "." not in target.name:
        return None
    bare = target.name in _VALUE_RECEIVERS or (owner.kind != "pointer" and target.name in _INTERFACES)
    return f"({'' if bare else '*'}{target.name}).{name}"


# Library interfaces: their methods are listed without a pointer.
_INTERFACES = frozenset({"net/http.RoundTripper", "context.Context", "io.ReadCloser"})
# Library types whose methods take a value receiver: listed without a pointer, whatever calls them.
_VALUE_RECEIVERS = frozenset({"reflect.Value"})
# Operators whose operands and result share one type (comparisons give a bool; shifts, the
# left operand's type).
_ARITHMETIC = frozenset({"+", "-", "*", "/", "%", "&", "|", "^", "&^"})
_UNTYPED_LITERALS = ("int_literal", "float_literal", "imaginary_literal", "rune_literal")


@dataclass(frozen=True)
class Field:
    """A field of one of the package's struct types: an embedded one is named after its type
    (`Mutex` for `sync.Mutex`, `Base` for `*Base`)."""

    name: str
    type: Type | None
    embedded: bool
    node: Node  # the field declaration


def _spells_sync(file: GoFile) -> bool:
    """Whether the file may write a type of package `sync` (`sync.Mutex`, by the import's
    local name)."""
    names = [local for local, path in file.imports.items() if path == "sync"]
    if file.partial and not file.imports:
        names.append("sync")  # only hunks are known: the conventional name
    return any(f"{name}.".encode() in file.source for name in names)


class Types:
    def __init__(self, package: Package):
        self.package = package
        self._memo: dict[int, Type | None] = {}
        self._resolving: set[int] = set()
        self._fields: dict[str, list[Field]] = {}
        self._holds: dict[str, str | None] = {}
        self._spelled: dict[int, Type | None] = {}  # type node id -> the type it spells

    # -- the package's struct types --------------------------------------------------------------
    def fields(self, type_name: str) -> list[Field]:
        """The fields of a struct type of the package, in order (none for another type)."""
        if type_name not in self._fields:
            declared = self.package.types.get(type_name)
            struct = declared.node.child_by_field_name("type") if declared is not None else None
            found: list[Field] = []
            if declared is not None and struct is not None and struct.type == "struct_type":
                for declaration in _struct_fields(struct):
                    type_node = declaration.child_by_field_name("type")
                    field_type = self.from_node(declared.file, type_node)
                    names = declaration.children_by_field_name("name")
                    for name in names:
                        found.append(Field(declared.file.text(name), field_type, False, declaration))
                    if not names and field_type is not None:
                        if any(c.type == "*" for c in declaration.children):
                            field_type = pointer(field_type)  # `*Base`: the grammar keeps the star apart
                        short = field_type.deref().name.rsplit(".", 1)[-1]
                        found.append(Field(short, field_type, True, declaration))
            self._fields[type_name] = found
        return self._fields[type_name]

    def promoted(self, owner: Type, method: str) -> Field | None:
        """The embedded `sync` field whose method `method` a call on a value of one of the
        package's types reaches (`s.Lock()` with `sync.Mutex` embedded); None when the type
        declares the method itself, or embeds no such field."""
        target = owner.deref()
        if target.kind != "named" or target.name not in self.package.types:
            return None
        if self.package.method(target.name, method) is not None:
            return None
        return next(
            (
                f
                for f in self.fields(target.name)
                if f.embedded
                and f.type is not None
                and f.type.kind == "named"
                and method in SYNC_METHODS.get(f.type.name, ())
            ),
            None,
        )

    def held_lock(self, value_type: Type | None) -> str | None:
        """The `sync` type a value of this type holds by value, so that copying the value
        copies it: the type itself (`sync.Mutex`), or a struct of the package that holds one
        in a field, an array field or an embedded struct (not through a pointer)."""
        while value_type is not None and value_type.kind == "array":
            value_type = value_type.elem
        if value_type is None or value_type.kind != "named":
            return None
        if value_type.name in SYNC_METHODS:
            return value_type.name
        name = value_type.name
        if name not in self.package.types:
            return None
        if name not in self._holds:
            self._holds[name] = None  # a recursive type meanwhile: it holds nothing more
            self._holds[name] = next(
                (lock for lock in (self.held_lock(f.type) for f in self.fields(name)) if lock is not None), None
            )
        return self._holds[name]

    @cached_property
    def lock_holders(self) -> list[str]:
        """The package's types that hold a lock by value (see `held_lock`), in declaration
        order. None when no file of the package spells a `sync` type: then no field is read
        (a large generated file costs nothing)."""
        if not any(_spells_sync(file) for file in self.package.files):
            return []
        return [name for name in self.package.types if self.held_lock(named(name)) is not None]

    # -- type nodes ----------------------------------------------------------------------------
    def from_node(self, file: GoFile, node: Node | None) -> Type | None:
        """The type a type node spells (read once per node: a declared type is asked for at
        every use of what it declares)."""
        if node is None:
            return None
        if node.id not in self._spelled:
            self._spelled[node.id] = self._from_node(file, node)
        return self._spelled[node.id]

    def _from_node(self, file: GoFile, node: Node) -> Type | None:
        kind = node.type
        children = node.named_children
        if kind == "parenthesized_type" and children:
            return self.from_node(file, children[0])
        if kind == "type_identifier":
            name = file.text(node)
            return Type("basic", name) if name in BASIC and name not in self.package.types else named(name)
        if kind == "qualified_type":
            package_node, name_node = node.child_by_field_name("package"), node.child_by_field_name("name")
            path = file.package_path(file.text(package_node)) if package_node is not None else None
            if path is None or name_node is None:
                return None
            return named(f"{path}.{file.text(name_node)}")
        if kind == "generic_type":
            return self.from_node(file, node.child_by_field_name("type"))
        if kind == "pointer_type" and children:
            inner = self.from_node(file, children[0])
            return pointer(inner) if inner is not None else None
        if kind == "slice_type":
            return Type("slice", elem=self.from_node(file, node.child_by_field_name("element")))
        if kind == "array_type":
            length = node.child_by_field_name("length")
            return Type(
                "array",
                file.text(length) if length else "",
                elem=self.from_node(file, node.child_by_field_name("element")),
            )
        if kind == "map_type":
            return Type(
                "map",
                key=self.from_node(file, node.child_by_field_name("key")),
                elem=self.from_node(file, node.child_by_field_name("value")),
            )
        if kind == "channel_type":
            text = file.text(node)
            direction = "receive" if text.startswith("<-") else "send" if text.startswith(("chan<-", "chan <-")) else ""
            return Type("chan", elem=self.from_node(file, node.child_by_field_name("value")), direction=direction)
        if kind == "function_type":
            return Type("func", items=self._result_types(file, node.child_by_field_name("result")))
        if kind in ("struct_type", "interface_type"):
            return Type(kind.removesuffix("_type"))
        return None

    def _result_types(self, file: GoFile, result: Node | None) -> tuple[Type | None, ...]:
        if result is None:
            return ()
        if result.type != "parameter_list":
            return (self.from_node(file, result),)
        items: list[Type | None] = []
        for declaration in result.named_children:
            if declaration.type != "parameter_declaration":
                continue
            declared = self.from_node(file, declaration.child_by_field_name("type"))
            items.extend([declared] * max(1, len(declaration.children_by_field_name("name"))))
        return tuple(items)

    def signature(self, file: GoFile, function: Node) -> Type:
        """The func type of a function, method or literal (its results)."""
        return Type("func", items=self._result_types(file, function.child_by_field_name("result")))

    # -- expressions ------------------------------------------------------------------------------
    def of(self, file: GoFile, expression: Node | None) -> Type | None:
        if expression is None:
            return None
        key = expression.id
        if key in self._memo:
            return self._memo[key]
        if key in self._resolving:
            return None  # `x := f(x)`-style cycles through bindings
        self._resolving.add(key)
        try:
            found = self._of(file, expression)
        finally:
            self._resolving.discard(key)
        self._memo[key] = found
        return found

    def _of(self, file: GoFile, node: Node) -> Type | None:
        kind = node.type
        if kind == "parenthesized_expression":
            return self.of(file, unparen(node))
        if kind == "identifier":
            binding = self.package.binding(file, node)
            return self.of_binding(binding) if binding is not None else None
        if kind == "selector_expression":
            return self._selector(file, node)
        if kind == "call_expression":
            return self._call(file, node)
        if kind == "composite_literal":
            return self.from_node(file, node.child_by_field_name("type"))
        if kind == "func_literal":
            return self.signature(file, node)
        if kind == "unary_expression":
            operator = node.child_by_field_name("operator")
            operand = self.of(file, node.child_by_field_name("operand"))
            text = file.text(operator) if operator is not None else ""
            if text == "&":
                return pointer(operand) if operand is not None else None
            if text == "*":
                return operand.elem if operand is not None and operand.kind == "pointer" else None
            if text == "<-":
                return operand.elem if operand is not None and operand.kind == "chan" else None
            if text == "!":
                return BOOL
            return operand
        if kind in ("index_expression", "slice_expression"):
            operand = self.of(file, node.child_by_field_name("operand"))
            if operand is None:
                return None
            if kind == "slice_expression":
                return operand
            operand = operand.deref()
            return operand.elem if operand.kind in ("slice", "array", "map") else None
        if kind == "type_assertion_expression":
            return self.from_node(file, node.child_by_field_name("type"))
        if kind == "type_conversion_expression":
            return self.from_node(file, node.child_by_field_name("type"))
        if kind == "binary_expression":
            return self._binary(file, node)
        if kind == "int_literal":
            return INT
        if kind in ("interpreted_string_literal", "raw_string_literal"):
            return Type("basic", "string")
        return None

    def _binary(self, file: GoFile, node: Node) -> Type | None:
        operator = node.child_by_field_name("operator")
        text = file.text(operator) if operator is not None else ""
        if text in ("==", "!=", "<", "<=", ">", ">=", "&&", "||"):
            return BOOL
        left, right = node.child_by_field_name("left"), node.child_by_field_name("right")
        if text not in _ARITHMETIC or left is None or right is None:
            return self.of(file, left)  # a shift has its left operand's type
        # Both sides have one type, unless one is an untyped constant (`8 + off`, `n - k`
        # with `const k = 1`): the typed side tells it.
        if self.is_untyped(file, left) and not self.is_untyped(file, right):
            return self.of(file, right)
        return self.of(file, left) or (None if self.is_untyped(file, right) else self.of(file, right))

    def is_untyped(self, file: GoFile, node: Node, depth: int = 0) -> bool:
        """An untyped constant: a literal, `iota`, a constant declared without a type from
        untyped ones, or an expression of those."""
        node = unparen(node)
        if node.type in _UNTYPED_LITERALS or depth > 8:
            return node.type in _UNTYPED_LITERALS
        if node.type == "identifier":
            binding = self.package.binding(file, node)
            if binding is None:
                return file.text(node) == "iota"
            return (
                binding.kind == CONSTANT
                and binding.type_node is None
                and binding.value is not None
                and self.is_untyped(binding.file, binding.value, depth + 1)
            )
        if node.type in ("binary_expression", "unary_expression"):
            return all(self.is_untyped(file, child, depth + 1) for child in node.named_children)
        return False

    def of_binding(self, binding: Binding) -> Type | None:
        """The type of what a binding names."""
        file = binding.file
        if binding.kind == IMPORT:
            return Type("package", binding.import_path or binding.name)
        if binding.kind == FUNCTION and binding.declaration is not None:
            return self.signature(file, binding.declaration)
        if binding.kind == TYPE:
            return None  # a type, not a value
        if binding.type_node is not None:
            declared = self.from_node(file, binding.type_node)
            variadic = binding.declaration is not None and binding.declaration.type == "variadic_parameter_declaration"
            if variadic:
                return Type("slice", elem=declared)  # `items ...T` is a []T
            if declared is not None or binding.kind != CONSTANT:
                return declared
        value = binding.value
        if value is None:
            return None
        if binding.kind == RANGE:
            return self._ranged(file, value, binding.index)
        if binding.kind == RECEIVED:
            received = (
                self.of(file, unparen(value).child_by_field_name("operand"))
                if unparen(value).type == "unary_expression"
                else None
            )
            if binding.index == 1:
                return BOOL
            return received.elem if received is not None and received.kind == "chan" else None
        if binding.kind == ALIAS:
            return None  # a type switch's alias has the type of each case
        value_type = self.of(file, value)
        if value_type is None or not binding.spread:
            return value_type if value_type is None or value_type.kind != "tuple" else None
        if value_type.kind == "tuple":
            return value_type.result(binding.index)
        # `v, ok := m[k]`, `v, ok := x.(T)`, `v, ok := <-ch`: the value, then a bool
        return value_type if binding.index == 0 else BOOL

    def _ranged(self, file: GoFile, ranged: Node, index: int) -> Type | None:
        over = self.of(file, ranged)
        if over is None:
            return None
        over = over.deref()
        if over.kind == "chan":
            return over.elem if index == 0 else None
        if over.kind in ("slice", "array"):
            return INT if index == 0 else over.elem
        if over.kind == "map":
            return over.key if index == 0 else over.elem
        if over.kind == "basic" and over.name == "string":
            return INT if index == 0 else Type("basic", "rune")
        if over.kind == "basic":
            return over
        return None

    def _selector(self, file: GoFile, node: Node) -> Type | None:
        operand, field = node.child_by_field_name("operand"), node.child_by_field_name("field")
        if operand is None or field is None:
            return None
        name = file.text(field)
        owner = self.of(file, operand)
        if owner is None:
            return None
        if owner.kind == "package":
            qualified = f"{owner.name}.{name}"
            return LIBRARY_VARIABLES.get(qualified) or LIBRARY.get(qualified)
        member = _member(owner, name)
        if member is not None:
            return LIBRARY.get(member)
        return self.field_type(owner, name)

    def field_type(self, owner: Type, name: str) -> Type | None:
        """The type of field or method `name` of one of the package's types (through a
        pointer, and through embedded structs of the package one level deep)."""
        target = owner.deref()
        declared = self.package.types.get(target.name) if target.kind == "named" else None
        if declared is None:
            return None
        method = self.package.method(target.name, name)
        if method is not None:
            return self.signature(method.file, method.node)
        interface = declared.node.child_by_field_name("type")
        if interface is not None and interface.type == "interface_type":
            return self._interface_method(declared.file, interface, name, {target.name})
        embedded: list[Type] = []
        for field in self.fields(target.name):
            if field.embedded and field.type is not None:
                embedded.append(field.type)
            elif field.name == name:
                return field.type
        for inner in embedded:
            if inner.deref().name.rsplit(".", 1)[-1] == name:
                return inner  # the embedded field itself: `s.Mutex`
            found = self.field_type(inner, name) if inner.deref().name != target.name else None
            if found is not None:
                return found
            member = _member(inner, name)
            if member is not None and member in LIBRARY:
                return LIBRARY[member]
        return None

    def _interface_method(self, file: GoFile, interface: Node, name: str, seen: set[str]) -> Type | None:
        """What a method an interface of the package declares gives back (what every
        implementation's call does), itself or through an interface of the package it embeds."""
        for element in interface.named_children:
            if element.type == "method_elem":
                declared_name = element.child_by_field_name("name")
                if declared_name is not None and file.text(declared_name) == name:
                    return self.signature(file, element)
            elif element.type == "type_elem" and len(element.named_children) == 1:
                embedded = file.text(element.named_children[0])
                inner = self.package.types.get(embedded) if embedded not in seen else None
                body = inner.node.child_by_field_name("type") if inner is not None else None
                if inner is not None and body is not None and body.type == "interface_type":
                    found = self._interface_method(inner.file, body, name, seen | {embedded})
                    if found is not None:
                        return found
        return None

    def _call(self, file: GoFile, call: Node) -> Type | None:
        function = call.child_by_field_name("function")
        arguments = call.child_by_field_name("arguments")
        first = arguments.named_children[0] if arguments is not None and arguments.named_children else None
        if function is None:
            return None
        function = unparen(function)
        if function.type == "identifier":
            name = file.text(function)
            binding = self.package.binding(file, function)
            if binding is None:
                if name == "make" and first is not None:
                    return self.from_node(file, first) or self.of(file, first)
                if name == "new" and first is not None:
                    inner = self.from_node(file, first) or self.of(file, first)
                    return pointer(inner) if inner is not None else None
                if name in ("len", "cap", "copy"):
                    return INT
                if name == "append" and first is not None:
                    return self.of(file, first)
                if name in BASIC:
                    return Type("basic", name)  # a conversion `uintptr(p)`
                return None
            if binding.kind == TYPE:
                return named(name)  # a conversion to a type of the package
        elif function.type in (
            "parenthesized_type",
            "pointer_type",
            "qualified_type",
            "slice_type",
            "array_type",
            "map_type",
            "channel_type",
            "function_type",
            "generic_type",
        ):
            return self.from_node(file, function)  # a conversion
        elif function.type == "selector_expression":
            owner = self.of(file, function.child_by_field_name("operand"))
            field = function.child_by_field_name("field")
            if owner is not None and owner.kind == "package" and field is not None:
                qualified = f"{owner.name}.{file.text(field)}"
                known = LIBRARY.get(qualified)
                if known is not None:
                    return _called(known)
                generic = LIBRARY_GENERIC.get(qualified)
                argument = self.of(file, first) if generic is not None else None
                return generic(argument) if generic is not None and argument is not None else None
        elif function.type == "unary_expression":
            converted = self._pointer_conversion(file, function)
            if converted is not None:
                return converted
        callee = self.of(file, function)
        if callee is None:
            return None
        if callee.kind == "named" and callee.name in self.package.types:
            return callee  # a conversion to a type of the package: `Celsius(x)`
        return _called(callee)

    def _pointer_conversion(self, file: GoFile, star: Node) -> Type | None:
        """`*T` for the callee of `(*T)(x)`, which tree-sitter reads as a call of a
        dereference; None when `T` is not a type (`(*f)(x)` calls a func pointer)."""
        operator, operand = star.child_by_field_name("operator"), star.child_by_field_name("operand")
        if operator is None or operator.type != "*" or operand is None:
            return None
        if operand.type == "identifier":
            name = file.text(operand)
            binding = self.package.binding(file, operand)
            if binding is None:
                return pointer(Type("basic", name)) if name in BASIC else None
            return pointer(named(name)) if binding.kind == TYPE else None
        if operand.type == "selector_expression":
            owner = self.of(file, operand.child_by_field_name("operand"))
            field = operand.child_by_field_name("field")
            if owner is not None and owner.kind == "package" and field is not None:
                return pointer(named(f"{owner.name}.{file.text(field)}"))
        return None


def _called(callee: Type) -> Type | None:
    """What calling a value of func type gives: its single result, or the tuple."""
    if callee.kind != "func":
        return None
    if len(callee.items) == 1:
        return callee.items[0]
    return Type("tuple", items=callee.items) if callee.items else None


def _is_call(node: Node) -> bool:
    return unparen(node).type == "call_expression"


def _struct_fields(struct: Node) -> list[Node]:
    fields = next((c for c in struct.named_children if c.type == "field_declaration_list"), None)
    return [c for c in fields.named_children if c.type == "field_declaration"] if fields is not None else []
