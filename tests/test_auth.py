"""Auth: API keys, web sign-in, CSRF, throttling, roles, and the `keys` / `users` commands.

A real server with auth on (the real model, a real database holding history, users and keys:
an SQLite file, then a database on a real PostgreSQL server), on loopback. Users and keys are made the way an operator makes them: with the store the CLI uses,
or with the CLI itself.
"""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor, as_completed
from types import SimpleNamespace

import httpx
import pytest
from servers import LiveServer, login_form, sign_in
from typer.testing import CliRunner

from localvision.auth import AuthStore, auth_enabled, is_loopback
from localvision.cli import app as cli
from localvision.cli.admin import serve_auth
from localvision.config import Settings
from localvision.server.app import create_app

PASSWORDS = {
    "ada": "ada-password-1",  # admin
    "bob": "bob-password-1",
    "carol": "carol-password-1",
    "dave": "dave-password-1",  # the throttling test's victim
}


def start(new_db, lite0, **settings):
    """A live server with auth on, its users (ada is the admin) and one API key each, on a fresh
    database of the module's backend (SQLite, then PostgreSQL)."""
    url = new_db()
    store = AuthStore.open(url)
    for name, password in PASSWORDS.items():
        store.add_user(name, password, role="admin" if name == "ada" else "user")
    keys = {name: store.create_key(name, "tests")[1] for name in PASSWORDS}
    store.close()
    config = Settings(model="efficientnet_lite0", offline=True, db=url, auth="on", **settings)
    live = LiveServer(create_app(config, classifier=lite0))
    return live, SimpleNamespace(url=live.url, db=url, keys=keys)


@pytest.fixture(scope="module")
def server(new_db, lite0):
    live, info = start(new_db, lite0)
    with live:
        yield info


def bearer(key: str) -> dict:
    return {"Authorization": f"Bearer {key}"}


def as_key(server, name: str) -> httpx.Client:
    return httpx.Client(base_url=server.url, headers=bearer(server.keys[name]), timeout=60)


def session(server, name: str) -> httpx.Client:
    client = httpx.Client(base_url=server.url, timeout=60)
    r = sign_in(client, name, PASSWORDS[name])
    assert r.status_code == 303, r.text
    return client


def csrf(client: httpx.Client) -> dict:
    return {"X-CSRF-Token": client.cookies["localvision_csrf"]}


def classify(client: httpx.Client, photo: bytes, name: str, **kw) -> httpx.Response:
    return client.post("/api/v1/classify", files={"file": (name, photo, "image/jpeg")}, **kw)


def code(r: httpx.Response) -> str:
    return r.json()["error"]["code"]


# --- when auth is on ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "host,auto",
    [("127.0.0.1", False), ("localhost", False), ("::1", False), ("[::1]", False),
     ("127.0.0.2", False), ("0.0.0.0", True), ("::", True), ("192.168.1.20", True),
     ("myhost.example", True)],
)  # fmt: skip
def test_auto_turns_auth_on_exactly_for_addresses_other_machines_can_reach(host, auto):
    assert is_loopback(host) is not auto
    assert auth_enabled("auto", host) is auto
    assert auth_enabled("on", host) and not auth_enabled("off", host)


def test_auth_is_off_on_loopback_by_default(live_server):
    assert Settings().auth == "auto"
    r = httpx.get(live_server + "/api/v1/history", params={"limit": 1})
    assert r.status_code == 200
    assert httpx.get(live_server + "/api/v1/me").json() == {
        "auth": False, "user": None, "role": None, "via": None,
    }  # fmt: skip
    assert httpx.get(live_server + "/", headers={"Accept": "text/html"}).status_code == 200
    login = httpx.get(live_server + "/login")  # nothing to sign in to: back to the page
    assert login.status_code == 303 and login.headers["location"] == "/"


