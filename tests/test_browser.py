"""The browser UI, end to end: Debian's Chromium driven by Playwright against the real service
(`live_server`: efficientnet_lite0, a temp SQLite history) and real photos from skimage.

Every page a test opens is watched: a request to any host but 127.0.0.1 is refused and fails the
test (the UI must work offline: no CDN, no web fonts), and so does an uncaught JavaScript error.
Server failures the live service cannot be made to produce on demand (a 500, a dropped connection,
a model that is not ready) are played by Playwright's request routing.
"""

from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path
from urllib.parse import urlsplit

import pytest

pytest.importorskip("playwright.sync_api")
from playwright.sync_api import Error as PlaywrightError  # noqa: E402
from playwright.sync_api import expect, sync_playwright  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# Waits that include a model call; the first inference on a cold 2-core machine can be slow.
SLOW = 30_000
LOCAL_HOSTS = {"127.0.0.1"}
# Chromium logs every 4xx/5xx response and every aborted request as a console error; those are
# the point of some tests, not bugs in the page.
EXPECTED_CONSOLE = ("Failed to load resource",)

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} is not installed")


# --- fixtures -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as p:
        try:
            b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        except PlaywrightError as exc:  # e.g. a chromium that cannot start in this sandbox
            pytest.skip(f"chromium did not start: {exc}")
        yield b
        b.close()


class Watch:
    """What a page did that a test may check: requests, refused external ones, JS errors."""

    def __init__(self):
        self.requests: list[str] = []
        self.external: list[str] = []
        self.errors: list[str] = []

    def route(self, route):
        url = route.request.url
        self.requests.append(url)
        if urlsplit(url).hostname in LOCAL_HOSTS:
            route.continue_()
        else:
            self.external.append(url)
            route.abort()

    def console(self, msg):
        if msg.type == "error" and not msg.text.startswith(EXPECTED_CONSOLE):
            self.errors.append(f"console: {msg.text}")

    def api_calls(self, path: str) -> list[str]:
        return [u for u in self.requests if urlsplit(u).path == path]


def _open(browser, width: int, height: int):
    context = browser.new_context(viewport={"width": width, "height": height})
    watch = Watch()
    context.route("**/*", watch.route)
    page = context.new_page()
    page.on("pageerror", lambda exc: watch.errors.append(f"pageerror: {exc}"))
    page.on("console", watch.console)
    page.watch = watch
    return context, page


@pytest.fixture
def page(browser, live_server):
    context, page = _open(browser, 1200, 900)
    yield page
    context.close()
    assert page.watch.external == [], "the page tried to load resources from outside this machine"
    assert page.watch.errors == [], "the page raised JavaScript errors"


@pytest.fixture
def phone(browser, live_server):
    context, page = _open(browser, 375, 740)
    yield page
    context.close()
    assert page.watch.external == []
    assert page.watch.errors == []


# --- real photos --------------------------------------------------------------------------------
def _save(name: str, path: Path) -> Path:
    import skimage.data
    from PIL import Image

    image = Image.fromarray(getattr(skimage.data, name)())
    image.save(path, quality=90) if path.suffix == ".jpg" else image.save(path)
    return path


