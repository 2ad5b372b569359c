"""Video files, RTSP streams and `localvision video`, with real parts: videos encoded (H.264,
PyAV) from real photos, EfficientNet-Lite0's real weights, and a real RTSP server on loopback
(GStreamer's, tests/rtspserver.py) that is killed and restarted to make drops and reconnects.

The labels a video must get are the model's own top-1 for each photo as it appears in the
video (resized to the video's size), asked of the road directly: the video path must agree
with it, and the two photos must get different labels, or the test proves nothing.
"""

from __future__ import annotations

import os
import signal
import threading
import time

import numpy as np
import pytest
from rtspserver import RtspServer
from servers import free_port
from videos import frame_of, make_video

from localvision.errors import (
    BadStreamUrl,
    CameraNotFound,
    FileNotFound,
    InvalidArgument,
    NotAVideo,
    StreamLost,
    StreamUnavailable,
    UnsupportedCodec,
)
from localvision.streams.frames import classify_frames
from localvision.streams.smoothing import Smoother, segments_of
from localvision.streams.sources import VideoSource, check_stream_url, parse_source

PHOTOS = ["chelsea", "coffee"]
SECONDS, RATE = 2.0, 10


@pytest.fixture(scope="module")
def expected(lite0):
    """The model's top-1 for each photo as the video shows it (its index and probabilities)."""
    results = lite0.predict([frame_of(n) for n in PHOTOS])
    tops = {n: r.predictions[0] for n, r in zip(PHOTOS, results)}
    assert len({p.index for p in tops.values()}) == len(PHOTOS), tops
    return tops


@pytest.fixture(scope="module")
def two_photos(tmp_path_factory):
    """A 4 s video: chelsea for 2 s, then coffee for 2 s (10 frames per second)."""
    return make_video(tmp_path_factory.mktemp("video") / "two.mp4", PHOTOS, seconds=SECONDS)


def run_video(clf, source: VideoSource, **smoothing):
    smoother = Smoother(clf.spec.labels, **smoothing)
    rows = []
    for frame, result in classify_frames(clf, source.frames()):
        rows.append((frame, result))
        smoother.push(frame.time, result.probabilities)
    smoother.finish(source.duration)
    return rows, smoother.segments


# --- files --------------------------------------------------------------------------------------
@pytest.mark.parametrize("sampling", [{"fps": 2.0}, {"every": 3}], ids=["fps2", "every3"])
def test_segments_of_a_video_of_two_photos(lite0, expected, two_photos, sampling):
    source = VideoSource(str(two_photos), **sampling)
    rows, segments = run_video(lite0, source)
    step = 0.5 if "fps" in sampling else 3 / RATE
    times = [f.time for f, _ in rows]
    assert all(b - a == pytest.approx(step, abs=0.051) for a, b in zip(times, times[1:])), times
    if "every" in sampling:
        assert [f.index for f, _ in rows] == list(range(0, 40, 3))
    assert [s.index for s in segments] == [expected[n].index for n in PHOTOS]
    assert [s.label for s in segments] == [expected[n].label for n in PHOTOS]
    first, second = segments
    assert first.start == 0.0 and second.end == pytest.approx(2 * SECONDS, abs=0.01)
    # the boundary lands within one sampling step of the cut, and the two segments touch
    assert abs(second.start - SECONDS) <= step + 1e-6 and first.end == second.start
    for seg, name in zip(segments, PHOTOS):
        # the mean confidence is the model's own probability for the photo, give or take H.264
        assert seg.confidence == pytest.approx(expected[name].probability, abs=0.1)
        assert seg.samples == sum(seg.start <= t < seg.end for t in times)


