"""Workers as the Procfile runs them, in processes of their own: killed with SIGKILL in the
middle of a review or of its search for refused comments, or running a review over its time
limit. No in-process worker runs here.

A killed worker's task goes back to the queue after the broker's visibility timeout (short
here) and another worker runs it to the end; a review over time is stopped by Celery's time
limit and its check run completed."""

from __future__ import annotations

import signal
import threading

import pytest
from celery.result import AsyncResult

from tests.app.changes import LEAKING_PRICE, PRICE, leak_lines, many_leaks
from tests.app.conftest import only_check_run
from tests.app.emulator import GitHubEmulator
from tests.app.webhooks import WebhookSender
from workers.celery_app import app as celery_app

VISIBILITY_TIMEOUT = "2"  # seconds before a dead worker's task is handed out again


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", r"/pulls/\d+/files$"), ("PATCH", r"/check-runs/\d+$")],
    ids=["before-posting", "after-posting-before-completing"],
)
def test_a_worker_killed_mid_review_loses_nothing(
    worker_processes, webhooks: WebhookSender, emulator: GitHubEmulator, repo: str, method: str, path: str
) -> None:
    number = emulator.open_pull(repo, {PRICE: LEAKING_PRICE})
    reached, release = emulator.hold(method, path)
    doomed = worker_processes(GOREEF_VISIBILITY_TIMEOUT=VISIBILITY_TIMEOUT)

    response = webhooks.deliver("pull_request", webhooks.pull_request(repo, number, "opened"))
    [task] = response.json()["tasks"]
    assert reached.wait(30), "the review never reached the held call"
    doomed.send_signal(signal.SIGKILL)
    doomed.wait(timeout=10)
    release.set()
    worker_processes(GOREEF_VISIBILITY_TIMEOUT=VISIBILITY_TIMEOUT)

    outcome = AsyncResult(task["task_id"], app=celery_app).get(timeout=60)

    run = only_check_run(emulator, repo, emulator.pull(repo, number).head_sha)
    assert (outcome["status"], run["status"], run["conclusion"]) == ("failure", "completed", "failure")
    assert [r["state"] for r in emulator.reviews(repo, number)] == ["COMMENTED"]
    assert len(emulator.comments(repo, number)) == 1


def test_a_worker_killed_mid_bisection_leaves_no_pending_review_in_the_way(
    worker_processes, webhooks: WebhookSender, emulator: GitHubEmulator, repo: str
) -> None:
    source = many_leaks(6)
    lines = leak_lines(source)
    number = emulator.open_pull(repo, {"fetch/leaks.go": source})
    emulator.refuse_comment(repo, "fetch/leaks.go", lines[0], "Line could not be resolved")
    doomed = worker_processes(GOREEF_VISIBILITY_TIMEOUT=VISIBILITY_TIMEOUT)
    killed = threading.Event()

    def kill_before_the_probe_is_deleted() -> None:
        doomed.send_signal(signal.SIGKILL)
        doomed.wait(timeout=10)
        emulator.fail_next(1, 502, method="DELETE")  # this very request: it died with the worker
        killed.set()

    # The search for the refused comment posts probes as pending reviews, each deleted at once.
    emulator.before("DELETE", rf"/pulls/{number}/reviews/\d+$", kill_before_the_probe_is_deleted)
    [task] = webhooks.deliver("pull_request", webhooks.pull_request(repo, number, "opened")).json()["tasks"]
    assert killed.wait(30), "the review never deleted a probe"
    assert [r["state"] for r in emulator.reviews(repo, number)] == ["PENDING"]
    worker_processes(GOREEF_VISIBILITY_TIMEOUT=VISIBILITY_TIMEOUT)

    outcome = AsyncResult(task["task_id"], app=celery_app).get(timeout=60)

    assert [r["state"] for r in emulator.reviews(repo, number)] == ["COMMENTED"]
    assert sorted(c["line"] for c in emulator.comments(repo, number)) == lines[1:]
    run = only_check_run(emulator, repo, emulator.pull(repo, number).head_sha)
    assert (run["status"], run["conclusion"]) == ("completed", "failure")
    assert (
        f"GitHub refused 1 inline comment(s), so they are reported here only: fetch/leaks.go:{lines[0]} "
        in run["output"]["summary"]
    )
    assert outcome["comments_posted"] == 5


def test_a_review_over_its_time_limit_is_stopped_and_the_worker_goes_on(
    worker_processes, webhooks: WebhookSender, emulator: GitHubEmulator, repo: str
) -> None:
    slow, fast = (emulator.open_pull(repo, {PRICE: LEAKING_PRICE}, head_ref=ref) for ref in ("slow", "fast"))
    reached, release = emulator.hold("GET", r"/pulls/1/files$")
    worker_processes(pool="prefork", GOREEF_TASK_TIME_LIMIT="4", GOREEF_VISIBILITY_TIMEOUT="60")

    tasks = [
        webhooks.deliver("pull_request", webhooks.pull_request(repo, n, "opened")).json()["tasks"][0]
        for n in (slow, fast)
    ]
    outcomes = [AsyncResult(task["task_id"], app=celery_app).get(timeout=30) for task in tasks]
    release.set()

    assert reached.is_set()
    timed_out = only_check_run(emulator, repo, emulator.pull(repo, slow).head_sha)
    assert (timed_out["status"], timed_out["conclusion"]) == ("completed", "failure")  # never open by failing
    assert (
        timed_out["output"]["title"]
        == "goreef could not finish: the review ran out of time while listing the changed files: Re-run to try again"
    )
    assert [o["status"] for o in outcomes] == ["failure", "failure"]  # and the next review went on as usual
