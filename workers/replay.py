"""`goreef replay --event NAME --payload FILE`: handle one webhook payload in this process.

For debugging an installation (Probot's `receive`): the same decision as the webhook endpoint,
then the same review as the worker, against the GitHub that the environment names, with no
signature, queue or worker involved. It posts for real.
"""

from __future__ import annotations

import argparse
import json
import sys
import uuid
from collections.abc import Sequence
from dataclasses import asdict

import redis

from appcore.redaction import keep_secrets_out_of_logs
from appcore.settings import SettingsError, get_settings
from reviewers.github_core import Ignore, Review, decide
from workers.github_client import GitHubApp
from workers.review import pull_request_jobs, run_review


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="goreef replay", description=__doc__.splitlines()[0])
    parser.add_argument("--event", required=True, help="the X-GitHub-Event name, e.g. pull_request")
    parser.add_argument(
        "--payload",
        required=True,
        type=argparse.FileType("rb"),
        help="the delivery's JSON payload ('-' for standard input)",
    )
    args = parser.parse_args(argv)

    try:
        payload = json.load(args.payload)
    except ValueError as error:
        parser.error(f"--payload is not JSON: {error}")
    try:
        settings = get_settings()
    except SettingsError as error:
        print(error, file=sys.stderr)
        return 2

    decision = decide(args.event, payload)
    if not isinstance(decision, Review):
        reason = decision.reason if isinstance(decision, Ignore) else f"{args.event} starts no review"
        print(f"nothing to review: {reason}", file=sys.stderr)
        return 0
    keep_secrets_out_of_logs(settings.webhook_secret, settings.private_key)
    store = redis.Redis.from_url(settings.redis_url)
    github = GitHubApp(settings, store)
    for job in (found for asked in decision.jobs for found in pull_request_jobs(github, asked)):
        outcome = run_review(github, store, job, attempt_id=f"replay-{uuid.uuid4()}", docs_url=settings.docs_url)
        print(json.dumps({"head": job.head_key, **asdict(outcome)}))
    return 0
