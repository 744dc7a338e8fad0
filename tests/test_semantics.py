"""The semantic model on its own: names, types and control flow."""

from __future__ import annotations

import textwrap

from tree_sitter import Node

from reviewers.gosource import GoFile, captures
from reviewers.semantics import package_of
from reviewers.semantics.cfg import Escape
from reviewers.semantics.contexts import logs_only
from reviewers.semantics.package import Declared


def package(*sources: str) -> list[GoFile]:
    files: list[GoFile] = []
    for number, source in enumerate(sources):
        text = textwrap.dedent(source).lstrip()
        files.append(GoFile(f"p/f{number}.go", text.encode(), package_files=lambda: files))
    return files


def identifiers(file: GoFile, name: str) -> list[Node]:
    return [n for n in captures("(identifier) @i", file.root)["i"] if file.text(n) == name]


def declared_line(file: GoFile, identifier: Node) -> int | None:
    binding = package_of(file).binding(file, identifier)
    return binding.identifier.start_point[0] + 1 if binding is not None and binding.identifier is not None else None


def lines_of(file: GoFile, name: str) -> list[tuple[int, int | None]]:
    """(line of each use of `name`, line of the declaration it resolves to)."""
    return [(file.line(n), declared_line(file, n)) for n in identifiers(file, name)]


# -- names -----------------------------------------------------------------------------------
def test_short_declarations_shadow_and_reuse_like_go():
    (file,) = package(
        """
        package p
        func f(err error) error {
            v, err := g()
            if v, err := g(); err != nil {
                return err
            }
            {
                err := h()
                _ = err
            }
            _ = v
            return err
        }
        """
    )
    # line 3 reuses the parameter (same block as the body); the `if` header declares its own
    # pair, line 8 shadows in a nested block; the last return sees the parameter.
    assert lines_of(file, "err") == [(2, 2), (3, 2), (4, 4), (4, 4), (5, 4), (8, 8), (9, 8), (12, 2)]
    assert package_of(file).is_write(file, identifiers(file, "err")[1])


def test_closures_see_their_starters_names_and_their_own_parameters():
    (file,) = package(
        """
        package p
        func f(ch chan int) {
            done := make(chan struct{})
            go func(ch chan int) {
                <-ch
                close(done)
            }(ch)
        }
        """
    )
    assert lines_of(file, "ch") == [(2, 2), (4, 4), (5, 4), (7, 2)]
    assert lines_of(file, "done") == [(3, 3), (6, 3)]


def test_package_level_names_resolve_across_files_and_imports_by_alias():
    first, second = package(
        """
        package p
        import ctxpkg "context"
        func f() { _ = limit; helper(); _ = ctxpkg.Background() }
        """,
        """
        package p
        var limit = 3
        func helper() {}
        """,
    )
    model = package_of(first)
    assert model.binding(first, identifiers(first, "limit")[0]).file is second  # type: ignore[union-attr]
    assert model.binding(first, identifiers(first, "helper")[0]).kind == "function"  # type: ignore[union-attr]
    imported = model.binding(first, identifiers(first, "ctxpkg")[0])
    assert imported is not None and imported.import_path == "context"


def test_struct_keys_are_not_references_but_map_keys_are():
    (file,) = package(
        """
        package p
        func f(ctx, k string) {
            _ = T{ctx: ctx}
            _ = map[string]int{k: 1}
        }
        """
    )
    model = package_of(file)
    key, value = identifiers(file, "ctx")[1:]
    assert model.binding(file, key) is None and model.binding(file, value) is not None
    assert model.binding(file, identifiers(file, "k")[1]) is not None


def test_references_list_every_use_of_a_local():
    (file,) = package(
        """
        package p
        func f() {
            cancel := func() {}
            defer cancel()
            go func() { cancel() }()
        }
        """
    )
    model = package_of(file)
    binding = model.binding(file, identifiers(file, "cancel")[0])
    assert binding is not None
    assert [file.line(n) for n in model.references(binding)] == [4, 5]


# -- types -----------------------------------------------------------------------------------
def type_of(file: GoFile, name: str, occurrence: int = 0) -> str:
    return str(package_of(file).type_of(file, identifiers(file, name)[occurrence]))


def test_library_results_and_declared_types():
    (file,) = package(
        """
        package p
        import (
            "context"
            "database/sql"
            "net/http"
            "net/http/httptest"
            "time"
        )
        func f(ctx context.Context, db *sql.DB, r *http.Request, c *http.Client) {
            ctx2, cancel := context.WithTimeout(ctx, time.Second)
            resp, err := c.Do(r)
            rows, _ := db.QueryContext(ctx2, "q")
            ticker := time.NewTicker(time.Second)
            recorded := httptest.NewRecorder().Result()
            requestContext := r.Context()
            var d = http.DefaultClient
            _, _, _, _, _, _, _ = cancel, resp, err, rows, ticker, recorded, requestContext
            _ = d
        }
        """
    )
    assert type_of(file, "ctx2") == "context.Context"
    assert type_of(file, "cancel") == "context.CancelFunc"
    assert type_of(file, "resp") == "*net/http.Response"
    assert type_of(file, "err") == "error"
    assert type_of(file, "rows") == "*database/sql.Rows"
    assert type_of(file, "ticker") == "*time.Ticker"
    recorded = package_of(file).type_of(file, identifiers(file, "recorded")[0])
    assert recorded is not None and recorded.is_named("net/http.Response") and recorded.detached
    assert type_of(file, "requestContext") == "context.Context"
    assert type_of(file, "d") == "*net/http.Client"


