"""The browser suites' shared floor: Debian's Chromium through Playwright, watched pages (nothing
from outside this machine, no JavaScript error), and the helpers that read a page's texts (the
pseudo-translation and Latin-word checks) or a downloaded CSV.

A suite gets its browser from `launched()`: where Chromium or Playwright is missing it is skipped
on a developer's machine and fails under CI (`unavailable`).
"""

from __future__ import annotations

import csv
import io
import os
import re
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import pytest

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


def unavailable(why: str) -> None:
    """A browser suite that cannot run: a skip on a developer's machine, a failure under CI (the
    CI environment variable), where a missing browser would otherwise pass as a silent skip."""
    if os.environ.get("CI"):
        pytest.fail(f"{why}; CI runs every browser suite (scripts/test.sh installs chromium)")
    pytest.skip(why)


@contextmanager
def launched(*extra_args: str):
    """Debian's Chromium with the suites' flags (and any given), closed at the end; `unavailable`
    naming why when it is not installed or cannot start."""
    try:
        from playwright.sync_api import Error as PlaywrightError
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("playwright is not installed")
    if not Path(CHROMIUM).exists():
        unavailable(f"{CHROMIUM} is not installed")
    with sync_playwright() as p:
        try:
            b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS + list(extra_args))
        except PlaywrightError as exc:
            unavailable(f"chromium did not start: {exc}")
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


def watched_page(browser, **context_options):
    """A new browser context (with these options) and its page; `page.watch` records what the
    page requests, refuses anything from outside this machine and collects JavaScript errors."""
    context = browser.new_context(**context_options)
    watch = Watch()
    context.route("**/*", watch.route)
    page = context.new_page()
    page.on("pageerror", lambda exc: watch.errors.append(f"pageerror: {exc}"))
    page.on("console", watch.console)
    page.watch = watch
    return context, page


def check_clean(page) -> None:
    """What every page test checks at its end: nothing from outside, no JavaScript error."""
    assert page.watch.external == [], "the page tried to load resources from outside this machine"
    assert page.watch.errors == [], "the page raised JavaScript errors"


@contextmanager
def page_opener(browser, **defaults):
    """`with page_opener(browser) as open_page:` open_page(locale="en-US", **context_options) ->
    a watched page (1200x900 unless a viewport is given; `defaults` for every page, e.g. camera
    permissions); each one opened is closed and checked at the end (check_clean)."""
    opened = []

    def _open(locale: str = "en-US", **options):
        options = {"viewport": {"width": 1200, "height": 900}, **defaults, **options}
        context, page = watched_page(browser, locale=locale, **options)
        opened.append((context, page))
        return page

    yield _open
    for context, page in opened:
        context.close()
        check_clean(page)


# --- reading pages and files ---
def no_raw_error(text: str) -> None:
    """A message meant for people: no JSON, no traceback, no HTML."""
    for bad in ("{", "Traceback", '"error"', "<html", "undefined", "[object"):
        assert bad not in text, f"{bad!r} leaked into the message: {text!r}"


def read_csv(path: str | Path) -> tuple[list[str], list[dict]]:
    return csv_text(Path(path).read_text(encoding="utf-8"))


def csv_text(text: str) -> tuple[list[str], list[dict]]:
    reader = csv.DictReader(io.StringIO(text))
    return list(reader.fieldnames or []), list(reader)


PSEUDO = """
window.localvisionLocalize = (english) => {
  const wrap = (v) => typeof v === "function" ? (...a) => `\u27e6${v(...a)}\u27e7`
    : typeof v === "string" ? `\u27e6${v}\u27e7`
    : Object.fromEntries(Object.entries(v).map(([k, x]) => [k, wrap(x)]));
  return wrap(english);
};
"""
# Every visible text node, and the text of aria-label, title and alt attributes.
TEXTS = """() => {
  const out = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const el = n.parentElement;
    if (!el || el.closest("script, style") || !el.checkVisibility()) continue;
    if (n.textContent.trim()) out.push(n.textContent.trim());
  }
  for (const el of document.querySelectorAll("[aria-label], [title], img[alt]")) {
    for (const a of ["aria-label", "title", "alt"]) {
      if (el.getAttribute(a)) out.push(el.getAttribute(a));
    }
  }
  out.push(document.title);
  return out;
}"""
# What may be left once the dictionary's strings and the data are taken out: numbers and marks.
LEFTOVER_OK = re.compile(r"^[\s\d.,:;%<>()\[\]/\u00b7\u00d7\u2013\u2014\u2026\u2190\u2192+-]*$")
# The language switch (i18n.js) names each language in that language, never translated.
LANGUAGE_NAMES = {"中文", "English"}


def english_left(page, data: set[str]) -> list[str]:
    """Texts that hold something neither from the (pseudo-translated) dictionary nor data."""
    left = []
    for text in page.evaluate(TEXTS):
        rest = text
        while True:  # strings built from strings nest: take the innermost first
            inner = re.sub("\u27e6[^\u27e6\u27e7]*\u27e7", " ", rest)
            if inner == rest:
                break
            rest = inner
        for item in sorted(data | {"localvision"} | LANGUAGE_NAMES, key=len, reverse=True):
            rest = rest.replace(item, " ")
        if not LEFTOVER_OK.match(rest):
            left.append(text)
    return left


# Latin words a Chinese page may show: formats, units, names of things (ImageNet, the data set
# a model's accuracy is measured on), the switch's "English".
LATIN_OK = {"ZIP", "CSV", "API", "JPEG", "PNG", "WebP", "BMP", "GIF", "TIFF", "Ctrl", "HTTP",
            "MB", "KB", "English", "localvision", "ImageNet"}  # fmt: skip


def latin_left(page, data: set[str]) -> list[str]:
    """Visible texts (and labels, titles, alts, the title) that still hold a Latin word once data
    and LATIN_OK are taken out: English the Chinese page did not translate."""
    left = []
    for text in page.evaluate(TEXTS):
        rest = text
        for item in sorted(data, key=len, reverse=True):
            rest = rest.replace(item, " ")
        words = set(re.findall(r"[A-Za-z]{2,}", rest)) - LATIN_OK
        if words:
            left.append(text)
    return left


def model_data(url: str) -> set[str]:
    import httpx

    model = httpx.get(url + "/api/v1/models").json()["model"]
    return {v for v in model.values() if isinstance(v, str)}
