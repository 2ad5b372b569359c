"""Training: time and validation accuracy of `localvision train` (head and finetune) per base
model, against the classic recipe on the same images, in the same run.

    .venv/bin/python -m bench.train_bench [--epochs N]

The data: tests/trainset.py (4 classes x 3 real photos x 4 random crops), split once with
localvision's seeded stratified split and laid out as train/ and val/ folders, so both sides
train and validate on exactly the same files.

- localvision: `training.run.train` as `localvision train DATA --mode head|finetune` runs it
  (its defaults: early stopping, the best epoch kept), every core; the time is the whole run
  (the features pass, the epochs, the road's final validation, the report and the package).
- classic: the recipe the tutorials teach ("replace the final layer and fine-tune", PyTorch's
  finetuning tutorial): torchvision ImageFolder + DataLoader (batch 8, RandomResizedCrop 224 +
  flip), eager PyTorch, every layer trained with SGD (lr 0.001, momentum 0.9) for a fixed
  number of epochs (15, the tutorial's), the best validation accuracy kept.

Both start from the same weights: EfficientNet-Lite0's real ones, and ResNet-18 with seeded
random weights (ImageNet's cannot be downloaded here), whose rows say "plumbing: random
weights": their accuracy means nothing, their time does. Ratios: classic time / localvision
time (above 1: localvision finishes sooner), and the accuracy each reached.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
ROWS = ("train-lite0-head", "train-lite0-finetune", "train-r18-head", "train-r18-finetune")
CLASSIC_EPOCHS = 15
BASES = {  # row prefix -> (base model name, weights note)
    "lite0": ("efficientnet_lite0", "real weights"),
    "r18": ("r18-random", "plumbing: random weights"),
}


def make_split(root: Path) -> Path:
    """The test dataset, split by localvision's seeded stratified split into train/ and val/
    folders (symlinks to the files), so both sides use the same images."""
    sys.path.insert(0, str(REPO_ROOT / "tests"))
    from trainset import make_trainset

    from localvision.training.dataset import load_dataset

    make_trainset(root / "photos")
    ds = load_dataset([root / "photos"], seed=0, val_fraction=0.2, workdir=root / "work")
    split = root / "split"
    for part, samples in (("train", ds.train), ("val", ds.val)):
        for s in samples:
            dest = split / part / ds.classes[s.label] / s.path.name
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.symlink_to(s.path)
    return split


def run_localvision(split: Path, base: str, mode: str, name: str) -> dict:
    from localvision.config import Settings
    from localvision.training.run import Request, train

    settings = Settings(train_mode=mode, train_threads=os.cpu_count() or 1)
    t = time.perf_counter()
    out = train(settings, Request(name=name, data=(split,), base=base, replace=True),
                lambda e: None)  # fmt: skip
    seconds = time.perf_counter() - t
    training = out.package.manifest["training"]
    return {"seconds": round(seconds, 1), "val_acc": out.metrics["val_acc"],
            "epochs_run": training["epochs_run"], "stopped": training["stopped"]}  # fmt: skip


def run_classic(split: Path, base: str, epochs: int) -> dict:
    """The classic recipe, every layer, `epochs` epochs; the best validation accuracy."""
    import torch
    from torch.utils.data import DataLoader
    from torchvision import datasets, transforms

    from localvision.config import Settings
    from localvision.models.store import ModelStore

    torch.set_num_threads(os.cpu_count() or 1)
    package = ModelStore.of(Settings()).get(base)
    spec = package.spec()
    pp = spec.preprocess
    norm = transforms.Normalize(list(pp.mean), list(pp.std))
    train_tf = transforms.Compose([transforms.RandomResizedCrop(pp.crop),
                                   transforms.RandomHorizontalFlip(), transforms.ToTensor(), norm])
    val_tf = transforms.Compose([transforms.Resize(pp.resize), transforms.CenterCrop(pp.crop),
                                 transforms.ToTensor(), norm])  # fmt: skip
    train_set = datasets.ImageFolder(str(split / "train"), train_tf)
    val_set = datasets.ImageFolder(str(split / "val"), val_tf)
    t = time.perf_counter()
    from safetensors.torch import load_file

    model = spec.build(package.manifest["num_classes"])
    model.load_state_dict(load_file(str(package.weights_file)))
    # "replace the final layer"
    if hasattr(model, "fc"):
        model.fc = torch.nn.Linear(model.fc.in_features, len(train_set.classes))
    else:
        model.classifier = torch.nn.Linear(model.classifier.in_features, len(train_set.classes))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.001, momentum=0.9)
    loss_fn = torch.nn.CrossEntropyLoss()
    loader = DataLoader(train_set, batch_size=8, shuffle=True)
    val_loader = DataLoader(val_set, batch_size=8)
    best = 0.0
    for _ in range(epochs):
        model.train()
        for x, y in loader:
            optimizer.zero_grad()
            loss_fn(model(x), y).backward()
            optimizer.step()
        model.eval()
        correct = 0
        with torch.no_grad():
            for x, y in val_loader:
                correct += int((model(x).argmax(1) == y).sum())
        best = max(best, correct / len(val_set))
    return {"seconds": round(time.perf_counter() - t, 1), "val_acc": round(best, 4),
            "epochs_run": epochs}  # fmt: skip


def bench_train(log=print, tmp: Path | None = None, only=None,
                epochs: int = CLASSIC_EPOCHS) -> list[dict]:  # fmt: skip
    """One row per (base, mode); the classic recipe once per base."""
    from bench.baseline import write_random_resnet18
    from bench.loadgen import wait_quiet
    from bench.model_bench import HostForeignCPU
    from localvision.config import Settings
    from localvision.models.importing import import_model
    from localvision.models.resolve import resolve

    with tempfile.TemporaryDirectory(prefix="train-bench-") as d:
        root = Path(tmp or d) / "train-bench"
        root.mkdir(parents=True, exist_ok=True)
        split = make_split(root)
        settings = Settings()
        resolve(settings, "efficientnet_lite0")  # packaged into the store once, not timed
        if not _in_store("r18-random"):
            weights = write_random_resnet18(root / "resnet18-random.pth")
            import_model(settings, "r18-random", "resnet18", weights, None, None, True)
        rows, classic = [], {}
        for row in ROWS:
            if only and row not in only:
                continue
            _, key, mode = row.split("-")
            base, note = BASES[key]
            if key not in classic:
                log(f"train: the classic recipe on {base} ({epochs} epochs, every layer) ...")
                wait_quiet(os.getpid(), timeout_s=30)
                with HostForeignCPU(os.getpid()) as f:
                    classic[key] = {**run_classic(split, base, epochs),
                                    "foreign_cores": None}  # fmt: skip
                classic[key]["foreign_cores"] = round(f.cores, 2)
            log(f"train: localvision {mode} on {base} ...")
            wait_quiet(os.getpid(), timeout_s=30)
            with HostForeignCPU(os.getpid()) as f:
                ours = run_localvision(split, base, mode, f"bench-{key}-{mode}")
            c = classic[key]
            rows.append({
                "row": row, "base": base, "mode": mode, "note": note, "cpus": os.cpu_count(),
                "images": sum(1 for _ in split.rglob("*.jpg")),
                "localvision": {**ours, "foreign_cores": round(f.cores, 2)}, "classic": c,
                "time_ratio": round(c["seconds"] / max(ours["seconds"], 1e-9), 2),
            })  # fmt: skip
        return rows


def _in_store(name: str) -> bool:
    from localvision.config import Settings
    from localvision.models.store import ModelStore

    return ModelStore.of(Settings()).get(name) is not None


def train_table(rows: list[dict]) -> str:
    n = rows[0]["classic"]["epochs_run"] if rows else CLASSIC_EPOCHS
    head = (f"| base | mode | localvision s | val acc | epochs | classic s ({n} epochs, all "
            "layers) | classic val acc | classic / localvision time | note |\n")  # fmt: skip
    head += "|---|---|---|---|---|---|---|---|---|\n"
    body = "".join(
        f"| {r['base']} | {r['mode']} | {r['localvision']['seconds']} | "
        f"{r['localvision']['val_acc']:.0%} | {r['localvision']['epochs_run']} | "
        f"{r['classic']['seconds']} | {r['classic']['val_acc']:.0%} | {r['time_ratio']}x | "
        f"{r['note']} |\n"
        for r in rows
    )
    return head + body


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=CLASSIC_EPOCHS, help="the classic recipe's")
    ap.add_argument("--only", help="comma-separated rows, e.g. train-lite0-head")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="localvision-train-bench-") as tmp:
        for key, value in {"LOCALVISION_MODEL_DIR": f"{tmp}/models", "TORCH_HOME": f"{tmp}/torch",
                           "LOCALVISION_OFFLINE": "1"}.items():  # fmt: skip
            os.environ[key] = value
        only = set(args.only.split(",")) if args.only else None
        rows = bench_train(lambda m: print(m, file=sys.stderr, flush=True), Path(tmp), only,
                           args.epochs)  # fmt: skip
    print(json.dumps(rows, indent=2))
    print(train_table(rows))


if __name__ == "__main__":
    main()
