// The nodes against the real localvision service (LOCALVISION_URL, LOCALVISION_API_KEY: run by
// tests/test_node_red.py, which starts the service), inside a real Node-RED runtime
// (node-red-node-test-helper): the node alone, and the example flow file loaded as it is.
const { test, before, after, afterEach } = require("node:test");
const assert = require("node:assert/strict");
const fs = require("fs");
const path = require("path");
const helper = require("node-red-node-test-helper");
const request = require("supertest"); // the helper's own HTTP client
const localvision = require("../localvision.js");
const config = require("../localvision-config.js");
const httpIn = require("@node-red/nodes/core/network/21-httpin.js");
const change = require("@node-red/nodes/core/function/15-change.js");

const PHOTOS = process.env.LOCALVISION_PHOTOS;
const COFFEE = path.join(PHOTOS, "coffee.jpg");
const CAT = path.join(PHOTOS, "chelsea.jpg");
const SIGN = process.env.LOCALVISION_SIGN; // a photo with a sign: 禁止吸烟 / No Smoking

helper.init(require.resolve("node-red"));
before(() => new Promise((resolve) => helper.startServer(resolve)));
after(() => new Promise((resolve) => helper.stopServer(resolve)));
afterEach(() => helper.unload());

function flow(node) {
    return [
        { id: "svc", type: "localvision-config", url: process.env.LOCALVISION_URL },
        { id: "lv", type: "localvision", server: "svc", wires: [["pass"], ["fail"]], ...node },
        { id: "pass", type: "helper" },
        { id: "fail", type: "helper" },
    ];
}

// One message in; which output it left by, and the node's status as it was then.
async function run(node, msg) {
    await helper.load([config, localvision], flow(node), {});
    const lv = helper.getNode("lv");
    const statuses = [];
    const original = lv.status.bind(lv);
    lv.status = (s) => { statuses.push(s); original(s); };
    const out = new Promise((resolve, reject) => {
        helper.getNode("pass").on("input", (m) => resolve({ output: 1, msg: m }));
        helper.getNode("fail").on("input", (m) => resolve({ output: 2, msg: m }));
        lv.on("call:error", (call) => reject(call.args[0]));
    });
    lv.receive(msg);
    const result = await out;
    return { ...result, status: statuses.at(-1) };
}

test("judge: a Buffer that passes leaves by output 1, the status shows the label", async () => {
    const { output, msg, status } = await run({ mode: "judge", accept: "cat" }, { payload: fs.readFileSync(CAT) });
    assert.equal(output, 1);
    assert.equal(msg.payload.pass, true);
    assert.equal(msg.payload.label, "cat");
    assert.equal(msg.payload.answer.predictions[0].label, "tiger cat");
    assert.deepEqual(status, { fill: "green", shape: "dot", text: "cat" });
});

test("judge: a file path that fails leaves by output 2, saying what was seen", async () => {
    const { output, msg, status } = await run({ mode: "judge", accept: "dog" }, { payload: CAT });
    assert.equal(output, 2);
    assert.equal(msg.payload.pass, false);
    assert.match(msg.payload.reason, /^Failed: the photo shows tiger cat \(.*\), not "dog"\.$/);
    assert.equal(status.text, "tiger cat");
});

test("judge: a data URI, a saved rule from the message, the reason in Chinese", async () => {
    const uri = "data:image/jpeg;base64," + fs.readFileSync(COFFEE).toString("base64");
    const { output, msg } = await run({ mode: "judge", lang: "zh" }, { payload: uri, rule: "receipts" });
    assert.equal(output, 1);
    assert.match(msg.payload.reason, /^通过：照片中是/);
});

test("classify: the answer on output 1, the top label as the status", async () => {
    const { output, msg, status } = await run({ mode: "classify" }, { payload: COFFEE });
    assert.equal(output, 1);
    assert.equal(msg.payload.predictions[0].label, "espresso");
    assert.equal(status.text, "espresso");
});

test("text: classify with read text answers the sign's lines in reading order", async () => {
    const { msg } = await run({ mode: "classify", readText: true }, { payload: SIGN });
    assert.deepEqual(msg.payload.text.map((line) => line.text), ["禁止吸烟", "No Smoking"]);
});

test("text: a rule that needs text the photo does not show fails, naming it", async () => {
    const { output, msg } = await run({ mode: "judge" }, { payload: SIGN, text: "no smoking, EXIT" });
    assert.equal(output, 2);
    assert.equal(msg.payload.outcome, "text_missing");
    assert.equal(msg.payload.reason, 'Failed: the photo does not show the text "EXIT".');
});

test("a refusal of the service is the node's error, with its code as the status", async () => {
    await helper.load([config, localvision], flow({ mode: "judge", accept: "dgo" }), {});
    const lv = helper.getNode("lv");
    const failed = new Promise((resolve) => lv.on("call:error", (call) => resolve(call.args[0])));
    lv.receive({ payload: CAT });
    const err = await failed;
    assert.match(String(err.message || err), /no label or group named 'dgo'/);
});

test("the example flow file: a form that accepts only photos the receipts rule passes", async () => {
    const file = JSON.parse(fs.readFileSync(path.join(__dirname, "..", "examples", "receipt-form.json"), "utf8"));
    let httpNode; // the runtime's app for http-in nodes (helper.request() is the admin app's)
    const capture = (RED) => { httpNode = RED.httpNode; };
    await helper.load([config, localvision, httpIn, change, capture], file, {});
    const accepted = await request(httpNode).post("/receipt").set("Content-Type", "image/jpeg").send(fs.readFileSync(COFFEE));
    assert.equal(accepted.status, 201);
    assert.equal(accepted.body.accepted, true);
    const refused = await request(httpNode).post("/receipt").set("Content-Type", "image/jpeg").send(fs.readFileSync(CAT));
    assert.equal(refused.status, 422);
    assert.equal(refused.body.accepted, false);
    assert.match(refused.body.reason, /the photo shows tiger cat/);
});
