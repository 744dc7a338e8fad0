"""Webhook acceptance under load: 1,000 signed deliveries at 200 a second to gunicorn.

    python bench/webhook_load.py [--deliveries 1000] [--rate 200]

Starts a private redis-server and the Procfile's `web` command (gunicorn) on free loopback
ports, then sends signed `pull_request` and `check_suite` deliveries over HTTP: distinct pull
request heads, redeliveries of the same delivery, and other events for heads already sent
(one push arrives as several events). It checks that every delivery was accepted (202) and
that each distinct head was enqueued exactly once, and prints acceptance latency. No worker
runs: the queue is read afterwards. Exits 1 when a check fails.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.app.conftest import free_port, start_redis, stop  # noqa: E402
from workers.jobs import QUEUE  # noqa: E402

SECRET = "bench-webhook-secret"
REPOSITORY = "acme/load"
INSTALLATION = 1
SENDERS = 32  # concurrent connections: enough to keep the rate while some requests wait


@dataclass(frozen=True)
class Delivery:
    event: str
    delivery_id: str
    body: bytes
    number: int
    head_sha: str

    def headers(self) -> dict[str, str]:
        signature = "sha256=" + hmac.new(SECRET.encode(), self.body, hashlib.sha256).hexdigest()
        return {
            "Content-Type": "application/json",
            "X-GitHub-Event": self.event,
            "X-GitHub-Delivery": self.delivery_id,
            "X-Hub-Signature-256": signature,
        }


def app_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def app_environment(redis_url: str, key: rsa.RSAPrivateKey | None = None, **extra: str) -> dict[str, str]:
    """The web and worker processes' environment."""
    pem = (key or app_key()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return {
        **os.environ,
        "GITHUB_APP_ID": "1",
        "GITHUB_PRIVATE_KEY": pem.decode(),
        "GITHUB_WEBHOOK_SECRET": SECRET,
        "REDIS_URL": redis_url,
        **extra,
    }


def procfile_command(process: str, port: int = 0, **variables: str) -> list[str]:
    """A Procfile command, bound to loopback on `port`, its ${VAR:-default}s expanded from
    `variables` (the Procfile's defaults otherwise)."""
    line = next(line for line in (ROOT / "Procfile").read_text().splitlines() if line.startswith(f"{process}:"))
    command = line.split(":", 1)[1].replace("0.0.0.0:$PORT", f"127.0.0.1:{port}")
    expanded = subprocess.run(
        ["bash", "-c", f"printf '%s\\0' {command}"],
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": os.environ["PATH"], **variables},
    )
    return [part for part in expanded.stdout.split("\0") if part]


@contextmanager
def running(command: list[str], environment: dict[str, str], ready: str, log: Path) -> Iterator[subprocess.Popen]:
    """A process of ours, once `ready` shows in its output; terminated afterwards."""
    process = subprocess.Popen(command, cwd=ROOT, env=environment, stdout=log.open("ab"), stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while ready not in log.read_text(errors="replace"):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{shlex.join(command)} did not start:\n{log.read_text()}")
            time.sleep(0.05)
        yield process
    finally:
        process.terminate()
        process.wait(timeout=30)


@contextmanager
def private_redis(workdir: Path) -> Iterator[str]:
    port = free_port()
    server = start_redis(port, workdir)
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        stop(server)


@contextmanager
def gunicorn(environment: dict[str, str], workdir: Path) -> Iterator[str]:
    """The Procfile's web process on a free loopback port; answers its URL once it serves."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with running(procfile_command("web", port), environment, "Booting worker", workdir / "gunicorn.log"):
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


def pull_request_event(number: int, head_sha: str) -> dict[str, Any]:
    return {
        "action": "synchronize",
        "number": number,
        "pull_request": {"number": number, "draft": False, "state": "open", "head": {"sha": head_sha}},
        "repository": {"full_name": REPOSITORY},
        "installation": {"id": INSTALLATION},
        "sender": {"login": "octocat", "type": "User"},
    }


def check_suite_event(number: int, head_sha: str) -> dict[str, Any]:
    return {
        "action": "requested",
        "check_suite": {"head_sha": head_sha, "pull_requests": [{"number": number}]},
        "repository": {"full_name": REPOSITORY},
        "installation": {"id": INSTALLATION},
        "sender": {"login": "octocat", "type": "User"},
    }


def deliveries(count: int) -> list[Delivery]:
    """60% distinct heads, 20% redeliveries of earlier deliveries, 20% check_suite events for
    heads already sent: each distinct head must be enqueued once."""
    sent: list[Delivery] = []
    for i in range(count):
        if i % 5 == 3 and sent:
            sent.append(sent[i // 2])  # GitHub's redelivery: same id, same body
        elif i % 5 == 4 and sent:
            earlier = sent[i // 3]
            body = json.dumps(check_suite_event(earlier.number, earlier.head_sha)).encode()
            sent.append(Delivery("check_suite", str(uuid.uuid4()), body, earlier.number, earlier.head_sha))
        else:
            head = hashlib.sha1(f"head-{i}".encode()).hexdigest()
            body = json.dumps(pull_request_event(i + 1, head)).encode()
            sent.append(Delivery("pull_request", str(uuid.uuid4()), body, i + 1, head))
    return sent


def send_at_rate(url: str, batch: list[Delivery], rate: float) -> list[tuple[int, float]]:
    """POST each delivery at its slot of `rate` per second; answers (status, seconds) for each."""
    start = time.monotonic() + 0.2

    def send(index: int) -> tuple[int, float]:
        time.sleep(max(0.0, start + index / rate - time.monotonic()))
        delivery = batch[index]
        began = time.perf_counter()
        response = requests.post(url + "/webhooks/github", data=delivery.body, headers=delivery.headers(), timeout=10)
        return response.status_code, time.perf_counter() - began

    with ThreadPoolExecutor(SENDERS) as pool:
        return list(pool.map(send, range(len(batch))))


def enqueued_heads(store: redis.Redis) -> Counter[str]:
    messages = [json.loads(raw) for raw in store.lrange(QUEUE, 0, -1)]
    return Counter(json.loads(base64.b64decode(m["body"]))[1]["head_sha"] for m in messages)


def percentile(values: list[float], fraction: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[round(fraction * 100) - 1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deliveries", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=200.0, help="deliveries per second")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as scratch, ExitStack() as stack:
        workdir = Path(scratch)
        redis_url = stack.enter_context(private_redis(workdir))
        url = stack.enter_context(gunicorn(app_environment(redis_url), workdir))
        batch = deliveries(args.deliveries)

        started = time.monotonic()
        answers = send_at_rate(url, batch, args.rate)
        elapsed = time.monotonic() - started
        enqueued = enqueued_heads(redis.Redis.from_url(redis_url))

    statuses = Counter(status for status, _ in answers)
    latencies_ms = [seconds * 1000 for _, seconds in answers]
    distinct = {d.head_sha for d in batch}
    twice = [head for head, n in enqueued.items() if n > 1]
    print(f"{len(batch)} deliveries in {elapsed:.1f} s ({len(batch) / elapsed:.0f}/s); statuses {dict(statuses)}")
    print(f"{len(distinct)} distinct heads; enqueued {len(enqueued)}, of which {len(twice)} more than once")
    print(
        f"acceptance latency: p50 {percentile(latencies_ms, 0.5):.1f} ms, p99 {percentile(latencies_ms, 0.99):.1f} ms,"
        f" max {max(latencies_ms):.1f} ms"
    )
    ok = statuses == Counter({202: len(batch)}) and set(enqueued) == distinct and not twice
    print("OK" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