def test_package_types_fields_methods_and_channels():
    (file,) = package(
        """
        package p
        import "net/http"
        type base struct{ done chan struct{} }
        type Server struct {
            base
            jobs   chan<- int
            client *http.Client
        }
        func (s *Server) fetch() (*http.Response, error) { return s.client.Get("u") }
        func newServer() *Server { return &Server{} }
        func f() {
            s := newServer()
            resp, err := s.fetch()
            jobs := s.jobs
            done := s.done
            buffered := make(chan string, 4)
            for i, v := range []string{} { _, _ = i, v }
            _, _, _, _, _ = resp, err, jobs, done, buffered
        }
        """
    )
    assert type_of(file, "s", 2) == "*Server"
    assert type_of(file, "resp") == "*net/http.Response"
    assert type_of(file, "jobs", 1) == "chan<- int"
    assert type_of(file, "done", 1) == "chan struct"
    assert type_of(file, "buffered") == "chan string"
    assert (type_of(file, "i"), type_of(file, "v")) == ("int", "string")


def test_unsafe_pointers_and_the_integers_that_hold_addresses():
    (file,) = package(
        """
        package p
        import ("reflect"; "sync/atomic"; u "unsafe")
        type T struct {
            ptr  u.Pointer
            addr uintptr
        }
        type other struct{ addr u.Pointer }
        var global u.Pointer
        const off = 8
        func f(p u.Pointer, n uintptr, s string, x *int, b []byte, items ...int64) {
            q := u.Pointer(x)
            a := uintptr(q) + 8
            shifted := off + uintptr(q)
            r := reflect.ValueOf(x).Pointer()
            e := reflect.ValueOf(&x).Elem().UnsafeAddr()
            added := u.Add(p, 1)
            loaded := atomic.LoadPointer(&global)
            size := u.Sizeof(*x)
            data := u.SliceData(b)
            view := u.Slice(data, len(b))
            str := u.String(u.StringData(s), len(s))
            typed := (*T)(p)
            bytePointer := (*byte)(p)
            var t T
            _, _, _, _, _, _, _, _, _, _, _, _ = q, a, shifted, r, e, added, loaded, size, view, str, typed, bytePointer
            _, _, _, _ = t.ptr, t.addr, items, n
        }
        """
    )
    expected = {
        "p": "unsafe.Pointer",
        "q": "unsafe.Pointer",
        "a": "uintptr",
        "shifted": "uintptr",  # an untyped constant takes the other side's type
        "r": "uintptr",
        "e": "uintptr",
        "added": "unsafe.Pointer",
        "loaded": "unsafe.Pointer",
        "size": "uintptr",
        "data": "*byte",
        "view": "[]byte",
        "str": "string",
        "typed": "*T",
        "bytePointer": "*byte",
        "global": "unsafe.Pointer",
        "x": "*int",
        "items": "[]int64",  # a variadic parameter is a slice
        "n": "uintptr",
    }
    assert {name: type_of(file, name, -1) for name in expected} == expected
    model = package_of(file)
    fields = {file.text(n): model.type_of(file, n) for n in captures("(selector_expression) @s", file.root)["s"]}
    assert (str(fields["t.ptr"]), str(fields["t.addr"])) == ("unsafe.Pointer", "uintptr")


def test_untyped_constants():
    (file,) = package(
        """
        package p
        const (
            k     = 1 << 4
            typed uint8 = 2
            mixed = k * 2
        )
        func f() { _, _, _ = k, typed, mixed }
        """
    )
    model = package_of(file)
    untyped = {
        name: model.types_model.is_untyped(file, identifiers(file, name)[-1]) for name in ("k", "typed", "mixed")
    }
    assert untyped == {"k": True, "typed": False, "mixed": True}


def test_a_package_variable_is_given_values_in_any_file():
    first, _ = package(
        """
        package p
        var saved uintptr = 1
        func f() { saved = 2 }
        """,
        """
        package p
        func g() {
            saved := 3
            _ = saved
        }
        func h() { saved, _ = 4, 5 }
        """,
    )
    model = package_of(first)
    binding = model.binding(first, identifiers(first, "saved")[0])
    assert binding is not None and binding.kind == "variable" and not binding.is_local
    given = [(file.path, file.text(a.value)) for file, a in model.package_assignments(binding) if a.value is not None]
    # g's `saved` is a local of its own
    assert given == [("p/f0.go", "1"), ("p/f0.go", "2"), ("p/f1.go", "4")]
    assert len(model.assignments(binding)) == 1 and model.references(binding) == []  # those follow locals only


def test_channel_buffers_sized_by_constant_expressions():
    file, _ = package(
        """
        package p
        import "math"
        const (
            slots = 8
            twice = 2 * slots
        )
        func f(n int) {
            a := make(chan int, 0755)
            b := make(chan int, twice)
            c := make(chan struct{}, math.MaxInt32)
            d := make(chan int, 4<<10 + 1_000)
            e := make(chan int, n*slots)
            g := make(chan int, slots/0)
            _, _, _, _, _, _ = a, b, c, d, e, g
        }
        """,
        """
        package p
        func h() { x := make(chan int, slots); _ = x }
        """,
    )
    model = package_of(file)
    sizes = {
        file.text(call.parent.parent.child_by_field_name("left")): model.values.capacity(file, call)
        for call in file.nodes("call_expression")
    }
    assert sizes == {"a": 0o755, "b": 16, "c": 2**31 - 1, "d": 4096 + 1000, "e": -1, "g": -1}


# -- control flow ----------------------------------------------------------------------------
def function(file: GoFile, name: str) -> Node:
    return next(
        n
        for n in file.root.named_children
        if n.type == "function_declaration" and file.text(n.child_by_field_name("name")) == name
    )  # type: ignore[arg-type]


