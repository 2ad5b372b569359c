/* localvision, the Teach page: once trained, the report (confusion matrix, per-class figures,
 * the photos it got wrong) and "try it" with the new model once the service has loaded it.
 * Loaded after teach/base.js, whose pieces it shares (window.localvisionTeach).
 */
"use strict";

(function (teach) {
  const {
    I18N, T, enc, API, ACTIVE, MODEL_POLL_MS, CLASSIFY_CHUNK, REPORT_TRIES, ui, SAVED_MODEL, state,
    showMessage, errorSentence, request, el, percentText, isImage, save,
  } = teach;

  // ---------------------------------------------------------------------------------------------
  // Done: the report, and the new model answering

  /** The model whose report the open project shows: the one its last job made, else (that job
   * failed or was cancelled) the one trained before; null while it trains or when it has none. */
  function reportModel() {
    const project = state.project;
    const job = state.job;
    if (!project) return null;
    const mine = Boolean(job && job.project === project.name);
    if (mine && ACTIVE.has(job.state)) return null;
    if (mine && job.state === "done") {
      return { model: job.name || project.model_name || project.name, version: job.id || job.finished_at };
    }
    const trained = project.model && typeof project.model === "object" ? project.model : null;
    if (trained && trained.exists && trained.report !== false) {
      return { model: trained.name || project.model_name || project.name, version: trained.created_at };
    }
    return null;
  }

  async function finished() {
    if (state.job && state.job.state === "done" && state.job.project === state.name) {
      await teach.refreshProject(); // its model, trained just now
    }
    const shown = reportModel();
    if (!shown) return;
    const key = `${shown.model}\n${shown.version || ""}`;
    if (state.reportFor === key) return;
    state.reportFor = key;
    await showReport(shown.model, key, shown.version);
    await waitServed(shown.model, key);
  }

  async function showReport(model, key, version) {
    let report;
    for (let tries = 1; ; tries++) {
      try {
        report = await request(API.report(model));
        break;
      } catch (err) {
        // Just done, the package may still be on its way into the store: ask again a few times.
        if (err.status === 404 && tries < REPORT_TRIES && state.reportFor === key) {
          await new Promise((resolve) => setTimeout(resolve, MODEL_POLL_MS));
          continue;
        }
        if (state.reportFor === key) state.reportFor = null; // the next look tries again
        showMessage(T.reportFailed(err.message));
        return;
      }
    }
    if (state.reportFor !== key) return;
    ui.report.hidden = false;
    ui.report.dataset.model = model;
    // a new run, a new address: the browser never shows an older run's picture from its cache
    const file = (name) => `${API.reportFile(model, name)}?v=${enc(version || Date.now())}`;
    const summary = report.summary && typeof report.summary === "object" ? report.summary : {};
    const files = report.files && typeof report.files === "object" ? report.files : {};
    const metrics = { ...((state.job && state.job.metrics) || {}), ...(report.metrics || {}) };
    const accuracy = report.accuracy !== undefined ? report.accuracy
      : (summary.val_acc !== undefined ? summary.val_acc : metrics.val_acc);
    const perClass = perClassRows(report);
    const valPhotos = Number(report.val_images) ||
      perClass.reduce((n, row) => n + (Number(row.support) || 0), 0);
    const lines = [];
    if (accuracy !== undefined && accuracy !== null) {
      lines.push(T.summary(percentText(accuracy), T.photosCount(valPhotos)));
    }
    const best = Number(report.best_epoch || summary.best_epoch ||
      (report.training && report.training.best_epoch)) || null;
    if (best) lines.push(T.summaryBest(best));
    const skipped = Array.isArray(report.skipped) ? report.skipped.length : Number(report.skipped) || 0;
    if (skipped) lines.push(T.skipped(skipped));
    ui.reportSummary.textContent = lines.join(" ");

    const raw = file(files.confusion_matrix || "confusion_matrix.png");
    const normalized = file(files.confusion_matrix_normalized || "confusion_matrix_normalized.png");
    ui.confusion.src = raw;
    ui.confusionToggle.textContent = T.showPercentages;
    ui.confusionToggle.onclick = () => {
      const counts = ui.confusion.getAttribute("src") === raw;
      ui.confusion.src = counts ? normalized : raw;
      ui.confusionToggle.textContent = counts ? T.showCounts : T.showPercentages;
    };
    const body = ui.perClass.tBodies[0];
    body.textContent = "";
    for (const row of perClass) {
      body.append(el("tr", { dataset: { class: row.class } },
        el("td", { className: "cell-label" }, el("span", { className: "label" }, row.class)),
        el("td", {}, percentText(row.precision)),
        el("td", {}, percentText(row.recall)),
        el("td", {}, row.support === undefined ? "\u2014" : String(row.support))));
    }
    const noneWrong = !Number(report.misclassified);
    ui.noneWrong.hidden = !noneWrong;
    ui.misFigure.hidden = noneWrong;
    if (!noneWrong) {
      ui.misclassified.onerror = () => { ui.misFigure.hidden = true; };
      ui.misclassified.src = file(files.misclassified || "misclassified.jpg");
    }
    ui.epochsCsv.href = file(files.epochs || "epochs.csv");
    // After a reload the stream is not followed for a finished job: its epochs are the report's.
    if (state.run && !state.run.epochs.size && Array.isArray(report.epochs)) {
      for (const e of report.epochs) {
        if (e && e.epoch !== undefined) state.run.epochs.set(Number(e.epoch), { ...e, best: Number(e.epoch) === best });
      }
      teach.renderJob();
    }
    ui.useIt.onclick = () => save(SAVED_MODEL, model); // storage blocked: its own default
  }

  /** report.json's per-class figures, as rows {class, precision, recall, support}. */
  function perClassRows(report) {
    const raw = report.per_class || report.classes_report || [];
    if (Array.isArray(raw)) {
      return raw.filter((r) => r && typeof r === "object")
        .map((r) => ({ ...r, class: String(r.class !== undefined ? r.class : r.name) }));
    }
    return Object.entries(raw).map(([name, r]) => ({ ...r, class: name }));
  }

  /** Until the service serves the new model (it loads it once the job is done). */
  async function waitServed(model, key) {
    ui.tryZone.classList.add("is-disabled");
    ui.tryInput.disabled = true;
    for (;;) {
      if (state.reportFor !== key) return;
      await teach.loadServed();
      const served = state.served.find((m) => m.name === model);
      if (served && served.state === "ready") break;
      if (served && served.state === "failed") {
        showMessage(served.reason || T.failedNoReason);
        return;
      }
      ui.tryStatus.textContent = T.modelLoading(model);
      await new Promise((resolve) => setTimeout(resolve, MODEL_POLL_MS));
    }
    ui.tryStatus.textContent = "";
    ui.tryZone.classList.remove("is-disabled");
    ui.tryInput.disabled = false;
    ui.tryZone.dataset.ready = "true";
    teach.renderTrainForm();
  }

  function clearTry() {
    for (const url of state.urls) URL.revokeObjectURL(url);
    state.urls = [];
    ui.tryResults.textContent = "";
    ui.tryStatus.textContent = "";
    delete ui.tryZone.dataset.ready;
  }

  /** Classify photos with the new model (?model=P) and show each one's top answers. */
  async function tryPhotos(fileList) {
    const model = ui.report.dataset.model;
    const files = Array.from(fileList || []).filter(isImage);
    if (!files.length || !model || ui.tryInput.disabled) return;
    clearTry();
    ui.tryStatus.textContent = T.trying(T.photosCount(files.length));
    const params = new URLSearchParams({ model, top_k: "3" });
    if (I18N.lang) params.set("lang", I18N.lang);
    const problems = [];
    for (let i = 0; i < files.length; i += CLASSIFY_CHUNK) {
      const chunk = files.slice(i, i + CLASSIFY_CHUNK);
      const form = new FormData();
      for (const file of chunk) form.append("file", file, file.name);
      let body;
      try {
        body = await request(`${API.classify}?${params}`, { method: "POST", body: form });
      } catch (err) {
        problems.push(err.message);
        break;
      }
      (body.results || []).forEach((row, j) => ui.tryResults.append(tryRow(row, chunk[j])));
    }
    ui.tryStatus.textContent = "";
    if (problems.length) showMessage(problems);
  }

  function tryRow(row, file) {
    const url = file ? URL.createObjectURL(file) : null;
    if (url) state.urls.push(url);
    const preds = row.predictions || [];
    const thumb = url ? el("img", { className: "row-thumb", src: url, alt: "" }) : null;
    if (row.error || !preds.length) {
      return el("li", { className: "try-row error-row" }, thumb,
        el("span", { className: "cell-error" }, T.tryFailed(row.filename || "", errorSentence(row.error, 0))));
    }
    const top = preds[0];
    return el("li", { className: "try-row", dataset: { testid: "try-row", label: top.label } },
      thumb,
      el("div", { className: "try-body" },
        el("p", { className: "try-top" }, el("span", { className: "label" }, top.label), " ",
          el("span", { className: "percent" }, percentText(top.probability))),
        el("p", { className: "try-more" }, preds.slice(1).map((p) =>
          el("span", { className: "more-label" }, `${p.label} ${percentText(p.probability)}`))),
        el("p", { className: "result-file" }, row.filename || "")));
  }

  Object.assign(teach, { finished, clearTry, tryPhotos });
})(window.localvisionTeach);
