"""The training loop: a base model's network with a new last layer for the user's classes,
trained in one of three modes.

    head      the base is frozen and run once, in eval mode, on the clean view the road prepares
              and a few augmented views of each training image (augment.py); the new last
              layer is then trained on those cached features: an epoch takes milliseconds
    finetune  the last stage(s) of the base (models/architectures.py `finetune`) and the new
              layer, on a fresh augmented view of every image each epoch; batch-norm statistics
              stay the base's (a few photos are too few to re-estimate them)
    full      every layer, batch-norm statistics included

What every mode does: cross-entropy with label smoothing, weighted by inverse class frequency
(class imbalance: a class with few photos weighs as much as one with many, with no sampler to
repeat its photos); AdamW (or SGD with Nesterov momentum) with a linear warm-up then a cosine
decay, per step; validation after every epoch; early stopping after `patience` epochs without a
better one (higher accuracy, or lower loss at equal accuracy), keeping the best epoch's weights.

Validation walks the road (road.py) with the network being trained as the inference step, so a
model is judged on exactly the preprocessing it will serve with; in head mode the epochs use the
validation images' cached features (the same arrays, through the same frozen network) and the
final figures come from the road (run.py).

Head mode's features live in memory for the run, not on disk: the pass costs seconds for the
hundreds of photos a Teach project holds, and a cache in the store would be a second copy of
the photos to keep in step with them (and a killed run must leave the store as it was).

Ctrl+C (KeyboardInterrupt) after an epoch ends the loop with the best epoch so far
(stopped="interrupted"); before the first one it propagates.
"""

from __future__ import annotations

import math
import random
import time
from dataclasses import asdict, dataclass, field
from typing import Callable, Sequence

import numpy as np

from ..errors import InputError
from ..models.network import last_linear
from .augment import VIEWS_PER_IMAGE, Augmenter, view_seed

# Per mode: the default epochs and peak learning rate, and the batch size. Head mode trains one
# linear layer on fixed features: many cheap epochs at a high rate. The others move pretrained
# weights, gently.
DEFAULTS = {
    "head": {"epochs": 40, "lr": 3e-3, "batch": 32, "weight_decay": 1e-4},
    "finetune": {"epochs": 12, "lr": 1e-3, "batch": 16, "weight_decay": 0.01},
    "full": {"epochs": 12, "lr": 3e-4, "batch": 16, "weight_decay": 0.01},
}
WARMUP_FRACTION = 0.1  # of all steps, at least one: the new layer's first steps are its largest
MIN_LOSS_GAIN = 1e-3  # a validation loss this much lower counts as better (at equal accuracy)

Event = Callable[[dict], None]


@dataclass(frozen=True)
class FitConfig:
    mode: str
    epochs: int
    lr: float
    label_smoothing: float
    patience: int
    seed: int
    optimizer: str
    batch_size: int
    weight_decay: float
    views_per_image: int = 0  # head mode's augmented views per training image

    @classmethod
    def from_settings(cls, settings) -> "FitConfig":
        mode = settings.train_mode
        d = DEFAULTS[mode]
        return cls(
            mode=mode,
            epochs=settings.train_epochs or d["epochs"],
            lr=settings.train_lr or d["lr"],
            label_smoothing=settings.train_label_smoothing,
            patience=settings.train_patience,
            seed=settings.train_seed,
            optimizer=settings.train_optimizer,
            batch_size=d["batch"],
            weight_decay=d["weight_decay"],
            views_per_image=VIEWS_PER_IMAGE if mode == "head" else 0,
        )

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class FitResult:
    state: dict  # the best epoch's full state dict (the new architecture, C classes)
    epochs: list[dict] = field(default_factory=list)
    best_epoch: int | None = None
    stopped: str | None = None  # "early" | "interrupted" | None (ran every epoch)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # failed to decode here


def seed_everything(seed: int) -> None:
    """Python's, numpy's and torch's generators, and deterministic algorithms: the same seed
    (and thread count) gives the same weights."""
    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)


