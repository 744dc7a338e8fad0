"""The GitHub client against the emulator: App JWT, shared token cache, retries, write budgets."""

from __future__ import annotations

import time
from dataclasses import replace

import pytest
import redis
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from github import GithubException, UnknownObjectException
from urllib3.exceptions import ReadTimeoutError

from appcore.settings import Settings
from tests.app.changes import leak_lines, many_leaks
from tests.app.conftest import INSTALLATION
from tests.app.emulator import GitHubEmulator
from workers.github_client import (
    RESOLVE_REVIEW_THREAD_MUTATION,
    GitHubApp,
    WriteBudget,
    WriteBudgetSpent,
    retry_policy,
)


@pytest.fixture
def github(settings: Settings, redis_client: redis.Redis) -> GitHubApp:
    redis_client.flushdb()
    return GitHubApp(settings, redis_client)


def calls(emulator: GitHubEmulator, method: str, fragment: str) -> list[int]:
    return [status for m, path, status in emulator.requests if m == method and fragment in path]


def test_reads_a_pull_request_and_its_files(github: GitHubApp, emulator: GitHubEmulator, repo: str) -> None:
    files = {f"pkg/f{i}.go": b"package pkg\n" for i in range(130)}  # more than one page of 100
    number = emulator.open_pull(repo, files)

    client = github.repository(INSTALLATION, repo)
    pull = client.pull_request(number)
    changed = client.changed_files(number)

    assert pull.head_sha == emulator.pull(repo, number).head_sha
    assert pull.state == "open" and pull.base_ref == "main"
    assert sorted(f["filename"] for f in changed) == sorted(files)
    assert changed[0]["status"] == "added" and changed[0]["patch"] == "@@ -0,0 +1 @@\n+package pkg"
    assert client.file("go.mod", pull.base_sha).startswith(b"module example.com/shop")
    assert client.file("nope.go", pull.base_sha) is None


def test_large_files_come_from_the_blob_api(github: GitHubApp, emulator: GitHubEmulator, repo: str) -> None:
    big = b"package big\n" + b"// filler\n" * 200_000
    number = emulator.open_pull(repo, {"big.go": big})

    client = github.repository(INSTALLATION, repo)
    assert client.file("big.go", client.pull_request(number).head_sha) == big
    assert calls(emulator, "GET", f"/repos/{repo}/git/blobs/") == [200]


@pytest.mark.parametrize("limit", [100_000, 3], ids=["one-request", "truncated-listing"])
def test_a_commit_is_listed_through_the_trees_api_and_read_as_blobs(
    github: GitHubApp, emulator: GitHubEmulator, go_tree: dict[str, bytes], repo: str, limit: int
) -> None:
    files = {"a/b/c/deep.go": b"package c\n", "a/top.go": b"package a\n", "big.go": b"package big\n" * 100_000}
    number = emulator.open_pull(repo, files)
    emulator.tree_entry_limit = limit
    try:
        client = github.repository(INSTALLATION, repo)
        listing = client.tree(client.pull_request(number).head_sha)
    finally:
        emulator.tree_entry_limit = 100_000

    tree = {**go_tree, **files}
    assert sorted(listing) == sorted(tree)
    assert all(client.blob(listing[path]) == tree[path] for path in files)
    # Truncated, the listing is walked a tree at a time: root, a, a/b, a/b/c and fetch.
    assert len(calls(emulator, "GET", f"/repos/{repo}/git/trees/")) == (1 if limit > 3 else 6)


def test_installation_token_is_shared_through_redis(
    settings: Settings, redis_client: redis.Redis, github: GitHubApp, emulator: GitHubEmulator, repo: str
) -> None:
    tokens_before = len(calls(emulator, "POST", "/access_tokens"))
    github.repository(INSTALLATION, repo).pull_request(emulator.open_pull(repo, {}))
    another_process = GitHubApp(settings, redis_client)
    another_process.repository(INSTALLATION, repo).file("go.mod")

    assert len(calls(emulator, "POST", "/access_tokens")) == tokens_before + 1
    assert 0 < redis_client.ttl(f"goreef:token:{INSTALLATION}") <= 3600 - 300


def test_a_refused_token_is_replaced_once(github: GitHubApp, emulator: GitHubEmulator, repo: str) -> None:
    client = github.repository(INSTALLATION, repo)
    client.file("go.mod")
    emulator.expire_tokens()
    tokens_before = len(calls(emulator, "POST", "/access_tokens"))

    assert client.file("go.mod").startswith(b"module")
    assert len(calls(emulator, "POST", "/access_tokens")) == tokens_before + 1


def test_a_jwt_signed_by_another_key_is_refused(settings: Settings, redis_client: redis.Redis, repo: str) -> None:
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    impostor = GitHubApp(replace(settings, private_key=stranger.decode()), redis_client)
    redis_client.flushdb()

    with pytest.raises(GithubException) as refused:
        impostor.repository(INSTALLATION, repo).file("go.mod")
    assert refused.value.status == 401


def test_reads_are_retried_after_server_errors(github: GitHubApp, emulator: GitHubEmulator, repo: str) -> None:
    client = github.repository(INSTALLATION, repo)
    client.file("go.mod")  # token in hand
    emulator.fail_next(2, 502)

    assert client.file("go.mod").startswith(b"module")
    assert calls(emulator, "GET", f"/repos/{repo}/contents/go.mod")[-3:] == [502, 502, 200]


def test_secondary_rate_limit_waits_retry_after(github: GitHubApp, emulator: GitHubEmulator, repo: str) -> None:
    client = github.repository(INSTALLATION, repo)
    client.file("go.mod")
    emulator.fail_next(1, 403, headers={"Retry-After": "1"}, message="You have exceeded a secondary rate limit.")

    started = time.monotonic()
    assert client.file("go.mod").startswith(b"module")
    assert time.monotonic() - started >= 1