def escapes(file: GoFile, name: str, start_text: str, stop_text: str, prune_error: bool = False) -> list[Escape]:
    model = package_of(file)
    cfg = model.cfg(file, function(file, name))
    start = next(
        n for n in captures("(short_var_declaration) @s", file.root)["s"] if file.text(n).startswith(start_text)
    )

    def prune(edge) -> bool:
        return prune_error and edge.condition is not None and file.text(edge.condition) == "err != nil" and edge.branch

    return cfg.escapes(start, lambda element: stop_text in file.text(element), prune)


def test_escapes_find_the_returns_that_skip_a_call():
    (file,) = package(
        """
        package p
        import "context"
        func f(parent context.Context) error {
            ctx, cancel := context.WithCancel(parent)
            if err := use(ctx); err != nil {
                return err
            }
            defer cancel()
            return nil
        }
        func use(context.Context) error { return nil }
        """
    )
    found = escapes(file, "f", "ctx, cancel", "cancel()")
    assert [(e.kind, file.line(e.node)) for e in found] == [("return", 6)]


def test_paths_that_never_return_do_not_escape():
    (file,) = package(
        """
        package p
        import ("log"; "os"; "net/http")
        func fail(err error) { log.Fatalf("%v", err) }
        func f() {
            resp, err := http.Get("u")
            if err != nil {
                fail(err)
            }
            if resp.StatusCode != 200 {
                os.Exit(1)
            }
            resp.Body.Close()
        }
        """
    )
    assert escapes(file, "f", "resp, err", "Close") == []


def test_loops_bring_a_value_made_in_the_body_back_to_its_start():
    (file,) = package(
        """
        package p
        import "net/http"
        func f(urls []string) {
            for _, u := range urls {
                resp, err := http.Get(u)
                if err != nil {
                    continue
                }
                if resp.StatusCode == 404 {
                    continue
                }
                resp.Body.Close()
            }
        }
        """
    )
    found = escapes(file, "f", "resp, err", "Close", prune_error=True)
    # The 404 `continue` goes round to the next `http.Get`, or out of the loop when it ends.
    assert [e.kind for e in found] == ["end", "continue"]
    # Without pruning the error branch, its `continue` takes the same ways.
    assert escapes(file, "f", "resp, err", "Close") == found


def test_break_continue_labels_select_and_switch_shape_the_paths():
    (file,) = package(
        """
        package p
        func f(ch chan int, x int) int {
            v := 0
        loop:
            for {
                select {
                case n := <-ch:
                    if n < 0 {
                        break loop
                    }
                    v += n
                default:
                    continue
                }
            }
            switch x {
            case 1:
                fallthrough
            case 2:
                return v
            }
            return release(v)
        }
        func release(v int) int { return v }
        """
    )
    found = escapes(file, "f", "v := 0", "release")
    assert [(e.kind, file.line(e.node)) for e in found] == [("return", 20)]


def test_a_function_that_always_panics_never_returns():
    (file,) = package(
        """
        package p
        func boom() { panic("x") }
        func spin() { for {} }
        func fine(x int) { if x > 0 { panic("x") } }
        """
    )
    facts = package_of(file).facts
    assert facts.never_returns(file, function(file, "boom"))
    assert facts.never_returns(file, function(file, "spin"))
    assert not facts.never_returns(file, function(file, "fine"))


# -- contexts in scope -------------------------------------------------------------------------
def test_contexts_in_scope_follow_go_scoping_closures_and_goroutines():
    (file,) = package(
        """
        package p
        import ("context"; "net/http")
        func f(parent context.Context, r *http.Request) {
            a()
            ctx, cancel := context.WithCancel(parent)
            defer cancel()
            bg := context.WithValue(context.Background(), key, 1)
            func() { b() }()
            go func() { c() }()
            if inner := context.TODO(); inner != nil { d() }
        }
        """
    )
    from reviewers.semantics.contexts import contexts_in_scope

    model = package_of(file)
    calls = {file.text(c.child_by_field_name("function")): c for c in captures("(call_expression) @c", file.root)["c"]}  # type: ignore[arg-type]

    def seen(call: str, cross: bool = True) -> set[tuple[str, str, bool]]:
        return {(c.name, c.expression, c.cancellable) for c in contexts_in_scope(model, file, calls[call], cross)}

    assert seen("a") == {("parent", "parent", True), ("r", "r.Context()", True)}
    assert seen("b") == {
        ("parent", "parent", True),
        ("r", "r.Context()", True),
        ("ctx", "ctx", True),
        ("bg", "bg", False),
    }
    assert seen("c", cross=False) == set()
    assert ("inner", "inner", False) in seen("d")


def test_a_context_given_a_request_context_on_some_path_can_be_cancelled():
    (file,) = package(
        """
        package p
        import ("context"; "net/http")
        func f(r *http.Request) {
            ctx := context.Background()
            if r != nil {
                ctx = r.Context()
            }
            use(ctx)
        }
        """
    )
    from reviewers.semantics.contexts import contexts_in_scope

    model = package_of(file)
    use = next(c for c in captures("(call_expression) @c", file.root)["c"] if file.text(c).startswith("use("))
    found = {c.name: c.cancellable for c in contexts_in_scope(model, file, use)}
    assert found == {"r": True, "ctx": True}


# -- ownership -------------------------------------------------------------------------------------
def leaks_of(source: str, call_text: str) -> list[tuple[str, int]]:
    from reviewers.semantics.ownership import bound_results

    (file,) = package(source)
    model = package_of(file)
    call = next(c for c in captures("(call_expression) @c", file.root)["c"] if file.text(c).startswith(call_text))
    bound = bound_results(model, file, call)
    assert bound is not None
    owned = [bound.owned(model, r) for r in bound.results if r.shape is not None and r.binding is not None]
    return [(e.kind, file.line(e.node)) for o in owned for e in o.leaks()]


