"""`POST /webhooks/github`: verify, enqueue what no worker has taken up, answer. It never calls GitHub.

Answers: 401 bad or missing signature; 400 missing headers or a body that is not the JSON of
the event it claims; 408 a body that stops arriving; 413 over `MAX_BODY_BYTES`; 503 when
Redis is unreachable (GitHub shows a failed delivery, which can be redelivered); 202
otherwise, with a JSON body that says what was done: enqueued, duplicate, ignored (and why)
or noted (an installation event, which can resume parked reviews); 200 for `ping`.

Nothing a request sends is stored, logged or counted under a name it chose until its
signature is verified: a refusal is counted in this process only, under a fixed reason.
A head is answered "duplicate" only when a worker has taken it up (so its job was queued);
otherwise its job is queued, and a worker that finds the head taken by another stops there.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Callable
from contextlib import suppress
from typing import Any

import kombu.exceptions
import redis
from flask import Blueprint, Response, jsonify, request
from prometheus_client import Counter
from werkzeug.exceptions import ClientDisconnected

from appcore import metrics
from appcore.claims import HeadClaims, ParkedReviews
from reviewers.github_core import Ignore, InstallationChange, Ping, Review, ReviewJob, decide

log = logging.getLogger(__name__)

# GitHub caps webhook payloads at 25 MB and drops larger ones itself; anything above is not GitHub.
MAX_BODY_BYTES = 25 * 1024 * 1024
# The installation events after which reviews parked for want of a token can run again.
INSTALLATION_BACK = {"unsuspend", "new_permissions_accepted"}

Enqueue = Callable[[ReviewJob], str]


def signature_matches(secret: str, body: bytes, header: str) -> bool:
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode(), header.encode())


def webhooks_blueprint(secret: str, store: redis.Redis, enqueue: Enqueue, refused: Counter) -> Blueprint:
    """The endpoint; `refused` counts the requests turned away before their signature was checked."""
    blueprint = Blueprint("webhooks", __name__)
    claims, parked = HeadClaims(store), ParkedReviews(store)

    def refuse(status: int, reason: str, message: str) -> tuple[Response, int]:
        log.info("refused a request to the webhook endpoint: %s", reason)
        refused.labels(reason).inc()
        return jsonify(status=reason, reason=message), status

    def answer(status: int, event: str, outcome: str, **details: Any) -> tuple[Response, int]:
        log.info("delivery %s %s: %s", request.headers.get("X-GitHub-Delivery", "-"), event, outcome)
        with suppress(redis.RedisError):  # a count lost while Redis is down is no reason to fail
            metrics.count_delivery(store, event, outcome)
        return jsonify(status=outcome, **details), status

    @blueprint.post("/webhooks/github")
    def receive() -> tuple[Response, int]:
        # A chunked body declares no length for Werkzeug to refuse it by, and a read stops at the
        # limit: reading one byte more tells a body over the limit from one that fits it.
        request.max_content_length = MAX_BODY_BYTES + 1
        try:
            body = request.get_data(cache=False)
        except ClientDisconnected:  # gone, or paused longer than the web process waits (gunicorn_config)
            return refuse(408, "timeout", "the body stopped arriving before it was complete")
        if len(body) > MAX_BODY_BYTES:
            return refuse(413, "too-large", f"the body is over {MAX_BODY_BYTES} bytes")
        if not signature_matches(secret, body, request.headers.get("X-Hub-Signature-256", "")):
            return refuse(401, "unauthorized", "bad or missing X-Hub-Signature-256")
        event = request.headers.get("X-GitHub-Event", "")
        delivery = request.headers.get("X-GitHub-Delivery", "")
        if not event or not delivery:
            return answer(
                400,
                event or "unknown",
                "bad-request",
                reason="X-GitHub-Event and X-GitHub-Delivery headers are required",
            )
        try:
            payload = json.loads(body)
            decision = decide(event, payload)
        except (ValueError, KeyError, TypeError, AttributeError):
            return answer(400, event, "bad-request", reason=f"the body is not the JSON payload of a {event} event")

        try:
            match decision:
                case Ping():
                    return answer(200, event, "pong")
                case Ignore(reason):
                    return answer(202, event, "ignored", reason=reason)
                case InstallationChange():
                    tasks = resume_parked(decision) if decision.action in INSTALLATION_BACK else []
                    return answer(202, event, "noted", tasks=tasks)
                case Review(jobs):
                    return enqueue_reviews(event, jobs)
        except (redis.RedisError, kombu.exceptions.OperationalError):
            log.exception("delivery %s: Redis unreachable", delivery)
            return answer(503, event, "unavailable", reason="the queue is unreachable; redeliver later")

    def enqueue_reviews(event: str, jobs: tuple[ReviewJob, ...]) -> tuple[Response, int]:
        # A re-run is always queued; anything else unless a worker has the head already.
        enqueued, already = [], []
        for job in jobs:
            if not job.rerun and claims.claimed(job):
                already.append(job.head_key)
            else:
                enqueued.append({"head": job.head_key, "task_id": enqueue(job)})
        return answer(202, event, "enqueued" if enqueued else "duplicate", tasks=enqueued, already_enqueued=already)

    def resume_parked(change: InstallationChange) -> list[dict[str, str]]:
        """Queue again the reviews that waited for this installation to come back."""
        resumed = []
        for job in parked.parked(change.installation_id):
            resumed.append({"head": job.head_key, "task_id": enqueue(job)})
            parked.unpark(job)
        return resumed

    return blueprint
