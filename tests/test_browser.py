"""The browser UI, end to end: Debian's Chromium driven by Playwright against the real service
(`live_server`: efficientnet_lite0, a temp SQLite history) and real photos from skimage.

Every page a test opens is watched: a request to any host but 127.0.0.1 is refused and fails the
test (the UI must work offline: no CDN, no web fonts), and so does an uncaught JavaScript error.
Server failures the live service cannot be made to produce on demand (a 500, a dropped connection,
a model that is not ready) are played by Playwright's request routing.
"""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from chromium import (
    PSEUDO,
    SLOW,
    check_clean,
    csv_text,
    english_left,
    no_raw_error,
    read_csv,
    watched_page,
)
from playwright.sync_api import expect


# --- fixtures -----------------------------------------------------------------------------------
@pytest.fixture
def page(browser, live_server):
    context, page = watched_page(browser, viewport={"width": 1200, "height": 900})
    yield page
    context.close()
    check_clean(page)


@pytest.fixture
def phone(browser, live_server):
    context, page = watched_page(browser, viewport={"width": 375, "height": 740})
    yield page
    context.close()
    check_clean(page)


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


# --- the recognize page -------------------------------------------------------------------------
def test_one_photo_shows_top_labels_as_bars(page, live_server, coffee):
    page.goto(live_server + "/")
    expect(page.locator("#banner-model")).to_be_visible()
    expect(page.locator("#banner-model")).to_contain_text("efficientnet_lite0")
    # one model served: a line of text (no picker) saying what it is
    expect(page.locator("#model-picker")).to_have_count(0)
    expect(page.locator("#banner-model")).to_contain_text("1,000 classes")
    expect(page.locator("#banner-model")).to_contain_text(re.compile(r"\u2248 [\d.]+ ms/photo"))
    expect(page.locator("#banner-model")).to_contain_text("ImageNet top-1 75.1%")
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
    expect(page.locator("#results [data-testid=not-sure]")).to_have_count(0)  # a sure answer
    expect(page.locator("#message")).to_be_hidden()
    expect(page.locator("#results-table")).to_have_count(0)
    (sent,) = page.watch.api_calls("/api/v1/classify")
    assert "model=efficientnet_lite0" in sent and "group=" not in sent  # groups are off at first


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
    errors = table.locator("tbody tr.error-row")
    expect(errors).to_have_count(1)
    expect(errors).to_contain_text("notes.txt")
    expect(errors).to_contain_text("not an image")
    no_raw_error(errors.inner_text())
    expect(table.locator("tbody tr").first.locator(".label")).to_have_text("espresso")
    assert page.watch.api_calls("/api/v1/classify/zip")

    # The server writes the CSV (POST /api/v1/results.csv, the rows the page holds): the columns
    # of its own CSV answer for a batch (report.rows_to_csv), class indexes included.
    with page.expect_download() as info:
        page.click("#download-csv")
    download = info.value
    assert re.fullmatch(r"localvision-results-\d{8}-\d{6}\.csv", download.suggested_filename)
    assert len(page.watch.api_calls("/api/v1/results.csv")) == 1
    header, rows = read_csv(download.path())
    assert header == [
        "filename", "label_1", "index_1", "probability_1", "label_2", "index_2", "probability_2",
        "label_3", "index_3", "probability_3", "uncertain", "error_code", "error_message",
    ]  # fmt: skip
    assert [r["filename"] for r in rows] == names
    by_name = {r["filename"]: r for r in rows}
    assert by_name["coffee.jpg"]["label_1"] == "espresso"
    assert float(by_name["coffee.jpg"]["probability_1"]) > 0.5
    assert by_name["coffee.jpg"]["uncertain"] == "false"
    assert by_name["coffee.jpg"]["error_code"] == ""
    assert by_name["notes.txt"]["error_code"] == "unsupported_format"
    assert by_name["notes.txt"]["label_1"] == ""
    assert "not an image" in by_name["notes.txt"]["error_message"]
    # ... the very CSV the API answers for the same ZIP (format=csv), cell for cell
    import httpx

    with open(path, "rb") as f:
        answer = httpx.post(live_server + "/api/v1/classify/zip",
                            params={"format": "csv", "top_k": 3, "lang": "en"},
                            files={"file": ("photos.zip", f, "application/zip")}, timeout=120)
    assert answer.status_code == 200
    api_header, api_rows = csv_text(answer.text)
    assert api_header == header
    for mine, theirs in zip(rows, api_rows, strict=True):
        for column in header:  # probabilities: the same model on the same photos, any batch
            if column.startswith("probability_") and mine[column]:
                assert float(mine[column]) == pytest.approx(float(theirs[column]), abs=1e-4)
            else:
                assert mine[column] == theirs[column], column


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
    no_raw_error(message.inner_text())
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
    no_raw_error(message.inner_text())
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
    no_raw_error(message.inner_text())
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
    header, csv_rows = read_csv(info.value.path())
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


