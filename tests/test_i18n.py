"""The UI in Chinese and in English (static/i18n.js), end to end in Debian's Chromium.

The language comes from the browser (Playwright's `locale` sets navigator.languages and
Accept-Language) until the switch in the page header saves another; every page (Recognize,
History, sign-in) follows it; the server's English error messages become Chinese sentences by
their code; and Chinese text is drawn with a real CJK font from the system (no web font).

Set LOCALVISION_SCREENSHOTS to a folder to keep screenshots of the Recognize page in both
languages (after recognizing the coffee example).
"""

from __future__ import annotations

import os
import re
import zipfile
from pathlib import Path

import pytest
from chromium import SLOW, latin_left, model_data, page_opener
from playwright.sync_api import expect

STATIC = Path(__file__).parents[1] / "src" / "localvision" / "server" / "static"
SRC = Path(__file__).parents[1] / "src" / "localvision"
# The faces of style.css's stack that draw Chinese (one per system).
CJK_FACES = {"PingFang SC", "Hiragino Sans GB", "Microsoft YaHei", "Noto Sans CJK SC",
             "Source Han Sans SC", "WenQuanYi Micro Hei", "WenQuanYi Zen Hei"}  # fmt: skip


# --- fixtures -----------------------------------------------------------------------------------
@pytest.fixture
def open_page(browser):
    """open_page(locale, **context_options) -> a watched page; every one is checked at the end:
    nothing loaded from outside, no JavaScript error (a Chinese dictionary that does not match
    its English one is a console error)."""
    with page_opener(browser) as open_:
        yield open_


@pytest.fixture(scope="module")
def guarded(tmp_path_factory, lite0):
    """A live server with auth on: ada (admin), bob (user)."""
    from servers import LiveServer

    from localvision.auth import AuthStore
    from localvision.config import Settings
    from localvision.server.app import create_app

    db = f"sqlite:///{tmp_path_factory.mktemp('i18n_auth')}/localvision.db"
    store = AuthStore.open(db)
    store.add_user("ada", "ada-password-1", role="admin")
    store.add_user("bob", "bob-password-1", role="user")
    store.close()
    settings = Settings(model="efficientnet_lite0", offline=True, db=db, auth="on")
    with LiveServer(create_app(settings, classifier=lite0)) as live:
        yield live.url


def _classify(url: str, names: list[str], photo: bytes) -> None:
    import httpx

    files = [("file", (name, photo, "image/jpeg")) for name in names]
    assert httpx.post(url + "/api/v1/classify", files=files, timeout=120).status_code == 200


