"""The unsafe rules' class-local helpers (reviewers/rules/unsafe/_helpers.py); the types
they ask the semantic model for are tested in test_semantics.py."""

from __future__ import annotations

from reviewers.gosource import GoFile, captures
from reviewers.rules.unsafe import _helpers as h
from reviewers.semantics import package_of

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
	c := func() uintptr { return uintptr(q) }
	var t T
	_ = (*T)(p)
	_, _, _, _, _, _, _ = q, a, r, c, t.ptr, t.addr, global
}
"""


def _file() -> GoFile:
    return GoFile("p.go", SOURCE)


def _identifier(file: GoFile, text: str, nth: int = -1):
    found = [n for n in captures("[(identifier) (selector_expression)] @n", file.root)["n"] if file.text(n) == text]
    return found[nth]


def test_pointer_to_uintptr_and_left_spine():
    file = _file()
    model = package_of(file)
    a_value = model.binding(file, _identifier(file, "a")).value  # type: ignore[union-attr]
    base, terms = h.left_spine(file, a_value)
    assert file.text(base) == "uintptr(q)" and [(op, file.text(t)) for op, t in terms] == [("+", "8")]
    assert file.text(h.pointer_to_uintptr(model, file, a_value)) == "uintptr(q)"  # type: ignore[arg-type]
    r_value = model.binding(file, _identifier(file, "r")).value  # type: ignore[union-attr]
    assert h.is_reflect_address(model, file, r_value)
    assert h.pointer_to_uintptr(model, file, r_value) is not None
    # `n` is an integer, not an address; a conversion inside a closure is not the value's
    assert h.pointer_to_uintptr(model, file, _identifier(file, "n")) is None
    c_value = model.binding(file, _identifier(file, "c")).value  # type: ignore[union-attr]
    assert h.pointer_to_uintptr(model, file, c_value) is None  # type: ignore[arg-type]


def test_pointer_conversions_by_the_unsafe_alias():
    file = _file()
    assert h.unsafe_local_name(file) == "u"
    calls = h.unsafe_pointer_calls(file, file.root)
    assert [file.text(c) for c in calls] == ["u.Pointer(x)"]
    assert h.is_pointer_expression(package_of(file), file, calls[0])


def test_manages_memory_by_hand():
    assert h.manages_memory_by_hand(GoFile("r.go", b"// c\npackage runtime\n"))
    assert h.manages_memory_by_hand(GoFile("m.go", b'package maps\nimport "internal/runtime/sys"\n'))
    assert not h.manages_memory_by_hand(_file())