# --- ZIP members' thumbnails --------------------------------------------------------------------
def _signature_in_page(img) -> list[int]:
    """A 4x4 RGB thumbnail of what an <img> really shows, read back from a canvas."""
    return img.evaluate(
        """img => {
            const c = document.createElement("canvas");
            c.width = c.height = 4;
            const ctx = c.getContext("2d");
            ctx.imageSmoothingQuality = "high";
            ctx.drawImage(img, 0, 0, 4, 4);
            return Array.from(ctx.getImageData(0, 0, 4, 4).data).filter((_, i) => i % 4 !== 3);
        }"""
    )


def _signature(path: Path) -> list[int]:
    """The same 4x4 RGB of a photo's centre square (what the row thumbnail crops to)."""
    from PIL import Image

    with Image.open(path) as image:
        image = image.convert("RGB")
        side = min(image.size)
        left, top = (image.width - side) // 2, (image.height - side) // 2
        square = image.crop((left, top, left + side, top + side))
        return list(square.resize((4, 4), Image.Resampling.BOX).tobytes())


def test_zip_members_get_thumbnails_read_from_the_zip_itself(page, live_server, photo_dir, tmp_path):
    """The browser already holds the ZIP: each member the server read gets its own thumbnail
    (deflated and stored members, a UTF-8 name in a folder), drawn from that member's bytes;
    a member the server could not read keeps the placeholder."""
    members = {"coffee.jpg": photo_dir / "coffee.jpg",
               "Fotos/Chelsea café.png": photo_dir / "chelsea.png",
               "rocket.jpg": photo_dir / "rocket.jpg"}  # fmt: skip
    path = tmp_path / "holiday.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(zipfile.ZipInfo("Fotos/"), b"")  # a folder entry: no row
        zf.write(members["coffee.jpg"], "coffee.jpg", compress_type=zipfile.ZIP_DEFLATED)
        zf.write(members["Fotos/Chelsea café.png"], "Fotos/Chelsea café.png")  # stored
        zf.writestr("notes.txt", "not a photo\n", compress_type=zipfile.ZIP_DEFLATED)
        zf.write(members["rocket.jpg"], "rocket.jpg", compress_type=zipfile.ZIP_DEFLATED)
    page.goto(live_server + "/")
    page.set_input_files("#file-input", path)
    page.click("#recognize")

    table = page.locator("#results-table")
    expect(table.locator("tbody tr")).to_have_count(4, timeout=SLOW)
    wanted = {name: _signature(src) for name, src in members.items()}
    for name in members:
        row = table.locator("tbody tr", has=page.get_by_text(name, exact=True))
        row.scroll_into_view_if_needed()  # thumbnails are made for rows near the view
        thumb = row.locator("img.row-thumb")
        expect(thumb).to_have_count(1)
        expect(thumb).to_have_js_property("complete", True)
        assert thumb.evaluate("img => img.naturalWidth") > 0
        # ... and it is this member's picture, not another's
        shown = _signature_in_page(thumb)
        distance = {other: sum(abs(a - b) for a, b in zip(shown, sig)) / len(sig)
                    for other, sig in wanted.items()}  # fmt: skip
        assert min(distance, key=distance.get) == name, distance
        assert distance[name] < 20, distance
    failed = table.locator("tbody tr.error-row")
    expect(failed).to_contain_text("notes.txt")
    expect(failed.locator(".row-thumb-empty")).to_have_count(1)
    expect(failed.locator("img")).to_have_count(0)
    expect(table.locator("tbody tr").first.locator(".label")).to_have_text("espresso")