def test_serve_refuses_a_public_address_without_auth_unless_told_insecure(tmp_path, capsys):
    r = CliRunner().invoke(cli, ["serve", "--host", "0.0.0.0", "--auth", "off"])
    assert r.exit_code == 2 and "--insecure-no-auth" in r.stderr

    public = Settings(host="0.0.0.0", db=f"sqlite:///{tmp_path}/a.db")
    assert serve_auth(public, insecure_no_auth=True).auth == "off"
    assert "WARNING: authentication is OFF" in capsys.readouterr().err

    # auth on (auto) with nobody able to get in: said by the service as it starts (its start-up
    # policy, whichever way it is started), with the commands that fix it
    assert auth_enabled(serve_auth(public, insecure_no_auth=False).auth, public.host)
    from localvision.database import open_engine
    from localvision.history import HistoryStore
    from localvision.server.service.startup import welcome

    HistoryStore(public.db).engine.dispose()  # the schema, as the service makes it
    said = welcome(public, open_engine(public.db))
    assert "nobody can get in" in said[-1] and "localvision users add NAME --admin" in said[-1]


# --- API keys -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "headers",
    [{}, bearer("lv_not-a-real-key"), {"Authorization": "Basic Ym9iOmJvYg=="},
     {"Authorization": "Bearer"}],
    ids=["missing", "wrong", "not-bearer", "empty"],
)  # fmt: skip
def test_a_request_without_a_valid_key_is_refused_with_401(server, headers):
    for method, path in [("GET", "/api/v1/history"), ("POST", "/api/v1/classify"),
                         ("GET", "/api/v1/models"), ("POST", "/predict")]:  # fmt: skip
        files = {"file": ("a.jpg", b"not read", "image/jpeg")} if method == "POST" else None
        r = httpx.request(method, server.url + path, headers=headers, files=files)
        assert r.status_code == 401, (path, r.text)
        assert code(r) == "unauthorized"
        assert r.headers["www-authenticate"].startswith("Bearer")


def test_a_valid_key_works_and_its_owner_is_recorded(server, photos):
    with as_key(server, "bob") as bob:
        r = classify(bob, photos["coffee"], "bob-coffee.jpg")
        assert r.status_code == 200
        assert r.json()["results"][0]["predictions"][0]["label"] == "espresso"
        assert bob.get("/api/v1/me").json() == {
            "auth": True, "user": "bob", "role": "user", "via": "key",
        }  # fmt: skip
        items = bob.get("/api/v1/history").json()["items"]
    assert items[0]["filename"] == "bob-coffee.jpg" and items[0]["user"] == "bob"


def test_a_revoked_key_is_refused(server, photos):
    store = AuthStore.open(server.db)
    key_id, key = store.create_key("carol", "short-lived")
    store.close()
    assert httpx.get(server.url + "/api/v1/history", headers=bearer(key)).status_code == 200

    r = CliRunner().invoke(cli, ["keys", "revoke", str(key_id)], env={"LOCALVISION_DB": server.db})
    assert r.exit_code == 0 and f"Revoked API key {key_id}" in r.stdout

    r = httpx.get(server.url + "/api/v1/history", headers=bearer(key))
    assert r.status_code == 401 and code(r) == "unauthorized"
    assert "revoked" in r.json()["error"]["message"]


# --- what stays open, what does not -------------------------------------------------------------
def test_health_the_sign_in_page_and_its_stylesheet_stay_open(server):
    for path in ("/healthz", "/readyz", "/login", "/static/style.css", "/static/login.css"):
        assert httpx.get(server.url + path).status_code == 200, path


@pytest.mark.parametrize(
    "path", ["/docs", "/openapi.json", "/metrics", "/swagger/swagger-ui.css", "/static/app.js",
             "/api/v1/history.csv", "/api/v1/users", "/api/v1/keys", "/api/v1/me"],
)  # fmt: skip
def test_docs_metrics_and_everything_else_need_auth(server, path):
    r = httpx.get(server.url + path)
    assert r.status_code == 401 and code(r) == "unauthorized"
    with as_key(server, "ada") as ada:
        r = ada.get(path)
        # /metrics comes from another part of the service; auth only has to let the key through
        assert r.status_code == 200 or (path == "/metrics" and r.status_code != 401), path


def test_the_api_docs_offer_the_api_key(server):
    with as_key(server, "ada") as ada:
        schema = ada.get("/openapi.json").json()
    assert schema["components"]["securitySchemes"]["apiKey"]["scheme"] == "bearer"
    assert schema["security"] == [{"apiKey": []}]


