"""Robot Framework keywords for a localvision service (classify, read and judge photos).

    *** Settings ***
    Library    LocalVision    http://127.0.0.1:8000    api_key=lv_...    lang=en

The judgement itself is the service's (`POST /api/v1/judge`): these keywords only send the photo
and the rule, and turn a failing verdict into a failing keyword whose message says what was seen.
`Read Text In Image` returns the lines of text the service reads in a photo (Chinese, English).
"""

from __future__ import annotations

import json
import mimetypes
import uuid
from pathlib import Path
from urllib.error import HTTPError, URLError
from urllib.parse import urlencode
from urllib.request import Request, urlopen

__version__ = "0.1.0"


class ServiceError(RuntimeError):
    """The service refused the request (its error code and sentence), or could not be reached."""

    ROBOT_SUPPRESS_NAME = True


class LocalVision:
    """Classify and judge photos with a localvision service.

    `url` is the service's address, `api_key` an API key (`localvision keys create ...`; none
    when the service runs without sign-in), `lang` the language of labels and reasons (`en` or
    `zh`), `timeout` seconds to wait for an answer.

    A label or group is any label the service answers (`tiger cat`, `espresso`) or a group of
    labels (`dog`, `cat`, `bird`, ...: the summed probability of all its breeds), in English or
    Chinese. `min_confidence` (0 to 1) is how sure the service must be; by default the rule's,
    else the service's own. A photo the service is not sure about never passes.
    """

    ROBOT_LIBRARY_SCOPE = "GLOBAL"
    ROBOT_LIBRARY_VERSION = __version__

    def __init__(self, url: str = "http://127.0.0.1:8000", api_key: str | None = None,
                 lang: str = "en", timeout: float = 60):  # fmt: skip
        self.url = url.rstrip("/")
        self.api_key = api_key or None
        self.lang = lang
        self.timeout = float(timeout)

    # --- keywords ---
    def classify_image(self, path: str, top_k: int = 5) -> dict:
        """Classify the photo at `path`; returns its answer: `predictions` (label, probability,
        most probable first), `groups`, `uncertain`.

        | ${answer}=    Classify Image    photos/cat.jpg
        | Should Be Equal    ${answer}[predictions][0][label]    tiger cat
        """
        query = {"top_k": int(top_k), "lang": self.lang, "group": "true"}
        return self._post("/api/v1/classify", path, query)["results"][0]

    def read_text_in_image(self, path: str) -> list:
        """The lines of text in the photo (Chinese and English), in reading order; an empty list
        when it has none. The service must have its text reader (the `text` extra).

        | ${lines}=    Read Text In Image    photos/sign.jpg
        | Should Be Equal    ${lines}[0]    禁止吸烟
        """
        answer = self._post("/api/v1/classify", path, {"text": "true", "top_k": 1})
        return [line["text"] for line in answer["results"][0]["text"]]

    def judge_image(self, path: str, rule: str | None = None, accept=None, reject=None,
                    min_confidence=None, text=None, reject_text=None) -> dict:  # fmt: skip
        """Judge the photo by a saved `rule` (its name) or by `accept` / `reject` (a label or
        group, a list of them, or several with commas) and `text` / `reject_text` (text the
        photo must or must not show); returns the verdict: `pass`, `label`, `confidence`,
        `reason`, `outcome`, and the whole `answer`. Never fails on a verdict: branch on
        `${verdict}[pass]`.

        | ${verdict}=    Judge Image    scan.jpg    rule=receipts
        | Run Keyword If    not ${verdict}[pass]    Log    ${verdict}[reason]
        """
        query = {"rule": rule, "accept": _terms(accept), "reject": _terms(reject),
                 "text": _terms(text), "reject_text": _terms(reject_text),
                 "min_confidence": min_confidence, "lang": self.lang}  # fmt: skip
        return self._post("/api/v1/judge", path, {k: v for k, v in query.items() if v})

    def image_should_show(self, path: str, label: str, min_confidence=None) -> dict:
        """Fails unless the photo shows `label` (a label or group), saying what it showed.

        | Image Should Show    photos/cat.jpg    cat    min_confidence=0.6
        """
        return self._should(path, self.judge_image(path, accept=label,
                                                   min_confidence=min_confidence))  # fmt: skip

    def image_should_not_show(self, path: str, label: str, min_confidence=None) -> dict:
        """Fails when the photo shows `label` (a label or group), or when the service is not
        sure what it shows; the failure says what it showed."""
        return self._should(path, self.judge_image(path, reject=label,
                                                   min_confidence=min_confidence))  # fmt: skip

    def image_should_contain_text(self, path: str, text: str) -> dict:
        """Fails unless the photo shows `text` (case and spaces ignored), saying so.

        | Image Should Contain Text    photos/door.jpg    EXIT
        """
        return self._should(path, self.judge_image(path, text=text))

    # --- the service ---
    @staticmethod
    def _should(path: str, verdict: dict) -> dict:
        if not verdict["pass"]:
            raise AssertionError(f"{Path(path).name}: {verdict['reason']}")
        return verdict

    def _post(self, route: str, path: str, query: dict) -> dict:
        file = Path(path)
        if not file.is_file():
            raise ServiceError(f"No photo at {path}.")
        boundary = uuid.uuid4().hex
        kind = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
        body = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
            f'filename="{file.name}"\r\nContent-Type: {kind}\r\n\r\n'
        ).encode() + file.read_bytes() + f"\r\n--{boundary}--\r\n".encode()
        headers = {"Content-Type": f"multipart/form-data; boundary={boundary}",
                   "Accept": "application/json"}  # fmt: skip
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        url = f"{self.url}{route}?{urlencode(query, doseq=True)}"
        try:
            with urlopen(Request(url, body, headers, method="POST"), timeout=self.timeout) as r:
                return json.loads(r.read())
        except HTTPError as exc:
            raise ServiceError(_refusal(exc)) from None
        except URLError as exc:
            raise ServiceError(f"The localvision service at {self.url} cannot be reached: "
                               f"{exc.reason}.") from None  # fmt: skip


def _terms(value) -> list[str] | None:
    if value is None or value == "":
        return None
    return [value] if isinstance(value, str) else [str(v) for v in value]


def _refusal(exc: HTTPError) -> str:
    """The service's error as one line: `code: message (hint)`."""
    try:
        error = json.loads(exc.read())["error"]
    except (ValueError, KeyError, TypeError):
        return f"The service answered HTTP {exc.code}."
    hint = f" ({error['hint']})" if error.get("hint") else ""
    return f"{error['code']}: {error['message']}{hint}"
