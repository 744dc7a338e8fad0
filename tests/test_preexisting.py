"""Only what the change made new is reported: a trap the base already had, in code the change
moved, renamed, re-formatted or re-wrote around the same calls, is not commented on, with any
filter but `file`; a new trap beside an identical old one is."""

from __future__ import annotations

import pytest

from reviewers import Config, review
from tests.gitrepo import GitRepo

PACKAGE = 'package a\n\nimport (\n\t"context"\n\t"os"\n\t"time"\n)\n\nvar _ = os.Open\n\n'
LEAKY = "func leaky(p context.Context) {\n\tctx, _ := context.WithTimeout(p, time.Second)\n\t_ = ctx\n}\n"
CLOSING = (
    "func readAll(names []string) {\n"
    "\tfor _, name := range names {\n"
    "\t\tf, _ := os.Open(name)\n"
    "\t\tdefer f.Close()\n"
    "\t}\n"
    "}\n"
)


def reviewed(tmp_path, before: dict[str, str], after: dict[str, str], mode: str = "added"):
    """Commit `before`, put `after` in its place, and review the change with git's base."""
    repo = GitRepo(tmp_path / "repo")
    for path, text in before.items():
        repo.write(path, text)
    repo.commit()
    for path in before:
        if path not in after:
            (repo.root / path).unlink()
    for path, text in after.items():
        repo.write(path, text)
    repo.git("add", "-A")
    diff = repo.diff("--cached")

    def head(path: str) -> bytes | None:
        target = repo.root / path
        return target.read_bytes() if target.is_file() else None

    def base(path: str) -> bytes | None:
        return before[path].encode() if path in before else None

    return review(diff, head=head, base=base, config=Config(filter=mode))


def rules_and_lines(result) -> list[tuple[str, int]]:
    return [(f.rule, f.line) for f in result.findings]


@pytest.mark.parametrize("mode", ["added", "diff_context", "introduced"])
def test_a_function_moved_to_another_package_keeps_its_old_trap_quiet(tmp_path, mode):
    result = reviewed(tmp_path, {"a/a.go": PACKAGE + LEAKY}, {"a/a.go": PACKAGE, "b/b.go": PACKAGE + LEAKY}, mode)
    assert rules_and_lines(result) == []
    assert any("already in the base" in note for note in result.notes)


def test_file_mode_still_reports_the_old_trap(tmp_path):
    result = reviewed(tmp_path, {"a/a.go": PACKAGE + LEAKY}, {"a/a.go": PACKAGE, "b/b.go": PACKAGE + LEAKY}, "file")
    assert rules_and_lines(result) == [("GR203", 12)]


def test_a_renamed_function_keeps_its_old_trap_quiet(tmp_path):
    renamed = LEAKY.replace("func leaky(", "func stillLeaky(")
    assert rules_and_lines(reviewed(tmp_path, {"a.go": PACKAGE + LEAKY}, {"a.go": PACKAGE + renamed})) == []


def test_a_reformatted_file_keeps_its_old_trap_quiet(tmp_path):
    reformatted = LEAKY.replace(
        "ctx, _ := context.WithTimeout(p, time.Second)",
        "ctx, _ :=\n\t\tcontext.WithTimeout(\n\t\t\tp,\n\t\t\ttime.Second)",
    )
    reformatted = reformatted.replace(
        "func leaky(p context.Context) {", "// leaky waits.\nfunc leaky(p context.Context) {"
    )
    assert rules_and_lines(reviewed(tmp_path, {"a.go": PACKAGE + LEAKY}, {"a.go": PACKAGE + reformatted})) == []


def test_defers_wrapped_in_closures_keep_their_old_trap_quiet(tmp_path):
    wrapped = CLOSING.replace("\t\tdefer f.Close()\n", "\t\tdefer func() {\n\t\t\t_ = f.Close()\n\t\t}()\n")
    before, after = {"a.go": PACKAGE + CLOSING}, {"a.go": PACKAGE + wrapped}
    assert rules_and_lines(reviewed(tmp_path, before, after, "file")) == [("GR115", 14)]  # the trap is still there
    assert rules_and_lines(reviewed(tmp_path, before, after)) == []


def test_a_new_trap_beside_an_identical_old_one_is_reported_and_the_old_one_is_not(tmp_path):
    twin = LEAKY.replace("func leaky(", "func twin(")
    # The old function is re-formatted too, so both traps are on added lines.
    moved = LEAKY.replace("\t_ = ctx\n", "\t_ = ctx // unused\n")
    result = reviewed(tmp_path, {"a.go": PACKAGE + LEAKY}, {"a.go": PACKAGE + twin + "\n" + moved}, "diff_context")
    assert rules_and_lines(result) == [("GR203", 12)]  # in twin