def test_pages_send_a_browser_to_the_sign_in_page_and_back(server):
    r = httpx.get(server.url + "/history?page=2", headers={"Accept": "text/html"})
    assert r.status_code == 303
    assert r.headers["location"] == "/login?next=%2Fhistory%3Fpage%3D2"
    with httpx.Client(base_url=server.url, timeout=60) as browser:
        r = sign_in(browser, "bob", PASSWORDS["bob"], next_url="/history?page=2")
        assert r.status_code == 303 and r.headers["location"] == "/history?page=2"
        assert browser.get("/history", headers={"Accept": "text/html"}).status_code == 200
        assert browser.get("/docs", headers={"Accept": "text/html"}).status_code == 200
        # what a signed-in user sees is never kept for the next one
        assert "no-cache" in browser.get("/history").headers["cache-control"]


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/", "/\\evil.example"])
def test_the_sign_in_page_never_redirects_to_another_site(server, target):
    with httpx.Client(base_url=server.url, timeout=60) as browser:
        r = sign_in(browser, "bob", PASSWORDS["bob"], next_url=target)
        assert r.status_code == 303 and r.headers["location"] == "/"
        r = browser.get("/login", params={"next": target})  # already signed in
        assert r.status_code == 303 and r.headers["location"] == "/"


# --- web sign-in --------------------------------------------------------------------------------
def test_sign_in_sets_a_signed_http_only_session_cookie(server):
    with httpx.Client(base_url=server.url, timeout=60) as browser:
        r = sign_in(browser, "carol", PASSWORDS["carol"])
        assert r.status_code == 303 and r.headers["location"] == "/"
        cookies = {c.split("=", 1)[0]: c.lower() for c in r.headers.get_list("set-cookie")}
        assert "httponly" in cookies["localvision_session"]
        assert "samesite=lax" in cookies["localvision_session"]
        assert "httponly" not in cookies["localvision_csrf"]  # the pages read it, on purpose
        assert PASSWORDS["carol"] not in r.headers.get("set-cookie")
        assert browser.get("/api/v1/me").json()["user"] == "carol"


def test_a_wrong_password_or_unknown_user_is_refused(server):
    with httpx.Client(base_url=server.url, timeout=60) as client:
        for user, password in [("carol", "not-her-password"), ("nobody", "whatever-1")]:
            r = sign_in(client, user, password)
            assert r.status_code == 401 and code(r) == "invalid_credentials"
            assert r.json()["error"]["message"] == "Wrong user name or password."
            assert "localvision_session" not in client.cookies
        # a browser gets the form again, with the message and the name it typed
        r = sign_in(client, "carol", "not-her-password", headers={"Accept": "text/html"})
        assert r.status_code == 401 and "Wrong user name or password." in r.text
        assert 'value="carol"' in r.text


def test_the_sign_in_form_is_safe_against_csrf(server):
    with httpx.Client(base_url=server.url, timeout=60) as client:
        data = {"username": "carol", "password": PASSWORDS["carol"], "next": "/"}
        r = client.post("/login", data=data)  # no form token, no form cookie
        assert r.status_code == 403 and code(r) == "csrf_failed"
        token = login_form(client)
        client.cookies.clear()  # the token alone, from another browser, is not enough
        r = client.post("/login", data={**data, "csrf_token": token})
        assert r.status_code == 403 and code(r) == "csrf_failed"


def test_failed_sign_ins_are_throttled_per_user_and_others_are_unaffected(server):
    with httpx.Client(base_url=server.url, timeout=60) as client:
        for _ in range(5):
            assert sign_in(client, "dave", "guess-guess").status_code == 401
        # now even the right password is not tried
        r = sign_in(client, "dave", PASSWORDS["dave"])
        assert r.status_code == 429 and code(r) == "too_many_attempts"
        assert 1 <= int(r.headers["retry-after"]) <= 300
        page = sign_in(client, "dave", PASSWORDS["dave"], headers={"Accept": "text/html"})
        assert page.status_code == 429 and "Too many failed sign-ins" in page.text
        # carol, from the same address, signs in as usual; dave's API key still works
        assert sign_in(client, "carol", PASSWORDS["carol"]).status_code == 303
        with as_key(server, "dave") as dave:
            assert dave.get("/api/v1/history").status_code == 200


