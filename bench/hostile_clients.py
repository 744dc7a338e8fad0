"""The web process against hostile clients: an unsigned flood, then stalled uploads.

    python bench/hostile_clients.py [--flood 10000] [--stalled 8 32 64]

Starts a private redis-server and the Procfile's `web` command (gunicorn) on free loopback
ports. First it sends `--flood` requests with bad signatures and a random 8 KB event name
each, and prints the rate and Redis's key count and memory before and after (nothing an
unsigned request sends may be kept). Then, for each count of `--stalled` uploads left open
(headers sent, body never finished), it times `/healthz` and a signed delivery. Exits 1 when
Redis changed or an answer took a second or more.
"""

from __future__ import annotations

import argparse
import secrets
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path

import redis
import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.webhook_load import SECRET, app_environment
from tests.app.processes import gunicorn, private_redis, stalled_upload
from tests.app.webhooks import sign

SENDERS = 32


def flood(url: str, count: int) -> float:
    """Send `count` unsigned requests with random 8 KB event names; answers the seconds taken."""
    sessions = threading.local()  # one connection kept alive per sending thread

    def send(_: int) -> int:
        if not hasattr(sessions, "session"):
            sessions.session = requests.Session()
        session = sessions.session
        event = secrets.token_hex(4000)  # 8,000 characters: under gunicorn's 8,190 per header
        headers = {"X-GitHub-Event": event, "X-GitHub-Delivery": event[:36], "X-Hub-Signature-256": "sha256=0"}
        return session.post(url + "/webhooks/github", data=b"{}", headers=headers, timeout=10).status_code

    started = time.monotonic()
    with ThreadPoolExecutor(SENDERS) as pool:
        statuses = set(pool.map(send, range(count)))
    if statuses != {401}:
        raise RuntimeError(f"unsigned requests were answered {statuses}")
    return time.monotonic() - started


def timed(request: Callable[[], object]) -> float:
    started = time.perf_counter()
    request()
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flood", type=int, default=10_000)
    parser.add_argument("--stalled", type=int, nargs="+", default=[8, 24])
    args = parser.parse_args()

    ok = True
    with tempfile.TemporaryDirectory() as scratch, ExitStack() as stack:
        workdir = Path(scratch)
        redis_url = stack.enter_context(private_redis(workdir))
        url = stack.enter_context(gunicorn(app_environment(redis_url), workdir))
        store = redis.Redis.from_url(redis_url)
        ping = b'{"zen": "bench", "hook_id": 1}'
        signed = {"X-GitHub-Event": "ping", "X-GitHub-Delivery": "bench", "X-Hub-Signature-256": sign(SECRET, ping)}
        requests.post(url + "/webhooks/github", data=ping, headers=signed, timeout=10)  # counts one delivery

        keys, memory = store.dbsize(), store.info("memory")["used_memory"]
        seconds = flood(url, args.flood)
        after_keys, after_memory = store.dbsize(), store.info("memory")["used_memory"]
        print(
            f"unsigned flood: {args.flood} requests with random 8 KB event names in {seconds:.1f} s "
            f"({args.flood / seconds:.0f}/s); Redis keys {keys} → {after_keys}, "
            f"used memory {memory:,} → {after_memory:,} bytes ({after_memory - memory:+,})"
        )
        ok &= after_keys == keys and abs(after_memory - memory) < 64 * 1024

        for count in args.stalled:
            stalled = [stalled_upload(url) for _ in range(count)]
            health = [timed(lambda: requests.get(url + "/healthz", timeout=5)) for _ in range(20)]
            delivery = timed(lambda: requests.post(url + "/webhooks/github", data=ping, headers=signed, timeout=5))
            print(
                f"{count} stalled uploads open: /healthz p50 {statistics.median(health) * 1000:.1f} ms, "
                f"max {max(health) * 1000:.1f} ms; signed delivery {delivery * 1000:.1f} ms"
            )
            ok &= max(*health, delivery) < 1
            for connection in stalled:
                connection.close()
    print("OK" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
