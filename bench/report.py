"""Turn one run's measurements into ratios, a pass/fail target list and markdown tables.

Everything here is pure (dicts in, dicts/strings out), so it can be re-run on a
saved JSON: ``python -c "import json,bench.report as r; print(r.markdown(json.load(open(p))))"``.
"""

from __future__ import annotations

import math

# (label, server, image, clients, metric, op, threshold): metric "rps_x" is req/s / classic's,
# "p50_x" is p50 / classic's; the localvision servers are named localvision-<precision>.
HTTP_TARGETS = (
    # issue 9: >= 4x with int8, >= 2x with bf16, >= 1.2x with fp32 (the model alone is ~6x, 3.6x
    # and 1.9x the classic's req/s on these cores); >= 5x with int8 for the >= 4 MP JPEG
    ("HTTP, <=1 MP JPEG, 8 clients, req/s (int8)", "localvision-int8", "small", 8, "rps_x", ">=", 4.0),
    ("HTTP, <=1 MP JPEG, 8 clients, req/s (bf16)", "localvision-bf16", "small", 8, "rps_x", ">=", 2.0),
    ("HTTP, <=1 MP JPEG, 8 clients, req/s (fp32)", "localvision-fp32", "small", 8, "rps_x", ">=", 1.2),
    ("HTTP, >=4 MP JPEG, 8 clients, req/s (int8)", "localvision-int8", "large", 8, "rps_x", ">=", 5.0),
    ("1 client, p50 latency, <=1 MP (int8)", "localvision-int8", "small", 1, "p50_x", "<=", 0.25),
    ("1 client, p50 latency, <=1 MP (bf16)", "localvision-bf16", "small", 1, "p50_x", "<=", 0.25),
    ("1 client, p50 latency, <=1 MP (fp32)", "localvision-fp32", "small", 1, "p50_x", "<=", 0.25),
    ("1 client, p50 latency, >=4 MP (int8)", "localvision-int8", "large", 1, "p50_x", "<=", 0.25),
)  # fmt: skip
# HTTP req/s at 8 clients against the model alone at the same precision (img/s at batch 8, the
# server's max batch): what the serving path keeps of the model's speed. Goal: >= 0.6.
SERVING_SHARE = 0.6
RSS_LIMIT_MB = 300.0
# (label, backend, precision, field, op, threshold)
ENGINE_TARGETS = (
    ("model only, int8, batch 1, p50 (ms)", "openvino", "int8", "bs1_p50_ms", "<=", 12.0),
    ("model only, int8, batch 16 (img/s)", "openvino", "int8", "bs16_img_s", ">=", 90.0),
    ("model only, fp32, batch 16 (img/s)", "openvino", "fp32", "bs16_img_s", ">=", 45.0),
)


def _ok(value: float | None, op: str, threshold: float) -> bool | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if op in ("<", ">"):
        return value < threshold if op == "<" else value > threshold
    return value >= threshold if op == ">=" else value <= threshold


def _cell(http: list[dict], server: str, image: str, clients: int) -> dict | None:
    for srv in http:
        if srv["name"] == server:
            for c in srv.get("cells", []):
                if c["image"] == image and c["clients"] == clients:
                    return c
    return None


