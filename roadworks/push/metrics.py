"""Partner push metrics: deliveries by outcome, lag from commit to delivery, failing subscriptions."""

from __future__ import annotations

import logging

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily

# One registry per process: the delivery worker counts into it, whichever app serves the scrape.
REGISTRY = CollectorRegistry()
DELIVERIES = Counter("roadworks_push_deliveries", "Webhook delivery attempts by outcome (delivered, failed, gave-up)",
                     ["outcome"], registry=REGISTRY)
LAG = Histogram("roadworks_push_lag_seconds", "From the commit of an event to its delivery's 2xx answer",
                buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600),
                registry=REGISTRY)
for _outcome in ("delivered", "failed", "gave-up"):
    DELIVERIES.labels(_outcome)


class PushCollector:
    """This process's delivery counts, and the failing subscriptions read from the database at scrape time."""

    def __init__(self, push):
        self.push = push

    def collect(self):
        for family in REGISTRY.collect():
            yield family
        try:
            failing = self.push.failing_count()
        except Exception:
            logging.getLogger(__name__).warning("metrics: push subscriptions unavailable", exc_info=True)
            return
        yield GaugeMetricFamily("roadworks_push_failing_subscriptions",
                                "Subscriptions given up on after 24 hours of failed retries", value=failing)
