"""One registry, one lookup: every model localvision knows, by name."""

from __future__ import annotations

from ..errors import UnknownModel
from .spec import ModelSpec

_MODELS: dict[str, ModelSpec] = {}


def register(spec: ModelSpec) -> ModelSpec:
    if spec.name in _MODELS:
        raise ValueError(f"model {spec.name!r} is already registered")
    _MODELS[spec.name] = spec
    return spec


def get_spec(name: str) -> ModelSpec:
    try:
        return _MODELS[name]
    except KeyError:
        known = ", ".join(["auto", *_MODELS])
        raise UnknownModel(f"Unknown model {name!r}. Known models: {known}.") from None


def model_names() -> list[str]:
    return list(_MODELS)
