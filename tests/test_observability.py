"""Observability: Prometheus metrics at /metrics and one JSON access line per request.

A real server of its own (its own metrics registry), on loopback, with the real model; counts are
read before and after the requests a test makes, so they are exact.
"""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
import time

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from servers import LiveServer, free_port, wait_ready

from localvision.config import Settings
from localvision.server.app import create_app
from localvision.server.observe.logs import JsonFormatter, TextFormatter, logging_config


@pytest.fixture(scope="module")
def api(tmp_path_factory, lite0):
    db = tmp_path_factory.mktemp("observability") / "history.db"
    settings = Settings(
        model="efficientnet_lite0", offline=True, db=f"sqlite:///{db}", rate_limit="off"
    )
    with LiveServer(create_app(settings, classifier=lite0)) as live:
        wait_ready(live.url)
        with httpx.Client(base_url=live.url, timeout=60) as client:
            yield client


def scrape(api) -> dict:
    r = api.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(r.text)
        for s in family.samples
    }


def value(metrics: dict, name: str, **labels) -> float:
    return metrics.get((name, frozenset(labels.items())), 0.0)


CLASSIFY_200 = dict(route="/api/v1/classify", method="POST", status="200")


# --- metrics ------------------------------------------------------------------------------------
def test_requests_are_counted_by_route_template_and_status(api, photos):
    before = scrape(api)
    for _ in range(3):
        r = api.post("/api/v1/classify", files={"file": ("coffee.jpg", photos["coffee"])})
        assert r.status_code == 200
    after = scrape(api)
    name = "localvision_http_requests_total"
    assert value(after, name, **CLASSIFY_200) - value(before, name, **CLASSIFY_200) == 3
    hist = "localvision_http_request_duration_seconds_count"
    labels = dict(route="/api/v1/classify", method="POST")
    assert value(after, hist, **labels) - value(before, hist, **labels) == 3


def test_route_labels_are_templates_and_unknown_paths_are_unmatched(api):
    before = scrape(api)
    assert api.get("/no/such/page-8d1f3").status_code == 404
    assert api.get("/api/v1/history", params={"limit": 1, "offset": 7}).status_code == 200
    assert api.get("/static/style.css").status_code == 200
    after = scrape(api)
    name = "localvision_http_requests_total"
    for labels in (
        dict(route="unmatched", method="GET", status="404"),
        dict(route="/api/v1/history", method="GET", status="200"),
        dict(route="/static/{path}", method="GET", status="200"),
    ):
        assert value(after, name, **labels) - value(before, name, **labels) == 1, labels
    assert "8d1f3" not in api.get("/metrics").text


def test_model_state_queue_and_batch_sizes(api, photos):
    two = [("file", ("a.jpg", photos["coffee"])), ("file", ("b.jpg", photos["rocket"]))]
    assert api.post("/api/v1/classify", files=two).status_code == 200
    m = scrape(api)
    gauge = "localvision_model_state"
    states = {s: value(m, gauge, state=s) for s in ("loading", "ready", "failed")}
    assert states == {"loading": 0, "ready": 1, "failed": 0}
    assert value(m, "localvision_queue_depth") == 0  # nothing waiting once answered
    assert value(m, "localvision_queue_capacity") == 256
    count = value(m, "localvision_batch_size_count")
    assert count > 0
    assert value(m, "localvision_batch_size_sum") >= count
    assert value(m, "localvision_batch_size_bucket", le="+Inf") == count
    assert value(m, "localvision_batch_size_bucket", le="256.0") == count


def test_images_classified_by_outcome(api, photos):
    before = scrape(api)
    files = [
        ("file", ("coffee.jpg", photos["coffee"])),
        ("file", ("notes.jpg", b"not an image at all")),
        ("file", ("chelsea.jpg", photos["chelsea"])),
    ]
    assert api.post("/api/v1/classify", files=files).status_code == 200
    after = scrape(api)
    name = "localvision_images_classified_total"
    assert value(after, name, outcome="ok") - value(before, name, outcome="ok") == 2
    assert value(after, name, outcome="error") - value(before, name, outcome="error") == 1


