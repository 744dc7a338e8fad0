"""The goroutines and channels of a file (`reviewers/goroutines.py`) and the loop helpers of
the GR1xx rules (`reviewers/rules/leaks/_goroutines.py`)."""

from __future__ import annotations

from reviewers.goroutines import channels, goroutines
from reviewers.gosource import GoFile, captures
from reviewers.rules.leaks import _goroutines as g
from reviewers.rules.leaks import gr108_loop_variable_capture, gr109_unstopped_ticker, gr110_time_after_in_loop

SOURCE = b"""package p

type S struct{}

func (s *S) loop(in chan int) { for range in {} }

func worker(out chan<- int) { out <- 1 }

func start(s *S) {
	a := make(chan int)
	b := make(chan int, 1)
	c := make(chan int, 0)
	go func() { a <- 1 }()
	f := func() { <-b }
	go f()
	go worker(c)
	run := s.loop
	go run(a)
	go s.loop(b)
	go unknown(c)
}
"""


def file(source: bytes = SOURCE, version=None) -> GoFile:
    return GoFile("p.go", source, version)


def test_goroutine_bodies_are_resolved():
    f = file()
    kinds = [(f.line(x.statement), x.body.type if x.body else None, x.bindings) for x in goroutines(f)]
    assert kinds == [
        (13, "func_literal", ()),
        (15, "func_literal", ()),
        (16, "function_declaration", (("out", "c"),)),
        (18, "method_declaration", (("in", "a"), ("s", "s"))),
        (19, "method_declaration", (("in", "b"), ("s", "s"))),
        (20, None, ()),
    ]


def test_inner_and_outer_names():
    f = file()
    worker = goroutines(f)[2]
    assert worker.inner("c") == "out" and worker.outer("out") == "c"
    assert worker.inner("a") is None
    literal = goroutines(f)[0]
    assert literal.inner("a") == "a" and literal.outer("s.wg") == "s.wg"


def test_channels_buffering_and_operations():
    f = file()
    made = {c.name: c for c in channels(f)}
    assert (made["a"].buffered, made["b"].buffered, made["c"].buffered) == (False, True, False)
    assert [(o.kind, f.line(o.node)) for o in made["a"].operations] == [("send", 13), ("range", 5)]
    assert made["c"].escapes  # handed to a function the file does not show
    assert not made["a"].escapes


def loops(source: str) -> list:
    f = file(f"package p\nfunc f(ctx C, ch chan int, done chan bool) {{\n{source}\n}}\n".encode())
    return [(f, loop) for loop in captures("(for_statement) @f", f.root)["f"]]


def test_way_out_of_a_loop():
    def way_out(body: str) -> bool:
        f, loop = loops(body)[0]
        return g.has_way_out(f, loop)

    assert not way_out("for { <-ch }")
    assert not way_out("for { select { case <-ch: break } }")
    assert way_out("L: for { select { case <-ch: break L } }")
    assert way_out("for { select { case <-ch: case <-ctx.Done(): } }")
    assert way_out("for { select { case <-ch: case <-done: } }")
    assert way_out("for { v, ok := <-ch; _, _ = v, ok }")
    assert way_out("for { if x() { return } }")
    assert way_out("for { panic(1) }")
    assert way_out("for x() { }")


def test_version_gated_rules_are_silent_when_the_version_is_unknown():
    source = b"""package p
import "time"
func f(xs []int, ch chan int) {
	t := time.NewTicker(time.Second)
	for _, x := range xs {
		go func() { println(x) }()
		select {
		case <-ch:
		case <-time.After(time.Second):
		}
	}
	<-t.C
}
"""
    rules = (gr108_loop_variable_capture, gr109_unstopped_ticker, gr110_time_after_in_loop)
    assert all(list(rule.check(file(source, None))) == [] for rule in rules)
    assert all(len(list(rule.check(file(source, (1, 21))))) == 1 for rule in rules)


def test_a_wait_under_a_lock_on_an_element_picked_from_a_collection_is_info():
    from tests.fixture_support import FIXTURES, every_rule_on, run_folder

    found = {
        (f.line, str(f.severity))
        for f in run_folder(FIXTURES / "GR117", every_rule_on())
        if f.path.endswith("picked_elements.go") and f.rule == "GR117"
    }
    assert found == {(41, "info"), (53, "info"), (83, "error")}
