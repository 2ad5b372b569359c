"""Video: frames per second through `localvision video` on a 1080p H.264 file, against the
naive loop, in the same run.

    .venv/bin/python -m bench.video_bench [--seconds S]

The file: real photos (coffee, then chelsea), 1920x1080, 25 fps, H.264 (libx264), made here.
Two samplings: every frame, and every 10th. What is counted is the video's frames per wall
second (decoding every frame is part of the job either way).

- localvision: streams/ as `localvision video FILE --every N` runs it (PyAV decode with
  FFmpeg's threads, frames to RGB by swscale, the road in batches, smoothing), ResNet-18 on
  OpenVINO fp32;
- naive: the loop the tutorials write: `cv2.VideoCapture` reading every frame, the sampled
  ones converted BGR -> RGB -> PIL, torchvision's classic preprocessing (Resize 256,
  CenterCrop 224, ToTensor, Normalize), one eager PyTorch call per frame under no_grad.

Both use the same seeded random ResNet-18 (ImageNet's weights cannot be downloaded here), so
the ratio measures the pipeline, not the model; top-1 agreement between the two is reported.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROWS = ("video-every1", "video-every10")
SIZE = (1920, 1080)
RATE = 25


def make_1080p(path: Path, seconds: float) -> Path:
    """coffee then chelsea, each for half of `seconds`, 1080p H.264 at 25 fps."""
    import av

    from bench.images import photo

    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=RATE)
        stream.width, stream.height = SIZE
        stream.pix_fmt = "yuv420p"
        for name in ("coffee", "chelsea"):
            frame = av.VideoFrame.from_image(photo(name).convert("RGB").resize(SIZE))
            for _ in range(round(seconds * RATE / 2)):
                out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path


def run_localvision(path: Path, weights: Path, every: int) -> tuple[float, list[int]]:
    """(video frames per second, top-1 of each sampled frame) through streams/."""
    from localvision import load_classifier
    from localvision.streams.frames import classify_frames
    from localvision.streams.smoothing import Smoother
    from localvision.streams.sources import VideoSource

    clf = load_classifier("resnet18", weights=weights, backend="openvino", precision="fp32")
    clf.warm_up(clf.settings.batch_size)
    source = VideoSource(str(path), every=every)
    smoother = Smoother(clf.spec.labels)
    tops = []
    t = time.perf_counter()
    for frame, result in classify_frames(clf, source.frames(keep_all=False)):
        smoother.push(frame.time, result.probabilities)
        tops.append(result.predictions[0].index)
    smoother.finish(source.duration)
    elapsed = time.perf_counter() - t
    return source._index / elapsed, tops


def run_naive(path: Path, weights: Path, every: int) -> tuple[float, list[int]]:
    """(video frames per second, top-1 of each sampled frame) with OpenCV + eager PyTorch."""
    import cv2
    import torch
    import torchvision
    from PIL import Image
    from torchvision import transforms

    model = torchvision.models.resnet18()
    model.load_state_dict(torch.load(weights, map_location="cpu"))
    model.eval()
    prep = transforms.Compose([
        transforms.Resize(256), transforms.CenterCrop(224), transforms.ToTensor(),
        transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]),
    ])  # fmt: skip
    with torch.no_grad():
        model(torch.zeros(1, 3, 224, 224))  # warm, as localvision's warm_up
    cap = cv2.VideoCapture(str(path))
    tops, n = [], 0
    t = time.perf_counter()
    with torch.no_grad():
        while True:
            ok, bgr = cap.read()
            if not ok:
                break
            if n % every == 0:
                image = Image.fromarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
                logits = model(prep(image).unsqueeze(0))
                tops.append(int(logits.argmax(1)))
            n += 1
    elapsed = time.perf_counter() - t
    cap.release()
    return n / elapsed, tops


def bench_video(seconds: float = 8.0, log=print, tmp: Path | None = None, only=None) -> list[dict]:
    """One row per sampling: localvision and naive fps, their ratio, top-1 agreement."""
    from bench.baseline import write_random_resnet18

    with tempfile.TemporaryDirectory(prefix="video-bench-") as d:
        base = Path(tmp or d)
        weights = write_random_resnet18(base / "resnet18-random.pth")
        path = make_1080p(base / "1080p.mp4", seconds)
        rows = []
        for every, name in zip((1, 10), ROWS):
            if only and name not in only:
                continue
            log(f"video: {name} (1080p H.264, {seconds:g} s) ...")
            naive_fps, naive_tops = run_naive(path, weights, every)
            lv_fps, lv_tops = run_localvision(path, weights, every)
            same = sum(a == b for a, b in zip(lv_tops, naive_tops))
            rows.append({
                "row": name, "every": every, "frames": round(seconds * RATE),
                "size": f"{SIZE[0]}x{SIZE[1]}", "cpus": os.cpu_count(),
                "localvision_fps": round(lv_fps, 1), "naive_fps": round(naive_fps, 1),
                "ratio": round(lv_fps / naive_fps, 2),
                "top1_agreement": round(same / max(1, len(naive_tops)), 3),
            })  # fmt: skip
        return rows


def video_table(rows: list[dict]) -> str:
    head = "| sampling | localvision fps | naive fps (OpenCV + eager) | ratio | same top-1 |\n"
    head += "|---|---|---|---|---|\n"
    body = "".join(
        f"| every {r['every']} | {r['localvision_fps']} | {r['naive_fps']} | {r['ratio']}x "
        f"| {r['top1_agreement']:.0%} |\n"
        for r in rows
    )
    return head + body


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=8.0, help="length of the 1080p video")
    args = ap.parse_args(argv)
    rows = bench_video(args.seconds, log=lambda m: print(m, file=sys.stderr))
    print(json.dumps(rows, indent=2))
    print(video_table(rows))


if __name__ == "__main__":
    main()