def test_many_failures_from_one_address_throttle_it(new_db, lite0):
    live, server = start(new_db, lite0)
    with live, httpx.Client(base_url=server.url, timeout=60) as client:
        for i in range(20):  # different names each time: a password spray
            assert sign_in(client, f"user{i}", "password-1").status_code == 401
        r = sign_in(client, "carol", PASSWORDS["carol"])
        assert r.status_code == 429 and code(r) == "too_many_attempts"


def ready_forms(server, n: int) -> list[tuple[httpx.Client, str]]:
    """n clients, each with the sign-in form open (its cookie and token), so that their POSTs
    can arrive together."""
    clients = [httpx.Client(base_url=server.url, timeout=120) for _ in range(n)]
    return [(client, login_form(client)) for client in clients]


def post_form(form: tuple[httpx.Client, str], username: str, password: str) -> httpx.Response:
    client, token = form
    data = {"username": username, "password": password, "csrf_token": token, "next": "/"}
    try:
        return client.post("/login", data=data)
    finally:
        client.close()


def password_checks(server) -> dict[str, float]:
    """The password-check gauges from /metrics: running, waiting, peak."""
    with as_key(server, "ada") as admin:
        text = admin.get("/metrics").text
    found = re.findall(r"^localvision_password_checks_(\w+) ([0-9.e+]+)$", text, re.MULTILINE)
    return {name: float(value) for name, value in found}


def test_a_burst_of_parallel_guesses_gets_only_the_limit_checked(new_db, lite0):
    """25 wrong passwords for one name sent at once: 5 (the limit) are checked, the rest refused
    unchecked, and the right password, sent while the burst is still being answered, too."""
    live, server = start(new_db, lite0)
    with live, ThreadPoolExecutor(26) as pool:
        forms = ready_forms(server, 26)
        burst = [pool.submit(post_form, forms[i], "dave", f"guess-{i:02}") for i in range(25)]
        right = None
        for done in as_completed(burst):  # once one was refused, all 5 tries are taken
            if right is None and done.result().status_code == 429:
                right = pool.submit(post_form, forms[25], "dave", PASSWORDS["dave"])
        answers = [f.result() for f in burst]
        statuses = sorted(r.status_code for r in answers)
        assert statuses == [401] * 5 + [429] * 20
        for r in answers:
            if r.status_code == 429:
                assert code(r) == "too_many_attempts" and int(r.headers["retry-after"]) >= 1
        assert right is not None and right.result().status_code == 429
        assert code(right.result()) == "too_many_attempts"
        with httpx.Client(base_url=server.url, timeout=60) as client:  # after it, still refused
            r = sign_in(client, "dave", PASSWORDS["dave"])
            assert r.status_code == 429 and 60 <= int(r.headers["retry-after"]) <= 300
            assert sign_in(client, "carol", PASSWORDS["carol"]).status_code == 303
        gauges = password_checks(server)
        assert 1 <= gauges["peak"] <= 2 and gauges["running"] == gauges["waiting"] == 0


def test_a_parallel_spray_from_one_address_is_cut_at_its_limit(new_db, lite0):
    """25 names at once from one address (the limit is 20): 20 are checked, one at a time with
    password_checks=1, and the others refused unchecked; then the address's real users too."""
    live, server = start(new_db, lite0, password_checks=1, password_check_wait_s=300)
    with live, ThreadPoolExecutor(25) as pool:
        forms = ready_forms(server, 25)
        spray = [pool.submit(post_form, f, f"user{i}", "password-1") for i, f in enumerate(forms)]
        statuses = sorted(f.result().status_code for f in spray)
        assert statuses == [401] * 20 + [429] * 5
        with httpx.Client(base_url=server.url, timeout=60) as client:
            r = sign_in(client, "carol", PASSWORDS["carol"])
            assert r.status_code == 429 and code(r) == "too_many_attempts"
        assert password_checks(server) == {"running": 0, "waiting": 0, "peak": 1}


