"""Write budgets per installation: 30 pull requests drained while one installation is busy.

    python bench/write_budgets.py [--pulls 30] [--installations 3] [--workers 2]

Starts a private redis-server, the Procfile's `web` and `worker` (`--workers` processes) on
loopback, and the GitHub emulator of the app's tests in this process, with GitHub's budget
of 80 writes a minute per installation. The first installation has already spent 78 of its
minute (spent 50 s ago) when `--pulls` pull requests, spread over `--installations`
installations, arrive at once. Prints how long the other installations' reviews took to
drain, and the busy one's: the busy installation waits out its own minute, the others do
not wait for it. Exits 1 when another installation's review waited for the busy one.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

import redis

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.webhook_load import SECRET, app_environment, app_key, public_pem
from tests.app.changes import LEAKING_PRICE, PRICE
from tests.app.emulator import GitHubEmulator
from tests.app.processes import gunicorn, private_redis, procfile_command, running
from tests.app.webhooks import WebhookSender

GOTREE = Path(__file__).resolve().parent.parent / "tests" / "app" / "gotree"
PER_MINUTE = 80
SPENT = 78
BUSY = 1


def spend(store: redis.Redis, installation_id: int) -> None:
    """`SPENT` writes of the installation, made 50 s ago: its minute frees in 10 s."""
    written = (time.time() - 50) * 1000
    store.zadd(f"goreef:write-budget:{installation_id}", {f"earlier-{i}": written + i for i in range(SPENT)})


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pulls", type=int, default=30)
    parser.add_argument("--installations", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # the emulator's request log
    key = app_key()
    public_key = public_pem(key)
    emulator = GitHubEmulator(1, public_key).start()
    tree = {str(p.relative_to(GOTREE)): p.read_bytes() for p in GOTREE.rglob("*.*")}
    repositories = {}
    for installation in range(BUSY, BUSY + args.installations):
        emulator.install(installation, f"org{installation}")
        repositories[installation] = f"org{installation}/app"
        emulator.create_repo(repositories[installation], tree, installation_id=installation)
    pulls = [
        (installation, emulator.open_pull(repositories[installation], {PRICE: LEAKING_PRICE}, head_ref=f"b{i}"))
        for i in range(args.pulls)
        for installation in [BUSY + i % args.installations]
    ]

    with tempfile.TemporaryDirectory() as scratch, ExitStack() as stack:
        workdir = Path(scratch)
        redis_url = stack.enter_context(private_redis(workdir))
        environment = app_environment(redis_url, key, GITHUB_API_URL=emulator.url)
        url = stack.enter_context(gunicorn(environment, workdir))
        command = procfile_command("worker", WORKER_CONCURRENCY=str(args.workers))
        stack.enter_context(running(command, environment, " ready.", workdir / "worker.log"))
        spend(redis.Redis.from_url(redis_url), BUSY)
        sender = WebhookSender(url, SECRET, emulator)

        started = time.monotonic()
        for installation, number in pulls:
            sender.deliver("pull_request", sender.pull_request(repositories[installation], number, "opened"))
        done: dict[tuple[int, int], float] = {}
        while len(done) < len(pulls) and time.monotonic() - started < 180:
            for installation, number in pulls:
                head = emulator.pull(repositories[installation], number).head_sha
                runs = emulator.check_runs(repositories[installation], head)
                if (installation, number) not in done and any(run["status"] == "completed" for run in runs):
                    done[(installation, number)] = time.monotonic() - started
            time.sleep(0.05)
    emulator.stop()

    busy = [t for (installation, _), t in done.items() if installation == BUSY]
    others = [t for (installation, _), t in done.items() if installation != BUSY]
    print(
        f"{len(pulls)} pull requests over {args.installations} installations, {args.workers} worker processes, "
        f"{PER_MINUTE} writes/min per installation, the busy one with {SPENT} spent (frees in 10 s)"
    )
    print(f"other installations: {len(others)} reviews drained in {max(others):.1f} s")
    print(f"busy installation: {len(busy)} reviews drained in {max(busy):.1f} s")
    ok = len(done) == len(pulls) and max(others) < min(busy)
    print("OK" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
