"""`localvision video SOURCE`: a thin shell over streams/: open the source, walk its sampled
frames down the road in batches, smooth them into segments, print them as JSON, JSON Lines or
CSV, and optionally draw them onto a copy of the video. Ctrl+C ends it cleanly, with the segments
so far.
"""

from __future__ import annotations

import json
import sys
from enum import Enum
from pathlib import Path
from typing import Optional

import typer

from ..config import Settings
from ..errors import InvalidArgument
from ..report import rows_to_csv
from ..streams.annotate import Annotator
from ..streams.frames import classify_frames, frame_row
from ..streams.smoothing import Smoother
from ..streams.sources import VideoSource
from . import render
from .options import settings_options
from .shared import check_output, load

CSV_LEAD = ("kind", "frame", "time", "end")  # a segment's row: time is its start


class VideoFormat(str, Enum):
    json = "json"
    jsonl = "jsonl"
    csv = "csv"


@settings_options(
    "video_every", "video_fps", "video_smoothing", "video_window", "video_agree",
    "stream_timeout_s", "stream_reconnects", "rtsp_transport", "model", "weights", "top_k",
    "offline", "backend", "device", "precision", "batch_size", "labels", "lang", "min_confidence",
    "model_dir",
)  # fmt: skip
def video(
    source: str = typer.Argument(
        ..., help="A video file, an rtsp://, rtsps://, http(s):// stream, or webcam:N (V4L2)."
    ),
    fmt: VideoFormat = typer.Option(
        VideoFormat.json, "--format", "-f",
        help="json (one document at the end), jsonl (one line per frame and segment, as they "
        "come) or csv.",
    ),  # fmt: skip
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write results here."),
    annotate: Optional[Path] = typer.Option(
        None, "--annotate", dir_okay=False,
        help="Also write the video with the labels and confidence bars drawn on each frame "
        "(.mp4).",
    ),  # fmt: skip
    *,
    settings: Settings,
):
    """Classify a video, stream or camera frame by frame (sampled), smoothed into segments
    where the label is stable. Ctrl+C ends a live source, with the segments so far."""
    check_output(output)
    opened = VideoSource.from_settings(source, settings).open()  # a bad source: before the model
    run(load(settings), settings, opened, fmt.value, output, annotate)


def run(
    clf, settings: Settings, src: VideoSource, fmt: str, output: Path | None,
    annotate: Path | None,
) -> None:  # fmt: skip
    """Classify the opened source's sampled frames; print (or write to `output`) the frames
    and the segments."""
    source = src.shown  # a stream URL without its password: the output may be shared
    spec = clf.spec
    smoother = Smoother.for_model(spec, settings, settings.lang)
    annotator = None
    if annotate is not None:
        if src.target.kind == "file" and Path(src.target.location).resolve() == annotate.resolve():
            raise InvalidArgument(
                "--annotate would overwrite the video being read; name another file."
            )
        annotator = Annotator(annotate, width=src.width, height=src.height, rate=src.rate)
        if settings.lang == "zh" and annotator.font_path is None:
            render.warning("no CJK font found: Chinese labels in the video will show as boxes")
    try:
        out = output.open("w", encoding="utf-8") if output else sys.stdout
    except OSError as exc:
        src.close()
        why = exc.strerror or exc
        raise InvalidArgument(f"Cannot write to --output {output}: {why}.") from None
    frames: list[dict] = []
    latest = None
    interrupted = False

    def emit(kind: str, data: dict) -> None:
        out.write(json.dumps({"type": kind, **data}, ensure_ascii=False) + "\n")
        out.flush()

    def events(evts) -> None:
        if fmt != "jsonl":
            return
        for e in evts:
            emit("segment" if e.kind == "end" else "segment_start", e.segment.to_dict())

    try:
        walk = classify_frames(
            clf, src.frames(keep_all=annotator is not None),
            batch=1 if src.live else None, every_frame=annotator is not None,
        )  # fmt: skip
        for frame, result in walk:
            if result is not None:
                events(smoother.take(frame.time, result))
                latest = result if result.ok else latest
                row = frame_row(frame, result)
                if fmt == "jsonl":
                    emit("frame", row)
                else:
                    frames.append(row)
            if annotator is not None:
                annotator.write(frame, latest.predictions if latest else (), smoother.label)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        src.close()
        if annotator is not None:
            annotator.close()
    end = src.duration if not (interrupted or src.live) else None
    events(smoother.finish(end, short=True))  # a clip too short for consensus: one segment
    segments = [s.to_dict() for s in smoother.segments]
    if fmt == "json":
        doc = {"source": source, "model": clf.name, "frames": frames, "segments": segments}
        out.write(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    elif fmt == "csv":
        out.write(csv_text(frames, segments, settings))
    if output:
        out.close()
    if src.state.reconnects:
        render.note(f"{src.state.reconnects} reconnects ({src.state.drops} drops)")
    if interrupted:
        render.note(f"stopped: {len(segments)} segments so far")
    if annotator is not None:
        font = annotator.font_path and f" (labels drawn with {Path(annotator.font_path).name})"
        render.note(f"wrote {annotator.frames} annotated frames to {annotate}{font or ''}")


def csv_text(frames: list[dict], segments: list[dict], settings: Settings) -> str:
    """One row per sampled frame (its top-k), then one per segment (its label and mean
    confidence in label_1 / probability_1; time is its start)."""
    rows = [{"kind": "frame", "end": "", **f} for f in frames]
    for s in segments:
        pred = {"label": s["label"], "index": s["index"], "probability": s["confidence"]}
        if "label_en" in s:
            pred["label_en"] = s["label_en"]
        rows.append({
            "kind": "segment", "frame": "", "time": s["start"], "end": s["end"],
            "predictions": [pred], "uncertain": False, "error": None,
        })  # fmt: skip
    return rows_to_csv(rows, CSV_LEAD, k=settings.top_k, lang=settings.lang)
