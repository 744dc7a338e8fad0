"""`POST /webhooks/github`: verify, drop what was seen, enqueue, answer. It never calls GitHub.

Answers: 401 bad or missing signature; 400 missing headers or a body that is not the JSON of
the event it claims; 413 over `MAX_BODY_BYTES`; 503 when Redis is unreachable (GitHub shows a
failed delivery, which can be redelivered); 202 otherwise, with a JSON body that says what
was done: enqueued, duplicate, ignored (and why) or recorded; 200 for `ping`.
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

from webapp.events import Ignore, InstallationChange, Ping, Review, decide
from webapp.ledger import Ledger
from workers import metrics
from workers.jobs import ReviewJob

log = logging.getLogger(__name__)

# GitHub caps webhook payloads at 25 MB and drops larger ones itself; anything above is not GitHub.
MAX_BODY_BYTES = 25 * 1024 * 1024

Enqueue = Callable[[ReviewJob], str]


def signature_matches(secret: str, body: bytes, header: str) -> bool:
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode(), header.encode())


def webhooks_blueprint(secret: str, ledger: Ledger, store: redis.Redis, enqueue: Enqueue) -> Blueprint:
    blueprint = Blueprint("webhooks", __name__)

    def answer(status: int, event: str, outcome: str, **details: Any) -> tuple[Response, int]:
        log.info("delivery %s %s: %s", request.headers.get("X-GitHub-Delivery", "-"), event, outcome)
        with suppress(redis.RedisError):  # a count lost while Redis is down is no reason to fail
            metrics.count_delivery(store, event, outcome)
        return jsonify(status=outcome, **details), status

    @blueprint.post("/webhooks/github")
    def receive() -> tuple[Response, int]:
        event = request.headers.get("X-GitHub-Event", "")
        delivery = request.headers.get("X-GitHub-Delivery", "")
        # A chunked body declares no length for Werkzeug to refuse it by, and a read stops at the
        # limit: reading one byte more tells a body over the limit from one that fits it.
        request.max_content_length = MAX_BODY_BYTES + 1
        body = request.get_data(cache=False)
        if len(body) > MAX_BODY_BYTES:
            return answer(413, event or "unknown", "too-large", reason=f"the body is over {MAX_BODY_BYTES} bytes")
        if not signature_matches(secret, body, request.headers.get("X-Hub-Signature-256", "")):
            return answer(401, event or "unknown", "unauthorized", reason="bad or missing X-Hub-Signature-256")
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
                    ledger.record_installation(decision)
                    return answer(202, event, "recorded")
                case Review(jobs):
                    return enqueue_reviews(event, delivery, jobs)
        except (redis.RedisError, kombu.exceptions.OperationalError):
            log.exception("delivery %s: Redis unreachable", delivery)
            return answer(503, event, "unavailable", reason="the queue is unreachable; redeliver later")

    def enqueue_reviews(event: str, delivery: str, jobs: tuple[ReviewJob, ...]) -> tuple[Response, int]:
        if not ledger.begin_delivery(delivery):
            return answer(202, event, "duplicate", reason=f"delivery {delivery} was already handled")
        enqueued, already = [], []
        try:
            for job in jobs:
                if not ledger.claim_head(job):
                    already.append(job.head_key)
                    continue
                try:
                    enqueued.append({"head": job.head_key, "task_id": enqueue(job)})
                except Exception:
                    ledger.release_head(job)
                    raise
        except Exception:
            ledger.forget_delivery(delivery)
            raise
        ledger.finish_delivery(delivery)
        return answer(202, event, "enqueued" if enqueued else "duplicate", tasks=enqueued, already_enqueued=already)

    return blueprint
