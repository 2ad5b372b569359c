"""The Recognize page with several models, "not sure" and groups, in Debian's Chromium against a
real server that serves efficientnet_lite0 (real weights) and r18-random (a ResNet-18 with
seeded random weights, imported into a private store), both loaded for real.

- the picker lists the served models, each with its classes, speed, ImageNet accuracy (where
  known) and precision; the one chosen is sent as ?model= with every request (one photo,
  several, a ZIP, an example), remembered, and named by the result;
- an answer under the server's confidence floor (the astronaut: no ImageNet class fits her) is
  marked "not sure" and never looks like a confident one; coffee stays "espresso";
- "Show groups" asks for groups: chelsea is a near-tie of cat breeds, and surely a cat;
- in Chinese, the English label is shown small beside each label.

What the answers must be is read from the same server's API, so the page is checked against the
service, not against numbers copied here.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from chromium import PSEUDO, SLOW, english_left, latin_left, page_opener, read_csv
from playwright.sync_api import expect
from servers import LiveServer, wait_models_ready

EXAMPLES = Path(__file__).parents[1] / "src" / "localvision" / "server" / "static" / "examples"
MODELS = ("efficientnet_lite0", "r18-random")



# --- the service --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def server(r18_store, tmp_path_factory):
    """Base URL of a service serving both models, once both are ready."""
    from localvision.config import Settings
    from localvision.server.app import create_app

    db = tmp_path_factory.mktemp("picker") / "h.db"
    settings = Settings(
        models=",".join(MODELS), offline=True, db=f"sqlite:///{db}", precision="fp32",
        rate_limit="off",
    )  # fmt: skip
    with LiveServer(create_app(settings)) as live:
        wait_models_ready(live.url, 240)
        yield live.url


def models_of(url: str) -> dict[str, dict]:
    return {m["name"]: m for m in httpx.get(url + "/api/v1/models").json()["models"]}


def answer(url: str, example: str, **params) -> dict:
    """The API's row for one bundled example photo (the bytes the page sends)."""
    data = (EXAMPLES / f"{example}.jpg").read_bytes()
    r = httpx.post(url + "/api/v1/classify", files={"file": (f"{example}.jpg", data, "image/jpeg")},
                   params=params, timeout=60)  # fmt: skip
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["model"] == params.get("model", MODELS[0])
    return body["results"][0]


def percent(p: float) -> str:
    return f"{p * 100:.1f}%"


def sent(page, path: str) -> list[dict[str, list[str]]]:
    """The query of every request the page made to `path`."""
    return [parse_qs(urlsplit(u).query) for u in page.watch.api_calls(path)]


# --- the browser --------------------------------------------------------------------------------
@pytest.fixture
def open_page(browser, server):
    """open_page(locale, width=1200) -> a watched page; each is checked at the end: nothing from
    outside, no JavaScript error (a Chinese dictionary that misses a key is a console error)."""
    with page_opener(browser) as open_:
        yield lambda locale="en-US", width=1200: open_(
            locale, viewport={"width": width, "height": 900}
        )


def example(page, name: str) -> None:
    page.locator(f"button.example[data-example='{name}']").click()


def card(page):
    card = page.locator("#results [data-testid=result-card]")
    expect(card).to_be_visible(timeout=SLOW)
    return card


def card_for(page, filename: str):
    """The result card once it shows `filename` (an earlier card may still be there)."""
    expect(page.locator("#results .result-file")).to_have_text(filename, timeout=SLOW)
    return card(page)


def speed_of(text: str, unit: str) -> float:
    found = re.search(rf"\u2248 ([\d.,]+) {re.escape(unit)}", text)
    assert found, text
    return float(found.group(1).replace(",", ""))


