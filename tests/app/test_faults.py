"""Faults on the way, with a real worker and Redis and the emulator failing on purpose.

GitHub's server errors, rate limits, expired tokens and refused comments; Redis going away
under the web app; retries that run out. Each review must end with its comments posted once
and its check run completed.
"""

from __future__ import annotations

import re
import time
from dataclasses import replace
from pathlib import Path

import pytest
import redis
import requests
from github import RateLimitExceededExceedsMaxWait
from urllib3.util.retry import RequestHistory

from appcore.settings import Settings
from tests.app.changes import LEAKING_PRICE, PRICE, leak_lines, many_leaks
from tests.app.conftest import INSTALLATION, WEBHOOK_SECRET, only_check_run, repo_name
from tests.app.emulator import GitHubEmulator
from tests.app.processes import free_port, start_redis, stop
from tests.app.serving import serve
from tests.app.webhooks import WebhookSender
from webapp import create_app
from workers import tasks
from workers.github_client import retry_policy
from workers.posting import _refused_comments

TOKEN_CACHE = f"goreef:token:{INSTALLATION}"


@pytest.fixture(scope="module", autouse=True)
def running_worker(worker: None) -> None:
    pass


def statuses(emulator: GitHubEmulator, method: str, path: str, since: int = 0) -> list[int]:
    """The statuses the emulator answered to `method` on paths matching the regex `path`, in order,
    from its `since`th request on."""
    return [status for m, p, status in emulator.requests[since:] if m == method and re.search(path, p.split("?")[0])]


def assert_reviewed_once(emulator: GitHubEmulator, repo: str, number: int, comments: int = 1) -> dict:
    """The pull request has one submitted review with `comments` comments and a completed check run."""
    run = only_check_run(emulator, repo, emulator.pull(repo, number).head_sha)
    assert (run["status"], run["conclusion"]) == ("completed", "failure")
    assert [r["state"] for r in emulator.reviews(repo, number)] == ["COMMENTED"]
    assert len(emulator.comments(repo, number)) == comments
    return run


# Server errors

CALLS = [  # every call of a review, in order
    ("POST", r"/access_tokens$"),
    ("GET", r"/pulls/\d+$"),
    ("POST", r"/check-runs$"),
    ("GET", r"/contents/\.github/goreef\.yml$"),
    ("GET", r"/pulls/\d+/files$"),
    ("GET", r"/git/trees/[0-9a-f]+$"),
    ("GET", r"/git/blobs/[0-9a-f]+$"),
    ("GET", r"/pulls/\d+/comments$"),
    ("GET", r"/pulls/\d+/reviews$"),
    ("POST", r"/pulls/\d+/reviews$"),
    ("PATCH", r"/check-runs/\d+$"),
]  # and GET /check-runs/N when there are annotations to send (findings without a comment)


@pytest.mark.parametrize("status", [500, 502, 503])
@pytest.mark.parametrize(("method", "path"), CALLS, ids=[f"{m} {p}" for m, p in CALLS])
def test_server_errors_on_any_call_are_retried(
    deliver,
    webhooks: WebhookSender,
    emulator: GitHubEmulator,
    repo: str,
    redis_client: redis.Redis,
    method: str,
    path: str,
    status: int,
) -> None:
    number = emulator.open_pull(repo, {PRICE: LEAKING_PRICE})
    redis_client.delete(TOKEN_CACHE)  # the review starts by asking for a token
    first_request = len(emulator.requests)
    emulator.fail_next(2, status, method=method, path=path)

    [outcome] = deliver("pull_request", webhooks.pull_request(repo, number, "opened"))

    answers = statuses(emulator, method, path, since=first_request)
    assert answers[:2] == [status, status] and answers[2] < 500
    assert outcome["status"] == "failure"
    assert_reviewed_once(emulator, repo, number)


