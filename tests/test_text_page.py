"""The Recognize page reading the text in a photo (issue 24), end to end: Debian's Chromium
against the real service (`live_server`), with the "Read text" toggle on, on a real photo with a
white sign (tests/corpus.py: 禁止吸烟 / No Smoking).

Reading text costs a second or two a photo on two cores, so the module opens ONE page (in
Chinese, the sign's language) and recognizes the sign once; the tests read that one answer in
turn (the lines, the boxes over the photo at two window sizes, hovering, copying), then send a
sign whose text is HTML, and play a server without the text reader (Playwright's routing, no
model call). The pieces themselves (text.js, the strings) are checked directly, with no server,
in test_page_scripts.py.
"""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import pytest
from chromium import SLOW, check_clean, latin_left, model_data, watched_page
from corpus import SIGN, cjk_font, sign_photo_bytes
from playwright.sync_api import expect

HOSTILE = "<img src=x onerror=alert(1)>"  # the reader reads it back exactly (checked)
DESKTOP = {"width": 1200, "height": 900}
PHONE = {"width": 375, "height": 740}

# Each drawn box, from the screen back to the photo's pixels, computed from the <img> alone: the
# photo is drawn as object-fit: contain draws it (scaled to fit, centred in the element's box).
DRAWN_BOXES = """() => {
  const img = document.querySelector("[data-testid=result-card] img.single-thumb");
  const r = img.getBoundingClientRect();
  const [w, h] = [img.naturalWidth, img.naturalHeight];
  const s = Math.min(r.width / w, r.height / h);
  const left = r.left + (r.width - w * s) / 2;
  const top = r.top + (r.height - h * s) / 2;
  const boxes = [...document.querySelectorAll("[data-testid=text-overlay] .text-box")].map((g) => {
    const b = g.querySelector("polygon").getBoundingClientRect();
    return { number: g.querySelector("text").textContent,
             box: [(b.left - left) / s, (b.top - top) / s, (b.right - left) / s,
                   (b.bottom - top) / s] };
  });
  return { scale: s, shown: r.width, boxes };
}"""


def _extent(box) -> list[float]:
    """A four-point box as [left, top, right, bottom]."""
    xs, ys = [p[0] for p in box], [p[1] for p in box]
    return [min(xs), min(ys), max(xs), max(ys)]


def _sign_rect() -> tuple[float, float, float, float]:
    """Where sign_photo_bytes() paints the white sign, in the photo's pixels."""
    from PIL import Image, ImageDraw

    draw = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    width = max(draw.textlength(line, font=cjk_font(36)) for line in SIGN)
    return 10, 10, 40 + width, 30 + 50 * len(SIGN)


@pytest.fixture(scope="module")
def signs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("text_page")
    (folder / "sign.jpg").write_bytes(sign_photo_bytes())
    (folder / "hostile.jpg").write_bytes(sign_photo_bytes(lines=(HOSTILE,)))
    return folder


