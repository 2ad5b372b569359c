/* localvision, the Teach page: the projects (a model of one's own: its name, title and classes).
 * The list of them, making one, opening one (named in the address, ?project=NAME) and showing
 * it. Loaded after teach/base.js, whose pieces it shares (window.localvisionTeach).
 */
"use strict";

(function (teach) {
  const {
    T, enc, API, ACTIVE, ui, state, showMessage, clearMessage, showNotice, request, send, el,
    percentText,
  } = teach;

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
      teach.clearTry();
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
    teach.renderJob();
    teach.finished();
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
      const photos = examples.filter((e) => e.class === klass.name);
      ui.classes.append(teach.classCard(klass, photos));
    }
    teach.renderFeedback(examples.filter((e) => e.source === "feedback"));
    teach.renderTrainForm();
  }

  function renderFacts() {
    const project = state.project;
    if (!project) return;
    const facts = [modelFacts(project)];
    if (project.base) facts.push(T.baseIs(project.base));
    ui.projectFacts.textContent = T.facts(facts);
  }

  Object.assign(teach, {
    loadProjects, closeProject, refreshProject, renderProjects, openProject, examplesOf,
    renderFacts, createProject,
  });
})(window.localvisionTeach);
