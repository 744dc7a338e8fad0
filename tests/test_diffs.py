"""Reading real `git diff` output: added lines, commentable lines, renames, deletions,
binary files, files without a newline at the end, and GitHub's files list."""

from __future__ import annotations

import pytest

from reviewers import DiffError, from_patches, parse_diff
from tests.gitrepo import GitRepo

BASE = "package a\n\nfunc f() {\n\tx := 1\n\t_ = x\n}\n"


@pytest.fixture
def repo(tmp_path):
    repo = GitRepo(tmp_path / "repo")
    repo.write("a.go", BASE)
    repo.write("old.go", "package a\n\nfunc old() {}\n")
    repo.write("gone.go", "package a\n\nfunc gone() {}\n")
    repo.write("logo.png", bytes(range(256)))
    repo.commit("base")
    return repo


def by_path(diff_text):
    return {c.path: c for c in parse_diff(diff_text)}


def test_added_and_commentable_lines_of_a_modified_file(repo):
    repo.write("a.go", BASE.replace("\t_ = x\n", "\t_ = x\n\ty := 2\n\t_ = y\n"))
    changed = by_path(repo.diff())["a.go"]
    assert changed.status == "modified"
    assert changed.added_lines == {6, 7}
    # git's three lines of context around the two added lines.
    assert changed.commentable_lines == {3, 4, 5, 6, 7, 8}


def test_rename_with_edit_keeps_both_paths(repo):
    repo.git("mv", "old.go", "renamed.go")
    repo.write("renamed.go", "package a\n\nfunc old() {}\n\nfunc added() {}\n")
    repo.git("add", "-A")
    changed = by_path(repo.diff("--cached"))["renamed.go"]
    assert (changed.status, changed.old_path) == ("renamed", "old.go")
    assert changed.added_lines == {4, 5}


def test_deleted_and_binary_files_are_not_reviewable(repo):
    repo.git("rm", "-q", "gone.go")
    repo.write("logo.png", bytes(reversed(range(256))))
    repo.git("add", "-A")
    files = by_path(repo.diff("--cached"))
    assert files["gone.go"].status == "deleted" and not files["gone.go"].reviewable
    assert files["logo.png"].status == "binary" and not files["logo.png"].reviewable


def test_no_newline_at_end_of_file(repo):
    repo.write("a.go", BASE + "\nfunc g() {}")  # no final newline
    text = repo.diff()
    assert "\\ No newline at end of file" in text
    changed = by_path(text)["a.go"]
    assert changed.added_lines == {7, 8}
    assert changed.text_from_hunks().decode().splitlines()[7] == "func g() {}"


def test_deletion_only_change_marks_where_lines_went(repo):
    repo.write("a.go", BASE.replace("\t_ = x\n", ""))
    changed = by_path(repo.diff())["a.go"]
    assert changed.added_lines == frozenset()
    assert changed.deletion_lines == {5}  # the `}` that now follows `x := 1`
    assert changed.changes_at() == {5: "\t_ = x\n"}  # what went there


def test_changes_at_joins_what_was_removed_and_what_was_written(repo):
    repo.write("a.go", BASE.replace("\t_ = x\n", "\t_ = x + 1\n"))
    changed = by_path(repo.diff())["a.go"]
    assert changed.changes_at() == {5: "\t_ = x\n\t_ = x + 1\n"}


def test_base_is_rebuilt_exactly_from_head_and_diff(repo):
    new = BASE.replace("x := 1", "x := 2") + "\nfunc h() {}\n"
    repo.write("a.go", new)
    changed = by_path(repo.diff())["a.go"]
    assert changed.base_from_head(new.encode()) == BASE.encode()
    assert changed.base_from_head(b"package other\n") is None


def test_hunks_alone_rebuild_the_new_side_with_true_line_numbers(repo):
    lines = BASE.splitlines(keepends=True)
    body = "".join(lines) + "".join(f"// filler {n}\n" for n in range(30)) + "func tail() {}\n"
    repo.write("a.go", body)
    repo.commit()
    repo.write("a.go", body.replace("func tail() {}", "func tail() { _ = 1 }"))
    changed = by_path(repo.diff())["a.go"]
    rebuilt = changed.text_from_hunks().decode().splitlines()
    assert rebuilt[36] == "func tail() { _ = 1 }"
    assert rebuilt[0] == ""  # not in any hunk: blank, so numbering stays true


def test_github_files_list():
    files = from_patches(
        [
            {
                "filename": "a.go",
                "status": "modified",
                "patch": "@@ -1,2 +1,3 @@\n package a\n+var x = 1\n func f() {}",
            },
            {
                "filename": "new.go",
                "status": "renamed",
                "previous_filename": "old.go",
                "patch": "@@ -1 +1,2 @@\n package a\n+// hi",
            },
            {"filename": "gone.go", "status": "removed"},
            {"filename": "huge.go", "status": "modified"},
        ]
    )
    a, renamed, gone, huge = files
    assert a.added_lines == {2} and a.commentable_lines == {1, 2, 3}
    assert (renamed.status, renamed.old_path, renamed.added_lines) == ("renamed", "old.go", {2})
    assert gone.status == "deleted"
    assert huge.status == "no_patch" and not huge.reviewable  # GitHub omits patches it will not show


def test_text_that_is_not_a_diff_is_refused():
    with pytest.raises(DiffError):
        parse_diff("hello\nworld\n")
    assert parse_diff("") == []


@pytest.mark.parametrize(
    "new",
    [
        BASE.replace("\t_ = x\n", "\t_ = x\n\ty := 2\n\t_ = y\n"),
        BASE.replace("\tx := 1\n", "") + "\nfunc g() {}",  # a deletion, and no newline at the end
        "package a\n\n" + "".join(f"const c{i} = {i}\n" for i in range(400)) + BASE.removeprefix("package a\n\n"),
    ],
    ids=["added-lines", "deleted-line-no-final-newline", "many-lines-before"],
)
def test_a_diff_computed_from_both_files_adds_the_lines_git_adds(repo, new):
    # What the app does for a file whose patch GitHub leaves out: it diffs the two blobs.
    from reviewers import diff_of_contents

    repo.write("a.go", new)
    git = by_path(repo.diff())["a.go"]
    computed = diff_of_contents("a.go", "a.go", BASE.encode(), new.encode())
    assert (computed.status, computed.added_lines, computed.deletion_lines) == (
        "modified",
        git.added_lines,
        git.deletion_lines,
    )
    assert computed.commentable_lines == frozenset()  # GitHub shows no diff of it to comment on
    assert computed.base_from_head(new.encode()) == BASE.encode()


def test_a_diff_computed_from_blobs_of_an_added_renamed_or_binary_file():
    from reviewers import diff_of_contents

    added = diff_of_contents("n.go", "n.go", None, b"package a\n\nfunc n() {}\n")
    assert (added.status, added.added_lines) == ("added", {1, 2, 3})
    renamed = diff_of_contents("new.go", "old.go", b"package a\n", b"package a\n\nfunc r() {}\n")
    assert (renamed.status, renamed.old_path, renamed.added_lines) == ("renamed", "old.go", {2, 3})
    assert diff_of_contents("b.go", "b.go", b"package a\n", b"package a\n\x00").status == "binary"