@pytest.fixture(scope="module")
def photo_dir(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("browser_photos")
    _save("coffee", d / "coffee.jpg")
    _save("chelsea", d / "chelsea.png")
    _save("rocket", d / "rocket.jpg")
    return d


@pytest.fixture(scope="module")
def coffee(photo_dir) -> Path:
    return photo_dir / "coffee.jpg"


@pytest.fixture
def photo_zip(tmp_path, photo_dir) -> tuple[Path, list[str]]:
    names = ["coffee.jpg", "chelsea.png", "rocket.jpg", "notes.txt"]
    path = tmp_path / "photos.zip"
    with zipfile.ZipFile(path, "w") as zf:
        for name in names[:3]:
            zf.write(photo_dir / name, name)
        zf.writestr("notes.txt", "shopping list: coffee, cat food\n")
    return path, names


def _no_raw_error(text: str) -> None:
    """A message meant for people: no JSON, no traceback, no HTML."""
    for bad in ("{", "Traceback", '"error"', "<html", "undefined", "[object"):
        assert bad not in text, f"{bad!r} leaked into the message: {text!r}"


def _csv(path: str | Path) -> tuple[list[str], list[dict]]:
    reader = csv.DictReader(io.StringIO(Path(path).read_text(encoding="utf-8")))
    return list(reader.fieldnames or []), list(reader)


# --- the recognize page -------------------------------------------------------------------------
def test_one_photo_shows_top_labels_as_bars(page, live_server, coffee):
    page.goto(live_server + "/")
    expect(page.locator("#banner-model")).to_be_visible()
    expect(page.locator("#banner-model")).to_contain_text("efficientnet_lite0")
    expect(page.locator("#banner-error")).to_be_hidden()
    expect(page.locator("#banner-notice")).to_be_hidden()  # the model was named, not "auto"
    expect(page.locator("#recognize")).to_be_disabled()  # nothing chosen yet

    page.set_input_files("#file-input", coffee)
    expect(page.locator("#previews img")).to_have_count(1)
    expect(page.locator("#previews")).to_contain_text("coffee.jpg")
    expect(page.locator("#recognize")).to_be_enabled()
    page.click("#recognize")

    rows = page.locator("#results .prediction")
    expect(rows).to_have_count(3, timeout=SLOW)
    top = rows.first
    expect(top.locator(".label")).to_have_text("espresso")
    width = top.locator(".bar").evaluate("el => parseFloat(el.style.width)")
    assert width > 50
    assert top.locator(".percent").inner_text() == f"{width:.1f}%"
    # The bar really is drawn that wide, not just styled so.
    bar, track = top.locator(".bar").bounding_box(), top.locator(".bar-track").bounding_box()
    assert bar["width"] / track["width"] == pytest.approx(width / 100, abs=0.02)
    widths = rows.locator(".bar").evaluate_all("els => els.map(e => parseFloat(e.style.width))")
    assert widths == sorted(widths, reverse=True)
    expect(page.locator("#results .top-label")).to_contain_text("espresso")
    expect(page.locator("#message")).to_be_hidden()
    expect(page.locator("#results-table")).to_have_count(0)


def test_several_photos_give_a_table_with_thumbnails(page, live_server, photo_dir):
    page.goto(live_server + "/")
    files = [photo_dir / n for n in ("coffee.jpg", "chelsea.png", "rocket.jpg")]
    page.set_input_files("#file-input", files)
    expect(page.locator("#previews li")).to_have_count(3)
    page.click("#recognize")

    table = page.locator("#results-table")
    expect(table.locator("tbody tr")).to_have_count(3, timeout=SLOW)
    expect(table.locator("tbody img.row-thumb")).to_have_count(3)
    expect(table.locator("tbody tr").first.locator(".label")).to_have_text("espresso")
    expect(table.locator("tbody tr").nth(1)).to_contain_text("chelsea.png")
    expect(page.locator("#download-csv")).to_be_visible()
    assert len(page.watch.api_calls("/api/v1/classify")) == 1  # one request for all three


def test_zip_gives_one_row_per_member_and_a_csv(page, live_server, photo_zip):
    path, names = photo_zip
    page.goto(live_server + "/")
    page.set_input_files("#file-input", path)
    expect(page.locator("#previews .preview-zip")).to_have_count(1)
    page.click("#recognize")

    table = page.locator("#results-table")
    expect(table.locator("tbody tr")).to_have_count(len(names), timeout=SLOW)
    assert table.locator("tbody tr").evaluate_all("rs => rs.map(r => r.dataset.filename)") == names
    expect(table.locator("tbody img")).to_have_count(0)  # ZIP members have no thumbnails
    errors = table.locator("tbody tr.error-row")
    expect(errors).to_have_count(1)
    expect(errors).to_contain_text("notes.txt")
    expect(errors).to_contain_text("not an image")
    _no_raw_error(errors.inner_text())
    expect(table.locator("tbody tr").first.locator(".label")).to_have_text("espresso")
    assert page.watch.api_calls("/api/v1/classify/zip")

    with page.expect_download() as info:
        page.click("#download-csv")
    download = info.value
    assert download.suggested_filename.endswith(".csv")
    header, rows = _csv(download.path())
    assert header == [
        "filename", "label_1", "probability_1", "label_2", "probability_2",
        "label_3", "probability_3", "error_code", "error_message",
    ]  # fmt: skip
    assert [r["filename"] for r in rows] == names
    by_name = {r["filename"]: r for r in rows}
    assert by_name["coffee.jpg"]["label_1"] == "espresso"
    assert float(by_name["coffee.jpg"]["probability_1"]) > 0.5
    assert by_name["coffee.jpg"]["error_code"] == ""
    assert by_name["notes.txt"]["error_code"] == "unsupported_format"
    assert by_name["notes.txt"]["label_1"] == ""
    assert "not an image" in by_name["notes.txt"]["error_message"]


def test_non_image_named_jpg_gets_a_friendly_message(page, live_server, tmp_path):
    fake = tmp_path / "holiday.jpg"
    fake.write_text("this is not a photo\n")
    page.goto(live_server + "/")
    page.set_input_files("#file-input", fake)
    page.click("#recognize")  # the name looks fine, so only the server can tell

    message = page.locator("#message")
    expect(message).to_be_visible(timeout=SLOW)
    expect(message).to_contain_text("holiday.jpg")
    expect(message).to_contain_text("not an image localvision can read")
    _no_raw_error(message.inner_text())
    expect(page.locator("#results .prediction")).to_have_count(0)


def test_wrong_type_is_refused_before_upload(page, live_server, tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("hello\n")
    page.goto(live_server + "/")
    expect(page.locator("#banner-model")).to_be_visible()
    page.set_input_files("#file-input", notes)

    message = page.locator("#message")
    expect(message).to_be_visible()
    expect(message).to_contain_text("notes.txt")
    expect(message).to_contain_text("not a photo or a ZIP")
    _no_raw_error(message.inner_text())
    expect(page.locator("#previews li")).to_have_count(0)
    expect(page.locator("#recognize")).to_be_disabled()
    assert page.watch.api_calls("/api/v1/classify") == []


def test_too_big_is_refused_before_upload(page, live_server):
    limits = page.request.get(live_server + "/api/v1/models").json()["limits"]
    size = int(limits["max_upload_mb"] * 1024 * 1024) + 1
    page.goto(live_server + "/")
    expect(page.locator("#banner-model")).to_be_visible()
    page.set_input_files(
        "#file-input", {"name": "huge.jpg", "mimeType": "image/jpeg", "buffer": b"\xff" * size}
    )
    message = page.locator("#message")
    expect(message).to_be_visible()
    expect(message).to_contain_text("huge.jpg")
    expect(message).to_contain_text("too large")
    expect(message).to_contain_text(f"{limits['max_upload_mb']:g} MB")
    expect(page.locator("#recognize")).to_be_disabled()
    assert page.watch.api_calls("/api/v1/classify") == []


def test_drop_and_paste_add_files(page, live_server, coffee):
    import base64

    page.goto(live_server + "/")
    expect(page.locator("#banner-model")).to_be_visible()
    page.evaluate(
        """async (b64) => {
            const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0));
            const dt = new DataTransfer();
            dt.items.add(new File([bytes], "dropped.jpg", {type: "image/jpeg"}));
            const zone = document.getElementById("dropzone");
            const init = {dataTransfer: dt, bubbles: true, cancelable: true};
            zone.dispatchEvent(new DragEvent("dragover", init));
            zone.dispatchEvent(new DragEvent("drop", init));
        }""",
        base64.b64encode(coffee.read_bytes()).decode(),
    )
    expect(page.locator("#previews")).to_contain_text("dropped.jpg")
    page.evaluate(
        """async () => {
            const canvas = document.createElement("canvas");
            canvas.width = canvas.height = 64;
            canvas.getContext("2d").fillRect(8, 8, 40, 40);
            const blob = await new Promise(r => canvas.toBlob(r, "image/png"));
            const dt = new DataTransfer();
            dt.items.add(new File([blob], "image.png", {type: "image/png"}));
            const init = {clipboardData: dt, bubbles: true, cancelable: true};
            document.dispatchEvent(new ClipboardEvent("paste", init));
        }"""
    )
    expect(page.locator("#previews li")).to_have_count(2)
    expect(page.locator("#previews")).to_contain_text("pasted-1.png")
    page.click("#recognize")
    table = page.locator("#results-table")
    expect(table.locator("tbody tr")).to_have_count(2, timeout=SLOW)
    expect(table.locator("tbody tr").first.locator(".label")).to_have_text("espresso")


# --- failures the live service is asked to play -------------------------------------------------
NOT_READY = {
    "ready": False,
    "status": "failed",
    "model": None,
    "notice": None,
    "reason": "resnet18's weights (resnet18-f37072fd.pth) are not on this machine",
    "hint": "localvision weights fetch resnet18",
    "limits": {"max_upload_mb": 10.0, "max_pixels": 50_000_000, "max_files": 16, "top_k": 3},
}


def test_model_not_ready_shows_red_banner_and_disables_recognize(page, live_server, coffee):
    page.route("**/api/v1/models", lambda route: route.fulfill(json=NOT_READY))
    page.goto(live_server + "/")
    banner = page.locator("#banner-error")
    expect(banner).to_be_visible()
    expect(banner).to_contain_text("not on this machine")
    expect(banner.locator("code")).to_have_text("localvision weights fetch resnet18")
    expect(page.locator("#banner-model")).to_be_hidden()
    page.set_input_files("#file-input", coffee)
    expect(page.locator("#previews li")).to_have_count(1)
    expect(page.locator("#recognize")).to_be_disabled()


def test_notice_shows_yellow_banner(page, live_server):
    def with_notice(route):
        body = route.fetch().json()
        body["notice"] = "ResNet-18's weights are unavailable, so efficientnet_lite0 answers."
        route.fulfill(json=body)

    page.route("**/api/v1/models", with_notice)
    page.goto(live_server + "/")
    expect(page.locator("#banner-notice")).to_be_visible()
    expect(page.locator("#banner-notice")).to_contain_text("efficientnet_lite0 answers")
    expect(page.locator("#banner-model")).to_contain_text("efficientnet_lite0")


def _json_error(status, code, message):
    return dict(status=status, json={"error": {"code": code, "message": message}})


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (_json_error(503, "model_not_ready", "The model is not loaded yet."), "not loaded yet."),
        (_json_error(413, "file_too_large", "This file is larger than 10 MB."), "than 10 MB"),
        (_json_error(503, "overloaded", "The server is busy."), "Try again in a few seconds"),
        (dict(status=500, content_type="text/html", body="<html><h1>Server Error</h1></html>"),
         "The server ran into a problem (HTTP 500)"),
        (dict(status=502, content_type="text/plain", body="Traceback (most recent call last): ..."),
         "HTTP 502"),
        ("abort", "Could not reach the localvision server"),
    ],
    ids=["model_not_ready", "file_too_large", "overloaded", "html_500", "traceback_502", "network"],
)  # fmt: skip
def test_server_and_network_errors_become_sentences(page, live_server, coffee, answer, expected):
    def play(route):
        if answer == "abort":
            route.abort("connectionrefused")
        else:
            route.fulfill(**answer)

    page.route("**/api/v1/classify*", play)
    page.goto(live_server + "/")
    page.set_input_files("#file-input", coffee)
    page.click("#recognize")
    message = page.locator("#message")
    expect(message).to_be_visible()
    expect(message).to_contain_text(expected)
    _no_raw_error(message.inner_text())
    expect(page.locator("#recognize")).to_be_enabled()  # the same files can be tried again


