"""How the service's models run inference: a parameter of `Service`, not a subclass of it.

The road (road.py) asks for one thing, an async step that turns prepared images into probability
rows; what stands behind that step is chosen when the service is made:

- `MicroBatching` (the default): each model gets an in-process micro-batcher (engine/batcher.py)
  that merges the images of concurrent requests into one model call, within the request's
  deadline and a bounded queue;
- `BatchMethod`: each image goes to a method that batches calls by itself, such as Ray Serve's
  `@serve.batch` method of a replica (scale/serve.py); the model holds no batcher of its own.

An `Inference` attaches to a model when it has loaded (`attach`), lets go of it when it is
unloaded, loaded again or the service stops (`detach`), and gives the road its step (`step`).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING, Awaitable, Callable, Protocol

import numpy as np

from ...engine.batcher import Batcher, within_deadline

if TYPE_CHECKING:  # pragma: no cover
    from ...classifier import Classifier
    from ...config import Settings
    from .state import ModelState

Step = Callable[[list], Awaitable[np.ndarray]]


class Inference(Protocol):
    def attach(self, state: "ModelState", clf: "Classifier") -> None: ...

    async def detach(self, state: "ModelState") -> None: ...

    def step(self, state: "ModelState", timeout_s: float) -> Step: ...


@dataclass
class MicroBatching:
    """Each model's own micro-batcher, with the settings' batch size, wait and queue."""

    settings: "Settings"

    def attach(self, state: "ModelState", clf: "Classifier") -> None:
        state.batcher = Batcher(
            clf.probabilities,
            max_batch=self.settings.max_batch,
            max_wait_ms=self.settings.max_wait_ms,
            queue_size=self.settings.queue_size,
            expected=lambda: state.decoding,  # this model's images being decoded now
            stack=clf.preparer.stack,
        )
        state.batcher.start()

    async def detach(self, state: "ModelState") -> None:
        if state.batcher is not None:  # it stops taking work; what it holds is answered
            await state.batcher.stop()
        state.batcher = None

    def step(self, state: "ModelState", timeout_s: float) -> Step:
        async def infer(arrays: list) -> np.ndarray:
            """The model's answer through its batcher, within the deadline (503 timeout)."""
            batcher = state.batcher
            if batcher is None:  # unloaded while this request was decoding: 503
                state.require()
            return np.stack(await batcher.submit(arrays, timeout_s))

        return infer


@dataclass
class BatchMethod:
    """Each image to `batch((classifier, image))`, a method that merges concurrent calls into
    one model call by itself (Ray Serve's @serve.batch) and answers one probability row."""

    batch: Callable[[tuple], Awaitable[np.ndarray]]

    def attach(self, state: "ModelState", clf: "Classifier") -> None:
        pass  # the batch method is the replica's, shared by its models

    async def detach(self, state: "ModelState") -> None:
        pass

    def step(self, state: "ModelState", timeout_s: float) -> Step:
        async def infer(arrays: list) -> np.ndarray:
            """Each image to the batch method (it merges them with other requests' images),
            within the request's deadline (503 timeout)."""
            clf = state.require()  # unloaded while this request was decoding: 503
            rows = asyncio.gather(*(self.batch((clf, a)) for a in arrays))
            return np.stack(await within_deadline(rows, timeout_s))

        return infer
