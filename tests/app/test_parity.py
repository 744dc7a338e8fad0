"""The app sees what the command line sees (issue 13): each changed package is analysed whole,
its unchanged files read through the Git trees and blobs API, findings kept to the change."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.app.conftest import DOCS_URL, INSTALLATION, only_check_run, repo_name
from tests.app.emulator import GitHubEmulator
from tests.app.webhooks import WebhookSender
from tests.gitrepo import GitRepo

CONFIG_GO = b"""package boot

import (
	"io"
	"net/http"
)

var settings []byte

func loadConfig() {
	resp, err := http.Get("http://config-service/settings")
	if err != nil {
		return
	}
	defer resp.Body.Close()
	settings, _ = io.ReadAll(resp.Body)
}
"""
INIT_GO = b"""package boot

func init() {
	loadConfig()
}
"""
# Unchanged, in the same package, and with a trap of its own: never reported on.
OLD_GO = b"""package boot

import "context"

func stale(parent context.Context) context.Context {
	ctx, _ := context.WithCancel(parent)
	return ctx
}
"""
INIT_LINE = 4


@pytest.fixture(scope="module", autouse=True)
def running_worker(worker: None) -> Iterator[None]:
    yield


def cli_payload(tree: dict[str, bytes], change: dict[str, bytes], root: Path) -> dict:
    """What `goreef review --base main --head feature --format github` prints for the same change."""
    git = GitRepo(root)
    for path, data in tree.items():
        git.write(path, data)
    git.commit("base")
    git.git("checkout", "-q", "-b", "feature")
    for path, data in change.items():
        git.write(path, data)
    git.commit("change")
    completed = subprocess.run(
        [sys.executable, "-m", "reviewers.cli", "review", "--base", "main", "--head", "feature", "--format", "github"],
        cwd=root,
        env={**os.environ, "GOREEF_DOCS_URL": DOCS_URL},
        capture_output=True,
        text=True,
    )
    assert completed.returncode in (0, 1), completed.stderr
    return json.loads(completed.stdout)


def test_a_call_into_an_unchanged_file_of_the_package_is_followed_as_on_the_command_line(
    deliver, webhooks: WebhookSender, emulator: GitHubEmulator, go_tree: dict[str, bytes], request, tmp_path: Path
) -> None:
    repo = repo_name(request)
    tree = {**go_tree, "boot/config.go": CONFIG_GO, "boot/old.go": OLD_GO}
    emulator.create_repo(repo, tree, installation_id=INSTALLATION)
    number = emulator.open_pull(repo, {"boot/init.go": INIT_GO})

    deliver("pull_request", webhooks.pull_request(repo, number, "opened"))

    run = only_check_run(emulator, repo, emulator.pull(repo, number).head_sha)
    [comment] = emulator.comments(repo, number)
    assert (comment["path"], comment["line"]) == ("boot/init.go", INIT_LINE)
    assert "GR401" in comment["body"] and "loadConfig" in comment["body"]
    assert run["conclusion"] == "failure" and run["output"]["title"] == "1 Go trap found (1 error)"
    # The unchanged files were read as blobs, listed by one recursive tree request.
    paths = [p for m, p, _ in emulator.requests if m == "GET" and f"/repos/{repo}/" in p]
    assert sum("/git/trees/" in p for p in paths) == 1
    assert not any("/contents/boot/" in p for p in paths)

    cli = cli_payload(tree, {"boot/init.go": INIT_GO}, tmp_path / "clone")
    assert [(c["path"], c["line"], c["body"]) for c in cli["review"]["comments"]] == [
        (comment["path"], comment["line"], comment["body"])
    ]


def leak_function(name: str) -> bytes:
    return f"\nfunc {name}(ctx context.Context) error {{\n\tctx, _ = context.WithTimeout(ctx, time.Second)\n\treturn ctx.Err()\n}}\n".encode()


def test_the_command_line_prints_the_review_and_check_run_the_app_posts(
    deliver, webhooks: WebhookSender, emulator: GitHubEmulator, go_tree: dict[str, bytes], request, tmp_path: Path
) -> None:
    """Over the comment cap and outside the diff: the same comments, and the same annotations
    for the findings left without one."""
    repo = repo_name(request)
    filler = b"".join(f"\nfunc Filler{i}() int {{ return {i} }}\n".encode() for i in range(12))
    old = b'package fetch\n\nimport (\n\t"context"\n\t"time"\n)\n' + leak_function("Old") + filler
    new = old + leak_function("New1") + leak_function("New2") + leak_function("New3")
    tree = {**go_tree, "fetch/leaks.go": old, ".github/goreef.yml": b"comment_cap: 2\nfilter: file\n"}
    emulator.create_repo(repo, tree, installation_id=INSTALLATION)
    number = emulator.open_pull(repo, {"fetch/leaks.go": new})

    deliver("pull_request", webhooks.pull_request(repo, number, "opened"))

    run = only_check_run(emulator, repo, emulator.pull(repo, number).head_sha)
    [review] = emulator.reviews(repo, number)
    comments = sorted(emulator.comments(repo, number), key=lambda c: c["line"])
    cli = cli_payload(tree, {"fetch/leaks.go": new}, tmp_path / "clone")
    assert cli["review"]["body"] == review["body"]
    assert [(c["path"], c["line"], c["body"]) for c in cli["review"]["comments"]] == [
        (c["path"], c["line"], c["body"]) for c in comments
    ]
    assert len(comments) == 2  # the cap
    assert cli["check_run"]["conclusion"] == run["conclusion"] == "failure"
    assert {k: cli["check_run"]["output"][k] for k in ("title", "summary")} == run["output"]
    assert cli["check_run"]["output"]["annotations"] == run["annotations"]
    # Annotated: the old trap outside the diff and the one over the cap, not the two commented.
    old_line = old.splitlines().index(b"\tctx, _ = context.WithTimeout(ctx, time.Second)") + 1
    assert sorted(a["start_line"] for a in run["annotations"]) == [old_line, max(c["line"] for c in comments) + 5]
    assert "1 finding(s) are shown here only" in run["output"]["summary"]
    assert (
        f"1 finding(s) are on lines outside the diff, where GitHub takes no comment: fetch/leaks.go:{old_line}"
        in (run["output"]["summary"])
    )


def test_a_review_reads_only_its_packages_blobs_concurrently_with_one_token(
    deliver, webhooks: WebhookSender, emulator: GitHubEmulator, go_tree: dict[str, bytes], request
) -> None:
    """Issue 13's scale: the changed package's files (and go.mod) are read, nothing of the
    packages the change does not touch; the reads overlap; the installation's token is fetched
    at most once for two reviews."""
    from tests.app.emulator import blob_sha

    repo = repo_name(request)
    boot = {f"boot/f{i}.go": b"package boot\n\nconst C%d = %d\n" % (i, i) for i in range(10)}
    other = {f"other/g{i}.go": b"package other\n\nconst D%d = %d\n" % (i, i) for i in range(10)}
    tree = {**go_tree, **boot, **other}
    emulator.create_repo(repo, tree, installation_id=INSTALLATION)
    first = emulator.open_pull(repo, {"boot/init.go": INIT_GO})
    changed_f0 = boot["boot/f0.go"] + b"\nconst E = 1\n"
    second = emulator.open_pull(repo, {"boot/f0.go": changed_f0})
    delay = 0.3
    emulator.delay(delay, method="GET", path="/git/blobs/")
    tokens_before = sum(p.endswith("/access_tokens") for _, p, _ in emulator.requests)
    try:
        started = time.monotonic()
        deliver("pull_request", webhooks.pull_request(repo, first, "opened"))
        elapsed = time.monotonic() - started
        deliver("pull_request", webhooks.pull_request(repo, second, "opened"))
    finally:
        emulator.clear_faults()

    by_sha = {blob_sha(data): path for path, data in {**tree, "boot/init.go": INIT_GO}.items()}
    by_sha[blob_sha(changed_f0)] = "boot/f0.go"
    blobs = f"/repos/{repo}/git/blobs/"
    read = [by_sha.get(p.rsplit("/", 1)[-1]) for m, p, _ in emulator.requests if m == "GET" and blobs in p]
    assert read and all(path is not None for path in read)
    assert not any(path.startswith("other/") for path in read)
    assert {"boot/init.go", *boot} <= set(read)
    first_reads = len(set(boot) | {"boot/init.go"})
    assert elapsed < first_reads * delay / 2, f"{first_reads} blob reads of {delay} s took {elapsed:.1f} s"
    assert sum(p.endswith("/access_tokens") for _, p, _ in emulator.requests) - tokens_before <= 1