def test_rejects_are_counted_by_error_code(api):
    before = scrape(api)
    assert api.post("/predict", files={"file": ("n.jpg", b"plain text")}).status_code == 415
    assert api.post("/api/v1/classify", data={"x": "1"}).status_code == 422
    assert api.get("/missing").status_code == 404
    assert api.delete("/healthz").status_code == 405
    after = scrape(api)
    name = "localvision_rejects_total"
    for reason in ("unsupported_format", "no_file", "not_found", "method_not_allowed"):
        assert value(after, name, reason=reason) - value(before, name, reason=reason) == 1, reason


def test_a_model_that_failed_to_load_shows_in_the_state_gauge(tmp_path):
    settings = Settings(
        model="resnet18", weights=tmp_path / "missing.pth", offline=True, backend="torch",
        db=f"sqlite:///{tmp_path / 'h.db'}", rate_limit="off",
    )  # fmt: skip
    with LiveServer(create_app(settings)) as live:
        assert wait_ready(live.url)["status"] == "failed"
        with httpx.Client(base_url=live.url) as c:
            m = scrape(c)
            assert c.post("/predict", files={"file": ("a.jpg", b"x")}).status_code == 503
            rejects = scrape(c)
    assert value(m, "localvision_model_state", state="failed") == 1
    assert value(m, "localvision_model_state", state="ready") == 0
    assert value(rejects, "localvision_rejects_total", reason="model_not_ready") == 1


