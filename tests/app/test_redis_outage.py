"""Redis going away and coming back (issue 12, failure 3), with the worker as the Procfile runs
it (prefork) on the Celery and kombu versions pip resolves, and Redis run as the README says
production should: with its append-only file.

A review in flight when Redis stops goes on once Redis is back and completes its check run;
the worker lives on and takes the next review; jobs queued before a restart are still there.
No in-process worker runs here.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from celery import Celery
from celery.result import AsyncResult

from appcore.settings import Settings
from tests.app.changes import LEAKING_PRICE, PRICE
from tests.app.conftest import WEBHOOK_SECRET, only_check_run
from tests.app.emulator import GitHubEmulator
from tests.app.processes import free_port, procfile_command, start, start_redis, stop
from tests.app.serving import serve
from tests.app.webhooks import WebhookSender
from webapp import create_app

OUTAGE = 2.0  # seconds Redis stays away


class RestartableRedis:
    """A persistent redis-server on a port of its own, which the test stops and starts again."""

    def __init__(self, directory: Path):
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._directory = directory
        self._server = self._start()

    def restart(self, *, down_for: float = 0.0, kill: bool = False, meanwhile=lambda: None) -> None:
        """Stop Redis (SIGKILL: no chance to save anything on the way out), run `meanwhile`,
        wait `down_for` seconds, start it again on the same port and files."""
        if kill:
            self._server.send_signal(signal.SIGKILL)
            self._server.wait(timeout=10)
        else:
            stop(self._server)
        meanwhile()
        time.sleep(down_for)
        self._server = self._start()

    def stop(self) -> None:
        stop(self._server)

    def _start(self) -> subprocess.Popen:
        return start_redis(self.port, self._directory, persistent=True)


@pytest.fixture
def restartable_redis(tmp_path: Path) -> Iterator[RestartableRedis]:
    directory = tmp_path / "redis"
    directory.mkdir()
    server = RestartableRedis(directory)
    yield server
    server.stop()


@pytest.fixture
def sender(
    restartable_redis: RestartableRedis, settings: Settings, emulator: GitHubEmulator
) -> Iterator[WebhookSender]:
    """Webhooks to a web app on that Redis."""
    web, url = serve(create_app(replace(settings, redis_url=restartable_redis.url)))
    yield WebhookSender(url, WEBHOOK_SECRET, emulator)
    web.shutdown()


@pytest.fixture
def start_worker(app_environment: None, restartable_redis: RestartableRedis, tmp_path: Path) -> Iterator:
    """Starts the Procfile's worker on that Redis, with WORKER_CONCURRENCY processes."""
    workers: list[subprocess.Popen] = []

    def start_one(concurrency: int) -> subprocess.Popen:
        command = procfile_command("worker", WORKER_CONCURRENCY=str(concurrency))
        environment = {**os.environ, "REDIS_URL": restartable_redis.url}
        workers.append(start(command, environment, " ready.", tmp_path / "worker.log"))
        return workers[-1]

    yield start_one
    for worker in workers:
        worker.terminate()
        worker.wait(timeout=30)


def outcome(task: dict[str, str], redis_url: str) -> dict:
    results = Celery("results", backend=redis_url, set_as_current=False)
    return AsyncResult(task["task_id"], app=results).get(timeout=60)


def test_a_review_in_flight_rides_out_a_redis_restart(
    restartable_redis: RestartableRedis,
    sender: WebhookSender,
    start_worker,
    emulator: GitHubEmulator,
    repo: str,
    tmp_path: Path,
) -> None:
    first, second = (emulator.open_pull(repo, {PRICE: LEAKING_PRICE}, head_ref=ref) for ref in ("one", "two"))
    worker = start_worker(concurrency=2)
    reached, release = emulator.hold("GET", r"/pulls/\d+/files$")
    [task] = sender.deliver("pull_request", sender.pull_request(repo, first, "opened")).json()["tasks"]
    assert reached.wait(30), "the review never reached the held call"

    # The review goes on while Redis is away, and needs it again to post.
    restartable_redis.restart(down_for=OUTAGE, meanwhile=release.set)

    assert outcome(task, restartable_redis.url)["status"] == "failure"
    run = only_check_run(emulator, repo, emulator.pull(repo, first).head_sha)
    assert (run["status"], run["conclusion"]) == ("completed", "failure")
    assert worker.poll() is None, (tmp_path / "worker.log").read_text()[-3000:]
    # The worker consumes again: the next review runs to the end.
    [task] = sender.deliver("pull_request", sender.pull_request(repo, second, "opened")).json()["tasks"]
    assert outcome(task, restartable_redis.url)["status"] == "failure"
    assert [len(emulator.reviews(repo, number)) for number in (first, second)] == [1, 1]


def test_reviews_queued_before_a_redis_restart_still_run(
    restartable_redis: RestartableRedis, sender: WebhookSender, start_worker, emulator: GitHubEmulator, repo: str
) -> None:
    number = emulator.open_pull(repo, {PRICE: LEAKING_PRICE})
    [task] = sender.deliver("pull_request", sender.pull_request(repo, number, "opened")).json()["tasks"]

    restartable_redis.restart(kill=True)
    start_worker(concurrency=1)

    assert outcome(task, restartable_redis.url)["status"] == "failure"
    assert only_check_run(emulator, repo, emulator.pull(repo, number).head_sha)["conclusion"] == "failure"