def test_a_cancel_released_in_every_branch_or_by_a_panic_does_not_leak():
    assert (
        leaks_of(
            """
            package p
            import "context"
            func f(p context.Context, ok bool) error {
                ctx, cancel := context.WithCancel(p)
                switch {
                case ok:
                    cancel()
                    return nil
                default:
                    defer cancel()
                }
                if !ok {
                    panic("no")
                }
                return g(ctx)
            }
            """,
            "context.WithCancel",
        )
        == []
    )


def test_ownership_moves_to_fields_returns_closures_and_helpers_that_keep_it():
    source = """
        package p
        import ("context"; "net/http")
        type S struct{ stop context.CancelFunc }
        func keep(s *S, c context.CancelFunc) { s.stop = c }
        func look(c context.CancelFunc) bool { return c != nil }
        func stored(p context.Context, s *S) { _, cancel := context.WithCancel(p); s.stop = cancel }
        func helper(p context.Context, s *S) { _, cancel := context.WithTimeout(p, 1); keep(s, cancel) }
        func looked(p context.Context) { _, cancel := context.WithDeadline(p, t); look(cancel) }
        func closure(p context.Context, done chan int) { _, cancel := context.WithCancelCause(p); go func() { <-done; cancel(nil) }() }
        func body(c *http.Client) error {
            resp, err := c.Get("u")
            if err != nil {
                return err
            }
            if resp.StatusCode != 200 {
                return nil
            }
            return drain(resp)
        }
        func drain(r *http.Response) error { return r.Body.Close() }
        """
    assert leaks_of(source, "context.WithCancel(") == []
    assert leaks_of(source, "context.WithTimeout(") == []
    assert leaks_of(source, "context.WithDeadline(") == [("end", 8)]
    assert leaks_of(source, "context.WithCancelCause(") == []
    assert leaks_of(source, 'c.Get("u")') == [("return", 16)]


def test_a_release_deferred_under_the_error_check_leaks_on_the_returns_that_give_back_nil():
    source = """
        package p
        import "context"
        type conn struct{ stop context.CancelFunc }
        func dial(p context.Context) (c *conn, err error) {
            ctx, cancel := context.WithCancel(p)
            defer func() {
                if err != nil {
                    cancel()
                }
            }()
            if err = ctx.Err(); err != nil {
                return nil, err
            }
            if p == nil {
                return &conn{stop: cancel}, nil
            }
            return &conn{}, nil
        }
        """
    # the failing return is covered by the deferred closure, the one that hands cancel on too
    assert leaks_of(source, "context.WithCancel(") == [("return", 17)]


def test_a_cancel_kept_in_a_struct_made_here_leaks_until_the_struct_is_handed_on():
    from reviewers.semantics.ownership import bound_results

    (file,) = package(
        """
        package p
        import "context"
        type call struct{ ctx context.Context; cancel context.CancelFunc }
        func (c *call) close() { c.cancel() }
        var live []*call
        func begin(p context.Context, ok, closed bool) *call {
            c := &call{}
            c.ctx, c.cancel = context.WithCancel(p)
            if !ok {
                return nil
            }
            if closed {
                c.close()
                return nil
            }
            live = append(live, c)
            return c
        }
        """
    )
    model = package_of(file)
    made = next(c for c in captures("(call_expression) @c", file.root)["c"] if file.text(c).startswith("context."))
    bound = bound_results(model, file, made)
    assert bound is not None
    owned = bound.owned_in_field(model, file, bound.results[1])
    assert owned is not None
    assert [(e.kind, file.line(e.node)) for e in owned.leaks()] == [("return", 10)]


def test_facts_know_a_field_nothing_reads_and_a_result_that_keeps_the_only_cancel():
    from reviewers.semantics.package import Declared
    from reviewers.semantics.places import FIELD, Place

    files = package(
        """
        package p
        import "context"
        type rows struct{ cancel, stop context.CancelFunc; ctx context.Context }
        func (r *rows) init(p context.Context) { r.ctx, r.cancel = context.WithCancel(p) }
        func (r *rows) wait() { <-r.ctx.Done() }
        func (r *rows) halt() { r.stop() }
        func open(p context.Context) *rows {
            ctx, cancel := context.WithCancel(p)
            r := &rows{ctx: ctx, cancel: cancel}
            go r.wait()
            return r
        }
        func openHalting(p context.Context) *rows {
            ctx, stop := context.WithCancel(p)
            r := &rows{ctx: ctx, stop: stop}
            r.halt()
            return r
        }
        """
    )
    model = package_of(files[0])
    facts = model.facts
    assert facts.field_never_read(Place(FIELD, "rows.cancel", "r.cancel"))
    assert not facts.field_never_read(Place(FIELD, "rows.stop", "r.stop"))
    assert not facts.field_never_read(Place(FIELD, "rows.ctx", "r.ctx"))
    opened = facts.result_keeps_cancel(Declared(files[0], model.functions["open"].node))
    assert opened is not None and opened[1] == "context.WithCancel"
    assert facts.result_keeps_cancel(Declared(files[0], model.functions["openHalting"].node)) is None


def test_a_variable_holding_a_done_channel_is_watching_the_context():
    from reviewers.semantics.contexts import watches_done

    (file,) = package(
        """
        package p
        import "context"
        func f(ctx context.Context, in, other chan int) {
            done := ctx.Done()
            next := other
            select {
            case <-done:
            case <-next:
            case <-in:
            }
        }
        """
    )
    model = package_of(file)
    receives = [n for n in captures("(unary_expression) @u", file.root)["u"] if file.text(n).startswith("<-")]
    assert [watches_done(model, file, r) for r in receives] == [True, False, False]


