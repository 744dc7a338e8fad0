"""From webhook received to check run completed, through every real part, for a 20-file pull request.

    python bench/end_to_end.py [--runs 50] [--files 20]

Starts a private redis-server, the Procfile's `web` (gunicorn) and one `worker` (Celery,
one process) on loopback, and the GitHub emulator of the app's tests in this process. Each
run opens a pull request of 20 changed Go files (one with a leak, so a review is posted),
sends its signed `pull_request.opened` delivery and waits for the check run to complete.
Prints p50 and p99 over the runs. The write budget is raised: at GitHub's 80 writes a
minute, 50 back-to-back reviews would measure the budget, not the pipeline.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.webhook_load import SECRET, app_environment, app_key, percentile, public_pem
from tests.app.changes import LEAKING_PRICE, PRICE
from tests.app.emulator import GitHubEmulator
from tests.app.processes import gunicorn, private_redis, procfile_command, running
from tests.app.webhooks import WebhookSender

REPOSITORY = "acme/bench"
INSTALLATION = 1
GOTREE = Path(__file__).resolve().parent.parent / "tests" / "app" / "gotree"


def changed_files(count: int, run: int) -> dict[str, bytes]:
    """`count` Go files of a pull request: the leaking price.go and clean files around it."""
    clean = {
        f"fetch/extra{run}_{i:02d}.go": (
            b"package fetch\n\n// Double%d doubles x.\nfunc Double%d_%d(x int) int {\n\treturn 2 * x\n}\n"
        )
        % (i, run, i)
        for i in range(count - 1)
    }
    return {PRICE: LEAKING_PRICE, **clean}


def review_once(emulator: GitHubEmulator, sender: WebhookSender, files: dict[str, bytes]) -> tuple[float, float]:
    """Seconds to accept the webhook, and to complete the check run, for one new pull request."""
    number = emulator.open_pull(REPOSITORY, files, head_ref=f"change-{len(emulator.repo(REPOSITORY).pulls)}")
    head = emulator.pull(REPOSITORY, number).head_sha
    payload = sender.pull_request(REPOSITORY, number, "opened")
    started = time.perf_counter()
    response = sender.deliver("pull_request", payload)
    accepted = time.perf_counter() - started
    assert response.status_code == 202, response.text
    deadline = started + 60
    while not any(run["status"] == "completed" for run in emulator.check_runs(REPOSITORY, head)):
        if time.perf_counter() > deadline:
            raise RuntimeError(f"pull request #{number} was not reviewed within 60 s")
        time.sleep(0.002)
    return accepted, time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--files", type=int, default=20)
    args = parser.parse_args()

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # the emulator's request log
    key = app_key()
    public_key = public_pem(key)
    emulator = GitHubEmulator(1, public_key).start()
    emulator.install(INSTALLATION, "acme")
    emulator.create_repo(
        REPOSITORY,
        {str(p.relative_to(GOTREE)): p.read_bytes() for p in GOTREE.rglob("*.*")},
        installation_id=INSTALLATION,
    )
    with tempfile.TemporaryDirectory() as scratch, ExitStack() as stack:
        workdir = Path(scratch)
        redis_url = stack.enter_context(private_redis(workdir))
        environment = app_environment(redis_url, key, GITHUB_API_URL=emulator.url, GOREEF_WRITES_PER_MINUTE="100000")
        url = stack.enter_context(gunicorn(environment, workdir))
        stack.enter_context(
            running(procfile_command("worker", WORKER_CONCURRENCY="1"), environment, " ready.", workdir / "worker.log")
        )
        sender = WebhookSender(url, SECRET, emulator)
        review_once(emulator, sender, changed_files(args.files, -1))  # warm up: imports, token, connections
        timings = [review_once(emulator, sender, changed_files(args.files, run)) for run in range(args.runs)]
    emulator.stop()

    accepted_ms = [a * 1000 for a, _ in timings]
    completed_ms = [c * 1000 for _, c in timings]
    print(f"{args.runs} runs, {args.files}-file pull request, one worker process\n")
    print(f"{'milliseconds':<34}{'p50':>8}{'p99':>8}{'min':>8}{'max':>8}")
    for name, values in (("webhook accepted (202)", accepted_ms), ("webhook → check run completed", completed_ms)):
        print(
            f"{name:<34}{percentile(values, 0.5):>8.0f}{percentile(values, 0.99):>8.0f}"
            f"{min(values):>8.0f}{max(values):>8.0f}"
        )
    print(f"\nmean {statistics.fmean(completed_ms):.0f} ms to a completed check run")
    return 0


if __name__ == "__main__":
    sys.exit(main())