@pytest.mark.parametrize("leaks", [60, 6], ids=["a-batch-before-the-last", "the-last-batch"])
def test_annotations_are_not_sent_twice_when_their_update_was_answered_502_after_taking_effect(
    deliver, webhooks: WebhookSender, emulator: GitHubEmulator, repo: str, leaks: int
) -> None:
    # 30 findings are commented (the cap), the rest annotated: the first update carrying
    # annotations sends 50 of 60 while in progress, or all 6 with the completion.
    number = emulator.open_pull(repo, {"fetch/leaks.go": many_leaks(30 + leaks)})
    emulator.fail_next(1, 502, method="PATCH", path=r"/check-runs/\d+$", after_effect=True)

    [outcome] = deliver("pull_request", webhooks.pull_request(repo, number, "opened"))

    run = only_check_run(emulator, repo, emulator.pull(repo, number).head_sha)
    assert statuses(emulator, "PATCH", rf"/{repo}/check-runs/\d+$")[0] == 502
    assert (outcome["status"], run["status"], run["conclusion"]) == ("failure", "completed", "failure")
    annotated = [(a["path"], a["start_line"]) for a in run["annotations"]]
    assert sorted(annotated) == sorted(set(annotated)) and len(annotated) == leaks
    # The retried review posted nothing twice, and no more than the comment cap.
    assert len(emulator.reviews(repo, number)) == 1
    assert len(emulator.comments(repo, number)) == 30


def test_task_retries_back_off_exponentially_with_jitter() -> None:
    delay = tasks.get_settings().retry_delay
    waits = [[tasks.retry_countdown(attempt) for _ in range(20)] for attempt in range(5)]

    for attempt, samples in enumerate(waits):
        assert all(delay * 2**attempt * 0.5 <= wait <= delay * 2**attempt for wait in samples)
        assert len(set(samples)) > 1  # jitter: workers retrying together do not stampede together


def test_http_retries_back_off_exponentially_with_jitter(settings: Settings) -> None:
    failures = [RequestHistory("GET", "/", None, 502, None)] * 3
    waits = {retry_policy(settings).new(history=tuple(failures)).get_backoff_time() for _ in range(20)}

    factor = settings.http_retry_delay
    assert all(factor * 4 <= wait <= factor * 5 for wait in waits) and len(waits) > 1


# Rate limits


def test_a_secondary_rate_limit_waits_retry_after(
    deliver, webhooks: WebhookSender, emulator: GitHubEmulator, repo: str
) -> None:
    number = emulator.open_pull(repo, {PRICE: LEAKING_PRICE})
    emulator.fail_next(
        1,
        403,
        headers={"Retry-After": "1"},
        method="POST",
        path=r"/reviews$",
        message="You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
    )

    started = time.monotonic()
    deliver("pull_request", webhooks.pull_request(repo, number, "opened"))

    assert time.monotonic() - started >= 1
    assert statuses(emulator, "POST", rf"/{repo}/pulls/\d+/reviews$") == [403, 200]
    assert_reviewed_once(emulator, repo, number)


