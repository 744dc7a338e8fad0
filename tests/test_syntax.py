"""The shared syntax helpers, on their own."""

from __future__ import annotations

import pytest

from reviewers.gosource import GoFile, captures, go_version_of
from reviewers.syntax import (
    FUNCTION_TYPES,
    declaration_name,
    enclosing_declaration,
    enclosing_handler,
    enclosing_loops,
    field_of,
    function_label,
    go_statements,
    is_handler,
    own_nodes,
    owned_nodes,
    parent_of,
    qualified_calls,
    qualified_name,
    scope_nodes,
)

SOURCE = b"""package a

import (
	ctxpkg "context"
	"net/http"
	yaml "gopkg.in/yaml.v3"
	"github.com/labstack/echo/v4"
)

type Server struct{}

func (s *Server) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	ctx, cancel := ctxpkg.WithCancel(req.Context())
	defer cancel()
	for i := 0; i < 3; i++ {
		go func() { _ = ctxpkg.TODO() }()
	}
	_ = ctx
}

func worker(parent ctxpkg.Context, jobs chan int) {
	go process(jobs)
	_ = yaml.Marshal
}

func process(jobs chan int) {}

func echoHandler(c echo.Context) error { return nil }

func client(r *http.Request) {}

func register(mux *http.ServeMux) {
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {})
}
"""


def go_file() -> GoFile:
    return GoFile("a.go", SOURCE)


def functions(file: GoFile) -> dict[str, object]:
    found = captures(
        "[(function_declaration name: (identifier) @name) (method_declaration name: (field_identifier) @name)] @fn",
        file.root,
    )
    return {file.text(name): fn for name, fn in zip(found["name"], found["fn"])}


def test_imports_resolve_aliases_and_versioned_paths():
    file = go_file()
    assert file.imports == {
        "ctxpkg": "context",
        "http": "net/http",
        "yaml": "gopkg.in/yaml.v3",
        "echo": "github.com/labstack/echo/v4",
    }
    names = [
        qualified_name(file, call) for call in qualified_calls(file, file.root, {"context.WithCancel", "context.TODO"})
    ]
    assert names == ["context.WithCancel", "context.TODO"]


def test_handlers_are_recognised_by_signature_not_by_name():
    file = go_file()
    fns = functions(file)
    assert is_handler(file, fns["ServeHTTP"]) and is_handler(file, fns["echoHandler"])
    assert not is_handler(file, fns["client"]) and not is_handler(file, fns["worker"])
    literal = captures("(func_literal) @lit", fns["register"])["lit"][0]
    assert is_handler(file, literal)


def test_goroutine_bodies_are_scopes_of_their_own():
    file = go_file()
    serve = functions(file)["ServeHTTP"]
    todo = qualified_calls(file, serve, {"context.TODO"})[0]
    assert enclosing_handler(file, todo) is None  # inside `go func() {...}()`
    assert todo not in list(scope_nodes(serve))
    assert len(go_statements(serve)) == 1 and len(enclosing_loops(go_statements(serve)[0])) == 1
    # `go process(jobs)`: the call's arguments belong to the starter.
    assert [file.text(n) for n in scope_nodes(functions(file)["worker"]) if n.type == "identifier"][:2] == [
        "process",
        "jobs",
    ]


def test_declaration_names_are_stable_handles():
    file = go_file()
    fns = functions(file)
    assert (
        declaration_name(file, enclosing_declaration(fns["ServeHTTP"].child_by_field_name("body")))
        == "(*Server).ServeHTTP"
    )
    assert declaration_name(file, enclosing_declaration(fns["worker"].child_by_field_name("body"))) == "worker"


def test_go_directive():
    assert go_version_of(b"module x\n\ngo 1.21.3\n\ntoolchain go1.22.0\n") == (1, 21)
    assert go_version_of(b"module x\n") is None and go_version_of(None) is None


def test_partial_files_assume_conventional_package_names():
    partial = GoFile("a.go", b"\n\nfunc f() { http.Get(url) }\n", partial=True)
    call = captures("(call_expression) @c", partial.root)["c"][0]
    assert qualified_name(partial, call) == "net/http.Get"
    whole = GoFile("a.go", b"package a\n\nfunc f() { http.Get(url) }\n")
    assert qualified_name(whole, captures("(call_expression) @c", whole.root)["c"][0]) is None


def test_nodes_by_type_match_a_direct_query():
    file = go_file()
    serve = functions(file)["ServeHTTP"]
    for node_type in ("call_expression", "go_statement", "for_statement", "identifier"):
        direct = captures(f"({node_type}) @n", serve).get("n", [])
        assert file.nodes(node_type, within=serve) == direct, node_type
    assert len(file.nodes("call_expression")) == len(captures("(call_expression) @c", file.root)["c"])
    assert file.nodes("go_statement", within=functions(file)["process"]) == []
    call = file.nodes("call_expression")[0]
    assert file.nodes("call_expression", within=call)[0] == call


def test_package_cache_is_built_once_and_shared_by_the_package():
    package: list[GoFile] = []
    package += [GoFile(name, b"package a\n", package_files=lambda: package) for name in ("a.go", "b.go")]
    builds = []

    def build():
        builds.append(1)
        return [file.path for file in package]

    assert package[0].package_cached("paths", build) == ["a.go", "b.go"]
    assert package[1].package_cached("paths", build) == ["a.go", "b.go"]
    assert len(builds) == 1
    assert package[1].cached("paths", lambda: "own") == "own"  # the per-file cache is apart
    alone = GoFile("c.go", b"package a\n")
    assert alone.package_cached("paths", lambda: ["c.go"]) == ["c.go"]