def _div(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or not b or math.isnan(a) or math.isnan(b):
        return None
    return a / b


def add_ratios(http: list[dict]) -> None:
    """Each localvision cell gets ``rps_x`` (req/s / classic's) and ``p50_x`` (p50 / classic's)."""
    for srv in http:
        if srv["name"] == "classic":
            continue
        for c in srv.get("cells", []):
            base = _cell(http, "classic", c["image"], c["clients"])
            c["rps_x"] = _div(c["rps"], base and base["rps"])
            c["p50_x"] = _div(c["p50_ms"], base and base["p50_ms"])


def add_engine_ratios(engine: list[dict]) -> None:
    """Each row gets ``bs1_x`` (classic p50 / its p50: a speed-up) and ``bs16_x`` (img/s ratio)."""
    base = next((r for r in engine if r["backend"] == "classic"), None)
    for r in engine:
        r["bs1_x"] = _div(base and base.get("bs1_p50_ms"), r.get("bs1_p50_ms"))
        r["bs16_x"] = _div(r.get("bs16_img_s"), base and base.get("bs16_img_s"))


def _target(label: str, op: str, threshold: float, unit: str, value, noisy: bool) -> dict:
    """One target row: the goal, the measured value, pass (None when not measured), noise."""
    return {
        "target": label,
        "op": op,
        "threshold": threshold,
        "unit": unit,
        "value": value,
        "pass": _ok(value, op, threshold),
        "noisy": noisy,
    }


def targets(results: dict) -> list[dict]:
    """Every target with its measured value, pass (True/False/None when not measured), noise."""
    http, engine, out = results["http"], results["engine"], []
    for label, server, image, clients, metric, op, threshold in HTTP_TARGETS:
        c = _cell(http, server, image, clients)
        base = _cell(http, "classic", image, clients)
        noisy = bool((c and c["noisy"]) or (base and base["noisy"]))
        out.append(_target(label, op, threshold, "x classic", c and c.get(metric), noisy))
    for srv in http:
        if not srv["name"].startswith("localvision") or srv.get("role"):
            continue
        label = f"server RSS, peak over the run ({srv['name']})"
        out.append(_target(label, "<=", RSS_LIMIT_MB, "MiB", srv.get("peak_rss_mb"), False))
        precision = srv["name"].split("-", 1)[1]
        c = _cell(http, srv["name"], "small", 8)
        model = next(
            (r for r in engine if r["backend"] == "openvino" and r["precision"] == precision), {}
        )
        share = _div(c and c.get("rps"), model.get("bs8_img_s") or model.get("bs16_img_s"))
        label = f"HTTP <=1 MP req/s at 8 clients / model-only img/s ({precision})"
        noisy = bool(c and c["noisy"]) or (model.get("foreign_cores") or 0) > 0.2
        out.append(_target(label, ">=", SERVING_SHARE, "", share, noisy))
    for label, backend, precision, field, op, threshold in ENGINE_TARGETS:
        row = next(
            (r for r in engine if r["backend"] == backend and r["precision"] == precision), {}
        )
        noisy = (row.get("foreign_cores") or 0) > 0.2
        out.append(_target(label, op, threshold, "", row.get(field), noisy))
    out += rival_targets(http)
    parity = results.get("parity") or {}
    if parity:
        label = ("same top-1: tritonclient→localvision /v2, curl -T→localvision and →TorchServe "
                 "(photos all answered)")  # fmt: skip
        out.append(_target(label, ">=", 1.0, "", parity.get("agreement"), False))
        label = "localvision answers every real photo on both protocols"
        out.append(_target(label, ">=", 1.0, "", parity.get("localvision_answered"), False))
    agree = (results.get("decode") or {}).get("agreement") or {}
    label = "fast decode, top-1 agreement with full decode, real photos"
    out.append(_target(label, ">=", 0.99, "", agree.get("agreement_served"), False))
    return out


# --- the rivals (bench/rivals/): TorchServe, LitServe, Ray Serve ----------------------------
RIVAL_LEAD = 2.0  # localvision-int8 should answer at least 2x a rival's req/s at 8 clients
REFERENCE = "localvision-int8-raw"  # localvision-int8 answering the rivals' raw-body request


def _server(http: list[dict], name: str) -> dict | None:
    return next((s for s in http if s["name"] == name), None)


def _reference(http: list[dict]) -> dict | None:
    """The localvision row the rivals are compared with: the same request when measured."""
    ref = _server(http, REFERENCE)
    if ref and ref.get("cells"):
        return ref
    return _server(http, "localvision-int8")


def rival_ratios(http: list[dict]) -> list[dict]:
    """Per rival and image at 8 clients: localvision-int8 req/s ÷ the rival's, and peak RSS
    (whole run) of the rival ÷ localvision's (> 1: the rival uses more)."""
    ref, out = _reference(http), []
    for srv in http:
        if srv.get("role") != "rival":
            continue
        for image in ("small", "large"):
            mine = ref and _cell([ref], ref["name"], image, 8)
            theirs = _cell(http, srv["name"], image, 8)
            out.append({
                "rival": srv["name"],
                "reference": ref and ref["name"],
                "image": image,
                "rps_ratio": _div(mine and mine["rps"], theirs and theirs["rps"]),
                "noisy": bool((mine and mine["noisy"]) or (theirs and theirs["noisy"])),
                "rss_ratio": _div(srv.get("peak_rss_mb"), ref and ref.get("peak_rss_mb")),
                "error": srv.get("error"),
            })  # fmt: skip
    return out


def rival_targets(http: list[dict]) -> list[dict]:
    out = []
    for r in rival_ratios(http):
        size = "<=1 MP" if r["image"] == "small" else ">=4 MP"
        label = f">= 2x {r['rival']} req/s at 8 clients, {size} ({r['reference']})"
        out.append(_target(label, ">=", RIVAL_LEAD, "x", r["rps_ratio"], r["noisy"]))
        if r["image"] == "small":
            label = f"less peak RSS than {r['rival']} ({r['rival']} ÷ {r['reference']})"
            out.append(_target(label, ">", 1.0, "x", r["rss_ratio"], False))
    return out


def rivals_section(results: dict) -> str:
    http = results["http"]
    rivals = [s for s in http if s.get("role") == "rival"]
    if not rivals:
        return "Not run (`--no-rivals`, or filtered out)."
    lines = []
    for r in rival_ratios(http):
        size = "<=1 MP" if r["image"] == "small" else ">=4 MP"
        lines.append(
            f"- {r['reference']} req/s ÷ {r['rival']} req/s at 8 clients, {size}: "
            f"**{_f(r['rps_ratio'], 2, '×')}**" + (" (noisy)" if r["noisy"] else "")
        )
        if r["image"] == "large":
            lines.append(
                f"- {r['rival']} peak RSS ÷ {r['reference']} peak RSS (whole run): "
                f"**{_f(r['rss_ratio'], 2, '×')}**"
            )
    for s in rivals:
        if s.get("error"):
            lines.append(f"- {s['name']} did not run: {s['error'].splitlines()[0][:300]}")
    rows = []
    for s in [_reference(http)] + rivals:
        if not s:
            continue
        procs = s.get("processes") or []
        counted = ", ".join(f"{p['name'][:40]} {p['rss_mb']:.0f}".replace("|", "/") for p in procs)
        settings = ", ".join(f"{k}={v}" for k, v in (s.get("settings") or {}).items()
                             if k != "rss_counts")  # fmt: skip
        rows.append([s["name"], s.get("request", ""), settings or "–",
                     _f(s.get("peak_rss_mb"), 0), counted or "–"])  # fmt: skip
    table = _table(
        ["server", "request", "settings", "peak RSS MiB (whole run)",
         "processes at ready (MiB each)"], rows)  # fmt: skip
    return "\n".join(lines) + "\n\n" + table


def _refused(parity: dict) -> str:
    refused = parity.get("refused") or {}
    return ", ".join(f"{photo} by {', '.join(c)}" for photo, c in refused.items()) or "none"


def parity_section(parity: dict | None) -> str:
    if not parity:
        return "Not run."
    if parity.get("error"):
        return f"Not measured: {parity['error'][:400]}"
    def answer(p: dict, c: str) -> str:
        if c in p["top1"]:
            return f"{p['top1'][c]} ({p['top1_prob'][c]:.4f})"
        return "error: " + (p["errors"].get(c) or "?").splitlines()[0][:80].replace("|", "/")

    rows = [
        [p["photo"], p.get("expected_real", ""), *(answer(p, c) for c in parity["clients"]),
         "refused" if p["errors"] else "yes" if p["agree"] else "**no**",
         "yes" if p.get("same_top5") else "no"]
        for p in parity["photos"]
    ]
    head = (
        f"Seeded ResNet-18 on every server; localvision `{parity['localvision']}`; TorchServe's "
        f"`image_classifier` handler. Same top-1 on **{parity['agreed']}/{parity.get('compared', '?')}** "
        f"of the real photos every server answered, the same top 5 on "
        f"{parity.get('same_top5', '?')}; refused: {_refused(parity)} (random weights favour "
        "one class for most photos, so the top 5 and the probabilities are the sharper check; "
        "the real-weights label is what the golden test expects with real weights, not here)."
    )
    header = ["photo", "real-weights label", *parity["clients"], "same top-1", "same top 5"]
    return head + "\n\n" + _table(header, rows)


def _f(x, digits: int = 1, suffix: str = "") -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    return f"{x:.{digits}f}{suffix}"


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])


