"""Cameras watched by the service (/api/v1/streams, streams/cameras.py), against a real RTSP
camera on loopback (tests/rtspserver.py: GStreamer's RTSP server, serving real photos in turn)
and the real service (EfficientNet-Lite0): the state, the event stream read with a real SSE
client (httpx-sse), segments in the history, the webhook against a real local HTTP receiver,
an outage and the reconnect, refused URLs, admin-only, and the classify routes answering while
streams run."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace

import httpx
import pytest
from httpx_sse import connect_sse
from rtspserver import RtspServer, available
from servers import LiveServer, free_port, users_with_keys

from localvision.webhooks import verify

pytestmark = pytest.mark.skipif(available() is not None, reason=str(available()))

SECRET = "webhook-test-secret"
SECONDS = 3.0  # each photo on the camera, in turn
EVERY_S = 0.5  # a frame classified every half second: 6 per photo, consensus after 3


# --- the parts ----------------------------------------------------------------------------------
class Receiver:
    """A real HTTP server on loopback that keeps every POST it gets (the webhook's receiver)."""

    def __init__(self, status: int = 204):
        self.posts: list[dict] = []
        received = self.posts

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                received.append({"headers": dict(self.headers), "body": body})
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def camera(tmp_path_factory, photo_dir):
    """An RTSP camera showing coffee, then the cameraman's tripod, each for SECONDS, forever (two
    photos the model is sure of even squeezed to 320x240 and through H.264)."""
    with RtspServer([photo_dir / "coffee.jpg", photo_dir / "camera.jpg"], port=free_port(),
                    fps=10, seconds=SECONDS) as server:  # fmt: skip
        yield server


@pytest.fixture(scope="module")
def receiver():
    r = Receiver()
    yield r
    r.close()


def _settings(tmp_path_factory, **extra):
    from localvision.config import Settings

    db = f"sqlite:///{tmp_path_factory.mktemp('streams')}/localvision.db"
    # A camera gone for 2 s is a drop; the tries come every 0.2-1 s (the tests wait less).
    options = dict(model="efficientnet_lite0", offline=True, db=db, stream_timeout_s=2.0,
                   stream_backoff_s=0.2, stream_backoff_max_s=1.0)  # fmt: skip
    return Settings(**{**options, **extra})


@pytest.fixture(scope="module")
def service(tmp_path_factory, lite0, receiver):
    from localvision.server.app import create_app

    settings = _settings(tmp_path_factory, stream_webhook_url=receiver.url,
                         stream_webhook_secret=SECRET)  # fmt: skip
    with LiveServer(create_app(settings, classifier=lite0)) as live:
        yield live.url


def events(url: str, stream_id: str, until, timeout: float = 60.0) -> list[tuple[str, dict]]:
    """The stream's Server-Sent Events, read until `until(event, data)` holds (or fail)."""
    got = []
    with httpx.Client(timeout=httpx.Timeout(10.0, read=timeout)) as client:
        with connect_sse(client, "GET", f"{url}/api/v1/streams/{stream_id}/events") as source:
            assert source.response.headers["content-type"].startswith("text/event-stream")
            # The server's keep-alive comments would keep a read going forever: end it in time.
            timer = threading.Timer(timeout, source.response.close)
            timer.start()
            try:
                for sse in source.iter_sse():
                    got.append((sse.event, sse.json()))
                    if until(sse.event, got[-1][1]):
                        return got
            except httpx.HTTPError:
                pass
            finally:
                timer.cancel()
    raise AssertionError(f"the awaited event did not come; saw {[e for e, _ in got]}")


def start(url: str, body: dict, **kw) -> dict:
    r = httpx.post(url + "/api/v1/streams", json=body, timeout=30, **kw)
    assert r.status_code == 201, r.text
    assert r.headers["location"] == f"/api/v1/streams/{r.json()['id']}"
    return r.json()


# --- watching -----------------------------------------------------------------------------------
def test_a_watched_camera_gives_live_labels_segments_history_and_a_webhook(
    service, camera, receiver, photos
):
    stream = start(service, {"url": camera.url, "name": "front-door", "every_s": EVERY_S,
                             "labels": ["tripod", "espresso"]})  # fmt: skip
    assert stream["status"] in ("starting", "connecting") and stream["name"] == "front-door"
    assert stream["labels"] == ["tripod", "espresso"] and stream["every_s"] == EVERY_S

    # Both photos come and go: a segment of one ends when the other's starts.
    seen = events(service, stream["id"], lambda e, d: e == "segment_end", timeout=90)
    kinds = [e for e, _ in seen]
    assert kinds[0] == "state" and "label" in kinds and "segment_start" in kinds
    ended = seen[-1][1]
    started = [d for e, d in seen if e == "segment_start"]
    assert ended["label"] in ("espresso", "tripod") and ended["stream"] == stream["id"]
    assert ended["end"] > ended["start"] and 0 < ended["duration_s"] <= SECONDS + 2 * EVERY_S
    assert 0.5 < ended["confidence"] <= 1
    labels = [d["top"]["label"] for e, d in seen if e == "label"]
    assert {"espresso", "tripod"} & set(labels)

    # The classify routes answer while the camera is watched.
    files = {"file": ("coffee.jpg", photos["coffee"], "image/jpeg")}
    r = httpx.post(service + "/api/v1/classify", files=files, timeout=60)
    assert r.status_code == 200 and r.json()["results"][0]["predictions"][0]["label"] == "espresso"

    state = httpx.get(f"{service}/api/v1/streams/{stream['id']}").json()
    assert state["status"] == "live" and state["reconnects"] == 0
    assert state["fps"] > 3  # the camera sends 10 a second
    assert 0 < state["classified_fps"] <= 1 / EVERY_S + 0.5
    assert state["current"]["label"] in ("espresso", "tripod")
    assert state["last_frame_at"] > stream["created_at"]
    assert state["segments_recorded"] >= 1 and state["url"] == camera.url
    listed = httpx.get(service + "/api/v1/streams").json()["streams"]
    assert stream["id"] in [s["id"] for s in listed]

    final = httpx.delete(f"{service}/api/v1/streams/{stream['id']}", timeout=30)
    assert final.status_code == 200 and final.json()["status"] == "stopped"
    assert httpx.get(f"{service}/api/v1/streams/{stream['id']}").status_code == 404

    # Every segment that ended is a history row named after the stream, with its times.
    rows = httpx.get(service + "/api/v1/history", params={"filename": "front-door"}).json()["items"]
    assert len(rows) == final.json()["segments_recorded"] >= 2  # the open one ended at DELETE
    first = next(r for r in rows if r["filename"] == f"front-door {ended['start']}\u2013{ended['end']}")
    assert first["predictions"][0]["label"] == ended["label"]
    assert first["predictions"][0]["probability"] == pytest.approx(ended["confidence"], abs=1e-3)

    # The webhook: one POST per segment start, its time and body signed (webhooks.py).
    hooks = [json.loads(p["body"]) for p in receiver.posts]
    assert [h["segment"]["label"] for h in hooks][: len(started)] == [s["label"] for s in started]
    for post in receiver.posts:
        signature = post["headers"]["X-Localvision-Signature"]
        t = int(signature.split(",")[0].removeprefix("t="))
        expected = hmac.new(SECRET.encode(), f"{t}.".encode() + post["body"], hashlib.sha256)
        assert signature == f"t={t},v1={expected.hexdigest()}"
        assert verify(SECRET, signature, post["body"]) and abs(time.time() - t) < 120
        assert post["headers"]["X-Localvision-Event"] == "segment_start"
    assert hooks[0]["stream"] == {"id": stream["id"], "name": "front-door"}


def test_only_the_chosen_labels_make_segments(service, camera):
    stream = start(service, {"url": camera.url, "every_s": EVERY_S, "labels": ["tripod"]})
    seen = events(service, stream["id"], lambda e, d: e == "segment_end", timeout=90)
    httpx.delete(f"{service}/api/v1/streams/{stream['id']}", timeout=30)
    segments = [d for e, d in seen if e.startswith("segment_")]
    assert segments and {d["label"] for d in segments} == {"tripod"}
    # The live labels still name what the camera shows, coffee too.
    assert "espresso" in [d["top"]["label"] for e, d in seen if e == "label"]


def test_a_camera_outage_and_its_return(service, tmp_path_factory, photo_dir, photos):
    """The camera goes away (SIGKILL: no goodbye), the stream says so and keeps trying; the
    classify routes answer meanwhile; the camera comes back on the same address, and so do
    the labels."""
    with RtspServer([photo_dir / "camera.jpg"], port=free_port(), fps=10, seconds=1) as cam:
        stream = start(service, {"url": cam.url, "every_s": EVERY_S})
        sid = stream["id"]
        events(service, sid, lambda e, d: e == "label" and d["top"]["label"] == "tripod")
        cam.kill()
        seen = events(service, sid, lambda e, d: e == "status" and d["status"] == "reconnecting")
        assert seen[-1][1]["last_error"]
        files = {"file": ("rocket.jpg", photos["rocket"], "image/jpeg")}
        r = httpx.post(service + "/api/v1/classify", files=files, timeout=60)
        assert r.json()["results"][0]["predictions"][0]["label"] == "missile"
        time.sleep(1.5)  # a few failed tries while the camera is off
        cam.start()
        events(service, sid, lambda e, d: e in ("state", "status") and d["status"] == "live"
               and d["reconnects"] >= 1, timeout=60)  # fmt: skip
        events(service, sid, lambda e, d: e == "label" and d["top"]["label"] == "tripod")
        state = httpx.get(f"{service}/api/v1/streams/{sid}").json()
        assert state["status"] == "live" and state["reconnects"] >= 1 and state["drops"] >= 1
        httpx.delete(f"{service}/api/v1/streams/{sid}", timeout=30)


def test_a_camera_that_is_not_there_yet_is_tried_until_deleted(service):
    stream = start(service, {"url": f"rtsp://127.0.0.1:{free_port()}/nothing", "every_s": 1})
    try:
        # The failure is a `status` event, or, when it came before this subscriber did, part of
        # the `state` every subscriber is sent first (a status is published when it changes,
        # and a camera that stays away does not change it).
        seen = events(service, stream["id"],
                      lambda e, d: e in ("state", "status") and d["last_error"])  # fmt: skip
        assert seen[-1][1]["status"] in ("connecting", "reconnecting")
    finally:  # never left behind for the tests after this one, whatever happened above
        started = time.monotonic()
        r = httpx.delete(f"{service}/api/v1/streams/{stream['id']}", timeout=30)
    assert r.status_code == 200 and r.json()["status"] == "stopped"
    assert time.monotonic() - started < 10


# --- refusals -----------------------------------------------------------------------------------
@pytest.mark.parametrize("url", [
    "file:///etc/passwd", "/etc/passwd", "concat:/etc/passwd|/etc/hosts", "subfile:,,start,0,end,0,,:/etc/passwd",
    "pipe:0", "data:video/mp4;base64,AAAA", "ftp://127.0.0.1/x.mp4", "rtsp://", "http:///x", "",
    "rtsp://127.0.0.1:99999/x", "rtsp://127.0.0.1/a b", "rtsp://[::1/x",
])  # fmt: skip
def test_only_rtsp_and_http_urls_are_watched(service, url):
    r = httpx.post(service + "/api/v1/streams", json={"url": url})
    assert r.status_code == 400, r.text
    assert r.json()["error"]["code"] == "bad_stream_url"
    assert httpx.get(service + "/api/v1/streams").json()["streams"] == []


@pytest.mark.parametrize("body, status, code", [
    ({"url": "rtsp://127.0.0.1/x", "every_s": 0}, 422, "invalid_argument"),
    ({"url": "rtsp://127.0.0.1/x", "min_confidence": 2}, 422, "invalid_argument"),
    ({"url": "rtsp://127.0.0.1/x", "labels": ["a unicorn"]}, 422, "invalid_argument"),
    ({"url": "rtsp://127.0.0.1/x", "model": "nope"}, 404, "unknown_model"),
    ({"url": "rtsp://127.0.0.1/x", "lang": "xx"}, 422, "invalid_argument"),
    ({"url": "rtsp://127.0.0.1/x", "colour": "red"}, 422, "invalid_argument"),
    ({}, 422, "invalid_argument"),
])  # fmt: skip
def test_a_stream_asked_for_wrongly_is_refused_with_a_typed_error(service, body, status, code):
    r = httpx.post(service + "/api/v1/streams", json=body)
    assert (r.status_code, r.json()["error"]["code"]) == (status, code), r.text
    assert httpx.get(service + "/api/v1/streams").json()["streams"] == []


def test_a_stream_that_does_not_exist(service):
    for method, path in [("GET", ""), ("GET", "/events"), ("DELETE", "")]:
        r = httpx.request(method, f"{service}/api/v1/streams/nope{path}")
        assert (r.status_code, r.json()["error"]["code"]) == (404, "not_found")


def test_a_failing_webhook_is_counted_and_its_password_never_shown(
    tmp_path_factory, lite0, camera, caplog
):
    from localvision.server.app import create_app

    refusing = Receiver(status=404)
    hook = refusing.url.replace("http://", "http://hook:s3cret-hook@")
    settings = _settings(tmp_path_factory, stream_webhook_url=hook)
    try:
        with caplog.at_level(logging.WARNING, logger="localvision.streams"):
            with LiveServer(create_app(settings, classifier=lite0)) as live:
                stream = start(live.url, {"url": camera.url, "every_s": EVERY_S})
                deadline = time.monotonic() + 60
                while time.monotonic() < deadline:
                    state = httpx.get(f"{live.url}/api/v1/streams/{stream['id']}").json()
                    if state["webhook"]["failed"]:
                        break
                    time.sleep(0.5)
                httpx.delete(f"{live.url}/api/v1/streams/{stream['id']}", timeout=30)
    finally:
        refusing.close()
    assert refusing.posts and state["webhook"]["failed"] >= 1, state
    assert "404" in state["webhook"]["last_error"] and "hook:***@" in state["webhook"]["last_error"]
    assert "s3cret-hook" not in json.dumps(state)
    said = [r.getMessage() for r in caplog.records if "webhook failed" in r.getMessage()]
    assert said and not any("s3cret-hook" in line for line in said), said


def test_labels_may_be_named_in_chinese_and_a_password_is_never_shown(service, lite0):
    tripod = lite0.spec.labels_in("zh")[lite0.spec.labels.index("tripod")]
    stream = start(service, {"url": f"rtsp://admin:s3cret@127.0.0.1:{free_port()}/cam",
                             "labels": [tripod], "lang": "zh"})  # fmt: skip
    try:
        assert stream["labels"] == ["tripod"] and stream["lang"] == "zh"
        assert "s3cret" not in json.dumps(stream) and stream["url"].startswith("rtsp://admin:***@")
        assert stream["name"] == "127.0.0.1/cam"
        listed = httpx.get(service + "/api/v1/streams").text
        assert "s3cret" not in listed
    finally:
        httpx.delete(f"{service}/api/v1/streams/{stream['id']}", timeout=30)


# --- auth on ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def guarded(tmp_path_factory, lite0):
    from localvision.server.app import create_app

    settings = _settings(tmp_path_factory, auth="on", max_streams=1)
    keys = users_with_keys(settings.db, {"ada": ("ada-password-1", "admin"),
                                         "bob": ("bob-password-1", "user")})  # fmt: skip
    with LiveServer(create_app(settings, classifier=lite0)) as live:
        yield SimpleNamespace(url=live.url, keys=keys)


def test_with_auth_on_only_admins_manage_streams(guarded):
    url = f"rtsp://127.0.0.1:{free_port()}/cam"
    bob = {"Authorization": f"Bearer {guarded.keys['bob']}"}
    ada = {"Authorization": f"Bearer {guarded.keys['ada']}"}
    assert httpx.post(guarded.url + "/api/v1/streams", json={"url": url}).status_code == 401
    for method, path in [("POST", ""), ("GET", ""), ("GET", "/x"), ("GET", "/x/events"),
                         ("DELETE", "/x")]:  # fmt: skip
        r = httpx.request(method, guarded.url + "/api/v1/streams" + path, headers=bob,
                          json={"url": url} if method == "POST" else None)  # fmt: skip
        assert (r.status_code, r.json()["error"]["code"]) == (403, "forbidden"), (method, path)
    stream = start(guarded.url, {"url": url}, headers=ada)
    assert stream["created_by"] == "ada"
    # max_streams = 1: a second camera is refused until the first is stopped.
    again = httpx.post(guarded.url + "/api/v1/streams", json={"url": url}, headers=ada)
    assert (again.status_code, again.json()["error"]["code"]) == (409, "too_many_streams")
    r = httpx.delete(f"{guarded.url}/api/v1/streams/{stream['id']}", headers=bob)
    assert r.status_code == 403
    r = httpx.delete(f"{guarded.url}/api/v1/streams/{stream['id']}", headers=ada, timeout=30)
    assert r.status_code == 200
    assert httpx.get(guarded.url + "/api/v1/streams", headers=ada).json()["streams"] == []


def test_a_listener_is_told_when_the_stream_is_stopped(service, camera):
    stream = start(service, {"url": camera.url, "every_s": 1})
    sid = stream["id"]
    stopper = threading.Timer(3.0, lambda: httpx.delete(f"{service}/api/v1/streams/{sid}",
                                                        timeout=30))  # fmt: skip
    stopper.start()
    seen = events(service, sid, lambda e, d: e == "stopped", timeout=60)
    stopper.join()
    assert seen[-1][1]["id"] == sid and seen[-1][1]["status"] == "stopped"
    assert httpx.get(f"{service}/api/v1/streams/{sid}").status_code == 404