def test_one_odd_frame_does_not_flip_the_consensus(lite0, expected):
    """Real distributions of the photos: A x6, one odd B, A x3, then B x6. Consensus (and the
    moving average) keep A through the odd frame; without smoothing it is its own segment."""
    answer = lite0.answer(probabilities=True)
    road = lite0.road.run(
        [_item(n) for n in PHOTOS], answer, lite0.infer
    )  # the road, as the video loop calls it
    a, b = (r.probabilities for r in road)
    seq = [a] * 6 + [b] + [a] * 3 + [b] * 6
    samples = [(i * 0.5, p) for i, p in enumerate(seq)]
    labels = lite0.spec.labels
    ia, ib = expected["chelsea"].index, expected["coffee"].index
    for method in ("consensus", "average"):
        segs = segments_of(samples, labels, method=method, end=8.0)
        assert [(s.index, s.start, s.end) for s in segs] == [(ia, 0.0, 5.0), (ib, 5.0, 8.0)]
    off = segments_of(samples, labels, method="off", end=8.0)
    assert [s.index for s in off] == [ia, ib, ia, ib]


def test_two_odd_frames_flip_the_average_but_not_the_consensus(lite0, expected):
    """Why consensus is the default: two confident odd frames in a row (coffee's 0.9 among
    chelsea's 0.4) outweigh three modest right ones in the moving average; they are two votes
    of five, under the three consensus needs."""
    answer = lite0.answer(probabilities=True)
    a, b = (r.probabilities for r in lite0.road.run([_item(n) for n in PHOTOS], answer, lite0.infer))
    samples = [(i * 0.5, p) for i, p in enumerate([a] * 6 + [b] * 2 + [a] * 6)]
    ia, ib = expected["chelsea"].index, expected["coffee"].index
    consensus = segments_of(samples, lite0.spec.labels, method="consensus", end=7.0)
    average = segments_of(samples, lite0.spec.labels, method="average", end=7.0)
    assert [s.index for s in consensus] == [ia]
    assert [s.index for s in average] == [ia, ib, ia]


def test_a_video_served_over_http(lite0, expected, two_photos):
    """An MP4 on a real HTTP server on loopback: it has a duration, so it is read like a
    file (to its end, no reconnects), with the same segments."""
    import functools
    import http.server

    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=two_photos.parent)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/{two_photos.name}"
        source = VideoSource(url, fps=2).open()
        assert not source.live and source.duration == pytest.approx(2 * SECONDS)
        _, segments = run_video(lite0, source)
    finally:
        server.shutdown()
    assert [s.index for s in segments] == [expected[n].index for n in PHOTOS]
    assert source.state.reconnects == 0 and source.state.status == "ended"


def _item(name):
    from localvision.road import Item

    return Item(name, frame_of(name))


def test_live_events_come_in_order(lite0, expected, two_photos):
    """Incremental use (the service's): a "start" for chelsea, then coffee's "start" right
    after chelsea's "end", and the last "end" from finish()."""
    smoother = Smoother(lite0.spec.labels)
    events = []
    for frame, result in classify_frames(lite0, VideoSource(str(two_photos), fps=2).frames()):
        events += [(e.kind, e.segment.index) for e in smoother.push(frame.time, result.probabilities)]
    events += [(e.kind, e.segment.index) for e in smoother.finish()]
    ia, ib = expected["chelsea"].index, expected["coffee"].index
    assert events == [("start", ia), ("end", ia), ("start", ib), ("end", ib)]


def test_a_clip_too_short_for_consensus_gets_one_segment(lite0, expected, tmp_path):
    """One second of coffee at 2 samples a second: fewer samples than `agree` (3), so nothing
    is ever decided; finish(short=True) (what `localvision video` calls) still gives the clip
    its one segment, opened (end None) then closed; plain finish() (the service's) gives none."""
    clip = make_video(tmp_path / "short.mp4", ["coffee"], seconds=1.0)
    answers = [
        (frame.time, result.probabilities)
        for frame, result in classify_frames(lite0, VideoSource(str(clip), fps=2).frames())
    ]
    assert len(answers) == 2
    plain, short = Smoother(lite0.spec.labels), Smoother(lite0.spec.labels)
    for t, probs in answers:
        assert plain.push(t, probs) == [] and short.push(t, probs) == []
    assert plain.finish(1.0) == [] and plain.segments == []
    start, end = short.finish(1.0, short=True)
    assert (start.kind, start.segment.end) == ("start", None)
    assert end.kind == "end" and end.segment.to_dict()["end"] == 1.0
    (seg,) = short.segments
    assert (seg.index, seg.start, seg.samples) == (expected["coffee"].index, 0.0, 2)
    assert seg.confidence == pytest.approx(np.mean([p[seg.index] for _, p in answers]))


