"""Helpers for tests that talk to a real service: a uvicorn server on loopback in a thread, a free
port, waits until the models answer, users with API keys made as an operator makes them, and
signing in through the real form."""

from __future__ import annotations

import re
import socket
import threading
import time

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    """A real uvicorn server on loopback, in a thread."""

    def __init__(self, app, **uvicorn_options):
        """uvicorn_options: as `localvision serve` passes them (server.protocol.uvicorn_options)."""
        import uvicorn

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_level="warning", **uvicorn_options
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self):
        self.thread.start()
        deadline = time.monotonic() + 60
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("server did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc):
        self.server.should_exit = True
        self.thread.join(timeout=10)


def wait_ready(url: str, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = httpx.get(url + "/api/v1/models")
        if r.json()["status"] != "loading":
            return r.json()
        time.sleep(0.1)
    raise RuntimeError("model did not load")


def users_with_keys(db: str, users: dict[str, tuple[str, str]]) -> dict[str, str]:
    """Users made the way an operator makes them (name -> (password, role)) in the SQLite or
    PostgreSQL database at `db`, with one API key each; returns name -> key."""
    from localvision.auth import AuthStore

    store = AuthStore.open(db)
    try:
        for name, (password, role) in users.items():
            store.add_user(name, password, role=role)
        return {name: store.create_key(name, "tests")[1] for name in users}
    finally:
        store.close()


def wait_models_ready(url: str, timeout: float) -> None:
    """Until every model the service at `url` serves is ready (one failing fails the test)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        states = [m["state"] for m in httpx.get(url + "/api/v1/models").json()["models"]]
        if all(s == "ready" for s in states):
            return
        assert "failed" not in states, states
        time.sleep(0.2)
    raise RuntimeError(f"the models did not load: {states}")


def login_form(client: httpx.Client, next_url: str = "/") -> str:
    """Open the sign-in page (which sets its form cookie); the form's CSRF token."""
    page = client.get("/login", params={"next": next_url})
    assert page.status_code == 200
    return re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)


def sign_in(client: httpx.Client, username: str, password: str, next_url: str = "/", **kw):
    token = login_form(client, next_url)
    data = {"username": username, "password": password, "csrf_token": token, "next": next_url}
    return client.post("/login", data=data, **kw)