def body_leaks(body: str) -> list[tuple[int, str]]:
    """The leaks of `resp` in `func f() error { <body> }`, `get` returning a response."""
    source = (
        'package p\nimport ("io"; "net/http")\nvar _ = io.EOF\n'
        "func get() (*http.Response, error) { return nil, nil }\n"
        "func decode(*http.Response) error { return nil }\n"
        f"func f() error {{\n{body}\n}}\n"
    )
    return [(kind, line) for kind, line in leaks_of(source, "get()")]


def test_a_body_closed_after_the_error_check_does_not_leak():
    assert body_leaks("resp, err := get()\nif err != nil {\nreturn err\n}\ndefer resp.Body.Close()\nreturn nil") == []


def test_a_return_before_the_close_leaks():
    leaks = body_leaks(
        "resp, err := get()\nif err != nil {\nreturn err\n}\nif resp.StatusCode != 200 {\nreturn nil\n}\nresp.Body.Close()\nreturn nil"
    )
    assert leaks == [("return", 12)]


def test_reading_the_body_is_not_closing_it_and_a_helper_that_ignores_it_does_not_either():
    assert body_leaks(
        "resp, err := get()\nif err != nil {\nreturn err\n}\n_, err = io.ReadAll(resp.Body)\nreturn err"
    ) == [("return", 12)]
    # `decode` takes an unnamed *http.Response: it cannot close it.
    assert body_leaks("resp, err := get()\nif err != nil {\nreturn err\n}\nreturn decode(resp)") == [("return", 11)]


def test_a_nil_check_guards_the_close():
    assert body_leaks("resp, err := get()\nif resp != nil {\ndefer resp.Body.Close()\n}\nreturn err") == []


# -- values --------------------------------------------------------------------------------------
def test_channel_capacity_follows_locals_fields_and_constructors_across_functions():
    _, second = package(
        """
        package p
        type pool struct{ sem chan struct{}; jobs chan int; out chan int }
        func newPool(n int) *pool {
            return &pool{sem: make(chan struct{}, n), jobs: newJobs()}
        }
        func newJobs() chan int { return make(chan int, 8) }
        func (p *pool) start() { p.out = make(chan int) }
        """,
        """
        package p
        func (p *pool) run(x int) {
            local := make(chan int)
            p.sem <- struct{}{}
            p.jobs <- x
            p.out <- x
            local <- x
            other <- x
        }
        var other = make(chan int, 2)
        """,
    )
    from reviewers.semantics.values import BUFFERED

    model = package_of(second)
    sends = [s.child_by_field_name("channel") for s in captures("(send_statement) @s", second.root)["s"]]
    assert [model.values.capacity(second, c) for c in sends] == [BUFFERED, 8, 0, 0, 2]  # type: ignore[arg-type]


def test_channel_capacity_of_a_parameter_comes_from_the_package_callers():
    (file,) = package(
        """
        package p
        func start() chan int {
            ch := make(chan int, 1)
            go feed(ch)
            var late chan int
            if late == nil {
                late = make(chan int, 3)
            }
            late <- 1
            return ch
        }
        func feed(out chan int) { out <- 1 }
        func Feed(out chan int) { out <- 1 }
        """
    )
    model = package_of(file)
    sends = [s.child_by_field_name("channel") for s in captures("(send_statement) @s", file.root)["s"]]
    # `late` is made buffered where it is given a value; `feed` is only ever given a buffered
    # channel; `Feed` is exported: callers elsewhere may pass anything.
    assert [model.values.capacity(file, c) for c in sends] == [3, 1, None]  # type: ignore[arg-type]


def test_receivers_typed_by_parameters_locals_package_variables_fields_and_constructors():
    (file,) = package(
        """
        package p
        import dbsql "database/sql"
        var pool *dbsql.DB
        type store struct{ db *dbsql.DB; name string }
        func f(tx *dbsql.Tx, s *store, other *store) {
            db, _ := dbsql.Open("x", "y")
            var local *dbsql.DB
            tx.Exec(); s.db.Exec(); pool.Exec(); db.Exec(); local.Exec(); s.name.Exec(); other.Exec()
        }
        func g(pool string) { pool.Exec() }
        """
    )
    model = package_of(file)
    receivers = [
        c.child_by_field_name("function").child_by_field_name("operand")  # type: ignore[union-attr]
        for c in captures("(call_expression) @c", file.root)["c"]
        if file.text(c).endswith(".Exec()")
    ]
    found = [(file.text(r), str(model.type_of(file, r))) for r in receivers]  # type: ignore[arg-type]
    assert found == [
        ("tx", "*database/sql.Tx"),
        ("s.db", "*database/sql.DB"),
        ("pool", "*database/sql.DB"),
        ("db", "*database/sql.DB"),
        ("local", "*database/sql.DB"),
        ("s.name", "string"),
        ("other", "*store"),
        ("pool", "string"),  # the parameter shadows the package variable
    ]


def test_a_loop_left_only_by_a_panic_is_left_unless_aborts_are_set_aside():
    (file,) = package(
        """
        package p
        import "log"
        func f(items chan int, stop bool) {
            for v := range items {
                if v < 0 {
                    panic(v)
                }
                if v == 0 {
                    log.Fatal("zero")
                }
            }
        }
        func g(items chan int) {
            for v := range items {
                if v < 0 {
                    panic(v)
                }
                if v == 0 {
                    return
                }
            }
        }
        """
    )
    model = package_of(file)
    loops = captures("(for_statement) @l", file.root)["l"]
    f, g = model.cfg(file, function(file, "f")), model.cfg(file, function(file, "g"))
    assert f.can_leave(loops[0], range_ends=False)  # a panic leaves it
    assert not f.can_leave(loops[0], range_ends=False, aborts=False)  # ...by ending the process
    assert g.can_leave(loops[1], range_ends=False, aborts=False)  # a return leaves it all the same