# --- the picker ---------------------------------------------------------------------------------
def test_the_picker_lists_the_models_and_the_chosen_one_answers(open_page, server, tmp_path):
    models = models_of(server)
    page = open_page("en-US")
    page.goto(server + "/")
    picker = page.get_by_label("Model", exact=True)
    expect(picker).to_be_visible()
    options = picker.locator("option")
    expect(options).to_have_count(2)
    assert options.evaluate_all("os => os.map(o => o.value)") == list(MODELS)  # the default first
    expect(picker).to_have_value("efficientnet_lite0")
    for name, option in zip(MODELS, options.all()):
        text = option.inner_text()
        m = models[name]
        assert text.startswith(name) and f"{m['num_labels']:,} classes" in text, text
        assert speed_of(text, "ms/photo") == pytest.approx(m["latency_ms"], abs=0.51), text
        assert text.endswith(f"\u00b7 {m['precision']}"), text
        expect(option).to_be_enabled()
    lite, r18 = (o.inner_text() for o in options.all())
    assert f"ImageNet top-1 {models['efficientnet_lite0']['metrics']['imagenet_top1']}%" in lite
    assert models["r18-random"]["metrics"] is None and "ImageNet" not in r18  # not known: not said
    details = page.locator("#model-details")
    expect(details).to_contain_text(models["efficientnet_lite0"]["title"])
    expect(details).to_contain_text(models["efficientnet_lite0"]["backend"])

    # r18-random answers the example photo, and the card names it
    picker.select_option("r18-random")
    expect(details).to_contain_text(models["r18-random"]["title"])
    example(page, "coffee")
    result = card_for(page, "coffee.jpg")
    expect(result.locator(".result-meta")).to_contain_text("Answered by r18-random")
    expected = answer(server, "coffee", model="r18-random", lang="en")
    expect(result.locator(".top-label-text")).to_have_text(expected["predictions"][0]["label"])
    assert sent(page, "/api/v1/classify")[-1]["model"] == ["r18-random"]

    # remembered: after a reload it is still the one chosen, and several photos and a ZIP go to it
    page.reload()
    expect(picker).to_have_value("r18-random")
    archive = tmp_path / "two.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for name in ("chelsea", "rocket"):
            zf.write(EXAMPLES / f"{name}.jpg", f"{name}.jpg")
    page.set_input_files(
        "#file-input", [EXAMPLES / "coffee.jpg", EXAMPLES / "astronaut.jpg", archive]
    )
    page.click("#recognize")
    table = page.locator("#results-table")
    expect(table.locator("tbody tr")).to_have_count(4, timeout=SLOW)
    expect(page.locator("#results .result-meta")).to_contain_text("Answered by r18-random")
    queries = sent(page, "/api/v1/classify") + sent(page, "/api/v1/classify/zip")
    assert len(sent(page, "/api/v1/classify/zip")) == 1
    assert [q["model"] for q in queries] == [["r18-random"]] * len(queries)

    # and back: efficientnet_lite0 knows the coffee
    picker.select_option("efficientnet_lite0")
    example(page, "coffee")
    result = card_for(page, "coffee.jpg")
    expect(result.locator(".result-meta")).to_contain_text("Answered by efficientnet_lite0")
    expect(result.locator(".top-label-text")).to_have_text("espresso")
    assert sent(page, "/api/v1/classify")[-1]["model"] == ["efficientnet_lite0"]
    assert page.evaluate("localStorage.getItem('localvision.model')") == "efficientnet_lite0"


def test_a_model_still_loading_says_so_and_is_offered_once_ready(open_page, server):
    """The service is asked to say that r18-random is still loading for its first answers (a
    real load is over before a page could look): the page says so, lets the default answer
    meanwhile, and asks again until r18-random is ready; then the remembered choice holds."""
    page = open_page("en-US")
    page.add_init_script("localStorage.setItem('localvision.model', 'r18-random')")
    asked = []

    def loading_at_first(route):
        asked.append(route.request.url)
        body = route.fetch().json()
        if len(asked) <= 3:
            body["models"] = [m if m["name"] != "r18-random" else
                              {"name": m["name"], "state": "loading", "reason": None, "hint": None,
                               "memory_mb": None, "latency_ms": None}
                              for m in body["models"]]  # fmt: skip
        route.fulfill(json=body)

    page.route("**/api/v1/models", loading_at_first)
    page.goto(server + "/")
    picker = page.locator("#model-picker")
    loading = picker.locator("option[value='r18-random']")
    expect(loading).to_have_text("r18-random (loading\u2026)")
    expect(loading).to_be_disabled()
    expect(picker).to_have_value("efficientnet_lite0")  # the default answers meanwhile
    expect(page.locator("#banner-error")).to_be_hidden()
    page.set_input_files("#file-input", EXAMPLES / "coffee.jpg")
    expect(page.locator("#recognize")).to_be_enabled()

    # asked again without a reload; once ready it is listed with what it is, and chosen
    expect(loading).to_be_enabled(timeout=SLOW)
    expect(loading).to_contain_text("1,000 classes")
    expect(picker).to_have_value("r18-random")
    assert len(asked) >= 4
    page.click("#recognize")
    expect(card(page).locator(".result-meta")).to_contain_text("Answered by r18-random")
    # ... and once nothing is loading, it stops asking
    settled = len(asked)
    page.wait_for_timeout(2500)
    assert len(asked) == settled