class Schedule:
    """Linear warm-up, then cosine decay to zero, per optimizer step."""

    def __init__(self, total_steps: int):
        self.total = max(1, total_steps)
        self.warmup = max(1, round(WARMUP_FRACTION * self.total))

    def __call__(self, step: int) -> float:
        if step < self.warmup:
            return (step + 1) / self.warmup
        progress = (step - self.warmup) / max(1, self.total - self.warmup)
        return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))


def class_weights(labels: Sequence[int], num_classes: int):
    """Inverse class frequency, scaled so the average example weighs 1."""
    import torch

    counts = np.bincount(np.asarray(labels, dtype=np.int64), minlength=num_classes).astype(float)
    weights = np.where(counts > 0, len(labels) / (num_classes * np.maximum(counts, 1)), 0.0)
    return torch.tensor(weights, dtype=torch.float32)


def make_optimizer(params, config: FitConfig):
    import torch

    if config.optimizer == "sgd":
        return torch.optim.SGD(
            params, lr=config.lr, momentum=0.9, nesterov=True, weight_decay=config.weight_decay
        )
    return torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)


class TrainingBackend:
    """The network being trained as the road's inference step: (N, 3, H, W) -> logits, in eval
    mode, without gradients (the Backend contract of engine/base.py)."""

    name = "torch"
    device = "cpu"
    precision = "fp32"

    def __init__(self, model):
        self.model = model

    def infer(self, batch):
        import torch

        was_training = self.model.training
        self.model.eval()
        try:
            with torch.inference_mode():
                x = torch.from_numpy(np.ascontiguousarray(batch))
                return self.model(x.contiguous(memory_format=torch.channels_last)).numpy()
        finally:
            self.model.train(was_training)


