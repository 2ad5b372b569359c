"""The pages' shared floor, directly: page.js (the helpers every page script uses) and i18n.js's
string tables, in Debian's Chromium with no server. The browser asks for http://page.test/...;
Playwright answers from the static folder (and plays the API where a helper talks to it), so
each check is a function call, not a page walk.

Also, read as text: no page script carries a strings table of its own (they are all in
i18n.js, English beside Chinese).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

STATIC = Path(__file__).parents[1] / "src" / "localvision" / "server" / "static"
ORIGIN = "http://page.test"
# The script tables in i18n.js: one per page script, and its own.
TABLES = {"i18n", "app", "history", "live", "teach", "auth", "login"}

def _serve(route, api: dict):
    """Static files from the package; the API as `api` says: path -> (status, body, type), a
    body None meaning the connection drops."""
    path = route.request.url.removeprefix(ORIGIN).split("?")[0]
    if path == "/":
        route.fulfill(status=200, content_type="text/html; charset=utf-8", body=(
            '<!doctype html><html><head><title>x</title>'
            '<script src="/static/i18n.js"></script><script src="/static/page.js"></script>'
            '</head><body><header class="site-header"><div class="header-row"></div></header>'
            '<main id="main"></main></body></html>'))
    elif path.startswith("/static/"):
        route.fulfill(status=200, content_type="text/javascript; charset=utf-8",
                      body=(STATIC / path.removeprefix("/static/")).read_text("utf-8"))
    elif path in api:
        status, body, kind = api[path]
        if body is None:
            route.abort()
        else:
            route.fulfill(status=status, content_type=kind, body=body)
    else:
        route.fulfill(status=404, body="")


@pytest.fixture
def open_page(browser):
    """open_page(locale="en-US", api={}) -> a page with i18n.js and page.js loaded; the console
    errors it logs are in page.console_errors."""
    contexts = []

    def _open(locale: str = "en-US", api: dict | None = None):
        context = browser.new_context(locale=locale)
        contexts.append(context)
        context.route("**/*", lambda route: _serve(route, api or {}))
        page = context.new_page()
        page.console_errors = []
        page.on("console", lambda m: m.type == "error" and page.console_errors.append(m.text))
        page.on("pageerror", lambda exc: page.console_errors.append(str(exc)))
        page.goto(ORIGIN + "/")
        return page

    yield _open
    for context in contexts:
        context.close()


# --- page.js ------------------------------------------------------------------------------------
def test_el_sets_properties_attributes_and_text_never_html(open_page):
    page = open_page()
    made = page.evaluate("""() => {
        const { el } = window.localvisionPage;
        const node = el("button", { className: "a b", dataset: { id: "7" }, disabled: false,
            hidden: null, "aria-label": "Go", title: undefined, style: "width: 5px" },
            "<b>x</b>", null, false, [el("span", {}, 3), "y"]);
        return { html: node.outerHTML, disabled: node.disabled, text: node.textContent };
    }""")
    assert made["html"] == ('<button class="a b" data-id="7" aria-label="Go" style="width: 5px;">'
                            "&lt;b&gt;x&lt;/b&gt;<span>3</span>y</button>")  # fmt: skip
    assert made["disabled"] is False and made["text"] == "<b>x</b>3y"


@pytest.mark.parametrize(
    ("p", "text"),
    [(0.8734, "87.3%"), (1, "100.0%"), (0, "0.0%"), (0.0004, "<0.1%"), (None, "0.0%"),
     ("x", "\u2014"), (float("nan"), "\u2014")],
)  # fmt: skip
def test_percent_text(open_page, p, text):
    page = open_page()
    assert page.evaluate("p => window.localvisionPage.percentText(p)", p) == text


def test_bar_width_quoted_and_utc_times(open_page):
    page = open_page()
    got = page.evaluate("""() => {
        const P = window.localvisionPage;
        return {
            bars: [1.5, -0.2, 0.123].map(P.barWidth),
            quoted: P.quoted("cat"),
            // the server writes UTC without an offset: not the browser's local time
            naive: P.parseUtc("2024-05-06 07:08:09").toISOString(),
            zoned: P.parseUtc("2024-05-06T07:08:09+02:00").toISOString(),
            bad: [P.parseUtc("yesterday"), P.parseUtc(null)],
        };
    }""")
    assert got["bars"] == ["100.0%", "0.0%", "12.3%"]
    assert got["quoted"] == "\u201ccat\u201d"
    assert got["naive"] == "2024-05-06T07:08:09.000Z"
    assert got["zoned"] == "2024-05-06T05:08:09.000Z"
    assert got["bad"] == [None, None]


@pytest.mark.parametrize(
    ("name", "kind", "image"),
    [("a.jpg", "image/jpeg", True), ("a.tif", "image/tiff", True), ("a.jfif", "", True),
     ("a.PNG", "application/octet-stream", True), ("a.txt", "text/plain", False),
     ("a.jpg", "text/plain", False), ("notes", "", False), ("a.zip", "application/zip", False)],
)  # fmt: skip
def test_is_image_by_type_then_by_extension(open_page, name, kind, image):
    page = open_page()
    got = page.evaluate(
        "([n, t]) => window.localvisionPage.isImage(new File(['x'], n, { type: t }))", [name, kind]
    )
    assert got is image


def test_pasted_files_are_numbered_and_keep_their_type(open_page):
    page = open_page()
    got = page.evaluate("""() => {
        const P = window.localvisionPage;
        return [P.pastedFile(new File(["x"], "image.png", { type: "image/jpeg" }), 3),
                P.pastedFile(new File(["x"], "image.png", { type: "image/png" }), 4)]
            .map((f) => [f.name, f.type, f.size]);
    }""")
    assert got == [["pasted-3.jpg", "image/jpeg", 1], ["pasted-4.png", "image/png", 1]]


def test_apply_strings_fills_text_attributes_and_title(open_page):
    page = open_page()
    page.evaluate("""() => {
        document.getElementById("main").innerHTML =
            '<h1 data-i18n="heading">old</h1>' +
            '<nav data-i18n-aria-label="nav"></nav>' +
            '<input data-i18n-placeholder="hint" data-i18n-title="hint">' +
            '<img data-i18n-alt="picture">' +
            '<p data-i18n="missing">kept</p>';
        window.localvisionPage.applyStrings({ pageTitle: "T", heading: "Hello", nav: "Pages",
            hint: "Type", picture: "A cat" });
    }""")
    assert page.title() == "T"
    assert page.locator("h1").inner_text() == "Hello"
    assert page.locator("nav").get_attribute("aria-label") == "Pages"
    assert page.locator("input").get_attribute("placeholder") == "Type"
    assert page.locator("input").get_attribute("title") == "Type"
    assert page.locator("img").get_attribute("alt") == "A cat"
    assert page.locator("p").inner_text() == "kept"  # a key the strings lack: said, not blanked
    assert page.console_errors == ["localvision: no string named missing"]


def test_show_message_one_paragraph_a_line_and_clear(open_page):
    page = open_page()
    got = page.evaluate("""() => {
        const P = window.localvisionPage;
        const box = document.createElement("div");
        box.hidden = true;
        P.showMessage(box, ["One.", "<i>Two</i>."]);
        const shown = [box.outerHTML, box.hidden];
        P.showMessage(box, "Saved.", "info");
        const info = box.className;
        P.clearMessage(box);
        const notice = document.createElement("p");
        P.showNotice(notice, "Done");
        const noticed = [notice.textContent, notice.hidden];
        P.showNotice(notice, "");
        return { shown, info, cleared: [box.textContent, box.hidden], noticed,
                 unnoticed: notice.hidden };
    }""")
    assert got["shown"] == [
        '<div class="message message-error"><p>One.</p><p>&lt;i&gt;Two&lt;/i&gt;.</p></div>', False]
    assert got["info"] == "message message-info"
    assert got["cleared"] == ["", True]
    assert got["noticed"] == ["Done", False] and got["unnoticed"] is True


def test_saved_and_save_remember_in_local_storage(open_page):
    page = open_page()
    assert page.evaluate("""() => {
        const P = window.localvisionPage;
        const before = P.saved("localvision.test");
        P.save("localvision.test", "resnet18");
        return [before, P.saved("localvision.test")];
    }""") == [None, "resnet18"]


REQUEST = """async ([url, allowEmpty]) => {
    const P = window.localvisionPage;
    try {
        const body = await P.requestJson(url, { method: "POST" }, {
            describe: (error, status) => `described ${status} ${error ? error.code : "none"}`,
            unreachable: "unreachable", unreadable: "unreadable", allowEmpty });
        return { body };
    } catch (err) {
        return { error: [err instanceof P.ApiError, err.message, err.code, err.status] };
    }
}"""


@pytest.mark.parametrize(
    ("answer", "allow_empty", "outcome"),
    [((200, '{"a": 1}', "application/json"), False, {"body": {"a": 1}}),
     ((204, "", "text/plain"), False, {"body": None}),
     ((200, "<html>proxy</html>", "text/html"), False,
      {"error": [True, "unreadable", "bad_response", 200]}),
     ((200, "null", "application/json"), True, {"body": None}),
     ((409, json.dumps({"error": {"code": "training_busy", "message": "Busy."}}),
       "application/json"), False, {"error": [True, "described 409 training_busy",
                                              "training_busy", 409]}),
     ((502, "<html>Bad gateway</html>", "text/html"), False,
      {"error": [True, "described 502 none", None, 502]}),
     ((0, None, ""), False, {"error": [True, "unreachable", "network_error", 0]})],
)  # fmt: skip
def test_request_json_turns_every_failure_into_one_sentence(open_page, answer, allow_empty,
                                                              outcome):  # fmt: skip
    page = open_page(api={"/api/x": answer})
    assert page.evaluate(REQUEST, ["/api/x", allow_empty]) == outcome


def test_request_json_sends_the_csrf_token_and_wants_json(open_page):
    page = open_page(api={"/api/x": (200, "{}", "application/json")})
    seen = []
    page.on("request", lambda r: r.url.endswith("/api/x") and seen.append(r.headers))
    page.evaluate("""() => {
        window.localvisionAuth = { headers: () => ({ "X-CSRF-Token": "t0k" }), signIn() {} };
        return window.localvisionPage.requestJson("/api/x", { headers: { "X-Extra": "1" } },
            { describe: () => "", unreachable: "", unreadable: "" });
    }""")
    (headers,) = seen
    assert headers["accept"] == "application/json"
    assert headers["x-csrf-token"] == "t0k" and headers["x-extra"] == "1"


# --- i18n.js: every page's strings, English and Chinese side by side ----------------------------
@pytest.mark.parametrize("locale", ["en-US", "zh-CN"])
def test_every_table_has_its_strings_in_both_languages(open_page, locale):
    """Each script's table: English, and Chinese with the same keys and kinds (a mismatch is a
    console error); every string filled in."""
    page = open_page(locale)
    got = page.evaluate("""() => {
        const I18N = window.localvisionI18n;
        const empty = [];
        const walk = (table, where) => {
            for (const [key, value] of Object.entries(table)) {
                if (typeof value === "string" && !value.trim() && key !== "helpAfter") {
                    empty.push(where + key);
                }
                if (value && typeof value === "object") walk(value, `${where}${key}.`);
            }
        };
        const names = I18N.tables;
        for (const name of names) walk(I18N.strings(name), `${name}.`);
        return { lang: I18N.lang, names, empty, heading: I18N.strings("app").heading };
    }""")
    assert set(got["names"]) == TABLES
    assert got["empty"] == []
    assert page.console_errors == []
    english = locale == "en-US"
    assert got["lang"] == ("en" if english else "zh")
    assert got["heading"] == ("What is in this photo?" if english else "这张照片里有什么？")


def test_a_translation_dropped_in_first_wins_over_english(browser):
    """window.localvisionLocalize, defined before i18n.js (a third language, or the tests'
    pseudo-translation), translates every table."""
    context = browser.new_context(locale="en-US")
    try:
        context.add_init_script(
            "window.localvisionLocalize = (english, name) => "
            "({ heading: `[${name}] ${english.heading}` });"
        )
        context.route("**/*", lambda route: _serve(route, {}))
        page = context.new_page()
        page.goto(ORIGIN + "/")
        assert page.evaluate("window.localvisionI18n.strings('app').heading") == (
            "[app] What is in this photo?")  # fmt: skip
        assert page.evaluate("window.localvisionI18n.strings('app').navHistory") == "History"
    finally:
        context.close()


# --- the page scripts, read as text -------------------------------------------------------------
PAGE_SCRIPTS = sorted(p for p in STATIC.rglob("*.js") if p.name != "i18n.js")


@pytest.mark.parametrize("path", PAGE_SCRIPTS, ids=lambda p: str(p.relative_to(STATIC)))
def test_no_page_script_carries_strings_or_helpers_of_its_own(path):
    """Strings live in i18n.js, the shared helpers in page.js: a page script defines neither."""
    text = path.read_text("utf-8")
    assert "const ENGLISH" not in text and "localvisionLocalize" not in text
    if path.name != "page.js":
        for helper in ("el", "percentText", "applyStrings", "localize", "barWidth", "isImage"):
            assert not re.search(rf"^\s*(async )?function {helper}\(", text, re.M), helper


def test_every_page_loads_the_helpers_before_its_script():
    """i18n.js first (not deferred: it sets the page's language), then page.js, then the rest."""
    pages = sorted(STATIC.glob("*.html"))
    assert {p.name for p in pages} >= {"index.html", "history.html", "live.html", "teach.html",
                                       "login.html"}  # fmt: skip
    for html in pages:
        scripts = re.findall(r'<script src="/static/([\w/]+\.js)"', html.read_text("utf-8"))
        assert scripts[:2] == ["i18n.js", "page.js"], html.name
        for name in scripts:
            assert (STATIC / name).is_file(), name


# --- text.js: the text read in a photo (?text=true), as the Recognize page shows it -------------
HOSTILE_LINES = [
    {"text": "<img src=x onerror=alert(1)>", "confidence": 0.9994,
     "box": [[20, 17], [173, 19], [173, 64], [19, 62]]},
    {"text": "&lt;b&gt; & <b>bold</b>", "confidence": 0.5, "box": [[1, 70], [90, 70], [90, 90]]},
]  # fmt: skip
TEXT_VIEW = """async ([lines, withPhoto]) => {
    const T = window.localvisionI18n.strings("app");
    let img = null;
    if (withPhoto) {  // a 200 x 100 photo
        const canvas = document.createElement("canvas");
        [canvas.width, canvas.height] = [200, 100];
        img = document.createElement("img");
        img.src = canvas.toDataURL();
        await img.decode();
    }
    const { overlay, panel } = window.localvisionText.view(lines, T, img, "a.jpg");
    document.getElementById("main").append(panel);
    return {
        panel: panel.textContent,
        strings: [...panel.querySelectorAll(".text-string")].map((n) => n.textContent),
        elements: [...panel.querySelectorAll("*")].map((n) => n.localName),
        copy: panel.querySelectorAll("[data-testid=copy-text]").length,
        overlay: overlay && { viewBox: overlay.getAttribute("viewBox"),
            boxes: [...overlay.querySelectorAll(".text-box")].map((g) => [
                g.getAttribute("data-index"), g.querySelector("polygon").getAttribute("points"),
                g.querySelector("text").textContent]),
            elements: [...overlay.querySelectorAll("*")].map((n) => n.localName) },
        joined: window.localvisionText.joined(lines),
        row: ((node) => [node.textContent, node.title])(window.localvisionText.inRow(lines, T)),
    };
}"""


def _open_text(open_page, locale: str = "en-US"):
    page = open_page(locale)
    page.add_script_tag(url="/static/text.js")
    return page


def test_text_from_a_photo_is_shown_as_text_never_as_html(open_page):
    page = _open_text(open_page)
    got = page.evaluate(TEXT_VIEW, [HOSTILE_LINES, True])
    assert got["strings"] == [line["text"] for line in HOSTILE_LINES]
    assert set(got["elements"]) == {"div", "p", "button", "span", "ol", "li"}  # no <img>, no <b>
    assert got["overlay"]["elements"] == ["g", "polygon", "circle", "text"]  # the 3-point box: none
    assert got["overlay"]["viewBox"] == "0 0 200 100"  # the photo's own pixels
    assert got["overlay"]["boxes"] == [["0", "20,17 173,19 173,64 19,62", "1"]]
    assert got["joined"] == "<img src=x onerror=alert(1)>\n&lt;b&gt; & <b>bold</b>"
    assert got["row"] == ["Text: <img src=x onerror=alert(1)> / &lt;b&gt; & <b>bold</b>",
                          got["joined"]]  # fmt: skip
    assert page.evaluate("document.querySelectorAll('img, b').length") == 0
    assert page.console_errors == []


@pytest.mark.parametrize(("locale", "none"), [("en-US", "No text found"), ("zh-CN", "未发现文字")])
def test_a_photo_without_text_says_so(open_page, locale, none):
    page = _open_text(open_page, locale)
    got = page.evaluate(TEXT_VIEW, [[], True])
    assert got["panel"].endswith(none) and got["copy"] == 0 and got["overlay"] is None
    assert got["row"][0] == none
    assert page.console_errors == []


@pytest.mark.parametrize("locale", ["en-US", "zh-CN"])
def test_the_text_strings_and_error_sentences_in_both_languages(open_page, locale):
    page = open_page(locale)
    got = page.evaluate("""() => {
        const I18N = window.localvisionI18n;
        const T = I18N.strings("app");
        return { toggle: T.readText, title: T.textTitle, copy: T.textCopy, none: T.textNone,
                 lines: T.textLinesOf(2, "a.jpg"), row: T.rowText("x"),
                 errors: ["text_reading_unavailable", "text_reading_failed",
                          "text_model_damaged"].map((code) => I18N.codeText(code)) };
    }""")
    english = locale == "en-US"
    assert got["toggle"] == ("Read text" if english else "识别文字")
    assert got["title"] == ("Text in the photo" if english else "照片中的文字")
    assert got["copy"] == ("Copy text" if english else "复制文字")
    assert got["none"] == ("No text found" if english else "未发现文字")
    assert got["lines"] == ("2 lines of text in a.jpg" if english else "a.jpg 中的 2 行文字")
    assert got["row"] == ("Text: x" if english else "文字：x")
    unavailable, failed, damaged = got["errors"]
    assert "pip install 'localvision[text]'" in unavailable
    assert "judge" not in unavailable and "类别" not in unavailable  # general, not about rules
    assert failed and damaged
    assert page.console_errors == []
