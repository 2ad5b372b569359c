"""The Live camera page (/live) in Debian's Chromium, its camera a fake one fed from a video made
here of real photos (Chromium's --use-file-for-fake-video-capture plays a .y4m file in a loop):
the live label, bars, frames per second and the pause button, in English and in Chinese, with
auth off and signed in with auth on."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from chromium import SLOW, check_clean, latin_left, launched, model_data, page_opener, watched_page
from playwright.sync_api import expect
from servers import LiveServer, users_with_keys

FPS = 10


def write_y4m(path: Path, photos: list[tuple[bytes, float]], size=(640, 480), fps=FPS) -> Path:
    """A YUV4MPEG2 video (4:2:0, BT.601 limited range, as Chromium's fake camera reads it):
    each photo (JPEG bytes) fitted into `size`, shown for its seconds."""
    import io

    from PIL import Image, ImageOps

    w, h = size
    with path.open("wb") as out:
        out.write(f"YUV4MPEG2 W{w} H{h} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for data, seconds in photos:
            rgb = ImageOps.pad(Image.open(io.BytesIO(data)).convert("RGB"), size, color=(0, 0, 0))
            y, cb, cr = (np.asarray(c, np.float32) for c in rgb.convert("YCbCr").split())
            luma = (16 + y * 219 / 255).round().astype(np.uint8)  # full range -> video range
            chroma = [
                (16 + np.asarray(Image.fromarray(c.astype(np.uint8)).resize((w // 2, h // 2),
                 Image.BILINEAR), np.float32) * 224 / 255).round().astype(np.uint8)
                for c in (cb, cr)
            ]  # fmt: skip
            frame = b"FRAME\n" + luma.tobytes() + chroma[0].tobytes() + chroma[1].tobytes()
            out.write(frame * max(1, round(seconds * fps)))
    return path


@pytest.fixture(scope="module")
def coffee_video(tmp_path_factory, photos) -> Path:
    return write_y4m(tmp_path_factory.mktemp("camera") / "coffee.y4m", [(photos["coffee"], 1)])


@pytest.fixture(scope="module")
def browser(coffee_video):
    """Chromium whose camera is the coffee video (allowed without asking)."""
    args = [
        "--use-fake-device-for-media-stream",
        "--use-fake-ui-for-media-stream",
        f"--use-file-for-fake-video-capture={coffee_video}",
    ]
    with launched(*args) as b:
        yield b


@pytest.fixture
def open_page(browser):
    """open_page(locale="en-US", **context_options) -> a watched page allowed the camera."""
    with page_opener(browser, permissions=["camera"]) as open_:
        yield open_


def _watch_live(page, label: str) -> None:
    """The page names the camera's picture, with three bars, and counts frames per second."""
    expect(page.locator("#live-top")).to_have_attribute("data-label", label, timeout=SLOW)
    rows = page.locator("#live-predictions .prediction")
    expect(rows).to_have_count(3)
    expect(rows.first.locator(".label")).to_have_text(label)
    widths = rows.locator(".bar").evaluate_all("els => els.map(e => parseFloat(e.style.width))")
    assert widths == sorted(widths, reverse=True) and widths[0] > 50
    assert rows.first.locator(".percent").inner_text() == f"{widths[0]:.1f}%"
    fps = page.locator("#live-fps")
    expect(fps).to_have_attribute("data-fps", re.compile(r"^\d+\.\d\d$"), timeout=SLOW)
    assert float(fps.get_attribute("data-fps")) > 0


def test_the_live_page_names_what_the_camera_sees(open_page, live_server):
    page = open_page("en-US")
    page.goto(live_server + "/live")
    expect(page.locator("#banner-model")).to_contain_text("efficientnet_lite0")
    _watch_live(page, "espresso")
    expect(page.locator("#live-fps")).to_contain_text(re.compile(r"^[\d.]+ frames/s$"))
    expect(page.locator("#live-status")).to_have_text("Live")
    expect(page.locator("#message")).to_be_hidden()
    video = page.locator("#live-video")
    assert video.evaluate("v => v.videoWidth") == 640  # the fake camera's picture, full size


def test_pause_stops_sending_and_resume_goes_on(open_page, live_server):
    page = open_page("en-US")
    answers = []  # each frame sent is answered (none is dropped with one in flight)
    page.on("websocket", lambda ws: ws.on("framereceived", lambda f: answers.append(f)))
    page.goto(live_server + "/live")
    _watch_live(page, "espresso")
    pause = page.locator("#live-pause")
    pause.click()
    expect(pause).to_have_text("Resume")
    expect(pause).to_have_attribute("aria-pressed", "true")
    expect(page.locator("#live-status")).to_have_text("Paused")
    expect(page.locator("#live-fps")).to_have_text("")
    page.wait_for_timeout(500)  # a frame in flight when paused is still answered
    count, frame = len(answers), int(page.locator("#live-top").get_attribute("data-frame"))
    page.wait_for_timeout(1500)
    assert len(answers) == count, "frames were sent while paused"
    assert int(page.locator("#live-top").get_attribute("data-frame")) == frame
    pause.click()
    expect(pause).to_have_text("Pause")
    page.wait_for_function(
        f"() => Number(document.querySelector('#live-top').dataset.frame) > {frame}", timeout=SLOW
    )
    assert len(answers) > count


def test_the_live_page_in_chinese(open_page, live_server, lite0):

    page = open_page("zh-CN")
    page.goto(live_server + "/live")
    espresso = lite0.spec.labels_in("zh")[lite0.spec.labels.index("espresso")]
    _watch_live(page, espresso)
    expect(page.locator("h1")).to_have_text("实时摄像头")
    expect(page.locator("#live-pause")).to_have_text("暂停")
    expect(page.locator("#live-fps")).to_contain_text(re.compile(r"^每秒 [\d.]+ 帧$"))
    expect(page.locator("#live-status")).to_have_text("实时识别中")
    expect(page.locator("nav a[aria-current=page]")).to_have_text("实时摄像头")
    assert page.title() == "localvision：实时摄像头"
    assert latin_left(page, model_data(live_server)) == []
    page.locator("#live-pause").click()
    expect(page.locator("#live-pause")).to_have_text("继续")
    expect(page.locator("#live-status")).to_have_text("已暂停")


def test_every_page_links_to_the_live_camera(open_page, live_server):
    page = open_page("en-US")
    for path in ("/", "/history"):
        page.goto(live_server + path)
        page.locator("nav a[href='/live']").click()
        expect(page).to_have_url(live_server + "/live")
        expect(page.locator("h1")).to_have_text("Live camera")


def test_without_a_camera_the_page_says_why(browser, live_server):
    """A browser that offers no camera (Chromium without the fake device, no permission)."""
    context, page = watched_page(browser, locale="en-US")
    page.add_init_script("Object.defineProperty(navigator, 'mediaDevices', {value: undefined})")
    page.goto(live_server + "/live")
    expect(page.locator("#message")).to_contain_text("secure", timeout=SLOW)
    expect(page.locator("#live-pause")).to_be_disabled()
    context.close()
    check_clean(page)


# --- auth on ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def guarded(tmp_path_factory, lite0):
    from localvision.config import Settings
    from localvision.server.app import create_app

    db = f"sqlite:///{tmp_path_factory.mktemp('camera_page_auth')}/localvision.db"
    users_with_keys(db, {"bob": ("bob-password-1", "user")})
    settings = Settings(model="efficientnet_lite0", offline=True, db=db, auth="on")
    with LiveServer(create_app(settings, classifier=lite0)) as live:
        yield live.url


def test_signed_in_the_live_page_works_and_signed_out_it_asks_for_a_sign_in(open_page, guarded):
    page = open_page("en-US")
    page.goto(guarded + "/live")
    expect(page).to_have_url(re.compile(r"/login\?next=%2Flive$"))
    page.fill("input[name=username]", "bob")
    page.fill("input[name=password]", "bob-password-1")
    page.locator("button[type=submit]").click()
    expect(page).to_have_url(guarded + "/live")
    _watch_live(page, "espresso")
