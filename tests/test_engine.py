"""The driver: filter modes, suppressions, configuration, fingerprints, the `introduced`
mode, partial files, big and broken files."""

from __future__ import annotations

import json

import pytest

from reviewers import Config, check_files, load_config, review
from reviewers.engine import STRICT_RULES, Analyzer, FileUnread
from reviewers.finding import Severity, with_names
from reviewers.gosource import GoFile
from reviewers.rule import Report, Rule
from tests.gitrepo import GitRepo

HEADER = 'package a\n\nimport (\n\t"context"\n\t"time"\n)\n\n'
LEAKY = "func f(p context.Context) {\n\tctx, _ := context.WithTimeout(p, time.Second)\n\t_ = ctx\n}\n"


@pytest.fixture
def repo(tmp_path):
    return GitRepo(tmp_path / "repo")


def change(repo, before: str, after: str, path: str = "a.go"):
    """Commit `before`, write `after`; return the diff and a reader of the work tree."""
    repo.write(path, before)
    repo.commit()
    repo.write(path, after)
    return repo.diff(), lambda p: (repo.root / p).read_bytes() if (repo.root / p).is_file() else None


def test_added_mode_reports_only_what_the_change_wrote(repo):
    before = HEADER + LEAKY
    after = before + "\nfunc g(p context.Context) {\n\tc, _ := context.WithCancel(p)\n\t_ = c\n}\n"
    diff, head = change(repo, before, after)
    findings = review(diff, head=head).findings
    assert [(f.rule, f.line) for f in findings] == [("GR203", 14)]


def test_diff_context_and_file_modes_widen_the_filter(repo):
    before = HEADER + LEAKY + "\n// one\n// two\n"
    after = before + "// three\n"
    diff, head = change(repo, before, after)
    assert review(diff, head=head).findings == []
    assert [f.line for f in review(diff, head=head, config=Config(filter="diff_context")).findings] == []
    assert [f.line for f in review(diff, head=head, config=Config(filter="file")).findings] == [9]
    # A context line that the change made a trap (its cancel no longer called) is shown
    # with diff_context; an old trap on a context line is not (tests/test_preexisting.py).
    cancelled = (
        HEADER
        + "func f(p context.Context) {\n\tctx, cancel := context.WithTimeout(p, time.Second)\n\t_ = ctx\n\tcancel()\n}\n"
    )
    diff, head = change(repo, cancelled, cancelled.replace("\tcancel()\n", "\t_ = cancel\n"))
    base = lambda path: cancelled.encode()  # noqa: E731
    # `added` puts it on the added line that made it (`_ = cancel`), as info.
    assert [(f.line, f.severity) for f in review(diff, head=head, base=base).findings] == [(11, "info")]
    assert [
        (f.rule, f.line) for f in review(diff, head=head, base=base, config=Config(filter="diff_context")).findings
    ] == [("GR204", 9)]


def _ranges_over_ch(node):
    stack = [node]
    while stack:
        current = stack.pop()
        if current.type == "for_statement" and b"range ch" in current.text:
            yield current
        stack.extend(current.named_children)


def unclosed_range(file):
    """A stand-in rule: a `range ch` in a function without `close(ch)`."""
    for function in file.root.named_children:
        if function.type == "function_declaration" and b"close(ch)" not in function.text:
            for loop in _ranges_over_ch(function):
                yield Report(loop, "`ch` is never closed", "defer close(ch)")


def only_rule(monkeypatch, rule):
    import reviewers.engine as engine

    monkeypatch.setattr(engine, "all_rules", lambda: [rule])