# --- not sure -----------------------------------------------------------------------------------
def test_an_unsure_answer_is_marked_and_a_sure_one_is_not(open_page, server):
    unsure = answer(server, "astronaut", lang="en")
    sure = answer(server, "coffee", lang="en")
    floor = httpx.get(server + "/api/v1/models").json()["limits"]["min_confidence"]
    assert unsure["uncertain"] and unsure["predictions"][0]["probability"] < floor
    assert not sure["uncertain"]
    page = open_page("en-US")
    page.goto(server + "/")
    example(page, "astronaut")
    result = card_for(page, "astronaut.jpg")
    top = unsure["predictions"][0]
    expect(result.locator("[data-testid=not-sure]")).to_have_text("Not sure")
    expect(result.locator(".eyebrow").first).not_to_contain_text("Most likely")
    expect(result.locator(".top-label")).to_have_text(
        f"maybe {top['label']}? {percent(top['probability'])}"
    )
    expect(result.locator(".unsure-why")).to_contain_text(
        f"only {percent(top['probability'])}, under the {floor * 100:g}%"
    )
    # the guesses are still listed, with their bars
    rows = result.locator(".prediction")
    expect(rows).to_have_count(3)
    assert rows.locator(".label").all_inner_texts() == [p["label"] for p in unsure["predictions"]]
    widths = rows.locator(".bar").evaluate_all("els => els.map(e => parseFloat(e.style.width))")
    assert widths == pytest.approx(
        [p["probability"] * 100 for p in unsure["predictions"]], abs=0.06
    )
    unsure_style = _style(result)

    example(page, "coffee")
    result = card_for(page, "coffee.jpg")
    expect(result.locator("[data-testid=not-sure]")).to_have_count(0)
    expect(result.locator(".eyebrow")).to_have_text("Most likely")
    expect(result.locator(".top-label-text")).to_have_text("espresso")
    expect(result.locator(".unsure-why")).to_have_count(0)
    sure_style = _style(result)
    # drawn unlike a confident answer: another colour for the bar and the percent, a lighter
    # headline, and a marked edge
    for key in ("bar", "percent", "weight", "edge"):
        assert unsure_style[key] != sure_style[key], (key, unsure_style, sure_style)

    # several photos: the table marks the row, and the CSV says so
    page.set_input_files("#file-input", [EXAMPLES / "astronaut.jpg", EXAMPLES / "coffee.jpg"])
    page.click("#recognize")
    table = page.locator("#results-table")
    expect(table.locator("tbody tr")).to_have_count(2, timeout=SLOW)
    astronaut, coffee = table.locator("tbody tr").all()
    expect(astronaut).to_have_class(re.compile(r"\bis-uncertain\b"))
    expect(astronaut.locator("[data-testid=not-sure]")).to_have_text("Not sure")
    expect(astronaut.locator(".label")).to_have_text(top["label"])
    expect(coffee).not_to_have_class(re.compile(r"\bis-uncertain\b"))
    expect(coffee.locator("[data-testid=not-sure]")).to_have_count(0)
    with page.expect_download() as info:
        page.click("#download-csv")
    _, csv_rows = read_csv(info.value.path())
    assert [(r["filename"], r["uncertain"]) for r in csv_rows] == [
        ("astronaut.jpg", "true"), ("coffee.jpg", "false")]  # fmt: skip


