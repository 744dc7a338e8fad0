"""The workers' Redis client: a review waits out a Redis restart or fail-over instead of failing.

Reviews keep their check run, claim, lock and write budget in Redis. For about a minute, a
command that cannot get a connection waits and tries again, and one whose connection broke
is sent again on a new one, with growing pauses: a review caught by a restart goes on where
it was once Redis answers.
"""

from __future__ import annotations

import time
from typing import Any

import redis
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

BACKOFF = ExponentialBackoff(cap=2.0, base=0.1)  # pauses of 0.2, 0.4, … 1.6 s, then 2 s
RETRIES = 35  # about a minute of pauses
SOCKET_TIMEOUT = 10.0  # a Redis that accepts connections but does not answer counts as down


class _PatientConnectionPool(redis.ConnectionPool):
    """Connects again, with pauses, while Redis refuses: redis-py retries a command on a
    connection that breaks, but not the connecting that comes before it."""

    def get_connection(self, *args: Any, **kwargs: Any) -> redis.Connection:
        BACKOFF.reset()
        for failures in range(1, RETRIES + 1):
            try:
                return super().get_connection(*args, **kwargs)
            except (redis.ConnectionError, redis.TimeoutError):
                time.sleep(BACKOFF.compute(failures))
        return super().get_connection(*args, **kwargs)


def connect(url: str) -> redis.Redis:
    return redis.Redis(
        connection_pool=_PatientConnectionPool.from_url(
            url,
            retry=Retry(BACKOFF, RETRIES),
            retry_on_error=[redis.ConnectionError, redis.TimeoutError],
            socket_timeout=SOCKET_TIMEOUT,
            socket_connect_timeout=SOCKET_TIMEOUT,
            health_check_interval=30,
        )
    )
