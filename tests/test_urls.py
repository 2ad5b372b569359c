"""A URL's secrets are never shown (src/localvision/urls.py, the one place that redacts URLs):
a user info password, the value of a credential-like query or fragment key, a Slack or Discord
webhook's token; as written and percent-decoded; in URLs urllib refuses too. Then the service:
a camera URL with ?pwd= in it, POSTed to /api/v1/streams of a real server, is in none of its
answers, nor in its log, nor in what FFmpeg writes."""

from __future__ import annotations

import json
import logging
import time
from urllib.parse import urlsplit

import httpx
import pytest
from servers import LiveServer, free_port

from localvision.urls import is_secret_key, redact, scrub, secrets


@pytest.mark.parametrize(
    "url, shown",
    [
        # nothing to hide
        ("rtsp://cam.local/x", "rtsp://cam.local/x"),
        ("rtsp://only-user@cam/x", "rtsp://only-user@cam/x"),
        ("http://cam/v.cgi?user=admin&channel=1#top",
         "http://cam/v.cgi?user=admin&channel=1#top"),
        ("http://cam/v.cgi?pwd=&pwd", "http://cam/v.cgi?pwd=&pwd"),  # no value, nothing to mask
        # the user info
        ("rtsp://u:secret@cam:554/x", "rtsp://u:***@cam:554/x"),
        ("rtsps://u:p@ss@[::1]:322/x?a=1", "rtsps://u:***@[::1]:322/x?a=1"),
        ("rtsp://u:pw@cam:notaport/x", "rtsp://u:***@cam:notaport/x"),
        # credential-like query keys, case ignored, the others kept as written
        ("http://cam/videostream.cgi?user=admin&pwd=hunter2",
         "http://cam/videostream.cgi?user=admin&pwd=***"),
        ("http://cam/v?PASS=a&Passwd=b&password=c&x=1",
         "http://cam/v?PASS=***&Passwd=***&password=***&x=1"),
        ("https://h/p?token=a&access_token=b&key=c&apikey=d&api_key=e",
         "https://h/p?token=***&access_token=***&key=***&apikey=***&api_key=***"),
        ("https://h/p?auth=a&sig=b&signature=c&secret=d&credential=e&credentials=f",
         "https://h/p?auth=***&sig=***&signature=***&secret=***&credential=***&credentials=***"),
        ("https://b.s3/o?X-Amz-Credential=AK%2F1&X-Amz-Signature=ab12&X-Amz-Date=2026",
         "https://b.s3/o?X-Amz-Credential=***&X-Amz-Signature=***&X-Amz-Date=2026"),
        ("https://h/p?apiKey=a&clientSecret=b&refresh_token=c",
         "https://h/p?apiKey=***&clientSecret=***&refresh_token=***"),
        ("http://cam/v?pw%64=hunter2", "http://cam/v?pw%64=***"),  # a key percent-encoded
        ("http://cam/v?pwd=hun%26ter%3F2&u=1", "http://cam/v?pwd=***&u=1"),  # a value encoded
        ("http://cam/v?pwd=a?b&u=1", "http://cam/v?pwd=***&u=1"),  # a ? inside a value
        ("http://h/login?next=/cam?pwd=x&u=1", "http://h/login?next=/cam?pwd=***&u=1"),  # nested
        # the fragment
        ("https://app/cb#access_token=abc&token_type=bearer",
         "https://app/cb#access_token=***&token_type=bearer"),
        ("https://app/#/view?token=abc", "https://app/#/view?token=***"),
        ("http://cam/v?user=a&pwd=p1#pwd=p2", "http://cam/v?user=a&pwd=***#pwd=***"),
        # chat webhooks: the token in the path, ids readable
        ("https://hooks.slack.com/services/T0AB12CD3/B0EF45GH6/xYz0123456789AbCdEfGhIjK",
         "https://hooks.slack.com/services/T0AB12CD3/B0EF45GH6/***"),
        ("https://hooks.slack.com/workflows/T01/A02/1234/wfToken",
         "https://hooks.slack.com/workflows/T01/A02/1234/***"),
        ("https://discord.com/api/webhooks/123456789/AbC-dEf_123",
         "https://discord.com/api/webhooks/123456789/***"),
        ("https://discordapp.com/api/v10/webhooks/1/tok/slack",
         "https://discordapp.com/api/v10/webhooks/1/***/slack"),
        ("https://CANARY.Discord.com/api/webhooks/1/tok?wait=true",
         "https://CANARY.Discord.com/api/webhooks/1/***?wait=true"),
        ("https://example.com/services/T1/B2/notslack",
         "https://example.com/services/T1/B2/notslack"),
        # everything at once
        ("https://u:p@hooks.slack.com/services/T1/B2/tok?token=q#sig=f",
         "https://u:***@hooks.slack.com/services/T1/B2/***?token=***#sig=***"),
    ],
)  # fmt: skip
@pytest.mark.unit
def test_redact_masks_every_secret_and_keeps_the_rest_as_written(url, shown):
    assert redact(url) == shown
    assert redact(shown) == shown  # already redacted: nothing more to do


@pytest.mark.parametrize(
    "url, shown",
    [
        ("http://u:pw@[::1/v?pwd=hunter2", "http://u:***@[::1/v?pwd=***"),  # unclosed [
        ("rtsp://a:pw@\uff03cam/x?token=t", "rtsp://a:***@\uff03cam/x?token=***"),  # NFKC: #
    ],
)
@pytest.mark.unit
def test_a_url_urllib_refuses_is_still_shown_with_its_secrets_masked(url, shown):
    with pytest.raises(ValueError):
        urlsplit(url)
    assert redact(url) == shown