def _screenshot(page, name: str) -> None:
    folder = os.environ.get("LOCALVISION_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / name), full_page=True)


# --- the scripts the sign-in page carries inline ------------------------------------------------
@pytest.mark.parametrize("name", ["i18n.js", "page.js", "login.js"])
def test_scripts_put_into_the_sign_in_page_are_safe_inline(name):
    """The server puts them into login.html as they are: none may end the <script> early, open
    an HTML comment or look like one of the page's {{placeholders}}."""
    text = (STATIC / name).read_text("utf-8").lower()
    for bad in ("</script", "<!--", "{{"):
        assert bad not in text, f"{name} holds {bad!r}"


# --- the Recognize page -------------------------------------------------------------------------
def test_recognize_page_in_chinese(open_page, live_server):
    page = open_page("zh-CN")
    page.goto(live_server + "/")
    expect(page.locator("#banner-model")).to_be_visible()
    assert page.evaluate("document.documentElement.lang") == "zh-CN"
    expect(page).to_have_title("localvision：识别照片")
    expect(page.locator("h1")).to_have_text("这张照片里有什么？")
    expect(page.locator("#dropzone strong")).to_have_text("把照片或 ZIP 拖放到这里")
    expect(page.get_by_label("选择文件")).to_have_attribute("type", "file")
    expect(page.get_by_role("link", name="历史记录")).to_have_attribute("href", "/history")
    expect(page.locator("#recognize")).to_have_text("识别")
    switch = page.get_by_role("group", name="语言")
    expect(switch.get_by_role("button", name="中文")).to_have_attribute("aria-pressed", "true")
    expect(switch.get_by_role("button", name="English")).to_have_attribute("aria-pressed", "false")
    # the model line: what the one model served is, in Chinese
    line = page.locator("#banner-model")
    expect(line).to_contain_text("1,000 个类别")
    expect(line).to_contain_text(re.compile(r"\u2248 [\d.]+ 毫秒/张"))
    expect(line).to_contain_text("ImageNet 准确率 75.1%")
    data = model_data(live_server)
    assert latin_left(page, data) == []

    page.get_by_role("button", name="识别示例照片：咖啡").click()
    rows = page.locator("#results .prediction")
    expect(rows).to_have_count(3, timeout=SLOW)
    expect(page.locator("#results .eyebrow")).to_have_text("最可能是")
    expect(page.locator("#results .result-meta")).to_contain_text("识别模型：efficientnet_lite0")
    expect(page.locator("#status")).to_have_text("完成：已识别 1 个文件。")
    # each Chinese label has its English one small beside it
    expect(page.locator("#results .top-label .top-label-text")).to_have_text("意式浓缩咖啡")
    expect(page.locator("#results .top-label .label-en")).to_have_text("espresso")
    expect(rows.first.locator(".label-en")).to_have_text("espresso")
    expect(rows.locator(".label-en")).to_have_count(3)
    labels = set(page.locator("#results .label").all_inner_texts())
    labels |= set(page.locator("#results .label-en").all_inner_texts())  # data, in English
    assert latin_left(page, data | labels | {"coffee.jpg"}) == []
    # the labels are asked for in the page's language, whatever the browser's header says
    assert [u for u in page.watch.api_calls("/api/v1/classify") if "lang=zh" in u]
    _screenshot(page, "index-zh-CN.png")


def test_recognize_page_in_english(open_page, live_server):
    page = open_page("en-US")
    page.goto(live_server + "/")
    expect(page.locator("#banner-model")).to_be_visible()
    assert page.evaluate("document.documentElement.lang") == "en"
    expect(page).to_have_title("localvision: recognize a photo")
    expect(page.locator("h1")).to_have_text("What is in this photo?")
    expect(page.locator("#recognize")).to_have_text("Recognize")
    switch = page.get_by_role("group", name="Language")
    expect(switch.get_by_role("button", name="English")).to_have_attribute("aria-pressed", "true")
    page.get_by_role("button", name="Recognize the example photo: Coffee").click()
    expect(page.locator("#results .prediction")).to_have_count(3, timeout=SLOW)
    expect(page.locator("#results .eyebrow")).to_have_text("Most likely")
    expect(page.locator("#status")).to_have_text("Done: 1 file recognized.")
    expect(page.locator("#results .top-label-text")).to_have_text("espresso")
    expect(page.locator("#results .label-en")).to_have_count(0)  # the labels are English already
    assert [u for u in page.watch.api_calls("/api/v1/classify") if "lang=en" in u]
    _screenshot(page, "index-en-US.png")


@pytest.mark.parametrize(
    ("languages", "expected"),
    [(["zh-CN"], "zh-CN"), (["zh-TW", "en"], "zh-CN"), (["fr-FR", "zh"], "zh-CN"),
     (["en-GB", "zh-CN"], "en"), (["fr-FR"], "en")],
)  # fmt: skip
def test_the_language_comes_from_the_browser(open_page, live_server, languages, expected):
    """The first of the browser's languages that the UI speaks, else English."""
    page = open_page(languages[0])
    page.add_init_script(
        f"Object.defineProperty(navigator, 'languages', {{get: () => {languages!r}}});"
    )
    page.goto(live_server + "/")
    assert page.evaluate("document.documentElement.lang") == expected


@pytest.mark.parametrize(
    "locale,said",
    [("zh-CN", "本机没有 ResNet-18 的权重（离线），因此由内置的 efficientnet_lite0 识别。"),
     ("en-US", "ResNet-18\u2019s weights are not on this machine (offline)")],
)  # fmt: skip
def test_why_auto_chose_another_model_is_said_in_the_pages_language(open_page, live_server,
                                                                    locale, said):  # fmt: skip
    """The notice of a service started with `auto` offline (every fresh install here), by its
    code: the server's English sentence never shows on the Chinese page."""
    from localvision.models.resolve import NOTICES

    def as_auto(route):
        body = route.fetch().json()
        body.update(notice=NOTICES["auto_offline"], notice_code="auto_offline")
        route.fulfill(json=body)

    page = open_page(locale)
    page.route("**/api/v1/models", as_auto)
    page.goto(live_server + "/")
    expect(page.locator("#banner-notice")).to_contain_text(said)
    expect(page.locator("#banner-notice")).to_contain_text("localvision weights fetch resnet18")


# --- the switch ---------------------------------------------------------------------------------
def test_the_switch_changes_the_language_and_the_choice_is_kept(open_page, live_server):
    page = open_page("zh-CN")
    page.goto(live_server + "/")
    expect(page.locator("h1")).to_have_text("这张照片里有什么？")
    page.get_by_role("button", name="English").click()  # saves the choice, reloads
    expect(page.locator("h1")).to_have_text("What is in this photo?")
    assert page.evaluate("document.documentElement.lang") == "en"
    assert page.evaluate("localStorage.getItem('localvision.lang')") == "en"
    page.reload()  # the browser still says zh-CN; the saved choice wins
    expect(page.locator("h1")).to_have_text("What is in this photo?")
    expect(page.get_by_role("button", name="English")).to_have_attribute("aria-pressed", "true")
    page.goto(live_server + "/history")  # ... on every page
    expect(page.locator("h1")).to_have_text("History")

    page.get_by_role("button", name="中文").click()
    expect(page.locator("h1")).to_have_text("历史记录")
    page.goto(live_server + "/")
    expect(page.locator("h1")).to_have_text("这张照片里有什么？")

    english = open_page("en-US")  # and the other way round
    english.goto(live_server + "/")
    english.get_by_role("button", name="中文").click()
    expect(english.locator("h1")).to_have_text("这张照片里有什么？")
    english.reload()
    expect(english.locator("h1")).to_have_text("这张照片里有什么？")


# --- errors -------------------------------------------------------------------------------------
def test_a_server_error_is_a_chinese_sentence(open_page, live_server, tmp_path, photos):
    fake = tmp_path / "holiday.jpg"
    fake.write_text("this is not a photo\n")
    page = open_page("zh-CN")
    page.goto(live_server + "/")
    expect(page.locator("#banner-model")).to_be_visible()
    page.set_input_files("#file-input", fake)
    page.click("#recognize")  # the server says unsupported_format, in English
    message = page.locator("#message")
    expect(message).to_have_text(
        "无法识别 \u201choliday.jpg\u201d：这个文件不是 localvision 能读取的图片"
        "（支持 JPEG、PNG、WebP、BMP、GIF 或 TIFF）。",
        timeout=SLOW,
    )
    # a refusal made here, before any upload
    page.set_input_files(
        "#file-input", {"name": "notes.txt", "mimeType": "text/plain", "buffer": b"x"}
    )
    expect(message).to_have_text(
        "\u201cnotes.txt\u201d 不是照片，也不是 ZIP。请选择 JPEG、PNG、WebP、BMP、GIF 或 TIFF 图片，"
        "或装有这些图片的 ZIP。"
    )
    # a row of a ZIP that the server could not read
    archive = tmp_path / "photos.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("coffee.jpg", photos["coffee"])
        zf.writestr("notes.txt", "shopping list\n")
    page.set_input_files("#file-input", archive)
    page.click("#recognize")
    failed = page.locator("#results-table tbody tr.error-row")
    expect(failed).to_have_count(1, timeout=SLOW)
    expect(failed.locator(".cell-error")).to_have_text(
        "未识别 这个文件不是 localvision 能读取的图片（支持 JPEG、PNG、WebP、BMP、GIF 或 TIFF）。"
    )
    expect(page.locator("#results-table thead")).to_contain_text("置信度")


def _error(status, code, message, **extra):
    return {"status": status, "json": {"error": {"code": code, "message": message, **extra}}}


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (_error(413, "file_too_large", "This file is larger than 10 MB."),
         "文件太大：服务器接受的每张照片最大 10 MB。"),
        (_error(429, "rate_limited", "Too many requests (the limit is 2/s); try again in 7 s.",
                retry_after=7), "请求太频繁，请 7 秒后再试。"),
        (_error(503, "model_not_ready", "The model is still loading; try again in a few seconds."),
         "模型尚未就绪，暂时无法识别。请查看页面顶部的提示。"),
        (_error(503, "overloaded", "The server is busy."), "服务器正忙，请过几秒再试。"),
        (_error(418, "brand_new_code", "Something this page has never heard of."),
         "Something this page has never heard of."),  # an unknown code: the server's sentence
        ({"status": 500, "content_type": "text/html", "body": "<html><h1>Server Error</h1></html>"},
         "服务器出现问题（HTTP 500）。请重试；如果反复出现，请查看服务器日志。"),
        ("abort", "无法连接 localvision 服务器。请确认它仍在运行，然后重试。"),
    ],
    ids=["file_too_large", "rate_limited", "model_not_ready", "overloaded", "unknown_code",
         "html_500", "network"],
)  # fmt: skip
def test_request_errors_in_chinese(open_page, live_server, tmp_path, photos, answer, expected):
    coffee = tmp_path / "coffee.jpg"
    coffee.write_bytes(photos["coffee"])
    page = open_page("zh-CN")
    page.route("**/api/v1/classify*",
               lambda route: route.abort("connectionrefused") if answer == "abort"
               else route.fulfill(**answer))  # fmt: skip
    page.goto(live_server + "/")
    expect(page.locator("#banner-model")).to_be_visible()
    page.set_input_files("#file-input", coffee)
    page.click("#recognize")
    expect(page.locator("#message")).to_have_text(expected)


