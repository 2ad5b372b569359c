/* localvision, the Teach page: training. The form (base model, mode), the job (one at a time
 * on the whole server) and its live progress from the event stream /api/v1/teach/job/events.
 * Loaded after teach/base.js, whose pieces it shares (window.localvisionTeach).
 */
"use strict";

(function (teach) {
  const {
    T, enc, API, ACTIVE, FINISHED, ui, state, number, durationText, showMessage, clearMessage,
    errorSentence, request, send, el, percentText,
  } = teach;

  // ---------------------------------------------------------------------------------------------
  // Training: the form, the job, its live progress

  async function loadServed() {
    try {
      const info = await request(API.models);
      if (info.limits) Object.assign(state.limits, info.limits);
      state.served = Array.isArray(info.models) ? info.models : [];
    } catch (err) {
      state.served = [];
    }
  }

  function renderTrainForm() {
    const project = state.project;
    if (!project) return;
    const chosen = ui.base.value || project.base;
    // Any served model but the one this project makes.
    const own = project.model_name || project.name;
    const names = state.served.filter((m) => m.state === "ready" && m.name !== own)
      .map((m) => m.name);
    if (project.base && !names.includes(project.base)) names.unshift(project.base);
    ui.base.textContent = "";
    for (const name of names) ui.base.append(el("option", { value: name }, name));
    ui.base.value = names.includes(chosen) ? chosen : (project.base || names[0] || "");
    if (project.mode && !ui.mode.dataset.touched) ui.mode.value = project.mode;
    updateTrainButton();
  }

  /** Why Train cannot be pressed now, or null. The server checks the same and more. */
  function cannotTrain() {
    const project = state.project;
    if (!project) return "";
    const job = state.job;
    if (job && ACTIVE.has(job.state)) return job.project === project.name ? "" : T.busyElsewhere(job.project);
    const classes = Array.isArray(project.classes) ? project.classes : [];
    if (classes.length < 2) return T.needTwoClasses;
    const examples = teach.examplesOf(project);
    for (const c of classes) {
      if (examples.filter((e) => e.class === c.name).length < 2) return T.needPhotos(c.name);
    }
    return null;
  }

  function updateTrainButton() {
    const why = cannotTrain();
    const running = Boolean(state.job && ACTIVE.has(state.job.state));
    ui.train.disabled = why !== null || running || state.busy;
    ui.train.classList.toggle("is-busy", running && state.job.project === state.name);
    ui.trainWhy.textContent = why || "";
  }

  async function startTraining() {
    if (!state.name || cannotTrain() !== null) return;
    clearMessage();
    state.busy = true;
    updateTrainButton();
    const ask = { base: ui.base.value || undefined, mode: ui.mode.value };
    try {
      const job = await send("POST", API.train(state.name), ask);
      state.reportFor = null;
      ui.report.hidden = true;
      setJob(job && typeof job === "object" && job.state ? job : { project: state.name, state: "queued" });
      follow(true);
    } catch (err) {
      showMessage(err.message);
      if (err.code === "training_busy") await loadJob();
    } finally {
      state.busy = false;
      updateTrainButton();
    }
  }

  async function cancelTraining() {
    state.cancelling = true;
    renderJob();
    try {
      await send("POST", API.cancel);
    } catch (err) {
      showMessage(err.message);
      state.cancelling = false;
      renderJob();
    }
  }

  function setJob(job) {
    const before = state.job;
    state.job = job && typeof job === "object" && job.state ? job : null;
    // The trainer said "done" (model and report written) and the service is still loading the
    // model: for this page the training is over ("try it" waits for the model itself).
    const last = state.job && state.job.last;
    if (state.job && ACTIVE.has(state.job.state) && last && last.event === "done") {
      state.job = { ...state.job, state: "done", metrics: state.job.metrics || last.metrics };
    }
    if (!state.run || !state.job || (state.job.id && state.run.id !== state.job.id)) {
      state.run = { id: state.job ? state.job.id : null, start: null, phase: null, epochs: new Map(), last: null };
    }
    renderJob();
    const changed = !before || !state.job || before.state !== state.job.state;
    if (changed) {
      teach.renderProjects();
      teach.renderFacts();
    }
  }

  /** GET /api/v1/teach/job: the current or last job (none: 404, null or {}). */
  async function loadJob() {
    let job = null;
    try {
      const body = await request(API.job, {}, true);
      job = body && body.job !== undefined ? body.job : body;
    } catch (err) {
      if (err.status !== 404) showMessage(err.message);
    }
    setJob(job);
    if (state.job && ACTIVE.has(state.job.state)) follow(false);
    else teach.finished();
  }

  /** Follow the job's event stream (the events so far, then live ones) until it ends. */
  function follow(fresh) {
    if (state.source) state.source.close();
    if (fresh) state.run = { id: state.job ? state.job.id : null, start: null, phase: null, epochs: new Map(), last: null };
    const source = new EventSource(API.events);
    state.source = source;
    const take = (event) => {
      let data;
      try {
        data = JSON.parse(event.data);
      } catch (err) {
        return; // a keep-alive or something this page does not read
      }
      if (!data || typeof data !== "object") return;
      onEvent(data.event || event.type, data);
    };
    source.onmessage = take;
    for (const type of ["start", "phase", "epoch", "done", "error", "state"]) {
      source.addEventListener(type, take);
    }
    source.onerror = () => {
      // The stream ended (the job is over) or the connection dropped: ask how the job stands.
      if (state.source !== source) return;
      if (source.readyState === EventSource.CLOSED || !state.job || !ACTIVE.has(state.job.state)) {
        source.close();
        state.source = null;
        loadJob();
      }
    };
  }

  function stopFollowing() {
    if (state.source) state.source.close();
    state.source = null;
  }

  function onEvent(type, data) {
    const run = state.run || (state.run = { start: null, phase: null, epochs: new Map(), last: null });
    if (type === "state") {
      const job = data.job && typeof data.job === "object" ? data.job : data;
      if (job.state) {
        state.job = { ...(state.job || {}), ...job };
        delete state.job.event;
      }
    } else if (type === "start") {
      run.start = data;
      run.epochs = new Map();
      if (state.job) state.job.state = "running";
    } else if (type === "phase") {
      run.phase = data;
    } else if (type === "epoch") {
      run.epochs.set(Number(data.epoch), data);
      run.phase = { phase: "training" };
    } else if (type === "done") {
      run.done = data;
      if (state.job) {
        state.job.state = "done";
        state.job.metrics = data.metrics || state.job.metrics;
      }
    } else if (type === "error") {
      run.error = data;
    } else return;
    run.last = type;
    renderJob();
    if (state.job && FINISHED.has(state.job.state)) {
      stopFollowing();
      teach.renderProjects();
      teach.renderFacts();
      // Done: the model and its report are written (the trainer says "done" only then), so
      // they are shown now, while the service loads the model; failed or cancelled: the job's
      // own final word (its error).
      if (state.job.state === "done") teach.finished();
      else loadJob();
    }
  }

  /** The progress panel of the open project, from the job and what its stream said. */
  function renderJob() {
    const job = state.job;
    const mine = Boolean(job && state.name && job.project === state.name);
    const elsewhere = Boolean(job && ACTIVE.has(job.state) && !mine);
    ui.elsewhere.hidden = !elsewhere;
    if (elsewhere) {
      ui.elsewhere.textContent = "";
      const show = el("a", { href: `?project=${enc(job.project)}` }, T.showIt);
      show.addEventListener("click", (event) => {
        event.preventDefault();
        teach.openProject(job.project, true);
      });
      ui.elsewhere.append(T.busyElsewhere(job.project), " ", show);
    }
    updateTrainButton();
    if (!mine) {
      ui.progress.hidden = true;
      return;
    }
    ui.progress.hidden = false;
    ui.progress.dataset.state = job.state;
    const run = state.run || { epochs: new Map() };
    const epochs = Array.from(run.epochs.values()).sort((a, b) => a.epoch - b.epoch);
    const last = epochs[epochs.length - 1] || null;
    const total = Number((last && last.epochs) || (run.start && run.start.epochs) || job.epochs) || 0;
    const epochNow = Number((last && last.epoch) || job.epoch) || 0;

    if (!ACTIVE.has(job.state)) state.cancelling = false;
    ui.progressState.textContent = state.cancelling ? T.cancelling : stateText(job, run, epochNow, total);
    ui.cancel.hidden = !ACTIVE.has(job.state);
    ui.cancel.disabled = state.cancelling;
    setBar(progressFraction(job, run, epochNow, total));
    renderFigures(run, last, epochNow, total, job);
    renderEpochs(epochs);
  }

  function stateText(job, run, epoch, total) {
    if (job.state === "queued") return T.queued;
    if (job.state === "cancelled") return T.cancelled;
    if (job.state === "failed") {
      const error = job.error || run.error;
      const why = error ? errorSentence(error, 0) : null;
      return why ? T.failed(why) : T.failedNoReason;
    }
    if (job.state === "done") {
      const stopped = (run.done && run.done.stopped) || (job.last && job.last.stopped) ||
        (job.metrics && job.metrics.stopped);
      if (stopped === "early") return T.doneEarly;
      if (stopped === "interrupted") return T.doneInterrupted;
      return T.done;
    }
    const phase = run.phase && run.phase.phase;
    if (phase === "features") return T.features(run.phase.done || 0, run.phase.total || 0);
    if (phase === "report") return T.writingReport;
    if (phase === "package") return T.saving;
    if (phase === "training" && total) return T.epochOf(epoch, total);
    if (phase === "training") return T.training;
    return T.starting;
  }

  /** 0..1: features first (the first tenth), then the epochs, the rest saving. */
  function progressFraction(job, run, epoch, total) {
    if (job.state === "done") return 1;
    if (!ACTIVE.has(job.state)) return total ? Math.min(1, epoch / total) : 0;
    const phase = run.phase && run.phase.phase;
    if (phase === "features" && run.phase.total) return 0.1 * (run.phase.done || 0) / run.phase.total;
    if (phase === "report" || phase === "package") return 0.97;
    if (total) return 0.1 + 0.85 * Math.min(1, epoch / total);
    return 0;
  }

  function setBar(fraction) {
    const percent = Math.round(Math.max(0, Math.min(1, fraction)) * 100);
    ui.progressBar.setAttribute("aria-valuenow", String(percent));
    ui.progressBar.querySelector(".bar").style.width = `${percent}%`;
  }

  function renderFigures(run, last, epoch, total, job) {
    const figures = [];
    if (run.start && run.start.train !== undefined) {
      figures.push([T.figPhotos, T.photosSplit(run.start.train, run.start.val)]);
    }
    if (total) figures.push([T.figEpoch, `${epoch} / ${total}`]);
    if (last) {
      figures.push([T.figLoss, number(last.train_loss, 3)]);
      figures.push([T.figAccuracy, percentText(last.train_acc)]);
      figures.push([T.figValAccuracy, percentText(last.val_acc)]);
      if (ACTIVE.has(job.state) && Number.isFinite(Number(last.eta_s)) && last.eta_s !== null) {
        figures.push([T.figLeft, durationText(last.eta_s)]);
      }
    } else if (job.metrics && job.metrics.val_acc !== undefined) {
      figures.push([T.figValAccuracy, percentText(job.metrics.val_acc)]);
    }
    ui.figures.textContent = "";
    for (const [term, value] of figures) {
      ui.figures.append(el("div", { className: "figure" }, el("dt", {}, term), el("dd", {}, value)));
    }
  }

  function renderEpochs(epochs) {
    ui.epochs.hidden = epochs.length === 0;
    const body = ui.epochs.tBodies[0];
    body.textContent = "";
    for (const e of epochs) {
      body.append(el("tr", { className: e.best ? "is-best" : null },
        el("td", {}, String(e.epoch), e.best ? el("span", { className: "best-badge" }, T.best) : null),
        el("td", {}, number(e.train_loss, 3)),
        el("td", {}, percentText(e.train_acc)),
        el("td", {}, number(e.val_loss, 3)),
        el("td", {}, percentText(e.val_acc))));
    }
  }

  Object.assign(teach, {
    renderTrainForm, renderJob, loadServed, startTraining, cancelTraining, loadJob,
  });
})(window.localvisionTeach);