def test_introduced_mode_reports_a_trap_made_by_an_edit_elsewhere(repo, monkeypatch):
    only_rule(monkeypatch, Rule("GR199", "test-range", Severity.ERROR, "GR199 test-range: test.", unclosed_range))
    before = "package a\n\nfunc f() {\n\tch := make(chan int)\n\tgo func() {\n\t\tdefer close(ch)\n\t\tch <- 1\n\t}()\n\tfor v := range ch {\n\t\t_ = v\n\t}\n}\n"
    after = before.replace("\t\tdefer close(ch)\n", "")
    diff, head = change(repo, before, after)
    base = lambda path: before.encode()  # noqa: E731
    assert review(diff, head=head).findings == []  # the range line was not edited
    findings = review(diff, head=head, base=base, config=Config(filter="introduced")).findings
    assert [(f.rule, f.line) for f in findings] == [("GR199", 6)]  # where `defer close(ch)` was
    assert findings[0].message.startswith("This change makes line 8 a trap")
    assert findings[0].severity == "info"  # annotated, not commented: rarely right on real commits
    diff, head = change(repo, after, after.replace("ch <- 1", "ch <- 2"))
    unchanged_trap = review(diff, head=head, base=lambda path: after.encode(), config=Config(filter="introduced"))
    assert unchanged_trap.findings == []  # already a trap at base: not this change's doing


def nodes_of_functions(file):
    """(function, node) for every node of each top-level function of the file: what the
    stand-in rules below read."""
    for function in file.root.named_children:
        stack = [function] if function.type == "function_declaration" else []
        while stack:
            current = stack.pop()
            stack.extend(current.named_children)
            yield function, current


def unclosed_ranges(file):
    """A stand-in rule: each `range X` of a function that never calls `close(X)`."""
    for function, current in nodes_of_functions(file):
        ranged = current.text.decode().split("range ", 1)[-1].split(" ", 1)[0]
        if current.type == "for_statement" and f"close({ranged})".encode() not in function.text:
            yield Report(current, f"`{ranged}` is never closed", f"defer close({ranged})")


def test_introduced_mode_anchors_each_trap_on_the_deletion_that_made_it(repo, monkeypatch):
    only_rule(monkeypatch, Rule("GR199", "test-range", Severity.ERROR, "GR199 test-range: test.", unclosed_ranges))
    before = (
        "package a\n\nfunc f() {\n\ta := make(chan int)\n\tb := make(chan int)\n\tgo func() {\n"
        "\t\tdefer close(b)\n\t\ta <- 1\n\t\tclose(a)\n\t\tb <- 2\n\t}()\n"
        "\tfor v := range b {\n\t\t_ = v\n\t}\n\tfor v := range a {\n\t\t_ = v\n\t}\n}\n"
    )
    after = before.replace("\t\tdefer close(b)\n", "").replace("\t\tclose(a)\n", "")
    diff, head = change(repo, before, after)
    findings = review(diff, head=head, base=lambda path: before.encode(), config=Config(filter="introduced")).findings
    # `range b` (line 10) is nearest to where `close(a)` was (line 8), but `defer close(b)` made it.
    assert sorted((f.line, f.message.split(":")[0]) for f in findings) == [
        (7, "This change makes line 10 a trap"),
        (8, "This change makes line 13 a trap"),
    ]


def sends_on_unbuffered(file):
    """A stand-in rule: each send on a channel its function makes without a buffer."""
    for function, current in nodes_of_functions(file):
        if current.type == "send_statement":
            channel = current.child_by_field_name("channel").text.decode()
            if f"{channel} := make(chan int)".encode() in function.text:
                yield Report(current, f"`{channel}` has no buffer", "give it one")


def test_added_mode_reports_the_traps_an_added_line_makes_on_that_line(repo, monkeypatch):
    only_rule(monkeypatch, Rule("GR199", "test-send", Severity.ERROR, "GR199 test-send: test.", sends_on_unbuffered))
    before = "package a\n\nfunc f() {\n\tch := make(chan int, 2)\n\tgo func() {\n\t\tch <- 1\n\t\tch <- 2\n\t}()\n}\n"
    after = before.replace("make(chan int, 2)", "make(chan int)")
    diff, head = change(repo, before, after)
    [finding] = review(diff, head=head, base=lambda path: before.encode()).findings
    assert (finding.line, finding.severity) == (4, "info")  # on the `make` that lost its buffer
    assert finding.message == "This change makes lines 6, 7 traps: `ch` has no buffer"
    # A trap made by a deletion, beside an added line that does not name it: `introduced`
    # anchors it on the deletion, `added` says nothing.
    only_rule(monkeypatch, Rule("GR199", "test-range", Severity.ERROR, "GR199 test-range: test.", unclosed_range))
    closed = "package a\n\nfunc f() {\n\tch := make(chan int)\n\tgo func() {\n\t\tdefer close(ch)\n\t\tch <- 1\n\t}()\n\tfor v := range ch {\n\t\t_ = v\n\t}\n}\n"
    unclosed = closed.replace("\t\tdefer close(ch)\n", "").replace("\tgo func", "\tprintln()\n\tgo func")
    diff, head = change(repo, closed, unclosed)
    base = lambda path: closed.encode()  # noqa: E731
    assert review(diff, head=head, base=base).findings == []
    assert [f.line for f in review(diff, head=head, base=base, config=Config(filter="introduced")).findings] == [7]


