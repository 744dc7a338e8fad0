"""A review against a distant GitHub: 100 ms on every request, for a 20-file and a 3,000-file
pull request.

    python bench/github_latency.py [--latency 0.1] [--sizes 20 3000]

Runs the worker's review (`workers.review.run_review`: check run opened, configuration read,
files listed, contents read, analysis, review posted, check run completed) in this process
against the GitHub emulator of the app's tests, with a private redis-server, every API
request answered `--latency` seconds late. Each pull request changes Go files in packages of
100 files (one leak in each package, so a review is posted) next to an unchanged file per
package. Prints the seconds from start to completed check run and the requests made; the
targets (under 2 s for 20 files, under 60 s for 3,000) are printed beside them, not asserted.
"""

from __future__ import annotations

import argparse
import logging
import re
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import redis
from cryptography.hazmat.primitives import serialization

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from appcore.settings import Settings
from bench.webhook_load import app_key, public_pem
from reviewers.github_core import ReviewJob
from tests.app.changes import LEAKING_PRICE
from tests.app.emulator import GitHubEmulator
from tests.app.processes import private_redis
from workers.github_client import GitHubApp
from workers.review import run_review

INSTALLATION = 1
GOTREE = Path(__file__).resolve().parent.parent / "tests" / "app" / "gotree"
TARGETS = {20: 2.0, 3000: 60.0}
PACKAGE_SIZE = 100


def pull_request_files(count: int) -> tuple[dict[str, bytes], dict[str, bytes]]:
    """The base tree's extra files (one unchanged file per package) and the `count` changed files."""
    base, changed = {}, {}
    for index in range(count):
        package = f"pkg{index // PACKAGE_SIZE:02d}"
        if index % PACKAGE_SIZE == 0:
            base[f"{package}/helpers.go"] = f"package {package}\n\nfunc helper() int {{ return 1 }}\n".encode()
            changed[f"{package}/price.go"] = LEAKING_PRICE.replace(b"package fetch", f"package {package}".encode())
            continue
        changed[f"{package}/f{index:04d}.go"] = (
            f"package {package}\n\n// Double{index} doubles x.\nfunc Double{index}(x int) int {{\n"
            f"\treturn 2 * x * helper()\n}}\n"
        ).encode()
    return base, changed


def endpoint(path: str) -> str:
    """The request's endpoint, without its repository, shas and numbers."""
    path = re.sub(r"^/repos/[^/]+/[^/]+", "", path.split("?")[0])
    return re.sub(r"/[0-9a-f]{40}|/\d+", "/:id", path) or "/"


def review_seconds(emulator: GitHubEmulator, github: GitHubApp, store: redis.Redis, count: int) -> tuple[float, int]:
    repository = f"acme/bench-{count}"
    base, changed = pull_request_files(count)
    gotree = {str(p.relative_to(GOTREE)): p.read_bytes() for p in GOTREE.rglob("*.*")}
    emulator.create_repo(repository, {**gotree, **base}, installation_id=INSTALLATION)
    number = emulator.open_pull(repository, changed)
    pull = emulator.pull(repository, number)
    emulator.diff_files(repository, emulator.repo(repository).branches["main"], pull.head_sha)  # GitHub has it ready
    job = ReviewJob(INSTALLATION, repository, pull.head_sha, number)
    before = len(emulator.requests)
    started = time.perf_counter()
    outcome = run_review(github, store, job, attempt_id=f"bench-{count}", docs_url=None)
    seconds = time.perf_counter() - started
    [run] = emulator.check_runs(repository, pull.head_sha)
    assert run["status"] == "completed" and outcome.complete, (run["output"], outcome)
    return seconds, len(emulator.requests) - before


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=0.1, help="seconds added to every GitHub request")
    parser.add_argument("--sizes", type=int, nargs="+", default=[20, 3000], help="changed files of each pull request")
    args = parser.parse_args()

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # the emulator's request log
    key = app_key()
    public_key = public_pem(key)
    private_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    emulator = GitHubEmulator(1, public_key).start()
    emulator.install(INSTALLATION, "acme")
    with tempfile.TemporaryDirectory() as scratch, private_redis(Path(scratch)) as redis_url:
        settings = Settings(
            app_id=1,
            private_key=private_pem,
            webhook_secret="bench",
            redis_url=redis_url,
            github_api_url=emulator.url,
            writes_per_minute=100_000,
        )
        store = redis.Redis.from_url(redis_url)
        github = GitHubApp(settings, store)
        emulator.delay(args.latency)
        print(f"GitHub answering every request {args.latency * 1000:.0f} ms late\n")
        print(f"{'changed files':>14}{'seconds':>10}{'requests':>10}{'target':>10}")
        for count in args.sizes:
            seconds, requests = review_seconds(emulator, github, store, count)
            target = f"< {TARGETS[count]:g} s" if count in TARGETS else ""
            print(f"{count:>14,}{seconds:>10.2f}{requests:>10,}{target:>10}")
        kinds = Counter(f"{method} {endpoint(path)}" for method, path, _ in emulator.requests)
        print("\nrequests by endpoint, all runs:")
        for kind, count in kinds.most_common():
            print(f"{count:>8,}  {kind}")
    emulator.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
