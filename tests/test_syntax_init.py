"""The GR4xx package call graph (`reviewers/rules/init/_calls.py`): regions, receiver kinds,
effects and chains across the files of a package."""

from __future__ import annotations

from reviewers.gosource import GoFile
from reviewers.rules.init._calls import (
    IO,
    WAIT,
    declared_kinds,
    init_chains,
    initializer_chains,
    region_captures,
)


def package(*sources: str) -> list[GoFile]:
    files: list[GoFile] = []
    for number, source in enumerate(sources):
        files.append(GoFile(f"p/f{number}.go", source.encode(), package_files=lambda: files))
    return files


def chain_texts(file: GoFile, kind: str) -> list[str]:
    return [chain.text("init") for chain in init_chains(file, kind)]


def test_region_leaves_out_stored_literals_and_goroutines():
    [file] = package(
        """package p
func init() {
    func() { a() }()
    defer func() { b() }()
    f := func() { c() }
    go d(e())
    go func() { g() }()
    h(func() { i() })
}"""
    )
    body = file.root.named_children[1].child_by_field_name("body")
    called = [file.text(n.child_by_field_name("function")) for n in region_captures("(call_expression) @node", body)]
    assert [name for name in called if len(name) == 1] == ["a", "b", "e", "h"]


def test_kinds_come_from_types_constructors_and_composite_literals():
    [file] = package(
        """package p
import ("database/sql"; "net/http"; "os/exec"; "sync"; eg "golang.org/x/sync/errgroup")
func f(c *http.Client, n int) {
    db, err := sql.Open("x", "y")
    cmd := exec.Command("ls")
    var wg sync.WaitGroup
    g, ctx := eg.WithContext(nil)
    ch, buf := make(chan int), make(chan int, 4)
    other := &http.Client{}
    def := http.DefaultClient
}"""
    )
    kinds = declared_kinds(file, file.root.named_children[-1])
    assert kinds["c"] == "client" and kinds["other"] == "client" and kinds["def"] == "client"
    assert kinds["db"] == "db" and kinds["err"] is None and kinds["n"] is None
    assert kinds["cmd"] == "cmd" and kinds["wg"] == "waitgroup" and kinds["g"] == "waitgroup"
    assert kinds["ch"] == "chan" and kinds["buf"] == "buffered chan"


def test_chains_cross_files_and_stop_at_the_depth_limit():
    main, helpers = package(
        """package p
func init() {
    a()
    deep1()
}""",
        """package p
import "net/http"
func a() { b() }
func b() { http.Get("x") }
func deep1() { deep2() }
func deep2() { deep3() }
func deep3() { deep4() }
func deep4() { http.Get("y") }""",
    )
    assert chain_texts(main, IO) == ["init → a → b → http.Get"]
    assert chain_texts(helpers, IO) == []  # no init there


def test_recursion_and_duplicate_definitions_are_followed_safely():
    linux, _windows = package(
        """package p
func init() { setup() }
func loop() { loop(); setup() }
func setup() { loop() }""",
        """package p
import "time"
func setup() { time.Sleep(1) }""",
    )
    assert chain_texts(linux, WAIT) == ["init → setup → time.Sleep"]


def test_other_packages_in_the_directory_are_ignored():
    main, _test = package(
        """package p
func init() { helper() }""",
        """package p_test
import "net/http"
func helper() { http.Get("x") }""",
    )
    assert chain_texts(main, IO) == []


def test_local_names_shadow_package_functions_and_variables():
    [file] = package(
        """package p
import ("database/sql"; "net/http")
var db *sql.DB
func fetch() { http.Get("x") }
func init() {
    fetch := func() {}
    fetch()
    db := cache{}
    db.Query()
}
type cache struct{}
func (cache) Query() {}"""
    )
    assert chain_texts(file, IO) == []


def test_grpc_dial_blocks_only_with_with_block():
    [file] = package(
        """package p
import "google.golang.org/grpc"
func init() {
    grpc.Dial("a", grpc.WithInsecure())
    grpc.Dial("b", grpc.WithBlock())
}"""
    )
    assert chain_texts(file, IO) == ["init → grpc.Dial"]
    assert [init_chains(file, IO).__next__().site.start_point[0]] == [4]


def test_waits_of_groups_selects_and_channels():
    [file] = package(
        """package p
import ("sync"; "golang.org/x/sync/errgroup")
var (
    g errgroup.Group
    jobs = make(chan int, 8)
    done = make(chan bool)
    mu sync.Mutex
)
func init() {
    jobs <- 1
    done <- true
    select { case <-done: default: }
    select { case <-done: }
    g.Wait()
    mu.Lock()
}"""
    )
    assert chain_texts(file, WAIT) == ["init → done <- ...", "init → select", "init → g.Wait"]


def test_initializers_report_the_first_blocking_step():
    [file] = package(
        """package p
import ("net"; "time")
func wait() int { time.Sleep(1); return 1 }
var (
    a = 1
    b, _ = net.Dial("tcp", "x")
    c = wait()
    d = func() int { return wait() }
)"""
    )
    found = [(i.names, chain.text("var")) for i, chain in initializer_chains(file)]
    assert found == [(("b", "_"), "var → net.Dial"), (("c",), "var → wait → time.Sleep")]


def test_nested_var_specs_are_not_package_initializers():
    [file] = package(
        """package p
import "net"
var x = func() int {
    var conn, _ = net.Dial("tcp", "x")
    _ = conn
    return 1
}()
var h = func() { go func() { net.Dial("tcp", "y") }() }"""
    )
    found = [(i.names, chain.text("var")) for i, chain in initializer_chains(file)]
    assert found == [(("x",), "var → net.Dial")]


def test_a_file_rebuilt_from_hunks_joins_the_package():
    main = GoFile("p/a.go", b"package p\nfunc init() { load() }\n", package_files=lambda: files)
    hunk = GoFile("p/b.go", b"func load() {\n\ttime.Sleep(time.Second)\n}\n", partial=True, package_files=lambda: files)
    files = [main, hunk]
    assert chain_texts(main, WAIT) == ["init → load → time.Sleep"]


def test_receivers_typed_by_the_result_of_a_package_function():
    main, _store = package(
        """package p
var db = openDB()
func init() {
    db.Exec("CREATE TABLE t (id int)")
    client, err := newClient()
    client.Get("x")
    _ = err
}""",
        """package p
import ("database/sql"; "net/http")
func openDB() *sql.DB { db, _ := sql.Open("x", "y"); return db }
func newClient() (c *http.Client, err error) { return &http.Client{}, nil }""",
    )
    assert chain_texts(main, IO) == ["init → db.Exec", "init → client.Get"]