# --- history ------------------------------------------------------------------------------------
def test_history_lists_recognitions_pages_and_downloads_csv(page, live_server, coffee, tmp_path):
    import httpx
    from PIL import Image

    # Enough rows for two pages, then one we can recognise at the top (newest first).
    total = httpx.get(live_server + "/api/v1/history?limit=1").json()["total"]
    filler = io.BytesIO()
    Image.new("RGB", (48, 48), (200, 120, 40)).save(filler, "PNG")
    need = max(0, 27 - total)
    if need:
        files = [("file", (f"filler-{i:02d}.png", filler.getvalue(), "image/png"))
                 for i in range(need)]  # fmt: skip
        r = httpx.post(live_server + "/api/v1/classify", files=files, timeout=120)
        assert r.status_code == 200
    probe = [("file", ("history-probe.jpg", coffee.read_bytes(), "image/jpeg"))]
    assert httpx.post(live_server + "/api/v1/classify", files=probe, timeout=60).status_code == 200
    api = httpx.get(live_server + "/api/v1/history?limit=1000").json()
    total = api["total"]
    assert total > 25

    page.goto(live_server + "/history")
    table = page.locator("#history-table")
    rows = table.locator("tbody tr")
    expect(rows).to_have_count(25)
    first = rows.first
    expect(first).to_contain_text("history-probe.jpg")
    expect(first.locator(".label")).to_have_text("espresso")
    expect(first).to_contain_text("efficientnet_lite0")
    expect(first.locator(".cell-latency")).to_contain_text("ms")
    assert first.locator("time").get_attribute("datetime").endswith("Z")
    expect(page.locator("#history-count")).to_contain_text(f"of {total}")
    expect(page.locator("#prev")).to_be_disabled()

    # Walk every page: the table lists exactly what the API holds, in the same order.
    seen = rows.locator(".cell-file").all_inner_texts()
    page_no = 1
    while page.locator("#next").is_enabled():
        page.click("#next")
        page_no += 1
        expect(page).to_have_url(f"{live_server}/history?page={page_no}")
        expect(page.locator("#history-count")).to_contain_text(f"Showing {(page_no - 1) * 25 + 1}")
        seen += rows.locator(".cell-file").all_inner_texts()
    assert seen == [item["filename"] for item in api["items"]]
    expect(page.locator("#prev")).to_be_enabled()
    page.go_back()
    expect(page.locator("#history-count")).to_contain_text(f"Showing {(page_no - 2) * 25 + 1}")

    link = page.locator("#history-csv")
    assert link.get_attribute("href") == "/api/v1/history.csv"
    with page.expect_download() as info:
        link.click()
    header, csv_rows = _csv(info.value.path())
    assert "filename" in header
    assert len(csv_rows) == total
    assert "history-probe.jpg" in {r["filename"] for r in csv_rows}