@pytest.fixture(scope="module")
def page(browser, live_server):
    """The module's one page: Chinese, allowed to use the clipboard; dialogs are recorded."""
    context, page = watched_page(browser, locale="zh-CN", viewport=DESKTOP,
                                 permissions=["clipboard-read", "clipboard-write"])  # fmt: skip
    page.dialogs = []
    page.on("dialog", lambda dialog: (page.dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(live_server + "/")
    expect(page.locator("#banner-model")).to_be_visible(timeout=SLOW)
    yield page
    context.close()
    check_clean(page)


def _recognize(page, photo) -> tuple[str, dict]:
    """Choose `photo`, press Recognize: the classify request's URL and its one result."""
    page.set_input_files("#file-input", photo)
    with page.expect_response(lambda r: urlsplit(r.url).path == "/api/v1/classify",
                              timeout=SLOW) as answer:  # fmt: skip
        page.click("#recognize")
    (result,) = answer.value.json()["results"]
    return answer.value.url, result


@pytest.fixture(scope="module")
def sign(page, signs) -> dict:
    """The sign, recognized with "Read text" on (the toggle's words in Chinese checked first):
    the server's result for it."""
    toggle = page.locator("#text-field")
    expect(toggle).to_have_text("识别文字")
    expect(toggle).to_have_attribute("title", "同时读出照片中的文字（中文和英文），并标出它们的位置")
    expect(page.locator("#read-text")).not_to_be_checked()  # off until asked for
    page.check("#read-text")
    url, result = _recognize(page, signs / "sign.jpg")
    assert parse_qs(urlsplit(url).query)["text"] == ["true"]
    assert [line["text"] for line in result["text"]] == list(SIGN)  # what the page is given
    expect(page.locator(".text-line")).to_have_count(2, timeout=SLOW)
    return result


def test_the_lines_are_listed_in_reading_order_with_their_confidence(page, sign):
    block = page.locator("[data-testid=text-block]")
    expect(block.locator(".eyebrow")).to_have_text("照片中的文字")
    expect(block.locator(".text-string")).to_have_text(list(SIGN))
    expect(block.locator(".text-number")).to_have_text(["1", "2"])
    percents = [f"{line['confidence'] * 100:.1f}%" for line in sign["text"]]
    expect(block.locator(".text-confidence")).to_have_text(percents)
    expect(block.locator(".text-lines")).to_have_attribute("aria-label", "sign.jpg 中的 2 行文字")
    # beside the labels, which are still there
    expect(page.locator("#results .prediction")).to_have_count(3)


def _drawn_at(page, viewport) -> dict:
    page.set_viewport_size(viewport)
    try:
        return page.evaluate(DRAWN_BOXES)
    finally:
        page.set_viewport_size(DESKTOP)


def test_the_boxes_are_drawn_over_the_sign_at_any_window_size(page, sign):
    left, top, right, bottom = _sign_rect()
    drawn = {"desktop": _drawn_at(page, DESKTOP), "phone": _drawn_at(page, PHONE)}
    assert abs(drawn["desktop"]["shown"] - drawn["phone"]["shown"]) > 20  # two sizes indeed
    for name, seen in drawn.items():
        assert [b["number"] for b in seen["boxes"]] == ["1", "2"], name
        # within a screen pixel and a half (in photo pixels), or 3 photo pixels
        close = max(3.0, 1.5 / seen["scale"])
        for box, line in zip(seen["boxes"], sign["text"], strict=True):
            assert box["box"] == pytest.approx(_extent(line["box"]), abs=close), name
            x0, y0, x1, y1 = box["box"]
            assert left - close <= x0 < x1 <= right + close, name
            assert top - close <= y0 < y1 <= bottom + close, name


def test_hovering_a_line_lights_up_its_box(page, sign):
    second = page.locator(".text-line").nth(1)
    box = page.locator("[data-testid=text-overlay] .text-box[data-index='1']")
    second.hover()
    expect(second).to_have_class("text-line is-active")
    expect(box).to_have_class("text-box is-active")
    expect(page.locator(".text-box.is-active")).to_have_count(1)
    page.mouse.move(0, 0)
    expect(page.locator(".is-active")).to_have_count(0)


def test_copy_text_puts_the_lines_on_the_clipboard(page, sign):
    page.click("[data-testid=copy-text]")
    expect(page.locator(".text-copy-said")).to_have_text("已复制")
    assert page.evaluate("navigator.clipboard.readText()") == "禁止吸烟\nNo Smoking"
    expect(page.locator("[data-testid=copy-text]")).to_have_text("复制文字")


def test_the_chinese_page_shows_no_untranslated_english(page, sign, live_server):
    labels = {p[k] for p in sign["predictions"] for k in ("label", "label_en")}
    assert latin_left(page, model_data(live_server) | labels | set(SIGN) | {"sign.jpg"}) == []


def test_text_from_the_photo_is_shown_as_text_never_as_html(page, sign, signs):
    _, result = _recognize(page, signs / "hostile.jpg")
    assert [line["text"] for line in result["text"]] == [HOSTILE]
    block = page.locator("[data-testid=text-block]")
    expect(block.locator(".text-string")).to_have_text([HOSTILE], timeout=SLOW)
    assert block.locator("img").count() == 0
    assert page.locator("[data-testid=result-card] img").count() == 1  # the photo, nothing more
    assert page.dialogs == []


def test_a_server_without_the_text_reader_says_how_to_get_it(page, signs):
    error = {"code": "text_reading_unavailable", "hint": "pip install 'localvision[text]'",
             "message": "Reading text needs the optional text reader (rapidocr), which is not "
                        "installed."}  # fmt: skip
    page.route("**/api/v1/classify?*", lambda route: route.fulfill(
        status=501, content_type="application/json", body=json.dumps({"error": error})))
    try:
        page.set_input_files("#file-input", signs / "sign.jpg")
        page.click("#recognize")
        message = page.locator("#message")
        expect(message).to_contain_text("pip install 'localvision[text]'")
        expect(message).to_contain_text("没有安装可选的文字识别组件")
        expect(message).to_contain_text("关闭“识别文字”即可只识别照片的内容。")
    finally:
        page.unroute("**/api/v1/classify?*")


def test_the_toggle_is_remembered(page):
    page.reload()
    expect(page.locator("#read-text")).to_be_checked()
    page.uncheck("#read-text")
    page.reload()
    expect(page.locator("#read-text")).not_to_be_checked()


def test_the_history_page_finds_a_photo_by_the_text_read_in_it(page, sign, live_server):
    """The sign read above is in the history: searching its Chinese text finds it, with the
    lines under the file's name; text that no photo shows finds nothing."""
    page.goto(live_server + "/history")
    page.fill("#filter-text", "禁止吸")
    page.click("#filter-apply")
    rows = page.locator("#history-body tr, .history-row")
    expect(rows.first).to_be_visible(timeout=SLOW)
    texts = page.locator(".history-row .row-text").all_inner_texts()
    assert texts and all("禁止吸烟" in t for t in texts), texts
    assert "文字：禁止吸烟 / No Smoking" in texts
    assert "text=%E7%A6%81%E6%AD%A2%E5%90%B8" in page.url  # the search lives in the address
    page.fill("#filter-text", "这段文字不在任何照片里")
    page.click("#filter-apply")
    expect(page.locator("#history-none")).to_be_visible(timeout=SLOW)
    page.goto(live_server + "/")  # back where the other tests expect the page
