/* localvision: the Live camera page. The browser's camera (getUserMedia; on a phone the rear one,
 * facingMode "environment") is drawn onto a canvas, each frame sent as a JPEG over the WebSocket
 * /api/v1/live (server/camera.py), and the answer shown as the top 3 labels with bars, with the
 * frames answered per second and a pause button.
 *
 * The latest frame wins: one frame is in flight at a time, the next is taken from the camera
 * only when the last has been answered, so a slow model means fewer frames, never a queue (the
 * server also keeps only the newest frame it has not begun). Frames are scaled down to at most
 * SEND_PX on their long side first: the model looks at 224 px anyway.
 *
 * The model: the one the Recognize page's picker chose (localStorage "localvision.model") when
 * it is served and ready, else the server's default; with several ready models a picker here
 * too. A connection lost is tried again, with a growing pause; an answer for a bad frame is a
 * sentence in #message and the camera goes on.
 *
 * getUserMedia needs a secure page: https, or this machine's own address (localhost,
 * 127.0.0.1). A phone opening the service by its LAN address over plain http gets no camera;
 * the page says so (and what to do) rather than failing silently.
 *
 * Every string this page shows is i18n.js's (localvisionI18n.strings("live"), in the page's
 * language); the helpers it shares with the other pages are page.js's. Text from the server is
 * only set with textContent.
 */
"use strict";

