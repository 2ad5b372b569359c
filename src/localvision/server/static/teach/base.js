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
 * Every string this page shows is i18n.js's (localvisionI18n.strings("teach"), in the page's
 * language; the HTML's own text is replaced from it at start, by data-i18n keys), and so is the
 * sentence for each of the server's error codes. Text from the server and from files is only
 * ever set with textContent.
 *
 * The page's script is in sections, one file each, loaded in this order by teach.html:
 * teach/base.js (this file: the addresses, the page's elements and state, talking to the
 * server), projects.js, classes.js (their photos, "From recent photos", the corrections),
 * training.js, report.js (and "try it"), start.js (wiring, and the start). They share one object,
 * window.localvisionTeach: this file puts its pieces there, each section the functions that
 * others call (a call from one section to another goes through it when it runs, so only this
 * file must come first and start.js last); the helpers every page shares are page.js's.
 */
"use strict";

(function () {
  const I18N = window.localvisionI18n;
  const T = I18N.strings("teach");
  const PAGE = window.localvisionPage;
  const { el, percentText, quoted, isImage, save } = PAGE;

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

  // What the sections (teach/*.js) share; each adds the functions the others call.
  window.localvisionTeach = {
    T, enc, API, ACTIVE, ui, state, showMessage, clearMessage, showNotice, request, send, el,
    percentText, PAGE, MB, timeText, errorSentence, quoted, isImage, FINISHED, number,
    durationText, I18N, MODEL_POLL_MS, CLASSIFY_CHUNK, REPORT_TRIES, SAVED_MODEL, save,
  };
})();