def _style(result) -> dict:
    return result.evaluate(
        """card => {
            const css = (sel, prop) => getComputedStyle(card.querySelector(sel))[prop];
            return {bar: css(".prediction.is-top .bar", "backgroundColor"),
                    percent: css(".top-percent", "color"),
                    weight: css(".top-label", "fontWeight"),
                    edge: getComputedStyle(card).borderLeftColor};
        }"""
    )


# --- Chinese: not sure, groups, the English labels ----------------------------------------------
def test_in_chinese_not_sure_groups_and_the_english_labels(open_page, server):
    unsure = answer(server, "astronaut", lang="zh")
    cat = answer(server, "chelsea", lang="zh", group="true")
    page = open_page("zh-CN")
    page.goto(server + "/")
    expect(page.get_by_label("模型", exact=True)).to_have_value("efficientnet_lite0")
    expect(page.locator("#model-picker option").first).to_contain_text("ImageNet 准确率 75.1%")
    expect(page.locator("#model-picker option").first).to_contain_text("毫秒/张")

    example(page, "astronaut")
    result = card_for(page, "astronaut.jpg")
    top = unsure["predictions"][0]
    expect(result.locator("[data-testid=not-sure]")).to_have_text("不确定")
    expect(result.locator(".top-label")).to_have_text(
        f"可能是{top['label']}？ {top['label_en']} {percent(top['probability'])}"
    )
    expect(result.locator(".unsure-why")).to_contain_text(f"只有 {percent(top['probability'])}")
    rows = result.locator(".prediction")
    assert rows.locator(".label").all_inner_texts() == [p["label"] for p in unsure["predictions"]]
    assert rows.locator(".label-en").all_inner_texts() == [
        p["label_en"] for p in unsure["predictions"]
    ]
    texts = set(result.locator(".label, .label-en, .top-label-text").all_inner_texts())
    data = _data(server) | texts | {"astronaut.jpg"}
    assert latin_left(page, data) == []

    # groups: off at first; on, chelsea is a cat (猫 / cat) above her breeds
    groups = page.get_by_label("显示分组")
    expect(groups).not_to_be_checked()
    expect(result.locator(".group-block")).to_have_count(0)
    groups.check()
    example(page, "chelsea")
    result = card_for(page, "chelsea.jpg")
    assert sent(page, "/api/v1/classify")[-1]["group"] == ["true"]
    best = cat["groups"][0]
    assert (best["id"], best["label"], best["label_en"]) == ("cat", "猫", "cat")
    chip = result.locator(".group.is-top")
    expect(chip.locator(".group-label")).to_have_text("猫")
    expect(chip.locator(".label-en")).to_have_text("cat")
    expect(chip.locator(".group-percent")).to_have_text(percent(best["probability"]))
    expect(result.locator(".group-block .eyebrow")).to_have_text("分组")
    # above the fine labels, and surer than any of them (a near-tie of breeds)
    assert result.evaluate(
        "c => !!(c.querySelector('.group-block').compareDocumentPosition("
        "c.querySelector('.predictions')) & Node.DOCUMENT_POSITION_FOLLOWING)"
    )
    assert best["probability"] > cat["predictions"][0]["probability"] + 0.2
    expect(result.locator(".prediction .label").first).to_have_text(cat["predictions"][0]["label"])
    expect(result.locator(".prediction .label-en").first).to_have_text(
        cat["predictions"][0]["label_en"]
    )
    texts = set(
        result.locator(".label, .label-en, .top-label-text, .group-label").all_inner_texts()
    )
    assert latin_left(page, _data(server) | texts | {"chelsea.jpg"}) == []

    # the table: the top group of each row
    page.set_input_files("#file-input", [EXAMPLES / "chelsea.jpg", EXAMPLES / "coffee.jpg"])
    page.click("#recognize")
    table = page.locator("#results-table")
    expect(table.locator("tbody tr")).to_have_count(2, timeout=SLOW)
    expect(table.locator("thead")).to_contain_text("分组")
    drink = answer(server, "coffee", lang="zh", group="true")["groups"][0]
    assert [t.replace("\n", " ") for t in table.locator("tbody .cell-group").all_inner_texts()] == [
        f"猫 {percent(best['probability'])}",
        f"{drink['label']} {percent(drink['probability'])}",
    ]
    expect(table.locator("tbody tr").nth(1).locator(".label")).to_have_text("意式浓缩咖啡")
    with page.expect_download() as info:
        page.click("#download-csv")
    header, csv_rows = read_csv(info.value.path())
    assert header[:3] == ["filename", "label_1", "label_en_1"] and "group" in header
    assert (csv_rows[1]["label_1"], csv_rows[1]["label_en_1"]) == ("意式浓缩咖啡", "espresso")
    assert csv_rows[0]["group"] == "猫"

    page.reload()  # the toggle is remembered
    expect(page.get_by_label("显示分组")).to_be_checked()