# --- example photos -----------------------------------------------------------------------------
def test_clicking_the_coffee_example_recognizes_it(page, live_server):
    page.goto(live_server + "/")
    expect(page.locator("#banner-model")).to_be_visible()
    examples = page.locator("#example-list button.example")
    expect(examples).to_have_count(5)
    for img in examples.locator("img").all():  # every bundled photo is there and drawn
        expect(img).to_have_js_property("complete", True)
        assert img.evaluate("img => img.naturalWidth") > 0
    page.get_by_role("button", name="Recognize the example photo: Coffee").click()

    rows = page.locator("#results .prediction")
    expect(rows).to_have_count(3, timeout=SLOW)
    expect(rows.first.locator(".label")).to_have_text("espresso")
    width = rows.first.locator(".bar").evaluate("el => parseFloat(el.style.width)")
    assert width > 50
    expect(rows.first.locator(".percent")).to_have_text(f"{width:.1f}%")
    expect(page.locator("#results .result-file")).to_have_text("coffee.jpg")
    expect(page.locator("#previews")).to_contain_text("coffee.jpg")
    assert page.watch.api_calls("/static/examples/coffee.jpg")
    assert len(page.watch.api_calls("/api/v1/classify")) == 1

    # another example replaces it, like a new photo would
    page.locator("button.example[data-example='rocket']").click()
    expect(page.locator("#results .result-file")).to_have_text("rocket.jpg", timeout=SLOW)
    expect(page.locator("#previews li")).to_have_count(1)


# --- the API docs -------------------------------------------------------------------------------
def _operation(page, method: str, path: str):
    return page.locator(f".opblock-{method} .opblock-summary-path[data-path='{path}']")


def test_api_docs_render_the_openapi_31_schema(page, live_server):
    """FastAPI writes OpenAPI 3.1, which Swagger UI renders only from 5.0 on (4.x said "Unable
    to render this definition"). The page draws the operations, from files served here."""
    assert page.request.get(live_server + "/openapi.json").json()["openapi"].startswith("3.1")
    page.goto(live_server + "/docs")
    classify = _operation(page, "post", "/api/v1/classify")
    expect(classify).to_be_visible(timeout=SLOW)
    expect(_operation(page, "get", "/api/v1/history")).to_be_visible()
    expect(_operation(page, "delete", "/api/v1/history/{row_id}")).to_be_visible()
    expect(page.get_by_text("Unable to render this definition")).to_have_count(0)
    classify.click()  # open it: its multipart body and the `file` field are described
    opened = page.locator(".opblock-post.is-open")
    expect(opened).to_contain_text("multipart/form-data")
    expect(opened).to_contain_text("file")
    assert {urlsplit(u).path for u in page.watch.requests} >= {
        "/docs", "/swagger/swagger-ui-bundle.js", "/swagger/swagger-ui.css", "/openapi.json"}


# --- history: search and delete -----------------------------------------------------------------
def _classify(url: str, names: list[str], photo: bytes) -> None:
    import httpx

    files = [("file", (name, photo, "image/jpeg")) for name in names]
    r = httpx.post(url + "/api/v1/classify", files=files, timeout=120)
    assert r.status_code == 200, r.text


def _history(url: str, **params) -> list[str]:
    import httpx

    items = httpx.get(url + "/api/v1/history", params={"limit": 1000, **params}).json()["items"]
    return [i["filename"] for i in items]


