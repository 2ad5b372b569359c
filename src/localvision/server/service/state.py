"""What the running service holds: its models (each with its micro-batcher, or why it has none),
the history, readiness.

`Service.recognize` drives the road (road.py) on the event loop, with decoding in the thread pool
and inference as the service was made to run it (service/inference.py: the named model's
micro-batcher by default, or a Ray replica's @serve.batch method); the road itself lives in one
place for every entry point. Models load one at a time, in the background (so each one's memory
can be measured), at start-up (`--models`) and at run time (`load`, `unload`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
from starlette.concurrency import run_in_threadpool

from ...classifier import Classifier, from_settings
from ...config import Settings
from ...engine.batcher import Batcher
from ...errors import LocalVisionError, ModelNotReady, UnknownModel
from ...history import HistoryStore, Record
from ...results import Answer, Result
from ...road import Item, Job
from .dbhealth import DatabaseHealth
from .inference import Inference, MicroBatching
from .recorder import Recorder

log = logging.getLogger("localvision.server")


@dataclass
class ModelState:
    name: str
    classifier: Classifier | None = None
    status: str = "loading"  # loading | ready | failed | unloaded
    reason: str | None = None
    hint: str | None = None
    batcher: Batcher | None = None
    decoding: int = 0  # this model's images being decoded now: its batcher waits for them only
    memory_mb: float | None = None  # how much the process grew when it loaded
    latency_ms: float | None = None  # one image through the model, measured after warm-up

    def require(self) -> Classifier:
        if self.classifier is not None:
            return self.classifier
        if self.status == "loading":
            raise ModelNotReady(f"The model {self.name} is still loading; try again in a moment.")
        if self.status == "unloaded":
            raise ModelNotReady(
                f"The model {self.name} is not loaded.",
                hint=f"POST /api/v1/models/{self.name}/load",
            )
        raise ModelNotReady(f"The model {self.name} is not available: {self.reason}", hint=self.hint)

    def describe(self) -> dict:
        clf = self.classifier
        out = {
            "name": self.name,
            "state": self.status,
            "reason": self.reason,
            "hint": self.hint,
            "memory_mb": self.memory_mb,
            "latency_ms": self.latency_ms,
        }
        return {**out, **clf.info()} if clf else out


def rss_mb() -> float | None:
    """This process's resident memory (Linux), for each model's footprint."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


