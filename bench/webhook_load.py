"""Webhook acceptance under load: 1,000 signed deliveries at 200 a second to gunicorn.

    python bench/webhook_load.py [--deliveries 1000] [--rate 200]

Starts a private redis-server and the Procfile's `web` command (gunicorn) on free loopback
ports, then sends signed `pull_request` and `check_suite` deliveries over HTTP: distinct pull
request heads, redeliveries of the same delivery, and other events for heads already sent
(one push arrives as several events). It checks that every delivery was accepted (202) and
that each distinct head was enqueued, and prints acceptance latency. No worker runs, so no
head is claimed and every delivery of a head is queued (a worker would stop each one after
the first at once); the queue is read afterwards. Exits 1 when a check fails.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from reviewers.github_core import QUEUE  # noqa: E402
from tests.app.processes import gunicorn, private_redis  # noqa: E402

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


def public_pem(key: rsa.RSAPrivateKey) -> str:
    """The App key's public half, as the emulator checks the App's JWTs with it."""
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


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
    heads already sent: each distinct head must be enqueued."""
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
    print(f"{len(batch)} deliveries in {elapsed:.1f} s ({len(batch) / elapsed:.0f}/s); statuses {dict(statuses)}")
    print(f"{len(distinct)} distinct heads, all enqueued: {set(enqueued) == distinct}; {enqueued.total()} jobs queued")
    print(
        f"acceptance latency: p50 {percentile(latencies_ms, 0.5):.1f} ms, p99 {percentile(latencies_ms, 0.99):.1f} ms,"
        f" max {max(latencies_ms):.1f} ms"
    )
    ok = statuses == Counter({202: len(batch)}) and set(enqueued) == distinct
    print("OK" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