def test_a_trap_the_change_writes_into_old_code_is_reported(tmp_path):
    fixed = LEAKY.replace(
        "ctx, _ := context.WithTimeout(p, time.Second)\n\t_ = ctx\n",
        "ctx, cancel := context.WithTimeout(p, time.Second)\n\tdefer cancel()\n\t_ = ctx\n",
    )
    # The base had the trap fixed; the change brings it back in the same function.
    assert rules_and_lines(reviewed(tmp_path, {"a.go": PACKAGE + fixed}, {"a.go": PACKAGE + LEAKY})) == [("GR203", 12)]


def test_without_a_base_reader_the_base_is_rebuilt_from_the_diff(tmp_path):
    repo = GitRepo(tmp_path / "repo")
    repo.write("a.go", PACKAGE + LEAKY)
    repo.commit()
    repo.write("a.go", PACKAGE + LEAKY.replace("func leaky(", "func renamed("))
    diff = repo.diff()
    assert review(diff).findings == []  # neither head nor base readable: both from the hunks


def test_a_new_copy_of_an_old_statement_in_the_same_edited_function_is_reported(tmp_path):
    # The old trap's lines are untouched; the change adds the same statement again above them.
    guarded = LEAKY.replace(
        "func leaky(p context.Context) {\n",
        "func leaky(p context.Context) {\n\tif p == nil {\n\t\tctx, _ := context.WithTimeout(p, time.Second)\n\t\t_ = ctx\n\t\treturn\n\t}\n",
    )
    result = reviewed(tmp_path, {"a.go": PACKAGE + LEAKY}, {"a.go": PACKAGE + guarded})
    assert rules_and_lines(result) == [("GR203", 13)]


def test_an_old_call_moved_into_a_new_statement_of_its_function_keeps_its_old_trap_quiet(tmp_path):
    before = (
        "func describe(ctx context.Context, kind func(context.Context) string) map[string]string {\n"
        '\treturn map[string]string{"name": "a", "kind": kind(context.Background())}\n'
        "}\n"
    )
    after = (
        "func describe(ctx context.Context, kind func(context.Context) string) map[string]string {\n"
        '\tk := "unknown"\n'
        "\tif kind != nil {\n"
        "\t\tk = kind(context.Background())\n"
        "\t}\n"
        '\tif k == "" {\n'
        "\t\tk = kind(context.TODO())\n"
        "\t}\n"
        '\treturn map[string]string{"name": "a", "kind": k}\n'
        "}\n"
    )
    result = reviewed(tmp_path, {"a.go": PACKAGE + before}, {"a.go": PACKAGE + after})
    assert rules_and_lines(result) == [("GR207", 17)]  # the new `context.TODO()` only


FAN_OUT = (
    "func notifyAll(ctx context.Context, users []string, send func(context.Context, string) error) {\n"
    "\tfor _, u := range users {\n"
    "\t\tgo func(user string) {\n"
    "\t\t\t_ = send(ctx, user)\n"
    "\t\t}(u)\n"
    "\t}\n"
    "}\n"
)


def test_an_old_goroutine_whose_body_the_change_grows_keeps_its_old_trap_quiet(tmp_path):
    # The body gains a retry with names the old one never had: the `go` statement that starts
    # one goroutine per user is the same, and so is its trap.
    grown = FAN_OUT.replace(
        "\t\t\t_ = send(ctx, user)\n",
        "\t\t\tfor attempt := 0; attempt < 3; attempt++ {\n"
        "\t\t\t\tif err := send(ctx, user); err == nil || ctx.Err() != nil {\n"
        "\t\t\t\t\treturn\n"
        "\t\t\t\t}\n"
        "\t\t\t\tbackoff := time.NewTimer(time.Duration(attempt+1) * time.Second)\n"
        "\t\t\t\tselect {\n"
        "\t\t\t\tcase <-backoff.C:\n"
        "\t\t\t\tcase <-ctx.Done():\n"
        "\t\t\t\t\tbackoff.Stop()\n"
        "\t\t\t\t\treturn\n"
        "\t\t\t\t}\n"
        "\t\t\t}\n",
    )
    for mode in ("added", "introduced"):
        result = reviewed(tmp_path / mode, {"a.go": PACKAGE + FAN_OUT}, {"a.go": PACKAGE + grown}, mode)
        assert [rule for rule, _ in rules_and_lines(result)] == [], mode


def test_a_new_goroutine_beside_an_old_one_in_the_same_function_is_reported(tmp_path):
    twice = FAN_OUT.replace(
        "\t}\n}\n",
        "\t}\n\tfor i := range users {\n\t\tgo func(index int) {\n\t\t\t_ = send(ctx, users[index])\n\t\t}(i)\n\t}\n}\n",
    )
    assert [
        rule for rule, _ in rules_and_lines(reviewed(tmp_path, {"a.go": PACKAGE + FAN_OUT}, {"a.go": PACKAGE + twice}))
    ] == ["GR112"]
