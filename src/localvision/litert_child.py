"""The LiteRT converter's side of `localvision export --format tflite`: run by the converter
environment's own Python (`python -I litert_child.py REQUEST.json`), never imported by
localvision.

litert-torch cannot share an environment with localvision (its converter pins xdsl 0.28, which
needs an older typing-extensions than pydantic's), so it lives in a venv of its own (mobile.py
makes it) and this file runs there, isolated (`-I`: no PYTHONPATH, no user site). It therefore
imports nothing of localvision: only the standard library, torch, litert-torch and ai-edge-litert.
localvision hands it the network as a torch.export program (`.pt2`, saved by the same torch
version) and the metadata as JSON; this side converts, checks the converted model against the
program on a few random inputs, writes each metadata entry into the flatbuffer's `metadata`
table, and writes the `.tflite`.

Request (JSON): {"program": path.pt2, "output": path.tflite, "metadata": {name: text},
"tolerance": float}. Exit 0: written. Exit 2: a failure, explained in one line on stderr after
the converter's own output.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def convert(program_path: str):
    """The LiteRT model of the saved torch.export program, and the program's module."""
    import litert_torch
    import torch

    program = torch.export.load(program_path)
    module = program.module()
    example = tuple(torch.rand(*a.shape) for a in program.example_inputs[0])
    return litert_torch.convert(module, example), module, example


def check(model, module, example, tolerance: float) -> float:
    """Largest difference between LiteRT's and torch's outputs on random inputs of the example's
    shape; above `tolerance` the conversion is refused (a converter bug, not a file to ship)."""
    import numpy as np
    import torch

    worst = 0.0
    generator = torch.Generator().manual_seed(0)
    for _ in range(3):
        x = tuple(torch.rand(*e.shape, generator=generator) for e in example)
        with torch.inference_mode():
            want = module(*x).numpy()
        worst = max(worst, float(np.abs(np.asarray(model(*x)) - want).max()))
    if worst > tolerance:
        raise RuntimeError(f"the converted model differs from torch by {worst:.2e} "
                           f"(more than {tolerance:g}) on random inputs")  # fmt: skip
    return worst


def with_metadata(tflite: bytes, entries: dict[str, str]) -> bytes:
    """The model with each entry added to the flatbuffer's `metadata` table (name -> a buffer
    holding the UTF-8 text), where any LiteRT runtime leaves it alone and a reader finds it."""
    import numpy as np
    from ai_edge_litert import schema_py_generated as schema
    from ai_edge_litert.tools import flatbuffer_utils

    model = flatbuffer_utils.read_model_from_bytearray(bytearray(tflite))
    model.metadata = list(model.metadata or [])
    for name, text in entries.items():
        buffer = schema.BufferT()
        buffer.data = np.frombuffer(text.encode("utf-8"), dtype=np.uint8)
        model.buffers.append(buffer)
        entry = schema.MetadataT()
        entry.name, entry.buffer = name, len(model.buffers) - 1
        model.metadata.append(entry)
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))


def main(request_path: str) -> int:
    request = json.loads(Path(request_path).read_text("utf-8"))
    try:
        model, module, example = convert(request["program"])
        worst = check(model, module, example, request["tolerance"])
        data = with_metadata(model.model_content(), request["metadata"])
        Path(request["output"]).write_bytes(data)
    except Exception as exc:  # reported to localvision, which types it for the person
        print(f"\nlocalvision-litert-error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    print(json.dumps({"max_abs_diff": worst, "bytes": len(data)}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
