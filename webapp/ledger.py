"""What the webhook endpoint remembers in Redis: the installations of the App and their repositories."""

from __future__ import annotations

import json
import time

import redis

from webapp.events import InstallationChange

INSTALLATIONS = "goreef:installations"


class Ledger:
    def __init__(self, store: redis.Redis):
        self._store = store

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

    @staticmethod
    def _repositories(installation_id: int) -> str:
        return f"goreef:installation:{installation_id}:repositories"
