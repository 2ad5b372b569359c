"""Model registry: `get_spec(name)` returns a ModelSpec binding architecture, weights source,
preprocessing and labels."""

from . import zoo  # noqa: F401  (registers the entries)
from .registry import get_spec, model_names, register
from .spec import ModelSpec, WeightsSource

__all__ = ["ModelSpec", "WeightsSource", "get_spec", "model_names", "register"]
