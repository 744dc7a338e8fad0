"""What the webhook endpoint remembers in Redis: deliveries and heads already enqueued, installations."""

from __future__ import annotations

import json
import time

import redis

from webapp.events import InstallationChange
from workers.jobs import ReviewJob

# GitHub redelivers on request for days: remember a delivery for as long.
DELIVERY_TTL = 7 * 24 * 3600
# A delivery being handled right now; forgotten if its handler dies before enqueueing.
IN_FLIGHT_TTL = 60
# One push arrives as several events (pull_request.synchronize, check_suite.requested):
# a head is enqueued once within this window unless a re-run is asked for.
HEAD_TTL = 3600
INSTALLATIONS = "goreef:installations"


class Ledger:
    def __init__(self, store: redis.Redis):
        self._store = store

    def begin_delivery(self, delivery_id: str) -> bool:
        """Claim a delivery for handling; False when it was enqueued before or is being handled."""
        return bool(self._store.set(self._delivery(delivery_id), "in-flight", nx=True, ex=IN_FLIGHT_TTL))

    def finish_delivery(self, delivery_id: str) -> None:
        self._store.set(self._delivery(delivery_id), "done", ex=DELIVERY_TTL)

    def forget_delivery(self, delivery_id: str) -> None:
        """Let GitHub's redelivery of a delivery we failed to enqueue be handled afresh."""
        self._store.delete(self._delivery(delivery_id))

    def claim_head(self, job: ReviewJob) -> bool:
        """Claim a head for review; False when another delivery enqueued it lately (re-runs always win)."""
        return job.rerun or bool(self._store.set(f"goreef:head:{job.head_key}", "1", nx=True, ex=HEAD_TTL))

    def release_head(self, job: ReviewJob) -> None:
        self._store.delete(f"goreef:head:{job.head_key}")

    def record_installation(self, change: InstallationChange) -> None:
        key = str(change.installation_id)
        with self._store.pipeline() as pipe:
            if change.action == "deleted":
                pipe.hdel(INSTALLATIONS, key)
                pipe.delete(self._repositories(change.installation_id))
            else:
                pipe.hset(
                    INSTALLATIONS,
                    key,
                    json.dumps({"account": change.account, "action": change.action, "at": int(time.time())}),
                )
                if change.added:
                    pipe.sadd(self._repositories(change.installation_id), *change.added)
                if change.removed:
                    pipe.srem(self._repositories(change.installation_id), *change.removed)
            pipe.execute()

    def ping(self) -> bool:
        return bool(self._store.ping())

    @staticmethod
    def _delivery(delivery_id: str) -> str:
        return f"goreef:delivery:{delivery_id}"

    @staticmethod
    def _repositories(installation_id: int) -> str:
        return f"goreef:installation:{installation_id}:repositories"
