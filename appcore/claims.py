"""Who reviews each head, and the reviews waiting for their installation to come back.

A head is claimed by the task that reviews it, when that task starts: a claim is only ever
held by a job that was queued, so a delivery answered "duplicate" always has a review behind
it. The claim says `reviewing:<task>` while the review runs and `reviewed:<task>` once it has
judged the head; a review that could not finish gives its claim up, so that a re-run or the
next delivery for the head reviews it again.
"""

from __future__ import annotations

import json

import redis

from reviewers.github_core import ReviewJob

# One push arrives as several events (pull_request.synchronize, check_suite.requested): a head
# judged this recently is not reviewed again unless a re-run asks for it.
REVIEWED_TTL = 3600
# A review whose installation could not be reached waits this long for it to come back.
PARKED_TTL = 7 * 24 * 3600


class HeadClaims:
    # Take the claim when it is free, already this task's, or asked for by a re-run (unless this
    # very task has already judged the head: its acknowledgement was lost, not its work).
    _TAKE = """
    local current, task, rerun, ttl = redis.call('GET', KEYS[1]), ARGV[1], ARGV[2], ARGV[3]
    if current == false or current == 'reviewing:' .. task or (rerun == '1' and current ~= 'reviewed:' .. task) then
        redis.call('SET', KEYS[1], 'reviewing:' .. task, 'EX', ttl)
        return 1
    end
    return 0
    """
    # Move the claim on (a new value, or none) only if it still holds what this task set.
    _HAND_ON = """
    if redis.call('GET', KEYS[1]) ~= ARGV[1] then
        return 0
    end
    if ARGV[2] == '' then
        redis.call('DEL', KEYS[1])
    else
        redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
    end
    return 1
    """

    def __init__(self, store: redis.Redis):
        self._store = store
        self._take = store.register_script(self._TAKE)
        self._hand_on = store.register_script(self._HAND_ON)

    def claimed(self, job: ReviewJob) -> bool:
        """Whether a task has taken up the head (and so was queued), or judged it lately."""
        return bool(self._store.exists(self._key(job)))

    def take(self, job: ReviewJob, task_id: str, *, ttl: float) -> bool:
        """Claim the head for `task_id` for `ttl` seconds; False when another task has it or
        this one has already judged it."""
        return bool(self._take(keys=[self._key(job)], args=[task_id, "1" if job.rerun else "0", max(1, int(ttl))]))

    def reviewed(self, job: ReviewJob, task_id: str) -> None:
        """The head was judged: later deliveries for it are duplicates for a while."""
        self._hand_on(keys=[self._key(job)], args=[f"reviewing:{task_id}", f"reviewed:{task_id}", REVIEWED_TTL])

    def release(self, job: ReviewJob, task_id: str) -> None:
        """The review could not finish: the next delivery or re-run for the head takes it up."""
        self._hand_on(keys=[self._key(job)], args=[f"reviewing:{task_id}", "", 0])

    @staticmethod
    def _key(job: ReviewJob) -> str:
        return f"goreef:head:{job.head_key}"


class ParkedReviews:
    """Reviews that could not even open their check run (no installation token: the
    installation is suspended, or its permissions changed), kept until GitHub says the
    installation is back."""

    def __init__(self, store: redis.Redis):
        self._store = store

    def park(self, job: ReviewJob) -> None:
        key = self._key(job.installation_id)
        with self._store.pipeline() as pipe:
            pipe.hset(key, job.head_key, json.dumps(job.as_task_kwargs()))
            pipe.expire(key, PARKED_TTL)
            pipe.execute()

    def parked(self, installation_id: int) -> list[ReviewJob]:
        return [ReviewJob(**json.loads(raw)) for raw in self._store.hvals(self._key(installation_id))]

    def unpark(self, job: ReviewJob) -> None:
        self._store.hdel(self._key(job.installation_id), job.head_key)

    @staticmethod
    def _key(installation_id: int) -> str:
        return f"goreef:parked:{installation_id}"