def test_smoothing_settings_are_checked():
    with pytest.raises(InvalidArgument):
        Smoother(["a", "b"], window=3, agree=4)
    with pytest.raises(InvalidArgument):
        Smoother(["a", "b"], method="median")


# --- bad sources --------------------------------------------------------------------------------
def test_bad_sources_have_typed_errors(tmp_path, two_photos):
    text = tmp_path / "notes.mp4"
    text.write_text("not a video at all\n" * 50)
    # A real AVI (MPEG-4 Part 2) whose codec tag is changed to one no FFmpeg knows.
    avi = make_video(tmp_path / "c.avi", ["coffee"], seconds=0.5, codec="mpeg4", size=(64, 48))
    odd = tmp_path / "odd.avi"
    odd.write_bytes(avi.read_bytes().replace(b"FMP4", b"QQQ9"))
    cases = [
        (str(tmp_path / "missing.mp4"), FileNotFound),
        (str(text), NotAVideo),
        (str(tmp_path), NotAVideo),  # a folder: said so, not "no such file"
        (str(odd), UnsupportedCodec),
        ("webcam:57", CameraNotFound),
        ("webcam:x", CameraNotFound),
        ("file:///etc/passwd", BadStreamUrl),
        ("concat:" + str(two_photos), BadStreamUrl),
        ("rtsp://", BadStreamUrl),
        (f"rtsp://127.0.0.1:{free_port()}/stream", StreamUnavailable),
        (f"http://127.0.0.1:{free_port()}/video.mp4", StreamUnavailable),
    ]
    for source, error in cases:
        with pytest.raises(error) as info:
            VideoSource(source, fps=2, timeout_s=3).open()
        assert info.value.code == error.code and info.value.message, source


@pytest.mark.parametrize(
    "url",
    ["rtsp://cam.local/stream1", "rtsps://user:pw@10.0.0.5:322/live", "http://127.0.0.1:8080/v.mjpg",
     "HTTPS://example.org/live.m3u8"],
)  # fmt: skip
def test_allowed_stream_urls(url):
    assert check_stream_url(url) == url
    assert parse_source(url).kind == "url"


@pytest.mark.parametrize(
    "url",
    ["file:///etc/passwd", "/etc/passwd", "concat:/a|/b", "subfile:,,start,0,end,0,,:/etc/passwd",
     "pipe:0", "data:video/mp4;base64,AAAA", "tcp://127.0.0.1:9", "udp://0.0.0.0:5000", "rtmp://x/y",
     "rtsp://", "http:///nohost", "rtsp://cam:99999/x", "rtsp://cam/a b", "", "ftp://x/y.mp4",
     "gopher://x", "webcam:0", "httpproxy://x", "rtsp://[::1/x", "http://[fe80::1/x"],
)  # fmt: skip
def test_refused_stream_urls(url):
    with pytest.raises(BadStreamUrl) as info:
        check_stream_url(url)
    assert info.value.code == "bad_stream_url"


# --- a real RTSP stream -------------------------------------------------------------------------
@pytest.fixture
def rtsp(tmp_path):
    """A live RTSP stream of chelsea (never skipped: scripts/test.sh installs GStreamer)."""
    path = tmp_path / "chelsea.png"
    frame_of("chelsea").save(path)
    with RtspServer([path], port=free_port(), fps=10) as server:
        yield server


