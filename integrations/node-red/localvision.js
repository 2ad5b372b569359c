// localvision: classify a photo, or judge it by a rule (pass on output 1, fail on output 2).
//
// msg.payload is the photo: a Buffer, a file path, or a data URI (data:image/jpeg;base64,...).
// The judgement is the service's (POST /api/v1/judge); this node only sends the photo and the
// rule and routes the verdict. msg.rule, msg.accept, msg.reject, msg.text, msg.rejectText and
// msg.minConfidence, when set, take the place of the node's own settings; in classify mode
// "read text" (or msg.readText) adds the lines of text in the photo to the answer.
const fs = require("fs/promises");

const DATA_URI = /^data:[^;,]*(;base64)?,/;

async function photoOf(payload) {
    if (Buffer.isBuffer(payload)) return { data: payload, name: "photo" };
    if (typeof payload === "string") {
        const uri = payload.match(DATA_URI);
        if (uri) {
            const body = payload.slice(uri[0].length);
            return { data: uri[1] ? Buffer.from(body, "base64") : Buffer.from(decodeURIComponent(body)), name: "photo" };
        }
        return { data: await fs.readFile(payload), name: payload.split(/[\\/]/).pop() };
    }
    throw new Error("msg.payload must be a Buffer, a file path or a data URI");
}

function terms(value) {
    if (value === undefined || value === null || value === "") return [];
    return Array.isArray(value) ? value.map(String) : String(value).split(",").map((t) => t.trim()).filter(Boolean);
}

async function call(server, route, query, photo) {
    const url = new URL(server.url + route);
    for (const [key, value] of Object.entries(query)) {
        for (const v of Array.isArray(value) ? value : [value]) {
            if (v !== undefined && v !== null && v !== "") url.searchParams.append(key, String(v));
        }
    }
    const form = new FormData();
    form.append("file", new Blob([photo.data]), photo.name);
    const headers = server.apiKey ? { Authorization: `Bearer ${server.apiKey}` } : {};
    const response = await fetch(url, { method: "POST", body: form, headers });
    const body = await response.json().catch(() => ({}));
    if (!response.ok) {
        const error = body.error || {};
        const failure = new Error(error.message || `The service answered HTTP ${response.status}`);
        failure.code = error.code || `http_${response.status}`;
        throw failure;
    }
    return body;
}

module.exports = function (RED) {
    function LocalVisionNode(config) {
        RED.nodes.createNode(this, config);
        const node = this;
        const server = RED.nodes.getNode(config.server);
        node.on("input", async (msg, send, done) => {
            if (!server) {
                node.status({ fill: "red", shape: "ring", text: "no service" });
                return done(new Error("Choose a localvision service (the config node)"));
            }
            try {
                const photo = await photoOf(msg.payload);
                const lang = msg.lang || config.lang || "en";
                if ((config.mode || "judge") === "classify") {
                    const text = msg.readText !== undefined ? msg.readText : config.readText;
                    const answer = await call(server, "/api/v1/classify", { lang, group: "true", top_k: config.topK, text: text ? "true" : "" }, photo);
                    msg.payload = answer.results[0];
                    const top = msg.payload.predictions[0];
                    node.status({ fill: "blue", shape: "dot", text: top ? top.label : "?" });
                    send([msg, null]);
                    return done();
                }
                const rule = msg.rule !== undefined ? msg.rule : config.rule;
                const query = {
                    lang,
                    rule,
                    accept: rule ? [] : terms(msg.accept !== undefined ? msg.accept : config.accept),
                    reject: rule ? [] : terms(msg.reject !== undefined ? msg.reject : config.reject),
                    text: rule ? [] : terms(msg.text !== undefined ? msg.text : config.text),
                    reject_text: rule ? [] : terms(msg.rejectText !== undefined ? msg.rejectText : config.rejectText),
                    min_confidence: msg.minConfidence !== undefined ? msg.minConfidence : config.minConfidence,
                };
                const verdict = await call(server, "/api/v1/judge", query, photo);
                msg.payload = verdict;
                node.status({ fill: verdict.pass ? "green" : "red", shape: verdict.pass ? "dot" : "ring", text: verdict.label });
                send(verdict.pass ? [msg, null] : [null, msg]);
                done();
            } catch (err) {
                node.status({ fill: "red", shape: "ring", text: err.code || "error" });
                done(err);
            }
        });
    }
    RED.nodes.registerType("localvision", LocalVisionNode);
};