def test_every_error_code_has_a_sentence_in_both_languages(open_page, live_server):
    """Every code the service can send (each typed error's, and those the HTTP layer writes
    itself) has a sentence in i18n.js; the Chinese and English tables have the same codes (a
    mismatch is a console error, which fails the page)."""
    from localvision.server.errors import _HTTP_CODES

    codes = set(_HTTP_CODES.values())
    for path in SRC.rglob("*.py"):
        text = path.read_text("utf-8")
        codes |= set(re.findall(r'^\s+code = "([a-z_]+)"$', text, re.MULTILINE))
        codes |= set(re.findall(r'error_response\(\s*\d+,\s*"([a-z_]+)"', text))
    assert {"unsupported_format", "too_many_attempts", "nested_archive", "no_file"} <= codes
    for locale in ("zh-CN", "en-US"):
        page = open_page(locale)
        page.goto(live_server + "/")
        known = set(page.evaluate("window.localvisionI18n.errorCodes"))
        assert codes - known == set(), locale


# --- History ------------------------------------------------------------------------------------
def test_history_page_in_chinese_and_english(open_page, live_server, photos):
    _classify(live_server, ["i18n-probe.jpg"], photos["coffee"])
    page = open_page("zh-CN")
    page.goto(live_server + "/history")
    rows = page.locator("#history-table tbody tr")
    expect(rows.first).to_contain_text("i18n-probe.jpg")
    assert page.evaluate("document.documentElement.lang") == "zh-CN"
    expect(page).to_have_title("localvision：历史记录")
    expect(page.locator("h1")).to_have_text("历史记录")
    expect(page.locator("#history-count")).to_contain_text(
        re.compile(r"^第 1\u2013\d+ 条，共 \d+ 条识别记录")
    )
    expect(page.locator("#history-table thead")).to_contain_text("时间")
    expect(page.locator("#history-csv")).to_have_text("下载 CSV")
    expect(page.get_by_label("文件名包含")).to_be_visible()
    expect(rows.first.locator(".cell-latency")).to_contain_text("毫秒")
    expect(rows.first.locator("time")).to_contain_text("年")  # a date as Chinese readers write it
    expect(page.get_by_role("button", name="从历史记录中删除 i18n-probe.jpg")).to_have_count(1)

    import httpx

    items = httpx.get(live_server + "/api/v1/history", params={"limit": 25}).json()["items"]
    data = model_data(live_server) | {i["filename"] for i in items} | {i["model"] for i in items}
    data |= {i["predictions"][0]["label"] for i in items if i["predictions"]}
    times = page.locator("#history-table tbody time")
    data |= set(times.evaluate_all("ts => ts.map(t => t.title)"))  # the UTC instant
    assert latin_left(page, data) == []
    _screenshot(page, "history-zh-CN.png")

    # a search that matches nothing
    page.get_by_label("文件名包含").fill("no-such-file-anywhere")
    page.get_by_role("button", name="搜索").click()
    expect(page.locator("#history-count")).to_have_text("没有符合搜索条件的记录。")
    expect(page.locator("#history-none")).to_be_visible()

    english = open_page("en-US")
    english.goto(live_server + "/history")
    expect(english.locator("h1")).to_have_text("History")
    expect(english.locator("#history-count")).to_contain_text("Showing 1\u2013")