def test_a_sign_in_that_finds_no_free_password_check_is_told_to_come_back(new_db, lite0):
    """With every slot taken for longer than password_check_wait_s: 503 sign_in_busy with
    Retry-After, and the attempt does not count against the name."""
    import asyncio

    live, server = start(new_db, lite0, password_checks=1, password_check_wait_s=0.2)
    checks = live.server.config.app.state.auth_gate.password_checks

    async def hold(taken: asyncio.Event, release: asyncio.Event):
        async with checks.slot():  # the one slot, held on the server's own loop
            taken.set()
            await release.wait()

    with live:
        loop = live.server.servers[0].get_loop()
        taken, release = asyncio.Event(), asyncio.Event()
        held = asyncio.run_coroutine_threadsafe(hold(taken, release), loop)
        asyncio.run_coroutine_threadsafe(taken.wait(), loop).result(timeout=60)
        with httpx.Client(base_url=server.url, timeout=60) as client:
            for _ in range(6):  # more than the name's limit: none of them counted
                r = sign_in(client, "carol", PASSWORDS["carol"])
                assert r.status_code == 503 and code(r) == "sign_in_busy", r.text
                assert int(r.headers["retry-after"]) >= 1
            loop.call_soon_threadsafe(release.set)
            held.result(timeout=60)
            assert sign_in(client, "carol", PASSWORDS["carol"]).status_code == 303


def test_a_tampered_session_cookie_is_refused(server):
    client = session(server, "bob")
    signed = client.cookies["localvision_session"]
    payload, stamp, signature = signed.split(".")
    forged = {
        "payload": f"{payload[:-2]}AA.{stamp}.{signature}",
        "signature": f"{payload}.{stamp}.{signature[:-2]}AA",
        "garbage": "not-a-cookie",
    }
    for name, value in forged.items():
        cookie = {"Cookie": f"localvision_session={value}"}
        r = httpx.get(server.url + "/api/v1/history", headers=cookie)
        assert r.status_code == 401 and code(r) == "unauthorized", name
        page = httpx.get(server.url + "/", headers={**cookie, "Accept": "text/html"})
        assert page.status_code == 303 and page.headers["location"].startswith("/login"), name
    assert client.get("/api/v1/history").status_code == 200  # the real one still works


def test_a_cookie_post_without_the_csrf_token_is_refused(server, photos):
    client = session(server, "bob")
    for headers in ({}, {"X-CSRF-Token": "guessed"}, {"X-CSRF-Token": b"caf\xe9"}):
        r = classify(client, photos["camera"], "no-token.jpg", headers=headers)
        assert r.status_code == 403 and code(r) == "csrf_failed"
    r = classify(client, photos["camera"], "with-token.jpg", headers=csrf(client))
    assert r.status_code == 200
    # API-key requests carry no cookie a browser could replay: no token needed
    with as_key(server, "bob") as bob:
        assert classify(bob, photos["camera"], "key.jpg").status_code == 200
    names = {i["filename"] for i in client.get("/api/v1/history").json()["items"]}
    assert "with-token.jpg" in names and "no-token.jpg" not in names


def test_signing_out_ends_the_session_on_the_server(server):
    client = session(server, "carol")
    stolen = client.cookies["localvision_session"]
    r = client.post("/logout", data={"csrf_token": "wrong"})
    assert r.status_code == 403 and code(r) == "csrf_failed"  # no one else can sign you out
    r = client.post("/logout", data={"csrf_token": client.cookies["localvision_csrf"]})
    assert r.status_code == 303 and r.headers["location"] == "/login"
    r = httpx.get(server.url + "/api/v1/me", headers={"Cookie": f"localvision_session={stolen}"})
    assert r.status_code == 401


def test_a_new_password_ends_the_users_sessions(server):
    client = session(server, "carol")
    env = {"LOCALVISION_DB": server.db}
    r = CliRunner().invoke(
        cli, ["users", "passwd", "carol", "--password-stdin"], input="carol-password-2\n", env=env
    )
    assert r.exit_code == 0, r.output
    assert client.get("/api/v1/me").status_code == 401
    assert sign_in(client, "carol", "carol-password-2").status_code == 303
    r = CliRunner().invoke(
        cli, ["users", "passwd", "carol", "--password-stdin"], input=PASSWORDS["carol"], env=env
    )
    assert r.exit_code == 0