def _data(url: str) -> set[str]:
    """The served models' own strings (names, titles, backends...): data, not page text."""
    return {v for m in models_of(url).values() for v in m.values() if isinstance(v, str)}


def test_groups_in_english_and_off_again(open_page, server):
    cat = answer(server, "chelsea", lang="en", group="true")["groups"][0]
    page = open_page("en-US")
    page.goto(server + "/")
    toggle = page.get_by_label("Show groups")
    toggle.check()
    example(page, "chelsea")
    result = card_for(page, "chelsea.jpg")
    chip = result.locator(".group.is-top")
    expect(chip.locator(".group-label")).to_have_text("cat")
    expect(chip.locator(".label-en")).to_have_count(0)  # English already
    expect(chip.locator(".group-percent")).to_have_text(percent(cat["probability"]))
    expect(result.locator(".group-block .eyebrow")).to_have_text("Group")

    toggle.uncheck()
    example(page, "coffee")
    result = card_for(page, "coffee.jpg")
    expect(result.locator(".group-block")).to_have_count(0)
    assert "group" not in sent(page, "/api/v1/classify")[-1]


# --- every new string from the dictionary, and a phone ------------------------------------------
def test_every_string_with_two_models_comes_from_the_dictionary(open_page, server):
    """Pseudo-translated (every dictionary string wrapped in ⟦⟧): the picker, a "not sure" card
    with groups and a table with groups hold no English but data."""
    page = open_page("en-US")
    page.add_init_script(PSEUDO)
    page.goto(server + "/")
    expect(page.locator("#model-picker")).to_be_visible()
    data = _data(server)
    assert english_left(page, data) == []
    page.locator("#show-groups").check()
    example(page, "astronaut")
    result = card_for(page, "astronaut.jpg")
    expect(result.locator("[data-testid=not-sure]")).to_be_visible()
    expect(result.locator(".group-block")).to_be_visible()
    texts = set(page.locator("#results .label, #results .top-label-text, #results .group-label")
                .all_inner_texts())  # fmt: skip
    assert english_left(page, data | texts | {"astronaut.jpg"}) == []
    page.set_input_files("#file-input", [EXAMPLES / "astronaut.jpg", EXAMPLES / "coffee.jpg"])
    page.click("#recognize")
    expect(page.locator("#results-table tbody tr")).to_have_count(2, timeout=SLOW)
    texts = set(page.locator("#results .label, #results .group-label, #results .more-label")
                .all_inner_texts())  # fmt: skip
    assert english_left(page, data | texts | {"astronaut.jpg", "coffee.jpg"}) == []


@pytest.mark.parametrize("locale", ["zh-CN", "en-US"])
def test_the_picker_and_grouped_results_fit_a_phone(open_page, server, locale):
    page = open_page(locale, width=375)
    page.goto(server + "/")
    expect(page.locator("#model-picker")).to_be_in_viewport()
    page.locator("#show-groups").check()
    example(page, "astronaut")
    card_for(page, "astronaut.jpg")
    assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
    page.set_input_files("#file-input", [EXAMPLES / "astronaut.jpg", EXAMPLES / "chelsea.jpg"])
    page.click("#recognize")
    expect(page.locator("#results-table tbody tr")).to_have_count(2, timeout=SLOW)
    expect(page.locator("#results-table tbody .cell-group").first).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
