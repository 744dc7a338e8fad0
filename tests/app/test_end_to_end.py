"""goreef as its users meet it: signed webhooks over HTTP → Redis → a Celery worker → the GitHub emulator.

Every part is real but GitHub, which is the strict emulator. Each test has a repository of
its own holding the Go tree of `gotree/` on `main`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from celery.result import AsyncResult

from tests.app.changes import CLEAN_ADDITION, FIXED_PRICE, LEAK_LINE, LEAKING_PRICE, PRICE, leak_lines, many_leaks
from tests.app.conftest import DOCS_URL, INSTALLATION, only_check_run, repo_name
from tests.app.emulator import GitHubEmulator
from tests.app.webhooks import WebhookSender
from workers.celery_app import app as celery_app


@pytest.fixture(scope="module", autouse=True)
def running_worker(worker: None) -> Iterator[None]:
    yield


def test_a_leak_added_fails_the_check_with_a_comment_on_its_line(
    deliver, webhooks: WebhookSender, emulator: GitHubEmulator, repo: str
) -> None:
    number = emulator.open_pull(repo, {PRICE: LEAKING_PRICE})
    head = emulator.pull(repo, number).head_sha

    [outcome] = deliver("pull_request", webhooks.pull_request(repo, number, "opened"))

    run = only_check_run(emulator, repo, head)
    assert (run["status"], run["conclusion"]) == ("completed", "failure")
    assert run["output"]["title"] == "1 Go trap found (1 error)"
    assert f"[GR203 cancel-discarded]({DOCS_URL}/GR203)" in run["output"]["summary"]
    assert run["annotations"] == []  # the finding is commented inline: shown once in Files changed
    [review] = emulator.reviews(repo, number)
    assert (review["commit_id"], review["state"]) == (head, "COMMENTED")
    [comment] = emulator.comments(repo, number)
    assert (comment["path"], comment["line"]) == (PRICE, LEAK_LINE)
    assert "GR203" in comment["body"] and "defer cancel()" in comment["body"] and "<!-- goreef:fp=" in comment["body"]
    assert outcome["status"] == "failure" and outcome["comments_posted"] == 1


def test_a_clean_change_succeeds_without_a_review(
    deliver, webhooks: WebhookSender, emulator: GitHubEmulator, repo: str
) -> None:
    number = emulator.open_pull(repo, {PRICE: CLEAN_ADDITION})

    deliver("pull_request", webhooks.pull_request(repo, number, "opened"))

    run = only_check_run(emulator, repo, emulator.pull(repo, number).head_sha)
    assert (run["status"], run["conclusion"], run["output"]["title"]) == ("completed", "success", "No Go traps found")
    assert emulator.reviews(repo, number) == []


def test_a_push_that_fixes_the_leak_succeeds_and_marks_the_comment_fixed(
    deliver, webhooks: WebhookSender, emulator: GitHubEmulator, repo: str
) -> None:
    number = emulator.open_pull(repo, {PRICE: LEAKING_PRICE})
    deliver("pull_request", webhooks.pull_request(repo, number, "opened"))
    fix = emulator.push(repo, number, {PRICE: FIXED_PRICE})

    deliver("pull_request", webhooks.pull_request(repo, number, "synchronize"))

    assert only_check_run(emulator, repo, fix)["conclusion"] == "success"
    assert len(emulator.reviews(repo, number)) == 1
    [comment] = emulator.comments(repo, number)
    assert comment["body"].startswith(f"✅ Fixed in {fix[:7]}.")
    assert comment["resolved"]  # its thread, through GraphQL's resolveReviewThread


def test_a_push_that_keeps_the_leak_adds_no_comment(
    deliver, webhooks: WebhookSender, emulator: GitHubEmulator, repo: str
) -> None:
    number = emulator.open_pull(repo, {PRICE: LEAKING_PRICE})
    deliver("pull_request", webhooks.pull_request(repo, number, "opened"))
    second = emulator.push(repo, number, {"README.md": b"shop\n"})

    deliver("pull_request", webhooks.pull_request(repo, number, "synchronize"))

    assert only_check_run(emulator, repo, second)["conclusion"] == "failure"  # still there, still blocking
    assert len(emulator.reviews(repo, number)) == 1
    assert [c["edits"] for c in emulator.comments(repo, number)] == [0]


def test_the_same_delivery_twice_gives_one_review(
    deliver, webhooks: WebhookSender, emulator: GitHubEmulator, repo: str
) -> None:
    number = emulator.open_pull(repo, {PRICE: LEAKING_PRICE})
    payload = webhooks.pull_request(repo, number, "opened")

    first = deliver("pull_request", payload, delivery="same-delivery-" + repo)
    second = deliver("pull_request", payload, delivery="same-delivery-" + repo)

    assert (len(first), len(second)) == (1, 0)
    assert len(emulator.check_runs(repo)) == 1
    assert len(emulator.reviews(repo, number)) == 1


def test_one_push_seen_through_two_events_at_once_gives_one_review(
    webhooks: WebhookSender, emulator: GitHubEmulator, repo: str
) -> None:
    number = emulator.open_pull(repo, {PRICE: LEAKING_PRICE})

    answers = [
        webhooks.deliver("pull_request", webhooks.pull_request(repo, number, "synchronize")),
        webhooks.deliver("check_suite", webhooks.check_suite(repo, number, "requested")),
    ]

    tasks = [task["task_id"] for answer in answers for task in answer.json()["tasks"]]
    outcomes = [AsyncResult(task, app=celery_app).get(timeout=60)["status"] for task in tasks]
    assert [o for o in outcomes if o != "duplicate"] == ["failure"]
    assert len(emulator.check_runs(repo)) == 1
    assert len(emulator.reviews(repo, number)) == 1


def test_two_quick_pushes_review_only_the_newest_head(
    deliver, webhooks: WebhookSender, emulator: GitHubEmulator, repo: str
) -> None:
    number = emulator.open_pull(repo, {PRICE: LEAKING_PRICE})
    older = emulator.pull(repo, number).head_sha
    older_push = webhooks.pull_request(repo, number, "opened")
    newer = emulator.push(repo, number, {"README.md": b"shop\n"})
    newer_push = webhooks.pull_request(repo, number, "synchronize")

    outcomes = deliver("pull_request", older_push) + deliver("pull_request", newer_push)

    assert [o["status"] for o in outcomes] == ["superseded", "failure"]
    assert emulator.check_runs(repo, older) == []
    assert [r["commit_id"] for r in emulator.reviews(repo, number)] == [newer]


def test_a_head_that_moves_during_the_review_gets_nothing_posted(
    deliver, webhooks: WebhookSender, emulator: GitHubEmulator, repo: str
) -> None:
    number = emulator.open_pull(repo, {PRICE: LEAKING_PRICE})
    head = emulator.pull(repo, number).head_sha
    emulator.before("GET", f"/pulls/{number}/files", lambda: emulator.push(repo, number, {"README.md": b"x\n"}))

    [outcome] = deliver("pull_request", webhooks.pull_request(repo, number, "opened"))

    run = only_check_run(emulator, repo, head)
    assert outcome["status"] == "superseded"
    assert (run["status"], run["conclusion"]) == ("completed", "skipped")  # never left in progress
    assert emulator.reviews(repo, number) == []


def test_a_pull_request_closed_before_its_review_is_reviewed_when_reopened(
    deliver, webhooks: WebhookSender, emulator: GitHubEmulator, repo: str
) -> None:
    number = emulator.open_pull(repo, {PRICE: LEAKING_PRICE})
    opened = webhooks.pull_request(repo, number, "opened")
    emulator.pull(repo, number).state = "closed"

    [closed] = deliver("pull_request", opened)
    emulator.pull(repo, number).state = "open"
    [reopened] = deliver("pull_request", webhooks.pull_request(repo, number, "reopened"))

    assert (closed["status"], reopened["status"]) == ("superseded", "failure")
    assert only_check_run(emulator, repo, emulator.pull(repo, number).head_sha)["conclusion"] == "failure"


def test_the_rerun_button_redoes_the_check_run(
    deliver, webhooks: WebhookSender, emulator: GitHubEmulator, repo: str
) -> None:
    number = emulator.open_pull(repo, {PRICE: LEAKING_PRICE})
    head = emulator.pull(repo, number).head_sha
    deliver("pull_request", webhooks.pull_request(repo, number, "opened"))

    [outcome] = deliver("check_run", webhooks.check_run_rerequested(repo, head))

    runs = emulator.check_runs(repo, head)
    assert [(r["status"], r["conclusion"]) for r in runs] == [("completed", "failure")] * 2
    assert outcome["check_run_id"] == runs[-1]["id"] != runs[0]["id"]
    assert len(emulator.comments(repo, number)) == 1  # the comment is already there


def test_the_rerun_button_of_a_pull_request_from_a_fork_redoes_the_check_run(
    deliver, webhooks: WebhookSender, emulator: GitHubEmulator, repo: str
) -> None:
    number = emulator.open_pull(repo, {PRICE: LEAKING_PRICE}, fork_owner="contributor")
    head = emulator.pull(repo, number).head_sha
    [first] = deliver("pull_request", webhooks.pull_request(repo, number, "opened"))
    rerun = webhooks.check_run_rerequested(repo, head)
    # GitHub lists no pull request in the check run of a fork's head; goreef's check run names it.
    assert rerun["check_run"]["pull_requests"] == [] and rerun["check_run"]["external_id"] == str(number)

    [outcome] = deliver("check_run", rerun)

    runs = emulator.check_runs(repo, head)
    assert [(r["status"], r["conclusion"]) for r in runs] == [("completed", "failure")] * 2
    assert (first["status"], outcome["status"]) == ("failure", "failure")
    assert outcome["check_run_id"] == runs[-1]["id"] != runs[0]["id"]


def test_rerun_all_checks_of_a_pull_request_from_a_fork_finds_it_by_its_head(
    deliver, webhooks: WebhookSender, emulator: GitHubEmulator, repo: str
) -> None:
    other = emulator.open_pull(repo, {PRICE: FIXED_PRICE})  # another open pull request, not this head
    number = emulator.open_pull(repo, {PRICE: LEAKING_PRICE}, fork_owner="contributor")
    head = emulator.pull(repo, number).head_sha
    [first] = deliver("pull_request", webhooks.pull_request(repo, number, "opened"))
    suite = webhooks.check_suite(repo, number, "rerequested")
    # "Re-run all checks" sends a check suite; GitHub lists no pull request of a fork in it.
    assert suite["check_suite"]["pull_requests"] == []

    [outcome] = deliver("check_suite", suite)

    runs = emulator.check_runs(repo, head)
    assert [(r["status"], r["conclusion"]) for r in runs] == [("completed", "failure")] * 2
    assert (first["status"], outcome["status"]) == ("failure", "failure")
    assert outcome["check_run_id"] == runs[-1]["id"] != runs[0]["id"]
    assert runs[-1]["external_id"] == str(number)
    assert len(emulator.comments(repo, number)) == 1 and emulator.comments(repo, other) == []
    assert any(method == "GET" and path.startswith(f"/repos/{repo}/pulls?") for method, path, _ in emulator.requests)


def test_rerun_of_a_fork_check_run_without_its_number_finds_the_pull_request_by_its_head(
    deliver, webhooks: WebhookSender, emulator: GitHubEmulator, repo: str
) -> None:
    number = emulator.open_pull(repo, {PRICE: LEAKING_PRICE}, fork_owner="contributor")
    head = emulator.pull(repo, number).head_sha
    rerun = webhooks.check_run_rerequested(repo, head)  # a check run made up with no external_id
    assert rerun["check_run"]["pull_requests"] == [] and rerun["check_run"]["external_id"] == ""

    [outcome] = deliver("check_run", rerun)

    run = only_check_run(emulator, repo, head)
    assert (outcome["status"], run["conclusion"], run["external_id"]) == ("failure", "failure", str(number))
    assert len(emulator.comments(repo, number)) == 1


def test_rerun_of_a_head_no_open_pull_request_has_reviews_nothing(
    deliver, webhooks: WebhookSender, emulator: GitHubEmulator, repo: str
) -> None:
    number = emulator.open_pull(repo, {PRICE: LEAKING_PRICE}, fork_owner="contributor")
    head = emulator.pull(repo, number).head_sha
    emulator.pull(repo, number).state = "closed"

    [outcome] = deliver("check_run", webhooks.check_run_rerequested(repo, head))

    assert outcome["status"] == "no-pull-request" and emulator.check_runs(repo, head) == []


def test_a_pull_request_closed_during_its_review_is_not_called_superseded(
    deliver, webhooks: WebhookSender, emulator: GitHubEmulator, repo: str
) -> None:
    number = emulator.open_pull(repo, {PRICE: LEAKING_PRICE})
    head = emulator.pull(repo, number).head_sha
    emulator.before("GET", f"/pulls/{number}/files", lambda: setattr(emulator.pull(repo, number), "state", "closed"))

    [outcome] = deliver("pull_request", webhooks.pull_request(repo, number, "opened"))

    run = only_check_run(emulator, repo, head)
    assert outcome["status"] == "superseded"
    assert (run["status"], run["conclusion"]) == ("completed", "skipped")
    assert run["output"]["title"] == "Not reviewed: the pull request is closed"
    assert f"pull request #{number} is closed" in run["output"]["summary"]
    assert emulator.reviews(repo, number) == []


def test_a_merge_group_gets_a_check_run_and_no_review(
    deliver, webhooks: WebhookSender, emulator: GitHubEmulator, repo: str
) -> None:
    number = emulator.open_pull(repo, {PRICE: LEAKING_PRICE})
    head, base = emulator.pull(repo, number).head_sha, emulator.repo(repo).branches["main"]

    deliver("merge_group", webhooks.merge_group(repo, head, base))

    assert only_check_run(emulator, repo, head)["conclusion"] == "failure"
    assert emulator.reviews(repo, number) == []


def test_configuration_comes_from_the_base_branch(
    deliver, webhooks: WebhookSender, emulator: GitHubEmulator, go_tree: dict[str, bytes], request
) -> None:
    repo = repo_name(request)
    emulator.create_repo(repo, {**go_tree, ".github/goreef.yml": b"fail_on: never\n"}, installation_id=INSTALLATION)
    # The pull request tries to make itself stricter: the base branch's word stands.
    number = emulator.open_pull(repo, {PRICE: LEAKING_PRICE, ".github/goreef.yml": b"fail_on: warning\n"})

    deliver("pull_request", webhooks.pull_request(repo, number, "opened"))

    assert only_check_run(emulator, repo, emulator.pull(repo, number).head_sha)["conclusion"] == "success"
    assert len(emulator.comments(repo, number)) == 1


def test_a_malformed_configuration_falls_back_to_defaults_and_says_so(
    deliver, webhooks: WebhookSender, emulator: GitHubEmulator, go_tree: dict[str, bytes], request
) -> None:
    repo = repo_name(request)
    emulator.create_repo(repo, {**go_tree, ".github/goreef.yml": b"fail_on: [oops\n"}, installation_id=INSTALLATION)
    number = emulator.open_pull(repo, {PRICE: LEAKING_PRICE})

    deliver("pull_request", webhooks.pull_request(repo, number, "opened"))

    run = only_check_run(emulator, repo, emulator.pull(repo, number).head_sha)
    assert run["conclusion"] == "failure"
    assert f"{repo}:.github/goreef.yml is malformed" in run["output"]["summary"]


def test_a_review_refused_by_a_server_error_is_retried_and_posted_once(
    deliver, webhooks: WebhookSender, emulator: GitHubEmulator, repo: str
) -> None:
    number = emulator.open_pull(repo, {PRICE: LEAKING_PRICE})
    emulator.before("POST", f"/pulls/{number}/reviews", lambda: emulator.fail_next(1, 502))

    [outcome] = deliver("pull_request", webhooks.pull_request(repo, number, "opened"))

    assert outcome["status"] == "failure"
    assert len(emulator.reviews(repo, number)) == 1
    assert len(emulator.check_runs(repo)) == 1  # the retry took up the check run it had opened


def test_the_webapp_exposes_review_metrics(
    deliver, webhooks: WebhookSender, emulator: GitHubEmulator, repo: str, webapp_url: str
) -> None:
    deliver("pull_request", webhooks.pull_request(repo, emulator.open_pull(repo, {PRICE: LEAKING_PRICE}), "opened"))

    metrics = requests.get(webapp_url + "/metrics", timeout=10).text
    assert 'goreef_findings_total{rule="GR203"}' in metrics
    assert 'goreef_reviews_total{outcome="failure"}' in metrics


def test_findings_over_the_comment_cap_go_to_the_check_run_only(
    deliver, webhooks: WebhookSender, emulator: GitHubEmulator, repo: str
) -> None:
    number = emulator.open_pull(repo, {"fetch/leaks.go": many_leaks(60)})

    deliver("pull_request", webhooks.pull_request(repo, number, "opened"))

    run = only_check_run(emulator, repo, emulator.pull(repo, number).head_sha)
    assert len(emulator.comments(repo, number)) == 30  # the default comment_cap
    # Only the 30 left uncommented are annotated, so none shows twice in Files changed.
    assert [a["start_line"] for a in run["annotations"]] == leak_lines(many_leaks(60))[30:]
    assert "30 finding(s) are shown here only" in run["output"]["summary"]
    assert run["output"]["title"] == "60 Go traps found (60 errors)"


def test_replay_runs_the_pipeline_in_process(
    emulator: GitHubEmulator, webhooks: WebhookSender, repo: str, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    from reviewers.cli import main

    number = emulator.open_pull(repo, {PRICE: LEAKING_PRICE})
    payload = tmp_path / "delivery.json"
    payload.write_text(json.dumps(webhooks.pull_request(repo, number, "opened")))

    # The README's `goreef replay --event pull_request --payload delivery.json`.
    assert main(["replay", "--event", "pull_request", "--payload", str(payload)]) == 0

    [printed] = capsys.readouterr().out.splitlines()
    assert json.loads(printed)["status"] == "failure"
    assert only_check_run(emulator, repo, emulator.pull(repo, number).head_sha)["conclusion"] == "failure"
    assert len(emulator.comments(repo, number)) == 1
