"""Fast decode against exact decode: top-1 agreement on real photos, and what each costs.

    .venv/bin/python -m bench.decode_bench [--per-size N]

Agreement uses efficientnet_lite0's real ImageNet weights (ResNet-18's cannot be downloaded
here, and random weights make every answer a tie). The photos are the test corpus's variants:
real photos cut and mirrored at random, scaled to phone-photo sizes. Three answers per photo:

- exact: full decode, whole-picture resize (torchvision bit for bit, `--exact-decode`);
- reduced: the fast path alone (reduced-scale JPEG decode, window resize), `--recheck-margin 0`;
- served: the fast path with its near-tie check (the default).

Timing is preprocessing only (bytes -> normalized array), one thread, ResNet-18's bilinear
preset and lite0's bicubic one, on the benchmark's small, large and a 12 MP JPEG.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT / "tests"))  # the photo variants live with the tests

SIZES = (1600, 2100, 3000)  # shorter side: 4 MP, 7 MP and 12 MP phone photos (1/2, 1/4 decodes)


def agreement(per_size: int, margin: float) -> dict:
    from corpus import photo_variants

    from localvision import load_classifier

    from localvision.road import near_ties

    clf = load_classifier("efficientnet_lite0", offline=True, backend="openvino", precision="fp32")
    data = [
        d
        for i, side in enumerate(SIZES)
        for _, d in photo_variants(per_size, seed=100 + i, min_side=side, min_crop=0.75)
    ]

    def top1(exact: bool, recheck: float) -> np.ndarray:
        clf.preparer.exact_decode, clf.road.recheck_margin = exact, recheck
        return np.array([r.predictions[0].index for r in clf.predict(data, top_k=2)])

    exact, reduced, served = top1(True, 0), top1(False, 0), top1(False, margin)
    clf.preparer.exact_decode, clf.road.recheck_margin = False, margin
    prepared = [clf.preparer.prepare(d) for d in data]
    probs = clf.probabilities(np.stack([p.array for p in prepared]))
    rechecked = len(near_ties(probs, prepared, margin))
    return {
        "model": "efficientnet_lite0",
        "photos": len(data),
        "shorter_sides": list(SIZES),
        "recheck_margin": margin,
        "agreement_reduced": round(float(np.mean(exact == reduced)), 4),
        "agreement_served": round(float(np.mean(exact == served)), 4),
        "rechecked_fraction": round(rechecked / len(data), 4),
    }


def timings(repeats: int = 15) -> list[dict]:
    from bench.images import jpeg_bytes, large_jpeg, photo, small_jpeg
    from localvision.imaging import decode_picture
    from localvision.models import get_spec
    from localvision.transforms import to_array

    images = {
        "small (0.24 MP)": small_jpeg(),
        "large (4 MP)": large_jpeg(),
        "12 MP": jpeg_bytes(photo().resize((4240, 2832))),
    }
    rows = []
    for model in ("resnet18", "efficientnet_lite0"):
        pp = get_spec(model).preprocess
        for name, data in images.items():
            row = {"model": model, "image": name}
            for mode, exact in (("exact", True), ("fast", False)):
                draft = None if exact else pp.draft_side
                times = []
                for _ in range(repeats):
                    t = time.perf_counter()
                    pic = decode_picture(data, max_pixels=50_000_000, draft_min_side=draft)
                    to_array(pic.image, pp, box=pic.box, exact=exact)
                    times.append((time.perf_counter() - t) * 1000)
                row[f"{mode}_ms"] = round(statistics.median(times), 2)
            row["speedup"] = round(row["exact_ms"] / row["fast_ms"], 2)
            rows.append(row)
    return rows


def bench_decode(per_size: int = 100, margin: float | None = None) -> dict:
    from localvision.config import Settings

    margin = Settings.model_fields["recheck_margin"].default if margin is None else margin
    return {"agreement": agreement(per_size, margin), "timing": timings()}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--per-size", type=int, default=100, help="photos per size (3 sizes)")
    args = ap.parse_args(argv)
    print(json.dumps(bench_decode(args.per_size), indent=2))


if __name__ == "__main__":
    main()
