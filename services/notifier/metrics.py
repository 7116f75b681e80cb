"""The one place for the notifier's Prometheus metrics. Labels name channels and alert types,
never ids or anything of a child."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

__all__ = [
    "ACCEPTED",
    "ACKNOWLEDGED",
    "ATTEMPT_SECONDS",
    "DELIVERED",
    "DELIVERY_SECONDS",
    "ESCALATED",
    "FAILED",
    "FOLDED",
    "REJECTED",
    "RETRIED",
]

#: Seconds buckets from a local webhook (milliseconds) to retries after backoff (minutes).
LATENCY_BUCKETS = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
                   60.0, 300.0)

ACCEPTED = Counter("signpost_notifier_accepted_total",
                   "Alerts accepted for a recipient (put in their inbox)", ["alert_type"])
FOLDED = Counter("signpost_notifier_folded_total",
                 "Alerts folded into an earlier alert about the same trigger", ["alert_type"])
DELIVERED = Counter("signpost_notifier_delivered_total", "Deliveries that worked", ["channel"])
RETRIED = Counter("signpost_notifier_retried_total", "Attempts that will be retried",
                  ["channel"])
FAILED = Counter("signpost_notifier_failed_total", "Deliveries parked in alerts.dlq",
                 ["channel"])
ACKNOWLEDGED = Counter("signpost_notifier_acknowledged_total",
                       "First acknowledgements of an alert by a recipient")
ESCALATED = Counter("signpost_notifier_escalated_total",
                    "Unacknowledged alerts escalated to the next practitioner and operators")
REJECTED = Counter("signpost_notifier_rejected_total", "Records on `alerts` that did not parse",
                   ["reason"])
DELIVERY_SECONDS = Histogram("signpost_notifier_delivery_seconds",
                             "From accepting an alert to delivering it, retries included",
                             ["channel"], buckets=LATENCY_BUCKETS)
ATTEMPT_SECONDS = Histogram("signpost_notifier_attempt_seconds", "One delivery attempt",
                            ["channel"], buckets=LATENCY_BUCKETS)
