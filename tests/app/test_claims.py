"""No review is lost behind a stale claim (issue 12, failure 2).

A claim on a head promises a completed check run: a worker that dies mid-review frees the
pull request for the next push within seconds, a review whose installation is suspended
gives its head up and runs once the installation is back, and a delivery that could not be
queued is never answered "duplicate" when GitHub redelivers it. Workers run as the Procfile
runs them; no in-process worker runs here.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import redis
from celery.result import AsyncResult

from appcore.settings import Settings
from tests.app.changes import FIXED_PRICE, LEAKING_PRICE, PRICE
from tests.app.conftest import WEBHOOK_SECRET, only_check_run
from tests.app.emulator import GitHubEmulator
from tests.app.processes import private_redis
from tests.app.serving import serve
from tests.app.webhooks import WebhookSender
from webapp import create_app
from workers.celery_app import app as celery_app

SUSPENDED = 78  # an installation of its own, suspended by the test
VISIBILITY_TIMEOUT = 2  # seconds before a dead worker's task is handed out again


def result(task: dict[str, str]) -> dict:
    return AsyncResult(task["task_id"], app=celery_app).get(timeout=60)


def test_a_push_right_after_a_worker_died_mid_review_gets_its_check_run(
    worker_processes, webhooks: WebhookSender, emulator: GitHubEmulator, repo: str
) -> None:
    number = emulator.open_pull(repo, {PRICE: FIXED_PRICE})
    older = emulator.pull(repo, number).head_sha
    reached, release = emulator.hold("GET", r"/pulls/\d+/files$")
    doomed = worker_processes(GOREEF_VISIBILITY_TIMEOUT=str(VISIBILITY_TIMEOUT))
    [dead] = webhooks.deliver("pull_request", webhooks.pull_request(repo, number, "opened")).json()["tasks"]
    assert reached.wait(30), "the review never reached the held call"

    doomed.send_signal(signal.SIGKILL)  # holding the pull request's lock, its head claimed
    doomed.wait(timeout=10)
    release.set()
    newer = emulator.push(repo, number, {PRICE: LEAKING_PRICE})
    [task] = webhooks.deliver("pull_request", webhooks.pull_request(repo, number, "synchronize")).json()["tasks"]
    # A worker hands out the tasks of dead workers when it starts: this one starts once the
    # dead worker's task is past its visibility timeout.
    time.sleep(VISIBILITY_TIMEOUT + 0.5)
    worker_processes(GOREEF_VISIBILITY_TIMEOUT=str(VISIBILITY_TIMEOUT))

    assert result(task)["status"] == "failure"
    run = only_check_run(emulator, repo, newer)
    assert (run["status"], run["conclusion"]) == ("completed", "failure")
    # The dead review came back, saw the pull request had moved on, and closed its check run.
    assert result(dead)["status"] == "superseded"
    stale = only_check_run(emulator, repo, older)
    assert (stale["status"], stale["conclusion"]) == ("completed", "skipped")


def test_a_review_whose_installation_is_suspended_runs_once_it_is_back(
    worker_processes, webhooks: WebhookSender, emulator: GitHubEmulator, go_tree: dict[str, bytes]
) -> None:
    emulator.install(SUSPENDED, "umbrella")
    repo = "umbrella/suspended"
    emulator.create_repo(repo, go_tree, installation_id=SUSPENDED)
    number = emulator.open_pull(repo, {PRICE: LEAKING_PRICE})
    head = emulator.pull(repo, number).head_sha
    emulator.suspend(SUSPENDED)
    worker_processes()
    opened = webhooks.pull_request(repo, number, "opened")

    [first] = webhooks.deliver("pull_request", opened, delivery="suspended-1").json()["tasks"]
    assert AsyncResult(first["task_id"], app=celery_app).wait(timeout=60, propagate=False)
    assert emulator.check_runs(repo, head) == []  # no token, so no check run to say anything
    # Its head was given up: GitHub's redelivery is queued, not answered "duplicate".
    again = webhooks.deliver("pull_request", opened, delivery="suspended-1").json()
    assert again["status"] == "enqueued"
    AsyncResult(again["tasks"][0]["task_id"], app=celery_app).wait(timeout=60, propagate=False)

    emulator.unsuspend(SUSPENDED)
    back = webhooks.deliver("installation", webhooks.installation(SUSPENDED, "umbrella", "unsuspend", [repo]))

    [resumed] = back.json()["tasks"]
    assert resumed["head"] == f"{repo}/pull/{number}@{head}"
    assert result(resumed)["status"] == "failure"
    run = only_check_run(emulator, repo, head)
    assert (run["status"], run["conclusion"]) == ("completed", "failure")
    assert len(emulator.reviews(repo, number)) == 1


@contextmanager
def web_app_on(redis_url: str, settings: Settings) -> Iterator[str]:
    server, url = serve(create_app(replace(settings, redis_url=redis_url)))
    try:
        yield url
    finally:
        server.shutdown()


def test_a_delivery_that_could_not_be_queued_is_queued_when_redelivered(
    settings: Settings, emulator: GitHubEmulator, repo: str, tmp_path: Path
) -> None:
    with private_redis(tmp_path) as redis_url, web_app_on(redis_url, settings) as url:
        store = redis.Redis.from_url(redis_url)
        sender = WebhookSender(url, WEBHOOK_SECRET, emulator)
        payload = sender.pull_request(repo, emulator.open_pull(repo, {PRICE: LEAKING_PRICE}), "opened")
        # Redis stops taking writes between whatever the endpoint does first and the publish, as
        # a Redis that goes away mid-request does: no undo can run either.
        store.execute_command("ACL", "SETUSER", "default", "-lpush", "-del")
        refused = sender.deliver("pull_request", payload, delivery="lost-publish")
        store.execute_command("ACL", "SETUSER", "default", "+lpush", "+del")

        redelivered = sender.deliver("pull_request", payload, delivery="lost-publish")

        assert refused.status_code == 503
        assert redelivered.json()["status"] == "enqueued"
        assert store.llen("goreef") == 1