def _foreign(row: dict) -> str:
    """Foreign cores, **noisy** above 0.2, and how many attempts it took if more than one."""
    text = _f(row.get("foreign_cores"), 2)
    if (row.get("foreign_cores") or 0) > 0.2:
        text += " **noisy**"
    if row.get("attempts", 1) > 1:
        text += f" ({row['attempts']} tries)"
    return text


def engine_table(engine: list[dict]) -> str:
    rows = []
    for r in engine:
        if "error" in r:
            rows.append([r["backend"], r["precision"], "error: " + r["error"][:80]] + [""] * 5)
            continue
        rows.append(
            [
                r["backend"],
                r["precision"],
                _f(r["bs1_p50_ms"]),
                _f(r["bs1_p99_ms"]),
                _f(r["bs16_img_s"]),
                _f(r.get("bs1_x"), 2, "×"),
                _f(r.get("bs16_x"), 2, "×"),
                _foreign(r),
            ]
        )
    table = _table(
        [
            "backend",
            "precision",
            "bs1 p50 ms",
            "bs1 p99 ms",
            "bs16 img/s",
            "bs1 speed × classic",
            "bs16 × classic",
            "foreign cores",
        ],
        rows,
    )
    base = next((r for r in engine if r["backend"] == "classic"), {})
    if (base.get("foreign_cores") or 0) > 0.2:
        table += (
            "\n\nThe classic row was measured while other work ran, so the × classic "
            "ratios above overstate the speed-ups; re-run before quoting them."
        )
    return table


