"""POST /api/v1/judge and the saved rules, over HTTP against the real service (auth on, the real
model, one server for the module): verdicts with their reasons, the UiPath shape, raw and
multipart bodies, saved rules (admins write, users read and use), the history row, and the typed
refusals (text conditions, unknown terms and rules, bad names, ZIPs, no key)."""

from __future__ import annotations

import io
import zipfile

import httpx
import pytest

JUDGE = "/api/v1/judge"


@pytest.fixture(scope="module")
def ada(judge_server):
    url, keys = judge_server
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {keys['ada']}"},
                      timeout=60) as client:  # fmt: skip
        yield client


@pytest.fixture(scope="module")
def bob(judge_server):
    url, keys = judge_server
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {keys['bob']}"},
                      timeout=60) as client:  # fmt: skip
        yield client


def error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code
    return response.json()["error"]


def test_a_photo_that_shows_an_accepted_group_passes_with_the_whole_answer(bob, photos):
    cat = {"file": ("cat.jpg", photos["chelsea"])}
    r = bob.post(JUDGE, params={"accept": "dog,cat"}, files=cat)
    body = r.json()
    assert r.status_code == 200 and body["pass"] is True
    assert (body["label"], body["outcome"], body["lang"]) == ("cat", "accepted", "en")
    assert body["confidence"] > 0.8 and body["reason"].startswith("Passed: the photo shows cat (")
    answer = body["answer"]
    assert answer["filename"] == "cat.jpg" and answer["predictions"][0]["label"] == "tiger cat"
    assert answer["groups"][0]["id"] == "cat"


def test_a_failing_photo_says_what_was_seen_in_the_language_asked(bob, photos):
    r = bob.post(JUDGE, params={"accept": "dog", "lang": "zh"}, content=photos["chelsea"])
    body = r.json()
    assert r.status_code == 200 and body["pass"] is False and body["outcome"] == "not_accepted"
    assert body["reason"].startswith("未通过：照片中是虎斑猫（")
    assert body["reason"].endswith("不是“狗”。")


def test_a_photo_the_model_is_not_sure_about_fails_saying_so(bob, photos):
    r = bob.post(JUDGE, params={"accept": "tiger cat", "min_confidence": 0.95},
                 content=photos["chelsea"])  # fmt: skip
    body = r.json()
    assert (body["pass"], body["outcome"]) == (False, "not_sure")
    assert body["answer"]["uncertain"] is True  # the answer row uses the rule's floor
    assert "not sure what the photo shows" in body["reason"]
    assert "(the rule needs 95%)" in body["reason"]


def test_the_uipath_shape_puts_the_verdict_under_response(bob, photos):
    r = bob.post(JUDGE, params={"reject": "dog", "shape": "uipath"}, content=photos["coffee"])
    response = r.json()["response"]
    assert (response["pass"], response["label"]) == (True, "espresso")
    assert 0 < response["confidence"] <= 1


def test_saved_rules_admins_write_users_read_and_judge_by_them(ada, bob, photos):
    rule = {"accept": ["espresso", "cup"], "min_confidence": 0.3}
    error(bob.put("/api/v1/rules/drinks-test", json=rule), 403, "forbidden")
    created = ada.put("/api/v1/rules/drinks-test", json=rule)
    assert created.status_code == 201
    assert created.json()["updated_by"] == "ada" and created.json()["accept"] == ["espresso", "cup"]
    assert ada.put("/api/v1/rules/drinks-test", json=rule).status_code == 200  # replaced
    assert "drinks-test" in [r["name"] for r in bob.get("/api/v1/rules").json()["rules"]]
    assert bob.get("/api/v1/rules/drinks-test").json()["min_confidence"] == 0.3
    passed = bob.post(JUDGE, params={"rule": "drinks-test"}, content=photos["coffee"]).json()
    assert (passed["pass"], passed["rule"], passed["label"]) == (True, "drinks-test", "espresso")
    failed = bob.post(JUDGE, params={"rule": "drinks-test"}, content=photos["chelsea"]).json()
    assert failed["pass"] is False and "tiger cat" in failed["reason"]
    error(bob.delete("/api/v1/rules/drinks-test"), 403, "forbidden")
    assert ada.delete("/api/v1/rules/drinks-test").status_code == 204
    error(bob.post(JUDGE, params={"rule": "drinks-test"}, content=photos["coffee"]), 404,
          "rule_not_found")  # fmt: skip


def test_a_judged_photo_is_in_the_history(bob, photos):
    once = {"file": ("judged-once.jpg", photos["chelsea"])}
    bob.post(JUDGE, params={"accept": "cat"}, files=once)
    items = bob.get("/api/v1/history", params={"filename": "judged-once"}).json()["items"]
    assert len(items) == 1 and items[0]["predictions"][0]["label"] == "tiger cat"


@pytest.mark.parametrize(
    "params,status,code",
    [({"accept": "cat", "text": "x" * 201}, 422, "invalid_rule"),
     ({"accept": "dgo"}, 422, "unknown_term"),
     ({"min_confidence": 0.5}, 422, "invalid_rule"),
     ({"rule": "Bad Name"}, 422, "invalid_rule_name"),
     ({"rule": "x", "accept": "cat"}, 422, "invalid_rule"),
     ({"accept": "cat", "shape": "xml"}, 422, "invalid_argument")],
    ids=["text-too-long", "unknown-term", "no-terms", "bad-name", "rule-and-terms", "bad-shape"],
)  # fmt: skip
def test_a_rule_that_cannot_be_used_is_a_typed_refusal(bob, photos, params, status, code):
    error(bob.post(JUDGE, params=params, content=photos["chelsea"]), status, code)


def test_saving_a_rule_is_checked_like_using_one(ada):
    error(ada.put("/api/v1/rules/with-text", json={"accept": ["cat"], "text": "x" * 201}), 422,
          "invalid_rule")  # fmt: skip
    error(ada.put("/api/v1/rules/typo", json={"accept": ["dgo"]}), 422, "unknown_term")
    error(ada.put("/api/v1/rules/Cats", json={"accept": ["cat"]}), 422, "invalid_rule_name")
    error(ada.put("/api/v1/rules/broken", content=b"{not json",
                  headers={"Content-Type": "application/json"}), 422, "invalid_rule")  # fmt: skip


def test_one_image_is_expected(bob, photos):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("a.jpg", photos["coffee"])
    error(bob.post(JUDGE, params={"accept": "cat"}, content=buf.getvalue()), 415,
          "unsupported_format")  # fmt: skip
    two = [("file", ("a.jpg", photos["coffee"])), ("file", ("b.jpg", photos["chelsea"]))]
    error(bob.post(JUDGE, params={"accept": "cat"}, files=two), 400, "too_many_files")
    error(bob.post(JUDGE, params={"accept": "cat"}, content=b""), 400, "empty_file")


def test_without_a_key_nothing_is_judged_or_listed(judge_server, photos):
    url, _ = judge_server
    error(httpx.post(url + JUDGE, params={"accept": "cat"}, content=photos["chelsea"]), 401,
          "unauthorized")  # fmt: skip
    error(httpx.get(url + "/api/v1/rules"), 401, "unauthorized")