def test_history_search_and_delete_a_row(page, live_server, coffee, photo_dir):
    import uuid

    tag = uuid.uuid4().hex[:8]  # this test's rows, among whatever else the shared server holds
    names = [f"find-{tag}-{n}.jpg" for n in ("a", "b", "c")]
    _classify(live_server, names, coffee.read_bytes())
    _classify(live_server, [f"find-{tag}-cat.png"], (photo_dir / "chelsea.png").read_bytes())

    page.goto(live_server + "/history")
    expect(page.locator("#history-table tbody tr").first).to_be_visible()
    page.get_by_label("File name contains").fill(f"find-{tag}")
    page.get_by_label("Top label contains").fill("ESPRESSO")
    page.get_by_role("button", name="Search").click()
    rows = page.locator("#history-table tbody tr")
    expect(rows).to_have_count(3)
    expect(page.locator("#history-count")).to_contain_text("of 3 recognitions matching")
    assert sorted(rows.locator(".cell-file").all_inner_texts()) == names
    assert f"filename=find-{tag}" in page.url and "label=ESPRESSO" in page.url
    csv_link = page.locator("#history-csv").get_attribute("href")
    assert csv_link.startswith("/api/v1/history.csv?") and f"find-{tag}" in csv_link

    # the dates: today (local) holds them all; a range that ended yesterday holds none
    today = page.evaluate("() => new Date().toLocaleDateString('en-CA')")  # YYYY-MM-DD, local
    page.get_by_label("From", exact=True).fill(today)
    page.get_by_label("To", exact=True).fill(today)
    page.get_by_role("button", name="Search").click()
    expect(page.locator("#history-count")).to_contain_text("of 3 recognitions matching")
    page.get_by_label("From", exact=True).fill("2000-01-01")
    page.get_by_label("To", exact=True).fill("2000-12-31")
    page.get_by_role("button", name="Search").click()
    expect(page.locator("#history-none")).to_be_visible()
    expect(page.locator("#history-count")).to_have_text("Nothing matches this search.")
    page.go_back()  # the previous search, from the address
    expect(rows).to_have_count(3)
    expect(page.get_by_label("From", exact=True)).to_have_value(today)

    # delete one row: gone from the table and from the server
    victim = names[1]
    page.get_by_role("button", name=f"Delete {victim} from the history").click()
    expect(rows).to_have_count(2)
    expect(page.locator("#notice")).to_contain_text(victim)
    assert victim not in rows.locator(".cell-file").all_inner_texts()
    assert sorted(_history(live_server, filename=f"find-{tag}")) == sorted(
        [names[0], names[2], f"find-{tag}-cat.png"])  # fmt: skip

    # a reload keeps the search
    page.reload()
    expect(rows).to_have_count(2)
    expect(page.get_by_label("Top label contains")).to_have_value("ESPRESSO")


def test_history_delete_all_shown_asks_first(page, live_server, coffee):
    import uuid

    tag = uuid.uuid4().hex[:8]
    _classify(live_server, [f"bulk-{tag}-{i}.jpg" for i in range(3)], coffee.read_bytes())
    _classify(live_server, [f"keep-{tag}.jpg"], coffee.read_bytes())
    page.goto(f"{live_server}/history?filename=bulk-{tag}")
    rows = page.locator("#history-table tbody tr")
    expect(rows).to_have_count(3)
    button = page.locator("#delete-shown")
    expect(button).to_have_text("Delete all shown")

    button.click()
    dialog = page.locator("#confirm-delete")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("Delete the 3 recognitions that match this search")
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()
    expect(rows).to_have_count(3)  # nothing happened
    assert len(_history(live_server, filename=f"bulk-{tag}")) == 3

    button.click()
    dialog.get_by_role("button", name="Delete").click()
    expect(page.locator("#history-none")).to_be_visible()
    expect(page.locator("#notice")).to_have_text("Deleted 3 recognitions.")
    expect(button).to_be_disabled()
    assert _history(live_server, filename=f"bulk-{tag}") == []
    assert _history(live_server, filename=f"keep-{tag}") == [f"keep-{tag}.jpg"]  # not shown: kept
    deletes = [u for u in page.watch.requests if urlsplit(u).path == "/api/v1/history"]
    assert any("all=true" not in u and f"filename=bulk-{tag}" in u for u in deletes)


