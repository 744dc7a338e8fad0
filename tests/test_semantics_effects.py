"""The model's effects (reviewers/semantics/effects.py): what a function blocks on, itself or
through the package's functions it calls, and the regions that run with it."""

from __future__ import annotations

from reviewers.gosource import GoFile
from reviewers.semantics import package_of
from reviewers.semantics.contexts import request_has_deadline
from reviewers.semantics.effects import FILE, REMOTE, WAIT, Chain, running_nodes
from reviewers.semantics.package import Declared
from tests.test_semantics import package


def function(file: GoFile, name: str) -> Declared:
    declared = package_of(file).function(name)
    assert declared is not None, name
    return declared


def chain_of(file: GoFile, name: str, *kinds: str, depth: int = 3) -> str | None:
    chain = package_of(file).effects.chain(function(file, name), kinds or REMOTE, depth)
    return chain.text(name) if chain is not None else None


def region_texts(file: GoFile, name: str, *kinds: str) -> list[str]:
    declared = function(file, name)
    chains: list[Chain] = package_of(file).effects.region_chains(file, declared.node, kinds or REMOTE)
    return [chain.text(name) for chain in chains]


def test_io_two_calls_away_is_found_across_files_with_the_shortest_chain():
    main, helpers = package(
        """
        package p
        func start() { load() }
        func both() { load(); fetch() }
        """,
        """
        package p
        import "net/http"
        func load() { fetch() }
        func fetch() { http.Get("http://config") }
        """,
    )
    assert chain_of(main, "start") == "start → load → fetch → http.Get"
    assert chain_of(main, "both") == "both → fetch → http.Get"  # the shortest, not the first
    assert chain_of(main, "start", depth=1) is None  # two calls deep, beyond one
    assert chain_of(helpers, "fetch", WAIT) is None  # I/O is not a wait


def test_call_cycles_terminate_and_still_find_what_the_cycle_reaches():
    (file,) = package(
        """
        package p
        import "time"
        func ping() { pong() }
        func pong() { ping(); self() }
        func self() { self() }
        func tired() { ping(); rest() }
        func rest() { time.Sleep(1) }
        func loop() { loop2(); rest() }
        func loop2() { loop() }
        """
    )
    assert chain_of(file, "ping", WAIT) is None
    assert chain_of(file, "self", WAIT) is None
    assert chain_of(file, "tired", WAIT) == "tired → rest → time.Sleep"
    assert chain_of(file, "loop2", WAIT) == "loop2 → loop → rest → time.Sleep"


def test_building_a_request_or_a_client_is_not_io_sending_it_is():
    (file,) = package(
        """
        package p
        import ("context"; "database/sql"; "net/http"; "os/exec"; "time")
        func build(ctx context.Context) (*http.Request, *http.Client) {
            req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://x", nil)
            _, _ = sql.Open("postgres", "dsn")
            _ = exec.Command("ls")
            return req, &http.Client{Timeout: time.Second}
        }
        func send(ctx context.Context) {
            req, client := build(ctx)
            client.Do(req)
        }
        func run() { exec.Command("ls").Run() }
        """
    )
    assert chain_of(file, "build") is None
    assert chain_of(file, "send") == "send → client.Do"
    assert chain_of(file, "run") == "run → exec.Command(...).Run"


def test_methods_method_values_and_local_literals_are_followed():
    (file,) = package(
        """
        package p
        import ("database/sql"; "os")
        type store struct{ db *sql.DB }
        func (s *store) ping() error { return s.db.Ping() }
        func viaMethod(s *store) { s.ping() }
        func viaValue(s *store) { check := s.ping; check() }
        func viaLiteral() { read := func() { os.ReadFile("x") }; read() }
        func storedOnly() { read := func() { os.ReadFile("x") }; _ = read }
        """
    )
    assert chain_of(file, "viaMethod") == "viaMethod → s.ping → s.db.Ping"
    assert chain_of(file, "viaValue") == "viaValue → check → s.db.Ping"
    assert chain_of(file, "viaLiteral", FILE) == "viaLiteral → read → os.ReadFile"
    assert chain_of(file, "viaLiteral") is None  # file I/O is not remote
    assert chain_of(file, "storedOnly", FILE) is None


def test_regions_take_closures_called_on_the_spot_not_stored_literals_or_goroutines():
    (file,) = package(
        """
        package p
        func f() {
            func() { a() }()
            defer func() { b() }()
            c := func() { d() }
            go e(g())
            go func() { h() }()
            i(func() { j() })
            _ = c
        }
        """
    )
    root = function(file, "f").node
    called = [file.text(n.child_by_field_name("function")) for n in running_nodes(file, root, ("call_expression",))]
    assert [name for name in called if len(name) == 1] == ["a", "b", "g", "i"]


