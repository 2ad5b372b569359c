"""Rate limiting: each client (the verified user behind a key, else the address) has its own
window; over it, 429 with Retry-After; nobody else is slowed; health checks, metrics and the UI
are never limited; a token that does not verify buys no window of its own.

Real servers on loopback with a limit of 3 a minute, one with auth off and one with auth on
(real users and keys in its database). Each test uses its own clients (its own users, or its own
127.0.0.x source address), so the tests do not share windows.
"""

from __future__ import annotations

import httpx
import pytest
from servers import LiveServer, wait_ready

from localvision.auth import AuthStore
from localvision.config import Settings
from localvision.server.app import create_app
from localvision.server.guards.gate import PRINCIPAL
from localvision.server.guards.ratelimit import client_key, parse_rate

LIMIT = 3
USERS = ("alpha", "mixed", "busy", "calm", "health", "counted", "twokeys")


@pytest.fixture(scope="module")
def server(tmp_path_factory, lite0):
    """Auth off: every request counts against its address, whatever it sends."""
    db = tmp_path_factory.mktemp("ratelimit") / "history.db"
    settings = Settings(
        model="efficientnet_lite0", offline=True, db=f"sqlite:///{db}", rate_limit=f"{LIMIT}/minute"
    )
    with LiveServer(create_app(settings, classifier=lite0)) as live:
        wait_ready(live.url)  # /api/v1/models: from 127.0.0.1 without a key, so never used below
        yield live.url


@pytest.fixture(scope="module")
def keyed(tmp_path_factory, lite0):
    """Auth on: (url, {user: key}); user twokeys has a second key under "twokeys-2"."""
    url = f"sqlite:///{tmp_path_factory.mktemp('ratelimit-auth') / 'db.sqlite'}"
    store = AuthStore.open(url)
    keys = {}
    for user in USERS:
        store.add_user(user, None)
        keys[user] = store.create_key(user, "tests")[1]
    keys["twokeys-2"] = store.create_key("twokeys", "second")[1]
    store.close()
    settings = Settings(
        model="efficientnet_lite0", offline=True, db=url, auth="on", rate_limit=f"{LIMIT}/minute"
    )
    with LiveServer(create_app(settings, classifier=lite0)) as live:
        yield live.url, keys


def client(url: str, *, token: str | None = None, source: str = "127.0.0.1") -> httpx.Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    transport = httpx.HTTPTransport(local_address=source)
    return httpx.Client(base_url=url, headers=headers, transport=transport, timeout=60)


def classify(c: httpx.Client, photo: bytes) -> httpx.Response:
    return c.post("/api/v1/classify", files={"file": ("coffee.jpg", photo, "image/jpeg")})


def test_the_request_over_the_limit_gets_429_with_retry_after(keyed, photos):
    url, keys = keyed
    with client(url, token=keys["alpha"]) as c:
        for _ in range(LIMIT):
            assert classify(c, photos["coffee"]).status_code == 200
        r = classify(c, photos["coffee"])
    assert r.status_code == 429
    assert r.json()["error"]["code"] == "rate_limited"
    wait = int(r.headers["Retry-After"])
    assert 1 <= wait <= 60
    assert r.json()["error"]["retry_after"] == wait


def test_predict_zip_and_the_rest_of_the_api_share_the_clients_window(keyed, photos):
    url, keys = keyed
    with client(url, token=keys["mixed"]) as c:
        assert c.post("/predict", files={"file": ("c.jpg", photos["coffee"])}).status_code == 200
        assert c.get("/api/v1/history", params={"limit": 1}).status_code == 200
        assert c.get("/api/v1/models").status_code == 200
        assert c.post("/api/v1/classify/zip", files={"file": ("a.zip", b"PK")}).status_code == 429
        assert c.post("/predict", files={"file": ("c.jpg", photos["coffee"])}).status_code == 429


def test_another_user_is_not_affected(keyed, photos):
    url, keys = keyed
    with client(url, token=keys["busy"]) as busy, client(url, token=keys["calm"]) as calm:
        for _ in range(LIMIT):
            classify(busy, photos["coffee"])
        assert classify(busy, photos["coffee"]).status_code == 429
        for _ in range(LIMIT):
            assert classify(calm, photos["coffee"]).status_code == 200


