/* localvision, the Teach page: wiring the page's controls, and its start. Loaded last, after
 * teach/base.js and every section (window.localvisionTeach holds what they share).
 */
"use strict";

(function (teach) {
  const {
    T, PAGE, ui, state,
  } = teach;

  // ---------------------------------------------------------------------------------------------
  // Wiring

  let pasted = 0;

  function wire() {
    ui.createForm.addEventListener("submit", teach.createProject);
    ui.addClassForm.addEventListener("submit", teach.addClass);
    ui.deleteProject.addEventListener("click", teach.deleteProject);
    ui.train.addEventListener("click", teach.startTraining);
    ui.cancel.addEventListener("click", teach.cancelTraining);
    ui.mode.addEventListener("change", () => { ui.mode.dataset.touched = "true"; });
    ui.tryInput.addEventListener("change", () => {
      teach.tryPhotos(ui.tryInput.files);
      ui.tryInput.value = "";
    });
    ui.tryZone.addEventListener("dragover", (event) => {
      if (PAGE.hasFiles(event)) event.preventDefault();
    });
    ui.tryZone.addEventListener("drop", (event) => {
      if (!PAGE.hasFiles(event)) return;
      event.preventDefault();
      event.stopPropagation();
      teach.tryPhotos(event.dataTransfer.files);
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
      teach.upload(state.pasteClass, named, "paste");
    });
    window.addEventListener("popstate", () => {
      const name = new URLSearchParams(location.search).get("project");
      if (name) teach.openProject(name, false);
      else teach.closeProject();
    });
  }

  async function start() {
    PAGE.applyStrings(T);
    wire();
    await teach.loadServed();
    if (!(await teach.loadProjects())) return;
    await teach.loadJob();
    const name = new URLSearchParams(location.search).get("project");
    if (name) await teach.openProject(name, false);
  }

  start();
})(window.localvisionTeach);