def test_rtsp_stream_drops_and_reconnects(lite0, expected, rtsp):
    """Labels from a live RTSP stream; the server is killed (a drop) and started again on the
    same port a second later: the source reconnects, counts it, and the labels resume."""
    source = VideoSource(rtsp.url, fps=4, timeout_s=3, backoff_s=0.2, backoff_max_s=1)
    assert source.open().live
    seen = {"before": [], "after": []}
    killed_at = None
    restart = threading.Timer(1.0, rtsp.start)
    try:
        for frame, result in classify_frames(lite0, source.frames(), batch=1):
            phase = "after" if source.state.reconnects else "before"
            seen[phase].append(result.predictions[0].index)
            if killed_at is None and len(seen["before"]) >= 3:
                killed_at = frame.time
                rtsp.kill()
                restart.start()
            if len(seen["after"]) >= 3:
                break
    finally:
        restart.cancel()
        source.close()
    want = expected["chelsea"].index
    assert seen["before"][:3] == [want] * 3 and seen["after"] == [want] * 3
    assert source.state.reconnects == 1 and source.state.drops >= 1
    assert source.state.last_error  # why it dropped, for the status page


def test_rtsp_watchdog_reconnects_a_stream_that_stalls(rtsp):
    """The server is frozen (SIGSTOP): the connection stays open but no frame comes. After
    timeout_s the watchdog drops it; the reconnect waits until the server is thawed."""
    source = VideoSource(rtsp.url, fps=4, timeout_s=1.5, backoff_s=0.2, backoff_max_s=0.5,
                         max_reconnects=50)  # fmt: skip
    stalled_at = resumed_at = None
    pid = rtsp.proc.pid
    thaw = threading.Timer(3.0, lambda: os.kill(pid, signal.SIGCONT))
    try:
        for frame in source.frames():
            if stalled_at is None and frame.index >= 5:
                os.kill(pid, signal.SIGSTOP)
                stalled_at = time.monotonic()
                thaw.start()
            if source.state.reconnects:
                resumed_at = time.monotonic()
                break
    finally:
        thaw.cancel()
        os.kill(pid, signal.SIGCONT)
        source.close()
    assert source.state.reconnects == 1 and source.state.drops >= 1
    assert resumed_at - stalled_at >= 3.0  # it came back only once the server did


def test_rtsp_stream_that_never_comes_back_is_lost(rtsp):
    source = VideoSource(rtsp.url, fps=4, timeout_s=2, max_reconnects=2, backoff_s=0.1)
    with pytest.raises(StreamLost) as info:
        for frame in source.frames():
            if frame.index >= 3:
                rtsp.kill()
    assert info.value.code == "stream_lost" and "2 reconnect attempts" in info.value.message
    assert source.state.status == "failed"


# --- the command --------------------------------------------------------------------------------
MODEL = ["-m", "efficientnet_lite0", "--backend", "torch", "--precision", "fp32"]


def invoke(*args):
    from typer.testing import CliRunner

    from localvision.cli import app

    return CliRunner().invoke(app, ["video", *map(str, args)], prog_name="localvision")


def check_segments(segments, expected, step=0.5):
    assert [s["index"] for s in segments] == [expected[n].index for n in PHOTOS]
    assert segments[0]["start"] == 0.0 and segments[1]["end"] == pytest.approx(2 * SECONDS)
    assert abs(segments[1]["start"] - SECONDS) <= step and segments[0]["end"] == segments[1]["start"]