def http_table(http: list[dict]) -> str:
    rows = []
    for srv in http:
        if "error" in srv and not srv.get("cells"):
            why = srv["error"].splitlines()[0][:160].replace("|", "/")
            rows.append([srv["name"], f"failed to start: {why}", "", "", "", "", "", "", "", "", ""])
            continue
        for c in srv["cells"]:
            rows.append(
                [
                    srv["name"],
                    c["image"],
                    str(c["clients"]),
                    _f(c["rps"], 2),
                    _f(c["p50_ms"]),
                    _f(c["p99_ms"]),
                    str(c["errors"]),
                    _f(c["peak_rss_mb"], 0),
                    _foreign(c),
                    "" if srv["name"] == "classic" else _f(c.get("rps_x"), 2, "×"),
                    _f(c.get("p50_x"), 2, "×")
                    if c["clients"] == 1 and srv["name"] != "classic"
                    else "",
                ]
            )
    return _table(
        [
            "server",
            "image",
            "clients",
            "req/s",
            "p50 ms",
            "p99 ms",
            "errors",
            "peak RSS MiB",
            "foreign cores",
            "req/s × classic",
            "p50 × classic",
        ],
        rows,
    )


def startup_table(http: list[dict]) -> str:
    rows = []
    for s in http:
        start = s.get("cold_start_s", s.get("ready_s"))
        torch = {True: "yes", False: "no"}.get(
            s.get("torch_loaded"),
            "yes (eager)" if s["name"] == "classic" or s.get("role") == "rival" else "–",
        )
        rows.append(
            [
                s["name"],
                _f(start, 2),
                torch,
                _f(s.get("rss_at_ready_mb"), 0),
                _f(s.get("peak_rss_mb"), 0),
                "error" if "error" in s else "ok",
            ]
        )
    return _table(
        [
            "server",
            "start → ready s",
            "libtorch mapped",
            "RSS at ready MiB",
            "peak RSS MiB (whole run)",
            "status",
        ],
        rows,
    )


def targets_table(items: list[dict]) -> str:
    rows = []
    for t in items:
        verdict = {True: "PASS", False: "FAIL", None: "not measured"}[t["pass"]]
        unit = f" {t['unit']}" if t["unit"] else ""
        rows.append(
            [
                t["target"],
                f"{t['op']} {t['threshold']:g}{unit}",
                _f(t["value"], 2),
                verdict + (" (noisy)" if t["noisy"] else ""),
            ]
        )
    return _table(["target", "goal", "measured", "result"], rows)


