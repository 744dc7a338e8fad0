"""The workers' Celery application. The web process publishes to the same queue by task name."""

from __future__ import annotations

from celery import Celery

from workers.redelivery import RestoreUnacknowledged

app = Celery("goreef", include=["workers.tasks"])
app.config_from_object("workers.celeryconfig")
app.steps["consumer"].add(RestoreUnacknowledged)
