"""The per-file type index of GR114, GR117 and GR118 (`_types.py`)."""

from __future__ import annotations

from reviewers.gosource import GoFile, captures
from reviewers.rules.leaks._types import _DECLARATION_TYPES, _OPERATION_TYPES, functions_around, type_index, unit_label
from reviewers.syntax import FUNCTION_TYPES, ancestors, own_nodes, owned_nodes

TYPES = b"""package p

import "sync"

type S struct {
	mu   sync.Mutex
	wg   sync.WaitGroup
	ch   chan int
	done chan struct{}
	sync.RWMutex
}

var gmu sync.Mutex

func NewS() *S { return &S{ch: make(chan int, 1), done: make(chan struct{})} }

func (s *S) Run() {
	s.mu.Lock()
	s.ch <- 1
	s.mu.Unlock()
	s.Lock()
	close(s.done)
	gmu.Lock()
	local := make(chan int)
	go func() { local <- 1 }()
	<-local
	s.helper()
	s.wg.Wait()
}

func (s *S) helper() { s.mu.Lock() }

func use() {
	x := NewS()
	x.mu.Lock()
}
"""


def _index():
    file = GoFile("p.go", TYPES)
    return file, type_index(file)


def test_fields_are_classified():
    _, index = _index()
    assert index.types["S"].kinds == {
        "mu": "mutex",
        "wg": "waitgroup",
        "ch": "chan",
        "done": "chan",
        "RWMutex": "mutex",
    }


def test_operations_are_keyed_by_type_field_and_variable():
    file, index = _index()
    run = index.units["S.Run"]
    ops = [(op.kind, op.key) for op in run.ops]
    assert ("lock", "S.mu") in ops and ("send", "S.ch") in ops and ("unlock", "S.mu") in ops
    assert ("lock", "S.RWMutex") in ops  # the embedded mutex
    assert ("close", "S.done") in ops and ("lock", "var gmu") in ops and ("wait", "S.wg") in ops
    local = next(op.key for op in run.ops if op.kind == "receive")
    literal = next(u for u in index.units.values() if u.key.startswith("lit@"))
    assert [(op.kind, op.key) for op in literal.ops] == [("send", local)]  # the same variable
    assert "S.helper" in run.calls and index.reaches(run, "lock", "S.mu")
    assert unit_label(file, literal) == "a closure in S.Run"


def test_constructor_results_and_buffers():
    _, index = _index()
    assert [(op.kind, op.key) for op in index.units["func use"].ops] == [("lock", "S.mu")]
    assert index.buffered("S.ch") and not index.buffered("S.done")


def test_the_index_is_built_once_per_file():
    file, index = _index()
    assert type_index(file) is index


NESTED = b"""package p

func outer(ch chan int) {
	a := make(chan int)
	f := func(x [len("ab")]int) { // the literal's signature is neither its body nor outer's
		var b = <-a
		go func() { ch <- b }()
	}
	func() { close(a) }()
	for v := range ch {
		f(v)
	}
}

func (s *S) m() { s.g() }
"""


def _body_walk(function):
    """Named nodes of a function's body, not entering the literals in it: what the index's
    grouping by function must find."""
    stack = list(reversed(function.child_by_field_name("body").named_children))
    while stack:
        current = stack.pop()
        yield current
        if current.type != "func_literal":
            stack.extend(reversed(current.named_children))


def test_nodes_are_owned_by_the_function_whose_body_holds_them():
    file = GoFile("p.go", NESTED)
    for node_types in (_OPERATION_TYPES, _DECLARATION_TYPES):
        owned = owned_nodes(file, node_types)
        for function in (f for node_type in FUNCTION_TYPES for f in file.nodes(node_type)):
            walked = [n for n in _body_walk(function) if n.type in node_types]
            assert owned.get(function.start_byte, []) == walked, file.text(function)
            assert own_nodes(file, function, node_types) == walked, file.text(function)


def test_functions_around_are_the_function_ancestors():
    file = GoFile("p.go", NESTED)
    for identifier in captures("(identifier) @id", file.root)["id"]:
        expected = [a for a in ancestors(identifier) if a.type in FUNCTION_TYPES]
        assert list(functions_around(file, identifier)) == expected
