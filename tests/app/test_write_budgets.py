"""Write budgets per installation (issue 12, failure 6): one busy installation's spent budget
neither throttles another's reviews nor holds the worker while it waits.

One worker process, one task at a time, as the Procfile runs it with a small budget. The busy
installation's minute is nearly spent before its pull request arrives, ahead of the other's.
No in-process worker runs here.
"""

from __future__ import annotations

import time

import redis
from celery.result import AsyncResult

from tests.app.changes import LEAKING_PRICE, PRICE
from tests.app.conftest import INSTALLATION, only_check_run
from tests.app.emulator import GitHubEmulator
from tests.app.webhooks import WebhookSender
from workers.celery_app import app as celery_app

QUIET = 79  # another installation of the App
PER_MINUTE = 4
FREES_IN = 3.0  # seconds until the busy installation's spent writes leave the window


def spend_budget(store: redis.Redis, installation_id: int) -> None:
    """Record a minute's worth of writes for the installation, the oldest leaving the window soon."""
    key = f"goreef:write-budget:{installation_id}"
    written = time.time() - 60 + FREES_IN
    store.delete(key)
    store.zadd(key, {f"earlier-{i}": int((written + i * 0.01) * 1000) for i in range(PER_MINUTE)})
    store.expire(key, 60)


def completed_at(emulator: GitHubEmulator, repo: str) -> int:
    """Where, in the emulator's request log, the repository's check run was completed."""
    return max(i for i, (m, p, _) in enumerate(emulator.requests) if m == "PATCH" and f"/{repo}/check-runs/" in p)


def test_a_busy_installation_waits_for_its_budget_without_holding_up_another(
    worker_processes,
    webhooks: WebhookSender,
    emulator: GitHubEmulator,
    go_tree: dict[str, bytes],
    repo: str,
    redis_client: redis.Redis,
) -> None:
    emulator.install(QUIET, "initech")
    quiet_repo = "initech/quiet"
    emulator.create_repo(quiet_repo, go_tree, installation_id=QUIET)
    busy, quiet = (
        emulator.open_pull(repo, {PRICE: LEAKING_PRICE}),
        emulator.open_pull(quiet_repo, {PRICE: LEAKING_PRICE}),
    )
    worker_processes(GOREEF_WRITES_PER_MINUTE=str(PER_MINUTE))
    spend_budget(redis_client, INSTALLATION)

    tasks = [
        webhooks.deliver("pull_request", webhooks.pull_request(name, number, "opened")).json()["tasks"][0]
        for name, number in ((repo, busy), (quiet_repo, quiet))
    ]
    outcomes = [AsyncResult(task["task_id"], app=celery_app).get(timeout=60) for task in tasks]

    assert [o["status"] for o in outcomes] == ["failure", "failure"]
    # The one worker reviewed the quiet installation's pull request while the busy one waited.
    assert completed_at(emulator, quiet_repo) < completed_at(emulator, repo)
    for name, number in ((repo, busy), (quiet_repo, quiet)):
        assert only_check_run(emulator, name, emulator.pull(name, number).head_sha)["status"] == "completed"
        assert len(emulator.reviews(name, number)) == 1
