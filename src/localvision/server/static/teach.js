/* localvision: the Teach page. A user makes a model of their own here: a project (its name and
 * classes), photos for each class, a training run watched live, then its report and a first try.
 *
 * - Projects: GET/POST /api/v1/teach/projects; one is open at a time, named in the address
 *   (?project=NAME), so a reload or a link (the Recognize page's "See it on the Teach page")
 *   opens it again.
 * - Photos reach a class by a drop on it, the file chooser (several at once), a phone's camera
 *   (capture=environment), a paste (into the class marked for pasting: the last one clicked), or
 *   "From recent photos": the photos recognized in this browser (recent.js, IndexedDB; the server
 *   keeps none). Each upload says where it came from (`source`). Each photo is a thumbnail with
 *   a delete button; corrections sent from the Recognize page ("Wrong? It is...") are listed
 *   with who sent them and when.
 * - Training: POST .../train with the base model and the mode; one job runs at a time on the
 *   whole server. Its progress comes from the SSE stream /api/v1/teach/job/events (the events
 *   so far, then live ones: start, phase, epoch, done, error, state); a reload asks
 *   GET /api/v1/teach/job and follows the stream again while it runs. Cancel:
 *   POST /api/v1/teach/job/cancel.
 * - Done: the report (GET /api/v1/models/P/report and its files: the confusion matrix, the
 *   per-class precision and recall, the misclassified photos), a "try it" zone that classifies
 *   with ?model=P once the service has loaded it, and a link to the Recognize page with P chosen.
 * - With auth on only admins train: for anyone else the server answers 403, and the page says so
 *   instead of failing.
 *
 * Every string this page shows is in ENGLISH below (the HTML's own text is replaced from it at
 * start, by data-i18n keys); i18n.js gives the Chinese one (window.localvisionLocalize(english,
 * "teach")) and the sentence for each of the server's error codes (window.localvisionI18n).
 * Text from the server and from files is only ever set with textContent.
 */
"use strict";

