"""The web process: receives GitHub's webhooks and enqueues reviews; serves health, metrics and rule pages.

`gunicorn 'webapp:create_app()'` builds it from the environment and the env file (see
appcore.settings). With no App credentials in either it starts in setup mode: `/setup`
registers the App, webhooks get 503, the rest is served.
"""

from __future__ import annotations

import redis
from celery import Celery
from flask import Flask, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, generate_latest

from appcore import metrics
from appcore.redaction import keep_secrets_out_of_logs
from appcore.settings import (
    EMBEDDED_REDIS_VARIABLE,
    Settings,
    has_app_credentials,
    process_environment,
    setup_redis_url,
)
from reviewers.github_core import QUEUE, REVIEW_TASK, ReviewJob
from webapp.rule_pages import rule_pages
from webapp.setup import setup_pages
from webapp.webhooks import webhooks_blueprint

REDIS_TIMEOUT = 2  # seconds: a webhook answer must not hang on an unreachable Redis


def create_app(settings: Settings | None = None) -> Flask:
    """The web process; in setup mode when neither the environment nor the env file holds App credentials."""
    environment = process_environment()
    if settings is None and not has_app_credentials(environment):
        return _setup_app(setup_redis_url(environment), environment.get(EMBEDDED_REDIS_VARIABLE) or None)
    settings = settings or Settings.from_env(environment)
    keep_secrets_out_of_logs(settings.webhook_secret, settings.private_key)
    app, store, refused = _base_app(settings.redis_url, settings.embedded_redis)
    # The web process only publishes, by task name: it needs none of the workers' code.
    producer = Celery("goreef-web", broker=settings.celery_redis_url, set_as_current=False)
    producer.conf.update(task_default_queue=QUEUE, task_serializer="json", broker_connection_timeout=REDIS_TIMEOUT)

    def enqueue(job: ReviewJob) -> str:
        # No publish retries: GitHub's redelivery is the retry, and the endpoint must answer fast.
        return producer.send_task(REVIEW_TASK, kwargs=job.as_task_kwargs(), retry=False).id

    app.register_blueprint(webhooks_blueprint(settings.webhook_secret, store, enqueue, refused))
    return app


def _setup_app(redis_url: str, embedded_redis: str | None) -> Flask:
    """Before the App exists: the registration pages, health, readiness, metrics and rule pages;
    no webhook is accepted, since none can be verified without the App's secret."""
    app, store, _ = _base_app(redis_url, embedded_redis)
    app.register_blueprint(setup_pages(store))

    @app.post("/webhooks/github")
    def not_configured() -> tuple[dict[str, str], int]:
        return {"error": "goreef has no GitHub App credentials yet"}, 503

    return app


def _base_app(redis_url: str, embedded_redis: str | None) -> tuple[Flask, redis.Redis, Counter]:
    store = redis.Redis.from_url(redis_url, socket_timeout=REDIS_TIMEOUT, socket_connect_timeout=REDIS_TIMEOUT)
    # Which Redis /readyz speaks of: `goreef serve`'s own, or the one REDIS_URL names.
    redis_name = f"embedded (goreef serve, data in {embedded_redis})" if embedded_redis else "REDIS_URL"
    registry = CollectorRegistry()
    registry.register(metrics.RedisMetrics(store, QUEUE))
    # Counted in this process only: a request that could not prove it comes from GitHub
    # makes no write to Redis.
    refused = Counter(
        "goreef_webhook_refused",
        "Requests to the webhook endpoint refused before their signature was verified, in this web process",
        ["reason"],
        registry=registry,
    )

    app = Flask(__name__)
    app.register_blueprint(rule_pages)

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz")
    def readyz() -> tuple[dict[str, str], int]:
        try:
            store.ping()
        except redis.RedisError:
            return {"status": "unavailable", "reason": "Redis is unreachable", "redis": redis_name}, 503
        return {"status": "ready", "redis": redis_name}, 200

    @app.get("/metrics")
    def prometheus_metrics() -> Response | tuple[str, int]:
        try:
            return Response(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
        except redis.RedisError:
            return "Redis is unreachable\n", 503

    return app, store, refused