@pytest.mark.parametrize("status", [403, 429])
def test_a_spent_primary_rate_limit_waits_for_its_reset(
    deliver, webhooks: WebhookSender, emulator: GitHubEmulator, repo: str, status: int
) -> None:
    number = emulator.open_pull(repo, {PRICE: LEAKING_PRICE})
    reset = int(time.time()) + 2
    emulator.fail_next(
        1,
        status,
        method="GET",
        path=r"/files$",
        headers={"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(reset)},
        message="API rate limit exceeded for installation ID 77.",
    )

    deliver("pull_request", webhooks.pull_request(repo, number, "opened"))

    assert time.time() >= reset
    assert statuses(emulator, "GET", rf"/{repo}/pulls/\d+/files$") == [status, 200]
    assert_reviewed_once(emulator, repo, number)


@pytest.mark.parametrize(
    ("error", "wait"),
    [
        (RateLimitExceededExceedsMaxWait(403, None, {}, wait=120.0), 120.0),
        (RateLimitExceededExceedsMaxWait(403, None, {"Retry-After": "90"}), 90.0),
    ],
    ids=["reset-too-far-to-wait-in-the-worker", "retry-after"],
)
def test_a_long_rate_limit_retries_the_task_when_github_says(error: Exception, wait: float) -> None:
    assert tasks.retry_countdown(0, error) == wait


# Tokens


def test_an_expired_token_is_refreshed_once(
    deliver, webhooks: WebhookSender, emulator: GitHubEmulator, repo: str, redis_client: redis.Redis
) -> None:
    number = emulator.open_pull(repo, {PRICE: LEAKING_PRICE})
    redis_client.delete(TOKEN_CACHE)
    first_request = len(emulator.requests)
    emulator.before("GET", r"/files$", emulator.expire_tokens)

    deliver("pull_request", webhooks.pull_request(repo, number, "opened"))

    assert statuses(emulator, "GET", r"/files$", since=first_request) == [401, 200]
    assert len(statuses(emulator, "POST", r"/access_tokens$", since=first_request)) == 2
    assert_reviewed_once(emulator, repo, number)


def test_a_token_refused_again_after_its_refresh_is_not_refreshed_in_a_loop(
    deliver, webhooks: WebhookSender, emulator: GitHubEmulator, repo: str, redis_client: redis.Redis
) -> None:
    number = emulator.open_pull(repo, {PRICE: LEAKING_PRICE})
    redis_client.delete(TOKEN_CACHE)
    first_request = len(emulator.requests)
    emulator.fail_next(2, 401, method="GET", path=r"/files$", message="Bad credentials")

    deliver("pull_request", webhooks.pull_request(repo, number, "opened"))

    assert statuses(emulator, "GET", r"/files$", since=first_request) == [401, 401, 200]
    # The first token, and one refresh: the task's retry did the rest.
    assert len(statuses(emulator, "POST", r"/access_tokens$", since=first_request)) == 2
    assert_reviewed_once(emulator, repo, number)


# A comment GitHub refuses

LEAKS_IN_FILE = 6


@pytest.mark.parametrize(
    ("refused", "error"),
    [
        (
            (2,),
            "Pull request review thread line must be part of the diff and Pull request review thread diff "
            "hunk can't be blank",
        ),
        ((0, 5), "pull_request_review_thread.line must be part of the diff"),
        ((3,), "Line could not be resolved"),
    ],
    ids=["one", "two", "line-not-resolved"],
)
def test_comments_github_refuses_go_to_the_summary_and_the_rest_are_posted(
    deliver, webhooks: WebhookSender, emulator: GitHubEmulator, repo: str, refused: tuple[int, ...], error: str
) -> None:
    source = many_leaks(LEAKS_IN_FILE)
    lines = leak_lines(source)
    number = emulator.open_pull(repo, {"fetch/leaks.go": source})
    for index in refused:
        emulator.refuse_comment(repo, "fetch/leaks.go", lines[index], error)

    [outcome] = deliver("pull_request", webhooks.pull_request(repo, number, "opened"))

    run = assert_reviewed_once(emulator, repo, number, comments=LEAKS_IN_FILE - len(refused))
    refused_lines = {lines[i] for i in refused}
    assert {c["line"] for c in emulator.comments(repo, number)} == set(lines) - refused_lines
    summary = run["output"]["summary"]
    assert f"GitHub refused {len(refused)} inline comment(s)" in summary and error in summary
    assert all(f"fetch/leaks.go:{line} " in summary for line in refused_lines)
    # Only the findings left without a comment annotate the check run.
    assert {a["start_line"] for a in run["annotations"]} == refused_lines
    assert outcome["comments_posted"] == LEAKS_IN_FILE - len(refused)


def test_refused_comments_are_found_by_bisection_in_few_questions() -> None:
    comments = [{"line": n} for n in range(32)]
    bad = {comments[7]["line"]}
    questions = []

    def refusal(some: list[dict]) -> str | None:
        questions.append(len(some))
        return "refused" if any(c["line"] in bad for c in some) else None

    assert _refused_comments(comments, "refused", refusal) == [(comments[7], "refused")]
    assert len(questions) == 2 * 5  # two halves per level, log2(32) levels


# Redis going away under the web app


def test_redis_unreachable_means_503_and_both_recover_when_it_returns(
    settings: Settings, webhooks: WebhookSender, emulator: GitHubEmulator, repo: str, tmp_path: Path
) -> None:
    port = free_port()
    server = start_redis(port, tmp_path)
    web, url = serve(create_app(replace(settings, redis_url=f"redis://127.0.0.1:{port}/0")))
    sender = WebhookSender(url, WEBHOOK_SECRET, emulator)
    payloads = [sender.pull_request(repo, emulator.open_pull(repo, {}, head_ref=f"b{i}")) for i in range(3)]
    try:
        assert sender.deliver("pull_request", payloads[0]).status_code == 202
        stop(server)

        refused = sender.deliver("pull_request", payloads[1], delivery="redeliver-me")
        assert refused.status_code == 503
        assert requests.get(url + "/readyz", timeout=10).status_code == 503

        server = start_redis(port, tmp_path)
        assert requests.get(url + "/readyz", timeout=10).status_code == 200
        assert sender.deliver("pull_request", payloads[2]).json()["status"] == "enqueued"
        # GitHub's redelivery of the refused delivery is taken this time.
        assert sender.deliver("pull_request", payloads[1], delivery="redeliver-me").json()["status"] == "enqueued"
    finally:
        web.shutdown()
        stop(server)


# Retries that run out


@pytest.mark.parametrize(
    ("configuration", "conclusion"),
    [(None, "failure"), (b"on_error: neutral\n", "neutral")],
    ids=["default-on_error", "on_error-neutral"],
)
def test_when_retries_run_out_the_check_run_is_completed_and_says_what_failed(
    deliver,
    webhooks: WebhookSender,
    emulator: GitHubEmulator,
    go_tree: dict[str, bytes],
    request,
    configuration: bytes | None,
    conclusion: str,
) -> None:
    repo = repo_name(request)
    config = {".github/goreef.yml": configuration} if configuration else {}
    emulator.create_repo(repo, {**go_tree, **config}, installation_id=INSTALLATION)
    number = emulator.open_pull(repo, {PRICE: LEAKING_PRICE})
    emulator.fail_next(10_000, 502, method="GET", path=r"/files$")

    [outcome] = deliver("pull_request", webhooks.pull_request(repo, number, "opened"))

    run = only_check_run(emulator, repo, emulator.pull(repo, number).head_sha)
    assert (outcome["status"], run["status"], run["conclusion"]) == (conclusion, "completed", conclusion)
    assert (
        run["output"]["title"]
        == "goreef could not finish: GitHub answered 502 while listing the changed files: Re-run to try again"
    )
    assert len(statuses(emulator, "GET", rf"/{repo}/pulls/\d+/files$")) == (tasks.MAX_RETRIES + 1) * 6
    assert emulator.reviews(repo, number) == []
    # The summary names what chose the conclusion, and cites no file that does not exist.
    summary = run["output"]["summary"]
    if configuration is None:
        assert "`on_error` in" not in summary
        assert "the default `on_error`: no `.github/goreef.yml` in the repository or its organisation" in summary
    else:
        assert f"(`on_error` in `{repo}:.github/goreef.yml`)" in summary


def test_a_review_that_fails_after_its_analysis_still_reports_what_it_found(
    deliver, webhooks: WebhookSender, emulator: GitHubEmulator, repo: str
) -> None:
    number = emulator.open_pull(repo, {PRICE: LEAKING_PRICE})
    emulator.fail_next(10_000, 502, method="POST", path=r"/reviews$")

    [outcome] = deliver("pull_request", webhooks.pull_request(repo, number, "opened"))

    run = only_check_run(emulator, repo, emulator.pull(repo, number).head_sha)
    assert (outcome["status"], outcome["complete"], run["conclusion"]) == ("failure", False, "failure")
    assert run["output"]["title"] == (
        "1 Go trap found (1 error); goreef could not finish: GitHub answered 502 while posting the review: Re-run to finish"
    )
    assert [a["start_line"] for a in run["annotations"]] == leak_lines(LEAKING_PRICE)
    assert emulator.reviews(repo, number) == []


@pytest.mark.parametrize(
    ("read_before", "conclusion"),
    [(True, "neutral"), (False, "failure")],
    ids=["read-by-an-earlier-review", "never-read"],
)
def test_a_configuration_that_cannot_be_read_keeps_the_on_error_last_read(
    deliver,
    webhooks: WebhookSender,
    emulator: GitHubEmulator,
    go_tree: dict[str, bytes],
    request,
    read_before: bool,
    conclusion: str,
) -> None:
    repo = repo_name(request)
    emulator.create_repo(repo, {**go_tree, ".github/goreef.yml": b"on_error: neutral\n"}, installation_id=INSTALLATION)
    if read_before:
        deliver("pull_request", webhooks.pull_request(repo, emulator.open_pull(repo, {}, head_ref="earlier"), "opened"))
    number = emulator.open_pull(repo, {PRICE: LEAKING_PRICE})
    emulator.fail_next(10_000, 502, method="GET", path=r"/contents/\.github/goreef\.yml$")

    [outcome] = deliver("pull_request", webhooks.pull_request(repo, number, "opened"))

    run = only_check_run(emulator, repo, emulator.pull(repo, number).head_sha)
    assert (outcome["status"], run["status"], run["conclusion"]) == (conclusion, "completed", conclusion)
    assert (
        run["output"]["title"]
        == "goreef could not finish: GitHub answered 502 while reading the configuration: Re-run to try again"
    )
    assert f"The conclusion is `{conclusion}`" in run["output"]["summary"]