def test_a_function_nested_deeper_than_any_written_by_hand_gets_a_silent_graph():
    depth = 400
    body = "".join(f"if x > {n} {{\n" for n in range(depth)) + "return\n" + "}\n" * depth
    (file,) = package(f"package p\nfunc f(x int) {{\n{body}}}\n")
    cfg = package_of(file).cfg(file, function(file, "f"))
    assert cfg.opaque and cfg.escapes(None, lambda element: False) == [] and cfg.reaches_exit()


def test_facts_know_which_parameters_a_function_hands_to_a_goroutine():
    (file,) = package(
        """
        package p
        import "context"
        func watch(ctx context.Context, id string) { go func() { <-ctx.Done(); _ = id }() }
        func start(ctx context.Context, name string) { watch(ctx, name) }
        func use(ctx context.Context) error { return ctx.Err() }
        """
    )
    from reviewers.semantics.package import Declared

    facts = package_of(file).facts
    start, use = Declared(file, function(file, "start")), Declared(file, function(file, "use"))
    assert facts.hands_to_goroutine(start, 0) and facts.hands_to_goroutine(start, 1)
    assert not facts.hands_to_goroutine(use, 0)


# -- struct fields, method sets and what functions do to shared places ------------------------
SHARED = """
    package p

    import (
        "sync"
        "time"
    )

    type S struct {
        mu   sync.Mutex
        wg   sync.WaitGroup
        ch   chan int
        done chan struct{}
        sync.RWMutex
        t    *time.Timer
    }

    type Holder struct {
        cfg  [2]Inner
        next *S
    }

    type Inner struct{ once sync.Once }

    func NewS() *S { return &S{ch: make(chan int), done: make(chan struct{})} }

    func (s *S) Run() {
        s.mu.Lock()
        if s.t == nil {
            s.mu.Unlock()
            return
        }
        s.Lock()
        s.ch <- 1
        s.helper()
        s.mu.Unlock()
        go func() { s.ch <- 2 }()
    }

    func (s *S) helper() { s.wg.Wait() }

    func (s *S) loop() {
        for v := range s.ch {
            _ = v
        }
    }
"""


def _declared(file: GoFile, name: str):
    from reviewers.semantics.package import Declared

    node = next(
        n
        for n in file.root.named_children
        if n.type.endswith("_declaration") and file.text(n.child_by_field_name("name") or n) == name
    )
    return Declared(file, node)


def test_struct_fields_embedded_method_sets_and_held_locks():
    (file,) = package(SHARED)
    model = package_of(file)
    types = model.types_model
    assert [(f.name, str(f.type), f.embedded) for f in types.fields("S")][:5] == [
        ("mu", "sync.Mutex", False),
        ("wg", "sync.WaitGroup", False),
        ("ch", "chan int", False),
        ("done", "chan struct", False),
        ("RWMutex", "sync.RWMutex", True),
    ]
    from reviewers.semantics.types import named, pointer

    assert types.promoted(pointer(named("S")), "RLock").name == "RWMutex"
    assert types.promoted(named("S"), "Wait") is None  # no embedded WaitGroup
    assert types.held_lock(named("Holder")) == "sync.Once"  # through an array of a struct
    assert types.held_lock(pointer(named("S"))) is None  # a pointer copies no lock


def test_operations_name_promoted_fields_and_users_span_the_package():
    (file,) = package(SHARED)
    model = package_of(file)
    facts = model.facts
    run = _declared(file, "Run")
    ops = [(op.kind, op.place.key) for op in facts.operations(run).performed]
    assert ("Lock", "S.mu") in ops and ("Lock", "S.RWMutex") in ops and ("send", "S.ch") in ops
    channel = next(op.place for op in facts.operations(run).performed if op.kind == "send")
    users = [(facts.owner_type(d), op.kind) for d, op in facts.users(channel, "send", "range")]
    assert users == [("S", "send"), ("S", "send"), ("S", "range")]  # Run, its goroutine, loop
    assert [op.kind for _, op in facts.waiting(_declared(file, "helper"))] == ["Wait"]
    assert [(d.node.id == run.node.id, op.kind) for d, op in facts.waiting(run)] == [(True, "send"), (False, "Wait")]
    assert facts.waiting(_declared(file, "NewS")) == []


def test_must_before_holds_what_every_path_brings():
    (file,) = package(SHARED)
    model = package_of(file)
    run = _declared(file, "Run")
    done = model.facts.operations(run)
    graph = model.cfg(file, run.node)

    def transfer(element, held):
        for op in done.performed:
            element_of = graph.element_of(op.node)
            if element_of is not None and element_of.id == element.id and op.kind in ("Lock", "Unlock"):
                held = held | {op.place.key} if op.kind == "Lock" else held - {op.place.key}
        return held

    before = graph.must_before(transfer)
    send = next(op.node for op in done.performed if op.kind == "send")
    assert before[graph.element_of(send).id] == {"S.mu", "S.RWMutex"}
    go = next(n for n in file.nodes("go_statement"))
    assert before[graph.element_of(go).id] == {"S.RWMutex"}  # s.mu released on the way