def test_introduced_mode_leaves_old_code_that_ignores_a_context_the_change_declares(repo):
    before = (
        HEADER
        + "func save(push func(context.Context) error) error {\n"
        + "\tif push == nil {\n\t\treturn nil\n\t}\n"
        + "\treturn push(context.Background())\n}\n"
    )
    # The change adds a context for tracing only: the old call was never written to take it.
    after = before.replace("func save(push", "func save(ctx context.Context, push").replace(
        "\tif push == nil {", '\t_ = ctx.Value("span")\n\tif push == nil {'
    )
    diff, head = change(repo, before, after)
    base = lambda path: before.encode()  # noqa: E731
    assert [f.rule for f in review(diff, head=head, config=Config(filter="file")).findings] == ["GR207"]
    assert review(diff, head=head, base=base, config=Config(filter="introduced")).findings == []


def test_suppression_comments(repo):
    body = (
        HEADER
        + "func f(p context.Context) {\n"
        + "\t//goreef:ignore GR203 the caller cancels p right after\n"
        + "\ta, _ := context.WithTimeout(p, time.Second)\n"
        + "\tb, _ := context.WithTimeout(p, time.Second) //nolint:goreef\n"
        + "\tc, _ := context.WithTimeout(p, time.Second) //goreef:ignore GR201 wrong rule\n"
        + "\td, _ := context.WithTimeout(p, time.Second) //nolint:errcheck\n"
        + "\t_, _, _, _ = a, b, c, d\n}\n"
    )
    lines = [f.line for f in check_files([("a.go", lambda: body.encode())]).findings]
    assert lines == [12, 13]


def test_nolint_of_an_equivalent_linter_covers_its_rules():
    body = (
        HEADER
        + "func run(ctx context.Context, start func(context.Context)) {\n"
        + "\tstart(context.Background()) //nolint:contextcheck // outlives run; Stop ends it\n"
        + "\tstart(context.Background()) //nolint:errcheck\n"
        + "\tb, _ := context.WithTimeout(ctx, time.Second) //nolint:contextcheck\n"
        + "\t_ = b\n}\n"
    )
    findings = check_files([("a.go", lambda: body.encode())]).findings
    assert [(f.rule, f.line) for f in findings] == [("GR207", 10), ("GR203", 11)]


def test_configuration_disables_regrades_and_ignores():
    body = (HEADER + LEAKY).encode()
    files = [("a.go", lambda: body), ("gen/b_gen.go", lambda: body)]
    assert {f.path for f in check_files(files).findings} == {"a.go", "gen/b_gen.go"}
    config = load_config("rules:\n  GR203: warning\nignore_paths: ['**/*_gen.go']\nfail_on: error\n")
    findings = check_files(files, config=config).findings
    assert [(f.path, f.severity) for f in findings] == [("a.go", "warning")]
    assert not config.fails(findings) and Config(fail_on="warning").fails(findings)
    assert check_files(files, config=load_config("rules: {GR203: off}")).findings == []


