"""The review task: one pull request head (or merge group) per task, one at a time per pull request.

A task claims its head when it starts (a second task for the same head stops there), waits
for its installation's write budget and for a review of the same pull request to finish
without holding its worker (it steps aside and comes back), then reviews. Its claim ends
`reviewed` when the head was judged and is given up when it was not, so that a re-run or
the next delivery reviews the head again; a review that could not even open its check run
is parked until GitHub says its installation is back.
"""

from __future__ import annotations

import functools
import logging
import random
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import asdict
from typing import Any

import redis
from celery import Task
from celery.exceptions import SoftTimeLimitExceeded
from github import RateLimitExceededExceedsMaxWait
from redis.exceptions import LockError

from appcore.claims import HeadClaims, ParkedReviews
from appcore.redaction import keep_secrets_out_of_logs
from appcore.settings import get_settings
from reviewers.github_core import REVIEW_TASK, ReviewJob
from workers import store as worker_store
from workers.celery_app import app
from workers.github_client import GitHubApp, WriteBudgetSpent, rate_limit_reset_wait
from workers.review import CheckRunNotCompleted, Outcome, pull_request_jobs, run_review

log = logging.getLogger(__name__)

MAX_RETRIES = 5  # failed attempts of a review; waits for a lock or for budget do not count
MAX_RETRY_DELAY = 300.0
# A review holds its pull request's lock for this long at a time, and renews it while it
# runs: the lock of a worker that died frees within LOCK_TTL.
LOCK_TTL = 10.0
LOCK_RETRY = 2.0  # seconds before a task that found its pull request locked looks again
REVIEW_WRITES = 3  # a review's writes at least: open the check run, post the review, complete
# Files are read from GitHub for this share of the time limit; the rest is left to analyse,
# post and complete well before the soft time limit (three quarters) stops the review.
READING_SHARE = 0.5


@functools.cache
def _services() -> tuple[GitHubApp, redis.Redis]:
    settings = get_settings()
    keep_secrets_out_of_logs(settings.webhook_secret, settings.private_key)
    store = worker_store.connect(settings.redis_url)
    return GitHubApp(settings, store), store


@app.task(name=REVIEW_TASK, bind=True, max_retries=None)
def review_head(self: Task, **job_fields: Any) -> dict[str, Any]:
    job = ReviewJob(**job_fields)
    github, store = _services()
    settings = get_settings()
    task_id = self.request.id
    if job.pull_by_head:
        try:
            found = pull_request_jobs(github, job)
        except Exception as error:
            if self.request.retries >= MAX_RETRIES:
                raise
            raise self.retry(exc=error, countdown=retry_countdown(self.request.retries, error)) from error
        if not found:
            log.info("%s: no open pull request has this head", job.head_key)
            return asdict(Outcome("no-pull-request"))
        for other in found[1:]:  # one head, several pull requests: a review each
            review_head.apply_async(kwargs=other.as_task_kwargs())
        job = found[0]
    claims = HeadClaims(store)
    # The claim outlives this attempt by as long as a dead worker's task takes to come back.
    if not claims.take(job, task_id, ttl=settings.redelivery_after + settings.task_time_limit + 60):
        log.info("%s: already reviewed or being reviewed by another task", job.head_key)
        return asdict(Outcome("duplicate"))
    # A task stepping aside comes back well within the visibility timeout: held longer, its
    # message would be handed out again while it waits.
    step_aside = settings.redelivery_after / 2
    if (wait := github.writes.wait_for(job.installation_id, REVIEW_WRITES)) > 0:
        raise self.retry(countdown=min(wait, step_aside))
    read_until = time.monotonic() + settings.task_time_limit * READING_SHARE
    with _pull_request_lock(store, job) as locked:
        if not locked:
            raise self.retry(countdown=min(LOCK_RETRY * random.uniform(1.0, 1.5), step_aside))
        failures = _Failures(store, task_id)
        failed_before = failures.count()

        def retryable(error: Exception) -> bool:
            # A spent budget only asks for a pause. A review that ran out of time would run out
            # of time again.
            if isinstance(error, WriteBudgetSpent):
                return True
            return failed_before < MAX_RETRIES and not isinstance(error, SoftTimeLimitExceeded)

        try:
            outcome = run_review(
                github,
                store,
                job,
                attempt_id=task_id,
                docs_url=settings.docs_url,
                retryable=retryable,
                read_until=read_until,
            )
        except WriteBudgetSpent as spent:
            raise self.retry(countdown=min(spent.wait, step_aside)) from spent
        except CheckRunNotCompleted as error:
            claims.release(job, task_id)
            ParkedReviews(store).park(job)
            log.error(
                "%s: no check run could be completed (%s); parked until the installation is back", job.head_key, error
            )
            raise
        except Exception as error:
            failures.add()
            log.warning("%s: attempt %d failed (%s), retrying", job.head_key, failed_before + 1, error)
            raise self.retry(exc=error, countdown=retry_countdown(failed_before, error)) from error
    if outcome.complete:
        claims.reviewed(job, task_id)
    else:
        claims.release(job, task_id)
    return asdict(outcome)


@contextmanager
def _pull_request_lock(store: redis.Redis, job: ReviewJob) -> Iterator[bool]:
    """One review at a time per pull request: a newer head waits for the older review, which
    notices it was superseded and stops before posting. Yields whether the lock was taken.

    The lock lives LOCK_TTL seconds and is renewed while the review runs, so the lock of a
    worker that died frees soon. Each run holds it under a token of its own: the same task
    delivered twice (a message restored after a lost connection) never runs twice at once."""
    lock = store.lock(
        f"goreef:lock:{job.repository}#{job.pull_number or job.head_sha}", timeout=LOCK_TTL, thread_local=False
    )
    if not lock.acquire(blocking=False):
        yield False
        return
    done = threading.Event()

    def renew() -> None:
        while not done.wait(LOCK_TTL / 4):
            try:
                lock.reacquire()
            except (LockError, redis.RedisError) as error:
                log.warning("%s: could not renew the pull request's lock (%s)", job.head_key, error)

    renewer = threading.Thread(target=renew, name=f"lock:{job.head_key}", daemon=True)
    renewer.start()
    try:
        yield True
    finally:
        done.set()
        renewer.join()
        with suppress(LockError, redis.RedisError):  # expired meanwhile: nothing left to release
            lock.release()


class _Failures:
    """The failed attempts of one task, kept in Redis: its retries, and its runs after a worker died."""

    TTL = 24 * 3600

    def __init__(self, store: redis.Redis, task_id: str):
        self._store = store
        self._key = f"goreef:failures:{task_id}"

    def count(self) -> int:
        return int(self._store.get(self._key) or 0)

    def add(self) -> None:
        with self._store.pipeline() as pipe:
            pipe.incr(self._key)
            pipe.expire(self._key, self.TTL)
            pipe.execute()


def retry_countdown(retries: int, error: Exception | None = None) -> float:
    """As long as GitHub asked (Retry-After, a rate limit reset), else exponential with jitter."""
    if isinstance(error, RateLimitExceededExceedsMaxWait) and error.wait is not None:
        return error.wait
    headers = getattr(error, "headers", None) or {}
    retry_after = next((str(v) for k, v in headers.items() if k.lower() == "retry-after"), "")
    if retry_after.isdigit():
        return float(retry_after)
    if (reset_wait := rate_limit_reset_wait(headers)) is not None:
        return reset_wait
    return min(MAX_RETRY_DELAY, get_settings().retry_delay * 2**retries) * random.uniform(0.5, 1.0)
