"""`goreef serve` as a user runs it: a real process on a free port with no REDIS_URL, its own
Redis under a data directory, the Procfile's web process and worker (issue 15).

Without App credentials the web process answers and says what to do next; a child that dies
stops the whole serve. With credentials a signed delivery ends in a completed check run, and
a review queued when serve stops is reviewed by the next serve on the same data directory.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
from collections.abc import Callable
from pathlib import Path

import redis
import requests

from appcore.settings import APP_VARIABLES
from tests.app.changes import LEAKING_PRICE, PRICE
from tests.app.conftest import WEBHOOK_SECRET, only_check_run
from tests.app.emulator import GitHubEmulator
from tests.app.processes import GOREEF, Serve, procfile_command, until
from tests.app.webhooks import WebhookSender
from webapp.serve import web_command, worker_command


def test_serve_runs_the_procfile_processes() -> None:
    web = procfile_command("web", 8000, WEB_CONCURRENCY="3")
    worker = procfile_command("worker", WORKER_CONCURRENCY="2")

    # serve runs each program with its own Python (`python -m gunicorn`), with the same arguments.
    assert web_command("127.0.0.1", 8000, "3")[3:] == web[1:]
    assert worker_command(2)[3:] == worker[1:]


def test_without_credentials_the_web_process_answers_and_a_dead_child_stops_serve(
    serving: Callable[..., Serve], tmp_path: Path
) -> None:
    environment = {k: v for k, v in os.environ.items() if k not in APP_VARIABLES}
    serve = serving(environment)

    health = requests.get(serve.url + "/healthz", timeout=10)
    ready = requests.get(serve.url + "/readyz", timeout=10)
    webhook = requests.post(serve.url + "/webhooks/github", data=b"{}", timeout=10)

    assert health.status_code == 200
    assert (ready.status_code, ready.json()) == (
        200,
        {"status": "ready", "redis": f"embedded (goreef serve, data in {tmp_path / 'data'})"},
    )
    assert webhook.status_code == 503
    assert "no GitHub App credentials yet" in serve.output() and "worker pid" not in serve.output()
    # Its Redis listens on a socket only this user can open, on no TCP port, every write kept.
    [socket_url] = re.findall(r"Redis \(embedded\) on (unix://\S+),", serve.output())
    store = redis.Redis.from_url(socket_url)
    assert store.config_get("port") == {"port": "0"}
    assert store.config_get("appendonly") == {"appendonly": "yes"}
    assert os.stat(socket_url.removeprefix("unix://")).st_mode & 0o777 == 0o700

    web = serve.pid("web")
    os.kill(web, signal.SIGKILL)

    assert serve.process.wait(timeout=60) == 1
    assert f"the web process (pid {web}) was killed by signal 9; stopping the rest" in serve.output()
    assert not Path(socket_url.removeprefix("unix://")).exists()  # Redis stopped too


def test_a_review_queued_when_serve_stops_is_reviewed_by_the_next_serve(
    serving: Callable[..., Serve], app_environment: None, emulator: GitHubEmulator, repo: str
) -> None:
    in_flight, queued = (emulator.open_pull(repo, {PRICE: LEAKING_PRICE}, head_ref=ref) for ref in ("a", "b"))
    reached, release = emulator.hold("GET", rf"/pulls/{in_flight}/files$")
    first = serving(dict(os.environ), "--workers", "1")
    webhooks = WebhookSender(first.url, WEBHOOK_SECRET, emulator)

    assert webhooks.deliver("pull_request", webhooks.pull_request(repo, in_flight, "opened")).status_code == 202
    assert reached.wait(60), "the review never started"
    assert webhooks.deliver("pull_request", webhooks.pull_request(repo, queued, "opened")).status_code == 202
    first.process.send_signal(signal.SIGTERM)
    until(lambda: "goreef serve: stopping" in first.output(), "serve to begin stopping")
    release.set()

    # The review in flight was finished; the queued one waits in the embedded Redis's file.
    assert first.process.wait(timeout=60) == 0
    run = only_check_run(emulator, repo, emulator.pull(repo, in_flight).head_sha)
    assert (run["status"], run["conclusion"]) == ("completed", "failure")
    assert emulator.check_runs(repo, emulator.pull(repo, queued).head_sha) == []

    second = serving(dict(os.environ), "--workers", "1")
    queued_sha = emulator.pull(repo, queued).head_sha
    until(lambda: [r["status"] for r in emulator.check_runs(repo, queued_sha)] == ["completed"], "the queued review")

    assert only_check_run(emulator, repo, queued_sha)["conclusion"] == "failure"
    assert [len(emulator.reviews(repo, n)) for n in (in_flight, queued)] == [1, 1]
    assert second.stop() == 0


def test_serve_names_every_setting_that_is_wrong_before_starting_anything(tmp_path: Path) -> None:
    environment = {k: v for k, v in os.environ.items() if k not in (*APP_VARIABLES, "REDIS_URL")}

    finished = subprocess.run(
        [GOREEF, "serve", "--data-dir", str(tmp_path)],
        env={**environment, "GITHUB_APP_ID": "12", "GOREEF_TASK_TIME_LIMIT": "soon"},
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert finished.returncode == 2
    problems = [line.split()[1] for line in finished.stdout.splitlines() if line.startswith("  - ")]
    assert problems == ["GITHUB_PRIVATE_KEY", "GITHUB_WEBHOOK_SECRET", "GOREEF_TASK_TIME_LIMIT"]
    assert not (tmp_path / "appendonly.aof").exists()