@dataclass
class Service:
    settings: Settings
    history: HistoryStore
    models: dict[str, ModelState] = field(default_factory=dict)
    default: str = ""
    # Images classified by outcome ("ok", "error"), read by the /metrics collector.
    classified: Counter = field(default_factory=Counter)
    recorder: Recorder | None = None
    # Whether the history database answers (server/service/dbhealth.py): while it does not, requests
    # that must be recorded are refused (503 history_unavailable) and the service is not ready.
    database: DatabaseHealth | None = None
    # How inference runs (service/inference.py); None: each model's own micro-batcher.
    inference: Inference | None = None

    def __post_init__(self) -> None:
        self.inference = self.inference or MicroBatching(self.settings)
        self.recorder = Recorder(self.history)
        self.database = DatabaseHealth(self.history.engine)
        self._loading = asyncio.Lock()
        self._loads: dict[str, asyncio.Task] = {}  # run-time loads in flight, by model
        # Text is read one photo at a time (the reader uses every core for one): its jobs wait
        # in a queue of their own, never holding the threads that decode other requests' photos.
        self._reading = ThreadPoolExecutor(max_workers=1, thread_name_prefix="localvision-text")
        if not self.models:
            for name in self.settings.model_names:
                self.models[name] = ModelState(name)
            self.default = self.settings.model_names[0]

    # --- which model ---
    @property
    def model(self) -> ModelState:
        """The default model's state (what /predict and a request naming no model use)."""
        return self.models[self.default]

    def state(self, name: str | None) -> ModelState:
        """The state of a served model (None, "" or "auto": the default)."""
        if not name or name == "auto":
            return self.model
        found = self.models.get(name)
        if found is None:
            served = ", ".join(self.models)
            raise UnknownModel(
                f"The service does not serve a model {name!r}; it serves {served}.",
                hint=f"POST /api/v1/models/{name}/load (a model in the store)",
            )
        return found

    @property
    def ready(self) -> bool:
        return self.model.status == "ready" and self.database.up

    def not_ready(self) -> tuple[str, str | None] | None:
        """Why the service cannot answer now, with a hint: (reason, hint); None when it can."""
        state = self.model
        if state.status != "ready":
            return state.reason or "the model is still loading", state.hint
        why = self.database.readiness()
        return (why, "see the server's log for the database it cannot reach") if why else None

    # --- loading ---
    async def load_all(self, on_each: Callable[["Service", ModelState], None] | None = None):
        """Load every model named at start, one after another."""
        for name in list(self.models):
            state = await self.load(name)
            if on_each is not None:
                on_each(self, state)

    def start_load(self, name: str) -> ModelState:
        """Load a model in the background (run time); its state says "loading" at once."""
        state = self.models.setdefault(name, ModelState(name))
        if name not in self._loads:
            state.status = "loading"
            task = asyncio.create_task(self.load(name), name=f"load {name}")
            self._loads[name] = task
            task.add_done_callback(lambda _: self._loads.pop(name, None))
        return state

    async def load(self, name: str, classifier: Classifier | None = None) -> ModelState:
        """Load (or reload) a model and start its batcher; a failure is recorded in its state,
        never raised (the service runs on without it)."""
        async with self._loading:
            state = self.models.setdefault(name, ModelState(name))
            state.status, state.reason, state.hint = "loading", None, None
            before = rss_mb()
            try:
                clf = classifier or await asyncio.to_thread(from_settings, self.settings, name)
                if classifier is None:
                    await asyncio.to_thread(clf.warm_up, self.settings.max_batch)
                latency = await asyncio.to_thread(_time_one, clf)
            except LocalVisionError as exc:
                log.error("model %s not loaded: %s", name, exc.message)
                state.status, state.reason, state.hint = "failed", exc.message, exc.hint
                return state
            except Exception as exc:  # never let a load failure kill the service
                log.exception("model %s failed to load", name)
                state.status, state.reason = "failed", f"the model failed to load ({exc})"
                return state
            after = rss_mb()
            if clf.name != name:  # "auto" has become a real model: serve it by its name
                self.models = {(clf.name if k == name else k): v for k, v in self.models.items()}
                if self.default == name:
                    self.default = clf.name
                state.name = clf.name
            await self.inference.detach(state)  # loaded again: the old batcher stops taking work
            state.classifier, state.status = clf, "ready"
            self.inference.attach(state, clf)
            state.memory_mb = round(after - before, 1) if before and after else None
            state.latency_ms = latency
            b = clf.backend
            log.info("model %s ready (%s %s on %s, weights: %s)", clf.name, b.name, b.precision,
                     b.device, clf.weights_origin)  # fmt: skip
            if clf.notice:
                log.warning(clf.notice)
            return state

    async def unload(self, name: str) -> ModelState:
        """Stop a model's batcher and drop it (its memory goes with the last reference)."""
        async with self._loading:
            state = self.state(name)
            await self.inference.detach(state)
            state.classifier, state.batcher, state.status = None, None, "unloaded"
            state.memory_mb = state.latency_ms = None
            return state

    async def close(self) -> None:
        self.database.close()
        self._reading.shutdown(wait=False, cancel_futures=True)
        for task in list(self._loads.values()):
            task.cancel()
        for state in self.models.values():
            await self.inference.detach(state)

    # --- the road ---
    async def recognize(
        self,
        items: Sequence[Item],
        answer: Answer,
        client: str | None,
        user: str | None = None,
        model: str | None = None,
        record: bool = True,
    ) -> list[Result]:
        """The road for these items (decode in the pool, infer through the model's batcher),
        then the request's records, whole, in the history (group-committed with others').
        record=False: not in the history (the live camera's frames: ten a second would bury
        every photo there)."""
        state = self.state(model)
        clf = state.require()
        if record:  # the answer must be recorded: no model run when it cannot be
            self.database.require()
        started = time.perf_counter()
        infer = self.inference.step(state, self.settings.request_timeout_s)
        results = await clf.road.run_async(
            items, answer, infer, self._run_jobs(state), digest=True, run_reads=self._read_jobs
        )
        self.classified.update("error" if r.error else "ok" for r in results)
        if not record:
            return results
        elapsed_ms = (time.perf_counter() - started) * 1000
        records = [
            Record(
                filename=r.source,
                sha256=r.sha256,
                model=clf.name,
                predictions=[p.to_dict() for p in r.predictions],
                latency_ms=elapsed_ms,
                client=client,
                user=user,
                error=r.error.to_dict() if r.error else None,
                text=None if r.text is None else [line.to_dict() for line in r.text],
            )
            for r in results
        ]
        await self.recorder.record(records)  # group commit with concurrent requests
        return results

    async def _read_jobs(self, jobs: list[Job]) -> list:
        """Text-reading jobs in the reading queue (not counted as decodes: the batcher would
        wait for images that are not coming)."""
        loop = asyncio.get_running_loop()
        return await asyncio.gather(*(loop.run_in_executor(self._reading, job) for job in jobs))

    @staticmethod
    def _run_jobs(state: ModelState):
        async def run(jobs: list[Job]) -> list:
            """Decode jobs in the thread pool; meanwhile the batcher knows more are due."""
            state.decoding += len(jobs)
            try:
                return await asyncio.gather(*(run_in_threadpool(job) for job in jobs))
            finally:
                state.decoding -= len(jobs)

        return run


def _time_one(clf: Classifier) -> float:
    """One image through the model (after warm-up), in ms: the median of three."""
    crop = clf.spec.preprocess.crop
    x = np.zeros((1, 3, crop, crop), np.float32)
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        clf.backend.infer(x)
        times.append((time.perf_counter() - t0) * 1000)
    return round(sorted(times)[1], 2)
