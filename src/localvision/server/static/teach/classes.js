/* localvision, the Teach page: a project's classes and their photos. Each class is a card that
 * takes photos by drop, chooser, camera, paste or "From recent photos" (recent.js); each photo a
 * thumbnail with a delete button; below them, the corrections sent from the Recognize page.
 * Loaded after teach/base.js, whose pieces it shares (window.localvisionTeach).
 */
"use strict";

(function (teach) {
  const {
    T, PAGE, API, MB, ui, state, timeText, showMessage, clearMessage, showNotice, errorSentence,
    request, send, el, quoted, isImage,
  } = teach;

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
      await teach.refreshProject();
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
    await teach.refreshProject();
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
    await teach.refreshProject();
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
    await teach.refreshProject();
  }

  async function deleteProject() {
    const name = state.name;
    if (!name) return;
    if (!(await confirmDelete(T.confirmProjectTitle, T.confirmProject(name)))) return;
    clearMessage();
    try {
      await send("DELETE", API.project(name));
      showNotice(T.deletedProject(name));
      teach.closeProject();
    } catch (err) {
      showMessage(err.message);
    }
    await teach.loadProjects();
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

  Object.assign(teach, { classCard, renderFeedback, upload, addClass, deleteProject });
})(window.localvisionTeach);
