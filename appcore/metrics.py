"""Counters that several processes add to, kept in Redis and exposed in Prometheus's format.

The web processes count deliveries and the workers count reviews; whichever web process
serves `/metrics` reads the totals of all of them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import redis
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

DELIVERIES = "goreef:metrics:deliveries"  # "event|outcome" → count
# Label values come from closed sets, so no sender can add a series: events goreef knows by
# name, any other counted as `other`.
EVENTS = frozenset(
    {"pull_request", "check_run", "check_suite", "merge_group", "installation", "installation_repositories", "ping"}
)
FINDINGS = "goreef:metrics:findings"  # rule id → count
REVIEWS = "goreef:metrics:reviews"  # outcome → count
DURATIONS = "goreef:metrics:review-seconds"  # "le=<bound>" buckets, "count", "sum"
DURATION_BUCKETS = (0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)


def count_delivery(store: redis.Redis, event: str, outcome: str) -> None:
    """Count a delivery whose signature was verified; `outcome` is one of the endpoint's own words."""
    store.hincrby(DELIVERIES, f"{event if event in EVENTS else 'other'}|{outcome}", 1)


def record_review(store: redis.Redis, seconds: float, outcome: str, rules: Iterable[str]) -> None:
    with store.pipeline() as pipe:
        pipe.hincrby(REVIEWS, outcome, 1)
        for rule in rules:
            pipe.hincrby(FINDINGS, rule, 1)
        for bound in DURATION_BUCKETS:
            if seconds <= bound:
                pipe.hincrby(DURATIONS, f"le={bound}", 1)
        pipe.hincrby(DURATIONS, "count", 1)
        pipe.hincrbyfloat(DURATIONS, "sum", seconds)
        pipe.execute()


class RedisMetrics(Collector):
    def __init__(self, store: redis.Redis, queue: str):
        self._store = store
        self._queue = queue

    def collect(self) -> Iterator[Metric]:
        deliveries = CounterMetricFamily(
            "goreef_webhook_deliveries", "Webhook deliveries by event and outcome", labels=["event", "outcome"]
        )
        for field, count in self._hash(DELIVERIES).items():
            deliveries.add_metric(field.split("|", 1), count)
        yield deliveries

        yield GaugeMetricFamily(
            "goreef_queue_depth", "Review tasks waiting in the queue", self._store.llen(self._queue)
        )

        reviews = CounterMetricFamily("goreef_reviews", "Reviews completed, by outcome", labels=["outcome"])
        for outcome, count in self._hash(REVIEWS).items():
            reviews.add_metric([outcome], count)
        yield reviews

        findings = CounterMetricFamily("goreef_findings", "Findings reported, by rule", labels=["rule"])
        for rule, count in self._hash(FINDINGS).items():
            findings.add_metric([rule], count)
        yield findings

        durations = self._hash(DURATIONS)
        buckets = [(str(bound), durations.get(f"le={bound}", 0)) for bound in DURATION_BUCKETS]
        buckets.append(("+Inf", durations.get("count", 0)))
        yield HistogramMetricFamily(
            "goreef_review_duration_seconds",
            "Time to review one head",
            buckets=buckets,
            sum_value=durations.get("sum", 0),
        )

    def _hash(self, key: str) -> dict[str, float]:
        return {field.decode(): float(value) for field, value in self._store.hgetall(key).items()}
