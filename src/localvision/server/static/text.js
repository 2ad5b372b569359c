/* localvision: the text read in a photo (?text=true), as the Recognize page shows it. Loaded
 * after page.js, before app.js; window.localvisionText holds:
 *
 * - view(lines, T, img): {overlay, panel} for one photo: `overlay`, an SVG to lay over `img`
 *   with each line's box, numbered (null without an img); `panel`, the lines in reading order
 *   with their confidence and a "Copy text" button, or "No text found" for an empty list.
 *   Hovering a line lights up its box, and hovering a box its line.
 * - inRow(lines, T): the lines on one line, for a row of the results table.
 * - joined(lines): the lines as the clipboard gets them, one per line.
 *
 * `lines` is the server's `text`: [{text, confidence, box: [[x, y] x4]}] in reading order, the
 * boxes in the pixels of the upright photo (EXIF orientation applied, as an <img> shows it).
 * The overlay's viewBox is those pixels, and its aspect-ratio rule is the image's own
 * (object-fit: contain is "xMidYMid meet"), so the boxes stay on the text at any displayed size
 * without a script running on resize; only the numbers' size follows the scale.
 *
 * The text comes from a photo, so anyone can write it: it is only ever set as text (textContent,
 * SVG text nodes), never as HTML.
 */
"use strict";

