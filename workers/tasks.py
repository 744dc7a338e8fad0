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
from redis.exceptions import LockError

from workers.celery_app import app
from workers.github_client import GitHubApp
from workers.jobs import REVIEW_TASK, TASK_TIME_LIMIT, ReviewJob
from workers.review import run_review
from workers.settings import get_settings

log = logging.getLogger(__name__)

MAX_RETRIES = 5
LOCK_WAIT = 30  # seconds to wait for a review of the same pull request to finish before retrying


@functools.cache
def _services() -> tuple[GitHubApp, redis.Redis]:
    settings = get_settings()
    store = redis.Redis.from_url(settings.redis_url)
    return GitHubApp(settings, store), store


@app.task(name=REVIEW_TASK, bind=True, max_retries=MAX_RETRIES)
def review_head(self: Task, **job_fields: Any) -> dict[str, Any]:
    job = ReviewJob(**job_fields)
    github, store = _services()
    # One review at a time per pull request: a newer head waits for the older review, which
    # notices it was superseded and stops before posting.
    lock = store.lock(f"goreef:lock:{job.repository}#{job.pull_number or job.head_sha}",
                      timeout=TASK_TIME_LIMIT + 60, blocking_timeout=LOCK_WAIT)
    if not lock.acquire():
        raise self.retry(countdown=_backoff(self.request.retries))

    def retryable(error: Exception) -> bool:
        # A review that ran out of time would run out of time again.
        return self.request.retries < self.max_retries and not isinstance(error, SoftTimeLimitExceeded)

    try:
        outcome = run_review(github, store, job, attempt_id=self.request.id, docs_url=get_settings().docs_url,
                             retryable=retryable)
    except Exception as error:
        log.warning("%s: attempt %d failed (%s), retrying", job.head_key, self.request.retries + 1, error)
        raise self.retry(exc=error, countdown=_backoff(self.request.retries, error)) from error
    finally:
        with suppress(LockError):  # expired while we worked: nothing left to release
            lock.release()
    return asdict(outcome)


def _backoff(retries: int, error: Exception | None = None) -> float:
    """Exponential backoff with jitter, or as long as GitHub asked (Retry-After)."""
    headers = getattr(error, "headers", None) or {}
    retry_after = next((v for k, v in headers.items() if k.lower() == "retry-after"), None)
    if retry_after is not None and str(retry_after).isdigit():
        return float(retry_after)
    return min(300.0, 5.0 * 2**retries) * random.uniform(0.5, 1.0)
