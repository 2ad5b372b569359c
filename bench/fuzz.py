"""Fuzz the decode path for N minutes: the properties of tests/test_fuzz.py, with fresh randomness.

    .venv/bin/python -m bench.fuzz [--minutes 10] [--target both|decode|zip] [--max-pixels 50000000]

The same strategies (real small images in every supported format, mutated: bit flips, extreme
header integers, truncation, insertion, splices; ZIPs of them) and the same properties: decoding
any bytes gives an RGB image that preprocesses to a finite model input, or a typed
`LocalVisionError`; reading any ZIP gives members or a typed error. Never another exception.

Hypothesis runs rounds of `--round` examples, each with a new seed, until the time is up; a
failing round is shrunk to a small input. Every failing input is written to
`<out>/crashes/<sha256>.bin` with its traceback in `.txt` beside it, and the example database
in `<out>/db` replays them first on the next run. Prints a JSON summary; exits 1 if anything
crashed. (Hypothesis rather than atheris: it needs no compiled extension, and the CI slice and
this run share one definition of the inputs.)
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import sys
import time
import traceback
import warnings
from collections import Counter
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT / "tests"))  # the strategies and properties live with the tests


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=10.0, help="how long to fuzz")
    ap.add_argument("--target", choices=("both", "decode", "zip"), default="both")
    ap.add_argument("--max-pixels", type=int, default=50_000_000, help="decode's pixel limit")
    ap.add_argument("--round", type=int, default=500, help="examples per hypothesis round")
    ap.add_argument("--out", type=Path, default=REPO_ROOT / "bench" / "results" / "fuzz")
    args = ap.parse_args(argv)

    from hypothesis import HealthCheck, given, settings
    from hypothesis import seed as with_seed
    from hypothesis import strategies as st
    from hypothesis.database import DirectoryBasedExampleDatabase

    import test_fuzz
    from localvision.errors import LocalVisionError
    from localvision.imaging import decode

    warnings.simplefilter("ignore")  # Pillow's warnings about the damage it skips are expected
    crashes_dir = args.out / "crashes"
    crashes_dir.mkdir(parents=True, exist_ok=True)
    outcomes: Counter[str] = Counter()
    crashes: dict[str, dict] = {}  # signature -> first report

    def record(target: str, data: bytes, exc: BaseException) -> None:
        digest = hashlib.sha256(data).hexdigest()[:16]
        text = "".join(traceback.format_exception(exc))
        (crashes_dir / f"{target}-{digest}.bin").write_bytes(data)
        (crashes_dir / f"{target}-{digest}.txt").write_text(text)
        frame = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
        signature = (
            f"{target}: {type(exc).__name__} at {frame.filename}:{frame.lineno}"
            if frame
            else type(exc).__name__
        )
        crashes.setdefault(signature, {"file": f"{target}-{digest}.bin", "error": str(exc)[:300]})

    def outcome_of(data: bytes) -> str:
        try:
            decode(data, max_pixels=args.max_pixels)
            return "ok"
        except LocalVisionError as exc:
            return exc.code
        except Exception:
            return "crash"

    def decode_property(data: bytes, draft: bool) -> None:
        try:
            test_fuzz.check_decode(data, draft, args.max_pixels)
        except Exception as exc:
            record("decode", data, exc)
            raise
        outcomes[outcome_of(data)] += 1

    def zip_property(data: bytes) -> None:
        try:
            test_fuzz.check_zip(data, args.max_pixels)
        except Exception as exc:
            record("zip", data, exc)
            raise
        outcomes["zip"] += 1

    common = settings(
        max_examples=args.round,
        deadline=None,
        database=DirectoryBasedExampleDatabase(str(args.out / "db")),
        suppress_health_check=list(HealthCheck),
        print_blob=True,
    )

    def make_test(target: str, round_seed: int):
        """A fresh hypothesis test per round (settings and seed are attached to the function)."""
        if target == "decode":
            test = given(data=test_fuzz.images(), draft=st.booleans())(
                lambda data, draft: decode_property(data, draft)
            )
        else:
            test = given(data=test_fuzz.zips())(lambda data: zip_property(data))
        return common(with_seed(round_seed)(test))

    targets = ("decode", "zip")
    chosen = list(targets) if args.target == "both" else [args.target]
    started = time.monotonic()
    deadline = started + args.minutes * 60
    rounds = failed_rounds = 0
    rng = random.Random()
    while time.monotonic() < deadline:
        name = chosen[rounds % len(chosen)]
        test = make_test(name, rng.getrandbits(64))
        rounds += 1
        try:
            test()
        except Exception as exc:  # hypothesis re-raises the shrunk failure
            failed_rounds += 1
            print(f"round {rounds} ({name}) failed: {type(exc).__name__}: {exc}"[:500],
                  file=sys.stderr, flush=True)  # fmt: skip
        print(f"{(time.monotonic() - started) / 60:5.1f} min  round {rounds} ({name})  "
              f"examples {sum(outcomes.values())}  crashes {len(crashes)}",
              file=sys.stderr, flush=True)  # fmt: skip

    summary = {
        "minutes": round((time.monotonic() - started) / 60, 2),
        "rounds": rounds,
        "failed_rounds": failed_rounds,
        "examples_passed": sum(outcomes.values()),
        "outcomes": dict(outcomes.most_common()),
        "crashes": crashes,
        "crashes_dir": str(crashes_dir),
    }
    print(json.dumps(summary, indent=2))
    return 1 if crashes else 0


if __name__ == "__main__":
    sys.exit(main())