def test_waits_on_groups_conds_channels_and_selects():
    (file,) = package(
        """
        package p
        import ("sync"; "golang.org/x/sync/errgroup")
        var (
            g errgroup.Group
            jobs = make(chan int, 8)
            done = make(chan bool)
            mu sync.Mutex
        )
        func waits() {
            jobs <- 1
            done <- true
            select { case <-done: default: }
            select { case v := <-done: _ = v }
            g.Wait()
            sync.NewCond(&mu).Wait()
            for range done {}
            mu.Lock()
        }
        """
    )
    assert region_texts(file, "waits", WAIT) == [
        "waits → done <- ...",
        "waits → select",
        "waits → g.Wait",
        "waits → sync.NewCond(...).Wait",
        "waits → range done",
    ]


def test_grpc_dial_blocks_only_with_with_block():
    (file,) = package(
        """
        package p
        import "google.golang.org/grpc"
        func dial() {
            grpc.Dial("a", grpc.WithInsecure())
            grpc.Dial("b", grpc.WithBlock())
        }
        """
    )
    [chain] = package_of(file).effects.region_chains(file, function(file, "dial").node, REMOTE)
    assert chain.text("dial") == "dial → grpc.Dial" and file.line(chain.site) == 5


def test_a_request_carries_a_deadline_only_from_a_context_that_has_one():
    (file,) = package(
        """
        package p
        import ("context"; "net/http"; "time")
        func f(parent context.Context, r *http.Request) {
            ctx, cancel := context.WithTimeout(parent, time.Second)
            defer cancel()
            inner, stop := context.WithCancel(ctx)
            defer stop()
            bounded, _ := http.NewRequestWithContext(inner, http.MethodGet, "http://x", nil)
            open, _ := http.NewRequestWithContext(parent, http.MethodGet, "http://x", nil)
            plain, _ := http.NewRequest(http.MethodGet, "http://x", nil)
            moved := plain.WithContext(ctx)
            use(bounded, open, plain, moved, r)
        }
        func g(ctx context.Context) {
            ctx, cancel := context.WithTimeout(ctx, time.Second) // overwrites the parameter
            defer cancel()
            req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://x", nil)
            use(req)
        }
        func use(...*http.Request) {}
        """
    )
    model = package_of(file)
    bounded = []
    for call in [c for c in file.nodes("call_expression") if file.text(c).startswith("use(")]:
        arguments = call.child_by_field_name("arguments")
        assert arguments is not None
        bounded.append([request_has_deadline(model, file, argument) for argument in arguments.named_children])
    assert bounded == [[True, False, False, True, False], [True]]


def test_a_mutex_locked_again_while_surely_held_waits_for_ever():
    (file,) = package(
        """
        package p
        import "sync"
        type cache struct{ mu sync.RWMutex }
        var mu sync.Mutex
        func (c *cache) upgrade() {
            c.mu.RLock()
            defer c.mu.RUnlock()
            if true {
                c.mu.Lock()
            }
        }
        func (c *cache) readers() { c.mu.RLock(); c.mu.RLock() }
        func twice() {
            mu.Lock()
            defer mu.Unlock()
            mu.Lock()
        }
        func released() { mu.Lock(); mu.Unlock(); mu.Lock() }
        func branches(b bool) {
            if b {
                mu.Lock()
            } else {
                mu.Lock()
            }
        }
        func helper() { mu.Unlock() }
        func throughCall() { mu.Lock(); helper(); mu.Lock() }
        """
    )
    effects = package_of(file).effects
    upgrade = package_of(file).method("cache", "upgrade")
    readers = package_of(file).method("cache", "readers")
    assert upgrade is not None and readers is not None
    assert [c.text("upgrade") for c in effects.region_chains(file, upgrade.node, (WAIT,))] == ["upgrade → c.mu.Lock"]
    assert effects.region_chains(file, readers.node, (WAIT,)) == []
    assert region_texts(file, "twice", WAIT) == ["twice → mu.Lock"]
    assert (
        file.line(effects.region_chains(file, function(file, "twice").node, (WAIT,))[0].site) == 16
    )  # the second lock
    for quiet in ("released", "branches", "throughCall"):
        assert region_texts(file, quiet, WAIT) == [], quiet
