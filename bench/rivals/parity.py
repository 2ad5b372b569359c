"""Same top-1 through the same client calls: tritonclient and TorchServe's curl, on real photos.

    python -m bench.rivals.parity        # prints JSON; python -m bench.run runs it too

With the bench's seeded ResNet-18 on every server (the real EfficientNet-Lite0 weights do not fit
TorchServe's eager ``image_classifier`` handler), for each real photo of the tests' golden set
(``tests/corpus.py`` ``real_photo_bytes``, names from ``tests/conftest.py`` ``GOLDEN``):

- ``tritonclient→lv /v2``: ``tritonclient.http`` ``infer`` against localvision's KServe v2 route,
  input ``IMAGE`` (BYTES, binary), output ``PROBABILITIES`` with ``class_count=5``;
- ``curl -T→lv``: ``curl -T photo.jpg http://…/predictions/resnet18`` against localvision;
- ``curl -T→TorchServe``: the same curl command against TorchServe (bench/rivals/torchserve_rival).

localvision runs ``--exact-decode --precision fp32`` (full-size JPEG decode, float32 model), the
preprocessing closest to TorchServe's PIL + torchvision transforms. A photo agrees when the three
top-1 labels are equal. Agreement is counted over the photos every server answered; a photo a
server refuses (TorchServe's handler does not convert a grayscale JPEG to RGB) is reported as
refused, and localvision must answer every photo (a target of its own).
"""

from __future__ import annotations

import ast
import contextlib
import json
import subprocess
import sys
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
MODEL = "resnet18"
CLIENTS = ("tritonclient→lv /v2", "curl -T→lv", "curl -T→TorchServe")