(function () {
  const I18N = window.localvisionI18n;
  const T = I18N.strings("live");
  const PAGE = window.localvisionPage;
  const { el, percentText, barWidth, saved, save } = PAGE;

  const SEND_PX = 640; // the long side of a frame as sent
  const JPEG_QUALITY = 0.8;
  const FPS_WINDOW_MS = 3000; // frames per second: the answers of the last few seconds
  const STALL_MS = 15000; // a frame unanswered this long: the connection is taken as lost
  const RETRY_MS = [1000, 2000, 4000, 8000]; // reconnecting: waits, the last one repeated
  const SAVED_MODEL = "localvision.model"; // shared with the Recognize page's picker
  const ERROR_PAUSE_MS = 1000; // after a frame's error, before the next frame
  const POLICY_VIOLATION = 1008; // the server refused the connection's parameters: no retry

  const $ = (id) => document.getElementById(id);
  const ui = {
    video: $("live-video"),
    pause: $("live-pause"),
    fps: $("live-fps"),
    status: $("live-status"),
    result: $("live-result"),
    eyebrow: $("live-eyebrow"),
    top: $("live-top"),
    predictions: $("live-predictions"),
    message: $("message"),
    bannerModel: $("banner-model"),
  };
  const state = {
    socket: null,
    open: false,
    inFlight: false,
    sentAt: 0,
    paused: false,
    answers: [], // when each answer came (for frames per second)
    retries: 0,
    retryTimer: null,
    refused: false, // the server refused the connection: retrying would not help
    model: null,
    models: [],
    canvas: document.createElement("canvas"),
  };

  const showMessage = (text) => PAGE.showMessage(ui.message, text);
  const clearMessage = () => PAGE.clearMessage(ui.message);

  function setStatus(text) {
    ui.status.textContent = text;
  }

  // ---------------------------------------------------------------------------------------------
  // The model

  async function loadModels() {
    let info = null;
    try {
      const response = await fetch("/api/v1/models", { headers: { Accept: "application/json" } });
      PAGE.checkSignedIn(response);
      if (response.ok) info = await response.json();
    } catch (err) {
      info = null; // the socket will say what is wrong
    }
    const models = info && Array.isArray(info.models) ? info.models : [];
    state.models = models.filter((m) => m && m.state === "ready").map((m) => m.name);
    const chosen = saved(SAVED_MODEL);
    state.model = state.models.includes(chosen) ? chosen : (info && info.default) || null;
    renderModel();
  }

  function renderModel() {
    ui.bannerModel.textContent = "";
    if (!state.model) {
      ui.bannerModel.hidden = true;
      return;
    }
    if (state.models.length > 1) {
      const select = el("select", { id: "model-picker", className: "model-picker",
        dataset: { testid: "model-picker" } },
      state.models.map((name) => el("option", { value: name, selected: name === state.model }, name)));
      select.addEventListener("change", () => {
        state.model = select.value;
        save(SAVED_MODEL, state.model);
        reconnect(0);
      });
      ui.bannerModel.append(el("label", { className: "banner-label", htmlFor: "model-picker" },
        T.modelLabel), " ", select);
    } else {
      ui.bannerModel.append(el("span", { className: "banner-label" }, T.modelLabel), " ",
        el("strong", { className: "model-name" }, state.model));
    }
    ui.bannerModel.hidden = false;
  }

  // ---------------------------------------------------------------------------------------------
  // The camera

  async function startCamera() {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      throw new Error(T.noCameraApi);
    }
    let stream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({
        audio: false,
        // The rear camera on a phone; a laptop's only camera otherwise ("ideal", not "exact").
        video: { facingMode: { ideal: "environment" }, width: { ideal: 1280 }, height: { ideal: 720 } },
      });
    } catch (err) {
      const name = err && err.name;
      if (name === "NotAllowedError" || name === "SecurityError") throw new Error(T.cameraDenied);
      if (name === "NotFoundError" || name === "OverconstrainedError") throw new Error(T.noCamera);
      if (name === "NotReadableError" || name === "AbortError") throw new Error(T.cameraBusy);
      throw new Error(T.cameraFailed(name || String(err)));
    }
    ui.video.srcObject = stream;
    await ui.video.play().catch(() => {}); // autoplay of a muted video is allowed; be safe
  }

  /** The current camera picture as a JPEG blob, or null when the video has no frame yet. */
  function grab() {
    const video = ui.video;
    const w = video.videoWidth;
    const h = video.videoHeight;
    if (!w || !h) return Promise.resolve(null);
    const scale = Math.min(1, SEND_PX / Math.max(w, h));
    const canvas = state.canvas;
    canvas.width = Math.round(w * scale);
    canvas.height = Math.round(h * scale);
    canvas.getContext("2d").drawImage(video, 0, 0, canvas.width, canvas.height);
    return new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", JPEG_QUALITY));
  }

  // ---------------------------------------------------------------------------------------------
  // The socket

  function socketUrl() {
    const params = new URLSearchParams({ lang: I18N.lang || "en" });
    if (state.model) params.set("model", state.model);
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    return `${scheme}//${location.host}/api/v1/live?${params}`;
  }

  function connect() {
    clearTimeout(state.retryTimer);
    state.refused = false;
    setStatus(T.connecting);
    const socket = new WebSocket(socketUrl());
    state.socket = socket;
    socket.addEventListener("message", (event) => {
      if (socket === state.socket) onMessage(event.data);
    });
    socket.addEventListener("close", (event) => {
      if (socket !== state.socket) return; // a socket we replaced on purpose
      state.open = false;
      state.inFlight = false;
      ui.pause.disabled = true;
      if (state.refused || event.code === POLICY_VIOLATION) return; // the message says why
      reconnect(RETRY_MS[Math.min(state.retries, RETRY_MS.length - 1)]);
      state.retries += 1;
    });
  }

  function reconnect(ms) {
    clearTimeout(state.retryTimer);
    const old = state.socket;
    state.socket = null;
    state.open = false;
    state.inFlight = false;
    if (old) old.close();
    if (ms > 0) setStatus(T.reconnecting(Math.round(ms / 1000)));
    state.retryTimer = setTimeout(connect, ms);
  }

  function onMessage(data) {
    let message;
    try {
      message = JSON.parse(data);
    } catch (err) {
      return; // not ours
    }
    if (message.type === "ready") {
      state.open = true;
      state.retries = 0;
      ui.pause.disabled = false;
      clearMessage();
      setStatus(state.paused ? T.paused : T.waiting);
      next();
      return;
    }
    if (message.type === "result") {
      state.inFlight = false;
      clearMessage();
      count();
      render(message);
      if (!state.paused) setStatus(T.live);
      next();
      return;
    }
    if (message.type === "error") {
      const text = I18N.errorText(message.error) || T.unreachable;
      if (message.frame === null || message.frame === undefined) {
        state.refused = true; // the connection itself was refused (an unknown model...)
        showMessage(text);
      } else {
        state.inFlight = false;
        showMessage(T.badFrame(text));
        // A model not ready or busy answers every frame so: ask again in a while, not at once.
        setTimeout(next, ERROR_PAUSE_MS);
      }
    }
  }

  async function next() {
    if (!state.open || state.inFlight || state.paused || document.hidden) return;
    state.inFlight = true; // held while the frame is grabbed, so no second one starts
    const blob = await grab();
    const socket = state.socket;
    if (!blob || !socket || socket.readyState !== WebSocket.OPEN || state.paused) {
      state.inFlight = false;
      if (!blob && !state.paused) setTimeout(next, 100); // the video has no picture yet
      return;
    }
    state.sentAt = performance.now();
    socket.send(blob);
  }

  // ---------------------------------------------------------------------------------------------
  // What is shown

  function count() {
    const now = performance.now();
    state.answers.push(now);
    while (state.answers.length && state.answers[0] < now - FPS_WINDOW_MS) state.answers.shift();
    showFps();
  }

  function showFps() {
    const now = performance.now();
    const recent = state.answers.filter((t) => t >= now - FPS_WINDOW_MS);
    if (state.paused || recent.length < 2) {
      ui.fps.textContent = state.paused ? "" : ui.fps.textContent;
      return;
    }
    const span = (recent[recent.length - 1] - recent[0]) / 1000;
    const fps = span > 0 ? (recent.length - 1) / span : 0;
    ui.fps.textContent = T.fps(fps.toFixed(1));
    ui.fps.dataset.fps = fps.toFixed(2);
  }

  function render(message) {
    const preds = Array.isArray(message.predictions) ? message.predictions : [];
    if (!preds.length) return;
    const top = preds[0];
    ui.result.classList.toggle("is-uncertain", Boolean(message.uncertain));
    ui.eyebrow.textContent = message.uncertain ? T.notSure : T.mostLikely;
    ui.top.textContent = message.uncertain ? T.maybe(top.label) : top.label;
    ui.top.dataset.label = top.label;
    ui.top.dataset.frame = message.frame; // which frame this is the answer for
    ui.top.append(" ", el("span", { className: "top-percent" }, percentText(top.probability)));
    ui.predictions.textContent = "";
    preds.forEach((p, i) => {
      ui.predictions.append(el("li", { className: i ? "prediction" : "prediction is-top" },
        el("span", { className: "label-cell" }, el("span", { className: "label" }, p.label)),
        el("span", { className: "bar-track", "aria-hidden": "true" },
          el("span", { className: "bar", style: `width: ${barWidth(p.probability)}` })),
        el("span", { className: "percent" }, percentText(p.probability))));
    });
  }

  function togglePause() {
    state.paused = !state.paused;
    ui.pause.textContent = state.paused ? T.resume : T.pause;
    ui.pause.setAttribute("aria-pressed", String(state.paused));
    setStatus(state.paused ? T.paused : T.live);
    if (state.paused) {
      state.answers = [];
      ui.fps.textContent = "";
      delete ui.fps.dataset.fps;
    } else {
      next();
    }
  }

  // A frame unanswered for long: the connection is dead without having said so.
  setInterval(() => {
    if (state.inFlight && state.sentAt && performance.now() - state.sentAt > STALL_MS) {
      state.sentAt = 0;
      reconnect(0);
    }
    showFps();
  }, 1000);

  document.addEventListener("visibilitychange", () => {
    if (!document.hidden) next(); // a hidden tab sends nothing
  });

  async function start() {
    PAGE.applyStrings(T);
    ui.pause.addEventListener("click", togglePause);
    await loadModels();
    try {
      await startCamera();
    } catch (err) {
      setStatus("");
      showMessage(err.message);
      return;
    }
    connect();
  }

  start();
})();