@pytest.mark.parametrize(
    "text, complaint",
    [
        ("fail_on: sometimes", "fail_on"),
        ("rules: {GR999: off}", "unknown rule GR999"),
        ("rules: {GR203: loud}", "rules.GR203"),
        ("colour: red", "unknown key: colour"),
        ("rules: [GR203]", "rules: expected a mapping"),
        ("comment_cap: -1", "comment_cap"),
        ("a: [", "not valid YAML"),
    ],
)
def test_malformed_configuration_is_refused_clearly(text, complaint):
    from reviewers import ConfigError

    with pytest.raises(ConfigError, match=complaint):
        load_config(text)


def test_fingerprints_survive_line_shifts_and_separate_twins():
    body = HEADER + LEAKY
    shifted = HEADER + "// a comment\n\n// pushes everything down\n" + LEAKY.replace("func f(", "func f(")
    first = check_files([("a.go", lambda: body.encode())]).findings[0]
    moved = check_files([("a.go", lambda: shifted.encode())]).findings[0]
    assert first.line != moved.line and first.fingerprint == moved.fingerprint
    twins = HEADER + LEAKY.replace("\t_ = ctx\n", "\t_ = ctx\n\tctx, _ := context.WithTimeout(p, time.Second)\n")
    findings = check_files([("a.go", lambda: twins.encode())]).findings
    assert len({f.fingerprint for f in findings}) == 2
    renamed_function = HEADER + LEAKY.replace("func f(", "func g(")
    assert check_files([("a.go", lambda: renamed_function.encode())]).findings[0].fingerprint != first.fingerprint


def test_diff_without_head_contents_is_analyzed_from_its_hunks(repo):
    before = HEADER + "".join(f"// filler {n}\n" for n in range(20))
    after = before + LEAKY
    diff, _ = change(repo, before, after)
    findings = review(diff).findings  # no head: the imports are outside the hunk
    assert [(f.rule, f.line) for f in findings] == [("GR203", 29)]


def test_big_broken_and_hostile_files_never_crash():
    big = (HEADER + LEAKY + "// pad\n" * 200_000).encode()
    result = check_files([("big.go", lambda: big)], config=Config(max_file_bytes=1_000_000))
    assert result.findings == [] and "big.go: skipped" in result.notes[0] and "1 MB limit" in result.notes[0]
    broken = (HEADER + LEAKY + "func broken( {\n\x00\xff\xfe nonsense }}}\n").encode()
    result = check_files([("broken.go", lambda: broken)])
    assert [f.line for f in result.findings] == [9]
    last = broken.count(b"\n")  # the two lines of `broken`, the only ones the parser cannot read
    assert f"broken.go: does not parse cleanly (lines {last - 1}-{last}," in " ".join(result.notes)
    nested = ("package a\nfunc f() {\n" + "{\n" * 10_000 + "}\n" * 10_000 + "}\n").encode()
    assert check_files([("nested.go", lambda: nested)]).findings == []


def _explode(file):
    raise RuntimeError("boom")
    yield  # pragma: no cover


BROKEN = Rule("GR198", "explode", Severity.ERROR, "GR198 explode: test.", _explode)


def test_a_failing_rule_loses_nothing_else_and_is_never_silent(monkeypatch, caplog):
    from reviewers.registry import get_rule
    from reviewers.render.sarif import render_sarif

    monkeypatch.setenv(STRICT_RULES, "0")  # as goreef runs for its users
    only_rule(monkeypatch, BROKEN)
    analyzer = Analyzer(rules=[BROKEN, get_rule("GR203")])
    notes: list[str] = []
    located = analyzer.analyze(GoFile("a.go", (HEADER + LEAKY).encode()), notes)
    assert [item.finding.rule for item in located] == ["GR203"]
    assert notes == analyzer.failures == ["a.go: GR198 failed (RuntimeError: boom); other rules ran"]
    assert "a.go: rule GR198 failed" in caplog.text and "RuntimeError: boom" in caplog.text  # logged with its traceback

    result = check_files([("a.go", lambda: (HEADER + LEAKY).encode())])
    assert result.rule_failures == ["a.go: GR198 failed (RuntimeError: boom); other rules ran"]
    [invocation] = json.loads(render_sarif(result))["runs"][0]["invocations"]
    assert invocation["executionSuccessful"] is False
    assert invocation["toolExecutionNotifications"][0]["level"] == "error"


