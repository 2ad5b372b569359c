"""The start-up policy lives with the service (server/service/startup.py), so every way of
starting it applies it: `localvision serve`, a direct `create_app` (what KubeRay's app_builder
and each Ray replica call), the tests."""

from __future__ import annotations

import logging

import httpx
import pytest
from servers import LiveServer

from localvision.auth import AuthStore
from localvision.config import Settings
from localvision.errors import InvalidArgument
from localvision.server.app import create_app
from localvision.server.service import startup


@pytest.mark.unit
@pytest.mark.parametrize(
    "host, auth, insecure, refused",
    [("0.0.0.0", "off", False, True), ("0.0.0.0", "off", True, False),
     ("192.168.1.20", "off", False, True), ("0.0.0.0", "auto", False, False),
     ("127.0.0.1", "off", False, False), ("::1", "off", False, False),
     ("localhost", "off", False, False)],
)  # fmt: skip
def test_auth_off_on_a_public_address_needs_to_be_asked_for(host, auth, insecure, refused):
    settings = Settings(host=host, auth=auth)
    if refused:
        with pytest.raises(InvalidArgument, match=f"Refusing to serve {host}") as refusal:
            startup.check_auth(settings, insecure)
        assert "--insecure-no-auth" in refusal.value.hint
    else:
        startup.check_auth(settings, insecure)


@pytest.mark.unit
def test_a_direct_create_app_refuses_it_too(caplog):
    with pytest.raises(InvalidArgument, match="Refusing to serve 0.0.0.0 without auth"):
        create_app(Settings(host="0.0.0.0", auth="off"))
    with caplog.at_level(logging.WARNING, logger="localvision.server"):
        create_app(Settings(host="0.0.0.0", auth="off"), insecure_no_auth=True)
    assert "authentication is OFF on 0.0.0.0" in caplog.text
    startup.limit_malloc_arenas()  # idempotent: create_app has run it twice already


def test_a_direct_create_app_makes_the_first_admin_and_key(tmp_path, lite0, caplog):
    """What `localvision serve` did alone: the admin from LOCALVISION_ADMIN_PASSWORD_FILE and a
    key written to LOCALVISION_API_KEY_FILE, now at the start of any app."""
    password, key_file = tmp_path / "admin.pw", tmp_path / "keys" / "admin.key"
    password.write_text("correct horse battery\n")
    db = f"sqlite:///{tmp_path}/h.db"
    settings = Settings(model="efficientnet_lite0", offline=True, db=db, auth="on",
                        admin_password_file=password, api_key_file=key_file)  # fmt: skip
    with caplog.at_level(logging.INFO, logger="localvision.server"):
        with LiveServer(create_app(settings, classifier=lite0)) as live:
            key = key_file.read_text().strip()
            me = httpx.get(live.url + "/api/v1/me", headers={"Authorization": f"Bearer {key}"})
            assert me.status_code == 200 and me.json()["user"] == "admin", me.text
    assert "Created user admin" in caplog.text and "auth is on" in caplog.text
    store = AuthStore.open(db)
    try:
        assert store.authenticate("admin", "correct horse battery")["role"] == "admin"
    finally:
        store.close()


@pytest.mark.unit
def test_nobody_able_to_get_in_is_said_with_how_to_fix_it(tmp_path):
    store = AuthStore.open(f"sqlite:///{tmp_path}/h.db")
    try:
        said = startup.welcome(Settings(auth="on"), store.engine)
        assert said[0].startswith("auth is on") and "nobody can get in" in said[-1]
        assert "localvision users add NAME --admin" in said[-1]
        assert startup.welcome(Settings(auth="off"), store.engine) == []
    finally:
        store.close()