def test_top_level_specs_grouped_or_not_without_local_declarations():
    from reviewers.syntax import top_level_specs

    file = GoFile(
        "a.go",
        b"package a\n\nvar (\n\tx, y = 1, 2\n\tz int\n)\n\nvar w = 3\n\nconst c = 1\n\nfunc f() { var local = 1; _ = local }\n",
    )
    names = lambda specs: [file.text(n) for s in specs for n in s.children_by_field_name("name")]  # noqa: E731
    assert names(top_level_specs(file)) == ["x", "y", "z", "w"]
    assert names(top_level_specs(file, ("var", "const"))) == ["x", "y", "z", "w", "c"]


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
    """Named nodes of a function's body, not entering the literals in it."""
    stack = list(reversed(function.child_by_field_name("body").named_children))
    while stack:
        current = stack.pop()
        yield current
        if current.type != "func_literal":
            stack.extend(reversed(current.named_children))


def test_nodes_are_owned_by_the_function_whose_body_holds_them():
    file = GoFile("p.go", NESTED)
    for node_types in (
        ("call_expression", "send_statement", "unary_expression", "range_clause"),
        ("var_spec", "short_var_declaration", "range_clause", "receive_statement"),
    ):
        owned = owned_nodes(file, node_types)
        for function in (f for node_type in FUNCTION_TYPES for f in file.nodes(node_type)):
            walked = [n for n in _body_walk(function) if n.type in node_types]
            assert owned.get(function.start_byte, []) == walked, file.text(function)
            assert own_nodes(file, function, node_types) == walked, file.text(function)


def test_function_labels_name_methods_functions_and_closures():
    file = GoFile("p.go", NESTED)
    labels = [function_label(file, f) for node_type in FUNCTION_TYPES for f in file.nodes(node_type)]
    assert labels == ["outer", "S.m", "a closure in outer", "a closure in outer", "a closure in outer"]


def test_vendored_and_forwarding_imports_are_the_package_they_stand_for():
    from reviewers.gosource import GoFile

    source = (
        b'package a\n\nimport (\n\t"github.com/acme/app/vendor/golang.org/x/net/context"\n'
        b'\thttp2 "example.com/Godeps/_workspace/src/net/http"\n\t"golang.org/x/net/context/ctxhttp"\n)\n'
    )
    assert GoFile("a.go", source).imports == {
        "context": "context",
        "http2": "net/http",
        "ctxhttp": "golang.org/x/net/context/ctxhttp",
    }


WITH_CHANNELS = b"""package a

func f(ch chan int, done chan struct{}) {
	for x := range ch {
		if x > 0 {
			select {
			case ch <- x:
			case <-done:
				return
			}
		}
		v := <-ch
		go func() { g(v) }()
	}
}
"""

# The fields the rules take for granted (`syntax.field_of`).
REQUIRED_FIELDS = {
    "call_expression": ("function", "arguments"),
    "selector_expression": ("operand", "field"),
    "send_statement": ("channel", "value"),
    "unary_expression": ("operand",),
    "for_statement": ("body",),
    "range_clause": ("right",),
    "communication_case": ("communication",),
    "if_statement": ("condition",),
    "short_var_declaration": ("left", "right"),
    "func_literal": ("body",),
}


def test_required_fields_are_there_even_in_code_with_errors():
    # Every cut of the file, and the file without each of its lines: recovery gives a node
    # the children its grammar requires (zero-width MISSING ones) or no node (an ERROR).
    sources = [SOURCE, WITH_CHANNELS]
    broken = [source[:end] for source in sources for end in range(len(source))]
    for source in sources:
        lines = source.splitlines(keepends=True)
        broken += [b"".join(lines[:i] + lines[i + 1 :]) for i in range(len(lines))]
    checked = dict.fromkeys(REQUIRED_FIELDS, 0)
    for source in broken:
        file = GoFile("a.go", source)
        for node_type, names in REQUIRED_FIELDS.items():
            for node in file.nodes(node_type):
                assert all(field_of(node, name) for name in names), (node_type, source)
                checked[node_type] += 1
    assert min(checked.values()) > 20, checked


def test_a_missing_field_or_parent_is_an_error_that_says_which():
    file = GoFile("a.go", WITH_CHANNELS)
    call = file.nodes("call_expression")[-1]  # g(v)
    assert file.text(field_of(call, "function")) == "g"
    assert parent_of(call).type == "expression_statement"
    with pytest.raises(ValueError, match="a call_expression at line 13 has no 'body' field"):
        field_of(call, "body")
    with pytest.raises(ValueError, match="a source_file at line 1 has no parent"):
        parent_of(file.root)


def test_go_1_26_new_of_an_expression_parses_and_keeps_its_text():
    from reviewers import check_files
    from reviewers.gosource import GoFile

    source = (
        b'package a\n\nimport "context"\n\nfunc f(p context.Context) *int {\n'
        b"\tdone := new(make(chan struct{}))\n\t_ = done\n"
        b"\tctx, _ := context.WithCancel(p)\n\t_ = ctx\n\treturn new(42)\n}\n"
    )
    file = GoFile("a.go", source)
    assert not file.has_errors
    assert [file.text(call) for call in file.nodes("call_expression")][:2] == [
        "new(make(chan struct{}))",
        "make(chan struct{})",
    ]
    result = check_files([("a.go", lambda: source)])
    assert [(f.rule, f.line) for f in result.findings] == [("GR203", 8)]
    assert not any("does not parse" in note for note in result.notes)