def test_history_empty_state_reads_as_one_sentence(open_page, live_server):
    page = open_page("zh-CN")
    page.route("**/api/v1/history?*", lambda route: route.fulfill(json={"items": [], "total": 0}))
    page.goto(live_server + "/history")
    expect(page.locator("#history-empty")).to_have_text(
        "还没有识别记录。去识别一张照片，它会出现在这里。"
    )
    english = open_page("en-US")
    english.route(
        "**/api/v1/history?*", lambda route: route.fulfill(json={"items": [], "total": 0})
    )
    english.goto(live_server + "/history")
    expect(english.locator("#history-empty")).to_have_text(
        "No recognitions yet. Recognize a photo and it will show up here."
    )


@pytest.mark.parametrize("locale", ["zh-CN", "en-US"])
def test_pages_with_the_switch_fit_a_phone(open_page, live_server, guarded, locale):
    page = open_page(locale, viewport={"width": 375, "height": 740})
    for url in (live_server + "/", live_server + "/history", guarded + "/login"):
        page.goto(url)
        expect(page.get_by_role("button", name="English")).to_be_in_viewport()
        expect(page.get_by_role("button", name="中文")).to_be_in_viewport()
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{url} scrolls sideways at 375px in {locale}"


# --- the sign-in page ---------------------------------------------------------------------------
def test_sign_in_page_in_chinese(open_page, guarded):
    page = open_page("zh-CN")
    page.goto(guarded + "/history")  # not signed in: the sign-in page
    expect(page).to_have_url(re.compile(r"/login\?next=%2Fhistory$"))
    assert page.evaluate("document.documentElement.lang") == "zh-CN"
    expect(page).to_have_title("localvision：登录")
    expect(page.locator("h1")).to_have_text("登录")
    expect(page.locator("[data-testid=sign-in]")).to_have_text("登录")
    expect(page.locator(".login-help")).to_have_text(
        "还没有账号？请服务器管理员运行 localvision users add NAME 为你创建一个。"
    )
    expect(page.get_by_role("button", name="中文")).to_have_attribute("aria-pressed", "true")
    assert latin_left(page, {"localvision users add NAME"}) == []  # the command is data

    page.get_by_label("用户名").fill("ada")
    page.get_by_label("密码").fill("not-her-password")
    page.get_by_role("button", name="登录").click()
    expect(page.locator("#login-error")).to_have_text("用户名或密码错误。")
    expect(page.get_by_label("用户名")).to_have_value("ada")
    _screenshot(page, "login-zh-CN.png")

    for _ in range(6):  # the throttle: five failures for one name, then a wait
        page.get_by_label("用户名").fill("mallory")
        page.get_by_label("密码").fill("guess")
        page.get_by_role("button", name="登录").click()
    expect(page.locator("#login-error")).to_have_text(
        re.compile(r"登录失败次数过多，请 \d+ 秒后再试。")
    )

    page.get_by_label("用户名").fill("ada")
    page.get_by_label("密码").fill("ada-password-1")
    page.get_by_role("button", name="登录").click()
    expect(page).to_have_url(guarded + "/history")
    expect(page.locator("h1")).to_have_text("历史记录")
    expect(page.locator("#auth-user")).to_contain_text("ada（管理员）")
    expect(page.locator("[data-testid=sign-out]")).to_have_text("退出登录")


