"""The networks: a torch model built from a spec and a weights file (with errors a person can act
on), or from a base model's weights with a new last layer for training.

A package's weights are safetensors (tensors only). Any other state-dict file is read with
`torch.load(weights_only=True)`: a file carrying pickled code is refused, not run. Keys and
shapes are checked against the architecture and named in the error when they differ.
"""

from __future__ import annotations

import pickle
import warnings
import zipfile
from pathlib import Path

from ..errors import WeightsInvalid
from .spec import ModelSpec


def read_state_dict(path: Path) -> dict:
    import torch

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch's pickle-protocol chatter; we report below
            obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        text = str(exc)
        if "Unsupported global" in text or "GLOBAL" in text:
            raise WeightsInvalid(
                f"{path} contains Python objects other than tensors and was not loaded "
                "(only plain state dicts are accepted, for safety)."
            ) from None
        raise WeightsInvalid(f"{path} is not a valid weights file (not a PyTorch state dict).") from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError, ValueError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise WeightsInvalid(
            f"{path} is corrupt or truncated and could not be read ({first[:160]})."
        ) from None
    except Exception:  # torch's unpickler raises odd things (KeyError, ...) on arbitrary bytes
        raise WeightsInvalid(f"{path} is not a valid weights file (not a PyTorch state dict).") from None
    if isinstance(obj, dict) and "state_dict" in obj and isinstance(obj["state_dict"], dict):
        obj = obj["state_dict"]  # a training checkpoint that wraps its state dict
    if not isinstance(obj, dict) or not all(hasattr(v, "shape") for v in obj.values()):
        raise WeightsInvalid(f"{path} does not hold a state dict (a mapping of names to tensors).")
    return obj


def fit_state_dict(arch, num_classes: int, path: Path, name: str) -> dict:
    """A state dict file read (safely), mapped onto the architecture's names where its naming
    differs, and checked tensor by tensor against an architecture with num_classes outputs."""
    model = arch.build(num_classes)
    own = model.state_dict()
    published = read_state_dict(path)
    try:
        state = arch.remap(published, own) if arch.remap else published
    except WeightsInvalid as exc:
        raise WeightsInvalid(f"{path} does not fit {name}: {exc.message}.") from None
    check_fit(name, path, state, own)
    return state


def build_model(spec: ModelSpec, path: Path):
    """The spec's architecture with the weights from path (a package's safetensors, or any state
    dict file), in eval mode, on the CPU."""
    model = spec.build(spec.num_classes)
    if Path(path).suffix == ".safetensors":
        from safetensors.torch import load_file

        state = load_file(str(path))
        check_fit(spec.name, path, state, model.state_dict())
    else:
        from ..models.architectures import get_architecture

        state = fit_state_dict(get_architecture(spec.architecture), spec.num_classes, path, spec.name)
    model.load_state_dict(state)
    return model.eval()


def check_fit(name: str, path: Path, state: dict, own: dict) -> None:
    """Every tensor of the architecture there, none more, each of its shape (named if not)."""
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    wrong = [
        f"{k} {tuple(state[k].shape)} (needs {tuple(own[k].shape)})"
        for k in own
        if k in state and tuple(state[k].shape) != tuple(own[k].shape)
    ]
    problems = []
    if missing:
        problems.append(f"{len(missing)} missing tensors (e.g. {', '.join(missing[:3])})")
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected tensors (e.g. {', '.join(unexpected[:3])})")
    if wrong:
        problems.append(f"wrong shapes: {', '.join(wrong[:3])}")
    if problems:
        raise WeightsInvalid(f"{path} does not fit {name}: " + "; ".join(problems) + ".")


def last_linear(model) -> tuple[object, str, str]:
    """(parent module, attribute, dotted name) of the network's last nn.Linear: its classifier
    (resnet `fc`, timm `classifier`, mobilenet_v3 `classifier.3`)."""
    import torch.nn as nn

    name = [n for n, m in model.named_modules() if isinstance(m, nn.Linear)][-1]
    parent_name, _, attr = name.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    return parent, attr, name


def build_network(spec, base_weights, num_classes: int, seed: int):
    """The base's architecture with `num_classes` outputs: every tensor the base's, but the new
    last layer's (seeded)."""
    import torch
    from safetensors.torch import load_file

    torch.manual_seed(seed)
    model = spec.build(num_classes)
    _, _, head = last_linear(model)
    base = load_file(str(base_weights))
    own = model.state_dict()
    keep = {k: v for k, v in base.items() if not k.startswith(head + ".")}
    missing, unexpected = model.load_state_dict(keep, strict=False)
    if unexpected or set(missing) - {f"{head}.weight", f"{head}.bias"}:  # pragma: no cover
        raise RuntimeError(f"the base's weights do not fit: {missing[:3]} {unexpected[:3]}")
    # the new layer starts at zero: every class equally likely (loss log C), and no random
    # first guesses for the first steps to undo
    with torch.no_grad():
        layer = model.get_submodule(head)
        layer.weight.zero_()
        layer.bias.zero_()
    assert set(own) == set(model.state_dict())
    return model


def probability_network(spec: ModelSpec, path: Path):
    """The network with the normalisation and softmax inside: 0-1 RGB in, probabilities out:
    what the phone exports convert (mobile.py's Core ML, whose image input scales 0-255 pixels
    to 0-1 in front of it; litert.py's LiteRT, which puts its own scaling in front)."""
    import torch

    class Normalised(torch.nn.Module):
        def __init__(self, net):
            super().__init__()
            self.net = net
            self.register_buffer("mean", torch.tensor(spec.preprocess.mean).view(1, 3, 1, 1))
            self.register_buffer("std", torch.tensor(spec.preprocess.std).view(1, 3, 1, 1))

        def forward(self, x):
            return torch.softmax(self.net((x - self.mean) / self.std), dim=1)

    return Normalised(build_model(spec, path)).eval()