def test_the_test_suite_runs_rules_strictly():
    # Set by tests/conftest.py: a rule raising on any test input fails that test.
    with pytest.raises(RuntimeError, match="boom"):
        Analyzer(rules=[BROKEN]).analyze(GoFile("a.go", (HEADER + LEAKY).encode()), [])


def test_go_version_comes_from_the_nearest_go_mod(monkeypatch):
    seen = {}

    def spy(file):
        seen[file.path] = file.go_version
        return iter(())

    only_rule(monkeypatch, Rule("GR197", "spy", Severity.INFO, "GR197 spy: test.", spy))
    mods = {"go.mod": b"module x\n\ngo 1.21\n", "sub/go.mod": b"module y\n\ngo 1.23.4\n"}
    check_files([("a.go", lambda: b"package a"), ("sub/deep/b.go", lambda: b"package b")], read=mods.get)
    assert seen == {"a.go": (1, 21), "sub/deep/b.go": (1, 23)}


def test_a_tree_without_go_mod_builds_in_gopath_mode(monkeypatch):
    seen = {}

    def spy(file):
        seen[file.path] = (file.go_version, file.gopath, file.runtime_version)
        return iter(())

    only_rule(monkeypatch, Rule("GR197", "spy", Severity.INFO, "GR197 spy: test.", spy))
    mods = {"mod/go.mod": b"module y\n"}  # a module without a `go` line is still a module
    files = [("a.go", lambda: b"package a"), ("mod/b.go", lambda: b"package b")]
    check_files(files, read=mods.get)
    # GOPATH mode: no language version to go by, Go 1.20's runtime defaults (cmd/go).
    assert seen == {"a.go": (None, True, (1, 20)), "mod/b.go": (None, False, None)}
    check_files(files)  # nothing can be read: unknown, not GOPATH
    assert seen["a.go"] == (None, False, None)
    check_files(files, read=mods.get, go_version=(1, 24))  # told the version
    assert seen["a.go"] == ((1, 24), False, (1, 24))


def test_a_go_mod_that_was_not_read_in_time_is_not_taken_for_gopath_mode(monkeypatch):
    seen = {}

    def spy(file):
        seen[file.path] = (file.go_version, file.gopath)
        return iter(())

    def out_of_time(path):
        if path == "go.mod":
            raise FileUnread(path)
        return {"a.go": b"package a\n"}.get(path)

    only_rule(monkeypatch, Rule("GR197", "spy", Severity.INFO, "GR197 spy: test.", spy))
    diff = "--- /dev/null\n+++ b/a.go\n@@ -0,0 +1 @@\n+package a\n"
    review(diff, head=out_of_time)
    assert seen == {"a.go": (None, False)}
    review(diff, head={"a.go": b"package a\n"}.get)  # read, and there is none: GOPATH mode
    assert seen == {"a.go": (None, True)}


def test_calls_are_followed_into_unchanged_files_of_the_package(repo):
    helper = 'package a\n\nimport "net/http"\n\nfunc loadConfig() {\n\tresp, _ := http.Get("http://config/")\n\t_ = resp\n}\n'
    repo.write("pkg/helper.go", helper)
    diff, head = change(repo, "package a\n", "package a\n\nfunc init() {\n\tloadConfig()\n}\n", path="pkg/init.go")
    listing = lambda directory: [f"{directory}/{p.name}" for p in (repo.root / directory).iterdir()]  # noqa: E731
    assert review(diff, head=head).findings == []  # helper.go is not part of the diff
    findings = review(diff, head=head, package_paths=listing).findings
    assert [(f.rule, f.path, f.line) for f in findings] == [("GR401", "pkg/init.go", 4)]
    assert "loadConfig" in findings[0].message


def test_generated_files_are_not_reviewed_and_say_so():
    generated = "// Code generated by mockgen. DO NOT EDIT.\n\n" + HEADER + LEAKY
    result = check_files([("mock.go", generated.encode)])
    assert result.findings == [] and any("mock.go: skipped, generated code" in note for note in result.notes)
    # The marker counts only before the package clause, as Go's convention has it.
    written = HEADER + LEAKY + "\n// Code generated by hand. DO NOT EDIT.\n"
    assert check_files([("hand.go", written.encode)]).findings