def cuda_section(cuda: dict) -> str:
    if not cuda.get("available"):
        return f"CUDA: skipped ({cuda.get('reason', 'not available')})."
    mo, e2e = cuda.get("model_only", {}), cuda.get("end_to_end", {})
    lines = [f"CUDA on {cuda['gpu']}:"]
    if "error" in mo:
        lines.append(f"- model only: error {mo['error']}")
    else:
        lines.append(
            f"- model only, batch {mo['batch']} {mo['precision']} channels_last: "
            f"{_f(mo['img_s_on_device'], 0)} img/s (input on the GPU), "
            f"{_f(mo['img_s_backend_infer_from_host'], 0)} img/s via backend.infer"
        )
    if "error" in e2e:
        lines.append(f"- end to end JPEG → labels: error {e2e['error']}")
    elif not e2e.get("available"):
        lines.append(f"- end to end JPEG → labels: {e2e.get('reason', 'not available')}")
    else:
        lines.append(
            f"- end to end JPEG → labels (the road with the device decoder, batch {e2e['batch']}): small "
            f"{_f(e2e['small_img_s'], 0)} img/s, large {_f(e2e['large_img_s'], 0)} img/s"
        )
    return "\n".join(lines)


def decode_section(decode: dict | None) -> str:
    if not decode:
        return "Not measured."
    a = decode["agreement"]
    text = (
        f"{a['photos']} real photos ({a['model']}, real weights; shorter sides "
        f"{', '.join(map(str, a['shorter_sides']))} px). Top-1 agreement with the full decode: "
        f"reduced-scale decode alone **{a['agreement_reduced']:.1%}**; as served, with near-ties "
        f"(top two within {a['recheck_margin']:g}) decoded again in full, "
        f"**{a['agreement_served']:.1%}** ({a['rechecked_fraction']:.0%} of photos re-checked)."
    )
    rows = [
        [t["model"], t["image"], _f(t["exact_ms"], 1), _f(t["fast_ms"], 1), _f(t["speedup"], 2)]
        for t in decode["timing"]
    ]
    table = _table(["preset", "JPEG", "exact ms", "fast ms", "speed-up"], rows)
    return text + "\n\nPreprocessing, bytes → array, one thread:\n\n" + table


def _video_table(rows: list[dict]) -> str:
    from bench.video_bench import video_table

    return video_table(rows) if rows else "not measured\n"


def _train_table(rows: list[dict]) -> str:
    from bench.train_bench import train_table

    return train_table(rows) if rows else "not measured\n"


def markdown(results: dict) -> str:
    """The whole report: header, engine, HTTP, start-up, targets, CUDA."""
    m = results["meta"]
    calib = (results.get("exports", {}).get("openvino-int8") or {}).get("check") or {}
    head = (
        f"# localvision benchmark {m['timestamp']}\n\n"
        f"{m['machine']}, {m['cpus']} CPUs; torch {m['versions'].get('torch')}, openvino "
        f"{m['versions'].get('openvino')}, onnxruntime {m['versions'].get('onnxruntime')}. "
        f"ResNet-18 with seeded random weights. HTTP cells: {m['duration_s']:g} s after "
        f"{m['warmup_s']:g} s warm-up. Cells where other work used > 0.2 cores are **noisy**; "
        f"a noisy cell is re-measured up to {m.get('retries', 0)} times, keeping the quietest. "
        f"INT8 calibration: {calib.get('calibration_images', '?')} images, top-1 agreement "
        f"with fp32 {calib.get('top1_agreement', '?')} on {calib.get('held_out_images', '?')} "
        f"held out (meaningless with random weights; exported with force). The localvision "
        f"servers run with `--recheck-margin 0`: random weights make every answer a near-tie, "
        f"which would decode each large JPEG twice (see Fast decode for the real rate)."
    )
    return (
        "\n\n".join(
            [
                head,
                "## Model only (backend.infer on random arrays)\n\n"
                + engine_table(results["engine"]),
                "## HTTP, closed loop on loopback\n\nclassic and localvision-<precision>: POST "
                "/predict (multipart); localvision-int8-raw and the rivals: POST of the raw image "
                "body (TorchServe's `/predictions/resnet18`, the others' `/predict`), answered "
                "with the top 5.\n\n" + http_table(results["http"]),
                "## Start-up\n\n" + startup_table(results["http"]),
                "## Side by side with TorchServe, LitServe, Ray Serve\n\n" + rivals_section(results),
                "## Same top-1 through the same client calls\n\n"
                + parity_section(results.get("parity")),
                "## Fast decode\n\n" + decode_section(results.get("decode")),
                "## Targets\n\n" + targets_table(results["targets"]),
                "## GPU\n\n" + cuda_section(results["cuda"]),
                "## Video (1080p H.264)\n\n" + _video_table(results.get("video") or []),
                "## Training\n\n" + _train_table(results.get("train") or []),
            ]
        )
        + "\n"
    )