(function () {
  const PAGE = window.localvisionPage;
  const { el, percentText } = PAGE;
  const SVG_NS = "http://www.w3.org/2000/svg";
  const COPIED_MS = 2000; // how long the button says "Copied"

  /** An SVG element with these attributes (a plain script cannot use el(): that makes HTML). */
  function svgNode(tag, attrs, ...children) {
    const node = document.createElementNS(SVG_NS, tag);
    for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, String(value));
    for (const child of children) node.append(child);
    return node;
  }

  /** A box as the server sends it: four [x, y] points, numbers; null for anything else. */
  function points(box) {
    if (!Array.isArray(box) || box.length !== 4) return null;
    const out = box.map((p) => (Array.isArray(p) ? [Number(p[0]), Number(p[1])] : null));
    return out.every((p) => p && Number.isFinite(p[0]) && Number.isFinite(p[1])) ? out : null;
  }

  /** The lines worth showing: those with a string (the server sends nothing else). */
  function usable(lines) {
    return (Array.isArray(lines) ? lines : []).filter((l) => l && typeof l.text === "string");
  }

  function joined(lines) {
    return usable(lines).map((l) => l.text).join("\n");
  }

  // ---------------------------------------------------------------------------------------------
  // The boxes over the photo

  /** The SVG of the boxes over `img`; it shows once the photo's own size is known. */
  function overlay(lines) {
    const svg = svgNode("svg", { class: "text-overlay", "aria-hidden": "true", focusable: "false",
      preserveAspectRatio: "xMidYMid meet", "data-testid": "text-overlay" });
    lines.forEach((line, i) => {
      const box = points(line.box);
      if (!box) return;
      const [x, y] = box[0]; // the first point is the top-left one, in reading direction
      svg.append(svgNode("g", { class: "text-box", "data-index": i },
        svgNode("polygon", { points: box.map((p) => p.join(",")).join(" ") }),
        svgNode("circle", { class: "text-box-tag", cx: x, cy: y }),
        svgNode("text", { class: "text-box-number", x, y }, String(i + 1))));
    });
    return svg;
  }

  /** Give `svg` the photo's pixels as its coordinates, and its numbers a size that reads the
   * same at any scale (CSS --u: photo pixels per screen pixel). */
  function fit(svg, img) {
    const size = () => [img.naturalWidth, img.naturalHeight];
    const scale = () => {
      const [w, h] = size();
      const rect = svg.getBoundingClientRect();
      const s = Math.min(rect.width / w, rect.height / h);
      if (s > 0 && Number.isFinite(s)) svg.style.setProperty("--u", String(1 / s));
    };
    const place = () => {
      const [w, h] = size();
      if (!w || !h) return; // not drawable here (a TIFF): no boxes rather than wrong ones
      svg.setAttribute("viewBox", `0 0 ${w} ${h}`);
      svg.classList.add("is-placed");
      scale();
      if ("ResizeObserver" in window) new ResizeObserver(scale).observe(svg);
    };
    if (img.complete && img.naturalWidth) place();
    else img.addEventListener("load", place, { once: true });
  }

  // ---------------------------------------------------------------------------------------------
  // The lines

  function copyButton(lines, T) {
    const button = el("button", { type: "button", className: "link-button text-copy",
      dataset: { testid: "copy-text" } }, T.textCopy);
    const said = el("span", { className: "text-copy-said", role: "status" });
    let timer = null;
    button.addEventListener("click", async () => {
      clearTimeout(timer);
      try {
        await navigator.clipboard.writeText(joined(lines));
        said.textContent = T.copied;
      } catch (err) {
        // No clipboard here (an insecure origin, a refusal): select the lines for Ctrl+C.
        const list = button.closest(".text-block").querySelector(".text-lines");
        const range = document.createRange();
        range.selectNodeContents(list);
        window.getSelection().removeAllRanges();
        window.getSelection().addRange(range);
        said.textContent = T.textCopyFailed;
      }
      timer = setTimeout(() => { said.textContent = ""; }, COPIED_MS);
    });
    return [button, said];
  }

  function lineItem(line, i, T) {
    const percent = percentText(line.confidence);
    return el("li", { className: "text-line", dataset: { index: i } },
      el("span", { className: "text-number", "aria-hidden": "true" }, String(i + 1)),
      el("span", { className: "text-string" }, line.text),
      el("span", { className: "text-confidence", title: T.textConfidence(percent) }, percent));
  }

  /** The lines, numbered as their boxes are, with "Copy text"; or "No text found". */
  function panel(lines, T, name) {
    const head = el("div", { className: "text-head" },
      el("p", { className: "eyebrow" }, T.textTitle));
    const block = el("section", { className: "text-block", dataset: { testid: "text-block" } },
      head);
    if (!lines.length) {
      block.append(el("p", { className: "text-none", dataset: { testid: "text-none" } },
        T.textNone));
      return block;
    }
    head.append(...copyButton(lines, T));
    const label = T.textLinesOf(lines.length, name);
    block.append(el("ol", { className: "text-lines", "aria-label": label },
      lines.map((line, i) => lineItem(line, i, T))));
    return block;
  }

  /** Light up line `i` in the list and its box together, from either side. */
  function linkHover(panelNode, svg) {
    const mark = (i, on) => {
      for (const node of [...panelNode.querySelectorAll(`.text-line[data-index="${i}"]`),
        ...(svg ? svg.querySelectorAll(`.text-box[data-index="${i}"]`) : [])]) {
        node.classList.toggle("is-active", on);
      }
    };
    const wire = (node) => {
      const i = node.getAttribute("data-index");
      node.addEventListener("mouseenter", () => mark(i, true));
      node.addEventListener("mouseleave", () => mark(i, false));
    };
    panelNode.querySelectorAll(".text-line").forEach(wire);
    if (svg) svg.querySelectorAll(".text-box").forEach(wire);
  }

  /** The overlay (over `img`, if given) and the panel for one photo's lines. */
  function view(lines, T, img, name) {
    const shown = usable(lines);
    const svg = img && shown.length ? overlay(shown) : null;
    if (svg) fit(svg, img);
    const node = panel(shown, T, name || "");
    linkHover(node, svg);
    return { overlay: svg, panel: node };
  }

  /** The lines in a table row: one line ("Text: a / b"), the whole text in its title. */
  function inRow(lines, T) {
    const shown = usable(lines);
    if (!shown.length) return el("span", { className: "row-text text-none" }, T.textNone);
    return el("span", { className: "row-text", title: joined(shown) },
      T.rowText(shown.map((l) => l.text).join(" / ")));
  }

  window.localvisionText = { view, inRow, joined };
})();