def test_a_post_is_not_resent_after_a_server_error(github: GitHubApp, emulator: GitHubEmulator, repo: str) -> None:
    client = github.repository(INSTALLATION, repo)
    head_sha = client.pull_request(emulator.open_pull(repo, {})).head_sha
    emulator.fail_next(1, 502)

    with pytest.raises(GithubException) as failed:
        client.create_check_run(head_sha, name="goreef", status="in_progress")
    assert failed.value.status == 502
    assert calls(emulator, "POST", f"/repos/{repo}/check-runs") == [502]


def test_a_write_whose_answer_timed_out_is_not_resent_but_a_read_is(settings: Settings) -> None:
    policy = retry_policy(settings)
    timed_out = ReadTimeoutError(None, "/repos/o/r/pulls/1/reviews", "Read timed out.")

    for write in ("POST", "PATCH"):
        with pytest.raises(ReadTimeoutError):
            policy.increment(write, "/repos/o/r/pulls/1/reviews", error=timed_out)
    assert policy.increment("GET", "/repos/o/r/pulls/1", error=timed_out).total == policy.total - 1


def test_check_runs_and_reviews_round_trip(github: GitHubApp, emulator: GitHubEmulator, repo: str) -> None:
    number = emulator.open_pull(repo, {"fetch/price.go": b"package fetch\n\nfunc Leak() {}\n"})
    client = github.repository(INSTALLATION, repo)
    head_sha = client.pull_request(number).head_sha

    run_id = client.create_check_run(head_sha, name="goreef", status="in_progress")
    client.update_check_run(run_id, conclusion="success", output={"title": "No traps", "summary": "ok"})
    client.create_review(
        number, head_sha, "goreef", [{"path": "fetch/price.go", "line": 3, "side": "RIGHT", "body": "leak"}]
    )
    [comment] = client.review_comments(number)
    client.edit_review_comment(number, comment.id, "fixed")

    [run] = emulator.check_runs(repo, head_sha)
    assert (run["status"], run["conclusion"]) == ("completed", "success")
    assert comment.path == "fetch/price.go" and comment.author_is_bot
    assert [c["body"] for c in emulator.comments(repo, number)] == ["fixed"]


def test_write_budgets_are_per_installation_shared_by_workers_and_never_wait(redis_client: redis.Redis) -> None:
    redis_client.delete("goreef:write-budget:901", "goreef:write-budget:902")
    first, second = (WriteBudget(redis_client, per_minute=3) for _ in range(2))  # two workers' budgets

    first.acquire(901)
    second.acquire(901)
    first.acquire(901)
    with pytest.raises(WriteBudgetSpent) as spent:
        second.acquire(901)  # the fourth write of the minute: says how long until it fits
    second.acquire(902)  # another installation's budget is its own

    assert 59 < spent.value.wait <= 60 and 59 < first.wait_for(901, 1) <= 60
    assert first.wait_for(902, 2) == 0 and 59 < first.wait_for(902, 3) <= 60


def test_review_threads_are_read_and_resolved_through_graphql(
    github: GitHubApp, emulator: GitHubEmulator, repo: str
) -> None:
    source = many_leaks(3)
    number = emulator.open_pull(repo, {"fetch/leaks.go": source})
    client = github.repository(INSTALLATION, repo)
    comments = [
        {"path": "fetch/leaks.go", "line": line, "side": "RIGHT", "body": "leak"} for line in leak_lines(source)
    ]
    client.create_review(number, emulator.pull(repo, number).head_sha, "goreef", comments)
    [first, *others] = sorted(emulator.comments(repo, number), key=lambda c: c["id"])

    threads = client.review_threads(number)
    client.resolve_review_thread(threads[first["id"]].id)

    assert sorted(threads) == sorted(c["id"] for c in [first, *others])
    assert not any(thread.resolved for thread in threads.values())
    assert client.review_threads(number)[first["id"]].resolved
    assert [c["resolved"] for c in emulator.comments(repo, number) if c["id"] != first["id"]] == [False, False]


def test_graphql_is_as_strict_as_github(github: GitHubApp, emulator: GitHubEmulator, repo: str) -> None:
    client = github.repository(INSTALLATION, repo)
    owner, name = repo.split("/")
    unpaged = """query($owner: String!, $name: String!, $number: Int!) {
      repository(owner: $owner, name: $name) { pullRequest(number: $number) { reviewThreads { nodes { id } } } }
    }"""

    def post(query: str, variables: dict, headers: dict[str, str]) -> requests.Response:
        return requests.post(
            emulator.url + "/graphql", json={"query": query, "variables": variables}, headers=headers, timeout=10
        )

    token = {"Authorization": f"token {github.tokens.get(INSTALLATION)}"}
    anonymous = post(RESOLVE_REVIEW_THREAD_MUTATION, {"threadId": "PRRT_1"}, {})
    unknown_field = post("{ viewer { login } }", {}, token).json()
    not_paginated = post(unpaged, {"owner": owner, "name": name, "number": emulator.open_pull(repo, {})}, token).json()

    assert anonymous.status_code == 401
    assert anonymous.json()["message"] == "This endpoint requires you to be authenticated."
    assert unknown_field["data"] is None and "'viewer'" in unknown_field["errors"][0]["message"]
    assert "paginate the `reviewThreads` connection" in not_paginated["errors"][0]["message"]
    with pytest.raises(UnknownObjectException):
        client.resolve_review_thread("PRRT_nope")
    with pytest.raises(UnknownObjectException):
        client.review_threads(999)