def test_sign_in_page_in_english_and_its_switch(open_page, guarded):
    page = open_page("en-US")
    page.goto(guarded + "/history")
    expect(page).to_have_url(re.compile(r"/login\?next=%2Fhistory$"))
    assert page.evaluate("document.documentElement.lang") == "en"
    expect(page.locator("h1")).to_have_text("Sign in")
    expect(page.get_by_label("User name")).to_be_visible()
    page.get_by_label("User name").fill("bob")
    page.get_by_label("Password").fill("wrong")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#login-error")).to_have_text("Wrong user name or password.")

    # The page is a POST's answer now: the switch shows it again by a GET that keeps `next`.
    page.get_by_role("button", name="中文").click()
    expect(page.locator("h1")).to_have_text("登录")
    expect(page).to_have_url(re.compile(r"/login\?next=%2Fhistory$"))
    page.get_by_label("用户名").fill("bob")
    page.get_by_label("密码").fill("bob-password-1")
    page.get_by_role("button", name="登录").click()
    expect(page).to_have_url(guarded + "/history")
    expect(page.locator("h1")).to_have_text("历史记录")  # the choice holds after sign-in
    expect(page.locator("#auth-user")).to_contain_text("bob")
    page.goto(guarded + "/")
    expect(page.locator("h1")).to_have_text("这张照片里有什么？")


