"""The Teach page end to end, in Debian's Chromium against the real service: a real
`localvision train` child (efficientnet_lite0's real weights, --mode head) on a small dataset of
real photos (tests/trainset.py: 3 classes, random crops).

- A model is made with 3 classes; photos reach the classes by the file chooser, a drop, a paste
  and "From recent photos" (the photos the Recognize page recognized in this browser); one is
  deleted again.
- Train: the progress (epochs, loss, accuracy) streamed from the server; a reload while it runs
  finds the job again; once done, the report (the confusion matrix drawn, the per-class table)
  and "try it" on held-out crops, each named by its own class.
- The new model is in the Recognize page's picker and answers there; its "Wrong? It is..."
  control saves a correction, which the Teach page then lists (and deletes).
- The page in Chinese; every string of it from its dictionary; the server's errors as
  sentences; with auth on, a user who is not an admin is told so.

What the answers must be is the dataset's own classes: the labels are data the test made.
"""

from __future__ import annotations

import base64
import re
import time
from pathlib import Path

import httpx
import pytest
from chromium import PSEUDO, english_left, latin_left, no_raw_error, page_opener
from playwright.sync_api import expect
from servers import LiveServer, users_with_keys, wait_models_ready
from trainset import make_trainset

NAME = "shop"  # the model the page teaches
TRAINING = 240_000  # a real training run on a busy 2-core machine: start, features, epochs, package
SLOW = 60_000


# --- the service, the data, the browser -----------------------------------------------------------
@pytest.fixture(scope="module")
def store(tmp_path_factory, lite0_package) -> Path:
    """A private model store: the session's efficientnet_lite0 package linked in."""
    root = tmp_path_factory.mktemp("teach_store")
    (root / "efficientnet_lite0").symlink_to(lite0_package, target_is_directory=True)
    return root


@pytest.fixture(scope="module")
def server(store, tmp_path_factory):
    """Base URL of the real service on the private store (LOCALVISION_MODEL_DIR while it runs,
    so the training child it starts uses the same store)."""
    from localvision.config import Settings
    from localvision.server.app import create_app

    db = tmp_path_factory.mktemp("teach_db") / "h.db"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LOCALVISION_MODEL_DIR", str(store))
        settings = Settings(model="efficientnet_lite0", offline=True, db=f"sqlite:///{db}",
                            precision="fp32", rate_limit="off")  # fmt: skip
        with LiveServer(create_app(settings)) as live:
            wait_models_ready(live.url, 240)
            yield live.url


@pytest.fixture(scope="module")
def photos(tmp_path_factory) -> dict[str, list[Path]]:
    """3 classes x 3 real photos x 3 random crops."""
    return make_trainset(tmp_path_factory.mktemp("teach_train"), classes=3, crops=3)


@pytest.fixture(scope="module")
def held_out(tmp_path_factory) -> dict[str, list[Path]]:
    """New crops of the same kinds of picture (another seed): photos the model has not seen."""
    return make_trainset(tmp_path_factory.mktemp("teach_new"), classes=3, crops=1, seed=7)


@pytest.fixture
def open_page(browser):
    """open_page(locale="en-US", **context_options) -> a watched page, checked at the end."""
    with page_opener(browser) as open_:
        yield open_


# --- helpers ------------------------------------------------------------------------------------
def klass(page, name: str):
    return page.locator(f".class-card[data-class='{name}']")


def drop(page, name: str, files: list[Path]) -> None:
    """Drop these files on the class's card, as a drag from the desktop does."""
    page.evaluate(
        """([name, files]) => {
            const dt = new DataTransfer();
            for (const [file, b64] of files) {
                const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
                dt.items.add(new File([bytes], file, {type: "image/jpeg"}));
            }
            const card = document.querySelector(`.class-card[data-class='${name}']`);
            const init = {dataTransfer: dt, bubbles: true, cancelable: true};
            card.dispatchEvent(new DragEvent("dragover", init));
            card.dispatchEvent(new DragEvent("drop", init));
        }""",
        [name, [[f.name, base64.b64encode(f.read_bytes()).decode()] for f in files]],
    )