def test_vendored_dependencies_are_not_reviewed_and_say_so():
    body = (HEADER + LEAKY).encode
    paths = [
        "vendor/github.com/acme/retry/retry.go",
        "tools/vendor/golang.org/x/sync/group.go",
        "Godeps/_workspace/src/github.com/acme/logs/log.go",  # godep, before Go had vendor/
    ]
    result = check_files([(path, body) for path in paths])
    assert result.findings == []
    assert all(any(f"{path}: skipped, a vendored dependency" in note for note in result.notes) for path in paths)
    # A package of the module's own that is named vendor is the author's code.
    own = ["internal/vendor/billing.go", "vendor/main.go", "Godeps/_workspace/src/tool.go", "pkg/src/github.go"]
    assert {f.path for f in check_files([(path, body) for path in own]).findings} == set(own)


def test_test_files_get_only_the_rules_whose_traps_leak_real_resources():
    sleepy = (
        HEADER + "func f(ctx context.Context) {\n\tgo func() {\n\t\ttime.Sleep(time.Second)\n\t\t_ = ctx\n\t}()\n}\n"
    )
    assert [f.rule for f in check_files([("a.go", sleepy.encode)]).findings] == ["GR104"]
    assert check_files([("a_test.go", sleepy.encode)]).findings == []
    body = 'package a\n\nimport "net/http"\n\nfunc f() {\n\tresp, _ := http.Get("u")\n\t_ = resp.StatusCode\n}\n'
    assert [f.rule for f in check_files([("a_test.go", body.encode)]).findings] == ["GR111"]


def test_an_unclosed_body_in_a_test_file_is_info():
    source = b'package a\n\nimport "net/http"\n\nfunc fetch(url string) int {\n\tresp, _ := http.Get(url)\n\treturn resp.StatusCode\n}\n'
    [in_code] = check_files([("a.go", lambda: source)]).findings
    [in_test] = check_files([("a_test.go", lambda: source)]).findings
    assert (in_code.rule, in_code.severity) == ("GR111", "error")
    assert (in_test.rule, in_test.severity) == ("GR111", "info")


def test_an_endless_goroutine_is_info_in_a_command_and_an_error_in_a_library():
    body = '\n\nimport "time"\n\nfunc startRenewal(renew func()) {\n\tgo func() {\n\t\tfor {\n\t\t\ttime.Sleep(time.Hour)\n\t\t\trenew()\n\t\t}\n\t}()\n}\n'
    [library] = check_files([("renew/renew.go", lambda: ("package renew" + body).encode())]).findings
    [command] = check_files([("cmd/renewd/main.go", lambda: ("package main" + body).encode())]).findings
    assert (library.rule, library.severity) == ("GR103", "error")
    assert (command.rule, command.severity) == ("GR103", "info")  # annotated: by design, as a rule


def test_an_unstopped_timer_is_info_and_an_unstopped_ticker_a_warning_before_go_1_23():
    source = (
        b'package a\n\nimport "time"\n\nfunc wait(d time.Duration, done <-chan struct{}) {\n\tt := time.NewTimer(d)\n'
        b"\tselect {\n\tcase <-t.C:\n\tcase <-done:\n\t}\n\tk := time.NewTicker(d)\n\t<-k.C\n}\n"
    )
    findings = check_files([("a.go", lambda: source)], go_version=(1, 22)).findings
    assert [(f.rule, f.line, f.severity) for f in findings] == [("GR109", 6, "info"), ("GR109", 11, "warning")]
    assert "until it fires" in findings[0].message and "firing until it is stopped" in findings[1].message