def test_sign_in_works_without_javascript_in_english(open_page, guarded):
    """Without JavaScript the server's English page is the page, and signing in works."""
    page = open_page("zh-CN", java_script_enabled=False)
    page.goto(guarded + "/login?next=/history")
    expect(page.locator("h1")).to_have_text("Sign in")
    page.fill("#username", "bob")
    page.fill("#password", "nope")
    page.click("[data-testid=sign-in]")
    expect(page.locator("#login-error")).to_have_text("Wrong user name or password.")
    page.fill("#password", "bob-password-1")
    page.click("[data-testid=sign-in]")
    expect(page).to_have_url(guarded + "/history")


# --- fonts --------------------------------------------------------------------------------------
def test_chinese_is_drawn_with_a_cjk_system_font(open_page, live_server):
    """Not tofu: the heading's characters come from one of the stack's Chinese faces (as
    Chromium reports the fonts it drew them with), and Chinese characters are drawn as
    themselves, not as the box of a missing glyph."""
    page = open_page("zh-CN")
    page.goto(live_server + "/")
    heading = page.locator("h1")
    expect(heading).to_have_text("这张照片里有什么？")

    cdp = page.context.new_cdp_session(page)
    cdp.send("DOM.enable")
    cdp.send("CSS.enable")
    root = cdp.send("DOM.getDocument")["root"]["nodeId"]
    node = cdp.send("DOM.querySelector", {"nodeId": root, "selector": "h1"})["nodeId"]
    fonts = cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]
    drawn = {f["familyName"]: f["glyphCount"] for f in fonts}
    cjk = {name: n for name, n in drawn.items() if name in CJK_FACES}
    assert sum(cjk.values()) >= 8, f"the heading was drawn with {drawn}"  # 8 Han of its 9

    # Drawn: two Han characters differ from each other and from a character no font has (a
    # missing glyph is the same box whatever the character).
    drawn = page.evaluate(
        """() => {
            const family = getComputedStyle(document.body).fontFamily;
            const draw = (text) => {
                const canvas = document.createElement("canvas");
                canvas.width = canvas.height = 48;
                const ctx = canvas.getContext("2d");
                ctx.font = `32px ${family}`;
                ctx.textBaseline = "top";
                ctx.fillText(text, 4, 4);
                const alpha = Array.from(ctx.getImageData(0, 0, 48, 48).data).filter((_, i) => i % 4 === 3);
                return {ink: alpha.filter((a) => a > 0).length, pixels: alpha.join(",")};
            };
            return {shi: draw("识"), bie: draw("别"), missing: draw("\\u{F0000}")};
        }"""
    )
    assert drawn["shi"]["ink"] > 0 and drawn["bie"]["ink"] > 0
    assert drawn["shi"]["pixels"] != drawn["missing"]["pixels"], "识 is drawn as a missing glyph"
    assert drawn["shi"]["pixels"] != drawn["bie"]["pixels"], "识 and 别 are drawn alike (boxes)"
