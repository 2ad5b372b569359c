"""Request limits against a real uvicorn server on loopback, with raw sockets where a polite HTTP
client cannot misbehave enough: oversize bodies (declared, chunked, per file), multipart shape,
slow clients, oversize heads, the model deadline and overload. After each hostile request the
server still answers a real photo, and no spooled upload is left behind."""

from __future__ import annotations

import os
import select
import socket
import tempfile
import time

import httpx
import pytest
from servers import LiveServer

from localvision.config import Settings
from localvision.server.app import create_app
from localvision.server.guards.body import API_JSON_BYTES, MULTIPART_OVERHEAD, body_policy
from localvision.server.guards.protocol import uvicorn_options

MB = 1024 * 1024
KB = 1024

# Small limits keep the test fast; each test names the limit it crosses.
LIMITS = dict(
    max_upload_mb=2,  # > Starlette's 1 MB in-memory spool, so an accepted part does reach disk
    max_request_mb=6,
    max_parts=8,
    max_field_kb=4,
    max_header_kb=8,
    header_timeout_s=1.5,
    body_timeout_s=1.5,
    keep_alive_s=1,
)


def make_server(tmp_path_factory, lite0, **overrides) -> LiveServer:
    db = tmp_path_factory.mktemp("limits-db") / "history.db"
    settings = Settings(
        model="efficientnet_lite0", offline=True, db=f"sqlite:///{db}", **{**LIMITS, **overrides}
    )
    return LiveServer(create_app(settings, classifier=lite0), **uvicorn_options(settings))


@pytest.fixture(scope="module")
def server(tmp_path_factory, lite0):
    with make_server(tmp_path_factory, lite0) as srv:
        yield srv


# --- helpers ------------------------------------------------------------------------------------
BOUNDARY = "lv-test-boundary"
MULTIPART = f"multipart/form-data; boundary={BOUNDARY}"
CHUNKED_MULTIPART = {"Content-Type": MULTIPART, "Transfer-Encoding": "chunked"}
NAMELESS_PART = f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\n\r\nx\r\n--{BOUNDARY}--\r\n".encode()


def part(name: str, data: bytes, filename: str | None = None) -> bytes:
    disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
    return f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\n\r\n".encode() + data + b"\r\n"


def multipart(*parts: bytes) -> bytes:
    return b"".join(parts) + f"--{BOUNDARY}--\r\n".encode()


def head(path: str, headers: dict[str, str | int]) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def connect(server: LiveServer) -> socket.socket:
    return socket.create_connection(("127.0.0.1", server.port), timeout=15)


def answered(sock: socket.socket, wait: float = 0.0) -> bool:
    return bool(select.select([sock], [], [], wait)[0])


