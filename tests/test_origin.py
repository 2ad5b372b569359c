"""Which sites may talk to the service (server/guards/origin.py): the Host must name this server (no DNS
rebinding), and other sites' pages may not post to it; curl, scripts and the service's own pages
are not affected. Real servers on loopback, the real model, real HTTP."""

from __future__ import annotations

import httpx
import pytest
from servers import LiveServer

from localvision.config import Settings
from localvision.server.app import create_app
from localvision.server.guards.origin import host_name


@pytest.fixture(scope="module")
def server(tmp_path_factory, lite0):
    db = tmp_path_factory.mktemp("origin") / "h.db"
    settings = Settings(model="efficientnet_lite0", offline=True, db=f"sqlite:///{db}")
    with LiveServer(create_app(settings, classifier=lite0)) as live:
        yield live


@pytest.fixture(scope="module")
def opened(tmp_path_factory, lite0):
    """One more host name and one web origin allowed."""
    db = tmp_path_factory.mktemp("origin-open") / "h.db"
    settings = Settings(
        model="efficientnet_lite0", offline=True, db=f"sqlite:///{db}",
        allowed_hosts="photos.lan", cors_origins="http://app.example:3000",
    )  # fmt: skip
    with LiveServer(create_app(settings, classifier=lite0)) as live:
        yield live


def post(live, photo: bytes, **headers) -> httpx.Response:
    return httpx.post(
        live.url + "/api/v1/classify", files={"file": ("coffee.jpg", photo)}, headers=headers,
        timeout=60,
    )  # fmt: skip


@pytest.mark.parametrize("host", ["evil.example", "evil.example:8000", "127.0.0.1.nip.io"])
def test_a_host_that_is_not_this_server_is_refused(server, host):
    """A DNS-rebinding page reaches 127.0.0.1 under its own name: it must read nothing."""
    for path in ("/", "/api/v1/history.csv", "/api/v1/models"):
        r = httpx.get(server.url + path, headers={"Host": host})
        assert r.status_code == 400 and r.json()["error"]["code"] == "host_not_allowed", path


@pytest.mark.parametrize("host", ["127.0.0.1:{port}", "localhost:{port}", "LOCALHOST", "[::1]:{port}"])
def test_loopback_names_are_this_server(server, host):
    r = httpx.get(server.url + "/api/v1/models", headers={"Host": host.format(port=server.port)})
    assert r.status_code == 200


def test_another_sites_page_may_not_post(server, photos):
    r = post(server, photos["coffee"], Origin="http://evil.example")
    assert r.status_code == 403 and r.json()["error"]["code"] == "cross_origin"
    same_site_other_port = post(server, photos["coffee"], Origin="http://127.0.0.1:1")
    assert same_site_other_port.status_code == 403
    old_browser = post(server, photos["coffee"], **{"Sec-Fetch-Site": "cross-site"})
    assert old_browser.status_code == 403


def test_the_services_own_pages_and_programs_may(server, photos):
    own = post(server, photos["coffee"], Origin=server.url)
    assert own.status_code == 200
    assert own.json()["results"][0]["predictions"][0]["label"] == "espresso"
    assert post(server, photos["coffee"]).status_code == 200  # curl, scripts: no Origin
    typed = post(server, photos["coffee"], **{"Sec-Fetch-Site": "none"})  # typed in the bar
    assert typed.status_code == 200


def test_a_cross_site_read_is_still_a_read(server):
    """GETs are not state-changing; the browser's same-origin policy keeps their answers from
    other sites' pages (no CORS headers are sent for them)."""
    r = httpx.get(server.url + "/api/v1/models", headers={"Origin": "http://evil.example"})
    assert r.status_code == 200 and "access-control-allow-origin" not in r.headers


def test_allowed_hosts_and_cors_origins_open_what_they_name(opened, photos):
    assert httpx.get(opened.url + "/api/v1/models", headers={"Host": "photos.lan:80"}).status_code == 200
    assert httpx.get(opened.url + "/api/v1/models", headers={"Host": "evil.example"}).status_code == 400
    r = post(opened, photos["coffee"], Origin="http://app.example:3000")
    assert r.status_code == 200
    assert r.headers["access-control-allow-origin"] == "http://app.example:3000"
    preflight = httpx.options(
        opened.url + "/api/v1/classify",
        headers={"Origin": "http://app.example:3000", "Access-Control-Request-Method": "POST"},
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "http://app.example:3000"
    assert post(opened, photos["coffee"], Origin="http://evil.example").status_code == 403


def test_a_wildcard_bind_accepts_any_host_unless_told(tmp_path, lite0):
    """Bound to 0.0.0.0 the service cannot know its names; auth is what protects it there."""
    from localvision.server.guards.origin import HostPolicy

    assert HostPolicy(Settings(host="0.0.0.0")).allows_host("photos.lan:8000")
    narrowed = HostPolicy(Settings(host="0.0.0.0", allowed_hosts="photos.lan"))
    assert narrowed.allows_host("photos.lan:8000") and not narrowed.allows_host("evil.example")
    assert HostPolicy(Settings(host="192.168.1.5")).allows_host("192.168.1.5:8000")


@pytest.mark.parametrize(
    "header,name",
    [("Example.org:8000", "example.org"), ("[::1]:8000", "::1"), ("::1", "::1"), ("a", "a")],
)
def test_host_name(header, name):
    assert host_name(header) == name


def test_every_refusal_carries_its_hint(server, photos):
    """One renderer for every surface's refusals (server/errors.py: render): a middleware's
    refusal says how to fix it as a route's error does."""
    host = httpx.get(server.url + "/api/v1/models", headers={"Host": "evil.example"}).json()
    assert host["error"]["hint"] == "localvision serve --allowed-hosts NAME"
    cross = post(server, photos["coffee"], Origin="http://evil.example").json()
    assert cross["error"]["hint"] == "localvision serve --cors-origins ORIGIN"
