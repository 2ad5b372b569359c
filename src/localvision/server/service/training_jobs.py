"""Training jobs for the Teach page: `localvision train` in its own process, one at a time.

The child is exactly the command a user would run,

    python -m localvision train <model_dir>/.teach/P --name NAME --retrain --progress jsonl
        --threads <train_threads> --base B --mode M [--epochs E]

with the service's settings in its environment (LOCALVISION_MODEL_DIR and the rest), started
with asyncio's subprocess support so the event loop never waits on it, and with few threads so
the service keeps answering. Its stdout is one JSON event per line (start, phase, epoch, done,
error); each is appended to the job's events and written to the project's job.json (atomically),
so the job's state survives a page reload and a server restart. Its stderr goes to the server's
log, never to a user.

- Cancel sends SIGTERM: the trainer stops, writes nothing and exits 143 -> "cancelled".
- A child that exits otherwise than 0 (or is killed) -> "failed", with its error event's code
  and message (else `training_failed`); the trainer writes its package atomically, so the store
  is as it was.
- "done" -> the service loads (or reloads) the model, so it answers and is in the model picker
  at once; then the job says "done".
- At start, a job.json that says queued/running belongs to a server that stopped: its child is
  gone (or is ended now, having no one to report to) and the job is "failed" with
  `training_interrupted`. A server that stops while a training runs ends it the same way.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import sys
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

from ...errors import NoTrainingJob, TrainingBusy, TrainingFailed, TrainingInterrupted
from ...training import EXIT_TERMINATED
from ...training.examples import JOB_FILE, TeachStore, now_iso, read_json, write_json

log = logging.getLogger("localvision.train")

STATES = ("queued", "running", "done", "failed", "cancelled")
FINISHED = frozenset({"done", "failed", "cancelled"})
MAX_EVENTS = 5000  # per job: epochs and phases (consecutive phase events are merged)
TERM_GRACE_S = 15.0  # after SIGTERM, before SIGKILL: the trainer stops at its next batch
STDERR_TAIL = 40  # lines of a failed child's stderr put in the log at error level
# A phase event ("features 120/400") may come many times a second; job.json is rewritten for
# one at most this often (every other event is written at once).
PHASE_WRITE_S = 1.0


@dataclass
class Job:
    id: str
    project: str
    name: str  # the model it makes
    base: str
    mode: str
    epochs: int | None = None
    user: str | None = None
    state: str = "queued"
    started_at: str = field(default_factory=now_iso)
    finished_at: str | None = None
    epoch: int | None = None
    last: dict | None = None  # the last event from the trainer
    error: dict | None = None
    metrics: dict | None = None
    report: str | None = None
    model_state: str | None = None  # the trained model's state in the service after "done"
    pid: int | None = None
    # (seq, event): seq rises with every event, so a listener knows what it has not seen yet
    events: list[tuple[int, dict]] = field(default_factory=list)
    seq: int = 0
    cancel_requested: bool = False
    folder: Path | None = None
    proc: asyncio.subprocess.Process | None = field(default=None, repr=False)
    changed: asyncio.Condition | None = field(default=None, repr=False)
    _written: float = 0.0

    @property
    def finished(self) -> bool:
        return self.state in FINISHED

    def describe(self) -> dict:
        return {
            "id": self.id, "project": self.project, "name": self.name, "base": self.base,
            "mode": self.mode, "state": self.state, "user": self.user,
            "started_at": self.started_at, "finished_at": self.finished_at,
            "epoch": self.epoch, "epochs": self.epochs, "last": self.last, "error": self.error,
            "metrics": self.metrics, "report": self.report, "model_state": self.model_state,
        }  # fmt: skip

    def to_file(self) -> dict:
        return {**self.describe(), "pid": self.pid, "events": [e for _, e in self.events]}

    @classmethod
    def from_file(cls, data: dict, folder: Path) -> Job:
        keys = ("id", "project", "name", "base", "mode", "epochs", "user", "state", "started_at",
                "finished_at", "epoch", "last", "error", "metrics", "report", "model_state", "pid")  # fmt: skip
        job = cls(**{k: data.get(k) for k in keys if k in data}, folder=folder)
        for event in data.get("events") or []:
            job.seq += 1
            job.events.append((job.seq, event))
        return job


class Jobs:
    """The service's training jobs: the current (or last) one, and starting, following and
    cancelling it. One per app (app.state.training_jobs)."""

    def __init__(self, service, store: TeachStore):
        self.service = service
        self.settings = service.settings
        self.store = store
        self.current: Job | None = None
        self._task: asyncio.Task | None = None

    # --- at start and stop ---
    def recover(self) -> None:
        """Read every project's job.json; one left queued or running by a server that stopped
        is failed (training_interrupted). The newest becomes the current job."""
        jobs = []
        for name in self.store.names():
            folder = self.store.path(name)
            data = read_json(folder / JOB_FILE)
            if not data or not data.get("id"):
                continue
            job = Job.from_file(data, folder)
            if job.state not in FINISHED:
                _end_orphan(job.pid, folder)
                self._fail(job, TrainingInterrupted(
                    "The server stopped while this training ran; start it again."
                ).to_dict())  # fmt: skip
                log.warning("training %s of %s was interrupted by a server restart", job.id, name)
            jobs.append(job)
        if jobs:
            self.current = max(jobs, key=lambda j: j.started_at or "")
            self.current.changed = asyncio.Condition()

    async def close(self) -> None:
        """The server stops: a running child is ended and its job failed (interrupted)."""
        job = self.current
        if job is None or job.finished:
            return
        if self._task is not None:  # first, so the child's end is not taken for a failure
            self._task.cancel()
        proc = job.proc
        if proc is not None and proc.returncode is None:
            proc.terminate()
            try:  # the server leaves nothing running behind it
                await asyncio.wait_for(proc.wait(), TERM_GRACE_S)
            except TimeoutError:
                proc.kill()
                await proc.wait()
        stopped = TrainingInterrupted("The server stopped while this training ran.")
        self._fail(job, stopped.to_dict())
        await self._notify(job)

    # --- what routes ask ---
    def get(self) -> Job:
        if self.current is None:
            raise NoTrainingJob("No training has been started yet.")
        return self.current

    def running(self, project: str | None = None) -> Job | None:
        job = self.current
        if job is None or job.finished or (project is not None and job.project != project):
            return None
        return job

    def refuse_while_training(self, project: str) -> None:
        if self.running(project):
            raise TrainingBusy(
                f"The project {project!r} is being trained; wait for it to finish or cancel it."
            )

    def start(self, project: str, *, name: str, base: str, mode: str, epochs: int | None,
              user: str | None) -> Job:  # fmt: skip
        busy = self.running()
        if busy is not None:
            raise TrainingBusy(
                f"A training is already running ({busy.project}); one runs at a time. Wait for "
                "it to finish or cancel it.",
                hint="GET /api/v1/teach/job",
            )
        job = Job(
            id=uuid.uuid4().hex[:12], project=project, name=name, base=base, mode=mode,
            epochs=epochs, user=user, folder=self.store.path(project),
        )  # fmt: skip
        job.changed = asyncio.Condition()
        self.current = job
        self._state(job)
        self._task = asyncio.create_task(self._run(job), name=f"train {project}")
        return job

    async def cancel(self) -> Job:
        """Ask the running training to stop (SIGTERM); the job as it is now. A job that has
        already finished is answered as it is."""
        job = self.get()
        if job.finished:
            return job
        job.cancel_requested = True
        if job.proc is not None and job.proc.returncode is None:
            log.info("training %s cancelled: SIGTERM to %s", job.id, job.proc.pid)
            job.proc.terminate()
        return job

    async def listen(self, job: Job, after: int = 0,
                     max_s: float | None = None) -> AsyncIterator[tuple[int, dict]]:  # fmt: skip
        """(seq, event): the job's events after `after`, then live ones, until it finishes or
        `max_s` seconds have passed (a stream that a stopping server does not wait on)."""
        seen = after
        deadline = None if max_s is None else time.monotonic() + max_s
        while True:
            for seq, event in list(job.events):
                if seq > seen:
                    seen = seq
                    yield seq, event
            if job.finished and job.seq <= seen:
                return
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                return
            try:
                async with asyncio.timeout(left), job.changed:
                    await job.changed.wait_for(lambda n=seen: job.seq > n or job.finished)
            except TimeoutError:
                return

    # --- the child ---
    def command(self, job: Job) -> list[str]:
        threads = self.settings.train_threads  # few: the service keeps answering meanwhile
        # --retrain: the model of that name is replaced only if it is this project's own (the
        # route checked it too; an import may come meanwhile)
        cmd = [sys.executable, "-m", "localvision", "train", str(job.folder), "--name", job.name,
               "--retrain", "--progress", "jsonl", "--threads", str(threads),
               "--base", job.base, "--mode", job.mode]  # fmt: skip
        if job.epochs:
            cmd += ["--epochs", str(job.epochs)]
        return cmd

    async def _run(self, job: Job) -> None:
        try:
            await self._spawn_and_follow(job)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # never let a runner bug leave a job "running" for ever
            log.exception("training %s failed in the server", job.id)
            self._fail(job, TrainingFailed(f"The training could not be run ({exc}).").to_dict())
        await self._notify(job)

    async def _spawn_and_follow(self, job: Job) -> None:
        if job.cancel_requested:
            return self._finish(job, "cancelled")
        cmd = self.command(job)
        log.info("training %s: %s", job.id, " ".join(cmd))
        proc = await asyncio.create_subprocess_exec(
            *cmd,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=child_env(self.settings),
            limit=1 << 20,  # one event line may list many classes
            start_new_session=True,  # a Ctrl+C at the server's terminal is the server's alone
        )
        job.proc, job.pid, job.state = proc, proc.pid, "running"
        self._state(job)
        if job.cancel_requested:  # cancelled while it was starting
            proc.terminate()
        tail: deque[str] = deque(maxlen=STDERR_TAIL)
        killer = asyncio.create_task(self._kill_after_grace(job))
        try:
            await asyncio.gather(
                self._read_events(job, proc.stdout), _drain(proc.stderr, job, tail)
            )
            rc = await proc.wait()
        finally:
            killer.cancel()
        await self._ended(job, rc, tail)

    async def _kill_after_grace(self, job: Job) -> None:
        while not job.cancel_requested:
            await asyncio.sleep(0.2)
        await asyncio.sleep(TERM_GRACE_S)
        if job.proc is not None and job.proc.returncode is None:
            log.warning("training %s did not stop after SIGTERM; killing it", job.id)
            job.proc.kill()

    async def _read_events(self, job: Job, stdout: asyncio.StreamReader) -> None:
        while line := await stdout.readline():
            try:
                event = json.loads(line)
            except ValueError:
                log.warning("training %s wrote a line that is not an event: %.200r", job.id, line)
                continue
            if isinstance(event, dict) and isinstance(event.get("event"), str):
                await self._event(job, event)

    async def _event(self, job: Job, event: dict) -> None:
        kind = event["event"]
        if kind == "start":
            job.epochs = event.get("epochs", job.epochs)
        elif kind == "epoch":
            job.epoch, job.epochs = event.get("epoch"), event.get("epochs", job.epochs)
            if event.get("best"):
                job.metrics = {k: event[k] for k in ("val_acc", "val_loss") if k in event}
        elif kind == "done":
            job.metrics = event.get("metrics") or job.metrics
            job.report = event.get("report")
        elif kind == "error":
            job.error = {k: event.get(k) for k in ("code", "message", "hint")}
        job.last = event
        merge = kind == "phase" and job.events and _same_phase(job.events[-1][1], event)
        self._append(job, event, replace=bool(merge))
        if not merge or time.monotonic() - job._written >= PHASE_WRITE_S:
            self._write(job)
        await self._notify(job)

    async def _ended(self, job: Job, rc: int, tail: deque[str]) -> None:
        if rc == 0 and job.last and job.last.get("event") == "done":
            state = await self.service.load(job.name)  # answers, and is in the picker, at once
            job.model_state = state.status
            if state.status != "ready":
                log.error("trained model %s did not load: %s", job.name, state.reason)
            if job.project in self.store.names():  # the next correction on it comes here
                await asyncio.to_thread(self.store.update, job.project, model=job.name,
                                        base=job.base, mode=job.mode)  # fmt: skip
            return self._finish(job, "done")
        if job.cancel_requested and rc in (EXIT_TERMINATED, -signal.SIGTERM, -signal.SIGKILL):
            return self._finish(job, "cancelled")
        if job.error is None or rc == 0:
            how = f"was killed (signal {-rc})" if rc < 0 else f"stopped with exit code {rc}"
            job.error = TrainingFailed(f"The training process {how} without finishing.").to_dict()
        if tail:
            log.error("training %s failed (exit %s); its last output:\n%s", job.id, rc,
                      "\n".join(tail))  # fmt: skip
        self._finish(job, "failed")

    # --- state ---
    def _append(self, job: Job, event: dict, replace: bool = False) -> None:
        job.seq += 1
        if replace:
            job.events[-1] = (job.seq, event)
        else:
            job.events.append((job.seq, event))
            del job.events[:-MAX_EVENTS]

    def _state(self, job: Job) -> None:
        self._append(job, {"event": "state", **job.describe()})
        self._write(job)

    def _finish(self, job: Job, state: str) -> None:
        job.state, job.finished_at = state, now_iso()
        if state != "failed":
            job.error = None
        log.info("training %s of %s: %s", job.id, job.project, state)
        self._state(job)

    def _fail(self, job: Job, error: dict) -> None:
        job.error = error
        self._finish(job, "failed")

    def _write(self, job: Job) -> None:
        job._written = time.monotonic()
        if job.folder is None or not job.folder.is_dir():  # the project was deleted since
            return
        try:
            write_json(job.folder / JOB_FILE, job.to_file(), sync=False)
        except OSError as exc:
            log.warning("could not write %s: %s", job.folder / JOB_FILE, exc)

    async def _notify(self, job: Job) -> None:
        if job.changed is not None:
            async with job.changed:
                job.changed.notify_all()


def _same_phase(a: dict, b: dict) -> bool:
    return a.get("event") == "phase" and a.get("phase") == b.get("phase")


async def _drain(stderr: asyncio.StreamReader, job: Job, tail: deque[str]) -> None:
    """The child's stderr, line by line, into the server's log (and the tail kept for a
    failure); never to a user."""
    while line := await stderr.readline():
        text = line.decode("utf-8", "replace").rstrip()
        if text:
            tail.append(text)
            log.info("train %s: %s", job.project, text)


def child_env(settings) -> dict[str, str]:
    """The server's environment with its settings as LOCALVISION_* variables, so the child
    trains with the same model store, limits and training settings as the service has."""
    env = dict(os.environ)
    for name, value in settings.model_dump().items():
        key = f"LOCALVISION_{name.upper()}"
        if value is None:
            env.pop(key, None)
        elif isinstance(value, bool):
            env[key] = "true" if value else "false"
        else:
            env[key] = str(value)
    return env


def _end_orphan(pid: int | None, folder: Path) -> None:
    """A trainer left running by a server that died (SIGKILL, a crash) has no one to report to:
    end it, so that "one at a time" stays true. Only that very process: its command line must
    be `localvision train` of this project."""
    if not pid:
        return
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return  # gone (or not Linux): nothing to end
    args = [a.decode("utf-8", "replace") for a in cmdline]
    if "localvision" in args and "train" in args and str(folder) in args:
        try:
            os.kill(pid, signal.SIGTERM)
            log.warning("ended training process %s left running by a stopped server", pid)
        except OSError:
            pass