def test_the_fix_is_written_in_the_names_of_the_code():
    source = (
        'package a\n\nimport (\n\t"context"\n\t"errors"\n)\n\n'
        "func first(ctx context.Context) error {\n\terrc := make(chan error)\n"
        '\tgo func() { errc <- errors.New("x") }()\n'
        "\tselect {\n\tcase err := <-errc:\n\t\treturn err\n\tcase <-ctx.Done():\n\t\treturn ctx.Err()\n\t}\n}\n"
    )
    for language, comment in (("en", "// room for the one result"), ("zh-CN", "// ")):
        [finding] = check_files([("a.go", source.encode)], config=Config(language=language)).findings
        assert finding.rule == "GR101"
        assert "errc := make(chan error, 1)" in finding.remediation and comment in finding.remediation
        assert "chan int" not in finding.remediation and "ch <-" not in finding.remediation
        assert "names" not in finding.to_dict()


def test_stand_in_names_are_replaced_in_code_only():
    snippet = 'ch := make(chan int, 1) // ch is full\nx.ch <- "ch"\nch <- 1'
    named = with_names(snippet, (("ch", "errc"), ("int", "error")))
    assert named == 'errc := make(chan error, 1) // ch is full\nx.ch <- "ch"\nerrc <- 1'
    assert with_names(snippet, ()) is snippet


def test_test_code_is_known_by_its_file_name_or_its_directory():
    leaky = (HEADER + LEAKY).encode
    reviewed = ["pkg/server.go", "pkg/testsuite/x.go", "integration/slack.go", "/home/me/tests/src/a.go"]
    skipped = ["pkg/server_test.go", "tests/integration/suite.go", "test/e2e/framework.go", "internal/testutil/x.go"]
    for path in reviewed + skipped:
        assert GoFile(path, b"package a").is_test == (path in skipped)
        found = check_files([(path, leaky)]).findings
        assert [f.rule for f in found] == ([] if path in skipped else ["GR203"]), path


def test_old_goroutines_of_a_function_that_gains_a_context_are_not_new_traps(repo):
    before = (
        'package a\n\nimport "context"\n\nfunc work(context.Context, int) {}\n\n'
        "func fanOut(items []int) {\n\tfor _, it := range items {\n\t\tgo work(context.TODO(), it)\n\t}\n}\n"
    )
    after = before.replace("fanOut(items []int)", "fanOut(ctx context.Context, items []int)")
    diff, head = change(repo, before, after)
    base = lambda path: before.encode()  # noqa: E731
    assert [f.rule for f in review(diff, head=head, config=Config(filter="file")).findings] == ["GR112"]
    for mode in ("added", "introduced"):  # the change gave the function its context, not its goroutines
        assert review(diff, head=head, base=base, config=Config(filter=mode)).findings == [], mode


def test_packages_analysed_in_several_processes_give_the_same_result(monkeypatch):
    from pathlib import Path

    from reviewers import engine

    fixtures = Path(__file__).parent / "fixtures"
    files = [(str(p.relative_to(fixtures)), p.read_bytes) for p in sorted(fixtures.rglob("*.go"))]
    files.append(("generated/z.go", lambda: b"// Code generated by hand. DO NOT EDIT.\n\npackage z\n"))
    go_mod = {"go.mod": b"module m\n\ngo 1.21\n"}.get
    alone = check_files(files, read=go_mod)
    monkeypatch.setattr(engine, "PARALLEL_MIN_FILES", 2)
    together = check_files(files, read=go_mod, jobs=2)
    assert alone.findings and together.findings == alone.findings
    assert together.notes == alone.notes and "generated/z.go: skipped" in together.notes[-1]
    assert together.files_reviewed == alone.files_reviewed == len(files) - 1


def test_a_rule_failing_in_a_worker_process_is_reported(monkeypatch):
    from reviewers import engine

    monkeypatch.setenv(STRICT_RULES, "0")
    only_rule(monkeypatch, BROKEN)
    monkeypatch.setattr(engine, "PARALLEL_MIN_FILES", 2)
    files = [(f"{name}/a.go", lambda: (HEADER + LEAKY).encode()) for name in ("p", "q")]
    result = check_files(files, jobs=2)
    assert result.rule_failures == [f"{name}/a.go: GR198 failed (RuntimeError: boom); other rules ran" for name in "pq"]