# --- access log ---------------------------------------------------------------------------------
@pytest.fixture
def access_lines():
    """What the access logger writes, through the JSON formatter `serve` uses."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("localvision.access")
    old_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        # The server writes a request's line before the response's last byte leaves.
        yield lambda: stream.getvalue().splitlines()
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)


def test_one_json_line_per_request_with_the_echoed_request_id(api, photos, access_lines):
    body = photos["coffee"]
    r1 = api.post(
        "/api/v1/classify", files={"file": ("c.jpg", body)}, headers={"X-Request-ID": "trace-42"}
    )
    r2 = api.get("/healthz")
    r3 = api.get("/healthz", headers={"X-Request-ID": 'a "quoted" id, {"level": "forged"}'})
    r4 = api.get("/healthz", headers={"X-Request-ID": "x" * 500})
    lines = access_lines()
    records = [json.loads(line) for line in lines]  # every line is one JSON object
    assert len(records) == 4
    first, second, third, fourth = records
    assert r1.headers["X-Request-ID"] == first["request_id"] == "trace-42"
    assert first["route"] == "/api/v1/classify" and first["method"] == "POST"
    assert first["status"] == 200 and first["error"] is None
    assert first["bytes_in"] == int(r1.request.headers["content-length"])
    assert first["bytes_out"] == len(r1.content)
    assert first["duration_ms"] > 0 and first["client"] == "127.0.0.1"
    assert first["logger"] == "localvision.access" and first["time"].endswith("+00:00")
    # No id, or one not fit for a log line: a fresh one, sent back.
    assert len(second["request_id"]) == 32 and r2.headers["X-Request-ID"] == second["request_id"]
    assert "forged" not in third["request_id"] and r3.headers["X-Request-ID"] == third["request_id"]
    assert len(fourth["request_id"]) == 32 and r4.headers["X-Request-ID"] == fourth["request_id"]
    assert len({second["request_id"], third["request_id"], fourth["request_id"]}) == 3


def test_the_log_holds_no_content_and_no_secrets(api, access_lines):
    marker = b"IMAGE-CONTENT-MARKER-" + b"q" * 64
    r = api.post(
        "/api/v1/classify",
        files={"file": ("secret-name.jpg", marker)},
        data={"password": "hunter2-pass"},
        params={"top_k": 2, "token": "query-secret"},
        headers={"Authorization": "Bearer tok-9f8e7d", "Cookie": "session=cookie-5a4b3c"},
    )
    assert r.status_code == 200
    (line,) = access_lines()
    record = json.loads(line)
    assert record["error"] is None and record["path"] == "/api/v1/classify"
    secrets = ("IMAGE-CONTENT", "hunter2", "tok-9f8e7d", "cookie-5a4b3c", "query-secret", "secret-")
    for secret in secrets:
        assert secret not in line


def test_an_error_is_named_in_the_access_line(api, access_lines):
    r = api.post("/predict", files={"file": ("n.jpg", b"plain text")})
    (line,) = access_lines()
    record = json.loads(line)
    assert record["status"] == 415 == r.status_code
    assert record["error"] == "unsupported_format" and record["route"] == "/predict"


# --- formatters ---------------------------------------------------------------------------------
def test_errors_are_logged_as_one_json_line_with_the_traceback():
    logger = logging.getLogger("localvision.server")
    try:
        raise RuntimeError("boom\nsecond line")
    except RuntimeError:
        record = logger.makeRecord(
            logger.name, logging.ERROR, __file__, 1, "failed: %s", ("x",), sys.exc_info()
        )
    line = JsonFormatter().format(record)
    assert "\n" not in line
    out = json.loads(line)
    assert out["level"] == "ERROR" and out["message"] == "failed: x"
    assert "RuntimeError: boom" in out["exc"] and "Traceback" in out["exc"]


def test_text_format_is_one_readable_line():
    record = logging.getLogger("localvision.access").makeRecord(
        "localvision.access", logging.INFO, __file__, 1, "GET /healthz 200 1.0ms", (), None,
        extra={"fields": {"request_id": "abc", "error": None}},
    )  # fmt: skip
    line = TextFormatter().format(record)
    assert "GET /healthz 200" in line and "[abc]" in line


def test_serve_logs_through_our_formatter_and_turns_uvicorns_access_log_off():
    config = logging_config("json")
    assert config["formatters"]["default"]["()"].endswith("JsonFormatter")
    silent = {"handlers": [], "level": "WARNING", "propagate": False}
    assert config["loggers"]["uvicorn.access"] == silent
    assert config["loggers"]["localvision"]["handlers"] == ["stderr"]
    assert logging_config("text")["formatters"]["default"]["()"].endswith("TextFormatter")


def test_serve_writes_every_log_line_as_json(tmp_path):
    """`localvision serve` end to end (a model that cannot load, so it starts in a second):
    uvicorn's lines, the app's error and our access lines are JSON; uvicorn's access log is off."""
    port = free_port()
    cmd = [
        sys.executable, "-m", "localvision", "serve", "--port", str(port), "--model", "resnet18",
        "--weights", str(tmp_path / "missing.pth"), "--db", f"sqlite:///{tmp_path / 'h.db'}",
    ]  # fmt: skip
    env = {**os.environ, "LOCALVISION_OFFLINE": "1", "LOCALVISION_LOG_FORMAT": "json"}
    proc = subprocess.Popen(
        cmd, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, env=env, text=True
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                assert httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200
                break
            except httpx.TransportError:
                assert proc.poll() is None and time.monotonic() < deadline, "serve did not start"
                time.sleep(0.1)
        r = httpx.post(
            f"http://127.0.0.1:{port}/predict", files={"file": ("a.jpg", b"x")},
            headers={"X-Request-ID": "serve-1", "Authorization": "Bearer tok-serve-secret"},
        )  # fmt: skip
        assert r.status_code == 503
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=30)
    lines = [line for line in err.splitlines() if not line.startswith("localvision: open ")]
    records = [json.loads(line) for line in lines]  # every log line is JSON
    loggers = {rec["logger"] for rec in records}
    assert "uvicorn.access" not in loggers and "uvicorn.error" in loggers
    assert any(rec["logger"] == "localvision.server" and rec["level"] == "ERROR" for rec in records)
    (access,) = [rec for rec in records if rec.get("request_id") == "serve-1"]
    assert access["route"] == "/predict" and access["error"] == "model_not_ready"
    assert "tok-serve-secret" not in err


def test_the_sinks_know_nothing_of_each_other():
    """The request observer feeds the access log and the metrics; neither imports the other
    (they used to import each other)."""
    import ast
    import inspect

    from localvision.server.observe import logs, metrics

    def imported(module) -> set[str]:
        tree = ast.parse(inspect.getsource(module))
        return {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}

    assert not {m for m in imported(logs) if m.endswith("metrics")}
    assert not {m for m in imported(metrics) if m.endswith("logs")}