@pytest.mark.parametrize("fmt", ["json", "jsonl", "csv"])
def test_cli_video_formats(lite0_package, expected, two_photos, fmt):
    import csv
    import io
    import json

    result = invoke(two_photos, "--fps", 2, "--format", fmt, "-k", 2, *MODEL)
    assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
    text = result.stdout
    if fmt == "json":
        doc = json.loads(text)
        assert set(doc) == {"source", "model", "frames", "segments"}
        assert doc["source"] == str(two_photos) and doc["model"] == "efficientnet_lite0"
        frames, segments = doc["frames"], doc["segments"]
    elif fmt == "jsonl":
        lines = [json.loads(line) for line in text.splitlines()]
        frames = [x for x in lines if x["type"] == "frame"]
        segments = [x for x in lines if x["type"] == "segment"]
        starts = [x for x in lines if x["type"] == "segment_start"]
        assert [s["index"] for s in starts] == [s["index"] for s in segments]
    else:
        rows = list(csv.DictReader(io.StringIO(text)))
        frames = [
            {"time": float(r["time"]), "frame": int(r["frame"]),
             "predictions": [{"index": int(r["index_1"]), "label": r["label_1"]}]}
            for r in rows if r["kind"] == "frame"
        ]  # fmt: skip
        segments = [
            {"index": int(r["index_1"]), "label": r["label_1"], "start": float(r["time"]),
             "end": float(r["end"]), "confidence": float(r["probability_1"])}
            for r in rows if r["kind"] == "segment"
        ]  # fmt: skip
        assert "label_2" in rows[0] and "label_3" not in rows[0]  # -k 2
    assert [f["time"] for f in frames] == [0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5]
    assert [f["frame"] for f in frames] == [0, 5, 10, 15, 20, 25, 30, 35]
    tops = [f["predictions"][0]["index"] for f in frames]
    assert tops == [expected["chelsea"].index] * 4 + [expected["coffee"].index] * 4
    check_segments(segments, expected)
    assert [s["label"] for s in segments] == [expected[n].label for n in PHOTOS]