# --- with auth on: /docs and deleting with a session (the CSRF header) --------------------------
@pytest.fixture(scope="module")
def guarded(tmp_path_factory, lite0):
    from servers import LiveServer, users_with_keys

    from localvision.config import Settings
    from localvision.server.app import create_app

    db = f"sqlite:///{tmp_path_factory.mktemp('guarded_ui')}/localvision.db"
    key = users_with_keys(db, {"bob": ("bob-password-1", "user")})["bob"]
    settings = Settings(model="efficientnet_lite0", offline=True, db=db, auth="on")
    with LiveServer(create_app(settings, classifier=lite0)) as live:
        yield live.url, key


def test_with_auth_on_docs_and_deleting_work_after_signing_in(browser, guarded, coffee):
    import httpx

    url, key = guarded
    bearer = {"Authorization": f"Bearer {key}"}
    r = httpx.post(url + "/api/v1/classify", headers=bearer, timeout=60,
                   files=[("file", (n, coffee.read_bytes(), "image/jpeg")) for n in ("x1.jpg", "x2.jpg")])  # fmt: skip
    assert r.status_code == 200
    context, page = watched_page(browser, viewport={"width": 1200, "height": 900})
    try:
        page.goto(url + "/docs")  # not signed in: the sign-in page, then back
        expect(page).to_have_url(re.compile(r"/login\?next=%2Fdocs$"))
        page.fill("#username", "bob")
        page.fill("#password", "bob-password-1")
        page.click("[data-testid=sign-in]")
        expect(_operation(page, "post", "/api/v1/classify")).to_be_visible(timeout=SLOW)
        expect(page.locator(".btn.authorize")).to_be_visible()  # for trying requests with a key

        page.goto(url + "/history")
        rows = page.locator("#history-table tbody tr")
        expect(rows).to_have_count(2)
        page.get_by_role("button", name="Delete x1.jpg from the history").click()
        expect(rows).to_have_count(1)  # the DELETE carried X-CSRF-Token, or the gate says 403
        expect(page.locator("#message")).to_be_hidden()
        items = httpx.get(url + "/api/v1/history", headers=bearer).json()["items"]
        assert [i["filename"] for i in items] == ["x2.jpg"]
    finally:
        context.close()
    check_clean(page)


# --- every string from the page's dictionary ----------------------------------------------------
def test_every_string_on_the_pages_comes_from_their_dictionary(page, live_server, coffee):
    """Pseudo-translate each page's dictionary (every string wrapped in ⟦⟧), the way a
    translation will be dropped in: no English may be left on the pages, before and after a
    recognition; only data (names, labels, the model, times) and numbers."""
    import httpx

    page.add_init_script(PSEUDO)
    page.goto(live_server + "/")
    expect(page.locator("#banner-model")).to_be_visible()
    model = httpx.get(live_server + "/api/v1/models").json()["model"]
    data = {v for v in model.values() if isinstance(v, str)}
    assert english_left(page, data) == []
    page.set_input_files("#file-input", coffee)
    page.click("#recognize")
    expect(page.locator("#results .prediction")).to_have_count(3, timeout=SLOW)
    labels = set(page.locator("#results .label").all_inner_texts())
    assert english_left(page, data | labels | {"coffee.jpg"}) == []
    # a message built here (a file of the wrong type)
    page.set_input_files("#file-input", {"name": "notes.txt", "mimeType": "text/plain", "buffer": b"x"})
    expect(page.locator("#message")).to_be_visible()
    assert english_left(page, data | labels | {"notes.txt"}) == []

    page.goto(live_server + "/history")
    expect(page.locator("#history-table tbody tr").first).to_be_visible()
    items = httpx.get(live_server + "/api/v1/history", params={"limit": 25}).json()["items"]
    data = {i["filename"] for i in items} | {i["model"] for i in items}
    data |= {i["predictions"][0]["label"] for i in items if i["predictions"]}
    data |= {i["error"]["message"] for i in items if i["error"]}  # the server's own sentences
    times = page.locator("#history-table tbody time")
    data |= set(times.all_inner_texts()) | set(times.evaluate_all("ts => ts.map(t => t.title)"))
    assert english_left(page, data) == []
