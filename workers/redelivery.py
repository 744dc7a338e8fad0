"""Hands a dead worker's task to a live one soon after its visibility timeout.

kombu's Redis transport gives back unacknowledged messages older than the visibility timeout,
but the kombu releases goreef runs on (below 5.7) look only every 100 s, and 5.7, which can
be told to look more often, loses the worker when Redis goes away. This consumer step looks
a few times per timeout instead, with the transport's own sweep (safe from every worker at
once: it runs under a Redis mutex).
"""

from __future__ import annotations

import logging
from typing import Any

from celery import bootsteps

logger = logging.getLogger(__name__)


def sweep_interval(visibility_timeout: float) -> float:
    """A few sweeps per timeout, at least one a second and at most one every ten seconds."""
    return max(1.0, min(10.0, visibility_timeout / 4))


class RestoreUnacknowledged(bootsteps.StartStopStep):
    requires = ("celery.worker.consumer.tasks:Tasks",)

    def __init__(self, consumer: Any, **kwargs: Any) -> None:
        super().__init__(consumer, **kwargs)
        self.timer_entry: Any = None

    def start(self, consumer: Any) -> None:
        options = consumer.app.conf.broker_transport_options
        interval = sweep_interval(options["visibility_timeout"])
        self.timer_entry = consumer.timer.call_repeatedly(interval, self.sweep, (consumer,), priority=10)

    def stop(self, consumer: Any) -> None:
        if self.timer_entry is not None:
            self.timer_entry.cancel()
            self.timer_entry = None

    shutdown = stop

    @staticmethod
    def sweep(consumer: Any) -> None:
        channel = getattr(consumer.task_consumer, "channel", None)
        qos = getattr(channel, "qos", None)
        if qos is None or not hasattr(qos, "restore_visible"):
            return  # not the Redis transport, or between connections
        try:
            qos.restore_visible(num=channel.unacked_restore_limit, interval=1)
        except channel.connection_errors:
            logger.debug("Redis unreachable; unacknowledged tasks are looked for again later", exc_info=True)