(function () {
  const I18N = window.localvisionI18n;
  const T = I18N.strings("teach");
  const PAGE = window.localvisionPage;
  const { el, percentText, quoted, isImage, save, ApiError } = PAGE;

  const enc = encodeURIComponent;
  const API = {
    projects: "/api/v1/teach/projects",
    project: (p) => `/api/v1/teach/projects/${enc(p)}`,
    classes: (p) => `${API.project(p)}/classes`,
    klass: (p, c) => `${API.project(p)}/classes/${enc(c)}`,
    photos: (p, c) => `${API.klass(p, c)}/photos`,
    photo: (p, id) => `${API.project(p)}/photos/${enc(id)}`,
    train: (p) => `${API.project(p)}/train`,
    job: "/api/v1/teach/job",
    events: "/api/v1/teach/job/events",
    cancel: "/api/v1/teach/job/cancel",
    models: "/api/v1/models",
    report: (m) => `/api/v1/models/${enc(m)}/report`,
    reportFile: (m, f) => `/api/v1/models/${enc(m)}/report/${enc(f)}`,
    classify: "/api/v1/classify",
  };
  const MB = 1024 * 1024;
  const ACTIVE = new Set(["queued", "running"]);
  const FINISHED = new Set(["done", "failed", "cancelled"]);
  // The states a finished job can end in, as the page words them.
  const MODEL_POLL_MS = 500; // after "done": until the service has loaded the new model
  const CLASSIFY_CHUNK = 8;
  const REPORT_TRIES = 10;

  const $ = (id) => document.getElementById(id);
  const ui = {
    notice: $("notice"),
    message: $("message"),
    denied: $("denied"),
    body: $("teach-body"),
    elsewhere: $("job-elsewhere"),
    projects: $("projects"),
    projectsEmpty: $("projects-empty"),
    createForm: $("create-form"),
    createName: $("create-name"),
    createClasses: $("create-classes"),
    createTitle: $("create-title"),
    project: $("project"),
    projectTitle: $("project-title"),
    projectFacts: $("project-facts"),
    deleteProject: $("delete-project"),
    classes: $("classes"),
    addClassForm: $("add-class-form"),
    addClassName: $("add-class-name"),
    feedbackBlock: $("feedback-block"),
    feedbackBody: $("feedback-body"),
    base: $("base"),
    mode: $("mode"),
    train: $("train"),
    trainWhy: $("train-why"),
    progress: $("progress"),
    progressState: $("progress-state"),
    progressBar: $("progress-bar"),
    figures: $("progress-figures"),
    cancel: $("cancel"),
    epochs: $("epochs"),
    report: $("report"),
    reportSummary: $("report-summary"),
    confusion: $("confusion"),
    confusionToggle: $("confusion-toggle"),
    perClass: $("per-class"),
    misFigure: $("misclassified-figure"),
    misclassified: $("misclassified"),
    noneWrong: $("report-none-wrong"),
    epochsCsv: $("epochs-csv"),
    useIt: $("use-it"),
    tryZone: $("try-zone"),
    tryInput: $("try-input"),
    tryStatus: $("try-status"),
    tryResults: $("try-results"),
    confirm: $("confirm"),
    confirmTitle: $("confirm-title"),
    confirmText: $("confirm-text"),
    recent: $("recent"),
    recentTitle: $("recent-title"),
    recentEmpty: $("recent-empty"),
    recentList: $("recent-list"),
    recentAdd: $("recent-add"),
  };
  const SAVED_MODEL = "localvision.model"; // the Recognize page's picker reads it

  const state = {
    projects: [],
    name: null, // the open project's name
    project: null, // GET /projects/{name}: the project and its examples
    job: null, // the current or last training job
    run: null, // what the stream said of the job followed now: {id, start, phase, epochs: Map, last}
    source: null, // the EventSource
    pasteClass: null, // the class a paste goes into
    limits: { max_upload_mb: 10 },
    served: [], // the models the service serves (GET /api/v1/models)
    busy: false,
    cancelling: false, // Cancel was pressed; the job has not said it stopped yet
    reportFor: null, // the model (and finish time) whose report is shown
    urls: [], // object URLs of the "try it" thumbnails
  };

  // ---------------------------------------------------------------------------------------------
  // Small helpers

  function number(value, digits) {
    const n = Number(value);
    return Number.isFinite(n) ? n.toFixed(digits) : "\u2014";
  }

  function durationText(seconds) {
    const s = Math.max(0, Math.round(Number(seconds)));
    if (s < 60) return T.seconds(s);
    return T.minutes(Math.floor(s / 60), s % 60);
  }

  function timeText(iso) {
    if (typeof iso !== "string") return "\u2014";
    const d = PAGE.parseUtc(iso); // the server writes UTC
    if (!d) return iso;
    return d.toLocaleString(I18N.locale, { dateStyle: "medium", timeStyle: "short" });
  }

  const showMessage = (lines) => PAGE.showMessage(ui.message, lines);
  const clearMessage = () => PAGE.clearMessage(ui.message);
  const showNotice = (text) => PAGE.showNotice(ui.notice, text);

  // ---------------------------------------------------------------------------------------------
  // Talking to the server

  function errorSentence(error, status) {
    const text = I18N.errorText(error, { mb: T.mb(state.limits.max_upload_mb) });
    if (text) return text;
    if (status >= 500) return T.serverProblem(status);
    if (status) return T.refused(status);
    return T.unreadable;
  }

  /** A JSON request; `allowEmpty`: a body that is not an object (null) is no error. */
  function request(url, options, allowEmpty) {
    return PAGE.requestJson(url, options, {
      describe: errorSentence,
      unreachable: T.unreachable,
      unreadable: T.unreadable,
      allowEmpty,
    });
  }

  const send = (method, url, json) => request(url, {
    method,
    ...(json === undefined ? {} : { body: JSON.stringify(json), headers: { "Content-Type": "application/json" } }),
  }, true);

  // ---------------------------------------------------------------------------------------------
  // Projects

  async function loadProjects() {
    let body;
    try {
      body = await request(API.projects);
    } catch (err) {
      if (err.status === 403) {
        ui.denied.hidden = false;
        ui.body.hidden = true;
        return false;
      }
      showMessage(err.message);
      return false;
    }
    ui.denied.hidden = true;
    ui.body.hidden = false;
    state.projects = Array.isArray(body) ? body : (body.projects || []);
    renderProjects();
    return true;
  }

  function classCount(project) {
    return Array.isArray(project.classes) ? project.classes.length : 0;
  }

  function photoCount(project) {
    if (Array.isArray(project.classes)) {
      return project.classes.reduce((sum, c) => sum + (Number(c.count) || 0), 0);
    }
    return 0;
  }

  function modelFacts(project) {
    const parts = [T.classesCount(classCount(project)), T.photosCount(photoCount(project))];
    const job = state.job;
    if (job && ACTIVE.has(job.state) && job.project === project.name) parts.push(T.trainingNow);
    else if (project.model && project.model.exists) {
      const acc = project.model.metrics && project.model.metrics.val_acc;
      parts.push(acc === undefined || acc === null ? T.trainedNoFigure : T.trained(percentText(acc)));
    } else parts.push(T.notTrained);
    return T.facts(parts);
  }

  function renderProjects() {
    ui.projects.textContent = "";
    ui.projectsEmpty.hidden = state.projects.length > 0;
    for (const project of state.projects) {
      const link = el("a", { href: `?project=${enc(project.name)}`, className: "project-link",
        "aria-current": project.name === state.name ? "true" : null },
        el("strong", { className: "project-name" }, project.title || project.name),
        el("span", { className: "project-facts" }, modelFacts(project)));
      link.addEventListener("click", (event) => {
        event.preventDefault();
        openProject(project.name, true);
      });
      ui.projects.append(el("li", { className: "project-item", dataset: { project: project.name } }, link));
    }
  }

  /** "bolt, nut，washer、screw" -> ["bolt", "nut", "washer", "screw"]: commas of both scripts. */
  function splitClasses(text) {
    return String(text || "").split(/[,\uff0c\u3001;\n]/).map((s) => s.trim()).filter(Boolean);
  }

  async function createProject(event) {
    event.preventDefault();
    clearMessage();
    // A model name is lower-case without spaces ("Bike Parts" -> "bike-parts"): the server
    // refuses anything else in words, this spares the common case.
    const name = ui.createName.value.trim().toLowerCase().replace(/\s+/g, "-");
    if (!name) {
      showMessage(T.noName);
      ui.createName.focus();
      return;
    }
    const classes = splitClasses(ui.createClasses.value);
    try {
      const title = ui.createTitle.value.trim();
      const made = await send("POST", API.projects, { name, classes, ...(title ? { title } : {}) });
      ui.createName.value = "";
      ui.createTitle.value = "";
      ui.createClasses.value = "";
      await loadProjects();
      await openProject((made && made.name) || name, true);
      showNotice(T.created((made && made.title) || (made && made.name) || name));
    } catch (err) {
      showMessage(err.message);
    }
  }

  async function openProject(name, push) {
    clearMessage();
    showNotice("");
    if (name !== state.name) {
      state.pasteClass = null;
      state.reportFor = null;
      clearTry();
    }
    let project;
    try {
      project = await request(API.project(name));
    } catch (err) {
      showMessage(err.message);
      if (err.status === 404) closeProject();
      return;
    }
    const address = `?project=${enc(name)}`;
    if (push && location.search !== address) history.pushState({ project: name }, "", address);
    state.name = name;
    state.project = project;
    renderProject();
    renderProjects();
    renderJob();
    finished();
  }

  function closeProject() {
    state.name = null;
    state.project = null;
    ui.project.hidden = true;
    history.replaceState(null, "", location.pathname);
    renderProjects();
  }

  async function refreshProject() {
    if (!state.name) return;
    try {
      state.project = await request(API.project(state.name));
    } catch (err) {
      showMessage(err.message);
      return;
    }
    renderProject();
    // the list's counts follow
    const i = state.projects.findIndex((p) => p.name === state.name);
    if (i >= 0) state.projects[i] = { ...state.projects[i], classes: state.project.classes,
      model: state.project.model };
    renderProjects();
  }

  function examplesOf(project) {
    return Array.isArray(project.examples) ? project.examples : [];
  }

  function renderProject() {
    const project = state.project;
    ui.project.hidden = false;
    ui.projectTitle.textContent = project.title || project.name;
    renderFacts();
    const classes = Array.isArray(project.classes) ? project.classes : [];
    if (!classes.some((c) => c.name === state.pasteClass)) {
      state.pasteClass = classes.length ? classes[0].name : null;
    }
    ui.classes.textContent = "";
    const examples = examplesOf(project);
    for (const klass of classes) {
      ui.classes.append(classCard(klass, examples.filter((e) => e.class === klass.name)));
    }
    renderFeedback(examples.filter((e) => e.source === "feedback"));
    renderTrainForm();
  }

  function renderFacts() {
    const project = state.project;
    if (!project) return;
    const facts = [modelFacts(project)];
    if (project.base) facts.push(T.baseIs(project.base));
    ui.projectFacts.textContent = T.facts(facts);
  }

  // ---------------------------------------------------------------------------------------------
  // Classes and their photos

  function classCard(klass, examples) {
    const name = klass.name;
    const chooser = el("input", { type: "file", accept: "image/*", multiple: true,
      className: "visually-hidden", id: `choose-${slug(name)}`, dataset: { testid: "class-input" } });
    const camera = el("input", { type: "file", accept: "image/*", capture: "environment",
      className: "visually-hidden", id: `camera-${slug(name)}`, dataset: { testid: "class-camera" } });
    chooser.addEventListener("change", () => {
      upload(name, chooser.files, "upload");
      chooser.value = "";
    });
    camera.addEventListener("change", () => {
      upload(name, camera.files, "camera");
      camera.value = "";
    });
    const recent = el("button", { type: "button", className: "button button-secondary button-small",
      dataset: { testid: "class-recent" } }, T.fromRecent);
    recent.addEventListener("click", () => pickRecent(name));
    // The same words pressed or not: a change of width would move the photos under the pointer
    // between a press and its release, and the click would miss.
    const paste = el("button", { type: "button", className: "link-button paste-target",
      "aria-pressed": String(state.pasteClass === name),
      title: state.pasteClass === name ? T.pasteTarget : T.pasteTitle(name) }, T.pasteHere);
    paste.addEventListener("click", () => setPasteClass(name));
    const remove = el("button", { type: "button", className: "link-button row-delete",
      "aria-label": T.deleteClassLabel(name), title: T.deleteClassLabel(name) }, T.deleteClass);
    remove.addEventListener("click", () => deleteClass(name, examples.length));

    const thumbs = el("ul", { className: "class-photos", dataset: { testid: "class-photos" } });
    for (const example of examples) thumbs.append(photoTile(example, name));
    const card = el("section", {
      className: state.pasteClass === name ? "card class-card is-paste-target" : "card class-card",
      dataset: { class: name, testid: "class" }, "aria-label": name },
      el("div", { className: "class-head" },
        el("h3", { className: "class-name" }, name),
        el("span", { className: "class-count", dataset: { testid: "class-count" } },
          T.photosCount(examples.length)),
        paste, remove),
      examples.length ? thumbs : el("p", { className: "teach-empty" }, T.noPhotos),
      el("div", { className: "class-drop", dataset: { testid: "class-drop" } },
        el("span", { className: "class-drop-text" }, T.dropHere),
        chooser, el("label", { htmlFor: chooser.id, className: "button button-small" }, T.choose),
        camera, el("label", { htmlFor: camera.id, className: "button button-secondary button-small camera-button" },
          T.takePhoto),
        recent));
    card.addEventListener("click", () => setPasteClass(name, true));
    card.addEventListener("focusin", () => setPasteClass(name, true));
    card.addEventListener("dragover", (event) => {
      if (!PAGE.hasFiles(event)) return;
      event.preventDefault();
      card.classList.add("is-dragover");
    });
    card.addEventListener("dragleave", (event) => {
      if (!card.contains(event.relatedTarget)) card.classList.remove("is-dragover");
    });
    card.addEventListener("drop", (event) => {
      if (!PAGE.hasFiles(event)) return;
      event.preventDefault();
      event.stopPropagation();
      card.classList.remove("is-dragover");
      upload(name, event.dataTransfer.files, "upload");
    });
    return card;
  }

  /** A string safe in an id, distinct for distinct names. */
  function slug(name) {
    return Array.from(name).map((c) => c.codePointAt(0).toString(36)).join("-");
  }

  function photoTile(example, className) {
    const img = el("img", { className: "class-thumb", alt: "", loading: "lazy",
      src: example.url || API.photo(state.name, example.id) });
    const remove = el("button", { type: "button", className: "preview-remove",
      "aria-label": T.deletePhoto(className), title: T.deletePhoto(className) }, "\u00d7");
    remove.addEventListener("click", () => deletePhoto(example, remove));
    return el("li", { className: "class-photo", dataset: { id: example.id, source: example.source || "" } },
      img, remove);
  }

  function setPasteClass(name, quiet) {
    if (state.pasteClass === name) return;
    state.pasteClass = name;
    for (const card of ui.classes.querySelectorAll(".class-card")) {
      const on = card.dataset.class === name;
      card.classList.toggle("is-paste-target", on);
      const button = card.querySelector(".paste-target");
      button.setAttribute("aria-pressed", String(on));
      button.title = on ? T.pasteTarget : T.pasteTitle(card.dataset.class);
    }
    if (!quiet) showNotice("");
  }

  /** Send photos to a class; files this page can tell are no photo are refused here first. */
  async function upload(className, fileList, source) {
    const files = Array.from(fileList || []);
    if (!files.length || !state.name) return;
    clearMessage();
    const problems = [];
    const max = state.limits.max_upload_mb * MB;
    const good = [];
    for (const file of files) {
      if (!isImage(file)) problems.push(T.wrongType(quoted(file.name)));
      else if (file.size > max) problems.push(T.tooBig(quoted(file.name), T.mb(state.limits.max_upload_mb)));
      else good.push(file);
    }
    if (good.length) {
      showNotice(T.adding(T.photosCount(good.length), className));
      const form = new FormData();
      for (const file of good) form.append("files", file, file.name);
      form.append("source", source);
      let rows = [];
      try {
        const body = await request(API.photos(state.name, className), { method: "POST", body: form });
        rows = Array.isArray(body) ? body : (body.rows || body.results || []);
      } catch (err) {
        problems.unshift(err.message);
        rows = null;
      }
      if (rows) {
        let ok = 0;
        rows.forEach((row, i) => {
          if (row && row.error) {
            const file = good[i] ? quoted(good[i].name) : "";
            problems.push(T.notAdded(file, errorSentence(row.error, 0)));
          } else ok += 1;
        });
        showNotice(ok ? T.added(T.photosCount(ok), className) : "");
      } else showNotice("");
      await refreshProject();
    }
    if (problems.length) showMessage(problems);
  }

  async function deletePhoto(example, button) {
    button.disabled = true;
    clearMessage();
    try {
      await send("DELETE", API.photo(state.name, example.id));
    } catch (err) {
      showMessage(err.message);
    }
    await refreshProject();
  }

  async function addClass(event) {
    event.preventDefault();
    const name = ui.addClassName.value.trim();
    if (!name || !state.name) return;
    clearMessage();
    try {
      await send("POST", API.classes(state.name), { name });
      ui.addClassName.value = "";
      showNotice(T.addedClass(name));
    } catch (err) {
      showMessage(err.message);
    }
    await refreshProject();
  }

  async function deleteClass(name, count) {
    if (!(await confirmDelete(T.confirmClassTitle, T.confirmClass(name, T.photosCount(count))))) return;
    clearMessage();
    try {
      await send("DELETE", API.klass(state.name, name));
      showNotice(T.deletedClass(name));
    } catch (err) {
      showMessage(err.message);
    }
    await refreshProject();
  }

  async function deleteProject() {
    const name = state.name;
    if (!name) return;
    if (!(await confirmDelete(T.confirmProjectTitle, T.confirmProject(name)))) return;
    clearMessage();
    try {
      await send("DELETE", API.project(name));
      showNotice(T.deletedProject(name));
      closeProject();
    } catch (err) {
      showMessage(err.message);
    }
    await loadProjects();
  }

  /** Ask in the page's own dialog; resolves to true when the user chose Delete. */
  function confirmDelete(title, text) {
    ui.confirmTitle.textContent = title;
    ui.confirmText.textContent = text;
    return new Promise((resolve) => {
      ui.confirm.addEventListener("close", () => resolve(ui.confirm.returnValue === "delete"),
        { once: true });
      ui.confirm.returnValue = "";
      ui.confirm.showModal();
      $("confirm-no").focus(); // the safe choice is the default one
    });
  }

  // ---------------------------------------------------------------------------------------------
  // From recent photos: the ones recognized in this browser (recent.js)

  async function pickRecent(className) {
    const photos = window.localvisionRecent ? await window.localvisionRecent.list() : [];
    const urls = [];
    const picked = new Set();
    ui.recentTitle.textContent = T.recentTitle(className);
    ui.recentList.textContent = "";
    ui.recentEmpty.hidden = photos.length > 0;
    ui.recentAdd.disabled = true;
    for (const photo of photos) {
      const url = URL.createObjectURL(photo.blob);
      urls.push(url);
      const button = el("button", { type: "button", className: "recent-photo",
        "aria-pressed": "false", "aria-label": T.recentPick(photo.name), title: photo.name },
        el("img", { src: url, alt: "" }));
      button.addEventListener("click", () => {
        if (picked.has(photo)) picked.delete(photo);
        else picked.add(photo);
        button.setAttribute("aria-pressed", String(picked.has(photo)));
        ui.recentAdd.disabled = picked.size === 0;
      });
      ui.recentList.append(el("li", {}, button));
    }
    ui.recent.returnValue = "";
    ui.recent.showModal();
    await new Promise((resolve) => ui.recent.addEventListener("close", resolve, { once: true }));
    for (const url of urls) URL.revokeObjectURL(url);
    if (ui.recent.returnValue !== "add" || !picked.size) return;
    const files = Array.from(picked).map((p) => new File([p.blob], p.name, { type: p.type || p.blob.type }));
    await upload(className, files, "history");
  }

  // ---------------------------------------------------------------------------------------------
  // Corrections sent from the Recognize page

  function renderFeedback(examples) {
    ui.feedbackBlock.hidden = examples.length === 0;
    ui.feedbackBody.textContent = "";
    const sorted = [...examples].sort((a, b) => String(b.added_at).localeCompare(String(a.added_at)));
    for (const example of sorted) {
      const remove = el("button", { type: "button", className: "link-button row-delete",
        "aria-label": T.deletePhoto(example.class), title: T.deletePhoto(example.class) },
        T.confirmDelete);
      remove.addEventListener("click", () => deletePhoto(example, remove));
      ui.feedbackBody.append(el("tr", { dataset: { id: example.id } },
        el("td", { className: "cell-thumb" }, el("img", { className: "row-thumb", alt: "",
          loading: "lazy", src: example.url || API.photo(state.name, example.id) })),
        el("td", { className: "cell-label" }, el("span", { className: "label" }, example.class)),
        el("td", {}, example.predicted || "\u2014"),
        el("td", {}, example.user || T.someone),
        el("td", { className: "cell-time" }, timeText(example.added_at)),
        el("td", { className: "cell-actions" }, remove)));
    }
  }

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
    const examples = examplesOf(project);
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
      renderProjects();
      renderFacts();
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
    else finished();
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
      renderProjects();
      renderFacts();
      // Done: the model and its report are written (the trainer says "done" only then), so
      // they are shown now, while the service loads the model; failed or cancelled: the job's
      // own final word (its error).
      if (state.job.state === "done") finished();
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
        openProject(job.project, true);
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
      await refreshProject(); // its model, trained just now
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
      renderJob();
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
      await loadServed();
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
    renderTrainForm();
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

  // ---------------------------------------------------------------------------------------------
  // Wiring

  let pasted = 0;

  function wire() {
    ui.createForm.addEventListener("submit", createProject);
    ui.addClassForm.addEventListener("submit", addClass);
    ui.deleteProject.addEventListener("click", deleteProject);
    ui.train.addEventListener("click", startTraining);
    ui.cancel.addEventListener("click", cancelTraining);
    ui.mode.addEventListener("change", () => { ui.mode.dataset.touched = "true"; });
    ui.tryInput.addEventListener("change", () => {
      tryPhotos(ui.tryInput.files);
      ui.tryInput.value = "";
    });
    ui.tryZone.addEventListener("dragover", (event) => {
      if (PAGE.hasFiles(event)) event.preventDefault();
    });
    ui.tryZone.addEventListener("drop", (event) => {
      if (!PAGE.hasFiles(event)) return;
      event.preventDefault();
      event.stopPropagation();
      tryPhotos(event.dataTransfer.files);
    });
    // A drop that misses its target must not make the browser open the photo instead.
    window.addEventListener("dragover", (event) => {
      if (PAGE.hasFiles(event)) event.preventDefault();
    });
    window.addEventListener("drop", (event) => {
      if (PAGE.hasFiles(event)) event.preventDefault();
    });
    document.addEventListener("paste", (event) => {
      if (!state.name || !state.pasteClass || ui.project.hidden) return;
      if (event.target && event.target.closest && event.target.closest("input, textarea")) return;
      const files = event.clipboardData ? PAGE.filesFromClipboard(event.clipboardData) : [];
      if (!files.length) return;
      event.preventDefault();
      const named = files.map((file) => {
        pasted += 1;
        return PAGE.pastedFile(file, pasted);
      });
      upload(state.pasteClass, named, "paste");
    });
    window.addEventListener("popstate", () => {
      const name = new URLSearchParams(location.search).get("project");
      if (name) openProject(name, false);
      else closeProject();
    });
  }

  async function start() {
    PAGE.applyStrings(T);
    wire();
    await loadServed();
    if (!(await loadProjects())) return;
    await loadJob();
    const name = new URLSearchParams(location.search).get("project");
    if (name) await openProject(name, false);
  }

  start();
})();