def read_response(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """One HTTP/1.1 response (status, lower-cased headers, body) from a raw socket."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed before a response: {data!r}"
        data += chunk
    raw_head, body = data.split(b"\r\n\r\n", 1)
    status_line, *lines = raw_head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, v in (x.split(":", 1) for x in lines)}
    while len(body) < int(headers.get("content-length", 0)):
        chunk = sock.recv(65536)
        assert chunk, "connection closed in the middle of the response body"
        body += chunk
    return int(status_line.split()[1]), headers, body


def error_code(body: bytes) -> str:
    import json

    return json.loads(body)["error"]["code"]


def send_until_answered(sock: socket.socket, pieces) -> int:
    """Send pieces until the server answers or hangs up; returns the bytes sent."""
    sent = 0
    for piece in pieces:
        if answered(sock):
            break
        try:
            sock.sendall(piece)
        except (BrokenPipeError, ConnectionResetError):
            break  # the server refused and hung up: its answer is waiting to be read
        sent += len(piece)
    return sent


def chunked(data_pieces):
    for piece in data_pieces:
        yield b"%x\r\n" % len(piece) + piece + b"\r\n"
    yield b"0\r\n\r\n"


def spooled_files() -> set[str]:
    """Anonymous temp files this process holds open. Starlette spools an upload past 1 MB to a
    temp file that has no name (O_TMPFILE, or unlinked at once), which no listing of the temp
    directory shows: the server runs in this process, so they are found among its descriptors."""
    tmp = os.path.realpath(tempfile.gettempdir())
    found = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith(tmp + "/") and target.endswith(" (deleted)"):
            found.add(target)
    return found


@pytest.fixture
def still_serving(server, photos):
    """Around a hostile request: no spooled upload left behind, and a real photo still works."""
    before = spooled_files()
    yield
    assert not spooled_files() - before, "a spooled upload was left open"
    r = httpx.post(
        server.url + "/api/v1/classify",
        files={"file": ("coffee.jpg", photos["coffee"], "image/jpeg")},
        timeout=60,
    )
    assert r.status_code == 200, r.text
    assert r.json()["results"][0]["predictions"][0]["label"] == "espresso"


# --- limits per route ---------------------------------------------------------------------------
def test_body_policy_per_route():
    s = Settings(
        max_upload_mb=10, max_request_mb=200, max_zip_mb=300, max_parts=64, max_field_kb=64
    )
    single = body_policy(s, "/predict")
    assert single.max_body == 10 * MB + MULTIPART_OVERHEAD and single.max_file == 10 * MB
    several = body_policy(s, "/api/v1/classify")
    assert several.max_body == 200 * MB and several.max_file == 10 * MB
    archive = body_policy(s, "/api/v1/classify/zip")
    assert archive.max_body == 300 * MB + MULTIPART_OVERHEAD and archive.max_file == 300 * MB
    assert several.max_parts == 64 and several.max_field == 64 * KB


def test_body_policy_for_kserve_json_and_binary_requests():
    s = Settings(max_request_mb=200, max_json_mb=16)
    infer = "/v2/models/resnet18/infer"
    as_json = body_policy(s, infer, {"content-type": "application/json"})
    assert as_json.max_body == 16 * MB and as_json.max_json_head is None and as_json.hint
    binary = body_policy(s, infer, {"inference-header-content-length": "120"})
    assert binary.max_body == 200 * MB and binary.max_json_head == 16 * MB
    small = body_policy(Settings(max_request_mb=6, max_json_mb=16), infer)
    assert small.max_body == 6 * MB  # a JSON body is still a request: the smaller limit holds
    assert body_policy(s, "/api/v1/classify", {}).max_json_head is None


@pytest.mark.parametrize("content_type", ["application/json", "application/json; charset=utf-8",
                                          "application/merge-patch+json"])  # fmt: skip
def test_the_apis_own_json_bodies_have_a_small_limit(content_type):
    s = Settings(max_request_mb=200)
    for path in ("/api/v1/streams", "/api/v1/teach/projects", "/api/v1/rules/receipt"):
        assert body_policy(s, path, {"content-type": content_type}).max_body == API_JSON_BYTES
    assert body_policy(s, "/api/v1/classify", {"content-type": "multipart/form-data"}).max_body \
        == 200 * MB


@pytest.mark.usefixtures("still_serving")
def test_a_large_json_body_to_the_api_is_refused_as_it_arrives(server):
    """2 MB of tiny JSON values (what made KServe's JSON stall the server) to a JSON route of
    the API itself: refused at 1 MB, before FastAPI would parse it on the event loop."""
    pieces = chunked([b'{"url": "rtsp://127.0.0.1/x", "name": [' + b"[]," * 700_000 + b"[]]}"])
    with connect(server) as sock:
        sock.sendall(head("/api/v1/streams", {"Content-Type": "application/json",
                                              "Transfer-Encoding": "chunked"}))  # fmt: skip
        send_until_answered(sock, pieces)
        status, _, body = read_response(sock)
    assert status == 413 and error_code(body) == "payload_too_large"


# --- body size ----------------------------------------------------------------------------------
@pytest.mark.usefixtures("still_serving")
@pytest.mark.parametrize("expect_continue", [False, True], ids=["body", "expect-100"])
def test_declared_oversize_is_refused_before_the_body_is_sent(server, expect_continue):
    headers = {"Content-Type": MULTIPART, "Content-Length": 50 * MB}
    if expect_continue:
        headers["Expect"] = "100-continue"
    with connect(server) as sock:
        sock.sendall(head("/api/v1/classify", headers))
        if not expect_continue:
            sock.sendall(part("file", b"\xff" * 64 * KB, "big.jpg"))  # 64 KB of the 50 MB
        status, headers, body = read_response(sock)
    assert status == 413 and error_code(body) == "payload_too_large"
    assert headers["connection"] == "close"  # the rest is never read


@pytest.mark.usefixtures("still_serving")
def test_chunked_oversize_file_is_refused_as_it_streams(server):
    """No Content-Length: the 2 MB file limit is crossed mid-stream and answered at once."""
    pieces = chunked([part("file", b"", "big.jpg")[:-2]] + [b"\xff" * 64 * KB] * 640)  # 40 MB
    with connect(server) as sock:
        sock.sendall(head("/api/v1/classify", CHUNKED_MULTIPART))
        sent = send_until_answered(sock, pieces)
        status, _, body = read_response(sock)
    assert status == 413 and error_code(body) == "file_too_large"
    assert sent < 40 * MB  # answered before the client could send it all


@pytest.mark.usefixtures("still_serving")
def test_chunked_files_together_over_the_request_limit_are_refused(server):
    """Each file is under the 2 MB file limit; together they cross the 6 MB request limit."""
    one = part("file", b"\xff" * (2 * MB - KB), "photo.jpg")
    body = multipart(*[one] * 8)  # 16 MB
    pieces = chunked(body[i : i + 64 * KB] for i in range(0, len(body), 64 * KB))
    with connect(server) as sock:
        sock.sendall(head("/api/v1/classify", CHUNKED_MULTIPART))
        sent = send_until_answered(sock, pieces)
        status, _, body = read_response(sock)
    assert status == 413 and error_code(body) == "payload_too_large"
    assert sent < 16 * MB


@pytest.mark.usefixtures("still_serving")
def test_oversize_file_under_the_request_limit_is_refused(server):
    """Content-Length fits the request limit; the one file in it does not fit the file limit."""
    r = httpx.post(
        server.url + "/api/v1/classify",
        files={"file": ("big.jpg", b"\xff" * (2 * MB + 1), "image/jpeg")},
        timeout=30,
    )
    assert r.status_code == 413 and r.json()["error"]["code"] == "file_too_large"


def test_a_file_is_spooled_only_up_to_the_limit(server):
    """The bytes of a file part reach Starlette's spool file up to the limit; the chunk that
    crosses it is refused, and the spool file is closed."""
    before = spooled_files()
    with connect(server) as sock:
        headers = {"Content-Type": MULTIPART, "Content-Length": 5 * MB}
        sock.sendall(head("/api/v1/classify", headers))
        sock.sendall(part("file", b"", "big.jpg")[:-2] + b"\xff" * (2 * MB - 10))
        deadline = time.monotonic() + 30
        while not (spooled := spooled_files() - before) and time.monotonic() < deadline:
            time.sleep(0.05)  # wait for the server to spool what we sent (polling, not timing)
        (spool,) = spooled  # past 1 MB, Starlette moved the part to an anonymous temp file
        while os.stat(spool_fd(spool)).st_size < 2 * MB - 10 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert os.stat(spool_fd(spool)).st_size == 2 * MB - 10
        sock.sendall(b"\xff" * 64 * KB)  # crosses the 2 MB limit
        status, _, body = read_response(sock)
    assert status == 413 and error_code(body) == "file_too_large"
    assert not (spooled_files() - before)


def spool_fd(target: str) -> str:
    for fd in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{fd}") == target:
                return f"/proc/self/fd/{fd}"
        except OSError:
            continue
    raise AssertionError(f"{target} is no longer open")


# --- multipart shape ----------------------------------------------------------------------------
@pytest.mark.usefixtures("still_serving")
@pytest.mark.parametrize(
    "content_type,body,status,code",
    [
        (MULTIPART, multipart(*[part("file", b"x", f"{i}.jpg") for i in range(9)]), 413,
         "too_many_parts"),
        (MULTIPART, multipart(part("note", b"n" * 5 * KB), part("file", b"x", "a.jpg")), 413,
         "field_too_large"),
        ("multipart/form-data", multipart(part("file", b"x", "a.jpg")), 400, "invalid_multipart"),
        ("multipart/form-data; boundary=", b"--\r\n", 400, "invalid_multipart"),
        (MULTIPART, b"this is not multipart at all\r\n" * 10, 400, "invalid_multipart"),
        (MULTIPART, multipart(part("file", b"x", "a.jpg"))[:-30], 400, "invalid_multipart"),
        (MULTIPART, NAMELESS_PART, 400, "invalid_multipart"),
    ],
    ids=["too_many_parts", "huge_field", "missing_boundary", "empty_boundary", "garbled_body",
         "cut_off_body", "part_without_name"],
)  # fmt: skip
def test_multipart_shape_is_refused_with_a_typed_error(server, content_type, body, status, code):
    r = httpx.post(
        server.url + "/api/v1/classify", content=body, headers={"Content-Type": content_type}
    )
    assert r.status_code == status, r.text
    assert r.json()["error"]["code"] == code


@pytest.mark.usefixtures("still_serving")
def test_the_most_parts_allowed_are_accepted(server, photos):
    files = [("file", (f"{i}.jpg", photos["coffee"], "image/jpeg")) for i in range(8)]
    r = httpx.post(server.url + "/api/v1/classify", files=files, timeout=60)
    assert r.status_code == 200 and len(r.json()["results"]) == 8


# --- slow clients -------------------------------------------------------------------------------
@pytest.mark.usefixtures("still_serving")
def test_a_trickled_body_is_cut_off(server):
    """Slowloris on the body: one byte at a time, far below min_body_rate_kb."""
    with connect(server) as sock:
        sock.sendall(head("/api/v1/classify", {"Content-Type": MULTIPART, "Content-Length": 10**4}))
        trickle = part("file", b"\xff" * 9000, "slow.jpg")
        for i in range(300):  # at most 30 s of trickling; the deadline is 1.5 s
            if answered(sock, 0.1):
                break
            sock.sendall(trickle[i : i + 1])
        status, headers, body = read_response(sock)
    assert status == 408 and error_code(body) == "request_timeout"
    assert headers["connection"] == "close"


@pytest.mark.usefixtures("still_serving")
def test_trickled_headers_are_cut_off(server):
    """Slowloris on the headers: a header line now and then, never the blank line."""
    with connect(server) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        for i in range(300):
            if answered(sock, 0.1):
                break
            sock.sendall(f"X-Slow-{i}: 1\r\n".encode())
        status, _, body = read_response(sock)
    assert status == 408 and error_code(body) == "request_timeout"


def test_a_silent_connection_is_closed(server):
    with connect(server) as sock:
        assert sock.recv(1) == b""  # closed by the server after header_timeout_s


def test_an_idle_keep_alive_connection_is_closed(server):
    with connect(server) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        status, _, _ = read_response(sock)
        assert status == 200
        assert sock.recv(1) == b""  # closed after keep_alive_s


# --- oversize and broken heads ------------------------------------------------------------------
@pytest.mark.usefixtures("still_serving")
@pytest.mark.parametrize("size", [12 * KB, 1 * MB], ids=["12KB-in-one-read", "1MB"])
def test_oversize_headers_are_refused(server, size):
    with connect(server) as sock:
        try:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"a" * size
                         + b"\r\n\r\n")  # fmt: skip
        except (BrokenPipeError, ConnectionResetError):
            pass  # refused at the first 8 KB; the answer is waiting
        status, _, body = read_response(sock)
    assert status == 431 and error_code(body) == "headers_too_large"


@pytest.mark.usefixtures("still_serving")
@pytest.mark.parametrize(
    "raw",
    [
        b"\x16\x03\x01 this is not HTTP\r\n\r\n",
        head("/api/v1/classify", CHUNKED_MULTIPART) + b"zz-not-a-chunk-size\r\n",
    ],
    ids=["not-http", "broken-chunked-body"],
)
def test_a_request_that_is_not_http_gets_json(server, raw):
    with connect(server) as sock:
        sock.sendall(raw)
        status, headers, body = read_response(sock)
    assert status == 400 and error_code(body) == "bad_request"
    assert headers["content-type"] == "application/json"


# --- the model deadline, overload: 503 with Retry-After, never a hang ---------------------------
def test_a_request_past_its_deadline_gets_503_timeout(tmp_path_factory, lite0, photos):
    with make_server(tmp_path_factory, lite0, request_timeout_s=1e-9) as srv:
        r = httpx.post(srv.url + "/api/v1/classify", files={"file": ("c.jpg", photos["coffee"])})
        assert r.status_code == 503 and r.json()["error"]["code"] == "timeout"
        assert int(r.headers["retry-after"]) >= 1
        assert httpx.get(srv.url + "/healthz").status_code == 200


def test_a_full_queue_gets_503_overloaded(tmp_path_factory, lite0, photos):
    with make_server(tmp_path_factory, lite0, queue_size=1) as srv:
        files = [("file", ("a.jpg", photos["coffee"])), ("file", ("b.jpg", photos["rocket"]))]
        r = httpx.post(srv.url + "/api/v1/classify", files=files, timeout=60)
        assert r.status_code == 503 and r.json()["error"]["code"] == "overloaded"
        assert int(r.headers["retry-after"]) >= 1
        one = httpx.post(srv.url + "/api/v1/classify", files=files[:1], timeout=60)
        assert one.status_code == 200


def test_a_model_that_is_not_there_gets_503_with_retry_after(tmp_path_factory, photos):
    from servers import wait_ready

    db = tmp_path_factory.mktemp("limits-db") / "history.db"
    # resnet18, offline, with an empty weights cache: the model fails to load (degraded mode)
    settings = Settings(model="resnet18", offline=True, db=f"sqlite:///{db}", **LIMITS)
    with LiveServer(create_app(settings), **uvicorn_options(settings)) as srv:
        assert wait_ready(srv.url)["status"] == "failed"
        ready = httpx.get(srv.url + "/readyz")
        files = {"file": ("c.jpg", photos["coffee"])}
        classify = httpx.post(srv.url + "/api/v1/classify", files=files)
        for r in (ready, classify):
            assert r.status_code == 503 and int(r.headers["retry-after"]) >= 1
        assert classify.json()["error"]["code"] == "model_not_ready"


# --- an early refusal is read, not reset (lingering close) --------------------------------------
def test_an_early_refusal_reaches_a_client_that_sends_its_whole_body_first(server, tmp_path):
    """Python's http.client and `curl -H 'Expect:'` send the whole body before reading: a 413
    sent before the body was read used to close the socket with unread data (the kernel sends
    RST) and they saw "connection reset" instead of the answer, 20 times out of 20."""
    import http.client
    import json
    import subprocess

    body = multipart(part("file", b"\xff" * (12 * MB), "big.jpg"))
    for _ in range(5):
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        conn.request("POST", "/predict", body=body, headers={"Content-Type": MULTIPART})
        response = conn.getresponse()
        assert response.status == 413
        assert json.loads(response.read())["error"]["code"] == "payload_too_large"
        conn.close()
    big = tmp_path / "big.jpg"
    big.write_bytes(b"\xff" * (12 * MB))
    out = subprocess.run(
        ["curl", "-sS", "-H", "Expect:", "-F", f"file=@{big}", "-w", "\n%{http_code}",
         f"{server.url}/predict"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    text, status = out.stdout.rsplit("\n", 1)
    assert status == "413" and json.loads(text)["error"]["code"] == "payload_too_large"