# --- roles --------------------------------------------------------------------------------------
def test_a_user_sees_only_their_own_history_and_an_admin_sees_all(server, photos):
    with as_key(server, "bob") as bob, as_key(server, "carol") as carol:
        assert classify(bob, photos["chelsea"], "bob-cat.jpg").status_code == 200
        assert classify(carol, photos["rocket"], "carol-rocket.jpg").status_code == 200
        mine_and_not = [(bob, "bob", "carol-rocket.jpg"), (carol, "carol", "bob-cat.jpg")]
        for client, me, other in mine_and_not:
            body = client.get("/api/v1/history", params={"limit": 1000}).json()
            assert {i["user"] for i in body["items"]} == {me}
            assert body["total"] == len(body["items"])
            assert other not in {i["filename"] for i in body["items"]}
            csv_text = client.get("/api/v1/history.csv").text
            assert other not in csv_text and f"{me}-" in csv_text
    with as_key(server, "ada") as ada:
        items = ada.get("/api/v1/history", params={"limit": 1000}).json()["items"]
        names = {i["filename"] for i in items}
        assert {"bob-cat.jpg", "carol-rocket.jpg"} <= names
        assert {"bob", "carol"} <= {i["user"] for i in items}


def test_only_an_admin_sees_users_and_every_key(server):
    with as_key(server, "bob") as bob:
        r = bob.get("/api/v1/users")
        assert r.status_code == 403 and code(r) == "forbidden"
        assert {k["owner"] for k in bob.get("/api/v1/keys").json()["keys"]} == {"bob"}
    with as_key(server, "ada") as ada:
        users = {u["username"]: u for u in ada.get("/api/v1/users").json()["users"]}
        assert users["ada"]["role"] == "admin" and users["bob"]["role"] == "user"
        keys = ada.get("/api/v1/keys").json()["keys"]
        assert {"ada", "bob", "carol"} <= {k["owner"] for k in keys}
        assert all(set(k) >= {"id", "prefix", "last_used_at", "revoked_at"} for k in keys)
        assert not any(server.keys["bob"] in str(k) for k in keys)  # never the key itself


# --- the CLI ------------------------------------------------------------------------------------
@pytest.fixture
def run(db_url):
    """`localvision ...` against a fresh database, as LOCALVISION_DB."""
    db = db_url
    runner = CliRunner()

    def invoke(*args, input=None):
        return runner.invoke(cli, list(args), input=input, env={"LOCALVISION_DB": db})

    invoke.db = db
    return invoke


def test_users_add_list_passwd_remove(run):
    r = run("users", "add", "erin", "--admin", "--password-stdin", input="erin-password\n")
    assert r.exit_code == 0 and "Added admin erin" in r.stdout
    r = run("users", "add", "frank", input="frank-password\nfrank-password\n")  # prompted twice
    assert r.exit_code == 0 and "Added user frank" in r.stdout

    store = AuthStore.open(run.db)
    try:
        assert store.authenticate("erin", "erin-password")["role"] == "admin"
        assert store.authenticate("frank", "frank-password")["role"] == "user"
        hashed = store.get_user("frank")["password_hash"]
        assert hashed.startswith("$argon2id$") and "frank-password" not in hashed
    finally:
        store.close()

    r = run("users", "list")
    assert r.exit_code == 0 and "erin" in r.stdout and "frank" in r.stdout

    r = run("users", "passwd", "frank", "--password-stdin", input="frank-password-2\n")
    assert r.exit_code == 0
    r = run("users", "remove", "frank")
    assert r.exit_code == 0 and "Removed frank" in r.stdout
    store = AuthStore.open(run.db)
    try:
        assert store.get_user("frank") is None
    finally:
        store.close()


@pytest.mark.parametrize(
    "args,stdin,message",
    [(["users", "add", "erin", "--password-stdin"], "short\n", "too short"),
     (["users", "add", "bad name!", "--password-stdin"], "long-enough-1\n", "Invalid user name"),
     (["users", "add", "grace", "--password-stdin"], "long-enough-1\n", "already exists"),
     (["users", "remove", "nobody"], None, "There is no user 'nobody'"),
     (["users", "passwd", "nobody", "--password-stdin"], "long-enough-1\n", "no user"),
     (["keys", "create", "--user", "nobody"], None, "There is no user 'nobody'"),
     (["keys", "revoke", "999"], None, "no API key with id 999")],
)  # fmt: skip
def test_cli_mistakes_exit_2_with_a_message(run, args, stdin, message):
    assert run("users", "add", "grace", "--password-stdin", input="grace-password\n").exit_code == 0
    r = run(*args, input=stdin)
    assert r.exit_code == 2 and message in r.stderr, r.output