def paste(page, file: Path) -> None:
    """Paste one photo (Ctrl+V of a copied image)."""
    page.evaluate(
        """(b64) => {
            const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
            const dt = new DataTransfer();
            dt.items.add(new File([bytes], "image.jpg", {type: "image/jpeg"}));
            document.dispatchEvent(new ClipboardEvent("paste",
                {clipboardData: dt, bubbles: true, cancelable: true}));
        }""",
        base64.b64encode(file.read_bytes()).decode(),
    )


def project(url: str, name: str = NAME) -> dict:
    r = httpx.get(f"{url}/api/v1/teach/projects/{name}", timeout=30)
    assert r.status_code == 200, r.text
    return r.json()


def wait_job(url: str, state: str, timeout: float = 120) -> dict:
    """Until the service's training job is in `state`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = httpx.get(url + "/api/v1/teach/job").json()
        if job and job["state"] == state:
            return job
        time.sleep(0.2)
    raise AssertionError(f"the job is {job and job['state']}, not {state}")


def sources(url: str, name: str = NAME) -> dict[str, set[str]]:
    """class -> the sources of its examples, as the server stored them."""
    out: dict[str, set[str]] = {}
    for e in project(url, name)["examples"]:
        out.setdefault(e["class"], set()).add(e["source"])
    return out


# --- the whole road: classes, photos, training, report, the new model ----------------------------
def test_teach_a_model_and_use_it(open_page, server, photos, held_out):
    classes = list(photos)  # people, texture, microscopy
    page = open_page()

    # A photo recognized on the Recognize page first: the Teach page offers it as a recent one.
    page.goto(server + "/")
    expect(page.locator("#banner-model")).to_contain_text("efficientnet_lite0")
    recent = photos[classes[2]][-1]
    page.set_input_files("#file-input", recent)
    page.click("#recognize")
    expect(page.locator("#results [data-testid=result-card]")).to_be_visible(timeout=SLOW)

    page.get_by_role("link", name="Teach").click()
    expect(page.locator("h1")).to_have_text("Teach it your own classes")
    page.get_by_label("Name").fill(NAME)
    page.get_by_label("Classes, separated by commas").fill(", ".join(classes))
    page.get_by_role("button", name="Create").click()
    expect(page.locator(".class-card")).to_have_count(3)
    expect(page).to_have_url(re.compile(rf"/teach\?project={NAME}$"))
    expect(page.locator("#projects")).to_contain_text(NAME)

    # every class takes a phone's camera too (the button shows on touch screens)
    camera = klass(page, classes[0]).locator("[data-testid=class-camera]")
    expect(camera).to_have_attribute("capture", "environment")
    expect(camera).to_have_attribute("accept", "image/*")
    # people: two by a drop, the rest by the chooser (several at once)
    people = photos[classes[0]]
    drop(page, classes[0], people[:2])
    expect(klass(page, classes[0]).locator(".class-photo")).to_have_count(2)
    klass(page, classes[0]).locator("[data-testid=class-input]").set_input_files(people[2:])
    # texture: the chooser
    klass(page, classes[1]).locator("[data-testid=class-input]").set_input_files(photos[classes[1]])
    # microscopy: one pasted (into the class clicked last), one from the recent photos, the rest
    # chosen
    micro = photos[classes[2]]
    klass(page, classes[1]).get_by_role("button", name="Paste here").click()  # the target
    expect(klass(page, classes[1]).locator(".paste-target")).to_have_attribute(
        "aria-pressed", "true"
    )
    klass(page, classes[2]).get_by_role("button", name="Paste here").click()  # ... moves
    expect(klass(page, classes[2]).locator(".paste-target")).to_have_attribute(
        "aria-pressed", "true"
    )
    expect(klass(page, classes[1]).locator(".paste-target")).to_have_attribute(
        "aria-pressed", "false"
    )
    paste(page, micro[0])
    expect(klass(page, classes[2]).locator(".class-photo")).to_have_count(1)
    klass(page, classes[2]).get_by_role("button", name="From recent photos").click()
    dialog = page.locator("#recent")
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name=f"Pick {recent.name}").click()
    dialog.get_by_role("button", name="Add").click()
    expect(klass(page, classes[2]).locator(".class-photo")).to_have_count(2)
    klass(page, classes[2]).locator("[data-testid=class-input]").set_input_files(micro[1:-1])
    for name in classes:
        expect(klass(page, name).locator(".class-photo")).to_have_count(len(photos[name]))
    assert sources(server) == {classes[0]: {"upload"}, classes[1]: {"upload"},
                               classes[2]: {"paste", "history", "upload"}}  # fmt: skip

    # A thumbnail's delete button deletes that photo, on the server too.
    before = len(project(server)["examples"])
    klass(page, classes[1]).locator(".class-photo").first.locator("button").click()
    expect(klass(page, classes[1]).locator(".class-photo")).to_have_count(
        len(photos[classes[1]]) - 1
    )
    assert len(project(server)["examples"]) == before - 1

    # Train, and reload while it runs: the page finds the job again.
    expect(page.locator("#base")).to_have_value("efficientnet_lite0")
    page.locator("#mode").select_option("head")
    page.get_by_test_id("train-button").click()
    expect(page.locator("#progress")).to_be_visible()
    page.reload()
    job = httpx.get(server + "/api/v1/teach/job").json()
    job = job.get("job", job) if isinstance(job, dict) else job
    assert job["project"] == NAME
    expect(page.locator("#progress")).to_be_visible()
    if job["state"] in ("queued", "running"):
        expect(page.locator("#cancel")).to_be_visible()
        expect(page.get_by_test_id("train-button")).to_be_disabled()
    state = page.locator("#progress-state")
    expect(state).to_have_text(re.compile(r"^Done"), timeout=TRAINING)
    if job["state"] in ("queued", "running"):  # followed live after the reload
        rows = page.locator("#epochs tbody tr")
        expect(rows.first).to_be_visible()
        figures = page.locator("#progress-figures")
        expect(figures).to_contain_text("Validation accuracy")
        expect(figures).to_contain_text(re.compile(r"Loss\s*\d+\.\d{3}"))
    expect(page.locator("#progress-bar")).to_have_attribute("aria-valuenow", "100")
    expect(page.locator("#cancel")).to_be_hidden()

    # The report: the confusion matrix drawn, a row per class.
    report = page.locator("#report")
    expect(report).to_be_visible(timeout=SLOW)
    confusion = page.locator("#confusion")
    expect(confusion).to_have_js_property("complete", True, timeout=SLOW)
    assert confusion.evaluate("img => img.naturalWidth") > 0
    rows = page.locator("#per-class tbody tr")
    expect(rows).to_have_count(3)
    assert sorted(rows.locator(".label").all_inner_texts()) == sorted(classes)
    expect(page.locator("#report-summary")).to_contain_text("Validation accuracy")
    body = httpx.get(f"{server}/api/v1/models/{NAME}/report").json()
    for row in body["per_class"]:  # the table shows the report's own figures
        cells = page.locator(f"#per-class tbody tr[data-class='{row['class']}'] td")
        expect(cells.nth(2)).to_have_text(f"{row['recall'] * 100:.1f}%")
    if body["misclassified"]:  # the contact sheet of the wrong ones, drawn
        sheet = page.locator("#misclassified")
        expect(sheet).to_have_js_property("complete", True, timeout=SLOW)
        assert sheet.evaluate("img => img.naturalWidth") > 0
    else:
        expect(page.locator("#report-none-wrong")).to_be_visible()
        expect(page.locator("#misclassified-figure")).to_be_hidden()
    page.get_by_test_id("confusion-toggle").click()  # each row as percentages
    expect(confusion).to_have_attribute("src", re.compile(r"confusion_matrix_normalized\.png"))
    expect(confusion).to_have_js_property("complete", True, timeout=SLOW)
    assert confusion.evaluate("img => img.naturalWidth") > 0

    # Try it on photos it has not seen: each gets its own class.
    expect(page.locator("#try-zone")).to_have_attribute("data-ready", "true", timeout=SLOW)
    new = [held_out[c][0] for c in classes]
    page.locator("#try-input").set_input_files(new)
    tried = page.locator("[data-testid=try-row]")
    expect(tried).to_have_count(3, timeout=SLOW)
    assert [tried.nth(i).locator(".try-top .label").inner_text() for i in range(3)] == classes

    # The Recognize page: the new model is in the picker (chosen by "Use it") and answers.
    page.get_by_test_id("use-it").click()
    picker = page.locator("#model-picker")
    expect(picker).to_have_value(NAME, timeout=SLOW)
    expect(picker.locator(f"option[value='{NAME}']")).to_be_enabled()
    picker.select_option("efficientnet_lite0")
    picker.select_option(NAME)
    page.set_input_files("#file-input", held_out[classes[1]][0])
    page.click("#recognize")
    result = page.locator("#results [data-testid=result-card]")
    expect(result.locator(".top-label-text")).to_have_text(classes[1], timeout=SLOW)
    expect(result.locator(".result-meta")).to_contain_text(f"Answered by {NAME}")

    # "Wrong? It is...": the correction is saved as an example of the model that answered.
    result.get_by_role("button", name="Wrong?").click()
    field = result.get_by_label("It is")
    expect(result.locator("datalist option")).to_have_count(3)  # the model's own labels
    field.fill(classes[0])
    result.get_by_role("button", name="Save").click()
    saved = result.locator("[data-testid=feedback-saved]")
    expect(saved).to_contain_text(f"Saved as an example of \u201c{classes[0]}\u201d for {NAME}.")
    fed = [e for e in project(server)["examples"] if e["source"] == "feedback"]
    assert [(e["class"], e.get("predicted")) for e in fed] == [(classes[0], classes[1])]

    # ... and the Teach page lists it, with who and when, and deletes it.
    saved.get_by_role("link", name="See it on the Teach page").click()
    expect(page).to_have_url(re.compile(rf"/teach\?project={NAME}$"))
    listed = page.locator("[data-testid=feedback-examples] tbody tr")
    expect(listed).to_have_count(1)
    expect(listed).to_contain_text(classes[0])
    expect(listed).to_contain_text(classes[1])
    expect(listed).to_contain_text("this computer")  # auth is off: no user to name
    expect(listed.locator(".cell-time")).to_contain_text(re.compile(r"\d"))
    expect(
        klass(page, classes[0]).locator(f".class-photo[data-id='{fed[0]['id']}']")
    ).to_have_count(1)
    listed.get_by_role("button").click()
    expect(page.locator("[data-testid=feedback-examples]")).to_be_hidden()
    assert [e for e in project(server)["examples"] if e["source"] == "feedback"] == []
    # the report of the model is still there after a reload, and the model is listed as trained
    page.reload()
    expect(page.locator("#report")).to_be_visible(timeout=SLOW)
    expect(page.locator(f"#projects [data-project='{NAME}']")).to_contain_text("trained")

    # Train again and cancel: nothing is saved, the model trained before stays (and its report).
    trained = httpx.get(f"{server}/api/v1/models/{NAME}/report").json()
    wait_job(server, "done")  # the service has taken the model in: the next training may start
    page.get_by_test_id("train-button").click()
    expect(page.locator("#report")).to_be_hidden()
    page.locator("#cancel").click()
    expect(state).to_have_text("Cancelled: nothing was saved.", timeout=SLOW)
    expect(page.locator("#cancel")).to_be_hidden()
    expect(page.locator("#report")).to_be_visible(timeout=SLOW)
    assert httpx.get(f"{server}/api/v1/models/{NAME}/report").json() == trained
    assert httpx.get(server + "/api/v1/teach/job").json()["state"] == "cancelled"


# --- errors, languages, the dictionary ------------------------------------------------------------
def test_a_refusal_is_a_sentence(open_page, server):
    """A name already taken is refused by the server, and said in words (never raw JSON); in
    Chinese, the sentence for its code."""
    r = httpx.post(server + "/api/v1/teach/projects", json={"name": "taken", "classes": ["a", "b"]})
    assert r.status_code == 201, r.text
    refusal = httpx.post(server + "/api/v1/teach/projects", json={"name": "taken"})
    assert refusal.status_code >= 400
    for locale in ("en-US", "zh-CN"):
        page = open_page(locale)
        page.goto(server + "/teach")
        expect(page.locator("#teach-body")).to_be_visible()
        page.locator("#create-name").fill("taken")
        page.locator("#create").click()
        message = page.locator("#message")
        expect(message).to_be_visible()
        text = message.inner_text()
        no_raw_error(text)
        if locale == "en-US":
            assert text == refusal.json()["error"]["message"]
        else:
            assert re.search("[\u4e00-\u9fff]", text), text  # a Chinese sentence for its code


def test_the_teach_page_in_chinese(open_page, server):
    page = open_page("zh-CN")
    page.goto(server + "/teach")
    expect(page.locator("#teach-body")).to_be_visible()
    assert page.evaluate("document.documentElement.lang") == "zh-CN"
    expect(page).to_have_title("localvision：训练自己的类别")
    expect(page.locator("h1")).to_have_text("教它认识你自己的类别")
    expect(page.get_by_role("button", name="新建")).to_be_visible()
    expect(page.get_by_role("link", name="训练", exact=True)).to_have_attribute(
        "aria-current", "page"
    )
    projects = httpx.get(server + "/api/v1/teach/projects").json()
    projects = projects.get("projects", projects) if isinstance(projects, dict) else projects
    data = {p["name"] for p in projects} | {p.get("title") or "" for p in projects}
    assert latin_left(page, data - {""}) == []
    page.get_by_label("名称").fill("parts")
    page.get_by_label("标题（可选，任何语言）").fill("零件")
    page.get_by_label("类别，用逗号分隔").fill("螺栓，螺母、垫圈")
    page.get_by_role("button", name="新建").click()
    cards = page.locator(".class-card")
    expect(cards).to_have_count(3)
    assert sorted(cards.evaluate_all("cs => cs.map(c => c.dataset.class)")) == [
        "垫圈",
        "螺栓",
        "螺母",
    ]
    expect(page.locator("#notice")).to_have_text("已建立“零件”。现在给每个类别添加一些照片。")
    expect(cards.first).to_contain_text("还没有照片。")
    expect(page.get_by_test_id("train-button")).to_be_disabled()
    expect(page.locator("#train-why")).to_contain_text("至少需要 2 张照片")
    expect(page.locator("#project-title")).to_have_text("零件")
    assert latin_left(page, data | {"parts", "efficientnet_lite0"}) == []


def test_every_string_on_the_teach_page_comes_from_its_dictionary(open_page, server, photos):
    """Pseudo-translated (every dictionary string wrapped in ⟦⟧): no English left on the page,
    only data (names, classes, models) and numbers."""
    name = "pseudo"
    r = httpx.post(server + "/api/v1/teach/projects", json={"name": name, "classes": ["a", "b"]})
    assert r.status_code == 201, r.text
    one = photos["people"][0]
    r = httpx.post(f"{server}/api/v1/teach/projects/{name}/classes/a/photos",
                   files=[("files", (one.name, one.read_bytes(), "image/jpeg"))],
                   data={"source": "upload"}, timeout=30)  # fmt: skip
    assert r.status_code in (200, 201), r.text
    page = open_page()
    page.add_init_script(PSEUDO)
    page.goto(f"{server}/teach?project={name}")
    expect(page.locator(".class-card")).to_have_count(2)
    models = {m["name"] for m in httpx.get(server + "/api/v1/models").json()["models"]}
    projects = httpx.get(server + "/api/v1/teach/projects").json()
    projects = projects.get("projects", projects) if isinstance(projects, dict) else projects
    data = models | {p["name"] for p in projects} | {p.get("title") or p["name"] for p in projects}
    data |= {"a", "b", "Ctrl+V"}
    assert english_left(page, data) == []


# --- with auth on: only admins teach ------------------------------------------------------------
@pytest.fixture(scope="module")
def guarded(store, tmp_path_factory):
    from localvision.config import Settings
    from localvision.server.app import create_app

    db = f"sqlite:///{tmp_path_factory.mktemp('teach_auth')}/localvision.db"
    users_with_keys(db, {"ada": ("ada-password-1", "admin"), "bob": ("bob-password-1", "user")})
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LOCALVISION_MODEL_DIR", str(store))
        settings = Settings(model="efficientnet_lite0", offline=True, db=db, auth="on")
        # the page needs no model to answer: it may still be loading while the test runs
        with LiveServer(create_app(settings)) as live:
            yield live.url


def _sign_in(page, url: str, user: str, password: str) -> None:
    page.goto(url + "/teach")
    expect(page).to_have_url(re.compile(r"/login\?next=%2Fteach$"))
    page.fill("#username", user)
    page.fill("#password", password)
    page.click("[data-testid=sign-in]")
    expect(page).to_have_url(url + "/teach")


def test_with_auth_on_a_user_is_told_only_admins_teach(open_page, guarded):
    bob = open_page()
    _sign_in(bob, guarded, "bob", "bob-password-1")
    expect(bob.locator("#denied")).to_have_text(
        "Only an admin can teach localvision new classes. Sign in as an admin to use this page."
    )
    expect(bob.locator("#teach-body")).to_be_hidden()
    expect(bob.locator("#message")).to_be_hidden()

    ada = open_page()
    _sign_in(ada, guarded, "ada", "ada-password-1")
    expect(ada.locator("#teach-body")).to_be_visible()
    expect(ada.locator("#denied")).to_be_hidden()
    ada.get_by_label("Name").fill("guarded")
    ada.get_by_label("Classes, separated by commas").fill("x, y")
    ada.get_by_role("button", name="Create").click()  # a POST with the session's CSRF token
    expect(ada.locator(".class-card")).to_have_count(2)


# --- the recent photos, a correction in Chinese, a phone ------------------------------------------
def test_the_recognize_page_keeps_the_newest_24_photos_in_this_browser(open_page, server):
    page = open_page()
    page.goto(server + "/teach")
    kept = page.evaluate(
        """async () => {
            const recent = window.localvisionRecent;
            const file = (i) => new File([new Uint8Array([i])], `p${i}.jpg`,
                {type: "image/jpeg", lastModified: 1000 + i});
            for (let start = 0; start < 30; start += 10) {
                await recent.add(Array.from({length: 10}, (_, j) => file(start + j)));
            }
            await recent.add([file(3)]);  // again: kept once, now the newest
            return (await recent.list()).map((p) => p.name);
        }"""
    )
    newest = [f"p{i}.jpg" for i in range(29, 6, -1)]  # 29 ... 7
    assert kept == ["p3.jpg"] + newest
    assert len(kept) == 24


def test_a_correction_in_chinese_is_kept_under_the_models_own_class(open_page, server):
    """On the Chinese page the field offers the model's Chinese labels; one picked from them is
    kept as the model's own (English) class, so a class never becomes two folders by language."""
    model = "efficientnet_lite0"
    url = f"{server}/api/v1/models/{model}/labels"
    zh = httpx.get(url, params={"lang": "zh"}).json()["labels"]
    en = httpx.get(url, params={"lang": "en"}).json()["labels"]
    tabby = en.index("tabby")
    page = open_page("zh-CN")
    page.goto(server + "/")
    expect(page.locator("#banner-model")).to_be_visible()
    page.get_by_role("button", name="识别示例照片：咖啡").click()
    result = page.locator("#results [data-testid=result-card]")
    expect(result.locator(".top-label-text")).to_have_text(zh[en.index("espresso")], timeout=SLOW)
    result.get_by_role("button", name="识别错了？").click()
    expect(result.locator(f"datalist option[value='{zh[tabby]}']")).to_have_count(1)
    result.get_by_label("它是").fill(zh[tabby])
    result.get_by_role("button", name="保存").click()
    expect(result.locator("[data-testid=feedback-saved]")).to_contain_text(
        f"已保存为 {model} 的“{zh[tabby]}”样本。"
    )
    kept = [e for e in project(server, model)["examples"] if e["source"] == "feedback"]
    assert [(e["class"], e.get("predicted")) for e in kept] == [("tabby", "espresso")]


@pytest.mark.parametrize("locale", ["zh-CN", "en-US"])
def test_the_teach_page_fits_a_phone(open_page, server, photos, locale):
    name = f"phone-{locale.lower()}"
    r = httpx.post(server + "/api/v1/teach/projects", json={"name": name, "classes": ["a", "b"]})
    assert r.status_code == 201, r.text
    one = photos["texture"][0]
    r = httpx.post(f"{server}/api/v1/teach/projects/{name}/classes/a/photos",
                   files=[("files", (one.name, one.read_bytes(), "image/jpeg"))])  # fmt: skip
    assert r.status_code == 200, r.text
    # a phone: a touch screen (the camera buttons show), 375 px wide
    page = open_page(locale, viewport={"width": 375, "height": 740}, is_mobile=True, has_touch=True)
    page.goto(f"{server}/teach?project={name}")
    expect(page.locator(".class-card .class-photo")).to_have_count(1)
    expect(page.locator(".class-card").first.locator("label.camera-button")).to_be_visible()
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the Teach page scrolls sideways at 375px in {locale}"