def test_places_map_between_a_goroutine_and_its_starter_and_are_spelled_through_receivers():
    (file,) = package(
        """
        package p

        import "sync"

        type T struct{ wg sync.WaitGroup }

        func worker(group *sync.WaitGroup) { group.Add(1) }

        func (self *T) start(wg *sync.WaitGroup) {
            go worker(wg)
            go func() { self.wg.Done() }()
        }
        """
    )
    model = package_of(file)
    facts = model.facts
    from reviewers.semantics.places import place_of, spelling

    start = _declared(file, "start")
    _, callee, handed = facts.operations(start).calls[0]
    add = facts.operations(callee).of("Add")[0]
    assert facts.place_outside(callee, add.place, handed) == place_of(model, file, identifiers(file, "wg")[-1])
    assert facts.is_goroutine(callee) and not facts.is_goroutine(start)
    done = next(op for d in facts.functions for op in facts.operations(d).of("Done"))
    assert spelling(file, start.node, done.place) == "self.wg"
    assert spelling(file, _declared(file, "worker").node, done.place) == "T.wg"


def test_a_receive_from_a_method_that_returns_a_field_receives_from_that_field():
    (file,) = package(
        """
        package p

        type Stopper struct {
            quit chan struct{}
            jobs chan int
        }

        func (s *Stopper) Quit() <-chan struct{} {
            if s == nil {
                return nil
            }
            return s.quit
        }

        func (s *Stopper) Either(first bool) chan int {
            if first {
                return s.jobs
            }
            return make(chan int)
        }

        func (s *Stopper) Stop() { close(s.quit) }

        type Worker struct{ stopper *Stopper }

        func (w *Worker) wait() {
            <-w.stopper.Quit()
            <-w.stopper.Either(true)
        }
        """
    )
    facts = package_of(file).facts
    assert facts.returned_place(_declared(file, "Quit")).key == "Stopper.quit"  # `return nil` aside
    assert facts.returned_place(_declared(file, "Either")) is None  # a field on one path only
    received = [op.place.key for op in facts.operations(_declared(file, "wait")).of("receive")]
    assert received == ["Stopper.quit"]
    assert [facts.owner_type(d) for d, _ in facts.users(facts.returned_place(_declared(file, "Quit")), "close")] == [
        "Stopper"
    ]


def test_a_function_kept_in_a_field_is_the_callee_and_its_call_sites_are_known():
    (file,) = package(
        """
        package p

        type job struct {
            run  func()
            Hook func()
        }

        type other struct{ run func(int) }

        func plan(n int) []job {
            ready := make(chan int)
            var got chan int
            got = ready
            jobs := make([]job, n)
            for i := range jobs {
                jobs[i].run = func() { <-got }
            }
            return jobs
        }

        func work(j *job, o *other) {
            j.run()
            o.run(1)
        }

        func (j *job) later() { go j.run() }
        """
    )
    facts = package_of(file).facts
    work = _declared(file, "work")
    [(_, callee, _)] = [c for c in facts.operations(work).calls if file.text(c[0]) == "j.run()"]
    assert callee.node.type == "func_literal" and file.line(callee.node) == 16
    # The only call `go j.run()` is a goroutine: not all calls are plain ones.
    assert facts.call_sites(callee) is None
    [receive] = facts.operations(callee).of("receive")
    assert [p.label for p in facts.channel_aliases(receive.place)] == ["got", "ready"]
    assert [op.kind for _, op in facts.waiting(callee)] == ["receive"]  # a captured channel is shared


def test_call_sites_list_every_call_and_give_up_on_a_value_use():
    source = """
        package p

        type job struct{ run func() }

        func (j *job) set() { j.run = func() {} }

        func (j *job) twice() {
            j.run()
            j.run()
        }
        """
    (file,) = package(source)
    facts = package_of(file).facts
    literal = next(iter(file.nodes("func_literal")))
    assert [file.line(call) for _, call in facts.call_sites(Declared(file, literal))] == [8, 9]
    (file,) = package(source + "\nfunc (j *job) hand() func() { return j.run }\n")
    literal = next(iter(file.nodes("func_literal")))
    assert package_of(file).facts.call_sites(Declared(file, literal)) is None  # handed on as a value


def test_functions_given_to_a_callback_follow_method_values_constructors_and_factories():
    (file,) = package(
        """
        package p

        type Hub struct{ n int }

        func (h *Hub) tally(k string) { h.n++ }

        type relay struct {
            onDrop func(string)
            onSend func(string)
            onTick func(string)
        }

        func counting(h *Hub) func(string) {
            if h == nil {
                return func(string) {}
            }
            return func(k string) { h.n += len(k) }
        }

        func NewRelay(drop func(string)) *relay {
            return &relay{onDrop: drop}
        }

        func wire(h *Hub) *relay {
            r := NewRelay(counting(h))
            r.onSend = h.tally
            return r
        }

        func (r *relay) fire(k string) {
            r.onDrop(k)
            r.onSend(k)
            r.onTick(k)
            _ = len(k)
        }
        """
    )
    facts = package_of(file).facts
    fire = _declared(file, "fire")
    # a method value is the one function the field is given: `callee` pins it
    [send] = [c for c in file.nodes("call_expression") if file.text(c) == "r.onSend(k)"]
    assert facts.callee(file, send).node.type == "method_declaration"
    # the exported constructor's parameter may be given more elsewhere: only "may" answers it,
    # with both literals the package's own factory returns; a field nothing is given, none
    found = {file.text(call): [file.line(d.node) for d in given] for call, given in facts.callbacks(fire)}
    assert found == {"r.onDrop(k)": [15, 17]}


