"""Prometheus metrics at /metrics (text exposition format), one registry per app.

Per request (a sink of the request observer, observe/observer.py): requests by route template, method
and status; latency histograms per route; requests in progress; rejects by error code. Read from
the running service at scrape time (no hooks in the hot path): the batcher's queue depth and
batch sizes, the model's load state, the images classified, ok or not, and sign-in's password
checks (running, waiting, peak).

Route labels are templates ("/api/v1/classify"), never raw paths, and unknown paths are
"unmatched", so no client can grow the number of series.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import FastAPI, Request, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

if TYPE_CHECKING:  # pragma: no cover
    from .observer import AccessRecord

MODEL_STATES = ("loading", "ready", "failed", "unloaded")
# Request latency: a cached single image answers in milliseconds, a 1,000-image ZIP in a minute.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
# Batch sizes: powers of two up to the largest max_batch the settings allow (256).
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)


class ServiceCollector(Collector):
    """Reads the running service (app.state.service) each time /metrics is scraped."""

    def __init__(self, app: FastAPI):
        self.app = app

    def collect(self):
        svc = getattr(self.app.state, "service", None)
        served = list(svc.models.values()) if svc else []
        batchers = [st.batcher for st in served if st.batcher is not None]

        state = svc.model.status if svc else "loading"
        model = GaugeMetricFamily(
            "localvision_model_state", "1 for the default model's load state.", labels=["state"]
        )
        for name in MODEL_STATES:
            model.add_metric([name], 1.0 if name == state else 0.0)
        yield model
        each = GaugeMetricFamily(
            "localvision_models", "1 for each served model's load state.", labels=["model", "state"]
        )
        for st in served:
            each.add_metric([st.name, st.status], 1.0)
        yield each

        yield GaugeMetricFamily(
            "localvision_queue_depth",
            "Images waiting for a model (all models).",
            value=sum(b.depth for b in batchers),
        )
        yield GaugeMetricFamily(
            "localvision_queue_capacity",
            "Images that may wait for the model before requests are refused with 503.",
            value=svc.settings.queue_size if svc else 0,
        )

        sizes: dict[int, int] = {}
        for b in batchers:
            for size, n in b.stats.sizes.items():
                sizes[size] = sizes.get(size, 0) + n
        buckets = [
            (floatToGoString(bound), sum(n for size, n in sizes.items() if size <= bound))
            for bound in BATCH_BUCKETS
        ]
        buckets.append(("+Inf", sum(sizes.values())))
        yield HistogramMetricFamily(
            "localvision_batch_size",
            "Images per model call.",
            buckets=buckets,
            sum_value=sum(size * n for size, n in sizes.items()),
        )

        yield from self._password_checks()

        images = CounterMetricFamily(
            "localvision_images_classified",
            "Images classified, by outcome (error: the image could not be read or decoded).",
            labels=["outcome"],
        )
        tally = getattr(svc, "classified", None) or {}
        for outcome in ("ok", "error"):
            images.add_metric([outcome], tally.get(outcome, 0))
        yield images

    def _password_checks(self):
        """Sign-in's Argon2 checks (server/guards/throttle.py): running, waiting for a slot, and the
        most that ever ran at once (so a scrape between bursts still shows the bound held)."""
        gate = getattr(self.app.state, "auth_gate", None)
        checks = gate.password_checks if gate else None
        for name, help_text in (
            ("running", "Sign-in password checks (Argon2id, 64 MiB each) running now."),
            ("waiting", "Sign-ins waiting for a free password check."),
            ("peak", "The most sign-in password checks that ran at once since the start."),
        ):
            value = getattr(checks, name, 0)
            yield GaugeMetricFamily(f"localvision_password_checks_{name}", help_text, value=value)


class Metrics:
    """The app's registry and the metrics the request observer records."""

    def __init__(self, app: FastAPI):
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "localvision_http_requests",
            "HTTP requests by route template, method and status.",
            ["route", "method", "status"],
            registry=r,
        )
        self.latency = Histogram(
            "localvision_http_request_duration_seconds",
            "Time from the request's arrival to the end of its response, by route template.",
            ["route", "method"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.in_progress = Gauge(
            "localvision_http_requests_in_progress", "HTTP requests being handled.", registry=r
        )
        self.rejects = Counter(
            "localvision_rejects",
            "Requests answered with an error, by its code (rate_limited, overloaded, "
            "payload_too_large, unauthorized, ...).",
            ["reason"],
            registry=r,
        )
        r.register(ServiceCollector(app))

    # the observer's sink
    def started(self) -> None:
        self.in_progress.inc()

    def finished(self, record: AccessRecord) -> None:
        self.in_progress.dec()
        self.requests.labels(record.route, record.method, str(record.status)).inc()
        self.latency.labels(record.route, record.method).observe(record.duration_ms / 1000)
        if record.error:
            self.rejects.labels(record.error).inc()

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


def install(app: FastAPI) -> Metrics:
    metrics = Metrics(app)
    app.state.metrics = metrics

    @app.get("/metrics", include_in_schema=False)
    async def prometheus_metrics(_request: Request) -> Response:
        return Response(metrics.exposition(), media_type=CONTENT_TYPE_LATEST)

    return metrics