@pytest.mark.parametrize("text", ["", "not a url", "pwd=hunter2", "?", "#", "//@", ":@/?&=#&="])
@pytest.mark.unit
def test_redact_never_raises_on_odd_strings(text):
    assert isinstance(redact(text), str)


@pytest.mark.parametrize(
    "key, secret",
    [("pwd", True), ("PWD", True), ("Password", True), ("x-api-key", True), ("accessToken", True),
     ("session_token", True), ("passphrase", True), ("Authorization", True), ("", False),
     ("token_type", False), ("AccessKeyId", False),
     ("user", False), ("usr", False), ("channel", False), ("resolution", False), ("id", False)],
)  # fmt: skip
@pytest.mark.unit
def test_which_keys_are_credentials(key, secret):
    assert is_secret_key(key) is secret


@pytest.mark.parametrize(
    "url, text, said",
    [
        # the URL as a whole, and each secret alone, as written and percent-decoded
        ("http://cam/v.cgi?user=admin&pwd=hunter2",
         "Connection refused: http://cam/v.cgi?user=admin&pwd=hunter2 (hunter2)",
         "Connection refused: http://cam/v.cgi?user=admin&pwd=*** (***)"),
        ("rtsp://u:p%40ss@cam/", "auth p%40ss / p@ss failed", "auth *** / *** failed"),
        ("http://cam/v?token=a%20b%2Bc", "a%20b%2Bc, a b+c, a+b%2Bc", "***, ***, ***"),
        ("https://hooks.slack.com/services/T1/B2/xYzToken",
         "Client error '404 Not Found' for url 'https://hooks.slack.com/services/T1/B2/xYzToken'",
         "Client error '404 Not Found' for url 'https://hooks.slack.com/services/T1/B2/***'"),
        ("http://cam/v#access_token=frag-tok", "token frag-tok refused", "token *** refused"),
        ("http://cam/v?user=admin", "user admin refused", "user admin refused"),  # nothing secret
        ("http://u:pw@[::1/v?pwd=hunter2", "bad URL http://u:pw@[::1/v?pwd=hunter2",
         "bad URL http://u:***@[::1/v?pwd=***"),
    ],
)  # fmt: skip
@pytest.mark.unit
def test_scrub_replaces_each_secret_in_free_text(url, text, said):
    assert scrub(text, url) == said
    assert scrub(None, url) is None and scrub("", url) == ""


@pytest.mark.unit
def test_secrets_are_the_values_as_written():
    url = "https://u:p%40ss@hooks.slack.com/services/T1/B2/tok?pwd=a%20b#token=f"
    assert secrets(url) == ["p%40ss", "tok", "a%20b", "f"]


# --- the service ---------------------------------------------------------------------------------
def test_a_camera_urls_query_password_is_in_no_answer_and_no_log(
    tmp_path, lite0, caplog, capfd
):
    """A camera that is not there (a closed port on loopback): its URL carries pwd=hunter2; the
    201, GET one, GET all and the last_error of its failed connects show ***, and neither the
    service's log nor what FFmpeg writes to the process's stderr has the password."""
    pytest.importorskip("av")  # the service watches streams with PyAV (FFmpeg)
    from localvision.config import Settings
    from localvision.server.app import create_app

    url = f"http://127.0.0.1:{free_port()}/videostream.cgi?user=admin&pwd=hunter2"
    settings = Settings(model="efficientnet_lite0", offline=True, db=f"sqlite:///{tmp_path}/h.db",
                        stream_timeout_s=2.0, stream_backoff_s=0.2, stream_backoff_max_s=0.5)
    answers = []
    with caplog.at_level(logging.DEBUG):
        with LiveServer(create_app(settings, classifier=lite0)) as live:
            created = httpx.post(live.url + "/api/v1/streams", json={"url": url}, timeout=30)
            assert created.status_code == 201, created.text
            answers.append(created.text)
            one = f"{live.url}/api/v1/streams/{created.json()['id']}"
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:  # until a failed connect has been told
                state = httpx.get(one, timeout=10).json()
                if "could not be opened:" in (state["last_error"] or ""):  # FFmpeg's reason
                    break
                time.sleep(0.2)
            answers += [json.dumps(state), httpx.get(live.url + "/api/v1/streams").text]
            answers.append(httpx.delete(one, timeout=30).text)
    written = capfd.readouterr()
    assert state["url"].endswith("/videostream.cgi?user=admin&pwd=***"), state
    assert "could not be opened:" in state["last_error"] and "pwd=***" in state["last_error"]
    logged = caplog.text
    assert "watching http://127.0.0.1:" in logged and "pwd=***" in logged, logged
    for shown in [*answers, logged, written.out, written.err]:
        assert "hunter2" not in shown, shown


@pytest.mark.unit
def test_a_refused_webhook_url_is_named_without_its_secrets():
    """LOCALVISION_STREAM_WEBHOOK_URL that is not http(s): the command says so, masked."""
    from typer.testing import CliRunner

    from localvision.cli import app

    hook = "ftp://hook:s3cret-pw@127.0.0.1/x?token=tok-123"
    result = CliRunner().invoke(app, ["serve"], env={"LOCALVISION_STREAM_WEBHOOK_URL": hook})
    assert result.exit_code == 2, result.output
    assert "ftp://hook:***@127.0.0.1/x?token=***" in result.stderr, result.stderr
    assert "s3cret" not in result.output + result.stderr and "tok-123" not in result.stderr