def test_cli_annotate_writes_a_playable_video_of_the_same_length(
    lite0_package, expected, two_photos, tmp_path
):
    import av

    out = tmp_path / "annotated.mp4"
    result = invoke(two_photos, "--annotate", out, "--lang", "zh", "--every", 5, *MODEL)
    assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
    with av.open(str(two_photos)) as a, av.open(str(out)) as b:
        src = [f.to_ndarray(format="rgb24") for f in a.decode(video=0)]
        got = [f.to_ndarray(format="rgb24") for f in b.decode(video=0)]
        assert b.streams.video[0].codec_context.name == "h264"
        assert b.duration / 1e6 == pytest.approx(a.duration / 1e6, abs=0.11)
    assert len(got) == len(src) == 40 and got[0].shape == src[0].shape
    # Drawn: the panel (top left) differs from the source; the rest of the frame does not.
    h, w = src[0].shape[:2]
    for i in (5, 35):
        diff = np.abs(got[i].astype(int) - src[i].astype(int)).mean(axis=2)
        assert diff[: h // 6, : w // 3].mean() > 20
        assert diff[h // 2 :, w // 2 :].mean() < 6
    assert "wrote 40 annotated frames" in result.stderr
    # which CJK font drew the Chinese labels is said (test.sh installs fonts-wqy-microhei)
    assert "labels drawn with wqy-microhei.ttc" in result.stderr, result.stderr


def test_cli_video_bad_sources_exit_2(lite0_package, tmp_path):
    notes = tmp_path / "notes.mp4"
    notes.write_text("not a video\n" * 50)
    for source, said in [
        (tmp_path / "missing.mp4", "No such video file"),
        (notes, "cannot be read as a video"),
        ("webcam:57", "There is no camera webcam:57"),
        ("file:///etc/passwd", "only rtsp://, rtsps://, http:// and https://"),
        (f"rtsp://127.0.0.1:{free_port()}/cam", "could not be opened"),
    ]:
        result = invoke(source, "--timeout-s", 3, *MODEL)
        assert result.exit_code == 2, (source, result.stdout, result.stderr)
        assert said in result.stderr and "Traceback" not in result.stderr, result.stderr
        assert result.exception is None or isinstance(result.exception, SystemExit)
        assert "efficientnet_lite0" not in result.stderr  # said before the model loads


def test_a_stream_password_is_never_shown(lite0_package):
    """A camera's URL carries its password: the CLI's error, a source's messages, its state and
    its reader thread's name show it as ***, as typed or percent-encoded."""
    from localvision.urls import redact, scrub

    for url in [f"rtsp://viewer:s3cret-pw@127.0.0.1:{free_port()}/cam",
                f"rtsp://viewer:s3cret%2Dpw@127.0.0.1:{free_port()}/cam"]:  # fmt: skip
        result = invoke(url, "--timeout-s", 3, *MODEL)
        assert result.exit_code == 2 and "could not be opened" in result.stderr, result.stderr
        assert "rtsp://viewer:***@127.0.0.1:" in result.stderr, result.stderr
        assert "s3cret" not in result.stdout + result.stderr
    # a patient live source that never connects: every message on the way to StreamLost
    url = f"rtsp://viewer:s3cret-pw@127.0.0.1:{free_port()}/cam"
    source = VideoSource(url, fps=2, timeout_s=2, max_reconnects=2, backoff_s=0.05, patient=True)
    with pytest.raises(StreamLost) as info:
        for _ in source.frames():
            pass
    shown = [info.value.message, source.state.last_error or "", source.shown]
    assert all("s3cret" not in text for text in shown) and "viewer:***@" in info.value.message
    assert redact("rtsp://cam.local/x") == "rtsp://cam.local/x"  # nothing to hide
    assert redact("rtsp://only-user@cam/x") == "rtsp://only-user@cam/x"
    assert redact("rtsps://u:p@ss@[::1]:322/x?a=1") == "rtsps://u:***@[::1]:322/x?a=1"
    assert redact("rtsp://u:pw@cam:notaport/x") == "rtsp://u:***@cam:notaport/x"  # no raise
    assert scrub("auth p%40ss / p@ss failed", "rtsp://u:p%40ss@cam/") == "auth *** / *** failed"


def test_cli_video_unwritable_output_is_a_typed_error_before_the_model(
    lite0_package, two_photos, tmp_path
):
    """-o in a folder that does not exist, or naming a folder: exit 2, one line, no traceback."""
    for output, said in [
        (tmp_path / "missing" / "out.json", "does not exist"),
        (tmp_path, "is a folder"),
    ]:
        result = invoke(two_photos, "-o", output, *MODEL)
        assert result.exit_code == 2, (output, result.stdout, result.stderr)
        assert said in result.stderr and "unexpected" not in result.stderr, result.stderr
        assert result.exception is None or isinstance(result.exception, SystemExit)
        assert "efficientnet_lite0" not in result.stderr  # said before the model loads


def test_cli_video_ctrl_c_on_a_live_stream_prints_the_segments_so_far(
    lite0_package, expected, rtsp
):
    """`localvision video rtsp://...` in a real process; SIGINT once a segment started: it
    ends cleanly (exit 0) with that segment closed."""
    import json
    import subprocess
    import sys

    proc = subprocess.Popen(
        [sys.executable, "-m", "localvision", "video", rtsp.url, "--fps", "4", "-f", "jsonl",
         *MODEL], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    lines = []
    try:
        for line in proc.stdout:
            lines.append(json.loads(line))
            if lines[-1]["type"] == "segment_start":
                proc.send_signal(signal.SIGINT)
                break
        rest, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    lines += [json.loads(x) for x in rest.splitlines()]
    assert proc.returncode == 0, err
    ended = [x for x in lines if x["type"] == "segment"]
    assert [s["index"] for s in ended] == [expected["chelsea"].index], lines
    assert ended[0]["end"] >= ended[0]["start"] and "Traceback" not in err
    assert "segments so far" in err


def test_cli_annotate_refuses_what_it_cannot_write(lite0_package, two_photos, tmp_path):
    for target, said in [
        (two_photos, "would overwrite the video being read"),
        (tmp_path / "labelled.gif", "writes an .mp4"),
        (tmp_path / "missing" / "labelled.mp4", "Cannot write"),
    ]:
        result = invoke(two_photos, "--annotate", target, *MODEL)
        assert result.exit_code == 2 and said in result.stderr, (result.stdout, result.stderr)
    assert two_photos.stat().st_size > 10_000  # the source is untouched
