"""Prometheus metrics: declared once per process, exported at GET /metrics."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

HTTP_REQUESTS = Counter(
    "timebot_http_requests_total", "HTTP requests served", ["method", "route", "status"]
)
HTTP_LATENCY = Histogram(
    "timebot_http_request_seconds",
    "HTTP request latency",
    ["route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
EVENTS_RECEIVED = Counter("timebot_events_total", "Bitrix24 events received", ["source", "outcome"])
OUTBOX_SENT = Counter("timebot_outbox_sent_total", "Outbox rows delivered", ["kind"])
OUTBOX_FAILED = Counter(
    "timebot_outbox_failures_total", "Outbox delivery failures", ["kind", "final"]
)
OUTBOX_PENDING = Gauge("timebot_outbox_pending", "Outbox rows waiting to be sent")
MARKS_RECORDED = Counter("timebot_marks_total", "Marks recorded", ["kind", "source"])
DB_UP = Gauge("timebot_database_up", "1 when the last health check reached the database")