class Fitter:
    """One training run's loop (the data, the network, the config); `run()` returns the best."""

    def __init__(
        self, *, model, spec, train: Sequence, val: Sequence, num_classes: int,
        config: FitConfig, preparer, evaluate: Callable[[object, Sequence], np.ndarray],
        max_pixels: int, on_event: Event,
    ):  # fmt: skip
        self.model = model
        self.spec = spec
        self.train = list(train)
        self.val = list(val)
        self.num_classes = num_classes
        self.config = config
        self.preparer = preparer
        self.evaluate = evaluate  # (model, val samples) -> (N, C) probabilities, via the road
        self.augmenter = Augmenter(spec.preprocess, max_pixels=max_pixels)
        self.on_event = on_event
        self.skipped: list[tuple[str, str]] = []

    # --- the loop, whatever the mode ---
    def run(self) -> FitResult:
        import torch

        # deterministic algorithms for this run only (a process that trains in-process, a test
        # or a notebook, gets its own setting back)
        before = (torch.are_deterministic_algorithms_enabled(),
                  torch.is_deterministic_algorithms_warn_only_enabled())  # fmt: skip
        try:
            return self._run()
        finally:
            torch.use_deterministic_algorithms(before[0], warn_only=before[1])

    def _run(self) -> FitResult:
        import torch

        c = self.config
        seed_everything(c.seed)
        # channels_last: the layout the serving torch backend runs in, and the faster one for
        # convolutions on the CPU
        self.model = self.model.to(memory_format=torch.channels_last)
        step_epoch, params = self._prepare()
        optimizer = make_optimizer(params, c)
        steps = c.epochs * max(1, math.ceil(self._n_train / c.batch_size))
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, Schedule(steps))
        loss_fn = torch.nn.CrossEntropyLoss(
            weight=class_weights(self._train_labels, self.num_classes),
            label_smoothing=c.label_smoothing,
        )
        result = FitResult(state={})
        best_key, best_state, waited, spent = None, None, 0, []
        try:
            for epoch in range(1, c.epochs + 1):
                started = time.perf_counter()
                lr = optimizer.param_groups[0]["lr"]
                train_loss, train_acc = step_epoch(epoch, optimizer, scheduler, loss_fn)
                val_loss, val_acc = self._validate()
                key = (val_acc, -val_loss)
                better = best_key is None or val_acc > best_key[0] or (
                    val_acc == best_key[0] and -val_loss > best_key[1] + MIN_LOSS_GAIN
                )
                if better:
                    best_key, best_state, waited = key, self._snapshot(), 0
                    result.best_epoch = epoch
                else:
                    waited += 1
                seconds = time.perf_counter() - started
                spent.append(seconds)
                row = {
                    "epoch": epoch, "lr": lr, "train_loss": train_loss, "train_acc": train_acc,
                    "val_loss": val_loss, "val_acc": val_acc, "seconds": round(seconds, 3),
                }  # fmt: skip
                result.epochs.append(row)
                eta = sum(spent) / len(spent) * (c.epochs - epoch)
                self.on_event({"event": "epoch", **row, "epochs": c.epochs, "best": better,
                               "eta_s": round(eta, 1)})  # fmt: skip
                if waited >= c.patience and epoch < c.epochs:
                    result.stopped = "early"
                    break
        except KeyboardInterrupt:
            if best_state is None:
                raise
            result.stopped = "interrupted"
        result.state = self._full_state(best_state)
        result.skipped = self.skipped
        return result

    def _prepare(self):
        """(the epoch function, the parameters to train) for the mode."""
        if self.config.mode == "head":
            return self._prepare_head()
        return self._prepare_network()

    # --- head mode: the frozen base once, then the last layer on its features ---
    def _prepare_head(self):
        import torch

        parent, attr, _ = last_linear(self.model)
        self.head = getattr(parent, attr)
        views = 1 + self.config.views_per_image
        total = len(self.train) * views + len(self.val)
        done = 0

        every = max(1, total // 20)  # about twenty events for the whole pass

        def progress(n: int) -> None:
            nonlocal done
            before, done = done, done + n
            if n == 0 or done == total or done // every != before // every:
                self.on_event({"event": "phase", "phase": "features", "done": done, "total": total})

        progress(0)
        setattr(parent, attr, torch.nn.Identity())
        try:
            feats, labels = [], []
            for i, sample in enumerate(self.train):
                arrays = self._head_views(i, sample)
                if arrays is None:
                    progress(views)
                    continue
                feats.append(self._features(np.stack(arrays)))
                labels += [sample.label] * len(arrays)
                progress(views)
            val = [self._clean(s) for s in self.val]
            self.val_x = self._features(np.stack([a for a in val if a is not None]))
            self.val_y = torch.tensor([s.label for s, a in zip(self.val, val) if a is not None])
            progress(len(self.val))
        finally:
            setattr(parent, attr, self.head)
        self.train_x = torch.cat(feats)
        self.train_y = torch.tensor(labels)
        self._train_labels = labels
        self._n_train = len(labels)
        return self._head_epoch, list(self.head.parameters())

    def _head_views(self, i: int, sample) -> list | None:
        clean = self._clean(sample)
        if clean is None:
            return None
        image = self.augmenter.load(sample.path)
        out = [clean]
        for v in range(self.config.views_per_image):
            seed = view_seed(self.config.seed, "head", i, v)
            out.append(self.augmenter.view(image, seed).numpy())
        return out

    def _clean(self, sample):
        """The clean view, prepared exactly as the road prepares it for serving."""
        try:
            return self.preparer.prepare(str(sample.path)).array
        except InputError as exc:
            self.skipped.append((str(sample.path), exc.code))
            return None

    def _features(self, batch: np.ndarray):
        import torch

        self.model.eval()
        out = []
        with torch.inference_mode():
            for start in range(0, len(batch), 16):
                x = torch.from_numpy(batch[start : start + 16])
                out.append(self.model(x.contiguous(memory_format=torch.channels_last)))
        return torch.cat(out).clone()

    def _head_epoch(self, epoch, optimizer, scheduler, loss_fn):
        import torch

        self.head.train()
        g = torch.Generator().manual_seed(view_seed(self.config.seed, "order", epoch))
        order = torch.randperm(len(self.train_x), generator=g)
        total, correct, n = 0.0, 0, 0
        for start in range(0, len(order), self.config.batch_size):
            idx = order[start : start + self.config.batch_size]
            x, y = self.train_x[idx], self.train_y[idx]
            logits = self.head(x)
            loss = loss_fn(logits, y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()
            total += float(loss.detach()) * len(idx)
            correct += int((logits.argmax(1) == y).sum())
            n += len(idx)
        return total / n, correct / n

    # --- finetune and full: the network itself, on fresh augmented views ---
    def _prepare_network(self):
        from ..models.architectures import get_architecture

        model = self.model
        if self.config.mode == "full":
            trainable = [p for p in model.parameters()]
            self.frozen_bn = False
        else:
            _, _, head = last_linear(model)
            prefixes = (*get_architecture(self.spec.architecture).finetune, head)
            for name, p in model.named_parameters():
                p.requires_grad_(any(name == q or name.startswith(q + ".") for q in prefixes))
            trainable = [p for p in model.parameters() if p.requires_grad]
            self.frozen_bn = True
        self._train_labels = [s.label for s in self.train]
        self._n_train = len(self.train)
        return self._network_epoch, trainable

    def _network_epoch(self, epoch, optimizer, scheduler, loss_fn):
        import torch

        model = self.model
        model.train()
        if self.frozen_bn:  # batch-norm keeps the base's statistics (and dropout still drops)
            for m in model.modules():
                if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                    m.eval()
        rng = random.Random(view_seed(self.config.seed, "order", epoch))
        order = list(range(len(self.train)))
        rng.shuffle(order)
        total, correct, n = 0.0, 0, 0
        done = 0
        for start in range(0, len(order), self.config.batch_size):
            xs, ys = [], []
            for i in order[start : start + self.config.batch_size]:
                sample = self.train[i]
                try:
                    image = self.augmenter.load(sample.path)
                except InputError as exc:
                    if epoch == 1:
                        self.skipped.append((str(sample.path), exc.code))
                    continue
                xs.append(self.augmenter.view(image, view_seed(self.config.seed, epoch, i)))
                ys.append(sample.label)
            done += self.config.batch_size
            if not xs:
                continue
            x, y = torch.stack(xs), torch.tensor(ys)
            logits = model(x.contiguous(memory_format=torch.channels_last))
            loss = loss_fn(logits, y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()
            total += float(loss.detach()) * len(ys)
            correct += int((logits.argmax(1) == y).sum())
            n += len(ys)
            self.on_event({"event": "phase", "phase": "training", "done": min(done, len(order)),
                           "total": len(order), "epoch": epoch})  # fmt: skip
        return total / max(1, n), correct / max(1, n)

    # --- validation and checkpoints ---
    def _validate(self) -> tuple[float, float]:
        import torch

        if self.config.mode == "head":
            self.head.eval()
            with torch.inference_mode():
                logits = self.head(self.val_x)
            loss = float(torch.nn.functional.cross_entropy(logits, self.val_y))
            acc = float((logits.argmax(1) == self.val_y).float().mean())
            return loss, acc
        probs = self.evaluate(self.model, self.val)
        return nll_and_accuracy(probs, [s.label for s in self.val])

    def _snapshot(self) -> dict:
        source = self.head if self.config.mode == "head" else self.model
        return {k: v.detach().clone() for k, v in source.state_dict().items()}

    def _full_state(self, best: dict | None) -> dict:
        if best is not None:
            (self.head if self.config.mode == "head" else self.model).load_state_dict(best)
        return {k: v.detach().clone().contiguous() for k, v in self.model.state_dict().items()}


def nll_and_accuracy(probs: np.ndarray, labels: Sequence[int]) -> tuple[float, float]:
    """Mean negative log-likelihood of the true class, and top-1 accuracy, from probabilities.
    Rows of NaN (an image that failed on the road) count as wrong."""
    probs = np.asarray(probs, dtype=np.float64)
    y = np.asarray(labels, dtype=np.int64)
    if len(y) == 0:
        return 0.0, 0.0
    picked = np.nan_to_num(probs[np.arange(len(y)), y], nan=0.0)
    loss = float(np.mean(-np.log(np.clip(picked, 1e-12, 1.0))))
    acc = float(np.mean(np.nan_to_num(probs, nan=-1).argmax(1) == y))
    return loss, acc
