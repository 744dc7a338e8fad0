"""Real parts for the app's tests: a private Redis, the GitHub emulator, the webhook app served
over HTTP and a Celery worker consuming from that Redis. All bind free loopback ports."""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from appcore.settings import TUNING_VARIABLES, Settings
from reviewers.github_core import QUEUE
from tests.app.emulator import GitHubEmulator
from tests.app.processes import Serve, private_redis, procfile_command, start
from tests.app.serving import serve
from tests.app.webhooks import WebhookSender

APP_ID = 4242
WEBHOOK_SECRET = "webhook-secret-for-tests"
DOCS_URL = "https://goreef.example/rules"
INSTALLATION = 77


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with private_redis(tmp_path_factory.mktemp("redis")) as url:
        yield url


@pytest.fixture
def redis_client(redis_url: str) -> redis.Redis:
    return redis.Redis.from_url(redis_url)


@pytest.fixture(scope="session")
def app_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


@pytest.fixture(scope="session")
def private_key_pem(app_key: rsa.RSAPrivateKey) -> str:
    return _pem(app_key)


@pytest.fixture(scope="session")
def emulator(app_key: rsa.RSAPrivateKey) -> Iterator[GitHubEmulator]:
    public_pem = (
        app_key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    github = GitHubEmulator(APP_ID, public_pem).start()
    github.install(INSTALLATION, "acme")  # the App, installed on the organisation of every test repository
    yield github
    github.stop()


@pytest.fixture(autouse=True)
def no_fault_outlives_its_test(request: pytest.FixtureRequest) -> Iterator[None]:
    """Faults, delays and hooks a test put into the emulator end with it, whatever its outcome."""
    yield
    if "emulator" in request.fixturenames:
        request.getfixturevalue("emulator").clear_faults()


@pytest.fixture(scope="session")
def settings(private_key_pem: str, redis_url: str, emulator: GitHubEmulator) -> Settings:
    return Settings(
        app_id=APP_ID,
        private_key=private_key_pem,
        webhook_secret=WEBHOOK_SECRET,
        redis_url=redis_url,
        github_api_url=emulator.url,
        docs_url=DOCS_URL,
        # Retries as in production, only faster; the suite writes more than GitHub allows a minute.
        retry_delay=0.05,
        http_retry_delay=0.02,
        writes_per_minute=100_000,
    )


@pytest.fixture(scope="session")
def app_environment(settings: Settings) -> Iterator[None]:
    """The environment the worker reads its settings from, as in production."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GITHUB_APP_ID", str(settings.app_id))
        patch.setenv("GITHUB_PRIVATE_KEY", settings.private_key)
        patch.delenv("GITHUB_PRIVATE_KEY_PATH", raising=False)
        patch.setenv("GITHUB_WEBHOOK_SECRET", settings.webhook_secret)
        patch.setenv("REDIS_URL", settings.redis_url)
        patch.setenv("GITHUB_API_URL", settings.github_api_url)
        patch.setenv("GOREEF_DOCS_URL", settings.docs_url)
        for field, (variable, _) in TUNING_VARIABLES.items():
            if (value := getattr(settings, field)) is not None:
                patch.setenv(variable, str(value))
        yield


@pytest.fixture(scope="module")
def worker(app_environment: None) -> Iterator[None]:
    """A real Celery worker in this process, consuming the test Redis, for the modules that ask.

    Module-scoped: other modules read the jobs they enqueue from the queue, with no worker racing them."""
    from celery.contrib.testing.worker import start_worker

    from workers.celery_app import app as celery_app

    with start_worker(celery_app, pool="solo", perform_ping_check=False, shutdown_timeout=30):
        yield


@pytest.fixture
def worker_processes(app_environment: None, tmp_path: Path) -> Iterator[Callable[..., subprocess.Popen]]:
    """Starts `celery worker` processes as the Procfile runs them, one task at a time, each with
    extra environment variables; answers each once it consumes. Stops the survivors at the end.

    For modules that run no in-process worker, which would race them for the tasks."""
    started: list[subprocess.Popen] = []

    def start_worker(pool: str = "solo", **environment: str) -> subprocess.Popen:
        command = [*procfile_command("worker", WORKER_CONCURRENCY="1"), f"--pool={pool}"]
        process = start(command, {**os.environ, **environment}, " ready.", tmp_path / f"worker-{len(started)}.log")
        started.append(process)
        return process

    yield start_worker
    for process in started:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=30)


@pytest.fixture
def serving(tmp_path: Path) -> Iterator[Callable[..., Serve]]:
    """Starts `goreef serve` processes, with the given environment less REDIS_URL (its own Redis,
    data in the test's folder); kills the survivors at the end."""
    started: list[Serve] = []

    def serve(environment: dict[str, str], *options: str) -> Serve:
        without_redis = {k: v for k, v in environment.items() if k != "REDIS_URL"}
        started.append(Serve(without_redis, tmp_path / "data", tmp_path / f"serve-{len(started)}.log", *options))
        return started[-1]

    yield serve
    for serve_process in started:
        if serve_process.process.poll() is None:
            serve_process.process.kill()
            serve_process.process.wait()


@pytest.fixture(scope="session")
def webapp_url(settings: Settings, app_environment: None) -> Iterator[str]:
    from webapp import create_app

    server, url = serve(create_app(settings))
    yield url
    server.shutdown()


@pytest.fixture(scope="session")
def go_tree() -> dict[str, bytes]:
    """A small real Go module: the base branch of every test repository."""
    root = Path(__file__).parent / "gotree"
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def repo_name(request: pytest.FixtureRequest) -> str:
    """A repository name of the test's own: its name, parameters included, in the characters GitHub allows."""
    return "acme/" + re.sub(r"[^\w.-]+", "-", request.node.name)


@pytest.fixture
def repo(request: pytest.FixtureRequest, emulator: GitHubEmulator, go_tree: dict[str, bytes]) -> str:
    """A repository of its own for each test, holding the Go tree on `main`."""
    full_name = repo_name(request)
    emulator.create_repo(full_name, go_tree, installation_id=INSTALLATION)
    return full_name


@pytest.fixture
def webhooks(webapp_url: str, emulator: GitHubEmulator) -> WebhookSender:
    return WebhookSender(webapp_url, WEBHOOK_SECRET, emulator)


@pytest.fixture
def deliver(webhooks: WebhookSender) -> Callable[..., list[dict[str, Any]]]:
    """Deliver an event and wait until every review it enqueued has finished; answers the outcomes.

    For the modules that run a worker."""
    from celery.result import AsyncResult

    from workers.celery_app import app as celery_app

    def deliver_and_wait(event: str, payload: dict[str, Any], **options: Any) -> list[dict[str, Any]]:
        response = webhooks.deliver(event, payload, **options)
        assert response.status_code == 202, response.text
        tasks = response.json().get("tasks", [])
        return [AsyncResult(task["task_id"], app=celery_app).get(timeout=60) for task in tasks]

    return deliver_and_wait


def only_check_run(emulator: GitHubEmulator, repo: str, head_sha: str) -> dict[str, Any]:
    [run] = emulator.check_runs(repo, head_sha)
    return run


@pytest.fixture
def queued(redis_client: redis.Redis) -> Iterator[Callable[[], list[dict[str, Any]]]]:
    """Reads the review jobs waiting in the queue (for tests that run no worker); empty before and after."""
    redis_client.delete(QUEUE)

    def jobs() -> list[dict[str, Any]]:
        messages = [json.loads(raw) for raw in redis_client.lrange(QUEUE, 0, -1)]
        return [json.loads(base64.b64decode(m["body"]))[1] for m in reversed(messages)]

    yield jobs
    redis_client.delete(QUEUE)
