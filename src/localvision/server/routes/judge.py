"""The judgement route and saved rules: one photo, a rule, a yes or no with its reason.

- `POST /api/v1/judge`: one image (multipart part `file`, or the raw body) and a rule, given
  inline (`?accept=dog&accept=cat&reject=...&min_confidence=0.6`, or commas: `accept=dog,cat`;
  text the photo must or must not show: `text=TOTAL&reject_text=VOID`)
  or by name (`?rule=NAME`, `min_confidence` may still override its floor) ->
  `{"pass", "label", "confidence", "reason", "outcome", "rule", "model", "lang", "answer"}`,
  `answer` being the classify route's row for the photo. `?shape=uipath` wraps it as
  `{"response": {...}}` (UiPath's HTTP Request activity reads `response.label`).
- `PUT /api/v1/rules/{name}` (admins) saves a rule (JSON: accept, reject, text, reject_text, min_confidence);
  `GET /api/v1/rules`, `GET /api/v1/rules/{name}`; `DELETE /api/v1/rules/{name}` (admins).

The rule logic is judge.py's, the store rules.py's; this file only reads the request (the kit),
runs the road (`Service.recognize`, which records the photo in the history) and renders.
"""

from __future__ import annotations

import json
from typing import Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from ...errors import InvalidRule
from ...judge import Rule, Vocabulary, judge, resolve
from ...results import text_of
from ...rules import RuleStore
from .. import request as kit
from ..guards.gate import require_admin, user_of
from .api import LangQ, ModelQ, TopK

router = APIRouter(tags=["judge"])

ROUTE = "/api/v1/judge"
RuleQ = Query(None, description="A saved rule's name (PUT /api/v1/rules/{name}).")
AcceptQ = Query(None, description="Labels or groups the photo must show (repeat, or commas).")
RejectQ = Query(None, description="Labels or groups the photo must not show (repeat, or commas).")
FloorQ = Query(None, ge=0, le=1, description="The confidence a label or group needs (default: "
               "the rule's, else the server's min_confidence).")  # fmt: skip
TextQ = Query(None, description="Text the photo must show (repeat, or commas); read in Chinese "
              "or English, case and spaces ignored.")  # fmt: skip
RejectTextQ = Query(None, description="Text the photo must not show (repeat, or commas).")
ShapeQ = Query("default", description="uipath: the answer inside `response` ({\"response\": "
               "{\"label\", \"confidence\", ...}}).")  # fmt: skip


def _store(request: Request) -> RuleStore:
    return RuleStore(kit.service(request).history.engine)


async def _rule(request: Request, name: str | None, floor: float | None, **terms) -> Rule:
    """The rule this request judges by: a saved one (its floor overridden when given), or the
    one its query spells out (`terms`: accept, reject, text, reject_text)."""
    if name is None:
        given = {**terms, "min_confidence": floor}
        return Rule.parse({k: v for k, v in given.items() if v is not None})
    if any(terms.values()):
        raise InvalidRule("Give either rule=NAME or the rule's terms (accept, reject, text, "
                          "reject_text), not both.")  # fmt: skip
    return (await run_in_threadpool(_store(request).get, name)).with_floor(floor)


@router.post(ROUTE)
async def judge_photo(
    request: Request,
    rule: str | None = RuleQ,
    accept: list[str] | None = AcceptQ,
    reject: list[str] | None = RejectQ,
    text: list[str] | None = TextQ,
    reject_text: list[str] | None = RejectTextQ,
    min_confidence: float | None = FloorQ,
    model: str | None = ModelQ,
    lang: str | None = LangQ,
    top_k: int | None = TopK,
    shape: Literal["default", "uipath"] = ShapeQ,
):
    """Does the photo pass the rule? A photo the model is not sure about fails, saying so."""
    the_rule = await _rule(request, rule, min_confidence, accept=accept, reject=reject,
                           text=text, reject_text=reject_text)  # fmt: skip
    ask = kit.ask(request, model, top_k=top_k, lang=lang, groups=True, probabilities=True,
                  min_confidence=the_rule.min_confidence, text=the_rule.reads_text)  # fmt: skip
    clf = ask.state.require()
    vocab = Vocabulary.of(clf.spec)
    # The photo is read (within its limit) before a term the model lacks is refused: a refusal
    # sent while the client is still uploading closes the connection under it, and a client
    # such as Node's fetch then sees "fetch failed" instead of the refusal.
    item = await kit.the_image(request, ask.service.settings.max_upload_bytes, ROUTE)
    resolve(the_rule, vocab)
    (result,) = await ask.recognize([item])
    if result.error is not None:
        raise result.error
    answer = ask.answer
    verdict = judge(the_rule, result.probabilities, vocab, answer.lang, answer.min_confidence,
                    text_of(result.text, " "))  # fmt: skip
    body = {
        "pass": verdict.passed,
        "label": verdict.label,
        "confidence": verdict.confidence,
        "reason": verdict.reason,
        "outcome": verdict.outcome,
        "rule": rule,
        "model": clf.name,
        "lang": answer.lang,
        "answer": {"filename": result.source, **result.to_dict()},
    }
    return {"response": body} if shape == "uipath" else body


# --- saved rules --------------------------------------------------------------------------------
@router.get("/api/v1/rules")
async def list_rules(request: Request):
    """The saved rules, by name."""
    return {"rules": await run_in_threadpool(_store(request).list)}


@router.get("/api/v1/rules/{name}")
async def get_rule(request: Request, name: str):
    return await run_in_threadpool(_store(request).get_row, name)


@router.put("/api/v1/rules/{name}")
async def put_rule(request: Request, name: str, model: str | None = ModelQ,
                   _admin=Depends(require_admin)):  # fmt: skip
    """Save a rule under a name (replacing one of that name): `{"accept": [...], "reject":
    [...], "min_confidence": 0.6}`. Its terms are checked against the model (`?model=`, else
    the default) when that model is loaded. 201 when new, 200 when replaced."""
    try:
        data = json.loads(await request.body() or b"null")
    except (UnicodeDecodeError, ValueError):
        raise InvalidRule("A rule is sent as JSON.") from None
    rule = Rule.parse(data)
    state = kit.service(request).state(model)
    if state.classifier is not None:
        resolve(rule, Vocabulary.of(state.classifier.spec))
    row, created = await run_in_threadpool(_store(request).put, name, rule, user_of(request))
    return JSONResponse(row, status_code=201 if created else 200)


@router.delete("/api/v1/rules/{name}", status_code=204)
async def delete_rule(request: Request, name: str, _admin=Depends(require_admin)):
    await run_in_threadpool(_store(request).delete, name)