def test_field_channels_nobody_answers_getters_and_receivers_that_give_up():
    (file,) = package(
        """
        package p
        import "context"
        type q struct{ idle chan struct{}; fired chan struct{}; open chan int; out chan int; slot chan int }
        func newQ(n int) *q {
            first := make(chan int, 1)
            first <- 1
            return &q{idle: make(chan struct{}), fired: make(chan struct{}), open: make(chan int), out: make(chan int, n), slot: first}
        }
        func (x *q) Idle() <-chan struct{} { if x == nil { return nil }; return x.idle }
        func (x *q) Open() chan int { return x.open }
        func (x *q) wait() { <-x.Idle(); <-x.fired; <-x.open; x.out <- 1; x.slot <- 2 }
        func (x *q) stop() { close(x.fired) }
        func (x *q) loop(ctx context.Context) {
            for {
                select {
                case <-x.out:
                case <-ctx.Done():
                    return
                }
            }
        }
        """
    )
    model = package_of(file)
    facts = model.facts
    ops = [op for op in facts.operations(_declared(file, "wait")).performed if op.kind in ("receive", "send")]
    assert [op.place.key for op in ops] == ["q.idle", "q.fired", "q.open", "q.out", "q.slot"]  # a getter's field
    idle, fired, opened, out, _ = (op.place for op in ops)
    assert facts.never_answered(idle, "receive")  # handed out receive-only, never closed
    assert not facts.never_answered(fired, "receive")  # closed in stop
    assert not facts.never_answered(opened, "receive")  # handed out two-way: callers may close it
    assert not facts.never_answered(out, "send")  # loop receives
    gives_up = facts.stops_listening(out)
    assert gives_up is not None and file.text(gives_up[1]).startswith("case <-ctx.Done()")
    assert facts.stops_listening(idle) is None  # wait receives it alone
    out_send, slot = (s.child_by_field_name("channel") for s in captures("(send_statement) @s", file.root)["s"][1:3])
    assert file.text(slot) == "x.slot" and model.values.full_at_birth(file, slot)  # type: ignore[arg-type]
    assert file.text(out_send) == "x.out" and not model.values.full_at_birth(file, out_send)  # type: ignore[arg-type]


def test_channels_that_fire_once_while_a_loop_runs():
    (file,) = package(
        """
        package p
        import "time"
        func f(stop chan struct{}, more func() bool) {
            once := time.NewTimer(time.Second)
            guarded := time.NewTimer(time.Second)
            rearmed := time.NewTimer(time.Second)
            tick := time.NewTicker(time.Second)
            deadline := time.After(time.Second)
            for more() {
                select {
                case <-once.C:
                case <-guarded.C:
                case <-rearmed.C:
                case <-tick.C:
                case <-deadline:
                case <-stop:
                }
                if more() && guarded.Stop() {
                    guarded.Reset(0)
                }
                rearmed.Reset(time.Second)
            }
        }
        """
    )
    model = package_of(file)
    loop = captures("(for_statement) @f", file.root)["f"][0]
    channels = [
        r.child_by_field_name("operand")
        for r in captures("(receive_statement right: (unary_expression) @r)", file.root)["r"]
    ]
    # A timer re-armed only where Stop returned true (it had not fired) still fires once; one
    # re-armed on every pass, a ticker and a plain channel do not.
    assert [model.values.fires_once(file, c, loop) for c in channels] == [True, True, False, False, True, False]  # type: ignore[arg-type]


def test_a_snapshot_holds_copies_of_what_it_was_filled_from():
    (file,) = package(
        """
        package p
        import ("maps"; "slices")
        type reg struct{ peers map[string]int; list []int }
        func fill(map[string]int) {}
        func (r *reg) f(names []string, extra []int) {
            a := make(map[string]int)
            maps.Copy(a, r.peers)
            b := make([]int, 0, len(r.list))
            for _, v := range r.list {
                b = append(b, v)
            }
            c := slices.Clone(r.list)
            var d []int
            d = append(d, extra...)
            e := map[string]int{}
            for _, n := range names {
                e[n] = len(n)
            }
            g := make([]int, len(r.list))
            copy(g, r.list)
            h := make(map[string]int)
            fill(h)
            k := []int{}
            for _, v := range r.list {
                for range names {
                    k = append(k, v)
                }
            }
            for range a { for range b { for range c { for range d { for range e { for range g { for range h { for range k {
            } } } } } } } }
        }
        """
    )
    model = package_of(file)
    ranged = [
        r.child_by_field_name("right")
        for r in captures("(range_clause) @r", file.root)["r"]
        if file.text(r.child_by_field_name("right")) in "abcdeghk"
    ]

    def sources(node):
        copied = model.values.copied_from(file, node)
        return None if copied is None else [file.text(s.value) for s in copied]

    # Filled by copying (maps.Copy, copy, a Clone, an append a pass of a range, nested ranges
    # multiplying): what it copies. Handed to a call that may fill it: it cannot tell.
    assert [sources(r) for r in ranged] == [
        ["r.peers"],
        ["r.list"],
        ["r.list"],
        ["extra"],
        ["names"],
        ["r.list", "r.list"],
        None,
        ["names", "r.list"],
    ]


def test_calls_that_only_log():
    (file,) = package(
        """
        package p
        import (
            "context"
            "log/slog"
        )
        type svc struct{ logger, dialog, auth iface }
        type iface interface {
            Debugf(context.Context, string)
            Error(context.Context, string)
            LogIn(context.Context, string) error
        }
        func f(ctx context.Context, s svc) {
            slog.WarnContext(ctx, "w")
            s.logger.Debugf(ctx, "d")
            s.dialog.Error(ctx, "e")
            _ = s.auth.LogIn(ctx, "user")
        }
        """
    )
    calls = [c for c in captures("(call_expression) @c", file.root)["c"]]
    # A level method counts only on a logger; `LogIn` is not a log level.
    assert [logs_only(file, c) for c in calls] == [True, True, False, False]
