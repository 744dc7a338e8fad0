"""The unsafe rules' class-local helpers (reviewers/rules/unsafe/_helpers.py)."""

from __future__ import annotations

from reviewers.gosource import GoFile, captures
from reviewers.rules.unsafe import _helpers as h

SOURCE = b"""package p

import (
	"reflect"
	u "unsafe"
)

type T struct {
	ptr  u.Pointer
	addr uintptr
}

var global u.Pointer

const big = 1 << 20

func f(p u.Pointer, n uintptr, s string, x *int) {
	q := u.Pointer(x)
	a := uintptr(q) + 8
	r := reflect.ValueOf(x).Pointer()
	var t T
	_ = (*T)(p)
	_, _, _, _, _, _ = q, a, r, t.ptr, t.addr, global
}
"""


def _file() -> GoFile:
    return GoFile("p.go", SOURCE)


def _identifier(file: GoFile, text: str, nth: int = -1):
    found = [n for n in captures("[(identifier) (selector_expression)] @n", file.root)["n"] if file.text(n) == text]
    return found[nth]


def test_expression_type_follows_declarations_and_aliases():
    file = _file()
    assert h.expression_type(file, _identifier(file, "p")) == "unsafe.Pointer"
    assert h.expression_type(file, _identifier(file, "q")) == "unsafe.Pointer"
    assert h.expression_type(file, _identifier(file, "a")) == "uintptr"
    assert h.expression_type(file, _identifier(file, "r")) == "uintptr"
    assert h.expression_type(file, _identifier(file, "s")) == "string"
    assert h.expression_type(file, _identifier(file, "global")) == "unsafe.Pointer"
    assert h.expression_type(file, _identifier(file, "t.ptr")) == "unsafe.Pointer"
    assert h.expression_type(file, _identifier(file, "t.addr")) == "uintptr"
    assert h.expression_type(file, _identifier(file, "x")) == "*int"


def test_bindings_kinds():
    file = _file()
    assert [b.kind for b in h.bindings(file, _identifier(file, "n"))] == ["parameter"]
    assert [b.kind for b in h.bindings(file, _identifier(file, "q"))] == ["variable"]
    assert [b.kind for b in h.bindings(file, _identifier(file, "global"))] == ["package"]
    assert h.is_variable(file, _identifier(file, "n"))


def test_pointer_to_uintptr_and_left_spine():
    file = _file()
    a_value = next(b.value for b in h.bindings(file, _identifier(file, "a")))
    base, terms = h.left_spine(file, a_value)
    assert file.text(base) == "uintptr(q)" and [(op, file.text(t)) for op, t in terms] == [("+", "8")]
    assert file.text(h.pointer_to_uintptr(file, a_value)) == "uintptr(q)"
    r_value = next(b.value for b in h.bindings(file, _identifier(file, "r")))
    assert h.pointer_to_uintptr(file, r_value) is not None


def test_unsafe_alias_and_pointer_conversions():
    file = _file()
    assert h.unsafe_local_name(file) == "u"
    calls = h.unsafe_pointer_calls(file, file.root)
    assert [file.text(c) for c in calls] == ["u.Pointer(x)"]
    conversion = next(c for c in captures("(call_expression) @c", file.root)["c"] if file.text(c) == "(*T)(p)")
    assert file.text(h.pointer_conversion_type(conversion)) == "T"


def test_manages_memory_by_hand():
    assert h.manages_memory_by_hand(GoFile("r.go", b"// c\npackage runtime\n"))
    assert h.manages_memory_by_hand(GoFile("m.go", b'package maps\nimport "internal/runtime/sys"\n'))
    assert not h.manages_memory_by_hand(_file())
