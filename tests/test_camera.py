"""The live camera's WebSocket (/api/v1/live, server/routes/camera.py), with a real client (the
`websockets` library) against the real service on loopback: real photos as frames and
EfficientNet-Lite0's real answers, a broken frame, the latest frame winning, and the auth gate
and origin guard applied to the handshake as to any HTTP request."""

from __future__ import annotations

import json

import httpx
import pytest
from corpus import GOLDEN
from servers import LiveServer, sign_in, users_with_keys
from websockets.exceptions import ConnectionClosedError, InvalidStatus
from websockets.sync.client import connect


def ws_url(http_url: str, **query) -> str:
    q = "&".join(f"{k}={v}" for k, v in query.items())
    return http_url.replace("http://", "ws://", 1) + "/api/v1/live" + (f"?{q}" if q else "")


def recv(ws) -> dict:
    return json.loads(ws.recv(timeout=120))


def refusal(excinfo) -> tuple[int, dict]:
    """The HTTP answer to a refused handshake: status and JSON body."""
    response = excinfo.value.response
    return response.status_code, json.loads(bytes(response.body))


# --- frames, answers ----------------------------------------------------------------------------
def test_each_photo_frame_gets_its_real_top_label(live_server, photos):
    with connect(ws_url(live_server)) as ws:
        ready = recv(ws)
        assert ready == {"type": "ready", "model": "efficientnet_lite0", "lang": "en", "top_k": 3}
        for n, (name, expected) in enumerate(GOLDEN.items(), start=1):
            ws.send(photos[name])
            answer = recv(ws)
            assert answer["type"] == "result" and answer["frame"] == n
            assert answer["predictions"][0]["label"] == expected, name
            assert len(answer["predictions"]) == 3
            probs = [p["probability"] for p in answer["predictions"]]
            assert probs == sorted(probs, reverse=True) and 0 < probs[0] <= 1
            assert answer["dropped"] == 0 and answer["model"] == "efficientnet_lite0"


def test_labels_in_chinese_with_the_english_beside(live_server, photos, lite0):
    with connect(ws_url(live_server, lang="zh", top_k=5)) as ws:
        assert recv(ws)["lang"] == "zh"
        ws.send(photos["coffee"])
        top = recv(ws)["predictions"]
    assert len(top) == 5
    espresso = lite0.spec.labels.index("espresso")
    assert top[0]["label"] == lite0.spec.labels_in("zh")[espresso] != "espresso"
    assert top[0]["label_en"] == "espresso"


def test_a_broken_frame_is_a_typed_error_and_the_socket_goes_on(live_server, photos):
    with connect(ws_url(live_server)) as ws:
        recv(ws)
        ws.send(photos["coffee"][:2000])  # a JPEG cut short
        cut = recv(ws)
        ws.send(b"\x89PNG\r\n\x1a\n" + b"\0" * 64)  # a PNG signature and nothing of a PNG
        png = recv(ws)
        ws.send(b"")
        empty = recv(ws)
        ws.send("a text message, not a frame")
        text = recv(ws)
        ws.send(photos["chelsea"])  # and the socket still answers
        after = recv(ws)
    assert cut["type"] == "error" and cut["frame"] == 1
    assert cut["error"]["code"] in ("corrupt_image", "unsupported_format")
    assert png["error"]["code"] in ("corrupt_image", "unsupported_format") and png["frame"] == 2
    assert empty["error"]["code"] == "empty_file" and empty["frame"] == 3
    assert text == {"type": "error", "frame": None, "error": {"code": "invalid_argument",
                    "message": text["error"]["message"]}}  # fmt: skip
    for answer in (cut, png, empty, text):
        assert "Traceback" not in answer["error"]["message"]
    assert after["type"] == "result" and after["frame"] == 4
    assert after["predictions"][0]["label"] == "tiger cat"


def test_the_latest_frame_wins(live_server, photos):
    """Frames sent faster than the model answers are dropped, not queued: the last one sent is
    always answered, every frame is either answered or counted as dropped."""
    sent = 30
    with connect(ws_url(live_server)) as ws:
        recv(ws)
        for _ in range(sent - 1):
            ws.send(photos["coffee"])
        ws.send(photos["rocket"])  # the newest, and another picture
        answers = []
        while not answers or answers[-1]["frame"] != sent:
            answers.append(recv(ws))
    frames = [a["frame"] for a in answers]
    assert frames == sorted(frames) and frames[-1] == sent
    assert answers[-1]["predictions"][0]["label"] == "missile"
    dropped = answers[-1]["dropped"]
    assert dropped > 0, "a burst of frames was queued rather than dropped"
    assert len(answers) + dropped == sent