def test_keys_create_list_revoke(run):
    # no users yet: the key's default owner, admin, is made (an admin without a password)
    r = run("keys", "create", "--name", "ci")
    assert r.exit_code == 0, r.output
    key = r.stdout.strip()
    assert re.fullmatch(r"lv_[A-Za-z0-9_-]{43}", key)  # alone on stdout: KEY=$(...) works
    assert "not shown again" in r.stderr

    assert run("users", "add", "heidi", "--password-stdin", input="heidi-password\n").exit_code == 0
    r = run("keys", "create", "--user", "heidi", "--name", "laptop")
    assert r.exit_code == 0
    store = AuthStore.open(run.db)
    try:
        assert store.verify_key(key).role == "admin"
        assert store.verify_key(r.stdout.strip()).user == "heidi"
        listed = {k["name"]: k for k in store.list_keys()}
        with store.engine.connect() as conn:
            rows = conn.exec_driver_sql("SELECT key_hash, prefix FROM api_keys").all()
        assert key not in str(rows)  # stored hashed
    finally:
        store.close()

    r = run("keys", "list")
    assert r.exit_code == 0
    assert "ci" in r.stdout and "laptop" in r.stdout and "heidi" in r.stdout
    assert listed["ci"]["prefix"] in r.stdout and key not in r.stdout

    r = run("keys", "revoke", str(listed["laptop"]["id"]))
    assert r.exit_code == 0 and "laptop" in r.stdout
    r = run("users", "remove", "heidi")
    assert "revoked 0 API key(s)" in r.stdout  # already revoked
    store = AuthStore.open(run.db)
    try:
        revoked = {k["name"]: k["revoked_at"] for k in store.list_keys()}
        assert revoked["laptop"] is not None and revoked["ci"] is None
    finally:
        store.close()


def test_removing_a_user_revokes_their_keys_and_ends_their_access(new_db, lite0):
    live, server = start(new_db, lite0)
    with live:
        client = session(server, "bob")
        r = CliRunner().invoke(cli, ["users", "remove", "bob"], env={"LOCALVISION_DB": server.db})
        assert r.exit_code == 0 and "revoked 1 API key(s)" in r.stdout
        assert client.get("/api/v1/me").status_code == 401
        r = httpx.get(server.url + "/api/v1/me", headers=bearer(server.keys["bob"]))
        assert r.status_code == 401 and "revoked" in r.json()["error"]["message"]


def test_a_session_ends_when_it_expires(db_url):
    from datetime import timedelta

    store = AuthStore.open(db_url)
    try:
        store.add_user("ivan", "ivan-password")
        live, _ = store.create_session("ivan", timedelta(hours=1))
        expired, _ = store.create_session("ivan", timedelta(seconds=-1))
        assert store.session_principal(live).user == "ivan"
        assert store.session_principal(expired) is None
    finally:
        store.close()


# --- the browser, with auth on ------------------------------------------------------------------
def test_the_web_ui_signs_in_recognizes_and_signs_out(server, browser, photo_dir):
    from playwright.sync_api import expect

    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(server.url + "/history")
    assert page.url.startswith(server.url + "/login?next=")
    page.fill("#username", "ada")
    page.fill("#password", PASSWORDS["ada"])
    page.click("[data-testid=sign-in]")
    page.wait_for_url(server.url + "/history")
    page.goto(server.url + "/")
    expect(page.locator("#auth-user")).to_contain_text("ada (admin)")
    page.set_input_files("#file-input", str(photo_dir / "coffee.jpg"))
    page.click("#recognize")  # a POST with the session cookie: app.js sends the token
    expect(page.locator("#results")).to_contain_text("espresso", timeout=30_000)
    page.click("[data-testid=sign-out]")
    page.wait_for_url(server.url + "/login")
    page.goto(server.url + "/")
    assert page.url.startswith(server.url + "/login")
    assert errors == []
    page.close()