# --- offline, small screens, accessibility ------------------------------------------------------
def test_pages_load_nothing_from_outside(page, live_server, coffee):
    page.goto(live_server + "/")
    page.set_input_files("#file-input", coffee)
    page.click("#recognize")
    expect(page.locator("#results .prediction").first).to_be_visible(timeout=SLOW)
    page.goto(live_server + "/history")
    expect(page.locator("#history-table tbody tr").first).to_be_visible()
    paths = {urlsplit(u).path for u in page.watch.requests}
    assert {"/", "/static/app.js", "/static/style.css", "/history", "/static/history.js"} <= paths
    # Prove the guard works: a request to another host is refused and recorded.
    page.evaluate("fetch('http://example.invalid/x').catch(() => null)")
    page.wait_for_timeout(200)
    assert page.watch.external == ["http://example.invalid/x"]
    page.watch.external.clear()  # the fixture then checks that nothing else was attempted


def _sideways_overflow(page) -> int:
    return page.evaluate("document.documentElement.scrollWidth - window.innerWidth")


def test_usable_at_phone_width(phone, live_server, photo_zip):
    path, names = photo_zip
    phone.goto(live_server + "/")
    expect(phone.locator("#banner-model")).to_be_visible()
    phone.set_input_files("#file-input", path)
    phone.click("#recognize")
    expect(phone.locator("#results-table tbody tr")).to_have_count(len(names), timeout=SLOW)
    expect(phone.locator("#download-csv")).to_be_visible()
    assert _sideways_overflow(phone) <= 0, "/ scrolls sideways at 375px"

    phone.goto(live_server + "/history")
    expect(phone.locator("#history-table tbody tr").first).to_be_visible()
    assert _sideways_overflow(phone) <= 0, "/history scrolls sideways at 375px"
    expect(phone.locator("#history-csv")).to_be_in_viewport()


def test_controls_are_labelled(page, live_server):
    page.goto(live_server + "/")
    expect(page.get_by_label("Choose files")).to_have_attribute("type", "file")
    expect(page.get_by_label("Take photo")).to_have_attribute("capture", "environment")
    expect(page.locator("#file-input")).to_have_attribute("multiple", "")
    assert "image/*" in page.locator("#file-input").get_attribute("accept")
    assert ".zip" in page.locator("#file-input").get_attribute("accept")
    expect(page.locator("#results")).to_have_attribute("aria-live", "polite")
    expect(page.get_by_role("link", name="History")).to_have_attribute("href", "/history")