def test_bad_connection_parameters_are_refused_with_a_typed_message(live_server):
    for query, code in [({"model": "nope"}, "unknown_model"), ({"lang": "xx"}, "invalid_argument"),
                        ({"top_k": "0"}, "invalid_argument")]:  # fmt: skip
        with connect(ws_url(live_server, **query)) as ws:
            message = recv(ws)
            assert message["type"] == "error" and message["error"]["code"] == code
            with pytest.raises(ConnectionClosedError) as closed:
                ws.recv(timeout=10)
        assert closed.value.rcvd.code == 1008 and closed.value.rcvd.reason == code


def test_frames_are_not_written_into_the_history(live_server, photos):
    before = httpx.get(live_server + "/api/v1/history", params={"limit": 1}).json()["total"]
    with connect(ws_url(live_server)) as ws:
        recv(ws)
        ws.send(photos["coffee"])
        assert recv(ws)["type"] == "result"
    after = httpx.get(live_server + "/api/v1/history", params={"limit": 1}).json()["total"]
    assert after == before


def test_another_sites_page_may_not_open_the_socket(live_server):
    with pytest.raises(InvalidStatus) as refused:
        connect(ws_url(live_server), origin="http://evil.example")
    status, body = refusal(refused)
    assert status == 403 and body["error"]["code"] == "cross_origin"
    with connect(ws_url(live_server), origin=live_server) as ws:  # the service's own page
        assert recv(ws)["type"] == "ready"


# --- auth on ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def guarded(tmp_path_factory, lite0):
    """The service with auth on, as `localvision serve` runs it (its uvicorn options)."""
    from types import SimpleNamespace

    from localvision.config import Settings
    from localvision.server.app import create_app
    from localvision.server.guards.protocol import uvicorn_options

    db = f"sqlite:///{tmp_path_factory.mktemp('camera_auth')}/localvision.db"
    keys = users_with_keys(db, {"ada": ("ada-password-1", "admin"), "bob": ("bob-password-1", "user")})
    settings = Settings(model="efficientnet_lite0", offline=True, db=db, auth="on")
    with LiveServer(create_app(settings, classifier=lite0), **uvicorn_options(settings)) as live:
        yield SimpleNamespace(url=live.url, keys=keys)


def test_with_auth_on_the_socket_needs_a_key_or_a_session(guarded, photos):
    with pytest.raises(InvalidStatus) as anonymous:
        connect(ws_url(guarded.url))
    status, body = refusal(anonymous)
    assert status == 401 and body["error"]["code"] == "unauthorized"
    with pytest.raises(InvalidStatus) as wrong:
        connect(ws_url(guarded.url), additional_headers={"Authorization": "Bearer not-a-key"})
    assert refusal(wrong)[0] == 401

    with connect(ws_url(guarded.url), additional_headers={
        "Authorization": f"Bearer {guarded.keys['bob']}"}) as ws:  # fmt: skip
        recv(ws)
        ws.send(photos["coffee"])
        assert recv(ws)["predictions"][0]["label"] == "espresso"


def test_with_auth_on_a_signed_in_browser_session_opens_it(guarded, photos):
    with httpx.Client(base_url=guarded.url, timeout=60) as client:
        assert sign_in(client, "bob", "bob-password-1").status_code == 303
        cookie = "; ".join(f"{k}={v}" for k, v in client.cookies.items())
    own = {"Cookie": cookie}
    with connect(ws_url(guarded.url), additional_headers=own, origin=guarded.url) as ws:
        recv(ws)
        ws.send(photos["grace_hopper"])
        assert recv(ws)["predictions"][0]["label"] == "academic gown"
    # The same cookie from another site's page: refused (a WebSocket is not covered by CORS).
    with pytest.raises(InvalidStatus) as foreign:
        connect(ws_url(guarded.url), additional_headers=own, origin="http://evil.example")
    assert refusal(foreign)[1]["error"]["code"] == "cross_origin"
    # A session that has ended: refused.
    with pytest.raises(InvalidStatus) as ended:
        connect(ws_url(guarded.url), additional_headers={"Cookie": "localvision_session=forged"})
    assert refusal(ended)[0] == 401


def test_the_rate_limit_counts_each_handshake(tmp_path, lite0, photos):
    from localvision.config import Settings
    from localvision.server.app import create_app

    settings = Settings(model="efficientnet_lite0", offline=True, db=f"sqlite:///{tmp_path}/h.db",
                        rate_limit="2/minute")  # fmt: skip
    with LiveServer(create_app(settings, classifier=lite0)) as live:
        with connect(ws_url(live.url)) as ws:
            recv(ws)
            for _ in range(3):  # frames on an open socket are not requests
                ws.send(photos["coffee"])
                assert recv(ws)["type"] == "result"
        with connect(ws_url(live.url)) as ws:
            recv(ws)
        with pytest.raises(InvalidStatus) as third:
            connect(ws_url(live.url))
    status, body = refusal(third)
    assert status == 429 and body["error"]["code"] == "rate_limited"
