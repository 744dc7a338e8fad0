"""The review task: one pull request head (or merge group) per task, one at a time per pull request."""

from __future__ import annotations

import functools
import logging
import random
from contextlib import suppress
from dataclasses import asdict
from typing import Any

import redis
from celery import Task
from celery.exceptions import SoftTimeLimitExceeded
from github import RateLimitExceededExceedsMaxWait
from redis.exceptions import LockError
from redis.lock import Lock

from workers.celery_app import app
from workers.github_client import GitHubApp, rate_limit_reset_wait
from workers.jobs import REVIEW_TASK, ReviewJob
from workers.redaction import keep_secrets_out_of_logs
from workers.review import run_review
from workers.settings import get_settings

log = logging.getLogger(__name__)

MAX_RETRIES = 5
LOCK_WAIT = 30  # seconds to wait for a review of the same pull request to finish before retrying
MAX_RETRY_DELAY = 300.0


@functools.cache
def _services() -> tuple[GitHubApp, redis.Redis]:
    settings = get_settings()
    keep_secrets_out_of_logs(settings.webhook_secret, settings.private_key)
    store = redis.Redis.from_url(settings.redis_url)
    return GitHubApp(settings, store), store


@app.task(name=REVIEW_TASK, bind=True, max_retries=MAX_RETRIES)
def review_head(self: Task, **job_fields: Any) -> dict[str, Any]:
    job = ReviewJob(**job_fields)
    github, store = _services()
    settings = get_settings()
    lock = _pull_request_lock(store, job, owner=self.request.id, timeout=settings.task_time_limit + 60)
    if lock is None:
        raise self.retry(countdown=retry_countdown(self.request.retries))

    def retryable(error: Exception) -> bool:
        # A review that ran out of time would run out of time again.
        return self.request.retries < self.max_retries and not isinstance(error, SoftTimeLimitExceeded)

    try:
        outcome = run_review(
            github, store, job, attempt_id=self.request.id, docs_url=settings.docs_url, retryable=retryable
        )
    except Exception as error:
        log.warning("%s: attempt %d failed (%s), retrying", job.head_key, self.request.retries + 1, error)
        raise self.retry(exc=error, countdown=retry_countdown(self.request.retries, error)) from error
    finally:
        with suppress(LockError):  # expired while we worked: nothing left to release
            lock.release()
    return asdict(outcome)


def _pull_request_lock(store: redis.Redis, job: ReviewJob, *, owner: str, timeout: float) -> Lock | None:
    """One review at a time per pull request: a newer head waits for the older review, which
    notices it was superseded and stops before posting. None when the wait ran out.

    The lock is held in the task's name: a task whose worker died holding it runs again under
    the same id and takes it straight back instead of waiting for it to expire."""
    lock = store.lock(
        f"goreef:lock:{job.repository}#{job.pull_number or job.head_sha}",
        timeout=timeout,
        blocking_timeout=LOCK_WAIT,
        thread_local=False,
    )
    lock.local.token = owner.encode()
    if lock.owned():
        lock.reacquire()
        return lock
    return lock if lock.acquire(token=owner) else None


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
