"""The preparers: the first stop on the road (road.py), from an input to the array or tensor a
model takes. `Preparer` (cpu.py) decodes on the CPU; `DevicePreparer` (device.py) decodes JPEG
bytes on the model's device (CUDA) and is imported only where it is used (it needs torch)."""

from .cpu import Prepared, Preparer

__all__ = ["Prepared", "Preparer"]