def test_a_users_keys_share_the_users_window(keyed, photos):
    url, keys = keyed
    with client(url, token=keys["twokeys"]) as first, client(url, token=keys["twokeys-2"]) as second:
        for _ in range(LIMIT):
            assert classify(first, photos["coffee"]).status_code == 200
        assert classify(second, photos["coffee"]).status_code == 429


def test_a_new_random_token_on_each_request_buys_no_window(keyed, photos):
    """Tokens that do not verify are answered 401 and counted against the address: after the
    limit, that address gets 429 whatever token it sends next."""
    import secrets

    url, _ = keyed
    statuses = []
    for _ in range(LIMIT + 2):
        with client(url, token=secrets.token_urlsafe(24), source="127.0.0.5") as c:
            statuses.append(classify(c, photos["coffee"]).status_code)
    assert statuses == [401] * LIMIT + [429, 429]


def test_with_auth_off_a_bearer_token_changes_nothing(server, photos):
    """Auth off: nothing verifies a token, so it is no identity; the address's window counts."""
    import secrets

    statuses = []
    for _ in range(LIMIT + 1):
        with client(server, token=secrets.token_urlsafe(24), source="127.0.0.6") as c:
            statuses.append(classify(c, photos["coffee"]).status_code)
    assert statuses == [200] * LIMIT + [429]


def test_without_a_key_each_address_has_its_own_window(server, photos):
    with client(server, source="127.0.0.2") as first, client(server, source="127.0.0.3") as second:
        for _ in range(LIMIT):
            assert classify(first, photos["coffee"]).status_code == 200
        assert classify(first, photos["coffee"]).status_code == 429
        assert classify(second, photos["coffee"]).status_code == 200


def test_a_forwarded_for_header_does_not_buy_a_new_window(server, photos):
    with client(server, source="127.0.0.4") as c:
        for _ in range(LIMIT):
            classify(c, photos["coffee"])
        spoofed = c.post(
            "/api/v1/classify",
            files={"file": ("coffee.jpg", photos["coffee"])},
            headers={"X-Forwarded-For": "203.0.113.7", "X-Real-IP": "203.0.113.7"},
        )
    assert spoofed.status_code == 429


def test_health_metrics_and_ui_are_never_limited(keyed, photos):
    url, keys = keyed
    with client(url, token=keys["health"]) as c:
        for _ in range(LIMIT + 1):
            classify(c, photos["coffee"])
        assert classify(c, photos["coffee"]).status_code == 429
        for _ in range(3 * LIMIT):
            assert c.get("/healthz").status_code == 200
            assert c.get("/readyz").status_code == 200
            assert c.get("/metrics").status_code == 200
            assert c.get("/").status_code == 200
            assert c.get("/static/app.js").status_code == 200


def test_a_refused_request_still_gets_a_request_id_and_is_counted(keyed, photos):
    url, keys = keyed
    with client(url, token=keys["counted"]) as c:
        for _ in range(LIMIT):
            classify(c, photos["coffee"])
        r = c.post(
            "/api/v1/classify", files={"file": ("x.jpg", b"x")}, headers={"X-Request-ID": "rl-1"}
        )
        assert r.status_code == 429 and r.headers["X-Request-ID"] == "rl-1"
        assert 'localvision_rejects_total{reason="rate_limited"}' in c.get("/metrics").text


def test_the_window_is_the_verified_user_or_the_address_never_a_token():
    from localvision.auth import Principal

    sent = [(b"authorization", b"Bearer s3cret-token")]
    assert client_key({"headers": sent, "client": ("10.0.0.1", 5)}) == "addr:10.0.0.1"
    p = Principal(user="bob", role="user", via="key")
    verified = {"headers": sent, "client": ("10.0.0.1", 5), PRINCIPAL: p}
    assert client_key(verified) == "user:bob"


@pytest.mark.parametrize("off", ["off", "OFF", "", "none"])
def test_off_means_no_limit(off):
    assert Settings(rate_limit=off).rate_limit == "off"
    assert parse_rate(off) == []


def test_several_limits_and_bad_ones():
    both = parse_rate("10/second;600/minute")
    assert [str(x) for x in both] == ["10 per 1 second", "600 per 1 minute"]
    with pytest.raises(ValueError, match="rate limit"):
        Settings(rate_limit="lots")