def golden() -> dict[str, str]:
    """``GOLDEN`` from tests/conftest.py, read without importing pytest's fixtures."""
    tree = ast.parse((REPO_ROOT / "tests" / "conftest.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "GOLDEN" for t in node.targets
        ):
            return ast.literal_eval(node.value)
    raise LookupError("tests/conftest.py has no GOLDEN")


def photo_bytes(name: str) -> bytes:
    sys.path.insert(0, str(REPO_ROOT / "tests"))
    try:
        from corpus import real_photo_bytes
    finally:
        sys.path.remove(str(REPO_ROOT / "tests"))
    return real_photo_bytes(name)


def triton_top5(port: int, data: bytes) -> list[tuple[str, float]]:
    """tritonclient against ``/v2/models/resnet18/infer``: (label, score) of "score:index:label"."""
    import numpy as np
    import tritonclient.http as httpclient

    client = httpclient.InferenceServerClient(url=f"127.0.0.1:{port}")
    try:
        inp = httpclient.InferInput("IMAGE", [1], "BYTES")
        inp.set_data_from_numpy(np.array([data], dtype=np.object_), binary_data=True)
        out = httpclient.InferRequestedOutput("PROBABILITIES", binary_data=True, class_count=5)
        result = client.infer(MODEL, inputs=[inp], outputs=[out])
        out = []
        for item in result.as_numpy("PROBABILITIES").reshape(-1):
            score, _index, label = (item.decode() if isinstance(item, bytes) else str(item)).split(":", 2)
            out.append((label, float(score)))
        return out
    finally:
        client.close()


def curl_top5(port: int, path: Path) -> list[tuple[str, float]]:
    """TorchServe's documented call, ``curl -T photo.jpg .../predictions/resnet18``."""
    url = f"http://127.0.0.1:{port}/predictions/{MODEL}"
    done = subprocess.run(["curl", "-sS", "--fail-with-body", "-T", str(path), url],
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"curl exit {done.returncode}: {(done.stdout + done.stderr)[:200]}")
    answer = json.loads(done.stdout)

    def plain(label: str) -> str:  # localvision writes a label two classes share "label (index)"
        return label.rsplit(" (", 1)[0] if label.endswith(")") and " (" in label else label

    return sorted(((plain(k), float(v)) for k, v in answer.items()), key=lambda kv: -kv[1])


def _try(fn, *args) -> tuple[str | None, str | None]:
    try:
        return fn(*args), None
    except Exception as exc:  # noqa: BLE001  (recorded per photo and client)
        return None, f"{type(exc).__name__}: {exc}"


@contextlib.contextmanager
def _localvision(weights: Path, tmp: Path, log_path: Path):
    from bench.http_bench import localvision_command
    from bench.servers import running_server

    cmd = localvision_command(weights, "fp32", f"sqlite:///{tmp / 'history-parity.db'}")
    cmd.append("--exact-decode")
    with running_server(cmd, ready="http", ready_path="/readyz", log_path=log_path,
                        timeout_s=180) as srv:  # fmt: skip
        yield srv, " ".join(cmd[cmd.index("--backend"):cmd.index("--host")] + ["--exact-decode"])


def check(weights: Path, tmp: Path, logs: Path, log=print) -> dict:
    """Start localvision (fp32, exact decode) and TorchServe; ask both for every golden photo."""
    from bench.rivals import torchserve_rival

    names = golden()
    photos = tmp / "parity-photos"
    photos.mkdir(parents=True, exist_ok=True)
    files = {}
    for name in names:
        files[name] = photos / f"{name}.jpg"
        files[name].write_bytes(photo_bytes(name))
    answers = {name: ({}, {}) for name in names}
    try:
        with _localvision(weights, tmp, logs / "parity-localvision.log") as (lv, how):
            for name, path in files.items():
                top1, err = answers[name]
                top1[CLIENTS[0]], err[CLIENTS[0]] = _try(triton_top5, lv.port, path.read_bytes())
                top1[CLIENTS[1]], err[CLIENTS[1]] = _try(curl_top5, lv.port, path)
        with torchserve_rival.server(weights, tmp, logs / "parity-torchserve.log") as (ts, _, _f):
            for name, path in files.items():
                top1, err = answers[name]
                top1[CLIENTS[2]], err[CLIENTS[2]] = _try(curl_top5, ts.port, path)
    except Exception as exc:  # noqa: BLE001  (a server that does not start: reported)
        return {"error": f"{type(exc).__name__}: {str(exc)[:2000]}"}
    rows = []
    for name, (top5, err) in answers.items():
        got = [top5.get(c) for c in CLIENTS]
        ok = [g for g in got if g]
        labels = [g[0][0] for g in ok]
        agree = len(ok) == len(CLIENTS) and len(set(labels)) == 1
        # random weights pick one class for most photos, so also: the same top 5, and how far
        # apart the top-1 probabilities are
        same5 = len(ok) == len(CLIENTS) and len({tuple(k for k, _ in g) for g in ok}) == 1
        spread = max(g[0][1] for g in ok) - min(g[0][1] for g in ok) if ok else None
        rows.append({"photo": name, "expected_real": names[name],
                     "top1": {c: g[0][0] for c, g in zip(CLIENTS, got) if g},
                     "top1_prob": {c: g[0][1] for c, g in zip(CLIENTS, got) if g},
                     "top5": {c: [k for k, _ in g] for c, g in zip(CLIENTS, got) if g},
                     "same_top5": same5, "top1_prob_spread": spread,
                     "errors": {c: e for c, e in err.items() if e}, "agree": agree})  # fmt: skip
        log(f"  parity {name}: {rows[-1]['top1']} {'same' if agree else 'DIFFERENT'}")
    # Agreement is over the photos every server answered; a photo a rival refuses (TorchServe's
    # handler and a grayscale JPEG) is reported beside it, and localvision must answer them all.
    compared = [r for r in rows if not r["errors"]]
    agreed = sum(r["agree"] for r in compared)
    lv_clients = CLIENTS[:2]
    lv_answered = sum(all(c in r["top1"] for c in lv_clients) for r in rows)
    return {"clients": list(CLIENTS), "localvision": how, "photos": rows, "agreed": agreed,
            "compared": len(compared),
            "agreement": agreed / len(compared) if compared else None,
            "localvision_answered": lv_answered / len(rows) if rows else None,
            "refused": {r["photo"]: sorted(r["errors"]) for r in rows if r["errors"]},
            "same_top5": sum(r["same_top5"] for r in compared)}  # fmt: skip


def main() -> None:
    import os

    from bench.baseline import write_random_resnet18

    with tempfile.TemporaryDirectory(prefix="localvision-parity-") as d:
        tmp = Path(d)
        os.environ.update({"LOCALVISION_MODEL_DIR": str(tmp / "models"),
                           "TORCH_HOME": str(tmp / "torch"), "LOCALVISION_OFFLINE": "1"})
        weights = write_random_resnet18(tmp / "resnet18-random.pth")
        print(json.dumps(check(weights, tmp, tmp, log=lambda m: print(m, file=sys.stderr)),
                         indent=2))  # fmt: skip


if __name__ == "__main__":
    main()
