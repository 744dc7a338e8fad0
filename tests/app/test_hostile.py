"""Hostile or broken code under review: each file is reviewed or skipped with a note in the
summary, the check run always completes, and the worker lives on to review the next one."""

from __future__ import annotations

import time

import pytest

from tests.app.changes import LEAK_LINE, LEAKING_PRICE, PRICE
from tests.app.conftest import only_check_run
from tests.app.emulator import GitHubEmulator
from tests.app.webhooks import WebhookSender

FIVE_MB = b"package big\n\n" + b"".join(b"func F%06d() int { return %d }\n" % (i, i) for i in range(140_000))
NESTED_BLOCKS = b"package deep\n\nfunc F() {\n" + b"{\n" * 10_000 + b"}\n" * 10_000 + b"}\n"
INVALID_UTF8 = b'package text\n\nfunc F() string {\n\treturn "\xff\xfe\xc3\x28"\n}\n'
NUL_BYTES = b"package nul\n\x00\x00\nfunc F() {}\n"
NOT_GO = b"#!/usr/bin/env python3\nimport os\n\ndef main():\n    print(os.getcwd())\n"


@pytest.fixture(scope="module", autouse=True)
def running_worker(worker: None) -> None:
    pass


def review_summary(deliver, webhooks: WebhookSender, emulator: GitHubEmulator, repo: str, number: int) -> str:
    """Deliver the pull request, check that its check run completed, answer the summary."""
    deliver("pull_request", webhooks.pull_request(repo, number, "opened"))
    run = only_check_run(emulator, repo, emulator.pull(repo, number).head_sha)
    assert run["status"] == "completed" and run["conclusion"] in {"success", "failure"}
    return run["output"]["summary"]


@pytest.mark.parametrize(
    ("path", "source", "note"),
    [
        ("big/big.go", FIVE_MB, "big/big.go: skipped, 5.1 MB is over the 1 MB limit (`max_file_bytes`)"),
        ("deep/deep.go", NESTED_BLOCKS, None),
        ("text/text.go", INVALID_UTF8, None),
        ("nul/nul.go", NUL_BYTES, "nul/nul.go: skipped, binary"),
        ("script/script.go", NOT_GO, "script/script.go: does not parse cleanly"),
    ],
    ids=["5-MB", "10000-nested-blocks", "invalid-UTF-8", "NUL-bytes", "not-Go"],
)
def test_a_hostile_file_is_reviewed_or_skipped_with_a_note(
    deliver, webhooks: WebhookSender, emulator: GitHubEmulator, repo: str, path: str, source: bytes, note: str | None
) -> None:
    # Next to the hostile file, a leak: the rest of the pull request is still reviewed.
    number = emulator.open_pull(repo, {path: source, PRICE: LEAKING_PRICE})

    started = time.monotonic()
    summary = review_summary(deliver, webhooks, emulator, repo, number)

    assert time.monotonic() - started < 30
    assert [(c["path"], c["line"]) for c in emulator.comments(repo, number)] == [(PRICE, LEAK_LINE)]
    if note:
        assert note in summary
    else:
        assert "goreef reviewed 2 changed Go files." in summary


def test_deleted_renamed_and_binary_files(
    deliver, webhooks: WebhookSender, emulator: GitHubEmulator, repo: str
) -> None:
    number = emulator.open_pull(repo, {"assets/logo.png": b"\x89PNG\r\n\x1a\n\x00\x00"})
    price = emulator.repo(repo).commits[emulator.pull(repo, number).head_sha].tree[PRICE]
    emulator.push(repo, number, {"fetch/cost.go": price, "gen/table.go": b"\x00\x01binary"}, deleted=("main.go", PRICE))

    summary = review_summary(deliver, webhooks, emulator, repo, number)

    assert "1 deleted Go file(s), nothing to review: main.go" in summary
    assert "gen/table.go: skipped, binary" in summary
    assert "goreef reviewed 1 changed Go file." in summary  # the renamed one


def test_a_3000_file_pull_request_is_reviewed_through_the_files_list(
    deliver, webhooks: WebhookSender, emulator: GitHubEmulator, repo: str
) -> None:
    # GitHub's diff endpoint refuses a diff this big; its files list serves 3,000 files, 100 a page.
    files = {
        f"pkg{i // 100:02d}/f{i:04d}.go": b"package pkg%02d\n\nconst C%d = %d\n" % (i // 100, i, i)
        for i in range(3_000)
    }
    number = emulator.open_pull(repo, {**files, "zz/last.go": b"package zz\n"})

    summary = review_summary(deliver, webhooks, emulator, repo, number)

    file_pages = [p for m, p, _ in emulator.requests if m == "GET" and f"{repo}/pulls/{number}/files" in p]
    assert len(file_pages) == 30
    assert "goreef reviewed 3000 changed Go files." in summary
    assert "GitHub lists only the first 3,000 files of a pull request" in summary


def test_a_file_whose_diff_github_leaves_out_is_reviewed_from_its_blobs(
    deliver, webhooks: WebhookSender, emulator: GitHubEmulator, repo: str
) -> None:
    # 453 KB of Go, under the 1 MB limit: GitHub's files list gives no patch for a diff this big.
    table = b"".join(b"\t%s = %d\n" % (b"Entry%06d" % i, i) for i in range(23_000))
    leak = b"\nfunc Lookup(ctx context.Context) error {\n\tctx, _ = context.WithTimeout(ctx, time.Second)\n\treturn ctx.Err()\n}\n"
    source = b'package table\n\nimport (\n\t"context"\n\t"time"\n)\n\nconst (\n' + table + b")\n" + leak
    assert 450_000 < len(source) < 1_000_000
    number = emulator.open_pull(repo, {"table/table.go": source, PRICE: LEAKING_PRICE})
    listed = {
        e["filename"]: e
        for e in emulator.diff_files(repo, emulator.repo(repo).branches["main"], emulator.pull(repo, number).head_sha)
    }
    assert "patch" not in listed["table/table.go"] and "patch" in listed[PRICE]

    summary = review_summary(deliver, webhooks, emulator, repo, number)

    assert "goreef reviewed 2 changed Go files." in summary and "skipped" not in summary
    run = only_check_run(emulator, repo, emulator.pull(repo, number).head_sha)
    leak_line = source.splitlines().index(b"\tctx, _ = context.WithTimeout(ctx, time.Second)") + 1
    # GitHub shows no diff of it to comment on: its finding is an annotation, the other a comment.
    assert [(a["path"], a["start_line"]) for a in run["annotations"]] == [("table/table.go", leak_line)]
    assert [(c["path"], c["line"]) for c in emulator.comments(repo, number)] == [(PRICE, LEAK_LINE)]
